"""What declaring a dataset means: its files, where they are published and mirrored, their pins, and a reader.

A dataset is declared once, as a `Dataset` in a module of `tasks/data/datasets/` (tasks/data/sources.py
finds it there); ingest knows nothing else about it. Declaration modules stay cheap to import (the CLI's
help lists every dataset), so readers import their heavy libraries inside the function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tasks.platform.errors import StudiesError


class IngestError(StudiesError, ValueError):
    """A source is missing, fails its checksum or is malformed; the message names it and the fix."""


@dataclass(frozen=True)
class SourceFile:
    """One upstream file: where it is published and mirrored, and the digest its content must have."""

    name: str  # the file's content by name, e.g. "val.csv" or "train-images-idx3-ubyte"
    mirror: str  # its path under the data mirror (../shared/datasets)
    urls: tuple[str, ...] = ()  # canonical download URLs, tried in order; none: the mirror's own copy
    pin: str | None = None  # "<sha256|git-blob|md5>:<hex>" of the content (decompressed when `gzipped`)
    gzipped: bool = False  # mirror copy and download are gzip (the .gz bytes may differ; their content not)
    required: bool = True  # False: a copy may lack it; ingest records it as absent
    split: str | None = None  # the split it holds, recorded beside it (train, val, test)


@dataclass(frozen=True)
class Fetched:
    """A source file's verified content, and where it came from."""

    file: SourceFile
    data: bytes  # the content the pin checks (gunzipped when the file is gzipped)
    origin: str  # "mirror" or "download"
    where: str  # the mirror path or URL it was read from, for messages
    pin: str | None
    stored_sha256: str  # of the bytes as found (differs from the content's for gzipped files)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def location(self) -> str:
        """Where it came from without machine-specific paths: the mirror-relative path or the URL."""
        return self.file.mirror if self.origin == "mirror" else self.where

    def record(self) -> dict[str, object]:
        """Its manifest entry: origin, digests and pin."""
        entry: dict[str, object] = {
            "origin": self.origin,
            "from": self.location,
            "sha256": self.sha256,
            "pin": self.pin,
            "pinned": self.pin is not None,
        }
        if self.file.gzipped:
            entry["gzip_sha256"] = self.stored_sha256
        return entry


@dataclass(frozen=True)
class Inputs:
    """What a reader gets: its dataset and copy, the verified files present, and the staging data/."""

    dataset: Dataset
    copy: Copy
    fetched: Mapping[str, Fetched]  # by SourceFile.name; optional files that were absent are missing
    staging: Path
    progress: Callable[[str], object]

    def rel(self, name: str) -> str:
        """A file of this dataset as a path under data/ (the manifest's key)."""
        return f"{self.dataset.folder}/{name}"

    def path(self, name: str) -> Path:
        """A file of this dataset in the staging data/, its folder created."""
        path = self.staging / self.rel(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


# A reader writes the dataset's tables under Inputs.path(...) and returns their manifest entries, keyed by
# Inputs.rel(...); each entry carries the "sha256" of the file it describes (checked when data/ is kept).
Reader = Callable[[Inputs], dict[str, dict]]


@dataclass(frozen=True)
class Copy:
    """One form a dataset is published in (CIFAR-10: the canonical python archive, or a JPEG re-encoding)."""

    source: str  # what its tables record as their source, e.g. "canonical" or "mirror-jpeg-q75"
    files: tuple[SourceFile, ...]
    read: Reader


@dataclass(frozen=True)
class Dataset:
    """A dataset ingest can bring into data/<folder>/: its copies in order of preference."""

    name: str
    description: str  # one line, shown by `studies ingest --help`
    folder: str  # under data/; the dataset owns everything below it
    copies: tuple[Copy, ...]
    default: bool = False  # part of every ingest (what `make run` reads)
    provenance: Mapping[str, str] = field(default_factory=dict)  # top-level SOURCES.json entries it needs
