"""The `studies` command line: help everywhere, one error format everywhere, clear errors that leave
params.yaml alone. The CDVAE commands' own tests are in tests/tasks/stages/cdvae/test_cli.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
import pytest
import typer
import yaml

from tests.conftest import BIN, REPO, project_env

# Arguments a command needs before it can look for its project; every command of `studies` must be here.
REQUIRED_ARGS = {
    "ingest": [],
    "run": [],
    "stage": ["mlc", "train", "--profile", "ci"],
    "report": [],
    "params": [],
    "server": [],
    "serve": [],
    "worker": [],
    "result-storage": ["s3://bucket/prefect-results"],
    "ui": [],
    "config": [],
    "cdvae generate": [],
    "cdvae evaluate-cifs": [".", "--reference", "perov_5"],
}
# Hidden, until the next release; one of the two (both take the same path, and each costs a CDVAE import).
ALIASES = {"generate": []}


def commands() -> list[str]:
    """Every command `studies` has (a study's as `<study> <command>`), read from the app itself."""
    from flows.cli import app

    group = typer.main.get_command(app)
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        sub = command.list_commands(ctx) if isinstance(command, typer.core.TyperGroup) else None
        found += [f"{name} {s}" for s in sub] if sub is not None else [name]
    return found


def studies(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "studies"), *args],
        cwd=root,
        env=project_env(root),
        capture_output=True,
        text=True,
        timeout=300,
    )


def error_lines(out: subprocess.CompletedProcess[str], flow_ran: bool = False) -> tuple[str, str]:
    """The failure as `main` prints it: exit code 2, `error: ...` then `fix: ...` as the last two lines, and
    no traceback. When a flow ran, Prefect logs the exception it caught, and the stop of its temporary
    server after ours."""
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and (flow_ran or "Traceback" not in out.stderr), out.stderr[-3000:]
    if flow_ran:
        lines = lines[: max(i for i, line in enumerate(lines) if line.startswith("fix: ")) + 1]
    assert len(lines) >= 2 and lines[-2].startswith("error: ") and lines[-1].startswith("fix: "), out.stderr
    return lines[-2], lines[-1]


def test_every_command_is_listed_here() -> None:
    assert sorted(commands()) == sorted(REQUIRED_ARGS)


@pytest.mark.parametrize("command", [[], *[c.split() for c in [*REQUIRED_ARGS, *ALIASES]]], ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    out = studies(REPO, *command, "--help")
    assert out.returncode == 0 and "Usage: studies" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize("command", [*REQUIRED_ARGS, *ALIASES])
def test_every_command_outside_a_project_fails_with_the_error_and_its_fix(
    tmp_path: Path, command: str
) -> None:
    env = {k: v for k, v in project_env(tmp_path).items() if k != "STUDIES_ROOT"}
    args = [*command.split(), *{**REQUIRED_ARGS, **ALIASES}[command]]
    out = subprocess.run(
        [str(BIN / "studies"), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    error, fix = error_lines(out)
    assert (
        error
        == f"error: No subspace-studies project at or above {tmp_path}: expected params.yaml and dvc.yaml."
    )
    assert fix == "fix: run the command from the project folder or set STUDIES_ROOT."


def test_help_names_every_study_dvc_yaml_defines() -> None:
    """The help once said "MLC; CDVAE and SSVI as they land", long after they had."""
    from flows import dag

    out = studies(REPO, "--help")
    assert all(study in out.stdout for study in dag.studies(REPO)), out.stdout
    assert "as they land" not in out.stdout


def test_bad_override_is_refused_and_params_untouched(project: Path) -> None:
    before = (project / "params.yaml").read_bytes()
    out = studies(project, "run", "mlc", "--profile", "ci", "--set", "mlc.train.no_such_key=1")
    error, fix = error_lines(out)
    assert "no 'no_such_key'" in error and "params.yaml" in fix
    assert (project / "params.yaml").read_bytes() == before


def test_unknown_profile_names_the_choices(project: Path) -> None:
    error, _ = error_lines(studies(project, "run", "--profile", "tpu"))
    assert "ci, cpu, paper, gpu" in error


def test_run_takes_studies_as_argument_and_as_repeated_option_and_checks_them_first(project: Path) -> None:
    before = (project / "params.yaml").read_bytes()
    error, _ = error_lines(studies(project, "run", "mlc", "--study", "nosuch", "--profile", "ci"))
    assert error.startswith("error: Unknown study nosuch;") and "mlc" in error.partition(";")[2]
    error, _ = error_lines(studies(project, "run", "--study", "ssvi", "--study", "other", "--profile", "ci"))
    assert error.startswith("error: Unknown study other;")
    assert (project / "params.yaml").read_bytes() == before  # refused before the profile was written


def test_run_without_data_sources_fails_once_with_the_fix(project: Path, tmp_path: Path) -> None:
    """No data.dvc content and an empty mirror: a clear ingest error, not retried, data.dvc untouched."""
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    (project / "data.dvc").unlink()
    env = project_env(project) | {"STUDIES_DATA_MIRROR": str(empty)}
    out = subprocess.run(
        [str(BIN / "studies"), "run", "mlc", "--profile", "ci"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    error, fix = error_lines(out, flow_ran=True)
    assert "No copy of perov_5" in error and "STUDIES_DATA_MIRROR" in fix
    assert "Retrying" not in out.stdout + out.stderr
    assert not (project / "data.dvc").exists() and not (project / "data").exists()


def test_ingest_takes_several_datasets_after_one_option(project: Path) -> None:
    """`--dataset digits nosuch`: the second name reaches ingest (as a positional), which refuses it before
    anything is written."""
    error, fix = error_lines(studies(project, "ingest", "--dataset", "digits", "nosuch", "--no-push"))
    assert "'nosuch'" in error and "perov_5" in fix
    assert not (project / "data").exists()


def test_ingest_help_lists_every_declared_dataset() -> None:
    from tasks.data.sources import dataset_names

    out = studies(REPO, "ingest", "--help")
    assert all(f"{name}:" in out.stdout for name in dataset_names()), out.stdout


def test_params_shows_the_configuration_that_runs_with_defaults_marked() -> None:
    """params.yaml sets a few values; the config records fill in the rest, and `studies params` shows both."""
    from studies.cdvae.config import ModelConfig
    from studies.mlc.config import MLCConfig
    from studies.ssvi.config import SSVIConfig

    out = studies(REPO, "params", "--profile", "ci")
    assert out.returncode == 0, out.stderr[-3000:]
    shown = yaml.safe_load(out.stdout)
    digits = shown["mlc"]["train"]["digits"]
    assert digits["hidden_dim"] == 256 and digits["n_hidden"] == MLCConfig().n_hidden  # params.yaml; default
    deterministic = shown["ssvi"]["train"]["runs"]["deterministic"]
    assert (
        deterministic["epochs"] == 3 and deterministic["alpha"] == SSVIConfig().alpha
    )  # train.defaults; default
    assert shown["cdvae"]["train"]["model"]["cutoff"] == ModelConfig().cutoff
    lines = out.stdout.splitlines()
    assert f"      n_hidden: {MLCConfig().n_hidden} # default" in lines
    assert "      hidden_dim: 256" in lines  # set by params.yaml: not marked
    assert "        epochs: 3" in lines  # from the profile's train.defaults: params.yaml, not marked


@pytest.mark.parametrize(
    ("args", "named", "known"),
    [
        (["--profile", "tpu"], "Unknown profile 'tpu'", "ci, cpu, paper, gpu"),
        (["nosuch", "-p", "ci"], "`nosuch`", "mlc"),
    ],
)
def test_params_of_an_unknown_profile_or_study_fail_with_the_error_and_its_fix(
    args: list[str], named: str, known: str
) -> None:
    error, fix = error_lines(studies(REPO, "params", *args))
    assert named in error and known in error and fix


@pytest.mark.parametrize(
    ("study", "step", "named"),
    [("nosuch", "train", "No stage package tasks/stages/nosuch/"), ("mlc", "fit", "has no step 'fit'")],
)
def test_stage_of_an_unknown_study_or_step_fails_with_one_line(study: str, step: str, named: str) -> None:
    out = studies(REPO, "stage", study, step, "--profile", "ci")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    assert out.stderr.strip().splitlines()[-1].startswith("error: ") and named in out.stderr


def test_dispatch_to_an_unknown_pool_names_the_known_ones_and_params_stay(project: Path) -> None:
    before = (project / "params.yaml").read_bytes()
    error, fix = error_lines(studies(project, "run", "mlc", "--profile", "ci", "--dispatch", "tpu"))
    assert "--dispatch tpu" in error and "gpu" in fix
    assert (project / "params.yaml").read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ["run", "mlc", "--profile", "ci", "--dispatch", "gpu"],
        ["worker", "--pool", "gpu"],
        ["serve", "--interval", "60"],
        ["result-storage", "s3://bucket/prefect-results"],
    ],
    ids=lambda args: args[0],
)
def test_commands_that_need_a_shared_prefect_server_say_so_the_same_way(
    project: Path, args: list[str]
) -> None:
    error, fix = error_lines(studies(project, *args))
    assert "needs a Prefect server that every process involved shares; PREFECT_API_URL is unset" in error
    assert "`studies server`" in fix and "export PREFECT_API_URL=http://127.0.0.1:4200/api" in fix


@pytest.mark.reliability
def test_a_served_mirror_outside_the_project_is_refused(project: Path) -> None:
    from tests.reliability import record

    env = project_env(project) | {"STUDIES_SERVED": "1"}
    out = subprocess.run(
        [str(BIN / "studies"), "ingest", "--mirror", "/"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    error, _ = error_lines(out)
    assert "outside the folders this served pipeline may touch" in error
    record("security", "served path option outside the allowed folders refused", inputs=1)


@pytest.mark.reliability
def test_a_second_run_in_a_busy_checkout_is_refused_and_params_untouched(project: Path) -> None:
    from tests.reliability import record
    from tests.tasks.platform.test_checkout_lock import hold

    before = (project / "params.yaml").read_bytes()
    holder = hold(project)
    try:
        out = studies(project, "run", "mlc", "--profile", "ci")
    finally:
        holder.kill()
        holder.wait()
    error, fix = error_lines(out)
    assert f"pid {holder.pid}" in error and "one pipeline process per checkout" in error and fix
    assert (project / "params.yaml").read_bytes() == before
    record("load", "second pipeline run in a busy embedded checkout refused up front", refused=1, lost=0)
