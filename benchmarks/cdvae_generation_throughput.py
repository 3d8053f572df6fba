"""CDVAE generation throughput (crystals/s) against batch size, at the paper's configuration \
and the cpu profile's.

Run: .venv/bin/python benchmarks/cdvae_generation_throughput.py [--profile paper] [--batches 16,64,256]
     [--device cpu]
Times `studies.cdvae.sample.generate` from z ~ N(0, I) with one Langevin step at each of the
50 noise levels (after a warm-up), i.e. exactly the generation loop with its on-device radius
graphs, and scales to the steps a real run takes: 50 × 100 (upstream) and 50 × 5 (cpu profile).
Weights are random: throughput does not depend on them, except through the atom counts, which
are fixed to 5 (Perov-5) so that every configuration decodes the same number of atoms.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.cdvae_throughput import profile_model  # noqa: E402
from studies.cdvae.config import LangevinConfig  # noqa: E402
from studies.cdvae.dataset import Scaler  # noqa: E402
from studies.cdvae.model import CDVAE  # noqa: E402
from studies.cdvae.sample import generate  # noqa: E402
from studies.common.devices import resolve_device  # noqa: E402
from studies.common.seeding import seed_everything  # noqa: E402

ATOMS = 5


def five_atom_model(profile: str, device: torch.device) -> CDVAE:
    seed_everything(0)
    model = CDVAE(profile_model(profile), Scaler([3.9 / ATOMS ** (1 / 3)] * 3 + [90.0] * 3, [0.1] * 6))
    with torch.no_grad():  # the atom-count head always says 5
        last = model.fc_num_atoms[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[ATOMS] = 1.0
    return model.to(device).eval()


def main(profile: str, batches: list[int], device_name: str, threads: int) -> None:
    torch.set_num_threads(threads)
    device = resolve_device(device_name)
    model = five_atom_model(profile, device)
    levels = model.cfg.num_noise_level
    print(
        f"{profile} configuration ({sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters) "
        f"on {device}, "
        f"{threads} threads; {ATOMS} atoms per crystal"
    )
    print(
        "| batch | s per Langevin step | crystals/s, 50 × 100 steps (upstream) "
        "| crystals/s, 50 × 5 steps (cpu profile) |"
    )
    print("|---|---|---|---|")
    for batch in batches:
        cfg = LangevinConfig(n_step_each=1, batch_size=batch)
        generate(model, batch, cfg, seed=0, device=device)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        generate(model, batch, cfg, seed=1, device=device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        step = (time.perf_counter() - start) / levels
        print(
            f"| {batch} | {step:.4f} | {batch / (step * levels * 100):.3f} "
            f"| {batch / (step * levels * 5):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--profile", default="paper", choices=("paper", "cpu"))
    args.add_argument("--batches", default="16,64,256", help="comma-separated batch sizes")
    args.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    args.add_argument("--threads", type=int, default=2)
    a = args.parse_args()
    main(a.profile, [int(b) for b in a.batches.split(",")], a.device, a.threads)
