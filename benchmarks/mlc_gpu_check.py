"""MLC on an image dataset for a bounded number of steps: throughput (images/s), peak memory and the partial
clustering scores, with a profile's settings for that dataset — the GPU check of the `paper` profile
(ResNet-18 on CIFAR-10) and the CPU measurement of the `cpu` profile's MNIST/Fashion-MNIST runs.

Run:   .venv/bin/python benchmarks/mlc_gpu_check.py --profile paper --dataset cifar10 --warmup-steps 150 \
           --mlc-steps 100 --device cuda --out mlc_gpu_check.json        (≈ 8 minutes budget on one GPU)
       .venv/bin/python benchmarks/mlc_gpu_check.py --profile cpu --dataset mnist --n 10000
       .venv/bin/python benchmarks/mlc_gpu_check.py --smoke   (seconds, CPU, random images; a test runs it)
Data: data/<dataset>/{train,test}.npz as `studies ingest --dataset <name>` writes them (all n = train+test,
or a seeded subset of --n). Steps default to the profile's; --warmup-steps/--mlc-steps bound them.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.timing import device_record  # noqa: E402
from studies.common.devices import resolve_device  # noqa: E402
from studies.common.metrics import cluster_scores  # noqa: E402
from studies.mlc.config import MLCConfig  # noqa: E402
from studies.mlc.data import image_arrays  # noqa: E402
from studies.mlc.evaluate import assign_clusters, extend_labels, subspace_ranks  # noqa: E402
from studies.mlc.train import fit_mlc  # noqa: E402


def load_images(data: Path, name: str, n: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Training and test images together, or a seeded random subset of n of them (as mlc-prepare does)."""
    parts = [np.load(data / name / f"{split}.npz") for split in ("train", "test")]
    images = np.concatenate([p["images"] for p in parts])
    labels = np.concatenate([p["labels"] for p in parts])
    if n and n < len(labels):
        keep = np.sort(np.random.default_rng(0).permutation(len(labels))[:n])
        images, labels = images[keep], labels[keep]
    return images, labels


def smoke_images() -> tuple[np.ndarray, np.ndarray]:
    """Three classes of 12×12 random images, each class a fixed pattern plus noise: enough to exercise the
    pipeline in seconds."""
    rng = np.random.default_rng(0)
    patterns = rng.integers(0, 256, (3, 12, 12))
    y = np.repeat(np.arange(3), 40)
    noise = rng.integers(-40, 41, (len(y), 12, 12))
    return np.clip(patterns[y] + noise, 0, 255).astype(np.uint8), y


def config(profile: str, dataset: str) -> MLCConfig:
    from tasks.platform.params import study_params

    train = study_params(REPO / "params.yaml", "mlc", profile)["train"]
    return MLCConfig.from_dict(train[dataset])


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # Linux: KiB


def run(images: np.ndarray, y: np.ndarray, cfg: MLCConfig, seed: int) -> dict:
    X, shape = image_arrays(images)
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    fit = fit_mlc(X, cfg, seed=seed, image_shape=shape, progress=False)
    seconds = time.perf_counter() - start
    k = len(np.unique(y))
    pred = extend_labels(fit.C, fit.anchors, assign_clusters(fit.gamma, k, seed), cfg.eta, k)
    batch = min(cfg.batch_size or len(X), len(X))
    seen = batch * (cfg.warmup_steps * cfg.n_views + cfg.mlc_steps)
    return {
        "n": len(X),
        "device": str(device),
        **device_record(device),
        "fit_seconds": round(seconds, 1),
        "images_per_second": round(seen / seconds, 1),
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        **{k_: round(v, 4) for k_, v in cluster_scores(y, pred).items()},
        "mean_class_rank": subspace_ranks(fit.Z, y)["mean_per_cluster"],
        "largest_cluster": round(float(np.bincount(pred).max() / len(pred)), 3),
        "config": asdict(cfg),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny random images on the CPU, seconds")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data", type=Path, default=REPO / "data")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--warmup-steps", type=int, default=None)
    parser.add_argument("--mlc-steps", type=int, default=None)
    parser.add_argument("--device", default=None, help="overrides the profile's (cpu, cuda, auto)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON here too")
    args = parser.parse_args(argv)
    if args.smoke:
        images, y = smoke_images()
        cfg = MLCConfig(
            arch="cnn",
            conv_width=4,
            hidden_dim=32,
            feature_dim=8,
            batch_size=60,
            eta=0.5,
            warmup_steps=5,
            mlc_steps=5,
            rotate_degrees=10,
            scale=0.1,
            dropout=0.0,
            device="cpu",
        )
    else:
        images, y = load_images(args.data, args.dataset, args.n)
        cfg = config(args.profile, args.dataset)
    overrides = {
        "warmup_steps": args.warmup_steps,
        "mlc_steps": args.mlc_steps,
        "device": args.device,
    }
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    result = {"dataset": "smoke" if args.smoke else args.dataset, "profile": args.profile} | run(
        images, y, cfg, args.seed
    )
    print(json.dumps({k: v for k, v in result.items() if k != "config"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
