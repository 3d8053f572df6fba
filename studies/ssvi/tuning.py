"""The fair-baseline protocol: every run's weight decay and epochs are chosen on a validation split carved
from the training set, by the posterior-predictive NLL there, before the test set is looked at.

A run that sets a grid key itself (e.g. the prototype runs, which reproduce ANCHORS.md's 200 epochs) keeps its
value for that key. A deep ensemble is tuned as one member (its members are independent deterministic nets),
so the grid costs one fit per point for every method.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from studies.ssvi.config import SSVIConfig


def grid_points(grid: dict[str, list[Any]], fixed: Iterable[str]) -> list[dict[str, Any]]:
    """Every combination of the grid's values over the keys the run does not fix ([{}]: nothing to tune)."""
    free = {k: v for k, v in grid.items() if k not in set(fixed)}
    return [dict(zip(free, values)) for values in itertools.product(*free.values())]


def tuning_config(cfg: SSVIConfig, point: dict[str, Any]) -> SSVIConfig:
    """The run's config at one grid point, as it is fitted for tuning (an ensemble as one member)."""
    tuned = replace(cfg, **point)
    return replace(tuned, ensemble_size=1) if tuned.method == "ensemble" else tuned


def fit_and_validation(split: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_fit, y_fit, X_val, y_val): the training set without and with only its `val_index` rows."""
    held = np.zeros(len(split["y_train"]), dtype=bool)
    held[split["val_index"]] = True
    X, y = split["X_train"], split["y_train"]
    return X[~held], y[~held], X[held], y[held]


def select(rows: list[dict[str, Any]], metric: str = "val_nll") -> dict[str, Any]:
    """The grid point with the lowest validation `metric` (the first of equals), without its scores."""
    best = min(rows, key=lambda r: r[metric])
    return {k: v for k, v in best.items() if not k.startswith("val_")}
