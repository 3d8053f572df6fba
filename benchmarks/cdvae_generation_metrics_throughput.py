"""Throughput of CDVAE's generation metrics (validity + CrystalNN and Magpie fingerprints per crystal), \
1 vs 2 workers.

Run: .venv/bin/python benchmarks/cdvae_generation_metrics_throughput.py [--n 500]
The crystals are real perov_5 test crystals (what a good generator's samples look like);
fingerprinting dominates, and coverage's distance matrices are timed separately. Pool
start-up is included in the pooled time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.cdvae_match_throughput import default_csv  # noqa: E402
from studies.cdvae.crystal import CrystalArrays  # noqa: E402
from studies.cdvae.data import parse_structures, read_cdvae_csv, structures_from_table  # noqa: E402
from studies.cdvae.generation_metrics import assess_all, coverage  # noqa: E402


def main(n: int) -> None:
    df = read_cdvae_csv(default_csv(), ["material_id", "cif"]).head(n)
    crystals = [
        CrystalArrays.from_structure(s) for s in structures_from_table(parse_structures(df, "test.csv"))
    ]
    seconds = {}
    for workers in (1, 2):
        start = time.perf_counter()
        rows = assess_all(crystals, workers=workers)
        seconds[workers] = time.perf_counter() - start
        print(
            f"workers={workers}: {seconds[workers]:.1f} s, {len(crystals) / seconds[workers]:.1f} crystals/s "
            f"(valid {sum(r.valid for r in rows)}/{len(rows)})",
            flush=True,
        )
    print(f"speed-up with 2 workers: {seconds[1] / seconds[2]:.2f}x")
    start = time.perf_counter()
    cov = coverage(rows, rows, 0.2, 4.0)
    print(
        f"coverage of {len(rows)} against {len(rows)}: {time.perf_counter() - start:.2f} s "
        f"(COV-R {cov['cov_recall']:.3f})"
    )


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--n", type=int, default=500)
    main(**vars(args.parse_args()))
