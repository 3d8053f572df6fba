from pathlib import Path

import numpy as np
from PIL import Image

from studies.intdim.figures import Crossing, accuracy_vs_d, d_int_intervals
from studies.intdim.intrinsic import Sweep

SWEEP = Sweep(
    np.array([0.97, 0.96, 0.98]), {100: np.array([0.5, 0.6, 0.55]), 1000: np.array([0.9, 0.92, 0.91])}
)


def test_accuracy_figure_is_a_png_and_the_same_numbers_give_the_same_bytes(tmp_path: Path) -> None:
    thresholds = {"0.9 × full-space mean": 0.873, "fixed 0.9": 0.9}
    a = accuracy_vs_d(SWEEP, thresholds, "fc", "test accuracy", tmp_path / "a.png")
    b = accuracy_vs_d(SWEEP, thresholds, "fc", "test accuracy", tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes() and Image.open(a).size[0] > 400


def test_interval_figure_draws_reached_and_unreached_crossings(tmp_path: Path) -> None:
    crossings = [
        Crossing("fc", "relative", 600.0, 500.0, 700.0, 2000),
        Crossing("fc", "fixed", 1200.0, 1000.0, np.inf, 2000),
        Crossing("lenet-pixels", "relative", None, np.inf, np.inf, 1800),
        Crossing("lenet-pixels", "fixed", None, np.inf, np.inf, 1800),
    ]
    path = d_int_intervals(crossings, {"fc": 750}, 0.95, tmp_path / "d.png")
    assert Image.open(path).size[1] > 100
