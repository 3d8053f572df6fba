"""Why MLC's clusters collapse on non-linear manifolds: per synthetic set of a profile (curves, spirals, tori
sets), fit MLC with that profile's `train.synthetic` settings and print, per seed, ACC, how many nearly
disconnected blocks Γ has (beside k), the largest cluster's share, the per-class numerical rank of the input
and of Z, and spectral clustering on a 10-NN graph of the same rows.

Run: .venv/bin/python benchmarks/mlc_fragmentation.py [--profile cpu] [--seeds 0 1 2] [--steps-scale 1.0]
     [--only curves-6-crossing]
--steps-scale < 1 shortens both phases (a quicker look; say so beside any number it gives).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from sklearn.cluster import SpectralClustering  # noqa: E402

from studies.common.metrics import clustering_accuracy  # noqa: E402
from studies.mlc.config import MLCConfig  # noqa: E402
from studies.mlc.evaluate import assign_clusters, near_components, subspace_ranks  # noqa: E402
from studies.mlc.train import fit_mlc  # noqa: E402
from tasks.platform.params import study_params  # noqa: E402
from tasks.stages.mlc.prepare import synthetic  # noqa: E402

KINDS = ("curves", "spirals", "tori")


def diagnose(name: str, X: np.ndarray, y: np.ndarray, cfg: MLCConfig, seed: int) -> dict:
    k = len(np.unique(y))
    fit = fit_mlc(X, cfg, seed=seed, progress=False)
    pred = assign_clusters(fit.gamma, k, seed)
    off = fit.gamma - np.diag(
        np.diag(fit.gamma)
    )  # a point's membership in itself says nothing about clusters
    pred_off = assign_clusters(off, k, seed)
    knn = SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=10, random_state=seed).fit_predict(
        X
    )
    return {
        "dataset": name,
        "seed": seed,
        "k": k,
        "mlc_acc": round(clustering_accuracy(y, pred), 3),
        "gamma_blocks": near_components(fit.gamma),
        "largest_cluster": round(float(np.bincount(pred).max() / len(pred)), 3),
        "gamma_diag_mean": round(float(np.diag(fit.gamma).mean()), 3),
        "mlc_acc_off_diagonal": round(clustering_accuracy(y, pred_off), 3),
        "gamma_blocks_off_diagonal": near_components(off),
        "class_rank_input": subspace_ranks(X, y)["mean_per_cluster"],
        "class_rank_Z": subspace_ranks(fit.Z, y)["mean_per_cluster"],
        "spectral_knn10_acc": round(clustering_accuracy(y, knn), 3),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps-scale", type=float, default=1.0)
    parser.add_argument("--only", nargs="*", default=None, help="names of the sets to run (default: all)")
    args = parser.parse_args(argv)
    params = study_params(REPO / "params.yaml", "mlc", args.profile)
    cfg = MLCConfig.from_dict(params["train"]["synthetic"])
    cfg = replace(
        cfg,
        warmup_steps=max(1, round(cfg.warmup_steps * args.steps_scale)),
        mlc_steps=max(1, round(cfg.mlc_steps * args.steps_scale)),
    )
    rows = []
    for spec in params["prepare"].get("synthetic", []):
        if spec.get("kind") not in KINDS or (args.only and spec["name"] not in args.only):
            continue
        X, y = synthetic(spec)
        for seed in args.seeds:
            rows.append(diagnose(spec["name"], X, y, cfg, seed))
            print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    main()
