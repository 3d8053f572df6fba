"""Classical clustering baselines scored the same way as MLC."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from studies.common.metrics import cluster_scores


def run_baselines(
    X: np.ndarray, y: np.ndarray, n_clusters: int, seed: int, subsample: int | None = None
) -> dict[str, dict[str, float]]:
    """Scores of KMeans, GMM on PCA-30, kNN spectral clustering and Ward agglomeration on X.

    Pass the same X that MLC gets (for digits: L2-normalised rows) so that the
    comparison is about the method, not the preprocessing. KMeans and the GMM see all
    n points; with `subsample` set and n above it, spectral clustering (a sparse 10-NN
    graph, ARPACK) and Ward (n² memory) run on a seeded random subset of that size and
    are scored on it.
    """
    # float64: full covariances of clusters that lie near low-dimensional subspaces are close to singular
    pca = PCA(n_components=min(30, *X.shape), random_state=seed).fit_transform(X.astype(np.float64))
    keep = (
        np.sort(np.random.default_rng(seed).permutation(len(X))[:subsample])
        if subsample and len(X) > subsample
        else np.arange(len(X))
    )
    predictions = {
        "kmeans": (KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(X), None),
        "gmm_pca30": (
            GaussianMixture(n_components=n_clusters, covariance_type="full", random_state=seed).fit_predict(
                pca
            ),
            None,
        ),
        "spectral_knn10": (
            SpectralClustering(
                n_clusters=n_clusters, affinity="nearest_neighbors", n_neighbors=10, random_state=seed
            ).fit_predict(X[keep]),
            keep,
        ),
        "agglomerative_ward": (
            AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(X[keep]),
            keep,
        ),
    }
    return {
        name: cluster_scores(y if rows is None else y[rows], labels)
        for name, (labels, rows) in predictions.items()
    }
