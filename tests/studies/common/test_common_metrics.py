import numpy as np
import pytest

from studies.common.metrics import cluster_scores, clustering_accuracy


def test_accuracy_is_one_under_any_relabelling():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    permuted = np.array([2, 0, 1])[y]
    assert clustering_accuracy(y, permuted) == 1.0
    assert cluster_scores(y, permuted) == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0})


def test_accuracy_on_a_hand_case():
    # best matching: cluster 1→class 0 (2 hits), cluster 0→class 1 (2 hits), cluster 2→class 2 (1 hit): 5/7
    y_true = np.array([0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([1, 1, 0, 0, 0, 2, 1])
    assert clustering_accuracy(y_true, y_pred) == pytest.approx(5 / 7)


def test_scores_of_a_constant_prediction():
    y = np.repeat(np.arange(4), 5)
    scores = cluster_scores(y, np.zeros_like(y))
    assert scores["acc"] == pytest.approx(0.25)
    assert scores["nmi"] == pytest.approx(0.0)
    assert scores["ari"] == pytest.approx(0.0)
