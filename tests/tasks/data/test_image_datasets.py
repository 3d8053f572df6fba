"""MNIST, Fashion-MNIST and CIFAR-10: readers, pins on decompressed content, the copy each table records.

The default tests run the real readers on small files made here (IDX, a JPEG archive, a canonical-format
CIFAR archive) declared with their own pins; the real mirror's MNIST loads by default, and all three image
datasets from the mirror, twice, in a slow test.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import pickle
import shutil
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tasks.data.datasets import cifar10, mnist
from tasks.data.declaration import Dataset
from tasks.data.ingest import IngestError, ingest
from tasks.data.sources import DATASETS
from tests.conftest import MIRROR
from tests.tasks.data.snapshot import leftovers, state

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes() + array.tobytes()


def _toy_mnist(mirror: Path) -> tuple[Dataset, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """An MNIST-format dataset of 12 + 5 random images, gzipped into the mirror, declared with its pins."""
    rng = np.random.default_rng(0)
    folder, sha256, arrays = mirror / "images/toy_mnist", {}, {}
    folder.mkdir(parents=True)
    for (split, (images_file, labels_file)), n in zip(mnist.FILES.items(), (12, 5)):
        images, labels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 10
        for name, content in ((images_file, _idx(images)), (labels_file, _idx(labels))):
            (folder / f"{name}.gz").write_bytes(gzip.compress(content, mtime=0))
            sha256[name] = _sha256(content)
        arrays[split] = (images, labels)
    classes = [str(d) for d in range(10)]
    return mnist.declare(
        "toy_mnist", "toy", "images/toy_mnist", ("https://example.invalid/",), sha256, classes
    ), arrays


def _smooth_images(n: int, seed: int) -> np.ndarray:
    """Colour gradients: what JPEG keeps well, so decoded pixels stay close to these."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, 32)
    base = rng.uniform(40, 200, (n, 1, 1, 3)) + rng.uniform(-40, 40, (n, 1, 1, 3)) * ramp[None, :, None, None]
    return np.broadcast_to(base, (n, 32, 32, 3)).round().astype(np.uint8)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _jpeg_archive(images: dict[str, np.ndarray]) -> bytes:
    """<split>/<class>/NNNN.jpg at quality 75; image i of a split has class i % 2 (airplane, automobile)."""
    members = {}
    for split, array in images.items():
        for i, image in enumerate(array):
            out = io.BytesIO()
            Image.fromarray(image).save(out, "JPEG", quality=75)
            members[f"{split}/{cifar10.CLASSES[i % 2]}/{i:04d}.jpg"] = out.getvalue()
    return _tar_gz(members)


def _canonical_archive(images: dict[str, np.ndarray], batches: dict[str, object] | None = None) -> bytes:
    """cifar-10-batches-py/ as the CIFAR page publishes it: pickled dicts (protocol 2, as from Python 2)."""
    folder = "cifar-10-batches-py"
    members = {
        f"{folder}/batches.meta": pickle.dumps({b"label_names": [c.encode() for c in cifar10.CLASSES]}, 2)
    }
    for split, files in cifar10.BATCHES.items():
        chunks = np.array_split(images[split], len(files))
        for name, chunk in zip(files, chunks):
            rows = chunk.transpose(0, 3, 1, 2).reshape(len(chunk), 3072)  # 1024 R, then G, then B
            batch = {
                b"data": rows,
                b"labels": [i % 2 for i in range(len(chunk))],
                b"batch_label": name.encode(),
            }
            members[f"{folder}/{name}"] = pickle.dumps(batch, protocol=2)
    members |= {
        f"{folder}/{name}": pickle.dumps(batch, protocol=2) for name, batch in (batches or {}).items()
    }
    return _tar_gz(members)


def _toy_cifar(
    mirror: Path, upstream: Path, batches: dict[str, object] | None = None
) -> tuple[Dataset, dict[str, np.ndarray]]:
    """CIFAR-10 with both copies made here: the JPEG one in the mirror, the canonical one upstream."""
    images = {"train": _smooth_images(10, 1), "test": _smooth_images(4, 2)}
    jpeg, canonical = mirror / "images/toy_cifar/jpeg.tar.gz", upstream / "cifar-10-python.tar.gz"
    for path, data in ((jpeg, _jpeg_archive(images)), (canonical, _canonical_archive(images, batches))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    dataset = cifar10.declare(
        canonical=dataclasses.replace(
            cifar10.CANONICAL,
            mirror="images/toy_cifar/cifar-10-python.tar.gz",
            urls=(canonical.as_uri(),),
            pin=f"sha256:{_sha256(canonical.read_bytes())}",
        ),
        jpeg=dataclasses.replace(
            cifar10.JPEG, mirror="images/toy_cifar/jpeg.tar.gz", pin=f"sha256:{_sha256(jpeg.read_bytes())}"
        ),
    )
    return dataset, images


def _table(root: Path, name: str, split: str) -> dict[str, np.ndarray]:
    with np.load(root / "data" / name / f"{split}.npz") as table:  # allow_pickle is off: arrays only
        return {key: table[key] for key in table.files}


def _sidecar(root: Path, name: str) -> dict:
    return json.loads((root / "data" / name / "source.json").read_text())


def test_image_tables_are_byte_deterministic_and_record_their_copy(project: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    toy_mnist, digits = _toy_mnist(mirror)
    toy_cifar, images = _toy_cifar(mirror, tmp_path / "upstream")

    summary = ingest(project, mirror=mirror, datasets=(toy_mnist, toy_cifar), with_defaults=False, push=False)
    first = state(project)
    assert (
        ingest(project, mirror=mirror, datasets=(toy_mnist, toy_cifar), with_defaults=False, push=False)[
            "data_hash"
        ]
        == (summary["data_hash"])
    )
    assert state(project) == first and not leftovers(project)  # every byte, data.dvc included
    assert summary["built"] == {"toy_mnist": "canonical", "cifar10": "mirror-jpeg-q75"}

    for split, (images_in, labels_in) in digits.items():
        table = _table(project, "toy_mnist", split)
        assert table["images"].dtype == np.uint8 and table["labels"].dtype == np.int64
        np.testing.assert_array_equal(table["images"], images_in)
        np.testing.assert_array_equal(table["labels"], labels_in)
        assert str(table["source"]) == "canonical"
    record = _sidecar(project, "toy_mnist")["files"]["train-images-idx3-ubyte"]
    gz = (mirror / "images/toy_mnist/train-images-idx3-ubyte.gz").read_bytes()
    assert record == {
        "origin": "mirror",
        "from": "images/toy_mnist/train-images-idx3-ubyte.gz",
        "sha256": _sha256(gzip.decompress(gz)),
        "gzip_sha256": _sha256(gz),
        "pin": f"sha256:{_sha256(gzip.decompress(gz))}",
        "pinned": True,
    }

    train = _table(project, "cifar10", "train")
    assert train["images"].shape == (10, 32, 32, 3) and train["images"].dtype == np.uint8
    assert str(train["source"]) == "mirror-jpeg-q75"
    # Class then file order: the airplanes (even i) first; JPEG q75 keeps gradients within a few levels.
    order = [*range(0, 10, 2), *range(1, 10, 2)]
    assert train["labels"].tolist() == [0] * 5 + [1] * 5
    assert np.abs(train["images"].astype(int) - images["train"][order].astype(int)).mean() < 3
    sidecar = _sidecar(project, "cifar10")
    assert sidecar["source"] == "mirror-jpeg-q75" and sidecar["classes"] == list(cifar10.CLASSES)
    assert list(sidecar["files"]) == ["cifar10-jpeg-q75.tar.gz"]
    manifest = json.loads((project / "data/SOURCES.json").read_text())
    assert manifest["files"]["cifar10/test.npz"]["source"] == "mirror-jpeg-q75"
    assert manifest["files"]["toy_mnist/train.npz"]["source"] == "canonical"


def test_online_takes_the_canonical_cifar_archive_instead_of_the_jpeg_copy(
    project: Path, tmp_path: Path
) -> None:
    toy_cifar, images = _toy_cifar(tmp_path / "mirror", tmp_path / "upstream")
    summary = ingest(
        project, mirror=tmp_path / "mirror", datasets=(toy_cifar,), online=True, with_defaults=False
    )
    assert summary["built"] == {"cifar10": "canonical"}
    for split in ("train", "test"):
        table = _table(project, "cifar10", split)
        np.testing.assert_array_equal(table["images"], images[split])  # lossless, in CIFAR's own order
        assert table["labels"].tolist() == [i % 2 for i in range(len(images[split]))]
        assert str(table["source"]) == "canonical"
    record = _sidecar(project, "cifar10")["files"]["cifar-10-python.tar.gz"]
    assert (
        record["origin"] == "download"
        and record["from"] == (tmp_path / "upstream/cifar-10-python.tar.gz").as_uri()
    )


class _Planted:
    def __reduce__(self):
        import os

        return (os.system, ("touch planted",))


def test_a_planted_pickle_in_the_canonical_archive_is_refused_unrun(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    toy_cifar, _ = _toy_cifar(
        tmp_path / "mirror", tmp_path / "upstream", {"data_batch_3": {b"data": _Planted(), b"labels": []}}
    )
    with pytest.raises(IngestError, match=r"data_batch_3 is not a CIFAR python batch.*refusing to unpickle"):
        ingest(project, mirror=tmp_path / "mirror", datasets=(toy_cifar,), online=True, with_defaults=False)
    assert not (tmp_path / "planted").exists() and not (project / "data").exists()
    assert not leftovers(project)


def _edit_gzip_content(path: Path) -> bytes:
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[-1] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(content), mtime=0))
    return bytes(content)


def _flip_last_byte(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    return bytes(data)


@pytest.mark.parametrize(
    ("dataset", "damaged", "damage"),
    [
        ("mnist", "t10k-labels-idx1-ubyte.gz", _edit_gzip_content),
        ("cifar10", "cifar10-jpeg-q75.tar.gz", _flip_last_byte),
    ],
    ids=["mnist-idx-content", "cifar10-jpeg-archive"],
)
def test_a_corrupted_mirror_file_is_refused_naming_it_and_both_digests(
    project: Path, tmp_path: Path, dataset: str, damaged: str, damage
) -> None:
    ingest(project, mirror=tmp_path, datasets=("digits",), with_defaults=False, push=False)
    before = state(project)
    (copy,) = [c for c in DATASETS[dataset].copies if any(f.mirror.endswith(damaged) for f in c.files)]
    mirror = tmp_path / "mirror"
    for file in copy.files:
        (mirror / file.mirror).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MIRROR / file.mirror, mirror / file.mirror)
    file = next(f for f in copy.files if f.mirror.endswith(damaged))
    found = _sha256(damage(mirror / file.mirror))

    with pytest.raises(IngestError) as err:
        ingest(project, mirror=mirror, datasets=(dataset,), with_defaults=False, push=False)
    message = str(err.value)
    assert str(mirror / file.mirror) in message
    assert f"expected {file.pin.removeprefix('sha256:')}, got {found}" in message
    assert err.value.fix and "replace it" in err.value.fix
    assert state(project) == before and not leftovers(project)


def test_a_truncated_gzip_is_refused_naming_it(project: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    toy_mnist, _ = _toy_mnist(mirror)
    path = mirror / "images/toy_mnist/train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-9])
    with pytest.raises(IngestError, match=rf"{path} is not a readable gzip file.*Fix: the copy is truncated"):
        ingest(project, mirror=mirror, datasets=(toy_mnist,), with_defaults=False)
    assert not (project / "data").exists() and not leftovers(project)


def test_the_mirror_mnist_loads_with_the_standard_class_counts(project: Path) -> None:
    summary = ingest(project, mirror=MIRROR, datasets=("mnist",), with_defaults=False, push=False)
    assert summary["built"] == {"mnist": "canonical"}
    for split, shape, counts in (("train", 60_000, MNIST_TRAIN_COUNTS), ("test", 10_000, MNIST_TEST_COUNTS)):
        table = _table(project, "mnist", split)
        assert table["images"].shape == (shape, 28, 28) and table["images"].dtype == np.uint8
        assert table["labels"].dtype == np.int64 and np.bincount(table["labels"]).tolist() == counts
        assert str(table["source"]) == "canonical"
        assert summary["files"][f"mnist/{split}.npz"]["source"] == "canonical"
    files = _sidecar(project, "mnist")["files"]
    assert all(f["pinned"] and f["origin"] == "mirror" for f in files.values()) and len(files) == 4


@pytest.mark.slow
def test_mnist_fashion_mnist_and_cifar10_from_the_mirror_give_the_same_data_dvc_twice(project: Path) -> None:
    names = ("mnist", "fashion_mnist", "cifar10")
    start = time.perf_counter()
    first = ingest(project, mirror=MIRROR, datasets=names, with_defaults=False, push=False)
    seconds = time.perf_counter() - start
    data_dvc = (project / "data.dvc").read_bytes()
    assert first["built"] == {
        "mnist": "canonical",
        "fashion_mnist": "canonical",
        "cifar10": "mirror-jpeg-q75",
    }
    for split, per_class in (("train", (6000, 5000)), ("test", (1000, 1000))):
        fashion, cifar = _table(project, "fashion_mnist", split), _table(project, "cifar10", split)
        assert fashion["images"].shape[1:] == (28, 28) and cifar["images"].shape[1:] == (32, 32, 3)
        assert np.bincount(fashion["labels"]).tolist() == [per_class[0]] * 10
        assert np.bincount(cifar["labels"]).tolist() == [per_class[1]] * 10
        assert str(cifar["source"]) == "mirror-jpeg-q75"
    # The mirror's README: decoded test-set channel means 125.99 / 123.69 / 114.85.
    means = _table(project, "cifar10", "test")["images"].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(means, [125.99, 123.69, 114.85], atol=0.01)

    second = ingest(project, mirror=MIRROR, datasets=names, with_defaults=False, push=False)
    assert (project / "data.dvc").read_bytes() == data_dvc and second["data_hash"] == first["data_hash"]
    print(f"first ingest of the three image datasets: {seconds:.1f} s")
