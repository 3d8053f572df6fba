"""CDVAE's crystal datasets (tasks/data/crystal_sets.py): CSVs of CIFs, kept as published and parsed.

Every upstream file is pinned to one commit of the CDVAE repository, so a URL always names the same bytes;
a pin records those bytes' digest so that a mirror copy or a download is checked before anything reads it.
Tables: data/cdvae/<name>/<split>.csv (byte for byte) and <split>.parquet (parsed crystals).
"""

from __future__ import annotations

from functools import partial

from tasks.data.crystal_sets import CRYSTAL_SETS, CrystalSet
from tasks.data.declaration import Copy, Dataset, IngestError, Inputs, SourceFile

# txie-93/cdvae at f857f598d6f6 (PR #9 merge, the repository's HEAD); full SHA, so URLs stay unambiguous.
UPSTREAM_COMMIT = "f857f598d6f6cca5dc1ea0582d228f12dcc2c2ea"
BASE_URL = f"https://raw.githubusercontent.com/txie-93/cdvae/{UPSTREAM_COMMIT}/data"
SPLITS = ("train", "val", "test")

DESCRIPTIONS = {
    "perov_5": "Perov-5: 18,928 perovskite crystals (CDVAE CSVs; the mirror has val and test)",
    "carbon_24": "Carbon-24: 10,153 carbon crystals of 6-24 atoms (CDVAE CSVs)",
    "mp_20": "MP-20: 45,231 Materials Project crystals of up to 20 atoms (CDVAE CSVs)",
}

# sha256 where the bytes were at hand (perov_5 val/test from ../shared/datasets, carbon_24 val/test from the
# git objects at UPSTREAM_COMMIT). For the files whose bytes were not at hand, the commit's tree still names
# their git blob id, which pins the same content; ingest then records the observed sha256.
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


def _read(crystals: CrystalSet, inputs: Inputs) -> dict[str, dict]:
    """Per split present: copy the CSV byte for byte, parse and validate it, write the parsed table."""
    from studies.cdvae.data import DatasetFormatError, parse_structures, read_cdvae_csv
    from tasks.data.tables import write_parquet

    entries: dict[str, dict] = {}
    for split in SPLITS:
        if (src := inputs.fetched.get(f"{split}.csv")) is None:
            continue
        csv, parquet = inputs.rel(f"{split}.csv"), inputs.rel(f"{split}.parquet")
        inputs.path(f"{split}.csv").write_bytes(src.data)
        try:
            df = read_cdvae_csv(inputs.path(f"{split}.csv"), crystals.columns, source=src.where)
            inputs.progress(f"{src.where}: parsing {df.height} CIFs")
            table = parse_structures(df, source=src.where)
        except DatasetFormatError as err:
            raise IngestError(str(err)) from err
        prop = table[crystals.property]
        if not prop.dtype.is_numeric() or prop.null_count():
            raise IngestError(
                f"{src.where}: property column {crystals.property} must be numeric with no empty values "
                f"(it is {prop.dtype} with {prop.null_count()} empty). "
                "Fix: correct those rows or re-download the file."
            )
        common = {"dataset": crystals.name, "split": split, "rows": table.height}
        entries[csv] = {
            **common,
            "source": src.origin,
            "url": src.file.urls[0],
            "sha256": src.sha256,
            "pin": src.pin,
            "pinned": src.pin is not None,
        }
        entries[parquet] = {
            **common,
            "source": f"parsed from {csv}",
            "property": crystals.property,
            "sha256": write_parquet(table.rechunk(), inputs.path(f"{split}.parquet")),
        }
    return entries


def declare(crystals: CrystalSet, base_url: str = BASE_URL, default: bool = False) -> Dataset:
    """A CDVAE-format dataset published as <base_url>/<name>/<split>.csv; any split may be missing."""
    files = tuple(
        SourceFile(
            name=f"{split}.csv",
            mirror=f"cdvae/{crystals.name}/{split}.csv",
            urls=(f"{base_url}/{crystals.name}/{split}.csv",),
            pin=PINS.get((crystals.name, split)),
            required=False,
            split=split,
        )
        for split in SPLITS
    )
    return Dataset(
        name=crystals.name,
        description=DESCRIPTIONS[crystals.name],
        folder=f"cdvae/{crystals.name}",
        copies=(Copy("canonical", files, partial(_read, crystals)),),
        default=default,
        provenance={"upstream_commit": UPSTREAM_COMMIT},
    )


DATASETS = [declare(c, default=c.name == "perov_5") for c in CRYSTAL_SETS.values()]
