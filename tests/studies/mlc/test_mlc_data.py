import numpy as np
import polars as pl
import pytest

from studies.mlc.data import PIXELS, digits_arrays, image_arrays, union_of_manifolds, union_of_subspaces


def test_digits_arrays_unit_rows_and_labels():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 17, size=(5, 64))
    pixels[0] = 0  # a blank image stays zero rather than dividing by zero
    table = pl.DataFrame({c: pixels[:, i] for i, c in enumerate(PIXELS)}).with_columns(
        pl.Series("target", [3, 1, 4, 1, 5])
    )
    X, y = digits_arrays(table)
    assert X.dtype == np.float32 and X.shape == (5, 64)
    assert y.dtype == np.int64 and y.tolist() == [3, 1, 4, 1, 5]
    np.testing.assert_allclose(np.linalg.norm(X[1:], axis=1), 1.0, rtol=1e-6)
    assert not X[0].any()


def test_digits_arrays_names_missing_columns():
    with pytest.raises(ValueError, match="p63"):
        digits_arrays(pl.DataFrame({"p00": [1], "target": [0]}))


def _rank(A: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(A, tol=1e-4))


def test_union_of_subspaces_shapes_and_ranks():
    X, y = union_of_subspaces(4, 3, 20, 30, noise=0.0, seed=0)
    assert X.shape == (120, 20) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [30] * 4
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    assert [_rank(X[y == k]) for k in range(4)] == [3] * 4
    assert _rank(X) == 12
    assert _rank(union_of_subspaces(4, 3, 20, 30, noise=0.05, seed=0)[0][y == 0]) > 3
    np.testing.assert_array_equal(X, union_of_subspaces(4, 3, 20, 30, noise=0.0, seed=0)[0])


def test_shared_dim_makes_the_subspaces_intersect():
    X, y = union_of_subspaces(4, 3, 20, 30, noise=0.0, seed=1, shared_dim=2)
    assert [_rank(X[y == k]) for k in range(4)] == [3] * 4
    assert _rank(X) == 2 + 4 * 1  # a common plane plus one private direction each
    assert _rank(np.vstack([X[y == 0], X[y == 1]])) == 4


@pytest.mark.parametrize("kind, dim", [("curves", 1), ("spirals", 1), ("tori", 2)])
def test_union_of_manifolds_is_not_a_union_of_low_dim_subspaces(kind, dim):
    X, y = union_of_manifolds(kind, 3, 20, 200, noise=0.0, seed=0, manifold_dim=dim)
    assert X.shape == (600, 20) and X.dtype == np.float32 and np.bincount(y).tolist() == [200] * 3
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    # a bent d-dim manifold needs more than d + 1 linear dimensions (d + 1: a flat piece plus the offset)
    assert all(_rank(X[y == k]) > dim + 1 for k in range(3))
    np.testing.assert_array_equal(
        X, union_of_manifolds(kind, 3, 20, 200, noise=0.0, seed=0, manifold_dim=dim)[0]
    )


def test_crossing_curves_meet_in_one_point():
    X, y = union_of_manifolds("curves", 4, 10, 2000, noise=0.0, seed=0)
    nearest = [
        np.linalg.norm(X[y == k][:, None] - X[y == j][None], axis=2).min() for k, j in [(0, 1), (2, 3)]
    ]
    assert max(nearest) < 0.05  # any two curves come this close (they all pass through one point)


def test_union_of_manifolds_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="curves, spirals or tori"):
        union_of_manifolds("knots", 2, 10, 10, noise=0.0, seed=0)


def test_image_arrays_unit_rows_channels_last():
    images = np.random.default_rng(0).integers(0, 256, (4, 5, 6, 3)).astype(np.uint8)
    X, shape = image_arrays(images)
    assert shape == (5, 6) and X.shape == (4, 90) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        X[0].reshape(5, 6, 3)[1, 2], images[0, 1, 2] / np.linalg.norm(images[0]), rtol=1e-5
    )
