"""Choose a copy of each dataset, read its files from the mirror (or download them) and check every pin.

This runs for every dataset of an ingest before any reader sees a byte, so a bad file stops the ingest
with data/ untouched.
"""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tasks.data.declaration import Copy, Dataset, Fetched, IngestError, SourceFile
from tasks.data.pins import digest, pin_matches
from tasks.platform.settings import MIRROR_ENV


@dataclass(frozen=True)
class Gathered:
    """A dataset's chosen copy, its verified files, and the optional files it lacks (as "absent" entries)."""

    dataset: Dataset
    copy: Copy
    fetched: dict[str, Fetched]
    absent: dict[str, dict]


def _download(file: SourceFile, mirror: Path | None) -> tuple[str, bytes]:
    """The first of the file's URLs that answers: (url, bytes)."""
    errors = []
    for url in file.urls:
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                return url, response.read()
        except (urllib.error.URLError, OSError) as err:
            errors.append(f"{url}: {err}")
    place = mirror / file.mirror if mirror else f"<mirror>/{file.mirror}"
    raise IngestError(
        f"Cannot download {file.name} ({'; '.join(errors)}). Fix: check the network, or copy the file to "
        f"{place} and point {MIRROR_ENV} at that mirror."
    )


def _content(file: SourceFile, stored: bytes, where: str) -> bytes:
    """The bytes the pin checks: the file itself, or its gunzipped content."""
    if not file.gzipped:
        return stored
    try:
        return gzip.decompress(stored)
    except (OSError, EOFError, zlib.error) as err:
        raise IngestError(
            f"{where} is not a readable gzip file ({err}; sha256 of the file as found: "
            f"{hashlib.sha256(stored).hexdigest()}). "
            f"Fix: the copy is truncated or corrupted; replace it with "
            f"{file.urls[0] if file.urls else 'an intact copy'}."
        ) from err


def _verify(
    dataset: Dataset, file: SourceFile, where: str, data: bytes, pin: str | None, unpinned_ok: bool
) -> None:
    """Refuse bytes that differ from the pin, or that have no pin unless the caller accepts that."""
    content = " (of its decompressed content)" if file.gzipped else ""
    if pin is None:
        if not unpinned_ok:
            raise IngestError(
                f"{where} has no pinned checksum (its sha256{content} is {digest('sha256', data)}). "
                "Fix: if you trust it, rerun ingest with allow_unpinned=True (the CLI's --allow-unpinned) "
                f"to accept it and record that sha256, or pin it in {dataset.name}'s declaration "
                "(tasks/data/datasets/)."
            )
        return
    ok, got = pin_matches(pin, data)
    if not ok:
        algorithm, _, expected = pin.partition(":")
        raise IngestError(
            f"{where}: {algorithm} checksum{content} mismatch: expected {expected}, got {got}. "
            "Fix: the file is not the published one (edited, truncated or corrupted); replace it with "
            f"{file.urls[0] if file.urls else 'an intact copy'}, or pin the version you intend to use."
        )


def _locate(copy: Copy, mirror: Path | None, online: bool) -> dict[str, Path | str | None]:
    """Per file of the copy: its mirror path, "download" when only the network has it, or None."""
    found: dict[str, Path | str | None] = {}
    for file in copy.files:
        path = mirror / file.mirror if mirror else None
        found[file.name] = path if path and path.is_file() else ("download" if online and file.urls else None)
    return found


def _usable(copy: Copy, located: Mapping[str, object]) -> bool:
    """Every required file is at hand, and (when all are optional) at least one."""
    have = {name for name, where in located.items() if where is not None}
    return all(f.name in have for f in copy.files if f.required) and (not copy.files or bool(have))


def _unavailable(dataset: Dataset, mirror: Path | None) -> IngestError:
    """Which files each copy needs, where the mirror should hold them and where they are published."""
    needs = []
    for copy in dataset.copies:
        paths = ", ".join(str(mirror / f.mirror) if mirror else f.mirror for f in copy.files)
        urls = ", ".join(f.urls[0] for f in copy.files if f.urls)
        needs.append(f"its {copy.source} copy {paths}" + (f" (published at {urls})" if urls else ""))
    return IngestError(
        f"No copy of {dataset.name} is complete in {mirror or 'any mirror (none is set)'}: "
        f"it needs {'; or '.join(needs)}. Fix: copy those files there, point {MIRROR_ENV} at a mirror that "
        "has them, or ingest online (--online) to download the published ones."
    )


def gather(
    dataset: Dataset,
    mirror: Path | None,
    online: bool,
    pins: Mapping[tuple[str, str], str] | None,
    allow_unpinned: bool,
    progress: Callable[[str], object],
) -> Gathered:
    """The first copy of `dataset` whose files the mirror (or, online, the network) has, read and verified.

    `pins`, (dataset, file name) -> pin, replaces the declared pins when given (tests pin their own files).
    """
    for copy in dataset.copies:
        located = _locate(copy, mirror, online)
        if _usable(copy, located):
            break
    else:
        raise _unavailable(dataset, mirror)
    fetched: dict[str, Fetched] = {}
    absent: dict[str, dict] = {}
    for file in copy.files:
        where = located[file.name]
        if where is None:
            absent[f"{dataset.folder}/{file.name}"] = {
                "dataset": dataset.name,
                **({"split": file.split} if file.split else {}),
                **({"url": file.urls[0]} if file.urls else {}),
            }
            continue
        if isinstance(where, Path):
            origin, where, stored = "mirror", str(where), where.read_bytes()
        else:
            progress(f"downloading {file.urls[0]}")
            origin, (where, stored) = "download", _download(file, mirror)
        data = _content(file, stored, where)
        pin = file.pin if pins is None else pins.get((dataset.name, file.name))
        _verify(dataset, file, where, data, pin, allow_unpinned)
        progress(f"{where}: checksum {'ok' if pin else 'not pinned, accepted'}")
        fetched[file.name] = Fetched(file, data, origin, where, pin, hashlib.sha256(stored).hexdigest())
    return Gathered(dataset, copy, fetched, absent)
