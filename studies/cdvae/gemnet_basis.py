"""GemNet's bases for distances and bond angles (Gasteiger et al. 2021, §4 and appendix), as CDVAE configures
them: Gaussian radial basis times the polynomial envelope, and spherical harmonics Y_l0 of the angle.

PyG's DimeNet layers do not fit here: its `Envelope` is DimeNet's u(d)/d (it carries the Bessel
basis' 1/d), and its `SphericalBasisLayer` pairs Y_l0 with Bessel radial functions, not the
Gaussians GemNetT uses in CDVAE (`rbf: gaussian`). So the envelope and the Y_l0 are written here;
the Gaussians are PyG's `GaussianSmearing`, as upstream uses them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.nn.models.schnet import GaussianSmearing


class PolynomialEnvelope(nn.Module):
    """u(x) = 1 − (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) − p(p+1)/2 x^(p+2) for x = d/cutoff < 1, else 0.

    Smooth to second order at the cutoff, so an atom crossing it does not make the score jump.
    """

    def __init__(self, exponent: int):
        super().__init__()
        p = exponent
        self.p, self.a, self.b, self.c = p, -(p + 1) * (p + 2) / 2, p * (p + 2), -p * (p + 1) / 2

    def forward(self, x: Tensor) -> Tensor:
        x_p = x.pow(self.p)
        u = 1 + self.a * x_p + self.b * x_p * x + self.c * x_p * x * x
        return torch.where(x < 1, u, torch.zeros_like(x))


class RadialBasis(nn.Module):
    """Distances [E] → envelope · Gaussians on d/cutoff in [0, 1] [E, num_radial] (upstream: `gaussian`,
    `polynomial` exponent 5)."""

    def __init__(self, num_radial: int, cutoff: float, envelope_exponent: int):
        super().__init__()
        self.cutoff = cutoff
        self.envelope = PolynomialEnvelope(envelope_exponent)
        self.gaussians = GaussianSmearing(0.0, 1.0, num_radial)

    def forward(self, distances: Tensor) -> Tensor:
        x = distances / self.cutoff
        return self.envelope(x)[:, None] * self.gaussians(x)


def circular_basis(cos_angle: Tensor, num_spherical: int) -> Tensor:
    """Y_l0(φ) = √((2l+1)/4π) P_l(cos φ) for l < num_spherical [T, num_spherical]: one angle needs only m = 0.

    Legendre polynomials by Bonnet's recursion (l+1) P_l+1 = (2l+1) x P_l − l P_l−1, written
    here because torch.special.legendre_polynomial_p has no gradient, and the lattice head learns
    through these angles.
    """
    polys = [torch.ones_like(cos_angle), cos_angle]
    for degree in range(1, num_spherical - 1):
        polys.append(((2 * degree + 1) * cos_angle * polys[-1] - degree * polys[-2]) / (degree + 1))
    norms = [math.sqrt((2 * degree + 1) / (4 * math.pi)) for degree in range(num_spherical)]
    return torch.stack([n * p for n, p in zip(norms, polys[:num_spherical])], dim=-1)
