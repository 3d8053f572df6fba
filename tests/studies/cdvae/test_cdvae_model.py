"""The CDVAE network on real Perov-5 crystals: losses, gradients, the score-matching target, invariances."""

from __future__ import annotations

import math

import torch

from studies.cdvae.config import ModelConfig, geometric_levels
from studies.cdvae.dataset import Scaler
from studies.cdvae.lattice import cart_to_frac, frac_to_cart, lattice_matrix, min_image_vectors
from studies.cdvae.model import CDVAE
from tests.studies.cdvae.perov import crystal_set, tiny_model


def test_forward_backward_on_a_batch_of_real_crystals_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    crystals = crystal_set(16)
    model = tiny_model(crystals)
    terms = model.losses(crystals.batch(torch.arange(16)), teacher_forcing=False)
    assert set(terms) == {"natom", "lattice", "composition", "coord", "type", "kld"}
    assert all(torch.isfinite(v) and v >= 0 for v in terms.values())
    model.total_loss(terms).backward()
    # The zero-initialised output layers get gradients but start at zero: check the rest moved.
    without_grad = [
        n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
    ]
    assert without_grad == []
    assert sum(float(p.grad.abs().sum()) for p in model.decoder.parameters()) > 0


def test_perfect_score_gives_zero_coordinate_loss() -> None:
    """The target is (clean − noisy)/σ² along the minimum-image vector, so a decoder returning it scores 0."""
    torch.manual_seed(1)
    crystals = crystal_set(6)
    b = crystals.batch(torch.arange(6))
    model = tiny_model(crystals)
    sigma = torch.full((len(b.atom_types),), 0.3)
    lattice = lattice_matrix(b.lengths, b.angles)
    clean = frac_to_cart(b.frac_coords, lattice, b.num_atoms)
    displacement = torch.randn_like(clean) * sigma[:, None]
    noisy_frac = cart_to_frac(clean + displacement, lattice, b.num_atoms)  # wraps some atoms across the cell
    perfect = -displacement / sigma[:, None]  # score·σ = (clean − noisy)/σ
    assert model.coord_loss(perfect, noisy_frac, sigma, b) < 1e-8
    assert model.coord_loss(torch.zeros_like(perfect), noisy_frac, sigma, b) > 0.5
    noisy = frac_to_cart(noisy_frac, lattice, b.num_atoms)
    assert torch.allclose(min_image_vectors(noisy, clean, lattice, b.num_atoms), -displacement, atol=1e-4)


def test_decoder_score_is_invariant_to_translating_the_crystal() -> None:
    torch.manual_seed(2)
    crystals = crystal_set(4)
    b = crystals.batch(torch.arange(4))
    model = tiny_model(crystals).eval()
    z = torch.randn(4, model.cfg.latent_dim)
    # Atoms off their sites and the cell off cubic, as the decoder sees crystals: in a perfect cubic cell,
    # images at equal distances straddle the 20-neighbour cap, and which the graph keeps is arbitrary.
    frac = (b.frac_coords + 0.01 * torch.randn_like(b.frac_coords)) % 1.0
    lengths = b.lengths * torch.tensor([1.0, 1.013, 0.987])
    with torch.no_grad():
        score, logits = model.decoder(z, frac, b.atom_types, b.num_atoms, lengths, b.angles)
        shifted = (frac + torch.tensor([0.31, 0.77, 0.05])) % 1.0
        score2, logits2 = model.decoder(z, shifted, b.atom_types, b.num_atoms, lengths, b.angles)
    assert torch.allclose(score, score2, atol=1e-4) and torch.allclose(logits, logits2, atol=1e-4)


def test_lattice_scaling_round_trips_and_noise_levels_are_geometric() -> None:
    crystals = crystal_set(8)
    model = tiny_model(crystals)
    scaled = model.scale_lattice(crystals.lengths, crystals.angles, crystals.num_atoms)
    lengths, angles = model.unscale_lattice(scaled, crystals.num_atoms)
    assert torch.allclose(lengths, crystals.lengths, atol=1e-4) and torch.allclose(
        angles, crystals.angles, atol=1e-3
    )
    sigmas = ModelConfig().sigmas()
    assert len(sigmas) == 50 and math.isclose(sigmas[0], 10) and math.isclose(sigmas[-1], 0.01, rel_tol=1e-5)
    ratios = sigmas[1:] / sigmas[:-1]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios), rtol=1e-4)
    assert torch.allclose(geometric_levels(5, 0.01, 50), ModelConfig().type_sigmas())


def test_state_dict_carries_the_scalers() -> None:
    crystals = crystal_set(8)
    trained = tiny_model(crystals)
    fresh = CDVAE(trained.cfg, Scaler([0.0] * 6, [1.0] * 6))
    assert not torch.equal(fresh.lattice_mean, trained.lattice_mean)
    fresh.load_state_dict(trained.state_dict())
    assert torch.equal(fresh.lattice_mean, trained.lattice_mean) and torch.equal(
        fresh.lattice_std, trained.lattice_std
    )
