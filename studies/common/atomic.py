"""Replace a file all at once: readers (and the next attempt of a stage) see the old bytes or the new, never
half.

A checkpoint written in place and cut short (a full disk, a kill, a power cut) would replace a good one with a
torn file. The standard library has no atomic writer, so this is the usual recipe by hand: write a temporary
file in the same folder, fsync it, and `os.replace` it over the target, which POSIX makes atomic within one
file system.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import torch

_NO_SPACE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


class StorageError(OSError):
    """A file could not be written (no space, or a folder that cannot be written); the message names it and
    the fix."""


def temporary(path: Path) -> Path:
    """Where `path` is written before it replaces the real one: one fixed name, so a killed writer leaves one
    stray file at most, which the next write overwrites."""
    return path.with_name(path.name + ".tmp")


def make_folder(path: Path) -> None:
    """`mkdir -p`, failing with a StorageError that names the folder (e.g. when a parent is a regular
    file)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(path, exc, folder=path) from exc


def write_bytes(path: Path, data: bytes | memoryview) -> None:
    """Make `data` the content of `path`, or leave `path` as it was and no temporary file behind; an OSError
    (disk full, unwritable folder) becomes a StorageError that says which file and what to do."""
    path = Path(path)
    tmp = temporary(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(
                f.fileno()
            )  # on disk before the rename, so a power cut cannot leave a renamed but empty file
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise storage_error(path, exc) from exc
        raise


def torch_save(obj: Any, path: Path) -> None:
    """`torch.save`, atomically. The object is serialised in memory first: torch reports a write that fails
    half-way (a full disk) as an opaque RuntimeError ("unexpected pos"), while a plain file write keeps the
    OSError's cause."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getbuffer())


def storage_error(path: Path, exc: OSError, folder: Path | None = None) -> StorageError:
    """The OSError restated for a person: which file, what went wrong, that the previous copy is intact, what
    to do."""
    folder = folder or path.parent
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if blocker := next(
        (p for p in (*reversed(folder.parents), folder) if p.exists() and not p.is_dir()), None
    ):
        reason += f" ({blocker} is a file, not a folder)"
    if exc.errno in _NO_SPACE:
        fix = (
            f"free space on the file system that holds {folder} (or raise the quota or file-size limit), "
            "or point the project at a folder with room"
        )
    else:
        fix = f"make {folder} a writable folder, or run the project from one"
    return StorageError(
        exc.errno,
        f"cannot write {path}: {reason}. Its previous version (if any) is unchanged. "
        f"Fix: {fix}, then rerun; a resumable stage continues from its last checkpoint.",
    )
