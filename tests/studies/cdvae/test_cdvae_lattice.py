"""Cell geometry against pymatgen, on real perov_5 crystals, their Niggli cells and skewed cells."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from studies.cdvae.lattice import (
    cart_to_frac,
    cell_heights,
    frac_to_cart,
    lattice_matrix,
    lattice_params,
    min_image_vectors,
)
from tests.studies.cdvae.perov import structures as perov_structures
from tests.studies.cdvae.perov import triclinic

# Carbon_24's first validation cell (see test_data.py): a real triclinic cell with obtuse angles.
CARBON_PARAMS = (2.48442, 3.82397, 5.98106, 120.34611, 78.04820, 108.96027)


@pytest.fixture(scope="module")
def crystals() -> list[Structure]:
    """Six real perov_5 crystals, a skewed (non-reduced) supercell of one, its Niggli cell, a hand-built
    triclinic."""
    perov = perov_structures(6)
    skewed = perov[0].copy()
    skewed.make_supercell([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    skewed_triclinic = triclinic()
    return [*perov, skewed, skewed.get_reduced_structure(), skewed_triclinic]


def _batch(structures: list[Structure]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fractional coordinates [N,3], Cartesian [N,3], cells [B,3,3] and atom counts [B] in float64."""
    frac = torch.tensor(np.concatenate([s.frac_coords for s in structures]))
    cart = torch.tensor(np.concatenate([s.cart_coords for s in structures]))
    lattice = torch.tensor(np.stack([s.lattice.matrix for s in structures]))
    return frac, cart, lattice, torch.tensor([len(s) for s in structures])


def test_lattice_matrix_matches_pymatgen_on_random_cells() -> None:
    gen = torch.Generator().manual_seed(0)
    lengths = 2 + 8 * torch.rand(64, 3, generator=gen, dtype=torch.float64)
    angles = 70 + 40 * torch.rand(
        64, 3, generator=gen, dtype=torch.float64
    )  # any triple in [70, 110] forms a cell
    want = np.stack(
        [
            Lattice.from_parameters(*lens, *angs).matrix
            for lens, angs in zip(lengths.tolist(), angles.tolist())
        ]
    )
    np.testing.assert_allclose(lattice_matrix(lengths, angles).numpy(), want, atol=1e-5)
    np.testing.assert_allclose(lattice_matrix(lengths.float(), angles.float()).numpy(), want, atol=1e-5)


def test_lattice_matrix_matches_pymatgen_on_real_cells(crystals: list[Structure]) -> None:
    cells = [s.lattice for s in crystals] + [Lattice.from_parameters(*CARBON_PARAMS)]
    params = torch.tensor([c.parameters for c in cells])
    got = lattice_matrix(params[:, :3], params[:, 3:]).numpy()
    # Cells read from a CIF are built by from_parameters, so the perov cells must agree vector for vector.
    np.testing.assert_allclose(got[:6], np.stack([s.lattice.matrix for s in crystals[:6]]), atol=1e-5)
    want = np.stack([Lattice.from_parameters(*c.parameters).matrix for c in cells])
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_lattice_params_round_trip_and_match_pymatgen(crystals: list[Structure]) -> None:
    lattice = torch.tensor(np.stack([s.lattice.matrix for s in crystals]))
    lengths, angles = lattice_params(lattice)
    np.testing.assert_allclose(lengths.numpy(), [s.lattice.abc for s in crystals], atol=1e-8)
    np.testing.assert_allclose(angles.numpy(), [s.lattice.angles for s in crystals], atol=1e-8)
    lengths2, angles2 = lattice_params(lattice_matrix(lengths, angles))
    torch.testing.assert_close(lengths2, lengths)
    torch.testing.assert_close(angles2, angles)


def test_degenerate_angles_stay_finite() -> None:
    lengths = torch.full((3, 3), 4.0, requires_grad=True)
    angles = torch.tensor([[170.0, 10.0, 90.0], [90.0, 90.0, 0.0], [60.0, 60.0, 120.0]], requires_grad=True)
    matrix = lattice_matrix(lengths, angles)
    matrix.sum().backward()
    assert torch.isfinite(matrix).all()
    assert torch.isfinite(lengths.grad).all() and torch.isfinite(angles.grad).all()


def test_cell_heights_are_volume_over_face_area(crystals: list[Structure]) -> None:
    lattice = torch.tensor(np.stack([s.lattice.matrix for s in crystals]))
    for s, h in zip(crystals, cell_heights(lattice)):
        m = s.lattice.matrix
        want = [s.volume / np.linalg.norm(np.cross(m[(k + 1) % 3], m[(k + 2) % 3])) for k in range(3)]
        np.testing.assert_allclose(h.numpy(), want)


def test_frac_cart_round_trip_wraps_into_unit_cell(crystals: list[Structure]) -> None:
    frac, cart, lattice, num_atoms = _batch(crystals)
    torch.testing.assert_close(frac_to_cart(frac, lattice, num_atoms), cart)
    outside = frac + torch.randint(-2, 3, frac.shape, generator=torch.Generator().manual_seed(1))
    wrapped = cart_to_frac(frac_to_cart(outside, lattice, num_atoms), lattice, num_atoms)
    assert ((wrapped >= 0) & (wrapped < 1)).all()
    off = wrapped - frac  # an integer; atoms on a face (frac 0 or 1e-16) may land on either side
    torch.testing.assert_close(off, off.round())
    # A coordinate a hair below zero must wrap to 0.0, never to 1.0.
    for dtype in (torch.float32, torch.float64):
        tiny = torch.tensor([[-1e-20, 0.5, -1e-12]], dtype=dtype)
        cell = torch.eye(3, dtype=dtype).unsqueeze(0) * 4
        got = cart_to_frac(frac_to_cart(tiny, cell, torch.tensor([1])), cell, torch.tensor([1]))
        assert ((got >= 0) & (got < 1)).all(), got


def test_min_image_points_from_noisy_to_clean(crystals: list[Structure]) -> None:
    """Displace atoms (some across the cell boundary), wrap, and recover minus the displacement."""
    frac, _, lattice, num_atoms = _batch(crystals)
    frac[::3, 0] = 0.01  # every third atom sits just inside the a = 0 face ...
    clean = frac_to_cart(frac, lattice, num_atoms)
    gen = torch.Generator().manual_seed(2)
    disp = 0.4 * (torch.rand(clean.shape, generator=gen, dtype=torch.float64) - 0.5)
    unit_a = (lattice[:, 0] / lattice[:, 0].norm(dim=-1, keepdim=True)).repeat_interleave(num_atoms, 0)
    disp[::3] = -0.3 * unit_a[::3]
    noisy = frac_to_cart(cart_to_frac(clean + disp, lattice, num_atoms), lattice, num_atoms)
    assert (cart_to_frac(noisy, lattice, num_atoms)[::3, 0] > 0.9).all()  # ... and is pushed out through it
    torch.testing.assert_close(min_image_vectors(noisy, clean, lattice, num_atoms), -disp)


def test_min_image_is_exact_on_a_skewed_cell() -> None:
    """A far-from-reduced cell needs images beyond {-1, 0, 1}^3; compare with a wide brute-force search."""
    lattice = torch.tensor([[[4.0, 0.0, 0.0], [11.0, 3.0, 0.0], [-7.0, 5.0, 2.5]]], dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    frac_a, frac_b = torch.rand(2, 200, 3, generator=gen, dtype=torch.float64)
    num_atoms = torch.tensor([200])
    start, end = frac_to_cart(frac_a, lattice, num_atoms), frac_to_cart(frac_b, lattice, num_atoms)
    got = min_image_vectors(start, end, lattice, num_atoms)
    shifts = torch.tensor(list(itertools.product(range(-6, 7), repeat=3)), dtype=torch.float64) @ lattice[0]
    candidates = (end - start).unsqueeze(1) + shifts  # [N,K,3]
    want = candidates.norm(dim=-1).amin(dim=1)
    torch.testing.assert_close(got.norm(dim=-1), want)
    image = torch.linalg.solve(
        lattice[0].T, (got - (end - start)).T
    ).T  # the image used is a whole lattice vector away
    torch.testing.assert_close(image, image.round())


def test_min_image_is_differentiable(crystals: list[Structure]) -> None:
    _, cart, lattice, num_atoms = _batch(crystals)
    noisy = (cart + 0.1).requires_grad_()
    lattice = lattice.clone().requires_grad_()
    min_image_vectors(noisy, cart, lattice, num_atoms).square().sum().backward()
    torch.testing.assert_close(
        noisy.grad, -2 * min_image_vectors(noisy.detach(), cart, lattice.detach(), num_atoms)
    )
    assert torch.isfinite(lattice.grad).all()
