"""params.yaml: named profiles, the active profile, and `--set` overrides.

params.yaml always describes the results in the workspace: `studies run
--profile P --set k=v` writes the profile and the overrides into it (as
`dvc exp run -S` does) before running, so a later `dvc repro` reproduces
exactly that run and `git diff params.yaml` shows what changed.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from tasks.platform.errors import StudiesError

_yaml = YAML()  # round-trip: keeps comments and order when we write back


class ParamsError(StudiesError):
    """A profile or key that params.yaml does not define."""


def load(path: Path) -> dict[str, Any]:
    with path.open() as f:
        return _yaml.load(f)


def resolve(doc: Mapping[str, Any], profile: str | None = None) -> dict[str, Any]:
    """The params of one profile (default: the active one) as plain dicts."""
    name = profile or doc["profile"]
    profiles = doc.get("profiles", {})
    if name not in profiles:
        raise ParamsError(
            f"Unknown profile '{name}'. params.yaml defines: {', '.join(profiles)}. "
            "Fix: pick one of those with --profile, or add a block under `profiles:`."
        )
    return _plain(profiles[name])


def study_params(path: Path, study: str, profile: str | None = None) -> dict[str, Any]:
    doc = load(path)
    params = resolve(doc, profile)
    if study not in params:
        name = profile or doc["profile"]
        raise ParamsError(
            f"Profile '{name}' has no `{study}` block in {path} (it has: {', '.join(params)}). "
            f"Fix: name one of those, or add a block under profiles.{name}.{study}."
        )
    return params[study]


def filled(given: Mapping[str, Any], record: Any) -> CommentedMap:
    """A config record (a frozen dataclass the stage builds from `given`) as a params block, each value that
    `given` leaves to the record's default marked `# default`: `studies params` shows what runs, and why."""
    out = CommentedMap()
    out.fa.set_block_style()
    for key, value in dataclasses.asdict(record).items():
        out[key] = value
        if key not in given:
            out.yaml_add_eol_comment("default", key, column=0)
    return out


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`a.b=3` → {"a.b": 3}; values are parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ParamsError(
                f"Override '{pair}' is not key=value. Fix: write e.g. --set mlc.train.mlc_steps=50."
            )
        out[key.strip()] = YAML(typ="safe").load(raw) if raw.strip() else None
    return out


def apply(path: Path, profile: str, overrides: Mapping[str, Any]) -> list[str]:
    """Make `profile` active and set each dotted key inside it; returns a human-readable list of changes.

    Every key must already exist (a typo must not silently create a new param).
    The file is replaced atomically, so a failure leaves the old one intact.
    """
    doc = load(path)
    resolve(doc, profile)  # validates the profile name
    changes: list[str] = []
    if doc["profile"] != profile:
        changes.append(f"profile: {doc['profile']} → {profile}")
        doc["profile"] = profile
    for key, value in overrides.items():
        node = doc["profiles"][profile]
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node, Mapping) or part not in node:
                raise ParamsError(_missing(key, profile, part))
            node = node[part]
        if not isinstance(node, Mapping) or leaf not in node:
            raise ParamsError(_missing(key, profile, leaf))
        if node[leaf] != value:
            changes.append(f"profiles.{profile}.{key}: {node[leaf]} → {value}")
            node[leaf] = value
    if changes:
        _atomic_dump(doc, path)
    return changes


def _missing(key: str, profile: str, part: str) -> str:
    return (
        f"--set {key}: profile '{profile}' has no '{part}' there. "
        f"Fix: check the spelling against params.yaml (profiles.{profile}...)."
    )


def _atomic_dump(doc: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".params-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w") as f:
            _yaml.dump(doc, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(node: Any) -> Any:
    """Built-in types all the way down: ruamel's round-trip scalars (ScalarInt, ScalarFloat, ...) are
    int/float subclasses that safe loaders (torch's weights_only, e.g. for resume state) and some libraries
    refuse."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    for base in (bool, int, float, str):
        if isinstance(node, base):
            return base(node)
    return copy.copy(node)
