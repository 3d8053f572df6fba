"""cdvae-prepare's split choice: recorded, disjoint, and a missing official split refused with the fix."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tasks.stages.cdvae.prepare import SplitError, check_disjoint, describe, select, source_table


def test_fractions_of_one_permutation_partition_the_file() -> None:
    table = pl.DataFrame({"material_id": [str(i) for i in range(100)]})
    train = select(table, {"from": "val", "fraction": [0.0, 0.9]}, seed=0)
    val = select(table, {"from": "val", "fraction": [0.9, 1.0]}, seed=0)
    assert train.height == 90 and val.height == 10
    assert set(train["material_id"]) | set(val["material_id"]) == set(table["material_id"])
    assert not set(train["material_id"]) & set(val["material_id"])
    assert select(table, {"from": "test"}, seed=0).height == 100
    assert (
        describe({"from": "val", "fraction": [0.0, 0.9]}) == "val.csv[0.0:0.9]"
        and describe({"from": "train"}) == "train.csv"
    )


def test_overlapping_splits_of_one_file_are_refused() -> None:
    with pytest.raises(SplitError, match="'train' and 'test' both take val.csv rows"):
        check_disjoint(
            {
                "train": {"from": "val", "fraction": [0, 0.9]},
                "val": {"from": "train"},
                "test": {"from": "val", "fraction": [0.5, 1]},
            }
        )
    check_disjoint(
        {
            "train": {"from": "val", "fraction": [0, 0.9]},
            "val": {"from": "val", "fraction": [0.9, 1]},
            "test": {"from": "test"},
        }
    )
    with pytest.raises(SplitError, match="0 <= a < b <= 1"):
        select(pl.DataFrame({"x": [1]}), {"from": "val", "fraction": [0.5, 0.2]}, seed=0)


def test_a_missing_official_split_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "perov_5").mkdir()
    pl.DataFrame({"x": [1]}).write_parquet(tmp_path / "perov_5" / "val.parquet")
    with pytest.raises(
        SplitError, match=r"train.parquet does not exist \(present for perov_5: val\).*--online"
    ):
        source_table(tmp_path, "perov_5", "train")
