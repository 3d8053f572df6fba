"""Bayesian linear and conv layers: a mean-field Gaussian on a sparse support, sampled by local
reparameterisation.

Each weight has q(θ_i) = N(μ_i, σ_i²) with σ = softplus(ρ) when it is in the support γ (mask 1) and is exactly
zero otherwise (SSVI, Li et al. 2024, §3). The mask is shared by μ and ρ; masked entries get no gradient, and
`sparsity.update_support` clears their optimiser state, so they stay inert until the support takes them back.
Biases are point estimates (no KL), as weights carry the posterior here; stated in the report.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


def inverse_softplus(x: float) -> float:
    return math.log(math.expm1(x))


class BayesianLayer(nn.Module, ABC):
    """Shared state and maths of the Gaussian layers; subclasses say how a weight tensor acts on the input."""

    def __init__(
        self,
        weight_shape: tuple[int, ...],
        fan_in: int,
        density: float,
        prior_std: float,
        init_sigma: float,
        generator: torch.Generator | None,
    ) -> None:
        super().__init__()
        if not 0.0 < density <= 1.0:
            raise ValueError(
                f"density={density}: must be in (0, 1]. Fix: use e.g. 0.1 for SSVI, 1.0 for dense VI."
            )
        bound = 1.0 / math.sqrt(fan_in)  # nn.Linear / nn.Conv2d's default init (kaiming_uniform with a=√5)
        self.weight_mu = nn.Parameter((torch.rand(weight_shape, generator=generator) * 2 - 1) * bound)
        self.weight_rho = nn.Parameter(torch.full(weight_shape, inverse_softplus(init_sigma)))
        self.bias = nn.Parameter((torch.rand(weight_shape[0], generator=generator) * 2 - 1) * bound)
        self.register_buffer("mask", random_mask(weight_shape, density, generator))
        self.prior_std = prior_std
        self.sample = True  # False: forward with the mean weights (see `mean_weights`)
        self.keep_mean_weight = False  # True: keep the masked mean weight so a dense ∂L/∂μ can be read off it
        self.last_mean_weight: torch.Tensor | None = None

    @property
    def support_size(self) -> int:
        return int(self.mask.sum().item())

    @property
    def sigma(self) -> torch.Tensor:
        return F.softplus(self.weight_rho)

    def kl(self) -> torch.Tensor:
        """KL(q‖p) over the support, against the prior N(0, prior_std²) (closed form)."""
        sigma, mu, s0 = self.sigma, self.weight_mu, self.prior_std
        per_weight = torch.log(s0 / sigma) + (sigma**2 + mu**2) / (2 * s0**2) - 0.5
        return (per_weight * self.mask).sum()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean_weight = self.weight_mu * self.mask
        if self.keep_mean_weight:
            mean_weight.retain_grad()
            self.last_mean_weight = mean_weight
        mean = self.apply_weight(x, mean_weight, self.bias)
        if not self.sample:
            return mean
        # Local reparameterisation (Kingma et al. 2015): the pre-activation is Gaussian given x, so sample it
        # directly, one draw per example, instead of one weight matrix per batch.
        var = self.apply_weight(x * x, self.sigma**2 * self.mask, None)
        return mean + torch.sqrt(var + 1e-16) * torch.randn_like(mean)

    @abstractmethod
    def apply_weight(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """The layer's product (linear or convolution) of an input with a weight tensor."""


class BayesianLinear(BayesianLayer):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        density: float = 1.0,
        prior_std: float = 1.0,
        init_sigma: float = 1e-3,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__((out_features, in_features), in_features, density, prior_std, init_sigma, generator)

    def apply_weight(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, weight, bias)


class BayesianConv2d(BayesianLayer):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        density: float = 1.0,
        prior_std: float = 1.0,
        init_sigma: float = 1e-3,
        generator: torch.Generator | None = None,
    ) -> None:
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        super().__init__(shape, in_channels * kernel_size**2, density, prior_std, init_sigma, generator)
        self.stride, self.padding = stride, padding

    def apply_weight(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return F.conv2d(x, weight, bias, stride=self.stride, padding=self.padding)


def random_mask(shape: tuple[int, ...], density: float, generator: torch.Generator | None) -> torch.Tensor:
    """Exactly round(density·n) ones (at least one) at uniformly random positions: SSVI's random initial
    subspace."""
    n = math.prod(shape)
    keep = max(1, round(density * n))
    mask = torch.zeros(n)
    mask[torch.randperm(n, generator=generator)[:keep]] = 1.0
    return mask.view(shape)


def bayesian_layers(model: nn.Module) -> list[BayesianLayer]:
    return [m for m in model.modules() if isinstance(m, BayesianLayer)]


def total_kl(model: nn.Module) -> torch.Tensor:
    kls = [layer.kl() for layer in bayesian_layers(model)]
    return torch.stack(kls).sum() if kls else torch.zeros(())


@contextmanager
def mean_weights(model: nn.Module) -> Iterator[None]:
    """Forward with μ instead of samples (the 'mean weights' predictive), restoring sampling afterwards."""
    layers = bayesian_layers(model)
    for layer in layers:
        layer.sample = False
    try:
        yield
    finally:
        for layer in layers:
            layer.sample = True
