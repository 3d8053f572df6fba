import numpy as np
import pytest

from studies.intdim.data import (
    apply_shuffle,
    as_float_images,
    channels_first,
    shuffled_labels,
    shuffled_pixels,
    stratified_subset,
)


def test_images_become_nchw_floats_in_unit_range() -> None:
    gray = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8)
    X = as_float_images(gray)
    assert X.shape == (2, 1, 28, 28) and X.dtype == np.float32 and X.max() == 1.0 and X.min() == 0.0
    rgb = np.zeros((3, 32, 32, 3), np.uint8)
    rgb[..., 2] = 255
    assert np.array_equal(as_float_images(rgb)[:, 2], np.ones((3, 32, 32)))
    with pytest.raises(ValueError, match="uint8"):
        as_float_images(gray.astype(np.float32))


def test_channels_first_keeps_the_bytes_and_moves_the_channels_ahead() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3)).astype(np.uint8)
    nchw = channels_first(rgb)
    assert nchw.shape == (2, 3, 4, 5) and nchw.dtype == np.uint8 and nchw.flags.c_contiguous
    assert np.array_equal(nchw[1, 2], rgb[1, :, :, 2])
    assert channels_first(rgb[..., 0]).shape == (2, 1, 4, 5)
    assert np.array_equal(as_float_images(rgb), nchw / np.float32(255))
    with pytest.raises(ValueError, match="uint8"):
        channels_first(rgb.astype(np.int64))


def test_shuffled_pixels_apply_one_permutation_to_every_image_and_channel() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((4, 3, 5, 5)).astype(np.float32)
    S = shuffled_pixels(X, seed=1)
    order = np.argsort(X[0, 0].ravel())
    for i in range(4):
        for c in range(3):  # the same positions move the same way everywhere
            moved = S[i, c].ravel()
            assert np.array_equal(np.sort(moved), np.sort(X[i, c].ravel()))
    where = [np.flatnonzero(S[0, 0].ravel() == v)[0] for v in X[0, 0].ravel()[order]]
    assert all(
        S[i, c].ravel()[w] == X[i, c].ravel()[o]
        for i in range(4)
        for c in range(3)
        for w, o in zip(where, order)
    )
    assert not np.array_equal(S, X) and np.array_equal(S, shuffled_pixels(X, seed=1))


def test_shuffled_labels_keep_class_counts_and_break_the_pairing() -> None:
    y = np.repeat(np.arange(10), 50)
    s = shuffled_labels(y, seed=0)
    assert np.array_equal(np.bincount(s), np.bincount(y)) and np.mean(s == y) < 0.2


def test_apply_shuffle_touches_what_each_condition_says() -> None:
    rng = np.random.default_rng(0)
    split = {
        "X_train": rng.random((6, 1, 4, 4)),
        "y_train": np.arange(6),
        "X_test": rng.random((3, 1, 4, 4)),
        "y_test": np.arange(3),
    }
    pixels = apply_shuffle(split, "pixels", seed=0)
    assert not np.array_equal(pixels["X_train"], split["X_train"]) and pixels["y_train"] is split["y_train"]
    assert np.array_equal(pixels["X_test"], shuffled_pixels(split["X_test"], 0))
    labels = apply_shuffle(split, "labels", seed=0)
    assert labels["X_train"] is split["X_train"] and labels["y_test"] is split["y_test"]
    assert sorted(labels["y_train"]) == list(range(6))
    assert apply_shuffle(split, "none", seed=0) == split
    with pytest.raises(ValueError, match="pixels"):
        apply_shuffle(split, "rotate", seed=0)


def test_stratified_subset_keeps_class_proportions() -> None:
    y = np.repeat(np.arange(10), 100)
    X = np.arange(1000)[:, None]
    Xs, ys = stratified_subset(X, y, 200, seed=0)
    assert len(ys) == 200 and np.all(np.bincount(ys) == 20) and np.array_equal(y[Xs[:, 0]], ys)
    assert stratified_subset(X, y, 5000, seed=0)[1] is y
