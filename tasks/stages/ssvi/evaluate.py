"""ssvi-evaluate: score every (run, seed) on its dataset's test set and shifted sets (the only place the test
sets are read); aggregate over seeds; the support layout of each SSVI run; figures."""

from __future__ import annotations

import json
from typing import Any

import mlflow
import numpy as np
import polars as pl
import torch
from scipy.stats import kendalltau

from studies.common import calibration, plots
from studies.ssvi.config import SSVIConfig
from studies.ssvi.evaluate import cost, initial_support_share, predict, shift_scores
from studies.ssvi.layers import bayesian_layers
from studies.ssvi.sparsity import CRITERIA, removal_scores
from studies.ssvi.train import load_models, make_model
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.ssvi import FMNIST
from tasks.stages.ssvi.prepare import load
from tasks.stages.ssvi.train import trained_runs

RELIABILITY_RUNS = ("deterministic", "dense-vi", "ssvi-0.1", "static-0.1", "mc-dropout", "deep-ensemble")
TRAJECTORY_RUNS = (
    "dense-vi-prototype",
    "dense-vi-untempered",
    "dense-vi",
    "static-0.1",
    "ssvi-0.1",
    "ssvi-0.1-abs_mu",
    "ssvi-0.1-prototype",
    "fmnist-dense-vi",
    "fmnist-ssvi-0.1",
)


def score_run(
    cfg: SSVIConfig,
    models: list[torch.nn.Module],
    split: dict[str, np.ndarray],
    shifted: dict[str, np.ndarray],
    seed: int,
) -> tuple[dict[str, float], np.ndarray]:
    """Every score of one fitted (run, seed): posterior predictive (K draws), mean weights, shift test,
    cost."""
    X, y = split["X_test"], split["y_test"]
    probs = predict(models, X, cfg, "samples", seed=seed)
    row = calibration.scores(probs, y)
    row |= {f"mean_weights/{k}": v for k, v in calibration.scores(predict(models, X, cfg, "mean"), y).items()}
    for name, X_shift in shifted.items():
        row |= {
            f"{name}/{k}": v
            for k, v in shift_scores(probs, predict(models, X_shift, cfg, "samples", seed=seed)).items()
        }
    return row | cost(models, cfg), probs


def evaluate(ctx: StageContext) -> None:
    data = load(ctx.inputs["prepared"])
    tables, figures = ctx.outputs["tables"], ctx.outputs["figures"]
    tables.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    rows, pooled, labels, histories, supports = [], {}, {}, {}, {}
    runs = trained_runs(ctx.inputs["train"])
    for i, info in enumerate(runs):
        cfg = SSVIConfig.from_dict(info["config"])
        split, shifted = data[cfg.dataset]
        models = load_models(cfg, info["seed"], torch.load(info["folder"] / "model.pt", weights_only=True))
        row, probs = score_run(cfg, models, split, shifted, info["seed"])
        history = pl.read_parquet(info["folder"] / "history.parquet")
        row |= {
            "run": info["run"],
            "seed": info["seed"],
            "method": cfg.method,
            "arch": cfg.arch,
            "dataset": cfg.dataset,
            "weight_decay": cfg.weight_decay,
            "epochs": cfg.epochs,
            "density": cfg.density if cfg.bayesian else 1.0,
            "criterion": cfg.criterion if cfg.method == "ssvi" else "",
            "train_flops": info["train_flops"],
            "train_seconds": info["seconds"],
            **_convergence(history),
        }
        if cfg.bayesian and cfg.density < 1:
            row["initial_support_share"] = initial_support_share(models[0], make_model(cfg, info["seed"]))
        rows.append(row)
        pooled.setdefault(info["run"], []).append(probs)
        labels[info["run"]] = split["y_test"]
        if info["seed"] == runs[0]["seed"]:
            histories[info["run"]] = history
            if cfg.method == "ssvi":
                supports[info["run"]] = models[0]
        print(
            f"  [{i + 1}/{len(runs)}] {info['run']} seed {info['seed']}: acc {row['acc']:.4f} nll "
            f"{row['nll']:.4f} ece {row['ece']:.4f}",
            flush=True,
        )
    per_seed = pl.DataFrame(rows)
    per_seed.write_parquet(tables / "per_seed.parquet")
    summary = aggregate(per_seed)
    summary["_criteria_agreement"] = criteria_agreement(supports.get("ssvi-0.1"))
    summary["_layout"] = {run: support_layout(model) for run, model in supports.items()}
    tuning = ctx.inputs["train"] / "tuning.json"
    summary["_tuning"] = json.loads(tuning.read_text()) if tuning.is_file() else {}
    ctx.outputs["metrics"].write_text(json.dumps(summary, indent=2) + "\n")
    _figures(per_seed, pooled, labels, histories, figures)
    mlflow.log_metrics(
        {
            f"{run}/{k}": v
            for run, m in summary.items()
            if not run.startswith("_")
            for k, v in m.items()
            if k.split("_")[-1] in ("mean", "std") and np.isfinite(v)
        }
    )
    mlflow.log_artifacts(str(figures), "figures")
    mlflow.log_artifact(str(tables / "per_seed.parquet"), "tables")


def _convergence(history: pl.DataFrame) -> dict[str, float]:
    """Final mean σ and KL/N, and their relative change over the last quarter of training (≈ 0: converged),
    and σ's change over the whole run: ≈ 0 there means σ never moved (the `paper` profile's SGD on ρ, see
    reports/gpu/README.md), which is not convergence."""
    if "mean_sigma" not in history.columns:
        return {}
    q = history.height * 3 // 4 - 1
    end = history.row(-1, named=True)
    at_q = history.row(q, named=True)
    return {
        "mean_sigma": end["mean_sigma"],
        "kl_per_example": end["kl_per_example"],
        "neg_elbo": end["neg_elbo"],
        "sigma_change_last_quarter": end["mean_sigma"] / at_q["mean_sigma"] - 1,
        "sigma_change_whole_run": end["mean_sigma"] / history.row(0, named=True)["mean_sigma"] - 1,
        "kl_change_last_quarter": end["kl_per_example"] / at_q["kl_per_example"] - 1,
    }


def support_layout(model: torch.nn.Module) -> list[dict[str, Any]]:
    """Per Bayesian layer of a trained net: its weight shape, support size and density (first seed)."""
    return [
        {
            "shape": list(layer.mask.shape),
            "support": layer.support_size,
            "density": layer.support_size / layer.mask.numel(),
        }
        for layer in bayesian_layers(model)
    ]


def aggregate(per_seed: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """run → {metric_mean, metric_std, n_seeds, method, density, criterion, arch} over seeds."""
    numeric = [c for c, t in per_seed.schema.items() if t.is_numeric() and c != "seed"]
    out: dict[str, dict[str, Any]] = {}
    for (run,), group in per_seed.group_by("run", maintain_order=True):
        first = group.row(0, named=True)
        entry: dict[str, Any] = {
            "n_seeds": group.height,
            **{k: first[k] for k in ("method", "arch", "criterion", "dataset")},
        }
        for c in numeric:
            values = group[c].drop_nulls().to_numpy().astype(float)
            if len(values):
                entry[f"{c}_mean"] = float(values.mean())
                entry[f"{c}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        out[run] = entry
    return out


def criteria_agreement(model: torch.nn.Module | None) -> dict[str, float]:
    """Kendall τ between the removal criteria's rankings of one trained SSVI support (all layers pooled)."""
    if model is None:
        return {}
    layers = bayesian_layers(model)
    mu = torch.cat([layer.weight_mu[layer.mask.bool()] for layer in layers]).detach()
    sigma = torch.cat([layer.sigma[layer.mask.bool()] for layer in layers]).detach()
    scores = {c: removal_scores(mu, sigma, c).numpy() for c in CRITERIA}
    names = list(CRITERIA)
    return {
        f"{a}-vs-{b}": float(kendalltau(scores[a], scores[b]).statistic)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }


def _figures(
    per_seed: pl.DataFrame,
    pooled: dict[str, list[np.ndarray]],
    labels: dict[str, np.ndarray],
    histories: dict[str, pl.DataFrame],
    folder,
) -> None:
    for prefix, figure, title in (
        ("", "reliability.png", "test digits"),
        (FMNIST, "reliability-fmnist.png", "Fashion-MNIST test"),
    ):
        shown = [prefix + r for r in RELIABILITY_RUNS if prefix + r in pooled]
        if shown:
            plots.reliability(
                {
                    r: calibration.reliability(np.concatenate(pooled[r]), np.tile(labels[r], len(pooled[r])))
                    for r in shown
                },
                folder / figure,
                f"Reliability ({title}, all seeds pooled, 15 bins)",
            )
    digits_mlp = (pl.col("arch") == "mlp") & (pl.col("dataset") == "digits")
    curve = per_seed.filter(
        (pl.col("method") == "ssvi") & (pl.col("criterion") == "snr_abs_theta") & digits_mlp
    )
    curve = (
        curve.group_by("density")
        .agg(pl.col("acc").mean(), pl.col("nll").mean(), pl.col("ece").mean())
        .sort("density")
    )
    if curve.height:
        static = (
            per_seed.filter((pl.col("method") == "vi") & digits_mlp)
            .group_by("density")
            .agg(pl.col("acc").mean(), pl.col("nll").mean(), pl.col("ece").mean())
            .sort("density")
        )
        for metric, label in (("acc", "test accuracy"), ("nll", "test NLL")):
            plots.curves(
                {
                    "SSVI (SNR of |θ|)": (curve["density"].to_list(), curve[metric].to_list()),
                    "VI on a fixed support (1.0 = dense VI)": (
                        static["density"].to_list(),
                        static[metric].to_list(),
                    ),
                },
                folder / f"density-{metric}.png",
                f"{label} vs density (MLP, mean over seeds)",
                label,
                xlabel="density s/|θ|",
                logx=True,
                marker="o",
            )
    for column, label in (("mean_sigma", "mean σ over the support"), ("kl_per_example", "KL / N_train")):
        series = {
            r: (histories[r]["epoch"].to_list(), histories[r][column].to_list())
            for r in TRAJECTORY_RUNS
            if r in histories and column in histories[r].columns
        }
        if series:
            plots.curves(
                series,
                folder / f"trajectory-{column}.png",
                f"{label} during training (first seed)",
                label,
                xlabel="epoch",
                logy=True,
            )
