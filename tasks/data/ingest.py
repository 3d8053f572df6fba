"""The only way data enters the project: declared, checksummed sources → data/ → data.dvc (+ remote).

Ingest knows datasets only through their declarations (tasks/data/sources.py): it checks every pin first,
then builds data/ in a staging folder from the readers' tables and the datasets kept from the previous
data/, and swaps it in only at the end, so a bad source or a failing DVC call leaves the previous data/ and
data.dvc exactly as they were. Outputs are byte-deterministic, so the same datasets from the same sources
give the same data.dvc hash on any machine.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tasks.data import sources
from tasks.data.declaration import Dataset, IngestError, Inputs
from tasks.data.fetch import MIRROR_ENV, gather
from tasks.data.manifest import Manifest, copy_kept
from tasks.platform.project import Project
from tasks.platform.versioning import data_hash, dvc_add, dvc_push, dvc_status_clean

__all__ = ["IngestError", "MIRROR_ENV", "default_mirror", "ingest"]


def default_mirror(root: Path) -> Path | None:
    """$STUDIES_DATA_MIRROR, else the shared datasets folder beside the project when it exists."""
    if env := os.environ.get(MIRROR_ENV):
        return Path(env)
    candidate = root.resolve().parent / "shared" / "datasets"
    return candidate if candidate.is_dir() else None


def _plan(
    datasets: Sequence[str | Dataset], with_defaults: bool, previous: Manifest
) -> tuple[list[Dataset], Manifest]:
    """What to build (those asked for, else the defaults; and defaults data/ lacks), and the entries kept."""
    asked = sources.resolve(datasets)
    defaults = sources.resolve(sources.DEFAULT_DATASETS) if with_defaults else []
    build = asked or defaults
    build += [d for d in defaults if d.name not in {b.name for b in build} and not previous.holds(d.folder)]
    if not build:
        raise IngestError(
            "Nothing to ingest: no dataset was named. Fix: name one, e.g. datasets=('perov_5',)."
        )
    sources.check_distinct(build)
    return build, previous.outside(d.folder for d in build)


def _swap_in(root: Path, staging: Path, push: bool, progress: Callable[[str], object]) -> str:
    """Move staging to data/, record it with DVC (and push); on failure restore the old data/ and data.dvc."""
    data, dvc_file = Project(root).data, root / "data.dvc"
    previous = root / f".data-previous-{os.getpid()}"
    old_dvc = dvc_file.read_bytes() if dvc_file.exists() else None
    moved_old = moved_new = False
    try:
        if data.exists():
            data.rename(previous)
            moved_old = True
        staging.rename(data)
        moved_new = True
        progress("dvc add data")
        dvc_add(root, "data")
        if push:
            progress("dvc push data.dvc")
            dvc_push(root, ["data.dvc"])
        if not dvc_status_clean(root, ["data.dvc"]):
            raise IngestError(
                "`dvc status data.dvc` is not clean right after `dvc add`. Fix: run it to see why."
            )
        digest = data_hash(root)
    except BaseException:
        if moved_new:
            shutil.rmtree(data)
        if moved_old:
            previous.rename(data)
        if old_dvc is None:
            dvc_file.unlink(missing_ok=True)
        else:
            dvc_file.write_bytes(old_dvc)
        raise
    if moved_old:
        shutil.rmtree(previous)
    return digest


def ingest(
    root: Path,
    mirror: Path | None = None,
    datasets: Sequence[str | Dataset] = (),
    online: bool = False,
    allow_unpinned: bool = False,
    push: bool = True,
    progress: Callable[[str], object] = print,
    pins: Mapping[tuple[str, str], str] | None = None,
    with_defaults: bool = True,
) -> dict:
    """Check, stage, validate and version datasets; return what data/ now holds.

    `datasets`: names from tasks/data/sources.py, or `Dataset` declarations of the caller's own; none: the
    defaults (the declarations with `default=True`). Those named are rebuilt from their sources; every other
    dataset already in data/ is kept as it is; a default that data/ lacks is added unless `with_defaults` is
    False.
    `pins` maps (dataset, file name) to "<algorithm>:<hex>" in place of the declared pins.
    Returns {"data_hash", "files": {path under data/: entry}, "absent", "built": {dataset: copy source},
    "kept": [dataset], "pushed"}.
    """
    root = Path(root).resolve()
    mirror = Path(mirror) if mirror is not None else default_mirror(root)
    data = Project(root).data
    build, kept = _plan(datasets, with_defaults, Manifest.read(data))
    if mirror is not None and not mirror.is_dir():
        raise IngestError(
            f"Data mirror {mirror} is not a folder. Fix: pass an existing mirror or set {MIRROR_ENV}."
        )
    if mirror is None and not online and any(c.files for d in build for c in d.copies):
        raise IngestError(
            f"No data mirror: {MIRROR_ENV} is unset and {root.parent / 'shared' / 'datasets'} does not "
            f"exist. Fix: set {MIRROR_ENV} to a folder laid out as ../shared/datasets, or ingest online."
        )
    gathered = [gather(d, mirror, online, pins, allow_unpinned, progress) for d in build]

    staging = root / f".data-staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        if kept.files:
            progress(f"keeping {', '.join(kept.datasets())} from the previous data/")
        copy_kept(kept, data, staging)
        manifest = kept
        for g in gathered:
            progress(f"{g.dataset.name}: building its tables from the {g.copy.source} copy")
            files = g.copy.read(Inputs(g.dataset, g.copy, g.fetched, staging, progress))
            manifest = manifest.merged(files, g.absent, dict(g.dataset.provenance))
        manifest.write(staging)
        digest = _swap_in(root, staging, push, progress)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"data.dvc: {digest}")
    return {
        "data_hash": digest,
        "files": manifest.files,
        "absent": manifest.absent,
        "built": {g.dataset.name: g.copy.source for g in gathered},
        "kept": kept.datasets(),
        "pushed": push,
    }
