"""CDVAE CSV reading and CIF parsing, on real rows of perov_5 and carbon_24."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pymatgen.core import Structure

from studies.cdvae.data import (
    PARSED_COLUMNS,
    CifParseError,
    DatasetFormatError,
    parse_structures,
    read_cdvae_csv,
    structures_from_table,
)
from tests.conftest import MIRROR

PEROV = MIRROR / "cdvae" / "perov_5"
PEROV_COLUMNS = ("material_id", "cif", "formula", "heat_all", "heat_ref", "dir_gap", "ind_gap")
# The first two rows of carbon_24/val.csv at txie-93/cdvae@f857f598d6f6 (8 and 6 atoms, coordinates outside
# [0, 1)).
CARBON_CSV = (
    ",material_id,cif,energy_per_atom\n"
    '2649,C-148264-7891-51,"# generated using pymatgen\n'
    "data_C\n"
    "_symmetry_space_group_name_H-M   'P 1'\n"
    "_cell_length_a   2.48442000\n"
    "_cell_length_b   3.82397000\n"
    "_cell_length_c   5.98106000\n"
    "_cell_angle_alpha   120.34611000\n"
    "_cell_angle_beta   78.04820000\n"
    "_cell_angle_gamma   108.96027000\n"
    "_symmetry_Int_Tables_number   1\n"
    "_chemical_formula_structural   C\n"
    "_chemical_formula_sum   C8\n"
    "_cell_volume   46.31214527\n"
    "_cell_formula_units_Z   8\n"
    "loop_\n"
    " _symmetry_equiv_pos_site_id\n"
    " _symmetry_equiv_pos_as_xyz\n"
    "  1  'x, y, z'\n"
    "loop_\n"
    " _atom_site_type_symbol\n"
    " _atom_site_label\n"
    " _atom_site_symmetry_multiplicity\n"
    " _atom_site_fract_x\n"
    " _atom_site_fract_y\n"
    " _atom_site_fract_z\n"
    " _atom_site_occupancy\n"
    "  C  C0  1  0.55960569  0.91296846  0.96734457  1\n"
    "  C  C1  1  -0.05100441  -0.20340566  0.07354088  1\n"
    "  C  C2  1  0.32074671  0.21342041  0.74557987  1\n"
    "  C  C3  1  0.28329421  -0.14011865  0.46598596  1\n"
    "  C  C4  1  0.52287208  0.55943895  0.68772460  1\n"
    "  C  C5  1  0.77493588  0.28459484  0.91073721  1\n"
    "  C  C6  1  0.89352450  -0.02434117  0.35977126  1\n"
    "  C  C7  1  1.06854384  0.48804132  0.52246945  1\n"
    '",-154.223695\n'
    '3587,C-130499-1826-45,"# generated using pymatgen\n'
    "data_C\n"
    "_symmetry_space_group_name_H-M   'P 1'\n"
    "_cell_length_a   2.89060000\n"
    "_cell_length_b   3.63590000\n"
    "_cell_length_c   4.81917000\n"
    "_cell_angle_alpha   112.10185000\n"
    "_cell_angle_beta   93.24400000\n"
    "_cell_angle_gamma   107.33042000\n"
    "_symmetry_Int_Tables_number   1\n"
    "_chemical_formula_structural   C\n"
    "_chemical_formula_sum   C6\n"
    "_cell_volume   43.97479101\n"
    "_cell_formula_units_Z   6\n"
    "loop_\n"
    " _symmetry_equiv_pos_site_id\n"
    " _symmetry_equiv_pos_as_xyz\n"
    "  1  'x, y, z'\n"
    "loop_\n"
    " _atom_site_type_symbol\n"
    " _atom_site_label\n"
    " _atom_site_symmetry_multiplicity\n"
    " _atom_site_fract_x\n"
    " _atom_site_fract_y\n"
    " _atom_site_fract_z\n"
    " _atom_site_occupancy\n"
    "  C  C0  1  0.45394228  0.24907323  0.60843244  1\n"
    "  C  C1  1  0.45264853  0.62906740  0.60777971  1\n"
    "  C  C2  1  0.44727613  0.59311715  0.30004157  1\n"
    "  C  C3  1  0.44908388  0.18712333  0.10821224  1\n"
    "  C  C4  1  0.45089841  0.03507314  0.79946885  1\n"
    "  C  C5  1  0.44652468  -0.02682335  0.29920659  1\n"
    '",-154.13165216666667\n'
)


def _head(src: Path, dst: Path, n: int) -> Path:
    """The header and first n data rows of a CDVAE CSV (CIFs span lines, so go through the csv module)."""
    with src.open(newline="") as f:
        rows = list(csv.reader(f))[: n + 1]
    with dst.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return dst


@pytest.fixture(scope="module")
def perov_rows() -> pl.DataFrame:
    return pl.concat([read_cdvae_csv(PEROV / f"{s}.csv", PEROV_COLUMNS).head(40) for s in ("val", "test")])


def test_read_drops_the_pandas_index_and_keeps_ids_as_text() -> None:
    df = read_cdvae_csv(PEROV / "val.csv", PEROV_COLUMNS)
    assert df.columns == list(PEROV_COLUMNS)
    assert df.height == 3787
    assert df["material_id"].dtype == pl.String
    assert df["heat_ref"].dtype == pl.Float64


def test_missing_columns_name_file_columns_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "val.csv"
    read_cdvae_csv(_head(PEROV / "val.csv", bad, 3), PEROV_COLUMNS).drop("heat_ref", "ind_gap").write_csv(bad)
    with pytest.raises(DatasetFormatError) as err:
        read_cdvae_csv(bad, PEROV_COLUMNS)
    assert str(bad) in str(err.value)
    assert "heat_ref, ind_gap" in str(err.value)
    assert "Fix:" in str(err.value)


def test_unreadable_and_empty_files_are_format_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(",material_id,cif,energy_per_atom\n")
    with pytest.raises(DatasetFormatError, match="no data rows"):
        read_cdvae_csv(empty, ("material_id", "cif", "energy_per_atom"))
    with pytest.raises(DatasetFormatError, match="cannot read"):
        read_cdvae_csv(tmp_path / "absent.csv", ("material_id",), source="mirror/absent.csv")


def test_parsed_table_layout(perov_rows: pl.DataFrame) -> None:
    table = parse_structures(perov_rows, "perov_5")
    assert table.columns[: len(PARSED_COLUMNS)] == list(PARSED_COLUMNS)
    assert table.height == perov_rows.height
    assert table["n_atoms"].to_list() == [5] * table.height
    assert table["lattice"].list.len().to_list() == [9] * table.height
    assert (table["frac_coords"].list.len() == table["n_atoms"] * 3).all()
    assert table["atomic_numbers"].dtype == pl.List(pl.Int64)
    # Property columns unchanged; perov_5's own `formula` keeps its values under source_formula.
    for col in ("heat_all", "heat_ref", "dir_gap", "ind_gap"):
        assert table[col].equals(perov_rows[col])
    assert table["source_formula"].equals(perov_rows["formula"].alias("source_formula"))


def _assert_same(rebuilt: list[Structure], cifs: list[str]) -> None:
    for got, cif in zip(rebuilt, cifs, strict=True):
        want = Structure.from_str(cif, fmt="cif")
        np.testing.assert_array_equal(got.lattice.matrix, want.lattice.matrix)
        assert got.atomic_numbers == want.atomic_numbers
        np.testing.assert_array_equal(got.frac_coords, want.frac_coords)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_round_trip_matches_pymatgen_perov(perov_rows: pl.DataFrame) -> None:
    table = parse_structures(perov_rows, "perov_5")
    _assert_same(structures_from_table(table), perov_rows["cif"].to_list())
    cell = Structure.from_str(perov_rows["cif"][0], fmt="cif").lattice
    assert table.row(0, named=True)["a"] == cell.a
    assert table.row(0, named=True)["gamma"] == cell.gamma


def test_round_trip_matches_pymatgen_carbon(tmp_path: Path) -> None:
    (path := tmp_path / "val.csv").write_text(CARBON_CSV)
    df = read_cdvae_csv(path, ("material_id", "cif", "energy_per_atom"))
    table = parse_structures(df, str(path))
    assert table["material_id"].to_list() == ["C-148264-7891-51", "C-130499-1826-45"]
    assert table["n_atoms"].to_list() == [8, 6]
    assert table["formula"].to_list() == ["C", "C"]
    assert table["energy_per_atom"].to_list() == [-154.223695, -154.13165216666667]
    _assert_same(structures_from_table(table), df["cif"].to_list())


@pytest.mark.parametrize(
    ("corrupt", "why"),
    [
        (lambda cif: cif.replace("_cell_length_a", "_cell_length_x"), "no lattice"),
        (lambda cif: cif.replace("0.29920659  1\n", "0.29920659  0.5\n"), "partial occupancy"),
        (lambda cif: "", "empty"),
    ],
)
def test_bad_cif_names_source_row_and_material(tmp_path: Path, corrupt, why: str) -> None:
    (path := tmp_path / "val.csv").write_text(CARBON_CSV)
    df = read_cdvae_csv(path, ("material_id", "cif", "energy_per_atom"))
    cifs = df["cif"].to_list()
    df = df.with_columns(pl.Series("cif", [cifs[0], corrupt(cifs[1])]))
    with pytest.raises(CifParseError) as err:
        parse_structures(df, "mirror/carbon_24/val.csv")
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "mirror/carbon_24/val.csv: row 2 (material_id C-130499-1826-45)" in message, why
    assert "Fix:" in message
