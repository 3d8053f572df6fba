"""From a fitted Γ and Z to cluster labels and to the subspace geometry MLC promises."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import SpectralClustering


def assign_clusters(gamma: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """Labels by spectral clustering on the symmetrised membership (Γ + Γᵀ)/2, as in the paper."""
    affinity = 0.5 * (gamma + gamma.T).astype(np.float64)
    model = SpectralClustering(n_clusters=n_clusters, affinity="precomputed", random_state=seed)
    return model.fit_predict(affinity)


def numerical_rank(A: np.ndarray, energy: float = 0.95) -> int:
    """How many singular values it takes to hold `energy` of the squared spectrum of A."""
    s2 = np.linalg.svd(A, compute_uv=False) ** 2
    if s2.sum() == 0:
        return 0
    return int(np.searchsorted(np.cumsum(s2) / s2.sum(), energy - 1e-12) + 1)


def subspace_ranks(Z: np.ndarray, labels: np.ndarray, energy: float = 0.95) -> dict:
    """Per-cluster and overall numerical ranks of Z: low per cluster, high overall = a union of subspaces."""
    per_cluster = {int(c): numerical_rank(Z[labels == c], energy) for c in np.unique(labels)}
    return {
        "per_cluster": per_cluster,
        "overall": numerical_rank(Z, energy),
        "mean_per_cluster": float(np.mean(list(per_cluster.values()))),
    }
