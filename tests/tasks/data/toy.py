"""A dataset declared by a test, not in the registry: one pinned text file of integers → a parquet."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from tasks.data.declaration import Copy, Dataset, Inputs, SourceFile


def _read(inputs: Inputs) -> dict[str, dict]:
    import polars as pl

    from tasks.data.tables import write_parquet

    values = [int(v) for v in inputs.fetched["values.txt"].data.split()]
    sha = write_parquet(pl.DataFrame({"value": values}), inputs.path("values.parquet"))
    entry = {"dataset": inputs.dataset.name, "rows": len(values), "source": inputs.copy.source, "sha256": sha}
    return {inputs.rel("values.parquet"): entry}


def toy(name: str, mirror: Path, values: Sequence[int]) -> Dataset:
    """Write the dataset's file into `mirror` (toy/<name>.txt) and declare it, pinned to those bytes."""
    path = mirror / "toy" / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(map(str, values)) + "\n")
    file = SourceFile(
        "values.txt", f"toy/{name}.txt", pin=f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"
    )
    return Dataset(name, f"toy dataset {name}", f"toy/{name}", (Copy("canonical", (file,), _read),))


def declared_pins(*datasets: Dataset) -> dict[tuple[str, str], str]:
    """The declarations' pins, as ingest's `pins` takes them (it replaces all declared pins)."""
    return {(d.name, f.name): f.pin for d in datasets for c in d.copies for f in c.files if f.pin}
