import numpy as np
import pytest
from sklearn.datasets import load_digits

from studies.ssvi.data import digits_split, image_split, noised, rotated, shifted_sets, validation_index


def test_digits_split_is_the_anchors_split() -> None:
    d = load_digits()
    split = digits_split(d.data, d.target, 0.25, 0)
    assert len(split["y_train"]) == 1347 and len(split["y_test"]) == 450
    assert split["X_train"].max() == 1.0 and split["X_train"].min() == 0.0
    assert np.bincount(split["y_test"]).min() >= 43  # stratified: every class ≈ 45


def test_bad_pixels_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="studies ingest"):
        digits_split(np.full((4, 64), 17.0), np.zeros(4), 0.25, 0)


def test_shifts_keep_range_and_rotation_by_360_is_identity() -> None:
    X = load_digits().data[:20] / 16.0
    assert np.allclose(rotated(X, 360), X, atol=1e-6)
    r = rotated(X, 90)
    assert r.shape == X.shape and 0 <= r.min() and r.max() <= 1 and not np.allclose(r, X)
    assert np.allclose(r.reshape(-1, 8, 8), np.rot90(X.reshape(-1, 8, 8), 1, axes=(1, 2)), atol=1e-6)
    n = noised(X, 0.3, 0)
    assert 0 <= n.min() and n.max() <= 1 and np.array_equal(n, noised(X, 0.3, 0))
    assert sorted(shifted_sets(X, [30], [0.1], 0)) == ["noise0.1", "rotate30"]


def test_image_split_subsets_stratified_and_scales_to_nchw() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(10), 20)
    split = image_split((images, labels), (images[:50], labels[:50]), 100, 1000, seed=0)
    assert split["X_train"].shape == (100, 1, 28, 28) and split["X_test"].shape == (50, 1, 28, 28)
    assert np.bincount(split["y_train"]).tolist() == [10] * 10  # stratified
    assert split["X_test"].dtype == np.float32 and np.allclose(split["X_test"][:, 0] * 255, images[:50])
    colour = image_split(
        (images[..., None].repeat(3, 3), labels), (images[:5, ..., None].repeat(3, 3), labels[:5]), 200, 5, 0
    )
    assert colour["X_train"].shape == (200, 3, 28, 28)
    with pytest.raises(ValueError, match="studies ingest"):
        image_split((images.astype(np.float32), labels), (images, labels), 10, 10, 0)


def test_validation_index_is_a_stratified_seeded_share() -> None:
    y = np.repeat(np.arange(10), 30)
    val = validation_index(y, 0.2, seed=0)
    assert len(val) == 60 and np.bincount(y[val]).tolist() == [6] * 10
    assert np.array_equal(val, validation_index(y, 0.2, seed=0)) and not np.array_equal(
        val, validation_index(y, 0.2, 1)
    )
    with pytest.raises(ValueError, match="fraction"):
        validation_index(y, 0.0, 0)
