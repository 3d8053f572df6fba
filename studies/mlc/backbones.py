"""Backbones for MLC: an MLP for vectors, a small CNN for 28×28 images on 2 CPU cores, ResNet-18 for CIFAR.

Each takes flattened rows (n, D) — the prepared data and the augmentations work on rows — and reshapes them
to (n, C, H, W) itself when it is convolutional, with C = D / (H·W) and channels stored last.
"""

from __future__ import annotations

from torch import Tensor, nn


def mlp(in_dim: int, hidden_dim: int, n_hidden: int) -> tuple[nn.Module, int]:
    """Linear→BatchNorm→ReLU blocks (the digits calibration in ANCHORS.md)."""
    blocks: list[nn.Module] = []
    for i in range(n_hidden):
        blocks += [
            nn.Linear(in_dim if i == 0 else hidden_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(),
        ]
    return nn.Sequential(*blocks), hidden_dim if n_hidden else in_dim


class _Images(nn.Module):
    """Rows (n, H·W·C), channels last, → (n, C, H, W)."""

    def __init__(self, image_shape: tuple[int, int], channels: int):
        super().__init__()
        self.shape = (*image_shape, channels)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), *self.shape).permute(0, 3, 1, 2)


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def small_cnn(
    image_shape: tuple[int, int], channels: int, width: int, hidden_dim: int
) -> tuple[nn.Module, int]:
    """Three 3×3 conv blocks (width, 2·width, 4·width; the last two with stride 2), global average pooling,
    then one Linear→BatchNorm→ReLU block: ≈ 2·10⁶ multiply-adds per 28×28 image at width 16, which two CPU
    cores train at a few hundred images a second."""
    layers = [
        _Images(image_shape, channels),
        *_conv_bn(channels, width),
        *_conv_bn(width, 2 * width, stride=2),
        *_conv_bn(2 * width, 4 * width, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * width, hidden_dim),
        nn.BatchNorm1d(hidden_dim),
        nn.ReLU(),
    ]
    return nn.Sequential(*layers), hidden_dim


class _Block(nn.Module):
    """ResNet basic block: two 3×3 convs and a shortcut (1×1 conv where the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(c_in, c_out, stride),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x: Tensor) -> Tensor:
        return (self.body(x) + self.shortcut(x)).relu()


def resnet18(image_shape: tuple[int, int], channels: int) -> tuple[nn.Module, int]:
    """ResNet-18 in its CIFAR form (3×3 stem, no max-pool), as the MLC paper's CIFAR experiments use; 512
    features after global average pooling."""
    stages, c_in = [], 64
    for c_out, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        stages += [_Block(c_in, c_out, stride), _Block(c_out, c_out, 1)]
        c_in = c_out
    return nn.Sequential(
        _Images(image_shape, channels),
        *_conv_bn(channels, 64),
        *stages,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    ), 512
