"""GemNet's building blocks (Gasteiger et al. 2021, appendix): bias-free dense layers with a scaled SiLU and
He-orthogonal initialisation, residual layers averaged by 1/√2, and the fitted scale factors.

All of it serves one aim: activations of unit order at initialisation, however many edges or
triplets a sum runs over. Where a sum's size depends on the data (atoms per edge, triplets per
edge), a `ScaleFactor` measures it on one batch and rescales, instead of a constant.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

INV_SQRT2 = 1 / math.sqrt(2)


def he_orthogonal_(weight: Tensor) -> Tensor:
    """A random (semi-)orthogonal matrix, each output's weights standardised, times 1/√fan_in.

    Orthogonal rows decorrelate the features; standardising then scaling by 1/√fan_in gives
    He's variance. The first dimension is the output, all others are inputs (the fan-in).
    """
    with torch.no_grad():
        flat = weight.view(weight.shape[0], -1)
        nn.init.orthogonal_(flat)
        var, mean = torch.var_mean(flat, dim=1, keepdim=True)
        flat.copy_((flat - mean) / (var + 1e-6).sqrt() / math.sqrt(flat.shape[1]))
    return weight


class ScaledSiLU(nn.Module):
    """SiLU / 0.6: about unit variance out for unit-variance input."""

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.silu(x) / 0.6


def dense(in_features: int, out_features: int, activation: bool = True) -> nn.Module:
    """GemNet's `Dense`: a bias-free linear layer, He-orthogonal, with or without the scaled SiLU."""
    linear = nn.Linear(in_features, out_features, bias=False)
    he_orthogonal_(linear.weight)
    return nn.Sequential(linear, ScaledSiLU()) if activation else linear


class Residual(nn.Module):
    """(x + f(x)) / √2 with f two activated dense layers: the sum of two unit-variance terms stays at one."""

    def __init__(self, units: int):
        super().__init__()
        self.mlp = nn.Sequential(dense(units, units), dense(units, units))

    def forward(self, x: Tensor) -> Tensor:
        return (x + self.mlp(x)) * INV_SQRT2


def dense_then_residuals(in_features: int, out_features: int, num_residual: int) -> nn.Sequential:
    """An activated dense layer, then `num_residual` residual layers: GemNet's atom and force MLPs."""
    return nn.Sequential(
        dense(in_features, out_features), *(Residual(out_features) for _ in range(num_residual))
    )


class ScaleFactor(nn.Module):
    """y · s, where s was fitted once so that y · s has the variance of a reference tensor (GemNet's
    `ScalingFactor`).

    s is a buffer, so it travels in the state_dict and a loaded model keeps it. Only inside
    `fitting_scale_factors` does it change: the first call there sets s = √(Var ref / Var y),
    the variances being means over features of each feature's variance over rows, as upstream.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("factor", torch.tensor(1.0))
        self.fitting = False

    def forward(self, reference: Tensor, y: Tensor) -> Tensor:
        if self.fitting:
            with torch.no_grad():
                ratio = reference.var(dim=0).mean() / y.var(dim=0).mean()
                if not torch.isfinite(ratio) or ratio <= 0:
                    raise ValueError(
                        f"Cannot fit a scale factor: variance ratio {float(ratio)} on the fit batch. "
                        "Fix: fit on a batch of several crystals with more than one atom each."
                    )
                self.factor.copy_(ratio.sqrt())
            self.fitting = False
        return y * self.factor


@contextmanager
def fitting_scale_factors(module: nn.Module) -> Iterator[None]:
    """Inside the block, every ScaleFactor of `module` fits itself on the first batch it sees.

    Run one forward pass inside: the factors fit in the order the data reaches them, so each
    one sees inputs already scaled by those before it (upstream fits them one at a time, one
    forward pass each, to the same effect). A factor the forward pass did not reach is an error.
    """
    factors = {name: m for name, m in module.named_modules() if isinstance(m, ScaleFactor)}
    for factor in factors.values():
        factor.fitting = True
    try:
        yield
        missed = [name for name, factor in factors.items() if factor.fitting]
    finally:
        for factor in factors.values():
            factor.fitting = False
    if missed:
        raise RuntimeError(
            f"The forward pass inside fitting_scale_factors did not reach {', '.join(missed)}."
        )
