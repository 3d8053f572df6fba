"""The networks of the study, built from one layer factory so each comes as deterministic, MC-dropout or
Bayesian.

`mlp` (flattened image → width → width → classes) and `cnn` (two 3×3 convs) are the `cpu` profile's;
`resnet18` (the CIFAR variant: 3×3 stem, no max-pool) is the paper's. BatchNorm stays deterministic in the
Bayesian ResNet, as in the paper's code base. With `dense_first`, the first weight layer of a Bayesian net
keeps every weight (the reference code's layout; SSVI then never prunes or regrows it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from studies.ssvi.layers import BayesianConv2d, BayesianLinear


@dataclass
class LayerFactory:
    """kind: deterministic | dropout | bayesian. Dropout (p) goes before every weight layer but the first."""

    kind: str
    density: float = 1.0
    prior_std: float = 1.0
    init_sigma: float = 1e-3
    dropout: float = 0.0
    generator: torch.Generator | None = None
    dense_first: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("deterministic", "dropout", "bayesian"):
            raise ValueError(f"Unknown layer kind '{self.kind}'. Fix: deterministic, dropout or bayesian.")

    def linear(self, n_in: int, n_out: int, first: bool = False) -> nn.Module:
        if self.kind == "bayesian":
            return BayesianLinear(
                n_in, n_out, self._density(first), self.prior_std, self.init_sigma, self.generator
            )
        return self._with_dropout(nn.Linear(n_in, n_out), first)

    def conv(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int = 1,
        padding: int = 0,
        first: bool = False,
        bias: bool = True,
    ) -> nn.Module:
        if self.kind == "bayesian":
            return BayesianConv2d(
                c_in,
                c_out,
                kernel,
                stride,
                padding,
                self._density(first),
                self.prior_std,
                self.init_sigma,
                self.generator,
            )
        return self._with_dropout(nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=bias), first)

    def _density(self, first: bool) -> float:
        return 1.0 if first and self.dense_first else self.density

    def _with_dropout(self, layer: nn.Module, first: bool) -> nn.Module:
        return layer if self.kind != "dropout" or first else nn.Sequential(nn.Dropout(self.dropout), layer)


def mlp(f: LayerFactory, shape: tuple[int, ...], n_classes: int, width: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        f.linear(math.prod(shape), width, first=True),
        nn.ReLU(),
        f.linear(width, width),
        nn.ReLU(),
        f.linear(width, n_classes),
    )


def cnn(f: LayerFactory, shape: tuple[int, ...], n_classes: int, width: int) -> nn.Module:
    """C×H×W → conv16 → conv32 → 2×2 max-pool → 32·(H/2)·(W/2) → 64 → classes (8×8 digits: 512 → 64)."""
    c, h, w = shape
    return nn.Sequential(
        f.conv(c, 16, 3, padding=1, first=True),
        nn.ReLU(),
        f.conv(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        f.linear(32 * (h // 2) * (w // 2), 64),
        nn.ReLU(),
        f.linear(64, n_classes),
    )


class BasicBlock(nn.Module):
    def __init__(self, f: LayerFactory, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = f.conv(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = f.conv(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(f.conv(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, f: LayerFactory, shape: tuple[int, ...], n_classes: int, width: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            f.conv(shape[0], 64, 3, 1, 1, first=True, bias=False), nn.BatchNorm2d(64), nn.ReLU()
        )
        blocks, c_in = [], 64
        for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(f, c_in, c_out, stride), BasicBlock(f, c_out, c_out, 1)]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = f.linear(512, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1))


ARCHITECTURES = {"mlp": mlp, "cnn": cnn, "resnet18": ResNet18}


def build(
    arch: str, factory: LayerFactory, shape: tuple[int, ...], n_classes: int = 10, width: int = 256
) -> nn.Module:
    """The network `arch` for C×H×W inputs of `shape` (`width`: the MLP's hidden units; others ignore it)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture '{arch}'. Fix: use one of {', '.join(ARCHITECTURES)}.")
    return ARCHITECTURES[arch](factory, shape, n_classes, width)
