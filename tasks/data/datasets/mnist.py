"""MNIST and Fashion-MNIST: IDX files (gzip), 60,000 training and 10,000 test images of 28×28, 10 classes.

The mirror's .gz files are recompressed (`gzip -n -9`, or as Debian ships them), so their bytes differ from
the published .gz; the decompressed IDX bytes are the published ones. Each file is therefore pinned by the
sha256 of its decompressed content, and the same pin checks a mirror copy and a download.
Tables: data/<name>/{train,test}.npz with images N×28×28 uint8 (see tasks/data/images.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tasks.data.declaration import Copy, Dataset, IngestError, Inputs, Reader, SourceFile

if TYPE_CHECKING:
    import numpy as np

# The four files of each set, by split: (images, labels).
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_UBYTE = 0x08  # IDX type code of unsigned bytes


def parse_idx(data: bytes, where: str, ndim: int) -> np.ndarray:
    """An IDX file of unsigned bytes (magic 0,0,8,ndim; big-endian uint32 sizes; the data) as an array."""
    import numpy as np

    header = 4 + 4 * ndim
    if len(data) < header or data[:2] != b"\0\0" or data[2] != IDX_UBYTE or data[3] != ndim:
        raise IngestError(
            f"{where} is not an IDX file of {ndim}-dimensional unsigned bytes (it starts {data[:4].hex()}). "
            "Fix: replace it with the published file."
        )
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=ndim, offset=4))
    if len(data) != header + int(np.prod(shape)):
        raise IngestError(
            f"{where}: its header says {shape}, i.e. {header + int(np.prod(shape))} bytes, but it has "
            f"{len(data)}. Fix: the file is truncated or padded; replace it with the published file."
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def _reader(classes: Sequence[str]) -> Reader:
    """The reader of an MNIST-format dataset with these class names."""

    def read(inputs: Inputs) -> dict[str, dict]:
        """Images and labels of each split, checked to pair up."""
        from tasks.data.images import write_image_tables

        splits = {}
        for split, (images_file, labels_file) in FILES.items():
            images = parse_idx(inputs.fetched[images_file].data, inputs.fetched[images_file].where, 3)
            labels = parse_idx(inputs.fetched[labels_file].data, inputs.fetched[labels_file].where, 1)
            splits[split] = (images, labels)
        return write_image_tables(inputs, splits, classes)

    return read


def declare(
    name: str,
    description: str,
    mirror_folder: str,
    base_urls: Sequence[str],
    sha256: Mapping[str, str],
    classes: Sequence[str],
    default: bool = False,
) -> Dataset:
    """An MNIST-format dataset, published as <base_url><file>.gz and mirrored as <mirror_folder>/<file>.gz."""
    files = tuple(
        SourceFile(
            name=file,
            mirror=f"{mirror_folder}/{file}.gz",
            urls=tuple(f"{base}{file}.gz" for base in base_urls),
            pin=f"sha256:{sha256[file]}" if file in sha256 else None,
            gzipped=True,
            split=split,
        )
        for split, pair in FILES.items()
        for file in pair
    )
    return Dataset(
        name, description, name, (Copy("canonical", files, _reader(tuple(classes))),), default=default
    )


DATASETS = [
    declare(
        "mnist",
        "MNIST handwritten digits, 60,000 + 10,000 images of 28x28 (IDX)",
        "images/mnist",
        # torchvision's mirror first: yann.lecun.com, the original site, often refuses scripted downloads.
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        [str(digit) for digit in range(10)],
        default=True,  # the intdim study's cpu profile trains on it (`make run`)
    ),
    declare(
        "fashion_mnist",
        "Fashion-MNIST (Zalando), 60,000 + 10,000 clothing images of 28x28 (IDX)",
        "images/fashion_mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
        default=True,  # the ssvi study's ci and cpu profiles train on it
    ),
]
