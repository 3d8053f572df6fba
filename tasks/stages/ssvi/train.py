"""ssvi-train: every configured run (method × density × criterion × architecture × dataset) for every seed,
after choosing each run's weight decay and epochs on a validation split (studies/ssvi/tuning.py).

Tuning fits every run once per point of its dataset's grid, `train.tune.grids.<dataset>` (seed
`train.tune.seed`), on the training set less its validation rows and scores each by the posterior-predictive
NLL on those rows; the final fits then train on the whole training set with the chosen values. `tuning.json`
records every point's validation scores and the choice; the test set is touched only by ssvi-evaluate.

Runs are independent, so they fan out over worker processes (`train.workers`; 1 = in this process, which a
GPU device requires). Each (run, seed) leaves `<run>/seed<k>/model.pt` (its state dicts: an ensemble has
several), `history.parquet` (per-epoch NLL, σ, KL) and `run.json` (resolved config, cost); MLflow gets the
per-epoch curves of every run's first seed, the final σ/KL of all of them, and the SSVI model.

Each finished (run, seed) is also kept in `results/<profile>/ssvi/train-state/`
(tasks/orchestration/resume.py) as it arrives, so a stage that was killed dispatches only the fits it had not
finished; MLflow gets the same from both.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import polars as pl
import torch
from mlflow.entities import Metric
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

from studies.common import calibration
from studies.common.devices import resolve_device
from studies.common.parallel import ordered_map
from studies.ssvi.config import SSVIConfig
from studies.ssvi.evaluate import predict
from studies.ssvi.train import fit_job, load_models
from studies.ssvi.tuning import fit_and_validation, grid_points, select, tuning_config
from tasks.orchestration import resume
from tasks.orchestration.resume import FitStore
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.ssvi.prepare import load

LOGGED_MODEL_RUN = "ssvi-0.1"
CURVES = ("nll", "train_acc", "mean_sigma", "kl_per_example", "neg_elbo", "swapped")


def run_configs(train_params: dict[str, Any]) -> dict[str, SSVIConfig]:
    """`train.runs` (name → overrides) on top of `train.defaults`, validated up front so a typo fails before
    any training."""
    defaults = train_params.get("defaults", {})
    return {
        name: SSVIConfig.from_dict({**defaults, **(overrides or {})})
        for name, overrides in train_params["runs"].items()
    }


def train(ctx: StageContext) -> None:
    p = ctx.params["train"]
    configs = run_configs(p)
    data = load(ctx.inputs["prepared"])
    missing = sorted({cfg.dataset for cfg in configs.values()} - set(data))
    if missing:
        raise ValueError(
            f"runs train on {', '.join(missing)}, which ssvi.prepare.datasets does not prepare. "
            "Fix: add it there, or change the runs' `dataset`."
        )
    device = resolve_device(p.get("device", "cpu"))
    workers = 1 if device.type != "cpu" else p.get("workers", 0)
    threads = 1 if workers != 1 else torch.get_num_threads()
    parts = {name: _parts(split) for name, (split, _) in data.items()}
    mlflow.set_tags({"device": str(device)})
    start = time.perf_counter()
    store = FitStore(resume.state_dir(ctx))
    code = resume.step_code("ssvi", ctx.step)
    fingerprints = {
        (name, part): resume.fingerprint(X, y) for name, ps in parts.items() for part, (X, y) in ps.items()
    }

    def job(run: str, seed: int, cfg: SSVIConfig, part: str) -> dict[str, Any]:
        X, y = parts[cfg.dataset][part]
        return {
            "run": run,
            "seed": seed,
            "config": cfg.to_dict(),
            "X": X,
            "y": y,
            "device": str(device),
            "threads": threads,
            "data": fingerprints[(cfg.dataset, part)],
        }

    tune = p.get("tune") or {}
    tune_seed = tune.get("seed", p["seeds"][0])
    points = {
        name: grid_points(tune.get("grids", {}).get(cfg.dataset, {}), (p["runs"][name] or {}).keys())
        for name, cfg in configs.items()
    }
    tuning_jobs = [
        job(f"tune/{name}/{_label(point)}", tune_seed, tuning_config(cfg, point), "fit")
        for name, cfg in configs.items()
        for point in points[name]
        if point
    ]
    print(f"tuning: {len(tuning_jobs)} fits on the training sets less their validation rows ({device})")
    tuned = _fit_or_resume(tuning_jobs, workers, store, start, code)
    tuning = _choose(configs, points, tuned, parts, tune_seed)
    configs = {name: replace(cfg, **tuning[name]["chosen"]) for name, cfg in configs.items()}
    jobs = [job(name, seed, cfg, "all") for name, cfg in configs.items() for seed in p["seeds"]]
    print(
        f"training {len(configs)} runs × {len(p['seeds'])} seeds = {len(jobs)} fits on {device} "
        f"({workers or 'all'} workers)"
    )
    results = _fit_or_resume(jobs, workers, store, start, code)
    out = ctx.outputs["train"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "tuning.json").write_text(json.dumps(tuning, indent=2) + "\n")
    metrics: list[Metric] = []
    for result in results:
        folder = out / result["run"] / f"seed{result['seed']}"
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(result["state_dicts"], folder / "model.pt")
        pl.DataFrame(result["history"]).write_parquet(folder / "history.parquet")
        (folder / "run.json").write_text(
            json.dumps(
                {
                    "run": result["run"],
                    "seed": result["seed"],
                    "config": configs[result["run"]].to_dict(),
                    "train_flops": result["train_flops"],
                    "seconds": round(result["seconds"], 2),
                    "tuning_seconds": tuning[result["run"]]["seconds"],
                },
                indent=2,
            )
            + "\n"
        )
        metrics += _metrics(result, first_seed=result["seed"] == p["seeds"][0])
    _log_batch(metrics)
    mlflow.log_dict(tuning, "tuning.json")
    mlflow.log_metric("train_seconds", round(time.perf_counter() - start, 1))
    if LOGGED_MODEL_RUN in configs:
        cfg = configs[LOGGED_MODEL_RUN]
        first = next(r for r in results if r["run"] == LOGGED_MODEL_RUN)
        _log_model(cfg, first["seed"], first["state_dicts"], parts[cfg.dataset]["all"][0])
    store.clear()


Parts = dict[str, tuple[np.ndarray, np.ndarray]]


def _parts(split: dict[str, np.ndarray]) -> Parts:
    """The arrays fits train and are scored on: the training set, it less its validation rows, those rows."""
    X_fit, y_fit, X_val, y_val = fit_and_validation(split)
    return {"all": (split["X_train"], split["y_train"]), "fit": (X_fit, y_fit), "val": (X_val, y_val)}


def _label(point: dict[str, Any]) -> str:
    return ",".join(f"{k}={v:g}" for k, v in point.items())


def _choose(
    configs: dict[str, SSVIConfig],
    points: dict[str, list[dict[str, Any]]],
    tuned: list[dict[str, Any]],
    parts: dict[str, Parts],
    seed: int,
) -> dict[str, dict[str, Any]]:
    """run → {grid: each point with its validation NLL/accuracy/ECE, chosen: the lowest-NLL one, seconds}."""
    by_key = {r["run"]: r for r in tuned}
    out = {}
    for name, cfg in configs.items():
        rows, seconds = [], 0.0
        for point in points[name]:
            if not point:
                continue
            result = by_key[f"tune/{name}/{_label(point)}"]
            tcfg = tuning_config(cfg, point)
            X_val, y_val = parts[cfg.dataset]["val"]
            models = load_models(tcfg, seed, result["state_dicts"])
            scores = calibration.scores(predict(models, X_val, tcfg, "samples", seed=seed), y_val)
            rows.append(point | {f"val_{k}": scores[k] for k in ("nll", "acc", "ece")})
            seconds += result["seconds"]
        out[name] = {"grid": rows, "chosen": select(rows) if rows else {}, "seconds": round(seconds, 2)}
        if rows:
            best = min(r["val_nll"] for r in rows)
            print(f"  {name}: chose {_label(out[name]['chosen'])} (validation NLL {best:.4f})")
    return out


def _fit_or_resume(
    jobs: list[dict[str, Any]],
    workers: int,
    store: FitStore,
    start: float,
    code: list[Path],
) -> list[dict[str, Any]]:
    """fit_job's result for every job, in job order: saved ones from `store`, the others fitted and saved as
    each finishes."""
    fingerprints = {
        _key(job): resume.fingerprint({k: v for k, v in job.items() if k not in ("X", "y")}, files=code)
        for job in jobs
    }
    done = store.load_done(fingerprints)
    todo = [job for job in jobs if _key(job) not in done]

    def save(result: dict[str, Any]) -> None:
        store.save(_key(result), fingerprints[_key(result)], result)

    # one job per chunk: each fit is saved as soon as it finishes, not with its chunk
    fresh = ordered_map(fit_job, todo, workers, progress=_progress(todo, start), on_result=save, chunk=1)
    results = done | {_key(r): r for r in fresh}
    return [results[_key(job)] for job in jobs]


def _key(job: dict[str, Any]) -> str:
    """A job's (or its result's) name in the state folder."""
    return f"{job['run']}/seed{job['seed']}"


def _progress(jobs: list[dict[str, Any]], start: float):
    def report(done: int, total: int) -> None:
        print(f"  {done}/{total} fits done ({time.perf_counter() - start:.0f} s)", flush=True)

    return report


def _metrics(result: dict[str, Any], first_seed: bool) -> list[Metric]:
    """Final σ/KL/NLL of every (run, seed); the per-epoch curves of the first seed."""
    now, key = int(time.time() * 1000), f"{result['run']}/seed{result['seed']}"
    last = result["history"][-1]
    out = [Metric(f"{key}/{k}", float(v), now, 0) for k, v in last.items() if k in CURVES]
    out.append(Metric(f"{key}/train_flops", float(result["train_flops"]), now, 0))
    if first_seed:
        out += [
            Metric(f"{result['run']}/{k}", float(v), now, int(rec["epoch"]))
            for rec in result["history"]
            for k, v in rec.items()
            if k in CURVES
        ]
    return out


def _log_batch(metrics: list[Metric], chunk: int = 1000) -> None:
    """MLflow's batch endpoint (≤ 1000 metrics a call): thousands of per-epoch points in a few requests."""
    client, run_id = mlflow.tracking.MlflowClient(), mlflow.active_run().info.run_id
    for i in range(0, len(metrics), chunk):
        client.log_batch(run_id, metrics=metrics[i : i + chunk])


def _log_model(cfg: SSVIConfig, seed: int, state_dicts: list[dict[str, torch.Tensor]], X: np.ndarray) -> None:
    """The SSVI network (one posterior draw per call, local reparameterisation) in MLflow's pt2 format."""
    model = load_models(cfg, seed, state_dicts)[0]
    example = torch.as_tensor(X[:8], dtype=torch.float32).view(-1, *cfg.input_shape)
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, *cfg.input_shape))]))
    mlflow.pytorch.log_model(
        model,
        name="ssvi-digits",
        input_example=example,
        signature=signature,
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
    )


def trained_runs(folder: Path) -> list[dict[str, Any]]:
    """Every (run, seed) the stage wrote: its run.json plus the folder."""
    return [json.loads(f.read_text()) | {"folder": f.parent} for f in sorted(folder.glob("*/seed*/run.json"))]
