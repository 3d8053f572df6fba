"""CDVAE on one GPU: Langevin step time eager vs compiled, training throughput, and a generation slice.

Run (device machine: see benchmarks/README.md for the exact call):
    python3 benchmarks/gpu_check.py --out "$OUT"            # paper network, on CUDA, ~2-3 min on an H200
    python3 benchmarks/gpu_check.py --smoke --out /tmp/x    # tiny network, CPU, seconds (the test runs this)

Writes `cdvae_gpu_check.json` (every number, labelled with the device's name) and `samples.npz` (the
generated crystals as arrays) under --out. Weights are random and the crystals synthetic (5-atom cubic
cells, as Perov-5's): speed does not depend on either, and the device image has neither the dataset nor
pymatgen/polars/smact, which only data preparation and CIF output use; missing ones are replaced by inert
stand-ins before the project is imported (`_stand_in_missing`). Each section is skipped, and says so, once
the time budget is spent, so the script ends inside a device call's limit.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import statistics
import sys
import time
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OPTIONAL = ("polars", "pymatgen", "smact")  # imported at module level by studies.cdvae, unused by this script
RESULTS = "cdvae_gpu_check.json"
ATOMS = 5


class _Inert(types.ModuleType):
    """A module whose every attribute is a callable, subscriptable stand-in (itself a class)."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(
            name,
            (),
            {"__init__": lambda self, *a, **k: None, "__class_getitem__": classmethod(lambda c, k: c)},
        )


class _InertFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots: set[str]):
        self.roots = roots

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Inert(spec.name)

    def exec_module(self, module) -> None:
        module.__path__ = []


def _stand_in_missing(force: bool) -> list[str]:
    """Make `import polars` etc. succeed where they are not installed (or always, with `force`)."""
    roots = {name for name in OPTIONAL if force or importlib.util.find_spec(name) is None}
    if roots:
        sys.meta_path.insert(0, _InertFinder(roots))
    return sorted(roots)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def build(smoke: bool, device: torch.device, gen: torch.Generator):
    """The paper's network (config.py defaults) or, with --smoke, the ci profile's size; fitted scales."""
    from studies.cdvae.config import ModelConfig
    from studies.cdvae.dataset import Scaler
    from studies.cdvae.model import CDVAE

    cfg = ModelConfig()
    if smoke:
        cfg = replace(
            cfg,
            latent_dim=16,
            fc_hidden_dim=16,
            enc_hidden_dim=16,
            enc_num_blocks=1,
            enc_int_emb_size=8,
            enc_basis_emb_size=4,
            enc_out_emb_channels=16,
            dec_hidden_dim=16,
            dec_num_blocks=1,
            dec_num_radial=8,
            dec_emb_size_trip=8,
            dec_emb_size_rbf=4,
            dec_emb_size_cbf=4,
            dec_emb_size_bil_trip=8,
            num_spherical=3,
            num_radial=4,
            num_noise_level=5,
        )
    torch.manual_seed(0)
    model = CDVAE(cfg, Scaler([3.9 / ATOMS ** (1 / 3)] * 3 + [90.0] * 3, [0.1] * 6))
    with torch.no_grad():  # the atom-count head always says 5
        last = model.fc_num_atoms[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[ATOMS] = 1.0
    model.fit_scales(crystals(16, gen), seed=0)
    return model.to(device)


def crystals(n: int, gen: torch.Generator):
    """`n` 5-atom near-cubic cells (a ≈ 3.9 Å, perovskite sites plus noise) with radius-graph bonds."""
    from studies.cdvae.dataset import CrystalBatch
    from studies.cdvae.graph import radius_graph_pbc
    from studies.cdvae.lattice import frac_to_cart, lattice_matrix

    sites = torch.tensor([[0.0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    frac = (sites.repeat(n, 1) + 0.03 * torch.randn(n * ATOMS, 3, generator=gen)) % 1.0
    num_atoms = torch.full((n,), ATOMS)
    lengths = 3.9 + 0.1 * torch.randn(n, 3, generator=gen)
    angles = torch.full((n, 3), 90.0)
    graph = radius_graph_pbc(
        frac_to_cart(frac, lattice_matrix(lengths, angles), num_atoms),
        lattice_matrix(lengths, angles),
        num_atoms,
        3.0,
        12,
    )
    types_ = torch.tensor([56, 22, 8, 8, 8]).repeat(n)
    return CrystalBatch(
        frac_coords=frac,
        atom_types=types_,
        num_atoms=num_atoms,
        lengths=lengths,
        angles=angles,
        prop=torch.zeros(n),
        batch=torch.arange(n).repeat_interleave(num_atoms),
        edge_index=graph.edge_index,
        cell_offsets=graph.cell_offsets,
    )


def step_times(model, batches, compile_options, device, left) -> list[dict]:
    """Seconds per Langevin step at each batch size, eager and compiled. A decode also does per-batch set-up
    (atom counts, lattices and types from the heads, the cell plan), so decodes of 1 and 2 steps per noise
    level are timed and differenced (the faster of two tries each): the step is (t2 - t1) / levels, the
    set-up what t1 leaves. A first, untimed pass warms up (for the compiled score it includes compiling,
    reported apart)."""
    from studies.cdvae.config import LangevinConfig
    from studies.cdvae.sample import langevin_decode, score_function

    levels = model.cfg.num_noise_level
    scores = {
        "eager": model.decoder,
        "compiled": score_function(model.decoder, "on", device, **compile_options),
    }

    def decode(z, steps_each: int, seed: int, score) -> float:
        start = time.perf_counter()
        langevin_decode(
            model, z, LangevinConfig(n_step_each=steps_each), torch.Generator().manual_seed(seed), score=score
        )
        _sync(device)
        return time.perf_counter() - start

    rows = []
    for batch in batches:
        for name, score in scores.items():
            if left() < 30:
                rows.append({"batch": batch, "mode": name, "skipped": "time budget spent"})
                continue
            z = torch.randn(batch, model.cfg.latent_dim, device=device)
            warm = decode(z, 1, 0, score)
            one = min(decode(z, 1, seed, score) for seed in (1, 2))
            two = min(decode(z, 2, seed, score) for seed in (3, 4))
            seconds = (two - one) / levels
            rows.append(
                {
                    "batch": batch,
                    "mode": name,
                    "s_per_step": seconds,
                    "setup_s": one - levels * seconds,
                    "first_pass_s": warm,
                }
            )
            print(
                f"langevin batch {batch} {name}: {seconds * 1e3:.1f} ms/step, "
                f"set-up {rows[-1]['setup_s']:.2f} s "
                f"(first pass {warm:.1f} s)"
            )
    return rows


def training(model, batch: int, n_steps: int, device, gen, left) -> dict:
    """Median seconds of a training step (forward, backward, Adam) at `batch`, after two warm-up steps."""
    if left() < 30:
        return {"batch": batch, "skipped": "time budget spent"}
    b = crystals(batch, gen).to(device)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    times = []
    for k in range(n_steps + 2):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        model.total_loss(model.losses(b, teacher_forcing=k % 2 == 0)).backward()
        opt.step()
        _sync(device)
        times.append(time.perf_counter() - start)
    model.eval()
    seconds = statistics.median(times[2:])
    print(f"training batch {batch}: {seconds:.3f} s/step, {batch / seconds:.0f} crystals/s")
    return {"batch": batch, "s_per_step": seconds, "crystals_per_s": batch / seconds}


def generation(model, n: int, steps_each: int, device, out: Path, left) -> dict:
    """`n` crystals in one batch with the compiled score step, saved as arrays (no pymatgen needed)."""
    from studies.cdvae.config import LangevinConfig
    from studies.cdvae.sample import langevin_decode

    if left() < 60:
        return {"n": n, "skipped": "time budget spent"}
    cfg = LangevinConfig(n_step_each=steps_each, batch_size=n)
    z = torch.randn(n, model.cfg.latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
    start = time.perf_counter()
    decoded = langevin_decode(model, z, cfg, torch.Generator().manual_seed(0))
    _sync(device)
    seconds = time.perf_counter() - start
    np.savez_compressed(out / "samples.npz", **{k: v.cpu().numpy() for k, v in decoded.items()})
    steps = model.cfg.num_noise_level * steps_each
    print(f"generated {n} crystals x {steps} steps in {seconds:.1f} s")
    return {"n": n, "steps": steps, "seconds": seconds, "s_per_step": seconds / steps, "compile": cfg.compile}


def gpu_profile_estimate(train: dict, langevin: list[dict], train_set: int = 3408) -> dict:
    """What params.yaml's gpu profile takes at the measured rates: an epoch of the offline split's 3,408
    training crystals at the largest training batch, and upstream's 10,000 generations and 1,024
    reconstructions at 50 x 100 steps, from the compiled step at the largest batch measured (the profile
    decodes in batches of 1,024 and 5,000; a step's cost per crystal falls as the batch grows, so for the
    5,000 batches this is an upper bound)."""
    steps = [r for r in langevin if r["mode"] == "compiled" and "s_per_step" in r]
    if "s_per_step" not in train or not steps:
        return {"skipped": "a measurement it needs was skipped"}
    largest = max(steps, key=lambda r: r["batch"])
    per_crystal_step = largest["s_per_step"] / largest["batch"]
    at_1024 = next((r for r in steps if r["batch"] == 1024), largest)
    return {
        "train_s_per_epoch": -(-train_set // train["batch"]) * train["s_per_step"],
        "generate_10000_s": 10000 * 5000 * per_crystal_step,
        "generate_from_batch": largest["batch"],
        "reconstruct_1024_s": 5000 * at_1024["s_per_step"] * 1024 / at_1024["batch"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny network, few steps: checks the script")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check_out")))
    parser.add_argument("--budget-s", type=float, default=480.0, help="stop starting sections after this")
    parser.add_argument(
        "--stand-ins", action="store_true", help="replace polars/pymatgen/smact even if installed"
    )
    args = parser.parse_args()
    begun = time.perf_counter()

    def left() -> float:
        return args.budget_s - (time.perf_counter() - begun)

    stood_in = _stand_in_missing(args.stand_ins)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # Inductor on CUDA (what `LangevinConfig.compile: auto` does there); on a CPU, Dynamo's own eager backend,
    # which traces the same graph without minutes of C++ compiling
    compile_options = {} if device.type == "cuda" else {"backend": "eager"}
    gen = torch.Generator().manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    model = build(args.smoke, device, gen)
    result = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "smoke": args.smoke,
        "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "decoder": model.cfg.decoder,
        "atoms_per_crystal": ATOMS,
        "compile_backend": compile_options.get("backend", "inductor"),
        "stand_ins": stood_in,
    }
    print(f"{result['device']}, torch {torch.__version__}, {result['parameters_m']:.2f} M parameters")
    batches = [2] if args.smoke else [64, 256, 1024, 4096]
    # training first: the parity benchmark (item 3) needs it most if the budget runs short
    result["training"] = [
        training(model, b, 1 if args.smoke else 8, device, gen, left)
        for b in ([4] if args.smoke else [256, 512])
    ]
    result["langevin"] = step_times(model, batches, compile_options, device, left)
    result["generation"] = generation(
        model, 2 if args.smoke else 1024, 1 if args.smoke else 10, device, args.out, left
    )
    result["gpu_profile_estimate"] = gpu_profile_estimate(result["training"][-1], result["langevin"])
    result["wall_s"] = time.perf_counter() - begun
    (args.out / RESULTS).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out / RESULTS} ({result['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
