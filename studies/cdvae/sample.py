"""Decoding z into crystals by annealed Langevin dynamics (paper §3.3, Algorithm 1).

From z: the atom count, lattice and composition come from the heads; the types start
as a sample of the predicted composition; coordinates start uniform in the cell. Then,
for each noise level σ from large to small, `n_step_each` Langevin steps move the atoms
along the decoder's score with step size step_lr·(σ/σ_L)², and the types follow the
decoder's argmax. Reconstruction (Table 1) encodes with the posterior mean and decodes;
generation (Table 2) decodes z drawn from the prior N(0, I).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch_geometric.utils import scatter

from studies.cdvae.config import LangevinConfig
from studies.cdvae.graph import cell_plan
from studies.cdvae.lattice import atom_cart_to_frac, atom_frac_to_cart, lattice_matrix
from studies.cdvae.model import CDVAE

# crystal.py calls pymatgen when imported (its element table), which benchmarks/gpu_check.py's inert stand-ins
# for the device image's missing pymatgen cannot answer; decoding itself needs neither module
if TYPE_CHECKING:
    from studies.cdvae.crystal import CrystalArrays
    from studies.cdvae.dataset import CrystalSet


def apportion_types(
    composition_probs: torch.Tensor, num_atoms: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Integer atom counts per element from each crystal's mean composition, in a random order.

    Upstream rounds prob·N per element and then patches the total with random draws; here the
    total is fixed by largest-remainder apportionment instead (written here: no library does
    it on tensors), which gives the same counts whenever rounding already sums to N.
    """
    batch = torch.arange(len(num_atoms), device=num_atoms.device).repeat_interleave(num_atoms)
    probs = scatter(composition_probs, batch, dim=0, dim_size=len(num_atoms), reduce="mean")
    types = []
    for p, n in zip(probs.cpu(), num_atoms.cpu().tolist()):
        share = p.double() * n
        counts = share.floor().long()
        remainder = share - counts
        counts[remainder.argsort(descending=True)[: n - int(counts.sum())]] += 1
        elements = torch.arange(1, len(p) + 1).repeat_interleave(counts)
        types.append(elements[torch.randperm(n, generator=generator)])
    return torch.cat(types).to(composition_probs.device)


def score_function(decoder: torch.nn.Module, setting: str, device: torch.device, **options: Any) -> Callable:
    """The decoder's score call as Langevin decoding makes it: eager, or compiled. `auto` compiles on CUDA
    only, and only a decoder with its own `compiled` (GemNet-dT, which keeps its data-dependent graph search
    eager and compiles the rest as one graph, as measured in benchmarks/README.md); `on` also compiles any
    other decoder whole, split by Dynamo where it has to (not measured on a GPU). `options` go to
    torch.compile (the tests pick a backend)."""
    own = hasattr(decoder, "compiled")
    if setting == "off" or (setting == "auto" and (device.type != "cuda" or not own)):
        return decoder
    if own:
        return decoder.compiled(**options)
    return torch.compile(decoder, dynamic=True, **options)


@torch.no_grad()
def langevin_decode(
    model: CDVAE,
    z: torch.Tensor,
    cfg: LangevinConfig,
    generator: torch.Generator,
    num_atoms: torch.Tensor | None = None,
    atom_types: torch.Tensor | None = None,
    score: Callable | None = None,
) -> dict[str, torch.Tensor]:
    """Decode a batch of latents; optional ground-truth counts/types replace the predicted ones (upstream's
    force_*). `score`: the decoder call to use (`score_function`'s; default: by `cfg.compile`).

    The cells and counts stay fixed while the atoms move, so what depends on them alone (each atom's
    cell and its inverse, the radius graph's `cell_plan`) is built once per batch, not once per step.
    """
    stats = model.decode_stats(z, num_atoms)
    num_atoms = num_atoms if num_atoms is not None else stats.num_atoms_logits.argmax(-1).clamp_min(1)
    lengths, angles = stats.lengths, stats.angles
    types = (
        atom_types
        if atom_types is not None
        else apportion_types(stats.composition_logits.softmax(-1), num_atoms, generator)
    )
    lattice = lattice_matrix(lengths, angles)
    plan = cell_plan(lattice, num_atoms, model.cfg.cutoff)
    # inverted per atom, not plan.atom_inverse (inverted per crystal, then indexed): the per-step position
    # update inverted per atom before the cell plan, and batched inv over other shapes need not be bit-equal
    atom_inverse = torch.linalg.inv(plan.atom_lattice)
    score_fn = score or score_function(model.decoder, cfg.compile, z.device)
    n = int(num_atoms.sum())
    frac = torch.rand((n, 3), generator=generator).to(z.device)
    sigma_last = model.sigmas[-1]
    for sigma in model.sigmas:
        if sigma < cfg.min_sigma:
            break
        step = cfg.step_lr * (sigma / sigma_last) ** 2
        for _ in range(cfg.n_step_each):
            noise = torch.randn((n, 3), generator=generator).to(z.device) * torch.sqrt(2 * step)
            pred, type_logits = score_fn(z, frac, types, num_atoms, lengths, angles, plan=plan)
            cart = atom_frac_to_cart(frac, plan.atom_lattice) + step * pred / sigma + noise
            frac = atom_cart_to_frac(cart, atom_inverse)
            if atom_types is None:
                types = type_logits.argmax(-1) + 1
    return {
        "frac_coords": frac,
        "atom_types": types,
        "num_atoms": num_atoms,
        "lengths": lengths,
        "angles": angles,
    }


def split_crystals(decoded: dict[str, torch.Tensor]) -> list[CrystalArrays]:
    """A decoded batch as one CrystalArrays per crystal (numpy, CPU)."""
    from studies.cdvae.crystal import CrystalArrays

    counts = decoded["num_atoms"].cpu().tolist()
    frac = decoded["frac_coords"].cpu().double().numpy()
    types = decoded["atom_types"].cpu().numpy()
    lengths, angles = decoded["lengths"].cpu().double().numpy(), decoded["angles"].cpu().double().numpy()
    bounds = np.cumsum([0, *counts])
    return [
        CrystalArrays(frac[s:e], types[s:e], lengths[k], angles[k])
        for k, (s, e) in enumerate(zip(bounds[:-1], bounds[1:]))
    ]


def reconstruct(
    model: CDVAE,
    crystals: CrystalSet,
    cfg: LangevinConfig,
    seed: int,
    device: torch.device = torch.device("cpu"),
    on_batch: Callable[[int, int], None] | None = None,
) -> list[CrystalArrays]:
    """Table 1's protocol: posterior mean z of each crystal, then Langevin decoding with predicted counts and
    types."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    out: list[CrystalArrays] = []
    batches = crystals.batches(cfg.batch_size)
    score = score_function(model.decoder, cfg.compile, device)
    for k, b in enumerate(batches):
        b = b.to(device)
        with torch.no_grad():
            mu, _, _ = model.encode(b)
        out += split_crystals(langevin_decode(model, mu, cfg, generator, score=score))
        if on_batch is not None:
            on_batch(k + 1, len(batches))
    return out


def generate(
    model: CDVAE,
    n: int,
    cfg: LangevinConfig,
    seed: int,
    device: torch.device = torch.device("cpu"),
    on_batch: Callable[[int, int], None] | None = None,
) -> list[CrystalArrays]:
    """Table 2's protocol: z ~ N(0, I), then the same decoding; batches of cfg.batch_size, one seeded
    stream."""
    if n < 1:
        raise ValueError(f"asked for {n} crystals. Fix: generate at least one (--n 1 or more).")
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    sizes = [min(cfg.batch_size, n - start) for start in range(0, n, cfg.batch_size)]
    score = score_function(model.decoder, cfg.compile, device)
    out: list[CrystalArrays] = []
    for k, size in enumerate(sizes):
        z = torch.randn((size, model.cfg.latent_dim), generator=generator).to(device)
        out += split_crystals(langevin_decode(model, z, cfg, generator, score=score))
        if on_batch is not None:
            on_batch(k + 1, len(sizes))
    return out
