from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from studies.ssvi.data import digits_split, load_cifar, noised, rotated, shifted_sets


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


def test_missing_cifar_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py.*data_batch_1.*unpack it into"):
        load_cifar(tmp_path, "cifar10")
    with pytest.raises(ValueError, match="cifar10 or cifar100"):
        load_cifar(tmp_path, "svhn")


def test_cifar_files_load_as_nchw(tmp_path: Path) -> None:
    import pickle

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": np.full((2, 3072), 255, dtype=np.uint8), b"labels": [3, 7]}
        (folder / name).write_bytes(pickle.dumps(batch))
    d = load_cifar(tmp_path, "cifar10")
    assert d["X_train"].shape == (10, 3, 32, 32) and d["X_test"].shape == (2, 3, 32, 32)
    assert d["X_train"].max() == 1.0 and list(d["y_test"]) == [3, 7]


def _cifar10(root: Path, batch: object) -> None:
    import pickle

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar_batches_load_through_the_arrays_only_unpickler(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _cifar10(
        tmp_path,
        {
            b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
            b"labels": [0, 1, 2, 3],
            b"batch_label": b"x",
            b"filenames": [b"a.png"] * 4,
        },
    )
    sets = load_cifar(tmp_path, "cifar10")
    assert sets["X_train"].shape == (20, 3, 32, 32) and sets["y_test"].tolist() == [0, 1, 2, 3]


class _Planted:
    def __reduce__(self):
        import os

        return (os.system, ("touch planted",))


@pytest.mark.reliability
def test_a_planted_cifar_pickle_is_refused_without_running_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.reliability import record

    monkeypatch.chdir(tmp_path)
    _cifar10(tmp_path, {b"data": _Planted(), b"labels": []})
    with pytest.raises(
        ValueError, match=r"data_batch_1 is not a CIFAR python batch.*refusing to unpickle (posix|os).system"
    ):
        load_cifar(tmp_path, "cifar10")
    assert not (tmp_path / "planted").exists()
    record("security", "planted pickle in a CIFAR batch refused, not run", inputs=1)
