"""Training and inference FLOPs counted analytically from the active weights (the paper's accounting).

A weight layer costs 2·(active weights)·(output positions) FLOPs per example per forward pass (one multiply
and one add each; positions = H·W for a conv, 1 for a linear layer). Bayesian layers sampled by local
reparameterisation run two such products (mean and variance); a training step is counted as 3 forward
passes (forward, input gradient, weight gradient). An SSVI support update also needs the dense weight
gradient once: 1 dense forward-equivalent per example of that batch. Dense VI is counted the same way with
every weight active. Activations, BatchNorm and the optimiser are left out, as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from studies.ssvi.layers import BayesianLayer

WEIGHT_LAYERS = (nn.Linear, nn.Conv2d, BayesianLayer)


def _positions(model: nn.Module, input_shape: tuple[int, ...]) -> dict[nn.Module, int]:
    """Output positions per weight layer, read from one forward pass with mean weights on a zero input."""
    found: dict[nn.Module, int] = {}
    hooks = [
        m.register_forward_hook(lambda mod, _i, out: found.__setitem__(mod, out[0, 0].numel()))
        for m in model.modules()
        if isinstance(m, WEIGHT_LAYERS)
    ]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros((1, *input_shape), device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return found


def _active(layer: nn.Module, dense: bool) -> int:
    if isinstance(layer, BayesianLayer):
        return layer.mask.numel() if dense else layer.support_size
    return layer.weight.numel()


def forward_flops(model: nn.Module, input_shape: tuple[int, ...], dense: bool = False) -> int:
    """FLOPs of one forward pass for one example (both local-reparameterisation products for Bayesian
    layers)."""
    total = 0
    for layer, positions in _positions(model, input_shape).items():
        paths = 2 if isinstance(layer, BayesianLayer) else 1
        total += 2 * _active(layer, dense) * positions * paths
    return total


def weight_count(model: nn.Module) -> dict[str, int]:
    """Non-zero (active) and total weights of the weight layers; biases and BatchNorm excluded."""
    layers = [m for m in model.modules() if isinstance(m, WEIGHT_LAYERS)]
    return {
        "nnz": sum(_active(m, dense=False) for m in layers),
        "total": sum(_active(m, dense=True) for m in layers),
    }
