"""The paper's networks (its Table 1), initialised as its Keras code initialised them.

- `fc`: flatten → `depth` hidden layers of `width` ReLU units → classes. MNIST 784-200-200-10 has
  D = 199,210; CIFAR-10 3072-200-200-10 has D = 656,810; the shuffled-label net (5 × 400 on MNIST) 959,610.
- `lenet`: LeNet-5 as in the reference code: conv 6@5×5 (valid) → ReLU → 2×2 max-pool → conv 16@5×5 → ReLU →
  2×2 max-pool → 120 → 84 → classes, ReLU between. D = 44,426 on MNIST (1×28×28) and 62,006 on CIFAR-10
  (3×32×32), the D of the paper's Table 1.

Initialisation (reference: uber-research/intrinsic-dimension, intrinsic_dim/model_builders.py): every kernel
`he_normal`, every bias zero. Keras 2.1's he_normal is a normal of σ = √(2 / fan_in) truncated at 2σ.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ARCHS = ("fc", "lenet")


def fc(input_shape: tuple[int, ...], width: int, depth: int, n_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    n_in = math.prod(input_shape)
    for _ in range(depth):
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, n_classes))


def pooled_side(n: int) -> int:
    """An image side after LeNet's two (5×5 valid conv, 2×2 max-pool) stages: 28 → 4, 32 → 5."""
    return ((n - 4) // 2 - 4) // 2


def lenet(input_shape: tuple[int, ...], n_classes: int) -> nn.Sequential:
    channels, height, width = input_shape
    return nn.Sequential(
        nn.Conv2d(channels, 6, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * pooled_side(height) * pooled_side(width), 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, n_classes),
    )


def keras_init_(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """Kernels ~ he_normal (σ = √(2/fan_in), truncated at ±2σ), biases 0; in place, from `generator`."""
    for layer in net.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d):
            fan_in = layer.weight[0].numel()
            std = math.sqrt(2.0 / fan_in)
            nn.init.trunc_normal_(layer.weight, 0.0, std, -2 * std, 2 * std, generator=generator)
            nn.init.zeros_(layer.bias)
    return net


def build(
    arch: str, input_shape: tuple[int, ...], width: int, depth: int, n_classes: int, seed: int
) -> nn.Sequential:
    """The network `arch` for inputs of `input_shape` (C, H, W), initialised from `seed`: this is θ₀."""
    if arch == "fc":
        net = fc(input_shape, width, depth, n_classes)
    elif arch == "lenet":
        net = lenet(input_shape, n_classes)
    else:
        raise ValueError(f"Unknown architecture '{arch}'. Fix: use one of {', '.join(ARCHS)}.")
    return keras_init_(net, torch.Generator().manual_seed(seed))


def n_params(net: nn.Module) -> int:
    """D, the number of parameters trained in the full space."""
    return sum(p.numel() for p in net.parameters())
