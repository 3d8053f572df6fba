"""Inputs for SSVI: digits split as in ANCHORS.md, ingested image datasets (Fashion-MNIST, CIFAR-10), the
validation split that every method's weight decay and epochs are chosen on, and the shifted test sets of the
entropy test. Images are float32 N×C×H×W in [0, 1]."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import rotate
from sklearn.model_selection import train_test_split

PIXELS = [f"p{i:02d}" for i in range(64)]


def digits_split(pixels: np.ndarray, y: np.ndarray, test_size: float, seed: int) -> dict[str, np.ndarray]:
    """x/16 in [0, 1], stratified split (ANCHORS.md: 75/25, random_state 0)."""
    if pixels.shape[1:] != (64,) or pixels.min() < 0 or pixels.max() > 16:
        raise ValueError(
            f"digits pixels must be (n, 64) in 0..16, got shape {pixels.shape} "
            f"range [{pixels.min()}, {pixels.max()}]. Fix: re-ingest with `studies ingest`."
        )
    X = (pixels / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    return {
        "X_train": X_train,
        "y_train": y_train.astype(np.int64),
        "X_test": X_test,
        "y_test": y_test.astype(np.int64),
    }


def image_split(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    n_train: int,
    n_test: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Ingested uint8 images (N×H×W or N×H×W×C) and labels → stratified subsets of n_train / n_test (all when
    the count is at least the set's size), as float32 N×C×H×W in [0, 1]."""
    out = {}
    for part, (images, labels), n in (("train", train, n_train), ("test", test, n_test)):
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or len(images) != len(labels):
            raise ValueError(
                f"{part}: expected uint8 images N×H×W(×C) with one label each, got {images.dtype} "
                f"{images.shape} and {len(labels)} labels. Fix: re-ingest with `studies ingest`."
            )
        if n < len(labels):
            images, _, labels, _ = train_test_split(
                images, labels, train_size=n, random_state=seed, stratify=labels
            )
        nchw = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
        out[f"X_{part}"] = (nchw / np.float32(255)).astype(np.float32)
        out[f"y_{part}"] = labels.astype(np.int64)
    return out


def validation_index(y: np.ndarray, val_size: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified `val_size` share of the training set: the held-out part on which each
    run's weight decay and epochs are chosen (the test set is not looked at until the final fits)."""
    if not 0.0 < val_size < 1.0:
        raise ValueError(f"val_size={val_size} must be a fraction in (0, 1). Fix: e.g. 0.2.")
    _, val = train_test_split(np.arange(len(y)), test_size=val_size, random_state=seed, stratify=y)
    return np.sort(val)


def rotated(X: np.ndarray, degrees: float) -> np.ndarray:
    """Images (…×H×W) rotated about their centre (bilinear, zero fill), still in [0, 1]; flat rows are 8×8
    digits."""
    images = X.reshape(-1, 8, 8) if X.ndim == 2 else X
    out = rotate(images, degrees, axes=(-2, -1), reshape=False, order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).reshape(X.shape).astype(np.float32)


def noised(X: np.ndarray, std: float, seed: int) -> np.ndarray:
    """Images plus Gaussian pixel noise of `std`, clipped to [0, 1]."""
    noise = np.random.default_rng(seed).normal(0.0, std, X.shape)
    return np.clip(X + noise, 0.0, 1.0).astype(np.float32)


def shifted_sets(
    X: np.ndarray, rotations: list[float], noise_stds: list[float], seed: int
) -> dict[str, np.ndarray]:
    """The shift test's inputs: each rotation angle and each noise level applied to the test images."""
    sets = {f"rotate{int(a)}": rotated(X, a) for a in rotations}
    sets |= {f"noise{s:g}": noised(X, s, seed) for s in noise_stds}
    return sets
