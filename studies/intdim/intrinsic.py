"""The intrinsic dimension of a sweep: from accuracies per (d, seed) to d_int90, its interpolated value,
a bootstrap interval over seeds, and the "within noise of the baseline" dimension (the paper's d_int100).

Definitions (Li et al. 2018, §2): d_int90 is the smallest d in the grid whose mean accuracy over seeds
reaches 90 % of the baseline, the same network trained in its full space. The report's headline is this grid
value, the paper's own definition and what its Table 1 lists; the interpolated value (the crossing of the
mean curve, linear in log d between the grid points around it, since the grids are roughly geometric) is
shown beside it, and says how much of the headline is grid spacing.

The baseline is the mean full-space accuracy unless one is given. The reference notebook
(uber-research/intrinsic-dimension, intrinsic_dim/plots/main_plots.ipynb) used a baseline of 1.0 for its MNIST
numbers (750, 290, 1,400: a 0.9 accuracy threshold) and the full-space mean for CIFAR-10 (2,900); a
comparison with Table 1 should pass the same. It used ">" where this uses "≥", and its bootstrap drew one run
per d; this one resamples the seeds of every d (and of the baseline) with replacement and takes their mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sweep:
    """Scores by subspace dimension, one per seed: runs[d] for each d > 0, baseline for the full space."""

    baseline: np.ndarray
    runs: dict[int, np.ndarray]

    def __post_init__(self) -> None:
        if not len(self.baseline) or not self.runs or any(not len(v) for v in self.runs.values()):
            raise ValueError("a sweep needs full-space runs and at least one run at each of its d.")

    @property
    def grid(self) -> np.ndarray:
        return np.array(sorted(self.runs))

    def means(self) -> np.ndarray:
        return np.array([self.runs[d].mean() for d in self.grid])


def sweep_from_records(records: Iterable[Mapping], metric: str = "test_acc") -> Sweep:
    """Records with keys d (0: full space) and `metric` → a Sweep."""
    by_d: dict[int, list[float]] = {}
    for record in records:
        by_d.setdefault(int(record["d"]), []).append(float(record[metric]))
    if 0 not in by_d:
        raise ValueError("no full-space run (d = 0) among the records: the baseline is missing.")
    baseline = np.array(by_d.pop(0))
    return Sweep(baseline, {d: np.array(v) for d, v in sorted(by_d.items())})


def first_crossing(grid: np.ndarray, means: np.ndarray, threshold: float) -> tuple[int, float] | None:
    """(smallest grid d whose mean ≥ threshold, the crossing interpolated linearly in log d), or None when
    no d in the grid reaches it."""
    reached = np.flatnonzero(means >= threshold)
    if not len(reached):
        return None
    i = int(reached[0])
    if i == 0:
        return int(grid[0]), float(grid[0])
    lo, hi = np.log(grid[i - 1]), np.log(grid[i])
    t = (threshold - means[i - 1]) / (means[i] - means[i - 1])
    return int(grid[i]), float(math.exp(lo + t * (hi - lo)))


def d_int(sweep: Sweep, fraction: float = 0.9, baseline: float | None = None) -> int | None:
    """d_int90 (for fraction 0.9): the smallest d whose mean score ≥ fraction × baseline."""
    crossing = first_crossing(sweep.grid, sweep.means(), fraction * _baseline(sweep, baseline))
    return None if crossing is None else crossing[0]


def d_int_interpolated(sweep: Sweep, fraction: float = 0.9, baseline: float | None = None) -> float | None:
    crossing = first_crossing(sweep.grid, sweep.means(), fraction * _baseline(sweep, baseline))
    return None if crossing is None else crossing[1]


def d_int_within_noise(sweep: Sweep, z: float = 2.0, tolerance: float = 0.0) -> int | None:
    """The paper's d_int100: the smallest d whose mean score is statistically indistinguishable from the
    full-space mean, i.e. at most max(z·SE, tolerance) below it, SE the standard error of the difference of
    the two means (seed-to-seed spread, ddof 1)."""

    def variance_of_mean(x: np.ndarray) -> float:
        return float(x.var(ddof=1) / len(x)) if len(x) > 1 else 0.0

    base = sweep.baseline
    for d in sweep.grid:
        gap = max(z * math.sqrt(variance_of_mean(sweep.runs[d]) + variance_of_mean(base)), tolerance)
        if sweep.runs[d].mean() >= base.mean() - gap:
            return int(d)
    return None


@dataclass(frozen=True)
class Interval:
    """A bootstrap percentile interval of d_int; `high` is inf when more than the upper tail of replicates
    reached the threshold nowhere in the grid (their share is `unresolved`)."""

    low: float
    high: float
    level: float
    unresolved: float


def bootstrap_d_int(
    sweep: Sweep,
    fraction: float = 0.9,
    baseline: float | None = None,
    interpolated: bool = False,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile interval of d_int (grid or interpolated) over seeds: each replicate resamples, with
    replacement, the runs at every d and (unless `baseline` is fixed) the full-space runs."""
    rng = np.random.default_rng(seed)
    grid = sweep.grid
    resampled = np.stack([_resampled_means(sweep.runs[d], n_boot, rng) for d in grid], axis=1)
    bases = (
        np.full(n_boot, baseline) if baseline is not None else _resampled_means(sweep.baseline, n_boot, rng)
    )
    values = np.full(n_boot, np.inf)
    for b in range(n_boot):
        crossing = first_crossing(grid, resampled[b], fraction * bases[b])
        if crossing is not None:
            values[b] = crossing[1] if interpolated else crossing[0]
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail], method="inverted_cdf")
    return Interval(float(low), float(high), level, float(np.mean(np.isinf(values))))


def summary(sweep: Sweep, fraction: float = 0.9, baseline: float | None = None, seed: int = 0) -> dict:
    """Everything the report states about one network's sweep."""
    interval = bootstrap_d_int(sweep, fraction, baseline, seed=seed)
    return {
        "baseline": _baseline(sweep, baseline),
        "threshold": fraction * _baseline(sweep, baseline),
        "d_int": d_int(sweep, fraction, baseline),
        "d_int_interpolated": d_int_interpolated(sweep, fraction, baseline),
        "d_int_low": interval.low,
        "d_int_high": interval.high,
        "d_int_level": interval.level,
        "d_int_unresolved": interval.unresolved,
        "d_int100": d_int_within_noise(sweep),
        "seeds": {int(d): len(sweep.runs[d]) for d in sweep.grid},
    }


def _baseline(sweep: Sweep, baseline: float | None) -> float:
    return float(sweep.baseline.mean()) if baseline is None else float(baseline)


def _resampled_means(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    return x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
