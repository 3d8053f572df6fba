"""data/SOURCES.json: every file in data/ with its digest and provenance, and the optional sources absent.

An ingest rebuilds the datasets it is asked for and keeps every other dataset already in data/, so adding
MNIST does not drop Perov-5. What it keeps it takes from the previous data/, file by file, after checking
each against the sha256 the previous manifest recorded; the result depends only on which datasets data/
holds and on their sources, so the same set gives the same data.dvc however it was built up.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tasks.data.declaration import IngestError
from tasks.data.tables import sha256_file, write_json

MANIFEST = "SOURCES.json"
SECTIONS = ("files", "absent")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


@dataclass(frozen=True)
class Manifest:
    files: dict[str, dict] = field(default_factory=dict)  # path under data/ -> entry (with its "sha256")
    absent: dict[str, dict] = field(default_factory=dict)  # optional source files no copy had
    provenance: dict[str, object] = field(default_factory=dict)  # other top-level keys (CDVAE's commit)

    @classmethod
    def read(cls, data: Path) -> Manifest:
        """The manifest of an existing data/ (empty when there is none)."""
        path = data / MANIFEST
        if not path.is_file():
            return cls()
        try:
            doc = json.loads(path.read_text())
            return cls(
                dict(doc.get("files", {})),
                dict(doc.get("absent", {})),
                {k: v for k, v in doc.items() if k not in SECTIONS},
            )
        except (ValueError, AttributeError) as err:
            raise IngestError(
                f"{path} is not a manifest ingest wrote ({err}), so the datasets in {data} cannot be kept. "
                f"Fix: restore it with `dvc checkout data.dvc`, or move {data} away to ingest afresh."
            ) from err

    def holds(self, folder: str) -> bool:
        return any(_under(p, folder) for p in [*self.files, *self.absent])

    def outside(self, folders: Iterable[str]) -> Manifest:
        """The entries of the datasets not in `folders` (those an ingest keeps)."""
        folders = list(folders)

        def keep(section: dict[str, dict]) -> dict[str, dict]:
            return {p: e for p, e in section.items() if not any(_under(p, f) for f in folders)}

        return Manifest(keep(self.files), keep(self.absent), dict(self.provenance))

    def datasets(self) -> list[str]:
        """The datasets it lists (an entry's "dataset", else its top folder), for messages."""
        return sorted(
            {e.get("dataset") or p.split("/")[0] for p, e in [*self.files.items(), *self.absent.items()]}
        )

    def merged(
        self, files: dict[str, dict], absent: dict[str, dict], provenance: dict[str, object]
    ) -> Manifest:
        return Manifest(self.files | files, self.absent | absent, self.provenance | provenance)

    def write(self, data: Path) -> None:
        write_json({**self.provenance, "files": self.files, "absent": self.absent}, data / MANIFEST)


def copy_kept(kept: Manifest, data: Path, staging: Path) -> None:
    """Copy the kept files from the previous data/ into staging, each checked against its recorded sha256."""
    for rel, entry in sorted(kept.files.items()):
        src, dst = data / rel, staging / rel
        found = sha256_file(src) if src.is_file() else "no file"
        if found != entry.get("sha256"):
            owner = entry.get("dataset") or rel.split("/")[0]
            raise IngestError(
                f"{src} (kept from {owner}, already in data/) does not match SOURCES.json: expected sha256 "
                f"{entry.get('sha256')}, found {found}. Fix: restore data/ with `dvc checkout data.dvc` (or "
                f"`dvc pull data.dvc`), rebuild {owner} by naming it too, or move data/ away to start afresh."
            )
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
