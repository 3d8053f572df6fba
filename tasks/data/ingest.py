"""The only way data enters the project: checksummed sources → data/ → data.dvc (+ remote).

Everything is built and validated in a staging folder first and swapped in
only at the end, so a bad source or a failing DVC call leaves the previous
data/ and data.dvc exactly as they were. Outputs are byte-deterministic, so
the same sources give the same data.dvc hash on any machine.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from studies.cdvae.data import DatasetFormatError, parse_structures, read_cdvae_csv
from tasks.data import sources
from tasks.platform.project import Project
from tasks.platform.versioning import data_hash, dvc_add, dvc_push, dvc_status_clean

MIRROR_ENV = "STUDIES_DATA_MIRROR"
MANIFEST = "SOURCES.json"
# Fixed writer settings: no statistics, one explicit row-group size, so bytes depend only on the table (and polars' version).
PARQUET = {"compression": "zstd", "compression_level": 3, "statistics": False, "row_group_size": 65_536}


class IngestError(ValueError):
    """A source is missing, fails its checksum or is malformed; the message names it and the fix."""


@dataclass(frozen=True)
class _Source:
    name: str
    split: str
    kind: str  # "mirror" or "download"
    where: str  # the mirror path or URL, for messages
    data: bytes
    pin: str | None

    @property
    def rel(self) -> str:
        return f"cdvae/{self.name}/{self.split}"


def default_mirror(root: Path) -> Path | None:
    """$STUDIES_DATA_MIRROR, else the shared datasets folder beside the project when it exists."""
    if env := os.environ.get(MIRROR_ENV):
        return Path(env)
    candidate = root.resolve().parent / "shared" / "datasets"
    return candidate if candidate.is_dir() else None


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as err:
        raise IngestError(
            f"Cannot download {url}: {err}. Fix: check the network, or copy the file into a mirror "
            f"(cdvae/<name>/<split>.csv) and point {MIRROR_ENV} at it."
        ) from err


def _verify(src: _Source, allow_unpinned: bool) -> None:
    """Refuse bytes that differ from the pin, or that have no pin unless the caller accepts that."""
    if src.pin is None:
        if not allow_unpinned:
            raise IngestError(
                f"{src.where} has no pinned checksum (its sha256 is {sources.digest('sha256', src.data)}). "
                "Fix: if you trust it, rerun ingest with allow_unpinned=True (the CLI's --allow-unpinned) "
                "to accept it and record that sha256, or add its pin to tasks/data/sources.py."
            )
        return
    ok, got = sources.pin_matches(src.pin, src.data)
    if not ok:
        algorithm, _, expected = src.pin.partition(":")
        raise IngestError(
            f"{src.where}: {algorithm} checksum mismatch: expected {expected}, got {got}. "
            f"Fix: the file is not the published one (edited, truncated or corrupted); replace it with "
            f"{sources.url(src.name, src.split)}, or pass the pin of the version you intend to use."
        )


def _gather(
    mirror: Path | None,
    datasets: Sequence[str],
    online: bool,
    pins: Mapping[tuple[str, str], str],
    allow_unpinned: bool,
    progress: Callable[[str], object],
) -> tuple[list[_Source], dict[str, dict]]:
    """Read (or download) and checksum every available split; list the absent ones."""
    found: list[_Source] = []
    absent: dict[str, dict] = {}
    for name in datasets:
        if name not in sources.DATASETS:
            raise IngestError(f"Unknown dataset {name!r}. Fix: use one of {', '.join(sources.DATASETS)}.")
        folder = mirror / "cdvae" / name if mirror else None
        before = len(found)
        for split in sources.SPLITS:
            path, url = (folder / f"{split}.csv" if folder else None), sources.url(name, split)
            if path and path.is_file():
                kind, where, data = "mirror", str(path), path.read_bytes()
            elif online:
                progress(f"downloading {url}")
                kind, where, data = "download", url, _download(url)
            else:
                absent[f"cdvae/{name}/{split}.csv"] = {"dataset": name, "split": split, "url": url}
                continue
            src = _Source(name, split, kind, where, data, pins.get((name, split)))
            _verify(src, allow_unpinned)
            progress(f"{where}: checksum {'ok' if src.pin else 'not pinned, accepted'}")
            found.append(src)
        if len(found) == before:
            raise IngestError(
                f"No split of {name} ({', '.join(f'{s}.csv' for s in sources.SPLITS)}) in {folder}. "
                f"Fix: copy the CDVAE files there (from {sources.BASE_URL}/{name}/), point {MIRROR_ENV} "
                "at a mirror that has them, or ingest online."
            )
    return found, absent


def _sha256(path: Path) -> str:
    return sources.digest("sha256", path.read_bytes())


def _write_cdvae(staging: Path, src: _Source, progress: Callable[[str], object]) -> dict[str, dict]:
    """Copy the CSV byte for byte, parse and validate it, write the parsed table; return their manifest entries."""
    dataset = sources.DATASETS[src.name]
    csv, table_path = staging / f"{src.rel}.csv", staging / f"{src.rel}.parquet"
    csv.parent.mkdir(parents=True, exist_ok=True)
    csv.write_bytes(src.data)
    try:
        df = read_cdvae_csv(csv, dataset.columns, source=src.where)
        progress(f"{src.where}: parsing {df.height} CIFs")
        table = parse_structures(df, source=src.where)
    except DatasetFormatError as err:
        raise IngestError(str(err)) from err
    prop = table[dataset.property]
    if not prop.dtype.is_numeric() or prop.null_count():
        raise IngestError(
            f"{src.where}: property column {dataset.property} must be numeric with no empty values "
            f"(it is {prop.dtype} with {prop.null_count()} empty). Fix: correct those rows or re-download the file."
        )
    table.rechunk().write_parquet(table_path, **PARQUET)
    common = {"dataset": src.name, "split": src.split, "rows": table.height}
    return {
        f"{src.rel}.csv": {
            **common,
            "source": src.kind,
            "url": sources.url(src.name, src.split),
            "sha256": sources.digest("sha256", src.data),
            "pin": src.pin,
            "pinned": src.pin is not None,
        },
        f"{src.rel}.parquet": {
            **common,
            "source": f"parsed from {src.rel}.csv",
            "property": dataset.property,
            "sha256": _sha256(table_path),
        },
    }


def _write_digits(staging: Path) -> dict[str, dict]:
    """scikit-learn's bundled 8×8 digits as integer pixel columns p00..p63 plus target."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    columns = {f"p{i:02d}": digits.data[:, i].astype(np.int64) for i in range(digits.data.shape[1])}
    table = pl.DataFrame({**columns, "target": digits.target.astype(np.int64)})
    path = staging / "digits" / "digits.parquet"
    path.parent.mkdir(parents=True)
    table.write_parquet(path, **PARQUET)
    return {
        "digits/digits.parquet": {
            "source": "sklearn.datasets.load_digits",
            "rows": table.height,
            "sha256": _sha256(path),
        }
    }


def _swap_in(root: Path, staging: Path, push: bool, progress: Callable[[str], object]) -> str:
    """Move staging to data/, record it with DVC (and push); on any failure put the old data/ and data.dvc back."""
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
    datasets: Sequence[str] = ("perov_5",),
    online: bool = False,
    allow_unpinned: bool = False,
    push: bool = True,
    progress: Callable[[str], object] = print,
    pins: Mapping[tuple[str, str], str] | None = None,
) -> dict:
    """Check, stage, validate and version the datasets; return what was ingested.

    `pins` maps (dataset, split) to "sha256:<hex>" or "git-blob:<hex>" (default: tasks.data.sources.PINS).
    Returns {"data_hash", "files": {path under data/: entry}, "absent": {...}, "pushed"}.
    """
    root = Path(root).resolve()
    mirror = Path(mirror) if mirror is not None else default_mirror(root)
    if mirror is not None and not mirror.is_dir():
        raise IngestError(
            f"Data mirror {mirror} is not a folder. Fix: pass an existing mirror or set {MIRROR_ENV}."
        )
    if mirror is None and not online:
        raise IngestError(
            f"No data mirror: {MIRROR_ENV} is unset and {root.parent / 'shared' / 'datasets'} does not exist. "
            f"Fix: set {MIRROR_ENV} to a folder holding cdvae/<name>/<split>.csv, or ingest online."
        )
    found, absent = _gather(
        mirror,
        list(dict.fromkeys(datasets)),
        online,
        sources.PINS if pins is None else pins,
        allow_unpinned,
        progress,
    )

    staging = root / f".data-staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        files: dict[str, dict] = {}
        for src in found:
            files.update(_write_cdvae(staging, src, progress))
        files.update(_write_digits(staging))
        manifest = {"upstream_commit": sources.UPSTREAM_COMMIT, "files": files, "absent": absent}
        (staging / MANIFEST).write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n")
        digest = _swap_in(root, staging, push, progress)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"data.dvc: {digest}")
    return {"data_hash": digest, "files": files, "absent": absent, "pushed": push}
