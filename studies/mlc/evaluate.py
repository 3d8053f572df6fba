"""From a fitted Γ and Z to cluster labels and to the subspace geometry MLC promises."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import SpectralClustering


def assign_clusters(gamma: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """Labels by spectral clustering on the symmetrised membership (Γ + Γᵀ)/2, as in the paper."""
    affinity = 0.5 * (gamma + gamma.T).astype(np.float64)
    model = SpectralClustering(n_clusters=n_clusters, affinity="precomputed", random_state=seed)
    return model.fit_predict(affinity)


def extend_labels(
    C: np.ndarray,
    anchors: np.ndarray,
    anchor_labels: np.ndarray,
    eta: float,
    n_clusters: int,
    batch: int = 4096,
) -> np.ndarray:
    """Every point's cluster from the anchors' spectral labels: the row of exp(|c_i·c_a|/η) over the anchors
    a (Γ's kernel, normalised over the row: one Sinkhorn half-step against the anchors), summed per cluster;
    the largest sum wins. Anchors keep their own labels. Memory: batch × anchors, never n × n."""
    labels = np.empty(len(C), dtype=np.int64)
    C_t = torch.as_tensor(C, dtype=torch.float32)
    C_a = C_t[torch.as_tensor(anchors)]
    onehot = torch.nn.functional.one_hot(torch.as_tensor(anchor_labels, dtype=torch.long), n_clusters).float()
    for i in range(0, len(C), batch):
        weights = torch.softmax((C_t[i : i + batch] @ C_a.T).abs() / eta, dim=1)
        labels[i : i + batch] = (weights @ onehot).argmax(1).numpy()
    labels[anchors] = anchor_labels
    return labels


def near_components(gamma: np.ndarray, tol: float = 1e-3, max_count: int = 60) -> int:
    """How many nearly disconnected blocks the symmetrised Γ has: eigenvalues of D^-½ A D^-½ above 1 − tol
    (A = (Γ+Γᵀ)/2). Once this exceeds k, spectral clustering with k clusters splits off small blocks and
    lumps the rest together."""
    from scipy.sparse.linalg import eigsh

    A = 0.5 * (gamma + gamma.T).astype(np.float64)
    d = np.maximum(A.sum(1), 1e-300) ** -0.5
    M = d[:, None] * A * d[None, :]
    k = min(max_count, len(A) - 2)
    top = eigsh(M, k=k, which="LA", return_eigenvectors=False)
    return int((top > 1 - tol).sum())


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
