"""Registry of the datasets ingest accepts: where each file comes from and what it must contain.

Every upstream file is pinned to one commit of the CDVAE repository, so a URL
always names the same bytes; a pin records those bytes' digest so that a mirror
copy or a download can be checked before anything reads it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# txie-93/cdvae at f857f598d6f6 (PR #9 merge, the repository's HEAD); full SHA so the URL cannot become ambiguous.
UPSTREAM_COMMIT = "f857f598d6f6cca5dc1ea0582d228f12dcc2c2ea"
BASE_URL = f"https://raw.githubusercontent.com/txie-93/cdvae/{UPSTREAM_COMMIT}/data"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: tuple[str, ...]  # required CSV columns besides the unnamed pandas index
    property: str  # the target property the studies condition on


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "perov_5",
            ("material_id", "cif", "formula", "heat_all", "heat_ref", "dir_gap", "ind_gap"),
            "heat_ref",
        ),
        Dataset("carbon_24", ("material_id", "cif", "energy_per_atom"), "energy_per_atom"),
        Dataset(
            "mp_20",
            (
                "material_id",
                "cif",
                "formation_energy_per_atom",
                "band_gap",
                "pretty_formula",
                "e_above_hull",
                "elements",
                "spacegroup.number",
            ),
            "formation_energy_per_atom",
        ),
    )
}

# Pins are "<algorithm>:<hex digest>". sha256 where the bytes were at hand (perov_5 val/test from
# ../shared/datasets, carbon_24 val/test from the git objects at UPSTREAM_COMMIT). For the files
# whose bytes were not at hand, the commit's tree still names their git blob id (sha1 of
# "blob <size>\0" + bytes), which pins the same content; ingest then records the observed sha256.
PINS: dict[tuple[str, str], str] = {
    ("perov_5", "train"): "git-blob:0769074b5d51d293b765c4371b8f55c468c9c9f2",
    ("perov_5", "val"): "sha256:326f401219901270374b71e2faff63df3a29a99fd26f469993b9f476b693daf2",
    ("perov_5", "test"): "sha256:a85878c685037f0a578257f6d4fcdde00e968dbab73c5f1e90ecef65218513f6",
    ("carbon_24", "train"): "git-blob:5e7ae970fbad8ddc46b6963e8cd6e425f11783a6",
    ("carbon_24", "val"): "sha256:36c00689cd63073c954a58bc6ed6e2adb7aeed5a630c994970959a1babffd50e",
    ("carbon_24", "test"): "sha256:386b17c08816f434818d51e46687bf72ff3f92348f3ba24823e4758f1fe8a969",
    ("mp_20", "train"): "git-blob:b1c9d498565ac2fd8d075a51ff2ef5e51ba6c21f",
    ("mp_20", "val"): "git-blob:7efe4d7ebeb4f460ceaad35e5326c42111d9c9a1",
    ("mp_20", "test"): "git-blob:5dc643041df53f5ce4970a79930ad262b4f07acd",
}


def url(name: str, split: str) -> str:
    return f"{BASE_URL}/{name}/{split}.csv"


def digest(algorithm: str, data: bytes) -> str:
    """Hex digest of `data` under a pin's algorithm ("sha256" or "git-blob")."""
    if algorithm == "sha256":
        return hashlib.sha256(data).hexdigest()
    if algorithm == "git-blob":
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    raise ValueError(f"Unknown pin algorithm {algorithm!r}: use 'sha256:<hex>' or 'git-blob:<hex>'.")


def pin_matches(pin: str, data: bytes) -> tuple[bool, str]:
    """Whether `data` has the pinned digest, and the digest it has (under the pin's algorithm)."""
    algorithm, _, expected = pin.partition(":")
    got = digest(algorithm, data)
    return got == expected.lower(), got
