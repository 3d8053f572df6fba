import math

import numpy as np
import pytest

from studies.intdim.intrinsic import (
    Sweep,
    bootstrap_d_int,
    d_int,
    d_int_interpolated,
    d_int_within_noise,
    summary,
    sweep_from_records,
)


def table(rows: dict[int, list[float]], baseline: list[float]) -> Sweep:
    return Sweep(np.array(baseline), {d: np.array(v) for d, v in rows.items()})


MNIST_LIKE = table(
    {100: [0.50, 0.52, 0.51], 300: [0.85, 0.86, 0.87], 500: [0.88, 0.89, 0.90], 1000: [0.95, 0.95, 0.96]},
    baseline=[0.98, 0.98, 0.98],
)


def test_d_int90_is_the_first_grid_d_whose_mean_reaches_ninety_percent() -> None:
    assert d_int(MNIST_LIKE) == 500  # threshold 0.882: mean 0.86 at 300, 0.89 at 500
    assert d_int(MNIST_LIKE, baseline=1.0) == 1000  # the reference's MNIST convention: 0.9 absolute
    assert d_int(MNIST_LIKE, fraction=0.99) is None  # never reached inside the grid
    exactly = table({10: [0.8], 20: [0.9]}, baseline=[1.0])
    assert d_int(exactly) == 20  # reaching the threshold exactly counts


def test_interpolation_is_linear_in_log_d_between_the_grid_points_around_the_crossing() -> None:
    sweep = table({100: [0.80], 1000: [0.90], 10_000: [0.95]}, baseline=[1.0])
    assert d_int_interpolated(sweep, fraction=0.85) == pytest.approx(10**2.5)
    assert d_int(sweep, fraction=0.85) == 1000
    assert d_int_interpolated(sweep, fraction=0.5) == 100  # reached at the first grid point
    assert d_int_interpolated(sweep, fraction=0.99) is None


def test_within_noise_compares_with_the_standard_error_of_the_difference() -> None:
    sweep = table(
        {10: [0.90, 0.91, 0.92], 20: [0.95, 0.97, 0.96], 40: [0.97, 0.98, 0.99]}, [0.97, 0.98, 0.99]
    )
    # at d = 20 the gap is 0.02 and SE = √(1e-4/3 + 1e-4/3) ≈ 0.0082: 2.45 SE, still distinguishable at z = 2
    assert d_int_within_noise(sweep) == 40
    assert d_int_within_noise(sweep, z=3.0) == 20
    assert d_int_within_noise(sweep, z=0.0, tolerance=0.1) == 10


def test_bootstrap_collapses_without_seed_spread_and_brackets_the_estimate_with_it() -> None:
    still = table({100: [0.5, 0.5], 300: [0.95, 0.95]}, baseline=[1.0, 1.0])
    assert (bootstrap_d_int(still).low, bootstrap_d_int(still).high) == (300, 300)
    # d = 100 reaches 0.9 in a replicate that draws 0.95 at least twice (probability 7/27); d = 200 always
    noisy = table({100: [0.80, 0.95, 0.85], 200: [0.91, 0.93, 0.92], 400: [0.95, 0.96, 0.95]}, [1.0] * 3)
    assert d_int(noisy) == 200
    interval = bootstrap_d_int(noisy, seed=1)
    assert interval.low == 100 and interval.high == 200 and interval.unresolved == 0
    assert bootstrap_d_int(noisy, seed=1) == interval  # seeded
    interp = bootstrap_d_int(noisy, interpolated=True, seed=1)
    assert 100 <= interp.low < interp.high <= 200


def test_bootstrap_reports_replicates_that_never_reach_the_threshold() -> None:
    edge = table({100: [0.5, 0.5], 200: [0.86, 0.98]}, baseline=[1.0])
    interval = bootstrap_d_int(edge, n_boot=4000, seed=0)
    assert interval.unresolved == pytest.approx(0.25, abs=0.03)  # both draws 0.86 with probability 1/4
    assert interval.low == 200 and math.isinf(interval.high)


def test_records_become_a_sweep_and_a_summary() -> None:
    records = [{"d": 0, "test_acc": 0.98}, {"d": 0, "test_acc": 0.96}]
    records += [{"d": d, "test_acc": acc} for d, acc in [(300, 0.80), (100, 0.5), (300, 0.90), (900, 0.95)]]
    sweep = sweep_from_records(records)
    assert list(sweep.grid) == [100, 300, 900] and sweep.runs[300].tolist() == [0.80, 0.90]
    out = summary(sweep)
    assert out["baseline"] == pytest.approx(0.97) and out["d_int"] == 900 and out["seeds"][300] == 2
    assert out["d_int_low"] <= out["d_int"] <= out["d_int_high"]
    with pytest.raises(ValueError, match="baseline is missing"):
        sweep_from_records(records[2:])
