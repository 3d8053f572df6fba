"""Predictive-distribution scores shared by the studies: NLL, ECE, the marginal L2 calibration error,
entropy."""

from __future__ import annotations

import calibration as uncertainty_calibration
import numpy as np

ECE_BINS = 15


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels under the predictive distribution (clipped at 1e-12)."""
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Top-label confidence vs accuracy in `bins` equal-width bins on [0, 1]: the reliability diagram's
    data."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(np.float64)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)  # bin b holds (b/B, (b+1)/B]
    count = np.bincount(which, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(which, weights=correct, minlength=bins) / count
        conf = np.bincount(which, weights=confidence, minlength=bins) / count
    return {"count": count, "accuracy": acc, "confidence": conf, "edges": np.linspace(0.0, 1.0, bins + 1)}


def ece(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error on the top label, equal-width bins (Guo et al. 2017):
    Σ_b n_b/n |acc_b − conf_b|."""
    r = reliability(probs, y, bins)
    used = r["count"] > 0
    return float(np.sum(r["count"][used] * np.abs(r["accuracy"][used] - r["confidence"][used])) / len(y))


def marginal_l2_ce(probs: np.ndarray, y: np.ndarray) -> float:
    """The uncertainty-calibration package's `get_calibration_error` (every class's marginal, L2, equal-mass
    bins): the marginal calibration error SSVI's code reports beside ECE. The plug-in estimate rather than the
    package's debiased default, which clips to 0 for well-calibrated nets and so hides differences."""
    return float(uncertainty_calibration.get_calibration_error(probs, y, debias=False))


def entropy(probs: np.ndarray) -> np.ndarray:
    """Predictive entropy per example, in nats."""
    return -np.sum(probs * np.log(np.clip(probs, 1e-12, None)), axis=1)


def scores(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, NLL, ECE (15 bins), marginal L2 CE and mean entropy of one predictive distribution."""
    return {
        "acc": float(np.mean(probs.argmax(axis=1) == y)),
        "nll": nll(probs, y),
        "ece": ece(probs, y),
        "marginal_l2_ce": marginal_l2_ce(probs, y),
        "entropy": float(np.mean(entropy(probs))),
    }
