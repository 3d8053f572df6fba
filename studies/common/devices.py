"""Pick the torch device a config names, failing early with the fix when it is not there."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """'cpu', 'cuda', 'cuda:1' or 'auto' (a GPU when one is visible)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device '{name}' was asked for but no CUDA GPU is visible here. Run this profile on a GPU "
            "machine, or override it, e.g. --set mlc.train.digits.device=cpu (or device=auto)."
        )
    return device
