"""SSVI's `paper` profile (ResNet-18 on CIFAR-10) for a bounded number of epochs on one GPU: throughput
(training images/s), peak GPU memory and the partial test metrics of every run, as JSON.

The full profile (5 runs × 3 seeds × 200 epochs) cannot finish on 2 CPU cores; this script checks, within
minutes on a GPU, that each run trains at the paper's settings and how fast, so the full run can be sized.
Each run's schedule (KL warm-up, T_end, cosine rate) is the profile's, compressed to `--epochs`.

Run (GPU): python benchmarks/ssvi_gpu_check.py --epochs 2 --budget-s 420 --out ssvi_gpu.json
Run (CPU smoke, seconds, random CIFAR-shaped images): python benchmarks/ssvi_gpu_check.py --smoke
Needs data/cifar10 (`studies ingest --dataset cifar10`) unless --smoke.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.timing import device_record  # noqa: E402
from studies.common import calibration  # noqa: E402
from studies.ssvi.config import SSVIConfig  # noqa: E402
from studies.ssvi.data import image_split  # noqa: E402
from studies.ssvi.evaluate import predict  # noqa: E402
from studies.ssvi.train import fit  # noqa: E402


def profile_configs(profile: str) -> dict[str, SSVIConfig]:
    """The profile's SSVI runs as SSVIConfigs (train.defaults under each run's overrides)."""
    train = yaml.safe_load((REPO / "params.yaml").read_text())["profiles"][profile]["ssvi"]["train"]
    defaults = train.get("defaults", {})
    return {name: SSVIConfig.from_dict(defaults | (o or {})) for name, o in train["runs"].items()}


def cifar(n_train: int, n_test: int, smoke: bool) -> dict[str, np.ndarray]:
    """CIFAR-10 from data/cifar10 (stratified subsets), or random CIFAR-shaped images for --smoke."""
    if smoke:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (n_train + n_test, 32, 32, 3), dtype=np.uint8)
        labels = np.arange(n_train + n_test) % 10
        train, test = (images[:n_train], labels[:n_train]), (images[n_train:], labels[n_train:])
    else:
        parts = []
        for part in ("train", "test"):
            with np.load(REPO / "data" / "cifar10" / f"{part}.npz") as t:
                parts.append((t["images"], t["labels"]))
        train, test = parts
    return image_split(train, test, n_train, n_test, seed=0)


def check_run(
    name: str, cfg: SSVIConfig, data: dict[str, np.ndarray], device: torch.device
) -> dict[str, Any]:
    """Train one run for cfg.epochs, then score it on the test images: throughput, memory, metrics."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize(device)
    trained = fit(cfg, data["X_train"], data["y_train"], seed=0, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    probs = predict(trained.models, data["X_test"], cfg, "samples", seed=0, batch_size=500)
    scores = calibration.scores(probs, data["y_test"])
    return {
        "run": name,
        "epochs": cfg.epochs,
        "train_images_per_s": cfg.epochs * len(data["y_train"]) / trained.seconds,
        "train_seconds": trained.seconds,
        "eval_seconds": time.perf_counter() - start,
        "peak_gpu_memory_gb": torch.cuda.max_memory_allocated(device) / 2**30
        if device.type == "cuda"
        else None,
        "train_flops": trained.train_flops,
        "final_train_nll": trained.history[-1]["nll"],
        "mean_sigma": trained.history[-1].get("mean_sigma"),
        **{f"test_{k}": scores[k] for k in ("acc", "nll", "ece")},
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument(
        "--budget-s", type=float, default=420.0, help="start no further run after this many seconds"
    )
    parser.add_argument("--smoke", action="store_true", help="CPU, 32 random images, 1 epoch, batch 16")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    n_train, n_test, epochs = (32, 16, 1) if args.smoke else (args.n_train, args.n_test, args.epochs)
    data = cifar(n_train, n_test, args.smoke)
    start, rows = time.perf_counter(), []
    for name, cfg in profile_configs(args.profile).items():
        if rows and time.perf_counter() - start > args.budget_s:
            rows.append({"run": name, "skipped": f"budget of {args.budget_s:.0f} s spent"})
            continue
        short = replace(cfg, epochs=epochs, n_samples=2 if args.smoke else cfg.n_samples)
        if args.smoke:
            short = replace(short, batch_size=16, update_every=1, ensemble_size=min(short.ensemble_size, 2))
        rows.append(check_run(name, short, data, device))
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "device": str(device),
        **device_record(device),
        "profile": args.profile,
        "n_train": n_train,
        "n_test": n_test,
        "runs": rows,
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
