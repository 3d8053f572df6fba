"""Image datasets as tables: data/<name>/<split>.npz (images uint8, labels int64, source) and source.json.

source.json says which copy the tables came from (e.g. "canonical" or "mirror-jpeg-q75"), the class names,
and every input file's digests; each .npz also carries its `source`, so a table read alone still says it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tasks.data.declaration import IngestError, Inputs
from tasks.data.tables import write_json, write_npz

if TYPE_CHECKING:
    import numpy as np

SIDECAR = "source.json"


def write_image_tables(
    inputs: Inputs, splits: Mapping[str, tuple[np.ndarray, np.ndarray]], classes: Sequence[str]
) -> dict[str, dict]:
    """Write one .npz per split and the sidecar; return their manifest entries."""
    import numpy as np

    name, source = inputs.dataset.name, inputs.copy.source
    files = {file: fetched.record() for file, fetched in sorted(inputs.fetched.items())}
    entries: dict[str, dict] = {}
    for split, (images, labels) in splits.items():
        if (
            images.dtype != np.uint8
            or len(images) != len(labels)
            or not np.all((labels >= 0) & (labels < len(classes)))
        ):
            raise IngestError(
                f"{name} {split}: {len(images)} images ({images.dtype}) and {len(labels)} labels in "
                f"[{labels.min()}, {labels.max()}] do not make a table of {len(classes)} classes. "
                f"Fix: the {source} files are not the published ones; replace them."
            )
        labels = labels.astype(np.int64)
        sha = write_npz(
            inputs.path(f"{split}.npz"), {"images": images, "labels": labels, "source": np.array(source)}
        )
        entries[inputs.rel(f"{split}.npz")] = {
            "dataset": name,
            "split": split,
            "rows": len(images),
            "shape": list(images.shape[1:]),
            "source": source,
            "sha256": sha,
        }
        inputs.progress(f"{name} {split}: {len(images)} images {images.shape[1:]} from the {source} copy")
    sidecar = {"dataset": name, "source": source, "classes": list(classes), "files": files}
    entries[inputs.rel(SIDECAR)] = {
        "dataset": name,
        "source": source,
        "files": files,
        "sha256": write_json(sidecar, inputs.path(SIDECAR)),
    }
    return entries
