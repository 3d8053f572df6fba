import pytest

from studies.mlc.baselines import run_baselines
from studies.mlc.data import union_of_subspaces


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")  # kNN graph of separate subspaces
def test_run_baselines_returns_the_four_methods_with_scores_in_range():
    X, y = union_of_subspaces(3, 2, 40, 40, noise=0.05, seed=0)
    results = run_baselines(X, y, n_clusters=3, seed=0)
    assert set(results) == {"kmeans", "gmm_pca30", "spectral_knn10", "agglomerative_ward"}
    for scores in results.values():
        assert set(scores) == {"acc", "nmi", "ari"}
        assert 0.0 <= scores["acc"] <= 1.0 and 0.0 <= scores["nmi"] <= 1.0 and scores["ari"] <= 1.0


def test_gmm_copes_with_clusters_on_low_dimensional_subspaces() -> None:
    """Full covariances of 3-dim clusters in R^30 are near-singular; float32 made GaussianMixture fail
    here."""
    X, y = union_of_subspaces(3, 3, 30, 100, 0.05, seed=0)
    scores = run_baselines(X, y, 3, seed=0)
    assert set(scores) == {"kmeans", "gmm_pca30", "spectral_knn10", "agglomerative_ward"}


@pytest.mark.filterwarnings("ignore:Graph is not fully connected")
def test_spectral_and_ward_run_on_a_subsample_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from studies.mlc import baselines

    seen: dict[str, int] = {}
    for name in ("SpectralClustering", "AgglomerativeClustering", "KMeans"):
        cls = getattr(baselines, name)
        monkeypatch.setattr(baselines, name, lambda *a, _cls=cls, _n=name, **k: _Spy(_cls(*a, **k), _n, seen))
    X, y = union_of_subspaces(3, 2, 40, 40, noise=0.05, seed=0)
    run_baselines(X, y, 3, seed=0, subsample=50)
    assert seen == {"SpectralClustering": 50, "AgglomerativeClustering": 50, "KMeans": 120}


class _Spy:
    """Records how many rows a clustering model was fitted on."""

    def __init__(self, model, name: str, seen: dict[str, int]):
        self.model, self.name, self.seen = model, name, seen

    def fit_predict(self, X):
        self.seen[self.name] = len(X)
        return self.model.fit_predict(X)
