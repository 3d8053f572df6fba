"""Crystal arrays, CDVAE validity and CIF export, on real perov_5 test crystals and textbook cells."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from studies.cdvae.crystal import (
    CrystalArrays,
    build_structure,
    composition_valid,
    is_valid,
    read_cifs,
    structure_valid,
    write_cifs,
)
from studies.cdvae.data import parse_structures, read_cdvae_csv, structures_from_table
from tests.conftest import MIRROR

PEROV_TEST = MIRROR / "cdvae" / "perov_5" / "test.csv"
NA, CL, CU, ZN, SI = 11, 17, 29, 30, 14


@pytest.fixture(scope="module")
def perov() -> list[Structure]:
    """The first 200 perov_5 test crystals."""
    df = read_cdvae_csv(PEROV_TEST, ["material_id", "cif"]).head(200)
    return structures_from_table(parse_structures(df, "test.csv"))


def _rocksalt(a: str = "Na", b: str = "Cl", lattice: float = 5.64) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(lattice), [a, b], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _arrays(coords, types, lengths=(5.0, 5.0, 5.0), angles=(90.0, 90.0, 90.0)) -> CrystalArrays:
    return CrystalArrays(
        np.array(coords, float), np.array(types), np.array(lengths, float), np.array(angles, float)
    )


def test_arrays_rebuild_the_structure(perov: list[Structure]) -> None:
    for s in perov[:20]:
        rebuilt = build_structure(CrystalArrays.from_structure(s))
        assert rebuilt is not None
        assert rebuilt.atomic_numbers == s.atomic_numbers
        np.testing.assert_allclose(rebuilt.lattice.abc, s.lattice.abc)
        np.testing.assert_allclose(rebuilt.lattice.angles, s.lattice.angles)
        np.testing.assert_allclose(rebuilt.frac_coords, s.frac_coords)


def test_whole_number_float_types_are_accepted() -> None:
    s = build_structure(_arrays([[0, 0, 0], [0.5, 0.5, 0.5]], np.array([11.0, 17.0])))
    assert s is not None and s.atomic_numbers == (NA, CL)


def test_real_perovskites_are_valid(perov: list[Structure]) -> None:
    arrays = [CrystalArrays.from_structure(s) for s in perov]
    assert all(structure_valid(build_structure(c)) for c in arrays)
    # 197 of 200 with SMACT 4.0.2's SMACT14 oxidation states (CsRbN3, In2O2F and Cs2O3 fail).
    assert sum(is_valid(c) for c in arrays) / len(arrays) >= 0.95
    assert is_valid(arrays[0])


@pytest.mark.parametrize(
    ("atom_types", "valid"),
    [
        ([NA, CL], True),  # NaCl
        ([NA, NA, CL, CL], True),  # same after dividing by the gcd
        ([NA, CL, CL], False),  # "NaCl2": no charge-neutral oxidation states
        ([NA, NA, CL, CL, CL, CL], False),  # Na2Cl4 reduces to NaCl2
        ([CU, ZN], True),  # brass: all metals, an alloy
        ([CU, CU, CU, ZN], True),
        ([SI] * 8, True),  # a single element
        ([2, 2], True),  # even helium, alone
        ([2, 8], False),  # helium has no oxidation states in SMACT's table: invalid, not a crash
        ([10, 18, 18], False),  # two noble gases
        ([0, 8], False),  # not an element
    ],
)
def test_composition_validity(atom_types: list[int], valid: bool) -> None:
    assert composition_valid(atom_types) is valid


def test_textbook_crystals() -> None:
    nacl = CrystalArrays.from_structure(_rocksalt())
    assert is_valid(nacl)
    nacl2 = _arrays([[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]], [NA, CL, CL])
    assert structure_valid(build_structure(nacl2)) and not is_valid(nacl2)
    assert is_valid(_arrays([[0, 0, 0], [0.5, 0.5, 0.5]], [CU, ZN], lengths=(2.95,) * 3))  # CsCl-type CuZn
    silicon = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]])
    assert is_valid(CrystalArrays.from_structure(silicon))


def test_structural_validity_counts_periodic_images() -> None:
    assert not is_valid(_arrays([[0.1, 0.1, 0.1], [0.12, 0.1, 0.1]], [NA, CL]))  # 0.1 Å apart inside the cell
    across = _arrays([[0.01, 0.5, 0.5], [0.99, 0.5, 0.5]], [NA, CL])  # 0.1 Å apart through the cell face
    s = build_structure(across)
    assert s is not None and not structure_valid(s) and not is_valid(across)
    assert structure_valid(
        build_structure(_arrays([[0.0, 0.5, 0.5], [0.2, 0.5, 0.5]], [NA, CL]))
    )  # 1 Å apart
    assert structure_valid(
        build_structure(_arrays([[0.3, 0.3, 0.3]], [CU], lengths=(2.5, 2.5, 2.5)))
    )  # one atom


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("lengths", (-5.0, 5.0, 5.0)),
        ("lengths", (0.0, 5.0, 5.0)),
        ("lengths", (math.nan, 5.0, 5.0)),
        ("lengths", (math.inf, 5.0, 5.0)),
        ("lengths", (0.4, 0.4, 0.4)),  # volume 0.064 Å^3
        ("angles", (0.0, 90.0, 90.0)),
        ("angles", (180.0, 90.0, 90.0)),
        ("angles", (120.0, 120.0, 120.0)),  # flat: the three vectors are coplanar
        ("angles", (30.0, 30.0, 150.0)),  # no cell has these angles
        ("atom_types", (0, CL)),
        ("atom_types", (NA, 119)),
        ("atom_types", (NA, 17.5)),
        ("frac_coords", [[0, 0, 0], [math.nan, 0.5, 0.5]]),
    ],
)
def test_impossible_arrays_build_nothing(change: str, value) -> None:
    fields = {
        "coords": [[0, 0, 0], [0.5, 0.5, 0.5]],
        "types": [NA, CL],
        "lengths": (5.0,) * 3,
        "angles": (90.0,) * 3,
    }
    fields[{"frac_coords": "coords", "atom_types": "types"}.get(change, change)] = value
    c = _arrays(fields["coords"], fields["types"], fields["lengths"], fields["angles"])
    assert build_structure(c) is None
    assert not is_valid(c)


def test_cif_round_trip(perov: list[Structure], tmp_path: Path) -> None:
    structures = {"first": perov[0], "skipped": None, "second": perov[1]}
    paths = write_cifs(structures, tmp_path / "cifs")
    assert paths == [tmp_path / "cifs" / "first.cif", tmp_path / "cifs" / "second.cif"]
    matcher = StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)
    for path, original in zip(paths, (perov[0], perov[1])):
        back = Structure.from_file(path)
        assert back.composition == original.composition
        np.testing.assert_allclose(back.lattice.abc, original.lattice.abc, atol=1e-6)
        assert matcher.get_rms_dist(back, original)[0] < 1e-6


def test_cif_names_must_be_file_names(perov: list[Structure], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="path separators"):
        write_cifs({"../escape": perov[0]}, tmp_path)


def test_cif_folder_reads_back_as_arrays(perov: list[Structure], tmp_path: Path) -> None:
    write_cifs({"b": perov[1], "a": perov[0]}, tmp_path)
    cifs = read_cifs(tmp_path)
    assert list(cifs.crystals) == ["a", "b"] and cifs.unbuildable == {}
    assert build_structure(cifs.crystals["a"]).composition == perov[0].composition


def test_only_folders_without_cifs_and_files_that_are_not_cifs_are_refused(
    perov: list[Structure], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="no .cif files"):
        read_cifs(tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        read_cifs(tmp_path / "missing")
    write_cifs({"good": perov[0]}, tmp_path)
    (tmp_path / "broken.cif").write_text("data_broken\n_cell_length_a 3.9\nthis is not a CIF loop\n")
    with pytest.raises(ValueError, match="broken.cif: not a CIF.*Fix:"):
        read_cifs(tmp_path)
    (tmp_path / "broken.cif").write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="broken.cif: not a CIF"):
        read_cifs(tmp_path)


TWO_ON_ONE_SITE = """data_twice
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   5.64
_cell_length_b   5.64
_cell_length_c   5.64(2)
_cell_angle_alpha   90.0
_cell_angle_beta   90.0
_cell_angle_gamma   90.0
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Na  Na0  0.0  0.0  0.0  1
  Na  Na1  0.0  0.0  0.0  1
  Cl  Cl0  0.5  0.5  0.5  1
  Cl  Cl1  0.5  0.0  0.0  1
"""


def test_cifs_pymatgen_cannot_build_are_scored_not_refused(tmp_path: Path) -> None:
    """Two atoms on one site make pymatgen's parser give up ("no structures"); structural validity must judge
    such a crystal, so the P1 listing is read as written. A disordered one is kept as unbuildable."""
    (tmp_path / "twice.cif").write_text(TWO_ON_ONE_SITE)
    with pytest.raises(ValueError):
        Structure.from_file(tmp_path / "twice.cif")  # what used to refuse the whole folder
    write_cifs({"alloy": Structure(Lattice.cubic(4.0), [{"Fe": 0.5, "Ni": 0.5}], [[0, 0, 0]])}, tmp_path)
    cifs = read_cifs(tmp_path)
    assert list(cifs.unbuildable) == ["alloy"] and cifs.crystals["alloy"] is None
    twice = cifs.crystals["twice"]
    assert twice.atom_types.tolist() == [NA, NA, CL, CL] and twice.lengths.tolist() == [5.64] * 3
    assert not structure_valid(build_structure(twice))  # two atoms 0 Å apart
    assert composition_valid(twice.atom_types)  # Na2Cl2 balances
