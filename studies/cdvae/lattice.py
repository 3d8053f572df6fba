"""Batched, differentiable cell geometry for periodic crystals.

A batch holds B crystals whose atoms are concatenated (N in all); `num_atoms[b]`
counts crystal b's atoms, which are contiguous and in order. Lattices are row
matrices (rows = vectors a, b, c) as in pymatgen, so a fractional row vector f
maps to the Cartesian row vector f @ L. Everything here stays differentiable
because the decoder's losses and Langevin steps go through it.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Keeps sqrt() off zero in lattice_matrix so an impossible angle triple has a finite gradient.
_EPS = 1e-12


def lattice_matrix(lengths: Tensor, angles: Tensor) -> Tensor:
    """Cells [B,3,3] from lengths [B,3] (Å) and angles [B,3] (degrees), in pymatgen's
    `Lattice.from_parameters` frame.

    Using pymatgen's frame (c along z, a in the xz plane) means a cell built here
    and one read from a CIF agree vector for vector. cos(γ*) is clamped to [-1, 1]
    and sin(γ*) kept off zero, so angle triples that cannot form a cell (which a
    decoder can predict) give a flat cell with finite values instead of NaN.
    """
    a, b, c = lengths.unbind(-1)
    alpha, beta, gamma = torch.deg2rad(angles).unbind(-1)
    cos_a, cos_b, cos_g = alpha.cos(), beta.cos(), gamma.cos()
    sin_a, sin_b = alpha.sin(), beta.sin()
    cos_gs = ((cos_a * cos_b - cos_g) / (sin_a * sin_b)).clamp(-1.0, 1.0)
    sin_gs = (1.0 - cos_gs**2).clamp_min(_EPS).sqrt()
    zero = torch.zeros_like(a)
    vec_a = torch.stack([a * sin_b, zero, a * cos_b], dim=-1)
    vec_b = torch.stack([-b * sin_a * cos_gs, b * sin_a * sin_gs, b * cos_a], dim=-1)
    vec_c = torch.stack([zero, zero, c], dim=-1)
    return torch.stack([vec_a, vec_b, vec_c], dim=-2)


def _angle(u: Tensor, v: Tensor) -> Tensor:
    """Angle between row vectors in degrees; atan2 stays accurate near 0° and 180° where acos does not."""
    return torch.rad2deg(torch.atan2(torch.linalg.cross(u, v).norm(dim=-1), (u * v).sum(-1)))


def lattice_params(matrix: Tensor) -> tuple[Tensor, Tensor]:
    """Lengths [B,3] (Å) and angles α, β, γ [B,3] (degrees) of cells [B,3,3]; inverse of `lattice_matrix`."""
    va, vb, vc = matrix.unbind(-2)
    lengths = matrix.norm(dim=-1)
    angles = torch.stack([_angle(vb, vc), _angle(va, vc), _angle(va, vb)], dim=-1)
    return lengths, angles


def cell_heights(lattice: Tensor) -> Tensor:
    """Distances [B,3] between opposite faces of each cell: volume / area of the face spanned by the other two
    vectors.

    Along direction k, an image n cells away is at least |n| - 1 heights from any
    atom of the home cell, which is what bounds the image searches below.
    """
    va, vb, vc = lattice.unbind(-2)
    faces = torch.stack(
        [torch.linalg.cross(vb, vc), torch.linalg.cross(vc, va), torch.linalg.cross(va, vb)], dim=-2
    )
    volume = (va * faces[..., 0, :]).sum(-1).abs()
    return volume.unsqueeze(-1) / faces.norm(dim=-1)


def image_offsets(reps: Tensor) -> Tensor:
    """All integer cell offsets [K,3] with |offset[k]| <= reps[k] per direction (reps: 3 non-negative
    ints)."""
    ranges = [torch.arange(-int(r), int(r) + 1, device=reps.device) for r in reps.tolist()]
    return torch.cartesian_prod(*ranges).reshape(-1, 3)


def _per_atom(lattice: Tensor, num_atoms: Tensor) -> Tensor:
    return lattice.repeat_interleave(num_atoms, dim=0)


def frac_to_cart(frac: Tensor, lattice: Tensor, num_atoms: Tensor) -> Tensor:
    """Cartesian positions [N,3] of fractional coordinates [N,3] in their crystals' cells [B,3,3]."""
    return atom_frac_to_cart(frac, _per_atom(lattice, num_atoms))


def atom_frac_to_cart(frac: Tensor, atom_lattice: Tensor) -> Tensor:
    """`frac_to_cart` given each atom's cell [N,3,3], which a caller with fixed cells builds once."""
    return torch.einsum("ni,nij->nj", frac, atom_lattice)


def cart_to_frac(cart: Tensor, lattice: Tensor, num_atoms: Tensor) -> Tensor:
    """Fractional coordinates [N,3] of Cartesian positions [N,3], wrapped into [0, 1)."""
    return atom_cart_to_frac(cart, torch.linalg.inv(_per_atom(lattice, num_atoms)))


def atom_cart_to_frac(cart: Tensor, atom_inverse: Tensor) -> Tensor:
    """`cart_to_frac` given each atom's inverse cell [N,3,3], which a caller with fixed cells builds once.

    The second remainder maps the 1.0 that rounding gives for a tiny negative
    coordinate back to 0.0; remainder has unit gradient, so wrapping is transparent to autograd.
    """
    frac = torch.einsum("ni,nij->nj", cart, atom_inverse)
    return torch.remainder(torch.remainder(frac, 1.0), 1.0)


def min_image_vectors(cart_from: Tensor, cart_to: Tensor, lattice: Tensor, num_atoms: Tensor) -> Tensor:
    """Shortest Cartesian vectors [N,3] from `cart_from[n]` to any periodic image of `cart_to[n]`.

    With `cart_from` noisy and `cart_to` clean positions this is CDVAE's
    score-matching target direction. The fractional difference is first wrapped
    into [-0.5, 0.5]; a shorter image then differs from it by integer offsets n
    with |n_k| <= |v| / h_k + |d_k| (v the wrapped vector, d its fractional form,
    h the cell heights), and the search covers that bound for the whole batch, so
    the result is exact for any cell, not only reduced ones. For Niggli-reduced
    cells the bound is {-1, 0, 1}^3 (27 images).
    """
    lat = _per_atom(lattice, num_atoms)
    frac = torch.einsum("ni,nij->nj", cart_to - cart_from, torch.linalg.inv(lat))
    frac = frac - frac.round()  # round() has zero gradient, so the wrap leaves the derivative intact
    with torch.no_grad():
        wrapped = torch.einsum("ni,nij->nj", frac, lat)
        bound = wrapped.norm(dim=-1, keepdim=True) / _per_atom(cell_heights(lattice), num_atoms) + frac.abs()
        offsets = image_offsets(bound.amax(dim=0).floor().long()).to(frac.dtype)
    candidates = torch.einsum("nki,nij->nkj", frac.unsqueeze(1) + offsets, lat)  # [N,K,3]
    best = candidates.norm(dim=-1).argmin(dim=1)
    return candidates[torch.arange(len(best), device=best.device), best]
