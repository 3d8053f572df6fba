"""mlc-prepare: digits (L2-normalised rows) and synthetic unions of subspaces."""
from __future__ import annotations

import mlflow
import numpy as np
import polars as pl

from studies.mlc.data import digits_arrays, union_of_subspaces
from tasks.mlc import catalogue
from tasks.stages import StageContext

DIGITS_SHAPE = (8, 8)


def prepare(ctx: StageContext) -> None:
    p = ctx.params["prepare"]
    out = ctx.outputs["prepared"]
    out.mkdir(parents=True, exist_ok=True)
    X, y = digits_arrays(pl.read_parquet(ctx.inputs["digits"]))
    if p.get("digits_subsample"):
        keep = np.sort(np.random.default_rng(0).permutation(len(y))[: p["digits_subsample"]])
        X, y = X[keep], y[keep]
    entries = [catalogue.save(out, "digits", X, y, DIGITS_SHAPE)]
    for spec in p.get("synthetic", []):
        Xs, ys = union_of_subspaces(**{k: v for k, v in spec.items() if k != "name"})
        entries.append(catalogue.save(out, spec["name"], Xs, ys, None))
    catalogue.write_index(out, entries)
    mlflow.log_dict({"datasets": entries}, "datasets.json")
    for e in entries:
        print(f"prepared {e['name']}: {e['n']} points, {e['n_clusters']} clusters, dim {e['dim']}")
