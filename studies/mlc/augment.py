"""Augmentations for the TCR warm-up: small shifts for images, noise and entry dropout for any vector."""

from __future__ import annotations

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
    padded = F.pad(X.reshape(n, h, w), (s, s, s, s))
    dy, dx = (torch.randint(0, 2 * s + 1, (2, n), generator=generator)).to(X.device)
    rows = (dy[:, None] + torch.arange(h, device=X.device))[:, :, None]  # (n, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=X.device))[:, None, :]  # (n, 1, w)
    return padded[torch.arange(n, device=X.device)[:, None, None], rows, cols].reshape(n, h * w)


def augment(
    X: Tensor,
    generator: torch.Generator,
    *,
    noise_std: float,
    dropout: float,
    shift_pixels: int = 0,
    image_shape: tuple[int, int] | None = None,
) -> Tensor:
    """One random view of X (rows back on the unit sphere); shifts apply only when image_shape is given."""
    if image_shape is not None and shift_pixels:
        X = random_shift(X, image_shape, shift_pixels, generator)
    if noise_std:
        X = X + noise_std * torch.randn(X.shape, generator=generator).to(X.device)
    if dropout:
        X = X * (torch.rand(X.shape, generator=generator) >= dropout).to(X.device, X.dtype)
    return F.normalize(X, dim=1)
