"""Decoding by annealed Langevin dynamics: integer compositions, shapes, and a decoder that knows the
answer."""

from __future__ import annotations

import pytest
import torch

from studies.cdvae.config import LangevinConfig
from studies.cdvae.lattice import frac_to_cart, lattice_matrix, min_image_vectors
from studies.cdvae.sample import apportion_types, langevin_decode, reconstruct, score_function
from tests.studies.cdvae.perov import crystal_set, tiny_model


def test_apportioned_types_have_the_atom_count_and_follow_the_composition() -> None:
    probs = torch.zeros(5 + 4, 100)
    probs[:5, [7, 21, 55]] = torch.tensor([0.58, 0.22, 0.20])  # ≈ O3 Ti Ba in a 5-atom cell
    probs[5:, [0, 5]] = torch.tensor([0.5, 0.5])
    types = apportion_types(probs, torch.tensor([5, 4]), torch.Generator().manual_seed(0))
    assert sorted(types[:5].tolist()) == [8, 8, 8, 22, 56] and sorted(types[5:].tolist()) == [1, 1, 6, 6]


def test_langevin_decode_returns_one_crystal_per_latent_with_predicted_counts() -> None:
    crystals = crystal_set(6)
    model = tiny_model(crystals).eval()
    z = torch.randn(3, model.cfg.latent_dim)
    out = langevin_decode(
        model, z, LangevinConfig(n_step_each=2, batch_size=3), torch.Generator().manual_seed(0)
    )
    n = int(out["num_atoms"].sum())
    assert out["frac_coords"].shape == (n, 3) and out["atom_types"].shape == (n,)
    assert ((out["frac_coords"] >= 0) & (out["frac_coords"] < 1)).all()
    assert ((out["atom_types"] >= 1) & (out["atom_types"] <= 100)).all()
    assert out["lengths"].shape == (3, 3)


class OracleDecoder(torch.nn.Module):
    """The exact denoising direction toward one known crystal, σ-scaled as the trained score is (CDVAE's
    convention)."""

    def __init__(self, target_frac, num_atoms, lengths, angles, types, sigma_of_call):
        super().__init__()
        self.target, self.types = target_frac, types
        self.lattice = lattice_matrix(lengths, angles)
        self.num_atoms, self.sigma = num_atoms, sigma_of_call

    def forward(self, z, frac, types, num_atoms, lengths, angles, plan=None):
        noisy = frac_to_cart(frac, self.lattice, num_atoms)
        clean = frac_to_cart(self.target, self.lattice, num_atoms)
        logits = torch.nn.functional.one_hot(self.types - 1, 100).float() * 10
        return min_image_vectors(noisy, clean, self.lattice, num_atoms) / self.sigma(), logits


def test_langevin_with_the_exact_score_lands_on_the_crystal() -> None:
    """With the exact score and upstream's step_lr = σ_L², each step jumps to the target plus noise of ≈1.4σ,
    so annealing σ down to σ_L = 0.01 Å ends within a few σ_L of the crystal."""
    crystals = crystal_set(2)
    b = crystals.batch(torch.tensor([0]))
    model = tiny_model(crystals).eval()
    n_step_each = 3
    sigmas = iter(s for s in model.sigmas for _ in range(n_step_each))  # the σ of each decoder call, in order
    model.decoder = OracleDecoder(
        b.frac_coords, b.num_atoms, b.lengths, b.angles, b.atom_types, lambda: next(sigmas)
    )
    truth = model.decode_stats(torch.zeros(1, model.cfg.latent_dim), b.num_atoms, b.lengths, b.angles)
    model.decode_stats = lambda z, num_atoms=None: (
        truth
    )  # the true lattice: only the coordinates are under test
    out = langevin_decode(
        model,
        torch.zeros(1, model.cfg.latent_dim),
        LangevinConfig(n_step_each=n_step_each, step_lr=float(model.sigmas[-1]) ** 2),
        torch.Generator().manual_seed(0),
        num_atoms=b.num_atoms,
        atom_types=b.atom_types,
    )
    lattice = lattice_matrix(b.lengths, b.angles)
    error = min_image_vectors(
        frac_to_cart(out["frac_coords"], lattice, b.num_atoms),
        frac_to_cart(b.frac_coords, lattice, b.num_atoms),
        lattice,
        b.num_atoms,
    )
    assert error.norm(dim=-1).max() < 0.1, error


def test_reconstruct_decodes_every_crystal_in_batches() -> None:
    crystals = crystal_set(5)
    model = tiny_model(crystals)
    done = []
    preds = reconstruct(
        model,
        crystals,
        LangevinConfig(n_step_each=1, batch_size=2),
        seed=0,
        on_batch=lambda k, n: done.append((k, n)),
    )
    assert len(preds) == 5 and done == [(1, 3), (2, 3), (3, 3)]
    assert all(p.frac_coords.shape == (len(p.atom_types), 3) for p in preds)


def test_generate_is_seeded_batched_and_refuses_nothing_to_do() -> None:
    import pytest

    from studies.cdvae.sample import generate

    model = tiny_model(crystal_set(6)).eval()
    cfg = LangevinConfig(n_step_each=1, batch_size=3)
    first, again = generate(model, 5, cfg, seed=1), generate(model, 5, cfg, seed=1)
    assert len(first) == 5
    for a, b in zip(first, again):
        assert (a.frac_coords == b.frac_coords).all() and (a.atom_types == b.atom_types).all()
        assert a.frac_coords.shape == (len(a.atom_types), 3) and a.lengths.shape == (3,)
    other = generate(model, 5, cfg, seed=2)
    assert any(
        not (a.frac_coords.shape == b.frac_coords.shape and (a.frac_coords == b.frac_coords).all())
        for a, b in zip(first, other)
    )
    batches = []
    generate(model, 5, cfg, seed=1, on_batch=lambda done, total: batches.append((done, total)))
    assert batches == [(1, 2), (2, 2)]
    with pytest.raises(ValueError, match="at least one"):
        generate(model, 0, cfg, seed=1)


def test_compiling_is_on_cuda_only_unless_asked_and_a_bad_setting_is_refused() -> None:
    class OwnCompile(torch.nn.Linear):
        def compiled(self, **options):
            return "its own compiled score"

    decoder, own = torch.nn.Linear(2, 2), OwnCompile(2, 2)
    assert score_function(own, "auto", torch.device("cuda")) == "its own compiled score"
    assert score_function(own, "auto", torch.device("cpu")) is own
    assert score_function(decoder, "auto", torch.device("cuda")) is decoder  # not measured: not by default
    assert score_function(decoder, "off", torch.device("cuda")) is decoder
    assert score_function(decoder, "on", torch.device("cpu")) is not decoder
    with pytest.raises(ValueError, match="auto, on, off"):
        LangevinConfig(compile="yes")
