"""Subspace training's reparametrisation: θ = θ₀ + P θ_d, with only θ_d trained.

Any nn.Module works: its own parameters are θ₀ (frozen, never copied), and each forward pass hands
θ₀ + P θ_d to it through torch.func.functional_call, so autograd reaches θ_d through P and nothing else.
θ_d starts at 0, so training starts from the ordinary initialisation (the reference code's ThetaPrime, a zero
vector; uber-research/intrinsic-dimension, keras_ext/rproj_layers_util.py).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call

from studies.intdim.models import n_params
from studies.intdim.projections import Projection


class SubspaceModel(nn.Module):
    """`net` reparametrised as θ₀ + P θ_d; `theta_d` is the one trainable parameter."""

    def __init__(self, net: nn.Module, projection: Projection) -> None:
        super().__init__()
        if projection.D != n_params(net):
            raise ValueError(
                f"the projection maps to D={projection.D}, but the network has {n_params(net)} parameters. "
                "Fix: draw the projection with D = n_params(net)."
            )
        self.net = net.requires_grad_(False)
        self.projection = projection
        dtype = next(net.parameters()).dtype
        self.theta_d = nn.Parameter(torch.zeros(projection.d, dtype=dtype))

    def theta(self) -> dict[str, torch.Tensor]:
        """The network's parameters now, θ₀ + P θ_d, by name."""
        named = list(self.net.named_parameters())
        offsets = self.projection(self.theta_d).split([p.numel() for _, p in named])
        return {name: p + offset.view_as(p) for (name, p), offset in zip(named, offsets)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.net, self.theta(), (x,))

    def materialize(self) -> nn.Module:
        """A plain copy of the network holding θ₀ + P θ_d: for evaluation, saving or serving."""
        net = copy.deepcopy(self.net)
        with torch.no_grad():
            for name, value in self.theta().items():
                net.get_parameter(name).copy_(value)
        return net
