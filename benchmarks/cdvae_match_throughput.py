"""Throughput of CDVAE's reconstruction metric (validity + StructureMatcher), in-process vs a 2-worker pool.

Run: .venv/bin/python benchmarks/cdvae_match_throughput.py [--n 1000] [--noise 0.1] [--csv PATH]
Predictions are real perov_5 test crystals with Gaussian noise of `--noise` Å on
every Cartesian coordinate, so most of them match and each pair costs what a
good model's reconstruction costs. Pool start-up is included in the pooled time.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from studies.cdvae.crystal import CrystalArrays, build_structure  # noqa: E402
from studies.cdvae.data import parse_structures, read_cdvae_csv, structures_from_table  # noqa: E402
from studies.cdvae.metrics import reconstruction_metrics  # noqa: E402


def default_csv() -> Path:
    """perov_5's test.csv in the offline mirror beside the checkout or any folder above it, as
    tests/conftest.py finds it."""
    mirror = next(
        (p / "shared" / "datasets" for p in REPO.parents if (p / "shared" / "datasets").is_dir()), None
    )
    if mirror is None:
        raise SystemExit(
            "no shared/datasets folder above the repository. Fix: pass --csv PATH to a perov_5 CSV."
        )
    return mirror / "cdvae" / "perov_5" / "test.csv"


def pairs(csv: Path, n: int, noise: float, seed: int = 0) -> tuple[list[CrystalArrays], list[CrystalArrays]]:
    """`n` ground truths (the CSV's rows, repeated if it has fewer) and their noisy copies."""
    df = read_cdvae_csv(csv, ["material_id", "cif"])
    df = df.head(n) if df.height >= n else df.sample(n, with_replacement=True, seed=seed)
    truths = [CrystalArrays.from_structure(s) for s in structures_from_table(parse_structures(df, str(csv)))]
    rng = np.random.default_rng(seed)
    preds = []
    for t in truths:
        shift = build_structure(t).lattice.get_fractional_coords(
            rng.normal(0.0, noise, size=t.frac_coords.shape)
        )
        preds.append(dataclasses.replace(t, frac_coords=t.frac_coords + shift))
    return preds, truths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of (prediction, ground truth) pairs")
    parser.add_argument("--noise", type=float, default=0.1, help="Gaussian noise on Cartesian coordinates, Å")
    parser.add_argument(
        "--csv", type=Path, default=None, help="a CDVAE CSV (default: the mirror's perov_5 test.csv)"
    )
    args = parser.parse_args()
    csv = args.csv or default_csv()
    preds, truths = pairs(csv, args.n, args.noise)
    print(f"{args.n} pairs from {csv}, noise {args.noise} Å")
    seconds = {}
    for workers in (1, 2):
        start = time.perf_counter()
        result = reconstruction_metrics(preds, truths, workers=workers)
        seconds[workers] = time.perf_counter() - start
        print(
            f"workers={workers}: {seconds[workers]:.2f} s, {args.n / seconds[workers]:.1f} pairs/s "
            f"(valid {result.n_valid}/{result.n}, match rate {result.match_rate:.3f}, RMSE {result.rmse:.4f})"
        )
    print(f"speed-up with 2 workers: {seconds[1] / seconds[2]:.2f}x")


if __name__ == "__main__":
    main()
