"""intdim-train: every network of the profile at each subspace dimension d of its grid and in its full space
(d = 0, the baseline), for every seed.

A network is `train.networks.<name>`: its dataset, its grid (`dims`) and its IntDimConfig overrides (arch,
width, depth, shuffle, optimiser...), on top of `train.defaults`; the d = 0 runs also take `train.full_space`
(the cpu profile trains θ_d at a higher learning rate than θ, and says so). Fits are independent, so they fan
out over worker processes (`train.workers`; 1 = in this process, which a GPU requires) through ordered_map,
which studies.toml may route to Dask. Each finished fit is kept in `results/<profile>/intdim/train-state/`
(tasks/orchestration/resume.py) as it arrives, so a stage that was killed fits only what it had not finished.

Outputs: records.parquet (one row per fit: scores, D, timings), history.parquet (per-epoch curves),
networks.json (each network's configs and data), weights.pt (θ_d of each subspace fit, θ of each baseline:
studies.intdim.train.load_model rebuilds the model from them). MLflow: one child run per fit, nested under the
stage's run, with its params and per-epoch curve.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import polars as pl
import torch
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from studies.common.devices import resolve_device
from studies.common.parallel import ordered_map
from studies.intdim.config import IntDimConfig
from studies.intdim.train import fit_job
from tasks.orchestration import resume
from tasks.orchestration.resume import FitStore
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.intdim.prepare import load_index, load_split

FIT_STAGE = "train/fit"  # the `stage` tag of a fit's run: not a step, so the plan's timings never read it
INHERITED_TAGS = (
    "study",
    "profile",
    "git.commit",
    "git.dirty",
    "dvc.data_hash",
    "prefect.flow_run_id",
    "device",
)
CURVES = ("loss", "train_acc_running", "test_acc")
BATCH = 1000  # metrics per request: MLflow's batch endpoint takes no more
RECORD = ("test_acc", "train_acc", "D", "steps", "train_seconds", "seconds_per_step", "seconds")


def network_configs(train_params: dict[str, Any], shuffle_seed: int = 0) -> dict[str, dict[str, Any]]:
    """name → {dataset, dims, subspace (IntDimConfig at d = dims[0]), full_space (at d = 0)}, validated up
    front so a typo fails before any training. `shuffle_seed` is the one prepare used."""
    defaults, full_space = train_params.get("defaults", {}), train_params.get("full_space", {})
    out = {}
    for name, spec in train_params["networks"].items():
        overrides = {k: v for k, v in spec.items() if k not in ("dataset", "dims")}
        base = {**defaults, **overrides, "shuffle_seed": shuffle_seed}
        dims = [int(d) for d in spec["dims"]]
        if not dims or min(dims) <= 0 or sorted(set(dims)) != dims:
            raise ValueError(f"network {name}: dims {dims}. Fix: list increasing subspace dimensions > 0.")
        out[name] = {
            "dataset": spec["dataset"],
            "dims": dims,
            "subspace": IntDimConfig.from_dict({**base, "d": dims[0]}),
            "full_space": IntDimConfig.from_dict({**base, **full_space, "d": 0}),
        }
    return out


def fit_config(network: dict[str, Any], d: int) -> IntDimConfig:
    """The config of one fit: the baseline's at d = 0, the subspace one at any other d."""
    if d == 0:
        return network["full_space"]
    return IntDimConfig.from_dict({**network["subspace"].to_dict(), "d": d})


def fit_prepared(job: dict[str, Any]) -> dict[str, Any]:
    """fit_job on a prepared split: its uint8 images scaled to float32 in [0, 1] here, in the worker, so
    four times fewer bytes cross the process boundary. `seconds` is the whole fit, evaluations included."""
    start = time.perf_counter()
    split = {
        k: v.astype(np.float32) / job["scale"] if k.startswith("X") else v for k, v in job["split"].items()
    }
    result = fit_job({**job, "split": split})
    return result | {"seconds": time.perf_counter() - start}


def train(ctx: StageContext) -> None:
    p = ctx.params["train"]
    prepared = ctx.inputs["prepared"]
    index = load_index(prepared)
    networks = network_configs(p, shuffle_seed=next(iter(index.values()))["shuffle_seed"])
    splits = _splits(prepared, index, networks)
    device = resolve_device(p.get("device", "cpu"))
    workers = 1 if device.type != "cpu" else p.get("workers", 0)
    jobs = [
        {
            "run": name,
            "d": d,
            "seed": seed,
            "config": fit_config(network, d).to_dict(),
            "condition": _condition(network),
            "scale": index[network["dataset"]]["scale"],
            "device": str(device),
            "threads": 1 if workers != 1 else torch.get_num_threads(),
        }
        for name, network in networks.items()
        for d in (0, *network["dims"])
        for seed in p["seeds"]
    ]
    print(
        f"training {len(networks)} networks, each at every d of its grid and in its full space, × "
        f"{len(p['seeds'])} seeds = {len(jobs)} fits on {device} ({workers or 'all'} workers)"
    )
    mlflow.set_tags({"device": str(device)})
    start = time.perf_counter()
    store = FitStore(resume.state_dir(ctx))
    results = _fit_or_resume(jobs, workers, splits, store, start, resume.step_code("intdim", ctx.step))
    _write(ctx.outputs["train"], jobs, results, networks, index)
    _log_fits(jobs, results, networks)
    mlflow.log_metrics(
        {
            "fits": len(results),
            "train_seconds": round(time.perf_counter() - start, 1),
            "fit_seconds": round(sum(r["seconds"] for r in results), 1),
        }
    )
    store.clear()


def _condition(network: dict[str, Any]) -> str:
    return f"{network['dataset']}-{network['subspace'].shuffle}"


def _splits(
    prepared: Path, index: dict[str, Any], networks: dict[str, dict[str, Any]]
) -> dict[str, dict[str, np.ndarray]]:
    """Each condition the networks train on, read once; a condition prepare did not build fails here."""
    splits = {}
    for name, network in networks.items():
        dataset, shuffle = network["dataset"], network["subspace"].shuffle
        if shuffle not in index.get(dataset, {}).get("conditions", []):
            raise ValueError(
                f"network {name} trains on {dataset} with shuffle '{shuffle}', which intdim-prepare did not "
                f"build. Fix: add it to intdim.prepare.datasets.{dataset}.conditions."
            )
        condition = _condition(network)
        if condition not in splits:
            splits[condition] = load_split(prepared, dataset, shuffle)
    return splits


def _fit_or_resume(
    jobs: list[dict[str, Any]],
    workers: int,
    splits: dict[str, dict[str, np.ndarray]],
    store: FitStore,
    start: float,
    code: list[Path],
) -> list[dict[str, Any]]:
    """fit_prepared's result for every job, in job order: saved ones from `store`, the others fitted and saved
    as each finishes."""
    data = {condition: resume.fingerprint(split) for condition, split in splits.items()}  # once, not per job
    fingerprints = {_key(job): resume.fingerprint(job, data[job["condition"]], files=code) for job in jobs}
    done = store.load_done(fingerprints)
    todo = [job | {"split": splits[job["condition"]]} for job in jobs if _key(job) not in done]

    def save(result: dict[str, Any]) -> None:
        store.save(_key(result), fingerprints[_key(result)], result)

    def progress(finished: int, total: int) -> None:
        print(f"  {finished}/{total} fits done ({time.perf_counter() - start:.0f} s)", flush=True)

    # one job per chunk: each fit is saved as soon as it finishes, not with its chunk
    fresh = ordered_map(fit_prepared, todo, workers, progress=progress, on_result=save, chunk=1)
    results = done | {_key(r): r for r in fresh}
    return [results[_key(job)] for job in jobs]


def _key(job: dict[str, Any]) -> str:
    """A fit's (or its result's) name: in the state folder, weights.pt and MLflow."""
    return f"{job['run']}/d{job['d']}/seed{job['seed']}"


def _write(
    out: Path,
    jobs: list[dict[str, Any]],
    results: list[dict[str, Any]],
    networks: dict[str, dict[str, Any]],
    index: dict[str, Any],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], []
    for job, result in zip(jobs, results):
        cfg = job["config"]
        fit = {"network": job["run"], "d": cfg["d"], "seed": job["seed"]}
        rows.append(fit | {"arch": cfg["arch"], "shuffle": cfg["shuffle"]} | {k: result[k] for k in RECORD})
        curves += [fit | {k: epoch[k] for k in ("epoch", *CURVES)} for epoch in result["history"]]
    pl.DataFrame(rows).write_parquet(out / "records.parquet")
    pl.DataFrame(curves).write_parquet(out / "history.parquet")
    torch.save({_key(job): result["weights"] for job, result in zip(jobs, results)}, out / "weights.pt")
    described = {
        name: {
            "dataset": network["dataset"],
            "data": {k: v for k, v in index[network["dataset"]].items() if k != "conditions"},
            "dims": network["dims"],
            "D": next(r["D"] for j, r in zip(jobs, results) if j["run"] == name),
            "subspace": network["subspace"].to_dict() | {"d": None},
            "full_space": network["full_space"].to_dict(),
        }
        for name, network in networks.items()
    }
    (out / "networks.json").write_text(json.dumps(described, indent=2) + "\n")


def _log_fits(jobs: list[dict[str, Any]], results: list[dict[str, Any]], networks: dict[str, Any]) -> None:
    """One MLflow run per fit, a child of the stage's run: its params (network, D, d, projection, seed and the
    rest of its config), its per-epoch curve and its final scores."""
    client, stage = MlflowClient(), mlflow.active_run()
    stage_tags = client.get_run(stage.info.run_id).data.tags
    tags = {k: stage_tags[k] for k in INHERITED_TAGS if k in stage_tags} | {
        "stage": FIT_STAGE,
        "mlflow.parentRunId": stage.info.run_id,
    }
    now = int(time.time() * 1000)
    for job, result in zip(jobs, results):
        run = client.create_run(stage.info.experiment_id, run_name=_key(job), tags=tags | {"fit": _key(job)})
        params = {"network": job["run"], "dataset": networks[job["run"]]["dataset"], "D": result["D"]}
        params |= {"seed": job["seed"]} | job["config"]
        # test_acc is the curve's last point; train_acc is scored on the whole training set after it
        metrics = [Metric(k, float(result[k]), now, 0) for k in RECORD if k not in ("D", "test_acc")]
        metrics += [Metric(k, float(e[k]), now, int(e["epoch"])) for e in result["history"] for k in CURVES]
        client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()])
        for i in range(0, len(metrics), BATCH):
            client.log_batch(run.info.run_id, metrics=metrics[i : i + BATCH])
        client.set_terminated(run.info.run_id)
