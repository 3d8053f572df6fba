import numpy as np

from studies.common.metrics import clustering_accuracy
from studies.mlc.evaluate import (
    assign_clusters,
    extend_labels,
    near_components,
    numerical_rank,
    subspace_ranks,
)


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


def test_extend_labels_gives_every_point_its_anchors_cluster():
    rng = np.random.default_rng(0)
    directions = np.eye(4)[:3]  # three clusters of cluster-head outputs around three axes
    y = np.repeat(np.arange(3), 100)
    C = directions[y] + 0.1 * rng.standard_normal((300, 4))
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    anchors = np.sort(rng.permutation(300)[:30])
    anchor_labels = (y[anchors] + 1) % 3  # cluster ids are arbitrary: a permutation of the classes
    labels = extend_labels(C, anchors, anchor_labels, eta=0.1, n_clusters=3, batch=64)
    assert clustering_accuracy(y, labels) == 1.0
    np.testing.assert_array_equal(labels[anchors], anchor_labels)


def test_near_components_counts_the_blocks_of_gamma():
    sizes = [30, 20, 20, 10]
    y = np.repeat(np.arange(4), sizes)
    gamma = (y[:, None] == y[None, :]) / np.array(sizes)[y][:, None]
    assert near_components(gamma) == 4
    assert near_components(0.9 * gamma + 0.1 / len(y)) == 1  # mixing all blocks joins them
