"""scikit-learn's bundled 8×8 digits (1,797 images): data/digits/digits.parquet, read by MLC and SSVI.

It ships inside scikit-learn, so it has no file to pin or mirror; its table is byte-identical to what
ingest wrote before datasets were declared.
"""

from __future__ import annotations

from tasks.data.declaration import Copy, Dataset, Inputs


def _read(inputs: Inputs) -> dict[str, dict]:
    """Integer pixel columns p00..p63 plus target."""
    import numpy as np
    import polars as pl
    from sklearn.datasets import load_digits

    from tasks.data.tables import write_parquet

    digits = load_digits()
    columns = {f"p{i:02d}": digits.data[:, i].astype(np.int64) for i in range(digits.data.shape[1])}
    table = pl.DataFrame({**columns, "target": digits.target.astype(np.int64)})
    return {
        inputs.rel("digits.parquet"): {
            "source": inputs.copy.source,
            "rows": table.height,
            "sha256": write_parquet(table, inputs.path("digits.parquet")),
        }
    }


DATASETS = [
    Dataset(
        name="digits",
        description="scikit-learn's 8x8 digits, 1,797 images (bundled, no download)",
        folder="digits",
        copies=(Copy("sklearn.datasets.load_digits", (), _read),),
        default=True,
    )
]
