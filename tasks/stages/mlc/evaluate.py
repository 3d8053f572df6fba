"""mlc-evaluate: MLC's clusters vs scikit-learn baselines per dataset and seed; metrics.json holds
mean ± std."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import polars as pl

from studies.common import plots
from studies.common.metrics import cluster_scores
from studies.mlc.baselines import run_baselines
from studies.mlc.evaluate import assign_clusters, extend_labels, near_components, subspace_ranks
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.mlc import catalogue

SCORES = ("acc", "nmi", "ari")


def evaluate(ctx: StageContext) -> None:
    p = ctx.params["evaluate"]
    prepared, trained = ctx.inputs["prepared"], ctx.inputs["train"]
    tables, figures = ctx.outputs["tables"], ctx.outputs["figures"]
    tables.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    rows, ranks = [], []
    for entry in catalogue.entries(prepared):
        name, k = entry["name"], entry["n_clusters"]
        X, y = catalogue.load(prepared, name)
        seed_dirs = sorted((trained / name).glob("seed*"))
        for seed_dir in seed_dirs:
            seed = int(seed_dir.name.removeprefix("seed"))
            with np.load(seed_dir / "embedding.npz") as f:
                Z, C, gamma, anchors, eta = f["Z"], f["C"], f["gamma"], f["anchors"], float(f["eta"])
            pred = extend_labels(C, anchors, assign_clusters(gamma, k, seed), eta, k)
            rows.append({"dataset": name, "method": "mlc", "seed": seed, **cluster_scores(y, pred)})
            r = subspace_ranks(Z, y, p["rank_energy"])
            ranks.append(
                {
                    "dataset": name,
                    "seed": seed,
                    "overall_rank": r["overall"],
                    "mean_class_rank": r["mean_per_cluster"],
                    "anchors": len(anchors),
                    "gamma_blocks": near_components(gamma),  # > k: spectral clustering on Γ lumps blocks
                    "largest_cluster": float(np.bincount(pred).max() / len(pred)),
                }
            )
            if seed_dir == seed_dirs[0]:
                _figures(figures, name, y[anchors], Z[anchors], gamma, pred[anchors], seed_dir)
        inputs = {"": X} | ({":raw": raw} if (raw := catalogue.load_raw(prepared, name)) is not None else {})
        for seed in p["baseline_seeds"]:
            print(f"baselines on {name}, seed {seed}")
            for suffix, features in inputs.items():
                rows += [
                    {"dataset": name, "method": m + suffix, "seed": seed, **s}
                    for m, s in run_baselines(features, y, k, seed, p.get("baseline_subsample")).items()
                ]
    scores, rank_table = pl.DataFrame(rows), pl.DataFrame(ranks)
    scores.write_parquet(tables / "scores.parquet")
    rank_table.write_parquet(tables / "ranks.parquet")
    summary = summarise(scores, rank_table)
    ctx.outputs["metrics"].write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    for name, methods in summary.items():
        groups = {m: {"ACC": v["acc_mean"], "NMI": v["nmi_mean"]} for m, v in methods.items()}
        plots.bars(groups, figures / f"{name}-methods.png", f"{name}: MLC vs baselines (mean over seeds)")
    mlflow.log_metrics(
        {f"{ds}/{m}/{k}": v for ds, ms in summary.items() for m, vals in ms.items() for k, v in vals.items()}
    )
    mlflow.log_artifacts(str(figures), "figures")
    mlflow.log_artifacts(str(tables), "tables")


def summarise(scores: pl.DataFrame, ranks: pl.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """{dataset: {method: {acc_mean, acc_std, ..., n_seeds}}}, plus MLC's subspace ranks."""
    agg = scores.group_by("dataset", "method").agg(
        *(pl.col(m).mean().alias(f"{m}_mean") for m in SCORES),
        *(pl.col(m).std(ddof=0).alias(f"{m}_std") for m in SCORES),
        pl.len().alias("n_seeds"),
    )
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in agg.sort("dataset", "method").iter_rows(named=True):
        dataset, method = row.pop("dataset"), row.pop("method")
        out.setdefault(dataset, {})[method] = {k: round(float(v), 4) for k, v in row.items()}
    columns = [
        c
        for c in ("overall_rank", "mean_class_rank", "anchors", "gamma_blocks", "largest_cluster")
        if c in ranks.columns
    ]
    for row in ranks.group_by("dataset").agg(*(pl.col(c).mean() for c in columns)).iter_rows(named=True):
        out[row["dataset"]]["mlc"] |= {c: round(float(row[c]), 3) for c in columns}
    return out


def _figures(
    folder: Path, name: str, y: np.ndarray, Z: np.ndarray, gamma: np.ndarray, pred: np.ndarray, seed_dir: Path
) -> None:
    from sklearn.decomposition import PCA
    from sklearn.metrics import confusion_matrix

    order = np.argsort(y, kind="stable")
    plots.matrix(gamma[np.ix_(order, order)], folder / f"{name}-gamma.png", f"{name}: Γ sorted by true class")
    plots.matrix(
        confusion_matrix(y, pred),
        folder / f"{name}-confusion.png",
        f"{name}: true class × MLC cluster",
        "cluster",
        "class",
        annotate=True,
    )
    plots.scatter(
        PCA(2, random_state=0).fit_transform(Z),
        y,
        folder / f"{name}-z-pca.png",
        f"{name}: Z (PCA 2-D), colour = class",
    )
    hist = pl.read_parquet(seed_dir / "history.parquet")
    plots.curves(
        {"loss": (hist["step"].to_list(), hist["loss"].to_list())},
        folder / f"{name}-loss.png",
        f"{name}: loss (TCR warm-up, then MLC)",
        "loss",
    )
