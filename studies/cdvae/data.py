"""CDVAE's CSV datasets as polars tables of parsed crystals.

The CSVs hold one pymatgen-written CIF per row. Parsing them once at ingest
into plain columns (lattice, species, fractional coordinates) lets every later
step rebuild a `Structure` without touching the CIF parser again, and makes
a malformed row fail at the door with its row number rather than mid-training.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
from pymatgen.core import Lattice, Structure

PARSED_SCHEMA = {
    "material_id": pl.String,
    "formula": pl.String,
    "n_atoms": pl.Int64,
    **{k: pl.Float64 for k in ("a", "b", "c", "alpha", "beta", "gamma")},
    "lattice": pl.List(pl.Float64),
    "atomic_numbers": pl.List(pl.Int64),
    "frac_coords": pl.List(pl.Float64),
}
PARSED_COLUMNS = tuple(PARSED_SCHEMA)
SOURCE_PREFIX = (
    "source_"  # a CSV column whose name a parsed column takes (perov_5's `formula`) keeps its values here
)


class DatasetFormatError(ValueError):
    """A CSV that is not in CDVAE's format (missing columns, unreadable text)."""


class CifParseError(DatasetFormatError):
    """A row whose CIF pymatgen cannot turn into an ordered structure."""


def read_cdvae_csv(path: Path, required_columns: Sequence[str], source: str | None = None) -> pl.DataFrame:
    """Read a CDVAE CSV, dropping its unnamed pandas index; material_id is kept as text.

    `source` names the file in errors when `path` is a working copy (default: `path`).
    """
    path = Path(path)
    source = source or str(path)
    try:
        df = pl.read_csv(path, infer_schema_length=None, schema_overrides={"material_id": pl.String})
    except (pl.exceptions.PolarsError, OSError) as err:
        raise DatasetFormatError(
            f"{source}: cannot read it as CSV ({err}). Fix: use the file as published by CDVAE "
            "(pandas index, then one quoted CIF per row), or re-download it."
        ) from err
    df = df.drop([c for c in df.columns if c == ""])
    if missing := [c for c in required_columns if c not in df.columns]:
        raise DatasetFormatError(
            f"{source}: missing column(s) {', '.join(missing)} (found: {', '.join(df.columns)}). "
            f"Fix: pass a CDVAE-format CSV of the right dataset, with columns {', '.join(required_columns)}."
        )
    if df.height == 0:
        raise DatasetFormatError(f"{source}: no data rows. Fix: re-download or re-copy the file.")
    return df


def _parse_cif(cif: str) -> Structure:
    with (
        warnings.catch_warnings()
    ):  # pymatgen warns on every rounded coordinate; the values it returns are what we keep
        warnings.simplefilter("ignore")
        structure = Structure.from_str(cif, fmt="cif")
    if not structure.is_ordered:
        raise ValueError("it has partially occupied sites; CDVAE needs one element per site")
    check_cell(structure)
    return structure


def check_cell(structure: Structure) -> None:
    """pymatgen accepts cells no crystal has (found by fuzzing: a zero, NaN or 1e308 length); refuse them
    here."""
    matrix, coords = structure.lattice.matrix, structure.frac_coords
    if len(structure) == 0:
        raise ValueError("it has no atoms")
    if not (np.isfinite(matrix).all() and np.isfinite(coords).all()):
        raise ValueError("its cell or coordinates are not finite numbers")
    volume = abs(float(np.linalg.det(matrix)))
    if not 1e-3 < volume < 1e9:
        raise ValueError(f"its cell volume {volume:.3g} Å³ is not that of a crystal")


def parse_structures(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """Parse every row's CIF into lattice/species/coordinate columns, followed by the CSV's other columns
    unchanged.

    The cell is kept as the CIF gives it (no Niggli or primitive reduction), exactly as pymatgen parses it.
    `source` names the file in errors.
    """
    rows: dict[str, list] = {k: [] for k in PARSED_COLUMNS}
    ids, cifs = df["material_id"].cast(pl.String).to_list(), df["cif"].to_list()
    for i, (material_id, cif) in enumerate(zip(ids, cifs)):
        try:
            if not cif:
                raise ValueError("the cif field is empty")
            s = _parse_cif(cif)
        except Exception as err:  # pymatgen raises many types for bad text; all mean the same to the caller
            raise CifParseError(
                f"{source}: row {i + 1} (material_id {material_id}): CIF does not parse ({err}). "
                "Fix: correct or delete that row, or re-download the file."
            ) from err
        lat = s.lattice
        rows["material_id"].append(material_id)
        rows["formula"].append(s.composition.reduced_formula)
        rows["n_atoms"].append(len(s))
        for key, value in zip(("a", "b", "c", "alpha", "beta", "gamma"), (*lat.abc, *lat.angles)):
            rows[key].append(float(value))
        rows["lattice"].append(lat.matrix.ravel().tolist())
        rows["atomic_numbers"].append([int(z) for z in s.atomic_numbers])
        rows["frac_coords"].append(s.frac_coords.ravel().tolist())
    parsed = pl.DataFrame(rows, schema=PARSED_SCHEMA)
    extra = df.drop("material_id", "cif")
    extra = extra.rename({c: SOURCE_PREFIX + c for c in extra.columns if c in PARSED_SCHEMA})
    return pl.concat([parsed, extra], how="horizontal")


def structures_from_table(df: pl.DataFrame) -> list[Structure]:
    """Rebuild the pymatgen structures that `parse_structures` read."""
    columns = (df[c].to_list() for c in ("lattice", "atomic_numbers", "frac_coords"))
    return [
        Structure(Lattice(np.reshape(lattice, (3, 3))), numbers, np.reshape(coords, (-1, 3)))
        for lattice, numbers, coords in zip(*columns)
    ]
