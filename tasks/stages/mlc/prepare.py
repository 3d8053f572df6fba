"""mlc-prepare: digits (L2-normalised rows) and synthetic unions of subspaces."""

from __future__ import annotations

import mlflow
import numpy as np
import polars as pl

from studies.mlc.data import PIXELS, digits_arrays, union_of_subspaces
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.mlc import catalogue

DIGITS_SHAPE = (8, 8)


def prepare(ctx: StageContext) -> None:
    p = ctx.params["prepare"]
    out = ctx.outputs["prepared"]
    out.mkdir(parents=True, exist_ok=True)
    table = pl.read_parquet(ctx.inputs["digits"])
    X, y = digits_arrays(table)
    X_raw = table.select(PIXELS).to_numpy()  # the baselines' usual input (ANCHORS.md measured them on it)
    if p.get("digits_subsample"):
        keep = np.sort(np.random.default_rng(0).permutation(len(y))[: p["digits_subsample"]])
        X, y, X_raw = X[keep], y[keep], X_raw[keep]
    entries = [catalogue.save(out, "digits", X, y, DIGITS_SHAPE, X_raw)]
    for spec in p.get("synthetic", []):
        Xs, ys = union_of_subspaces(**{k: v for k, v in spec.items() if k != "name"})
        entries.append(catalogue.save(out, spec["name"], Xs, ys, None))
    catalogue.write_index(out, entries)
    mlflow.log_dict({"datasets": entries}, "datasets.json")
    for e in entries:
        print(f"prepared {e['name']}: {e['n']} points, {e['n_clusters']} clusters, dim {e['dim']}")
