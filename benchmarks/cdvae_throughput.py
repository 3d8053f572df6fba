"""CDVAE training and decoding throughput on real Perov-5 crystals, at the paper's configuration \
and the cpu profile's.

Run: .venv/bin/python benchmarks/cdvae_throughput.py [--batch 256] [--steps 4] [--threads 2]
Measures, after one warm-up step: a training step (forward + backward + Adam, as the
train stage runs it, deterministic kernels on), one decoder score call without gradients
(what each Langevin step costs), and one full Langevin step for a batch of 64.
Compare with the reference CDVAE code's numbers in ../shared/ANCHORS.md (same machine kind).
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.timing import timed  # noqa: E402
from studies.cdvae.config import LangevinConfig, ModelConfig  # noqa: E402
from studies.cdvae.sample import langevin_decode  # noqa: E402
from studies.common.seeding import seed_everything  # noqa: E402
from tests.studies.cdvae.perov import crystal_set, tiny_model  # noqa: E402  (real crystals from the offline mirror)


def profile_model(profile: str) -> ModelConfig:
    import yaml

    overrides = yaml.safe_load((REPO / "params.yaml").read_text())["profiles"][profile]["cdvae"]["train"][
        "model"
    ]
    return ModelConfig.from_dict(overrides)


def main(batch: int, steps: int, threads: int) -> None:
    torch.set_num_threads(threads)
    crystals = crystal_set(batch)
    b = crystals.batch(torch.arange(batch))
    for name in ("paper", "cpu"):
        seed_everything(0)
        cfg = profile_model(name)
        model = tiny_model(crystals, cfg)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def train_step() -> None:
            loss = model.total_loss(model.losses(b, teacher_forcing=True))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()

        z = torch.randn(batch, cfg.latent_dim)

        def score_call() -> None:
            with torch.no_grad():
                model.decoder(z, b.frac_coords, b.atom_types, b.num_atoms, b.lengths, b.angles)

        small = crystals.batch(torch.arange(min(64, batch)))
        one_level = LangevinConfig(n_step_each=1)

        def langevin_step() -> None:  # 1 step at each of the levels, divided below
            langevin_decode(
                model,
                torch.randn(64, cfg.latent_dim),
                one_level,
                torch.Generator().manual_seed(0),
                num_atoms=small.num_atoms,
                atom_types=small.atom_types,
            )

        n_params = sum(p.numel() for p in model.parameters())
        train_s = timed(train_step, steps)
        score_s = timed(score_call, steps)
        step_s = timed(langevin_step, 1) / cfg.num_noise_level
        print(f"{name} configuration ({n_params / 1e6:.2f} M parameters), {threads} threads:")
        print(f"  training step, batch {batch}: {train_s:.2f} s → {batch / train_s:.1f} crystals/s")
        print(f"  decoder score call, batch {batch}, no_grad: {score_s:.2f} s")
        print(f"  one Langevin step, batch 64: {step_s:.3f} s")
        print(
            "  peak RSS so far (the paper configuration runs first): "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB"
        )


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--batch", type=int, default=256)
    args.add_argument("--steps", type=int, default=4)
    args.add_argument("--threads", type=int, default=2)
    main(**vars(args.parse_args()))
