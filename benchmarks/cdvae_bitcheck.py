"""Is a code change bit-identical on the CPU for a trained CDVAE? Decode 32 test crystals and 24 generated
ones and take one training loss with all its gradients, under whichever code is on PYTHONPATH, and save every
tensor; run it under the old and the new tree and compare the two files.

Used on 2026-11-30 to re-stamp dvc.lock (`dvc commit`) after the GPU-path merge instead of re-running the cpu
profile: 383 arrays, all equal, between 5edfa6a and 6f01007 with the cpu run's model.

Run:   PYTHONPATH=<old tree> .venv/bin/python benchmarks/cdvae_bitcheck.py old.npz
       PYTHONPATH=.          .venv/bin/python benchmarks/cdvae_bitcheck.py new.npz
       .venv/bin/python benchmarks/cdvae_bitcheck.py --compare old.npz new.npz
Needs results/<profile>/cdvae/{train,prepared} (`studies run cdvae --profile cpu`, or `dvc pull`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def tensors(results: Path) -> dict[str, np.ndarray]:
    import polars as pl

    from studies.cdvae.config import LangevinConfig
    from studies.cdvae.dataset import CrystalSet
    from studies.cdvae.sample import generate, reconstruct
    from tasks.stages.cdvae import modelio

    out: dict[str, np.ndarray] = {}
    torch.manual_seed(0)
    model = modelio.load(results / "train")
    test = CrystalSet(pl.read_parquet(results / "prepared" / "test.parquet").head(32))
    cfg = LangevinConfig(n_step_each=2, step_lr=1e-4, batch_size=16)
    decoded = {"recon": reconstruct(model, test, cfg, seed=0), "gen": generate(model, 24, cfg, seed=1)}
    for name, crystals in decoded.items():
        for k, c in enumerate(crystals):
            out[f"{name}{k}_frac"], out[f"{name}{k}_types"] = (
                np.asarray(c.frac_coords),
                np.asarray(c.atom_types),
            )
            out[f"{name}{k}_lengths"] = np.asarray(c.lengths)
    model.train()
    torch.manual_seed(0)
    losses = model.losses(test.batches(32)[0], teacher_forcing=True)
    sum(losses.values()).backward()
    out["loss"] = np.array([v.item() for v in losses.values()])
    out |= {f"grad_{n}": p.grad.numpy() for n, p in model.named_parameters() if p.grad is not None}
    return out


def compare(a: Path, b: Path) -> list[str]:
    """Names of the arrays that differ (or exist in one file only)."""
    with np.load(a) as x, np.load(b) as y:
        names = set(x.files) | set(y.files)
        return sorted(
            n for n in names if n not in x.files or n not in y.files or not np.array_equal(x[n], y[n])
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="+", help="file to write, or the two files to --compare")
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--results", type=Path, default=Path("results/cpu/cdvae"))
    args = parser.parse_args()
    if args.compare:
        differ = compare(*args.out)
        print(f"{len(differ)} arrays differ" + (f": {', '.join(differ[:20])}" if differ else ""))
        raise SystemExit(1 if differ else 0)
    out = tensors(args.results)
    np.savez(args.out[0], **out)
    print(f"{len(out)} arrays -> {args.out[0]}")


if __name__ == "__main__":
    main()
