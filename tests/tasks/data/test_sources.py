"""The dataset registry: declarations are found by being in a package, and ingest needs nothing else."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import polars as pl
import pytest

from tasks.data import sources
from tasks.data.declaration import Copy, Dataset, IngestError
from tasks.data.ingest import ingest
from tasks.platform.versioning import data_hash

# A new dataset as a contributor would add it: one module, listing its declaration in DATASETS.
NEW_MODULE = '''
"""Squares: one pinned text file of integers, and the table of their squares."""

from tasks.data.declaration import Copy, Dataset, Inputs, SourceFile


def _read(inputs: Inputs) -> dict[str, dict]:
    import polars as pl

    from tasks.data.tables import write_parquet

    values = [int(v) for v in inputs.fetched["numbers.txt"].data.split()]
    table = pl.DataFrame({"n": values, "square": [v * v for v in values]})
    sha = write_parquet(table, inputs.path("squares.parquet"))
    return {inputs.rel("squares.parquet"): {"dataset": "squares", "rows": table.height, "sha256": sha}}


DATASETS = [
    Dataset(
        name="squares",
        description="squares of a few integers",
        folder="squares",
        copies=(Copy("canonical", (SourceFile("numbers.txt", "squares/numbers.txt", pin="{pin}"),), _read),),
    )
]
'''


def test_every_declared_dataset_is_listed_for_the_cli() -> None:
    names = sources.dataset_names()
    assert set(names) == set(sources.DATASETS)
    assert {"perov_5", "carbon_24", "mp_20", "digits", "mnist", "fashion_mnist", "cifar10"} <= set(names)
    assert sources.DEFAULT_DATASETS == ("perov_5", "digits", "mnist", "fashion_mnist")
    assert names["fashion_mnist"].endswith("[default]") and not names["cifar10"].endswith("[default]")
    assert all(text and "\n" not in text for text in names.values())


def test_a_module_in_a_declarations_package_is_ingested_without_changing_ingest(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "squares").mkdir(parents=True)
    (mirror / "squares/numbers.txt").write_text("1\n2\n3\n")
    pin = "sha256:" + hashlib.sha256(b"1\n2\n3\n").hexdigest()
    package = tmp_path / "lib" / "more_datasets"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Declarations of a test."""\n')
    (package / "squares.py").write_text(textwrap.dedent(NEW_MODULE).replace("{pin}", pin))
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))

    found = sources.discover("more_datasets")
    assert list(found) == ["squares"]
    summary = ingest(project, mirror=mirror, datasets=(found["squares"],), with_defaults=False, push=False)
    assert summary["built"] == {"squares": "canonical"}
    table = pl.read_parquet(project / "data/squares/squares.parquet")
    assert table["square"].to_list() == [1, 4, 9]
    manifest = json.loads((project / "data/SOURCES.json").read_text())
    assert manifest["files"]["squares/squares.parquet"]["rows"] == 3
    assert summary["data_hash"] == data_hash(project)

    (package / "broken.py").write_text("VALUE = 1\n")
    with pytest.raises(IngestError, match=r"more_datasets.broken declares no datasets.*Fix: give it"):
        sources.discover("more_datasets")


def test_datasets_must_have_distinct_names_and_folders() -> None:
    def dataset(name: str, folder: str) -> Dataset:
        return Dataset(name, name, folder, (Copy("canonical", (), lambda inputs: {}),))

    sources.check_distinct([dataset("a", "x/a"), dataset("b", "x/b")])
    with pytest.raises(IngestError, match=r"a \(data/x\) and b \(data/x/b\) clash"):
        sources.check_distinct([dataset("a", "x"), dataset("b", "x/b")])
    with pytest.raises(IngestError, match="clash"):
        sources.check_distinct([dataset("a", "x"), dataset("a", "y")])
    with pytest.raises(IngestError, match="Unknown dataset 'qm9'. Fix: use one of carbon_24, cifar10"):
        sources.resolve(["mnist", "qm9"])
    assert [d.name for d in sources.resolve(["mnist", "digits", "mnist"])] == ["mnist", "digits"]
