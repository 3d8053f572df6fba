"""The source files each pipeline step runs, found from its imports: the one source of truth for \
dvc.yaml's code deps.

A step's code deps are the `.py` files under `studies/` and `tasks/` that its
function's module imports, transitively, and the data files those modules name beside themselves
(a string constant equal to the name of a non-Python file in the module's folder, e.g.
`Path(__file__).with_name("magpie_upstream.json")`). They are read statically with `ast`
against the files under a project root (not `sys.path`), so the answer is the
one for that checkout and nothing heavy (torch, pymatgen) gets imported.
`python -m tasks.orchestration.code_deps` checks dvc.yaml against them; `--write` fixes it.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tasks.platform.project import find_root

PACKAGES = ("studies", "tasks")
# Runner infrastructure every stage goes through and that records rather than computes (the stage
# context, MLflow tags, paths, params lookup, DVC hashes, the error base, this module, which resume
# fingerprints use):
# a change there must not rerun every stage.
INFRASTRUCTURE = frozenset(
    {
        "tasks/orchestration/stage_runner.py",
        "tasks/platform/tracking.py",
        "tasks/platform/project.py",
        "tasks/platform/params.py",
        "tasks/platform/versioning.py",
        "tasks/platform/errors.py",
        "tasks/orchestration/code_deps.py",
    }
)
FIX = "python -m tasks.orchestration.code_deps --write"
FILE_NAME = re.compile(r"[\w-]+(\.[\w-]+)+")


def _module_file(root: Path, module: str) -> Path | None:
    """The file that defines a dotted module under root, or None when it is not a project module."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_registry(rel: str) -> bool:
    """`tasks/stages/<study>/__init__.py` imports every step of its study, so following it would make each
    step depend on all."""
    parts = rel.split("/")
    return len(parts) == 4 and parts[:2] == ["tasks", "stages"] and parts[3] == "__init__.py"


def _docstring_only(tree: ast.Module) -> bool:
    body = tree.body
    return not body or (
        len(body) == 1
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    )


def _package_of(root: Path, path: Path) -> str:
    """The package a relative import in `path` starts from: the module itself for an `__init__.py`."""
    return ".".join(path.relative_to(root).with_suffix("").parts[:-1])


def _absolute(package: str, level: int, module: str | None) -> str:
    """`from <level dots><module> import ...` inside `package`, as an absolute module name."""
    parts = package.split(".")
    base = parts[: len(parts) - level + 1] if level else []
    return ".".join(base + ([module] if module else []))


def _with_ancestors(name: str) -> list[str]:
    """Importing a.b.c runs a, a.b and a.b.c."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _imported_modules(root: Path, path: Path, tree: ast.Module) -> set[str]:
    """Every module an import anywhere in the file (inside functions too) runs, ancestor packages included."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(_package_of(root, path), node.level, node.module)
            names.add(base)
            # `from X import Y` may name a submodule Y; when it does, that module runs too.
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {module for name in names for module in _with_ancestors(name)}


def _data_beside(root: Path, path: Path, tree: ast.Module) -> set[str]:
    """Files in the module's own folder that the module names in a string constant (data it reads)."""
    names = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and FILE_NAME.fullmatch(node.value)
    }
    return {
        (path.parent / name).relative_to(root).as_posix()
        for name in names
        if not name.endswith(".py") and (path.parent / name).is_file()
    }


def step_module(root: Path, study: str, step: str) -> str:
    """The module of `tasks.stages.<study>.STEPS[step]` ("module:function"), read from the registry's source
    without importing it."""
    registry = root / "tasks" / "stages" / study / "__init__.py"
    if not registry.is_file():
        raise ValueError(f"No step registry {registry.relative_to(root)} for study '{study}'.")
    tree = ast.parse(registry.read_text(), str(registry))
    steps: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "STEPS" for t in targets):
                steps = {
                    k.value: v
                    for k, v in zip(node.value.keys, node.value.values)
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                }
    if step not in steps:
        raise ValueError(
            f"Study '{study}' has no step '{step}' in {registry.relative_to(root)}; it has: "
            f"{', '.join(steps)}."
        )
    spec = steps[step]
    text = spec.value if isinstance(spec, ast.Constant) and isinstance(spec.value, str) else ""
    module, _, function = text.partition(":")
    if not (module and function):
        raise ValueError(
            f"STEPS['{step}'] in {registry.relative_to(root)} is not a \"module:function\" string "
            f'(e.g. "tasks.stages.{study}.{step.replace("-", "_")}:{step.replace("-", "_")}").'
        )
    return module


def step_sources(root: Path, study: str, step: str) -> list[str]:
    """Sorted project-relative paths of the studies/ and tasks/ files that step's function imports,
    transitively."""
    found: set[str] = set()
    queue = _with_ancestors(step_module(root, study, step))
    seen: set[Path] = set()
    while queue:
        path = _module_file(root, queue.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        rel = path.relative_to(root).as_posix()
        # Neither registries nor infrastructure are followed or listed (reasons at _is_registry and
        # INFRASTRUCTURE).
        if _is_registry(rel) or rel in INFRASTRUCTURE:
            continue
        tree = ast.parse(path.read_text(), str(path))
        # A package's __init__.py counts only when it holds code: a docstring alone changes no result.
        if path.name != "__init__.py" or not _docstring_only(tree):
            found.add(rel)
        found |= _data_beside(root, path, tree)
        queue.extend(_imported_modules(root, path, tree))
    return sorted(found)


def stage_sources(root: Path, stage_name: str) -> list[str]:
    """Code deps of a dvc.yaml stage named `<study>-<step>` (the step may itself contain '-')."""
    study, _, step = stage_name.partition("-")
    return step_sources(root, study, step)


def is_code(dep: object) -> bool:
    """A dvc.yaml dep this module owns: a path under studies/ or tasks/."""
    return isinstance(dep, str) and dep.split("/", 1)[0] in PACKAGES


def _yaml() -> YAML:
    """Round-trip YAML laid out like dvc.yaml, so a rewrite changes only the lines it means to."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def compare(root: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Per dvc.yaml stage: (code deps it lists, code deps its imports call for), both sorted."""
    stages = _yaml().load(root / "dvc.yaml")["stages"]
    return {
        name: (sorted(d for d in stage.get("deps", []) if is_code(d)), stage_sources(root, name))
        for name, stage in stages.items()
    }


def mismatches(compared: dict[str, tuple[list[str], list[str]]]) -> dict[str, tuple[list[str], list[str]]]:
    """Per stage of a `compare` whose code deps differ: (missing from dvc.yaml, extra in dvc.yaml)."""
    return {
        name: (sorted(set(computed) - set(declared)), sorted(set(declared) - set(computed)))
        for name, (declared, computed) in compared.items()
        if declared != computed
    }


def report(bad: dict[str, tuple[list[str], list[str]]]) -> str:
    """What differs, stage by stage, and the command that fixes it."""
    lines = [
        f"{name}: dvc.yaml lacks {missing or 'nothing'}, lists extra {extra or 'nothing'}"
        for name, (missing, extra) in bad.items()
    ]
    return "\n".join(
        [
            *lines,
            f"dvc.yaml's code deps differ from what the steps import; fix with `{FIX}`, "
            "then `dvc commit -f <stage>` for each changed stage whose code did not change.",
        ]
    )


def write(root: Path) -> list[str]:
    """Rewrite each stage's code deps in dvc.yaml to its sources (after its other deps); returns the changed
    stages."""
    yaml = _yaml()
    dvc_yaml = root / "dvc.yaml"
    doc = yaml.load(dvc_yaml)
    changed = []
    for name, stage in doc["stages"].items():
        deps = stage.get("deps")
        if deps is None:
            continue
        wanted = [d for d in deps if not is_code(d)] + stage_sources(root, name)
        if list(deps) == wanted:
            continue
        # Item by item in place, so comments attached to unchanged leading entries keep their line.
        for i, dep in enumerate(wanted):
            if i < len(deps):
                if deps[i] != dep:
                    deps[i] = dep
            else:
                deps.append(dep)
        del deps[len(wanted) :]
        changed.append(name)
    if changed:
        text = io.StringIO()
        yaml.dump(doc, text)
        dvc_yaml.write_text(text.getvalue())
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tasks.orchestration.code_deps", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--write", action="store_true", help="rewrite dvc.yaml's code deps to the computed ones"
    )
    args = parser.parse_args(argv)
    root = find_root()
    if args.write:
        changed = write(root)
        print(
            f"dvc.yaml: code deps rewritten for {', '.join(changed)}"
            if changed
            else "dvc.yaml: code deps already match"
        )
        return 0
    compared = compare(root)
    for name, (declared, computed) in compared.items():
        print(f"{name}:\n  dvc.yaml: {' '.join(declared)}\n  imports:  {' '.join(computed)}")
    if bad := mismatches(compared):
        print(report(bad), file=sys.stderr)
        return 1
    print("dvc.yaml's code deps match the imports.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
