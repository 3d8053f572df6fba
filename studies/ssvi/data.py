"""Inputs for SSVI: digits split as in ANCHORS.md, shifted digits for the entropy test, and CIFAR for
`paper`."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from scipy.ndimage import rotate
from sklearn.model_selection import train_test_split

from studies.common.safe_pickle import load_arrays

PIXELS = [f"p{i:02d}" for i in range(64)]


def digits_split(pixels: np.ndarray, y: np.ndarray, test_size: float, seed: int) -> dict[str, np.ndarray]:
    """x/16 in [0, 1], stratified split (ANCHORS.md: 75/25, random_state 0)."""
    if pixels.shape[1:] != (64,) or pixels.min() < 0 or pixels.max() > 16:
        raise ValueError(
            f"digits pixels must be (n, 64) in 0..16, got shape {pixels.shape} "
            f"range [{pixels.min()}, {pixels.max()}]. Fix: re-ingest with `studies ingest`."
        )
    X = (pixels / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    return {
        "X_train": X_train,
        "y_train": y_train.astype(np.int64),
        "X_test": X_test,
        "y_test": y_test.astype(np.int64),
    }


def rotated(X: np.ndarray, degrees: float) -> np.ndarray:
    """Images rotated about their centre (bilinear, zero fill), still in [0, 1]; flat rows are 8×8 digits."""
    images = X.reshape(-1, 8, 8) if X.ndim == 2 else X
    out = rotate(images, degrees, axes=(-2, -1), reshape=False, order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).reshape(X.shape).astype(np.float32)


def noised(X: np.ndarray, std: float, seed: int) -> np.ndarray:
    """Digits plus Gaussian pixel noise of `std`, clipped to [0, 1]."""
    noise = np.random.default_rng(seed).normal(0.0, std, X.shape)
    return np.clip(X + noise, 0.0, 1.0).astype(np.float32)


def shifted_sets(
    X: np.ndarray, rotations: list[float], noise_stds: list[float], seed: int
) -> dict[str, np.ndarray]:
    """The shift test's inputs: each rotation angle and each noise level applied to the test digits."""
    sets = {f"rotate{int(a)}": rotated(X, a) for a in rotations}
    sets |= {f"noise{s:g}": noised(X, s, seed) for s in noise_stds}
    return sets


def _read_batch(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return load_arrays(f)
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a CIFAR python batch ({exc}). Fix: unpack the official python version of "
            "the dataset again."
        ) from exc


CIFAR_FOLDERS = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch", b"labels"),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels"),
}


def load_cifar(root: Path, name: str) -> dict[str, np.ndarray]:
    """The standard python-pickle CIFAR files (as torchvision downloads them) → NCHW float32 in [0, 1]."""
    if name not in CIFAR_FOLDERS:
        raise ValueError(f"Unknown CIFAR set '{name}'. Fix: cifar10 or cifar100.")
    folder, train_files, test_file, label_key = CIFAR_FOLDERS[name]
    base = root / folder
    missing = [f for f in [*train_files, test_file] if not (base / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{name} not found: {base} lacks {', '.join(missing)}. "
            f"Fix: download the python version of {name} "
            "(https://www.cs.toronto.edu/~kriz/"
            f"{folder.replace('-batches', '').replace('-python', '')}-python.tar.gz) "
            f"and unpack it into {root}; this machine cannot reach it, "
            "so the `paper` profile needs it placed by hand."
        )

    def read(files: list[str]) -> tuple[np.ndarray, np.ndarray]:
        batches = [_read_batch(base / f) for f in files]
        X = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
        return X, np.concatenate([np.asarray(b[label_key]) for b in batches]).astype(np.int64)

    X_train, y_train = read(train_files)
    X_test, y_test = read([test_file])
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}
