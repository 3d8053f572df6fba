import numpy as np

from studies.common.metrics import clustering_accuracy
from studies.mlc.evaluate import assign_clusters, numerical_rank, subspace_ranks


def test_subspace_ranks_on_orthogonal_subspaces():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    dims = [1, 2, 4]
    blocks, labels, start = [], [], 0
    for k, dim in enumerate(dims):
        blocks.append(rng.standard_normal((50, dim)) @ basis[:, start : start + dim].T)
        labels += [k] * 50
        start += dim
    ranks = subspace_ranks(np.vstack(blocks), np.array(labels), energy=0.999)
    assert ranks["per_cluster"] == {0: 1, 1: 2, 2: 4}
    assert ranks["overall"] == 7
    assert ranks["mean_per_cluster"] == np.mean(dims)


def test_numerical_rank_counts_energy():
    A = np.diag([3.0, 2.0, 1.0])  # squared spectrum 9, 4, 1 of 14
    assert [numerical_rank(A, e) for e in (0.5, 0.9, 0.95, 1.0)] == [1, 2, 3, 3]


def test_assign_clusters_recovers_blocks_of_gamma():
    y = np.repeat(np.arange(3), 20)
    gamma = (y[:, None] == y[None, :]) / 20.0 + 1e-3
    labels = assign_clusters(gamma, 3, seed=0)
    assert clustering_accuracy(y, labels) == 1.0
