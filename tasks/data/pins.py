"""Pins: "<algorithm>:<hex digest>" of a file's content, checked before anything reads it.

sha256 where the bytes were at hand; git-blob (sha1 of "blob <size>\\0" + bytes, the id a git tree names) for
files known only from a repository's tree; md5 where a publisher gives nothing else.
"""

from __future__ import annotations

import hashlib

from tasks.data.declaration import IngestError

ALGORITHMS = ("sha256", "git-blob", "md5")


def digest(algorithm: str, data: bytes) -> str:
    """Hex digest of `data` under a pin's algorithm."""
    if algorithm == "sha256":
        return hashlib.sha256(data).hexdigest()
    if algorithm == "git-blob":
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    if algorithm == "md5":
        return hashlib.md5(data).hexdigest()
    raise IngestError(
        f"Unknown pin algorithm {algorithm!r}. Fix: write pins as "
        + " or ".join(f"'{a}:<hex>'" for a in ALGORITHMS)
        + "."
    )


def pin_matches(pin: str, data: bytes) -> tuple[bool, str]:
    """Whether `data` has the pinned digest, and the digest it has (under the pin's algorithm)."""
    algorithm, _, expected = pin.partition(":")
    got = digest(algorithm, data)
    return got == expected.lower(), got
