"""Each study's own commands under its name (`studies cdvae generate`), found, not listed: a study package
with a `cli.py` holding a typer `app` (tasks/stages/<study>/cli.py) adds its commands without a change here.

A study package imports its whole stack (torch, pymatgen) when loaded, so `studies --help` reads only the
file's docstring; the module is imported when one of its commands, or its own help, is asked for.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import click
import typer
from typer.core import TyperGroup

STAGES = Path(__file__).resolve().parents[1] / "tasks" / "stages"
PANEL = "Study commands"
# Old top-level names of study commands, kept as hidden aliases until the next release.
ALIASES = {"generate": ("cdvae", "generate"), "evaluate-cifs": ("cdvae", "evaluate-cifs")}


def study_packages() -> list[str]:
    """The studies this code holds: one stage package each (tasks/stages/<study>/)."""
    return sorted(path.parent.name for path in STAGES.glob("*/__init__.py"))


def studies_with_commands() -> list[str]:
    return sorted(path.parent.name for path in STAGES.glob("*/cli.py"))


class StudyCommands(TyperGroup):
    """`studies <study> ...`: the commands of tasks/stages/<study>/cli.py, imported on first use."""

    def __init__(self, study: str) -> None:
        doc = ast.get_docstring(ast.parse((STAGES / study / "cli.py").read_text())) or ""
        super().__init__(name=study, help=doc.split("\n")[0], rich_help_panel=PANEL, no_args_is_help=True)

    @functools.cached_property
    def loaded(self) -> TyperGroup:
        return typer.main.get_group(_load_cli(self.name).app)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self.loaded.list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.loaded.get_command(ctx, cmd_name)


def _load_cli(study: str) -> ModuleType:
    """tasks/stages/<study>/cli.py by its path. Imported by name, the package's __init__ would come first and
    load every stage body with torch and pymatgen (15 s) for a `--help` or a refusal that needs none of them;
    the commands import what they use when they run."""
    name = f"tasks.stages.{study}.cli"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, STAGES / study / "cli.py")
        assert spec is not None and spec.loader is not None, STAGES / study / "cli.py"
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class StudiesGroup(TyperGroup):
    """The `studies` group: its own commands, then one group per study with commands, then the aliases."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *studies_with_commands()]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in studies_with_commands():
            return StudyCommands(cmd_name)
        if cmd_name in ALIASES:
            study, command = ALIASES[cmd_name]
            typer.secho(
                f"note: `studies {cmd_name}` is now `studies {study} {command}`; the old name goes in the "
                "next release.",
                fg="yellow",
                err=True,
            )
            return StudyCommands(study).get_command(ctx, command)
        return super().get_command(ctx, cmd_name)
