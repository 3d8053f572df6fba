from dataclasses import replace

import numpy as np
import pytest

from studies.common.metrics import clustering_accuracy
from studies.mlc.config import MLCConfig
from studies.mlc.data import union_of_subspaces
from studies.mlc.evaluate import assign_clusters, subspace_ranks
from studies.mlc.train import MLCFit, fit_mlc

# Three 3-dim subspaces in R^30: KMeans scores ≈ .4 here, so ACC ≥ .95 is a real test.
# η = 0.5 because with only 3 clusters the cpu default (0.175) splits each cluster in pieces.
TINY = MLCConfig(feature_dim=12, eta=0.5, warmup_steps=50, mlc_steps=50, log_every=10)


@pytest.fixture(scope="module")
def problem() -> tuple[np.ndarray, np.ndarray]:
    return union_of_subspaces(3, 3, 30, 100, noise=0.05, seed=0)


@pytest.fixture(scope="module")
def fit(problem):
    records: list[dict] = []
    result = fit_mlc(problem[0], TINY, seed=0, on_step=records.append, progress=False)
    result.records = records
    return result


def test_fit_returns_features_membership_and_history(fit, problem):
    n = len(problem[0])
    assert fit.Z.shape == (n, 12) and fit.Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fit.Z, axis=1), 1.0, rtol=1e-5)
    assert fit.gamma.shape == (n, n) and (fit.gamma >= 0).all()
    np.testing.assert_allclose(fit.gamma.sum(0), 1.0, atol=1e-4)
    assert not fit.model.training
    assert [r["step"] for r in fit.history] == [0, 10, 20, 30, 40, 49, 50, 60, 70, 80, 90, 99]
    assert {r["phase"] for r in fit.history[:6]} == {"tcr"} and {r["phase"] for r in fit.history[6:]} == {
        "mlc"
    }
    assert fit.records == fit.history
    assert fit.history[-1]["rate_reduction"] > 0


def test_fit_clusters_an_easy_union_of_subspaces(fit, problem):
    y = problem[1]
    labels = assign_clusters(fit.gamma, 3, seed=0)
    assert clustering_accuracy(y, labels) >= 0.95
    ranks = subspace_ranks(fit.Z, y)
    assert ranks["mean_per_cluster"] < ranks["overall"]  # each cluster on its own low-dim subspace


def test_fit_is_deterministic_under_a_seed(fit, problem):
    again = fit_mlc(problem[0], TINY, seed=0, progress=False)
    np.testing.assert_array_equal(again.Z, fit.Z)
    np.testing.assert_array_equal(again.gamma, fit.gamma)


def test_large_n_forms_gamma_on_anchors_only_and_saves_everything_to_rebuild(problem):
    cfg = replace(TINY, warmup_steps=5, mlc_steps=5, anchors=120, embed_batch=64)
    fit = fit_mlc(problem[0], cfg, seed=0, progress=False)
    assert fit.gamma.shape == (120, 120) and fit.C.shape == fit.Z.shape == (300, 12)
    assert len(set(fit.anchors.tolist())) == 120 and (np.diff(fit.anchors) > 0).all()
    np.testing.assert_allclose(fit.gamma.sum(0), 1.0, atol=1e-4)
    back = MLCFit.from_state(fit.to_state(), 30, cfg)
    np.testing.assert_array_equal(back.anchors, fit.anchors)
    np.testing.assert_array_equal(back.C, fit.C)
    full = fit_mlc(problem[0], replace(cfg, embed_batch=4096), seed=0, progress=False)  # batching: same Z
    np.testing.assert_allclose(full.Z, fit.Z, atol=1e-5)
