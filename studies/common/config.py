"""Frozen hyperparameter records built from params.yaml overrides, refusing keys they do not know."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TypeVar

T = TypeVar("T")


def from_overrides(cls: type[T], overrides: Mapping) -> T:
    """`cls(**overrides)`, but a typo'd key fails with the list of valid keys instead of passing silently."""
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(
            f"Unknown {cls.__name__} key(s): {', '.join(unknown)}. Valid keys: {', '.join(valid)}."
        )
    return cls(**dict(overrides))
