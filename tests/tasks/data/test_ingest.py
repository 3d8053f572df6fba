"""Ingest: checksums, validation, atomic swap with rollback, DVC versioning, determinism, kept datasets.

Error cases run on a small mirror (the first 20 rows of the real perov_5 CSVs) with
pins computed for those files; one test ingests the full mirror and must reproduce
the project's committed data.dvc byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.datasets import load_digits

from tasks.data import sources
from tasks.data.crystal_sets import CRYSTAL_SETS
from tasks.data.datasets import cdvae
from tasks.data.ingest import IngestError, ingest
from tasks.data.pins import pin_matches
from tasks.platform.errors import StudiesError
from tasks.platform.versioning import DvcError, data_hash, dvc_status_clean
from tests.conftest import MIRROR
from tests.tasks.data.snapshot import leftovers, state
from tests.tasks.data.toy import declared_pins, toy

PEROV = MIRROR / "cdvae" / "perov_5"  # the offline mirror is part of the test environment (README)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def _small_mirror(dst: Path, splits: tuple[str, ...] = ("val", "test"), n: int = 20) -> Path:
    """The header and first n rows of each real perov_5 split, as a mirror folder, and the real MNIST and
    Fashion-MNIST files (default datasets too; linked, not copied)."""
    for split in splits:
        _write_rows(dst / "cdvae" / "perov_5" / f"{split}.csv", _rows(PEROV / f"{split}.csv")[: n + 1])
    (dst / "images").mkdir(exist_ok=True)
    for name in ("mnist", "fashion_mnist"):
        (dst / "images" / name).symlink_to(MIRROR / "images" / name)
    return dst


def _pins(mirror: Path) -> dict[tuple[str, str], str]:
    """Pins for the mirror's perov_5 files, and MNIST's and Fashion-MNIST's declared ones."""
    return declared_pins(sources.DATASETS["mnist"], sources.DATASETS["fashion_mnist"]) | {
        (p.parent.name, p.name): "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (mirror / "cdvae").glob("*/*.csv")
    }


def _edit(path: Path, edit) -> None:
    rows = _rows(path)
    edit(rows)
    _write_rows(path, rows)


def test_small_ingest_writes_data_versions_and_pushes(project: Path, tmp_path: Path) -> None:
    mirror = _small_mirror(tmp_path / "mirror")
    messages: list[str] = []
    summary = ingest(project, mirror=mirror, pins=_pins(mirror), progress=messages.append)

    data = project / "data"
    assert set(summary["files"]) == {
        "cdvae/perov_5/val.csv",
        "cdvae/perov_5/val.parquet",
        "cdvae/perov_5/test.csv",
        "cdvae/perov_5/test.parquet",
        "digits/digits.parquet",
        "mnist/train.npz",
        "mnist/test.npz",
        "mnist/source.json",
        "fashion_mnist/train.npz",
        "fashion_mnist/test.npz",
        "fashion_mnist/source.json",
    }
    assert sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()) == sorted(
        [*summary["files"], "SOURCES.json"]
    )
    assert set(summary["absent"]) == {"cdvae/perov_5/train.csv"}
    assert (data / "cdvae/perov_5/val.csv").read_bytes() == (mirror / "cdvae/perov_5/val.csv").read_bytes()
    table = pl.read_parquet(data / "cdvae/perov_5/val.parquet")
    assert table.height == summary["files"]["cdvae/perov_5/val.parquet"]["rows"] == 20
    assert {"material_id", "lattice", "frac_coords", "heat_ref"} <= set(table.columns)

    digits = pl.read_parquet(data / "digits/digits.parquet")
    assert digits.columns == [f"p{i:02d}" for i in range(64)] + ["target"]
    assert set(digits.dtypes) == {pl.Int64}
    reference = load_digits()
    np.testing.assert_array_equal(digits.drop("target").to_numpy(), reference.data)
    np.testing.assert_array_equal(digits["target"].to_numpy(), reference.target)

    text = (data / "SOURCES.json").read_text()
    manifest = json.loads(text)
    assert text == json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    assert str(tmp_path) not in text
    val = manifest["files"]["cdvae/perov_5/val.csv"]
    assert val["source"] == "mirror" and val["pinned"] and val["rows"] == 20
    assert val["url"] == f"{cdvae.BASE_URL}/perov_5/val.csv"
    assert manifest["files"] == summary["files"]
    assert manifest["upstream_commit"] == cdvae.UPSTREAM_COMMIT
    assert summary["built"] == {
        "perov_5": "canonical",
        "digits": "sklearn.datasets.load_digits",
        "mnist": "canonical",
        "fashion_mnist": "canonical",
    }

    assert summary["data_hash"] == data_hash(project)
    assert dvc_status_clean(project, ["data.dvc"])
    assert any((project / ".dvc-remote").rglob("*.dir")), "dvc push left the remote empty"
    assert "dvc add data" in messages
    assert not leftovers(project)


def test_checksum_mismatch_is_refused_with_both_digests(project: Path, tmp_path: Path) -> None:
    mirror = _small_mirror(tmp_path / "mirror")  # registry pins are for the full files
    before = state(project)
    with pytest.raises(IngestError) as err:
        ingest(project, mirror=mirror)
    message = str(err.value)
    assert str(mirror / "cdvae/perov_5/val.csv") in message
    assert cdvae.PINS[("perov_5", "val")].split(":")[1] in message
    assert hashlib.sha256((mirror / "cdvae/perov_5/val.csv").read_bytes()).hexdigest() in message
    assert "Fix:" in message
    assert state(project) == before and not (project / "data").exists()
    assert not leftovers(project)


def test_unpinned_files_need_allow_unpinned(project: Path, tmp_path: Path) -> None:
    mirror = _small_mirror(tmp_path / "mirror")
    with pytest.raises(IngestError, match="allow_unpinned") as err:
        ingest(project, mirror=mirror, pins={})
    assert isinstance(err.value, StudiesError) and err.value.fix
    summary = ingest(project, mirror=mirror, pins={}, allow_unpinned=True, push=False)
    entry = summary["files"]["cdvae/perov_5/test.csv"]
    assert entry["pinned"] is False and entry["pin"] is None
    assert entry["sha256"] == hashlib.sha256((mirror / "cdvae/perov_5/test.csv").read_bytes()).hexdigest()


def test_missing_splits_are_recorded_missing_datasets_refused(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = _small_mirror(tmp_path / "mirror", splits=("val",))
    summary = ingest(project, mirror=mirror, pins=_pins(mirror), push=False)
    assert set(summary["absent"]) == {"cdvae/perov_5/train.csv", "cdvae/perov_5/test.csv"}

    with pytest.raises(IngestError) as err:
        ingest(project, mirror=mirror, datasets=("perov_5", "carbon_24"), pins=_pins(mirror), push=False)
    assert str(mirror / "cdvae" / "carbon_24") in str(err.value) and "Fix:" in str(err.value)
    with pytest.raises(IngestError, match="Unknown dataset 'qm9'"):
        ingest(project, mirror=mirror, datasets=("qm9",))
    with pytest.raises(IngestError, match="not a folder"):
        ingest(project, mirror=tmp_path / "nowhere")
    monkeypatch.delenv("STUDIES_DATA_MIRROR", raising=False)
    with pytest.raises(IngestError, match="STUDIES_DATA_MIRROR"):
        ingest(project)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda rows: rows[7].__setitem__(2, rows[7][2].replace("_cell_length_a", "_cell_length_q")),
            "row 7 (material_id {id7}): CIF does not parse",
        ),
        (lambda rows: [r.pop(5) for r in rows], "missing column(s) heat_ref"),
        (lambda rows: rows[3].__setitem__(5, "n/a"), "property column heat_ref must be numeric"),
    ],
    ids=["bad-cif", "missing-column", "non-numeric-property"],
)
def test_malformed_csv_is_refused_naming_the_problem(
    project: Path, tmp_path: Path, edit, expected: str
) -> None:
    mirror = _small_mirror(tmp_path / "mirror")
    val = mirror / "cdvae/perov_5/val.csv"
    id7 = _rows(val)[7][1]
    _edit(val, edit)
    before = state(project)
    with pytest.raises(IngestError) as err:
        ingest(project, mirror=mirror, pins=_pins(mirror))
    assert str(val) in str(err.value)
    assert expected.format(id7=id7) in str(err.value)
    assert "Fix:" in str(err.value)
    assert state(project) == before and not leftovers(project)


def test_online_downloads_missing_splits(project: Path, tmp_path: Path) -> None:
    mirror = _small_mirror(tmp_path / "mirror", splits=("val",))
    upstream = _small_mirror(tmp_path / "upstream", splits=("test",))
    val_rows = _rows(PEROV / "val.csv")
    _write_rows(
        upstream / "cdvae/perov_5/train.csv", val_rows[:1] + val_rows[21:31]
    )  # train is not in the mirror
    # perov_5 as declared, but published at a file:// URL: a download without the network.
    perov = cdvae.declare(CRYSTAL_SETS["perov_5"], base_url=(upstream / "cdvae").as_uri())
    pins = _pins(mirror) | _pins(upstream)
    summary = ingest(project, mirror=mirror, datasets=(perov,), online=True, pins=pins, push=False)
    assert not summary["absent"]
    assert summary["files"]["cdvae/perov_5/val.csv"]["source"] == "mirror"
    train = summary["files"]["cdvae/perov_5/train.csv"]
    assert train["source"] == "download" and train["url"] == (upstream / "cdvae/perov_5/train.csv").as_uri()
    assert (project / "data/cdvae/perov_5/train.csv").read_bytes() == (
        upstream / "cdvae/perov_5/train.csv"
    ).read_bytes()

    (upstream / "cdvae/perov_5/train.csv").unlink()
    with pytest.raises(IngestError, match="Cannot download train.csv"):
        ingest(project, mirror=mirror, datasets=(perov,), online=True, pins=pins, push=False)


def test_failed_ingest_after_a_good_one_restores_data_and_data_dvc(project: Path, tmp_path: Path) -> None:
    good = _small_mirror(tmp_path / "good")
    ingest(project, mirror=good, pins=_pins(good))
    before = state(project)
    ingest(project, mirror=good, pins=_pins(good))  # same sources, same bytes
    assert state(project) == before

    # Fails before the swap: a checksum mismatch.
    with pytest.raises(IngestError):
        ingest(project, mirror=good)
    assert state(project) == before

    # Fails after the swap: new data is in place and added, but the push cannot write to the remote.
    other = _small_mirror(tmp_path / "other", n=5)
    shutil.rmtree(project / ".dvc-remote")
    (project / ".dvc-remote").write_text("not a folder")
    with pytest.raises(DvcError, match="dvc push"):
        ingest(project, mirror=other, pins=_pins(other))
    assert state(project) == before
    assert dvc_status_clean(project, ["data.dvc"])
    assert not leftovers(project)


def test_first_ingest_that_fails_after_the_swap_leaves_no_data(project: Path, tmp_path: Path) -> None:
    (project / "data.dvc").unlink(missing_ok=True)
    (project / ".dvc-remote").write_text("not a folder")
    mirror = _small_mirror(tmp_path / "mirror", n=5)
    with pytest.raises(DvcError):
        ingest(project, mirror=mirror, pins=_pins(mirror))
    assert not (project / "data").exists() and not (project / "data.dvc").exists()
    assert not leftovers(project)


def test_full_ingest_reproduces_the_committed_data_dvc(project: Path) -> None:
    committed = project / "data.dvc"
    assert committed.exists(), "data.dvc is missing from the project: run ingest once and commit data.dvc"
    expected = committed.read_bytes()
    summary = ingest(project, mirror=MIRROR, progress=lambda _: None)
    assert committed.read_bytes() == expected
    assert summary["files"]["cdvae/perov_5/val.parquet"]["rows"] == 3787
    assert summary["files"]["cdvae/perov_5/test.parquet"]["rows"] == 3785
    assert dvc_status_clean(project, ["data.dvc"])


def test_pins_check_sha256_git_blob_and_md5() -> None:
    data = (PEROV / "val.csv").read_bytes()
    assert pin_matches(cdvae.PINS[("perov_5", "val")], data)[0]
    # perov_5/val.csv's blob id in the tree of UPSTREAM_COMMIT: the same check the git-blob pins make.
    assert pin_matches("git-blob:4a2c8dde98347dd0e01fa83dcf3982c2abe98f9f", data) == (
        True,
        "4a2c8dde98347dd0e01fa83dcf3982c2abe98f9f",
    )
    assert pin_matches(f"md5:{hashlib.md5(data).hexdigest()}", data)[0]
    assert not pin_matches(cdvae.PINS[("perov_5", "test")], data)[0]
    with pytest.raises(IngestError, match="Unknown pin algorithm 'sha1'"):
        pin_matches("sha1:00", data)
    assert set(cdvae.PINS) == {(name, split) for name in CRYSTAL_SETS for split in cdvae.SPLITS}


def test_a_named_dataset_is_added_and_the_datasets_already_in_data_are_kept(
    project: Path, tmp_path: Path
) -> None:
    mirror = _small_mirror(tmp_path / "mirror")
    a, b = toy("toy_a", mirror, [1, 2, 3]), toy("toy_b", mirror, [4, 5])
    pins = _pins(mirror) | declared_pins(a, b)

    first = ingest(project, mirror=mirror, datasets=(a,), pins=pins, push=False)
    assert first["built"] == {
        "toy_a": "canonical",
        "perov_5": "canonical",
        "digits": "sklearn.datasets.load_digits",
        "mnist": "canonical",
        "fashion_mnist": "canonical",
    }
    before = state(project)
    second = ingest(project, mirror=mirror, datasets=(b,), pins=pins, push=False)
    assert second["built"] == {"toy_b": "canonical"} and second["kept"] == [
        "digits",
        "fashion_mnist",
        "mnist",
        "perov_5",
        "toy_a",
    ]
    after = state(project)
    assert {k: after[k] for k in before if k not in ("data/SOURCES.json", "data.dvc")} == {
        k: v for k, v in before.items() if k not in ("data/SOURCES.json", "data.dvc")
    }
    assert pl.read_parquet(project / "data/toy/toy_b/values.parquet")["value"].to_list() == [4, 5]
    assert (
        set(json.loads(after["data/SOURCES.json"])["files"])
        == set(second["files"])
        == {k.removeprefix("data/") for k in after if k.startswith("data/") and k != "data/SOURCES.json"}
    )

    # The same set of datasets ingested at once gives the same data.dvc as adding them one by one.
    shutil.rmtree(project / "data")
    ingest(project, mirror=mirror, datasets=(a, b), pins=pins, push=False)
    assert state(project) == after


def test_a_kept_file_that_changed_is_refused_with_both_digests(project: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    a, b = toy("toy_a", mirror, [1, 2, 3]), toy("toy_b", mirror, [4, 5])
    ingest(project, mirror=mirror, datasets=(a,), with_defaults=False, push=False)
    table = project / "data/toy/toy_a/values.parquet"
    recorded = hashlib.sha256(table.read_bytes()).hexdigest()
    table.write_bytes(b"edited by hand")
    before = state(project)
    with pytest.raises(IngestError) as err:
        ingest(project, mirror=mirror, datasets=(b,), with_defaults=False, push=False)
    message = str(err.value)
    assert str(table) in message and recorded in message
    assert hashlib.sha256(b"edited by hand").hexdigest() in message and "dvc checkout data.dvc" in message
    assert state(project) == before and not leftovers(project)

    with pytest.raises(IngestError, match="Nothing to ingest"):
        ingest(project, mirror=mirror, with_defaults=False)
