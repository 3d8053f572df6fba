"""cdvae-prepare: a CDVAE dataset, by name, into train/val/test tables of Niggli-reduced crystals + scalers.

Which crystals train the model is a recorded choice (`splits` in params): the `paper`
profile uses the official files; where `train.csv` is absent (the offline mirror has
only val/test for Perov-5) the `cpu`/`ci` profiles carve train and validation out of
`val.csv` by a seeded permutation and keep `test.csv` untouched for the metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import polars as pl

from studies.cdvae.dataset import Scaler, prepare_table, scaled_lattice
from tasks.orchestration.stage_runner import StageContext
from tasks.platform.errors import StudiesError
from tasks.stages.cdvae.dataset_settings import fill, prepare_defaults

SPLITS = ("train", "val", "test")


class SplitError(StudiesError):
    """A split specification that names a missing file or overlapping fractions."""


def source_table(data: Path, dataset: str, split_file: str) -> pl.DataFrame:
    path = data / dataset / f"{split_file}.parquet"
    if not path.exists():
        present = (
            sorted(p.stem for p in (data / dataset).glob("*.parquet")) if (data / dataset).is_dir() else []
        )
        raise SplitError(
            f"{path} does not exist (present for {dataset}: {', '.join(present) or 'nothing'}). Fix: ingest "
            f"it (`studies ingest --dataset {dataset} --online` fetches the official splits), or choose "
            "splits from the files present, as the cpu profile does: "
            "cdvae.prepare.splits.train = {from: val, fraction: [0, 0.9]}."
        )
    return pl.read_parquet(path)


def select(table: pl.DataFrame, spec: dict[str, Any], seed: int) -> pl.DataFrame:
    """Rows [a·n, b·n) of a seeded permutation of `table` (all of it without `fraction`)."""
    lo, hi = spec.get("fraction", (0.0, 1.0))
    if not 0 <= lo < hi <= 1:
        raise SplitError(f"split fraction {[lo, hi]} must satisfy 0 <= a < b <= 1.")
    order = np.random.default_rng(seed).permutation(table.height)
    return table[order[int(round(lo * table.height)) : int(round(hi * table.height))]]


def check_disjoint(splits: dict[str, dict[str, Any]]) -> None:
    """Two splits drawn from the same file must not share rows: that would leak test crystals into
    training."""
    for a in SPLITS:
        for b in SPLITS[SPLITS.index(a) + 1 :]:
            sa, sb = splits[a], splits[b]
            if sa["from"] != sb["from"]:
                continue
            (a0, a1), (b0, b1) = sa.get("fraction", (0, 1)), sb.get("fraction", (0, 1))
            if a0 < b1 and b0 < a1:
                raise SplitError(
                    f"splits '{a}' and '{b}' both take {sa['from']}.csv rows in overlapping fractions "
                    f"{[a0, a1]} and {[b0, b1]}. Fix: give them disjoint fractions."
                )


def prepare(ctx: StageContext) -> None:
    p = fill(ctx.params["prepare"], prepare_defaults(ctx.params["prepare"]["dataset"]))
    dataset, prop, out = p["dataset"], p["property"], ctx.outputs["prepared"]
    check_disjoint(p["splits"])
    out.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for split in SPLITS:
        spec = p["splits"][split]
        rows = select(source_table(ctx.inputs["data"], dataset, spec["from"]), spec, p["shuffle_seed"])
        if p.get("limit", {}).get(split):
            rows = rows.head(p["limit"][split])
        table = prepare_table(
            rows,
            prop,
            p["max_atoms"],
            f"{dataset}/{spec['from']}.csv",
            workers=p["workers"],
            progress=lambda done, total, s=split: print(f"prepare {s}: {done}/{total} crystals", flush=True),
        )
        table.write_parquet(out / f"{split}.parquet")
        sizes[split] = table.height
    train = pl.read_parquet(out / "train.parquet")
    lengths, angles = (np.stack(train[c].to_numpy()) for c in ("lengths", "angles"))
    scalers = {
        "lattice": Scaler.fit(scaled_lattice(lengths, angles, train["num_atoms"].to_numpy())).__dict__,
        "property": Scaler.fit(train["property"].to_numpy()).__dict__,
    }
    (out / "scalers.json").write_text(json.dumps(scalers, indent=2) + "\n")
    record = {
        "dataset": dataset,
        "property": prop,
        "max_atoms": p["max_atoms"],
        "splits": p["splits"],
        "sizes": sizes,
        "shuffle_seed": p["shuffle_seed"],
        "official_splits": all(p["splits"][s] == {"from": s} for s in SPLITS),
    }
    (out / "splits.json").write_text(json.dumps(record, indent=2) + "\n")
    mlflow.log_dict(record, "splits.json")
    mlflow.set_tags({"cdvae.dataset": dataset, "cdvae.train_split": describe(p["splits"]["train"])})
    print(
        f"prepared {dataset}: "
        + ", ".join(f"{s} {n} crystals ({describe(p['splits'][s])})" for s, n in sizes.items())
    )


def describe(spec: dict[str, Any]) -> str:
    """'val.csv[0.0:0.9]' or 'train.csv': which rows a split took, for tags and the report."""
    if "fraction" in spec:
        return f"{spec['from']}.csv[{spec['fraction'][0]}:{spec['fraction'][1]}]"
    return f"{spec['from']}.csv"
