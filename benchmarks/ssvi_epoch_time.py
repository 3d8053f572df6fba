"""SSVI vs dense VI: wall time per training epoch beside the analytic FLOP ratio, \
and where sparsity could pay on CPU.

Run: .venv/bin/python benchmarks/ssvi_epoch_time.py [--epochs 5] [--threads 1] [--density 0.1]
Part 1 trains the study's own layers (masked dense products, as `ssvi-train` runs them) on the digits
split for a few epochs per method and architecture and reports seconds per epoch and the training-FLOP
ratio against dense VI. Part 2 times one 256×256 layer's forward product at batch 128 as a dense matmul
and as a CSR sparse matmul (torch.sparse) over densities, to show at which density a sparse kernel
would beat the dense one on this CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.timing import timed  # noqa: E402
from studies.ssvi.config import SSVIConfig  # noqa: E402
from studies.ssvi.train import fit  # noqa: E402


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    from studies.ssvi.data import digits_split

    d = load_digits()
    split = digits_split(d.data, d.target, 0.25, 0)
    return split["X_train"], split["y_train"]


def epoch_times(epochs: int, density: float) -> None:
    X, y = digits()
    print(
        f"{'arch':5} {'method':14} {'s/epoch':>8} {'train FLOPs':>12} "
        f"{'FLOPs vs dense VI':>18} {'time vs dense VI':>17}"
    )
    for arch in ("mlp", "cnn"):
        rows = {}
        for name, kw in (
            ("dense VI", dict(method="vi", density=1.0)),
            (f"SSVI {density}", dict(method="ssvi", density=density)),
            (f"static {density}", dict(method="vi", density=density)),
            ("deterministic", dict(method="deterministic")),
        ):
            cfg = SSVIConfig(arch=arch, epochs=epochs, kl_warmup=0.2, update_every=5, **kw)
            fit(SSVIConfig(arch=arch, epochs=1, **kw), X[:256], y[:256], seed=0)  # warm-up
            trained = fit(cfg, X, y, seed=0)
            rows[name] = (trained.seconds / epochs, trained.train_flops)
        base_t, base_f = rows["dense VI"]
        for name, (t, f) in rows.items():
            print(f"{arch:5} {name:14} {t:8.3f} {f:12.3g} {base_f / f:17.1f}× {base_t / t:16.2f}×")


def kernel_times(repeats: int = 200) -> None:
    torch.manual_seed(0)
    x = torch.randn(128, 256)
    print(f"\n256×256 layer, batch 128, forward product, median of {repeats}:")
    print(f"{'density':>8} {'dense ms':>9} {'CSR ms':>8} {'CSR speed-up':>13}")
    for density in (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01):
        w = torch.randn(256, 256) * (torch.rand(256, 256) < density)
        csr = w.to_sparse_csr()
        dense_t = timed(lambda: x @ w.T, repeats)
        sparse_t = timed(lambda: torch.sparse.mm(csr, x.T), repeats)
        print(f"{density:8.2f} {dense_t * 1e3:9.3f} {sparse_t * 1e3:8.3f} {dense_t / sparse_t:12.2f}×")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--density", type=float, default=0.1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    epoch_times(args.epochs, args.density)
    kernel_times()
