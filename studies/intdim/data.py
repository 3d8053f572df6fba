"""Inputs for the study: image tables as float tensors, the paper's shuffled-pixel and shuffled-label
variants, and stratified subsets for the small profiles.

The ingested tables hold uint8 images, N×H×W (MNIST) or N×H×W×C (CIFAR-10, HWC). The reference code's
preprocessing is not in its repository (see config.py), so pixels are scaled to [0, 1] here.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

SHUFFLES = ("none", "pixels", "labels")


def channels_first(images: np.ndarray) -> np.ndarray:
    """uint8 N×H×W or N×H×W×C → uint8 N×C×H×W: the networks' layout, still in bytes (a quarter of float32's
    size), so a prepared split can be stored and sent to worker processes in it."""
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(
            f"expected uint8 images N×H×W or N×H×W×C, got {images.dtype} {images.shape}. "
            "Fix: pass the `images` array of an ingested table."
        )
    nhwc = images[..., None] if images.ndim == 3 else images
    return np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))


def as_float_images(images: np.ndarray) -> np.ndarray:
    """uint8 N×H×W or N×H×W×C → float32 N×C×H×W in [0, 1]."""
    return (channels_first(images) / np.float32(255)).astype(np.float32)


def shuffled_pixels(X: np.ndarray, seed: int) -> np.ndarray:
    """Every image (N×C×H×W) with its pixel positions permuted by one fixed permutation drawn from `seed`
    (the channels of a pixel move together): the same for every image, train and test alike, so the task
    keeps its information and loses only its spatial structure."""
    n, c, h, w = X.shape
    order = np.random.default_rng(seed).permutation(h * w)
    return X.reshape(n, c, h * w)[:, :, order].reshape(X.shape)


def shuffled_labels(y: np.ndarray, seed: int) -> np.ndarray:
    """The labels randomly permuted (class frequencies kept): what is left to learn is memorisation, so this
    condition is scored on training accuracy."""
    return np.random.default_rng(seed).permutation(y)


def apply_shuffle(split: dict[str, np.ndarray], kind: str, seed: int) -> dict[str, np.ndarray]:
    """The split (X_train, y_train, X_test, y_test) under `kind`: none | pixels (both sets, one permutation)
    | labels (training labels only)."""
    if kind not in SHUFFLES:
        raise ValueError(f"Unknown shuffle '{kind}'. Fix: use one of {', '.join(SHUFFLES)}.")
    out = dict(split)
    if kind == "pixels":
        out["X_train"], out["X_test"] = (shuffled_pixels(split[k], seed) for k in ("X_train", "X_test"))
    elif kind == "labels":
        out["y_train"] = shuffled_labels(split["y_train"], seed)
    return out


def stratified_subset(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n examples with the class proportions of y (all of them when n ≥ len(y))."""
    if n >= len(y):
        return X, y
    X_keep, _, y_keep, _ = train_test_split(X, y, train_size=n, random_state=seed, stratify=y)
    return X_keep, y_keep
