"""`studies`: the one command line of subspace-studies.

The pipeline's own commands live here; the service commands in flows/service_commands.py; each study's own
commands in tasks/stages/<study>/cli.py (flows/study_commands.py finds them). Heavy imports (Prefect, MLflow,
torch) happen inside the commands, after the embedded-default environment is set, so `studies --help` is
instant. Every error meant for the user is a StudiesError, caught once, in `main`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperCommand

from flows import service_commands
from flows.cli_support import DISPATCH_HELP, dispatch_to, owning
from flows.study_commands import StudiesGroup, study_packages
from tasks.platform.environment import current_project
from tasks.platform.errors import StudiesError, UsageError, refused_input

app = typer.Typer(
    cls=StudiesGroup,
    help=f"Run the subspace-studies pipeline ({', '.join(study_packages())}): data in with DVC, steps as "
    "Prefect flows, every run tracked in MLflow, reports in reports/.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Profile = Annotated[
    str,
    typer.Option(
        "--profile",
        "-p",
        help="Named profile in params.yaml: ci (seconds), cpu (minutes), paper (GPU), gpu (CDVAE only, "
        "~25 min of one H200).",
    ),
]


class DatasetsInHelp(TyperCommand):
    """`studies ingest --help` lists the declared datasets, read from tasks/data/sources.py when shown."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from rich.markup import escape

        from tasks.data.sources import dataset_names

        names = [escape(f"{name}: {what}") for name, what in dataset_names().items()]
        self.epilog = "\n\n".join(["Datasets:", *names])
        super().format_help(ctx, formatter)


@app.command(cls=DatasetsInHelp)
def ingest(
    dataset: Annotated[
        list[str],
        typer.Option(
            "--dataset",
            help="Dataset to bring in (repeatable); default: the default set (listed below).",
            show_default=False,
        ),
    ] = [],
    more: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="DATASET", help="More datasets, so `--dataset mnist fashion_mnist cifar10` works."
        ),
    ] = None,
    mirror: Annotated[
        Path | None,
        typer.Option(
            help="Folder with the dataset mirror (see ../shared/datasets/README.md); default "
            "$STUDIES_DATA_MIRROR or ../shared/datasets."
        ),
    ] = None,
    online: Annotated[
        bool, typer.Option(help="Download files missing from the mirror from their canonical URLs.")
    ] = False,
    allow_unpinned: Annotated[
        bool, typer.Option(help="Accept files without a pinned sha256 (their observed hash is recorded).")
    ] = False,
    push: Annotated[bool, typer.Option(help="Push data to the DVC remote afterwards.")] = True,
) -> None:
    """Bring datasets into data/, checksummed, recorded in data.dvc and pushed to the DVC remote."""
    project = current_project()
    from tasks.data.ingest import ingest as run_ingest
    from tasks.platform.paths import confine

    names = [*dataset, *(more or [])]
    summary = run_ingest(
        project.root,
        mirror=confine(mirror, project.root, "--mirror") if mirror else None,
        online=online,
        allow_unpinned=allow_unpinned,
        push=push,
        progress=typer.echo,
        **({"datasets": tuple(dict.fromkeys(names))} if names else {}),  # none named: ingest's default set
    )
    typer.echo(f"data.dvc → {summary.get('data_hash', '?')}")


@app.command()
def run(
    study: Annotated[str | None, typer.Argument(help="One study (e.g. mlc); default: all of them.")] = None,
    more: Annotated[
        list[str], typer.Option("--study", help="A study to run (repeatable); default: all of them.")
    ] = [],
    profile: Profile = "cpu",
    set_: Annotated[
        list[str],
        typer.Option(
            "--set",
            "-s",
            help="Override a param of the profile, e.g. -s mlc.train.seeds=[0]. Written to params.yaml, as "
            "`dvc exp run -S` does.",
        ),
    ] = [],
    push: Annotated[bool, typer.Option(help="Push data and outputs to the DVC remote at the end.")] = True,
    dispatch: Annotated[list[str], typer.Option(help=DISPATCH_HELP)] = [],
) -> None:
    """Run the pipeline flow (ingest → prepare → train → evaluate → report) on a profile.

    Steps whose inputs, params and code are unchanged are skipped by DVC; the
    run, its metrics and artifacts land in MLflow (`studies ui`), the report in reports/.
    """
    project = current_project()
    dispatch_to(project, dispatch)
    from flows import dag
    from tasks.platform import params

    chosen = list(dict.fromkeys([*([study] if study else []), *more])) or None
    dag.require_studies(project.root, chosen)  # before params.yaml is touched
    with owning(project, "run"):
        for change in params.apply(project.params_file, profile, params.parse_overrides(set_)):
            typer.echo(f"params.yaml: {change}")
        from flows.pipeline import pipeline

        summaries = pipeline(root=str(project.root), profile=profile, studies=chosen, push=push)
    for summary in summaries:
        typer.echo(summary["summary"])


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            raise UsageError(
                f"{flag} {value}: not name=path.", fix=f"write {flag} name=path, as dvc.yaml does."
            )
        out[name] = path
    return out


@app.command()
def stage(
    study: Annotated[str, typer.Argument(help="Study name, e.g. mlc.")],
    step: Annotated[str, typer.Argument(help="Step name, e.g. train.")],
    profile: Annotated[str, typer.Option(help="Profile whose params to use.")],
    inputs: Annotated[list[str], typer.Option("-i", help="name=path of an input (from dvc.yaml).")] = [],
    outputs: Annotated[list[str], typer.Option("-o", help="name=path of an output (from dvc.yaml).")] = [],
) -> None:
    """Run one stage's body. dvc.yaml calls this; you normally run `dvc repro` or `studies run` instead."""
    project = current_project()
    from tasks.orchestration.stage_runner import run_stage_body

    run_stage_body(
        project,
        study,
        step,
        profile,
        {k: project.root / v for k, v in _pairs(inputs, "-i").items()},
        {k: project.root / v for k, v in _pairs(outputs, "-o").items()},
    )


@app.command()
def report(study: Annotated[str | None, typer.Argument(help="One study; default: all.")] = None) -> None:
    """Rebuild reports/<study>.md from the current results (`dvc repro <study>-report`)."""
    project = current_project()
    from flows import dag
    from tasks.platform.versioning import run_dvc

    names = dag.require_studies(project.root, [study] if study else None)
    run_dvc(project.root, "repro", *(f"{n}-report" for n in names), stream=True)


@app.command("params")
def show_params(
    study: Annotated[
        str | None, typer.Argument(help="One study; default: every study of the profile.")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", "-p", help="Profile in params.yaml; default: the active one (what runs)."),
    ] = None,
) -> None:
    """Print the configuration that runs: params.yaml with the config records' defaults filled in, as YAML.

    Each study's `resolved_params` (tasks/stages/<study>/__init__.py) fills in the defaults of the records its
    stages build; `# default` marks the values params.yaml does not set.
    """
    project = current_project()
    from ruamel.yaml import YAML

    from tasks.platform import params

    doc = params.load(project.params_file)
    name = profile or doc["profile"]
    names = [study] if study else list(params.resolve(doc, name))
    shown = {}
    for each in names:
        block = params.study_params(project.params_file, each, name)
        package = f"tasks.stages.{each}"
        if importlib.util.find_spec(package) and (
            hook := getattr(importlib.import_module(package), "resolved_params", None)
        ):
            with refused_input():
                block = hook(block)
        shown[each] = block
    typer.echo(
        f"# profile {name}: params.yaml with the config records' defaults; `# default`: not in params.yaml"
    )
    out = YAML()
    out.default_flow_style = None  # block style, and the innermost lists and mappings on one line
    out.width = 4096
    out.indent(mapping=2, sequence=4, offset=2)
    out.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    out.dump(shown, sys.stdout)


app.add_typer(service_commands.app)


def main() -> None:
    """Run `studies`. A StudiesError, from any command, ends it with `error: <message>` and `fix: <fix>` on
    stderr and exit code 2; anything else is a bug and keeps its traceback."""
    try:
        app()
    except StudiesError as err:
        typer.secho(f"error: {err.message}", fg="red", err=True)
        if err.fix:
            typer.secho(f"fix: {err.fix}", err=True)
        raise SystemExit(2) from None
