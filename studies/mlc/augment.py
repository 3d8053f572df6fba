"""Augmentations for the TCR warm-up: shifts, small rotations/scalings and flips for images, noise and entry
dropout for any vector. Images travel as flattened rows, channels last."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_shift(
    X: Tensor, image_shape: tuple[int, int], max_shift: int, generator: torch.Generator
) -> Tensor:
    """Move each flattened image by its own random (dy, dx) in [-max_shift, max_shift]², filling with
    zeros."""
    n = X.shape[0]
    h, w = image_shape
    s = max_shift
    padded = F.pad(X.reshape(n, h, w, -1), (0, 0, s, s, s, s))
    dy, dx = (torch.randint(0, 2 * s + 1, (2, n), generator=generator)).to(X.device)
    rows = (dy[:, None] + torch.arange(h, device=X.device))[:, :, None]  # (n, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=X.device))[:, None, :]  # (n, 1, w)
    return padded[torch.arange(n, device=X.device)[:, None, None], rows, cols].reshape(n, -1)


def random_affine(
    X: Tensor, image_shape: tuple[int, int], degrees: float, scale: float, generator: torch.Generator
) -> Tensor:
    """Rotate each image by its own angle in ±degrees and scale it by a factor in 1 ± scale (bilinear, zeros
    outside): the small deformations handwriting and clothing photos vary by, which a crop cannot give a
    28×28 digit without cutting strokes off."""
    n = X.shape[0]
    h, w = image_shape
    images = X.reshape(n, h, w, -1).permute(0, 3, 1, 2)
    u = torch.rand(2, n, generator=generator).to(X.device)
    angle = (2 * u[0] - 1) * math.radians(degrees)
    factor = 1 + (2 * u[1] - 1) * scale
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    zeros = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)
    return out.permute(0, 2, 3, 1).reshape(n, -1)


def random_hflip(X: Tensor, image_shape: tuple[int, int], generator: torch.Generator) -> Tensor:
    """Mirror half of the images left-right (natural photos; not digits)."""
    n = X.shape[0]
    images = X.reshape(n, *image_shape, -1)
    flip = (torch.rand(n, generator=generator) < 0.5).to(X.device)
    return torch.where(flip[:, None, None, None], images.flip(2), images).reshape(n, -1)


def augment(
    X: Tensor,
    generator: torch.Generator,
    *,
    noise_std: float,
    dropout: float,
    shift_pixels: int = 0,
    rotate_degrees: float = 0.0,
    scale: float = 0.0,
    hflip: bool = False,
    image_shape: tuple[int, int] | None = None,
) -> Tensor:
    """One random view of X (rows back on the unit sphere); the image transforms apply only when
    image_shape is given."""
    if image_shape is not None:
        if rotate_degrees or scale:
            X = random_affine(X, image_shape, rotate_degrees, scale, generator)
        if shift_pixels:
            X = random_shift(X, image_shape, shift_pixels, generator)
        if hflip:
            X = random_hflip(X, image_shape, generator)
    if noise_std:
        X = X + noise_std * torch.randn(X.shape, generator=generator).to(X.device)
    if dropout:
        X = X * (torch.rand(X.shape, generator=generator) >= dropout).to(X.device, X.dtype)
    return F.normalize(X, dim=1)
