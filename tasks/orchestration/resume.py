"""Resumable training stages: state kept beside a stage's DVC outputs, keyed by a fingerprint of what produced
it.

`dvc repro` deletes a stage's outputs before running it, so a stage that was killed half-way would start
over. Its finished work is therefore kept in `results/<profile>/<study>/<name>/` (not a DVC output) and
reused on the next attempt only when its fingerprint (configuration, seed, input data, study code) still
matches; the stage removes the folder once it succeeds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studies.common import atomic
from tasks.orchestration import code_deps
from tasks.orchestration.stage_runner import StageContext

CODE_ROOT = Path(__file__).resolve().parents[2]  # the checkout whose code is running


def state_dir(ctx: StageContext, name: str = "train-state") -> Path:
    """Where a stage keeps its resumable state: beside, not inside, its DVC outputs."""
    return ctx.project.root / "results" / ctx.profile / ctx.study / name


def step_code(study: str, step: str, root: Path | None = None) -> list[Path]:
    """The code whose change invalidates a step's saved state: exactly the files dvc.yaml lists as the step's
    code deps (its import closure, tasks/orchestration/code_deps.py), so state is resumed only when DVC would
    not rerun the stage for a code change either (a change in studies/common reaches every step that imports
    it)."""
    root = root or CODE_ROOT
    return [root / rel for rel in code_deps.step_sources(root, study, step)]


def fingerprint(*parts: Any, files: Iterable[Path] = ()) -> str:
    """sha256 of JSON-able parts (numpy arrays by dtype, shape and content) and of the files' names and
    bytes."""
    h = hashlib.sha256(json.dumps(list(parts), sort_keys=True, default=_array_digest).encode())
    for path in sorted(files):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def _array_digest(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, np.ndarray):
        raise TypeError(f"cannot fingerprint a {type(obj).__name__}; pass JSON-able values or numpy arrays")
    return {
        "dtype": str(obj.dtype),
        "shape": list(obj.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest(),
    }


class FitStore:
    """Finished fits of a stage, one file per key (`<key>.pt`), each tagged with the fingerprint it was made
    under.

    Saved objects must be what `torch.load(weights_only=True)` reads back: tensors, state dicts and plain
    dicts/lists/numbers/strings (numpy arrays converted to tensors), so loading runs no pickled code.
    """

    def __init__(self, root: Path):
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def load(self, key: str, fingerprint: str) -> Any | None:
        """The saved fit, or None when there is none or it was made under another fingerprint (it will be
        overwritten)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except (
            RuntimeError,
            EOFError,
        ):  # truncated or empty (a full disk, a damaged file system): recompute it
            return None
        return saved["result"] if saved.get("fingerprint") == fingerprint else None

    def load_done(self, fingerprints: Mapping[str, str]) -> dict[str, Any]:
        """The saved fits among `key → fingerprint` whose fingerprint matches; says how many, when there are
        any."""
        done = {key: fit for key, fp in fingerprints.items() if (fit := self.load(key, fp)) is not None}
        if done:
            print(
                f"resuming: {len(done)} of {len(fingerprints)} fits already done (state in {self.root})",
                flush=True,
            )
        return done

    def save(self, key: str, fingerprint: str, obj: Any) -> None:
        """Atomically: a kill or a full disk during the write leaves the previous file (if any) intact."""
        _check_loadable(obj, key)
        atomic.torch_save({"fingerprint": fingerprint, "result": obj}, self.path(key))

    def clear(self) -> None:
        """Called once the stage has succeeded: its outputs now hold everything."""
        if self.root.exists():
            shutil.rmtree(self.root)


def _check_loadable(obj: Any, where: str) -> None:
    """Refuse at save time what `torch.load(weights_only=True)` would refuse at the next attempt (numpy
    values, objects)."""
    if type(obj) in (dict, OrderedDict):  # state dicts are OrderedDicts
        for k, v in obj.items():
            _check_loadable(k, where)
            _check_loadable(v, f"{where}[{k!r}]")
    elif type(obj) in (list, tuple):
        for i, v in enumerate(obj):
            _check_loadable(v, f"{where}[{i}]")
    elif not (isinstance(obj, torch.Tensor) or type(obj) in (str, int, float, bool, type(None))):
        raise TypeError(
            f"{where} is a {type(obj).__module__}.{type(obj).__name__}, which torch.load(weights_only=True) "
            "refuses. Fix: save tensors (torch.from_numpy), state dicts and plain Python values only."
        )
