"""Fuzzed inputs (hypothesis): a CDVAE-format CSV or a folder of CIFs either loads, or is refused with the
package's own error naming the row or file; no other exception escapes, so a bad file never crashes a
stage."""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studies.cdvae.crystal import read_cifs
from studies.cdvae.data import DatasetFormatError, parse_structures, read_cdvae_csv, structures_from_table
from tests.reliability import record
from tests.studies.cdvae.perov import PEROV_TEST

pytestmark = pytest.mark.reliability

COLUMNS = ("material_id", "cif", "heat_ref")
ROWS = read_cdvae_csv(PEROV_TEST, COLUMNS).head(3)
CIF = ROWS["cif"][0]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRIED: Counter[str] = Counter()  # outcome of every fuzzed input, for reports/reliability.md


@pytest.fixture(scope="module", autouse=True)
def _record_inputs_tried():
    yield
    record(
        "input",
        "fuzzed CDVAE-format CSVs and CIF folders (hypothesis)",
        inputs=sum(TRIED.values()),
        loaded=TRIED["loaded"],
        refused=TRIED["refused"],
        crashed=0,
    )


def _mutated_cif() -> st.SearchStrategy[str]:
    """A real Perov-5 CIF with one edit: a slice cut out, text spliced in, or a number replaced."""
    cut = st.tuples(st.integers(0, len(CIF)), st.integers(0, len(CIF))).map(
        lambda ij: CIF[: min(ij)] + CIF[max(ij) :]
    )
    spliced = st.tuples(st.integers(0, len(CIF)), st.text(max_size=40)).map(
        lambda it: CIF[: it[0]] + it[1] + CIF[it[0] :]
    )
    numbers = list(re.finditer(r"-?\d+\.\d+", CIF))
    renumbered = st.tuples(
        st.integers(0, len(numbers) - 1),
        st.sampled_from(["0", "-1", "1e308", "nan", "inf", "-0.0", "", "x", "99999999"]),
    ).map(lambda kv: CIF[: numbers[kv[0]].start()] + kv[1] + CIF[numbers[kv[0]].end() :])
    return st.one_of(cut, spliced, renumbered, st.text(max_size=200))


def _load(path: Path) -> None:
    parse_structures(read_cdvae_csv(path, COLUMNS), path.name)


@FUZZ
@given(
    cifs=st.lists(_mutated_cif(), min_size=1, max_size=3),
    heats=st.lists(st.floats(allow_nan=True), min_size=3, max_size=3),
)
def test_a_csv_with_fuzzed_cifs_loads_or_names_the_row(cifs: list[str], heats: list[float]) -> None:
    df = pl.DataFrame(
        {
            "": list(range(len(cifs))),
            "material_id": [f"m{i}" for i in range(len(cifs))],
            "cif": cifs,
            "heat_ref": heats[: len(cifs)],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.csv"
        df.write_csv(path)
        try:
            table = parse_structures(read_cdvae_csv(path, COLUMNS), path.name)
        except DatasetFormatError as err:
            assert "fuzzed.csv" in str(err) and "Fix:" in str(err), err
            if "CIF does not parse" in str(err):
                assert re.search(r"row \d+ \(material_id m\d+\)", str(err)), err
            TRIED["refused"] += 1
        else:
            TRIED["loaded"] += 1  # what loads is a crystal: atoms, finite numbers, a real volume
            for structure in structures_from_table(table):
                assert len(structure) > 0 and 1e-3 < structure.volume < 1e9
                assert (
                    np.isfinite(structure.lattice.matrix).all() and np.isfinite(structure.frac_coords).all()
                )


@FUZZ
@given(
    text=st.one_of(
        st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
        st.integers(1, len(ROWS.write_csv())).map(lambda n: ROWS.write_csv()[:n]),
    )
)
def test_arbitrary_or_truncated_csv_text_loads_or_is_a_format_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.csv"
        path.write_text(text, encoding="latin-1")
        try:
            _load(path)
        except DatasetFormatError as err:
            assert "fuzzed.csv" in str(err) and "Fix:" in str(err), err
            TRIED["refused"] += 1
        else:
            TRIED["loaded"] += 1


# Generated crystals are scored, not refused: a folder of CIFs keeps degenerate cells (they count as invalid).
@FUZZ
@given(texts=st.lists(_mutated_cif(), min_size=1, max_size=3))
def test_a_cif_folder_loads_or_names_the_file(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i, text in enumerate(texts):
            (folder / f"c{i}.cif").write_text(text)
        try:
            cifs = read_cifs(folder)
        except ValueError as err:
            assert re.search(r"c\d\.cif", str(err)) and "Fix:" in str(err), err
            TRIED["refused"] += 1
        else:
            TRIED["loaded"] += 1
            assert set(cifs.crystals) == {f"c{i}" for i in range(len(texts))}
            assert set(cifs.unbuildable) <= set(cifs.crystals)


def test_a_cell_that_pymatgen_accepts_but_no_crystal_has_is_refused_naming_the_row(tmp_path: Path) -> None:
    flat = re.sub(r"(_cell_length_a\s+)\S+", r"\g<1>nan", CIF)  # pymatgen returns a Structure of volume nan
    path = tmp_path / "flat.csv"
    pl.DataFrame({"material_id": ["ok", "flat"], "cif": [CIF, flat], "heat_ref": [0.1, 0.2]}).write_csv(path)
    try:
        _load(path)
    except DatasetFormatError as err:
        assert "row 2 (material_id flat)" in str(err) and "not finite" in str(err), err
    else:
        raise AssertionError("a cell of length nan was loaded")
