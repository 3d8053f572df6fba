import numpy as np

from studies.common import calibration


def _calibrated_toy(n: int = 200_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes, confidence c ~ U(0.5, 1), label drawn so that P(correct) = c exactly."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(0.5, 1.0, n)
    probs = np.stack([c, 1 - c], axis=1)
    y = np.where(rng.uniform(size=n) < c, 0, 1)
    return probs, y


def test_ece_of_a_calibrated_predictor_is_near_zero() -> None:
    probs, y = _calibrated_toy()
    assert calibration.ece(probs, y) < 0.005
    assert calibration.marginal_l2_ce(probs, y) < 0.01


def test_ece_of_an_overconfident_predictor_is_its_confidence_gap() -> None:
    """Always 99 % sure, right 70 % of the time: every example sits in the top bin, ECE = 0.99 − 0.70."""
    rng = np.random.default_rng(1)
    n = 100_000
    y = np.where(rng.uniform(size=n) < 0.7, 0, 1)
    probs = np.tile([0.99, 0.01], (n, 1))
    assert abs(calibration.ece(probs, y) - (0.99 - np.mean(y == 0))) < 1e-9
    assert calibration.marginal_l2_ce(probs, y) > 0.25


def test_reliability_bins_are_right_closed_and_count_every_example() -> None:
    probs = np.array([[1 / 15, 14 / 15], [0.5, 0.5], [1.0, 0.0]])
    r = calibration.reliability(probs, np.array([1, 0, 0]))
    assert r["count"].sum() == 3  # 14/15 ∈ (13/15, 14/15], 0.5 ∈ (7/15, 8/15], 1.0 in the last bin
    assert r["count"][13] == 1 and r["count"][7] == 1 and r["count"][14] == 1


def test_scores_nll_and_entropy() -> None:
    probs = np.array([[0.5, 0.5], [0.9, 0.1]])
    s = calibration.scores(probs, np.array([0, 0]))
    assert s["acc"] == 1.0  # argmax of a tie is the first class
    assert np.isclose(s["nll"], -(np.log(0.5) + np.log(0.9)) / 2)
    assert np.isclose(calibration.entropy(probs)[0], np.log(2))
