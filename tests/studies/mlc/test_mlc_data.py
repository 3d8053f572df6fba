import numpy as np
import polars as pl
import pytest

from studies.mlc.data import PIXELS, digits_arrays, union_of_subspaces


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
