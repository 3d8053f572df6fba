"""Byte-deterministic writers for data/: the same content gives the same bytes, so data.dvc is stable."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

# Fixed writer settings: no statistics, one explicit row-group size, so bytes depend only on the table
# (and polars' version).
PARQUET = {"compression": "zstd", "compression_level": 3, "statistics": False, "row_group_size": 65_536}
# Every member of an .npz gets this timestamp (the earliest a zip can hold) instead of the time of writing.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_parquet(table: pl.DataFrame, path: Path) -> str:
    """Write `table` with the fixed settings; return the file's sha256."""
    table.write_parquet(path, **PARQUET)
    return sha256_file(path)


def write_json(obj: object, path: Path) -> str:
    """Sorted keys, two-space indent, final newline; return the file's sha256."""
    path.write_text(json.dumps(obj, sort_keys=True, indent=2) + "\n")
    return sha256_file(path)


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> str:
    """An .npz that np.load reads like np.savez's, its bytes depending only on the arrays; return its sha256.

    Own writer because np.savez stamps each zip member with the current time. Members are stored uncompressed
    in the given order with a fixed timestamp and attributes: deflate's output can differ between zlib builds.
    """
    import numpy as np

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, whatever the platform writing it
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array, order="C"), allow_pickle=False)
    return sha256_file(path)
