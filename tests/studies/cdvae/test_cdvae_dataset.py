"""Preparing crystals as CDVAE trains on them: Niggli cells, CrystalNN bonds, scalers, batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from studies.cdvae.data import structures_from_table
from studies.cdvae.dataset import (
    PreparedDataError,
    Scaler,
    canonical,
    crystalnn_edges,
    prepare_table,
    scaled_lattice,
)
from studies.cdvae.graph import edge_vectors
from studies.cdvae.lattice import frac_to_cart, lattice_matrix
from tests.studies.cdvae.perov import crystal_set, parsed, prepared


def test_canonical_cell_is_niggli_reduced_and_the_same_crystal() -> None:
    skewed = Structure(Lattice([[4, 0, 0], [4, 4, 0], [0, 3, 5]]), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    c = canonical(skewed)
    assert np.allclose(c.lattice.abc, skewed.get_reduced_structure().lattice.abc)
    assert c.lattice.abc[0] <= c.lattice.abc[1] <= c.lattice.abc[2] + 1e-9
    assert StructureMatcher().fit(c, skewed)
    assert np.all((c.frac_coords >= 0) & (c.frac_coords < 1))


def test_prepared_rows_rebuild_the_parsed_crystals() -> None:
    table = prepared(8)
    for row, original in zip(table.iter_rows(named=True), structures_from_table(parsed(8))):
        rebuilt = Structure(
            Lattice.from_parameters(*row["lengths"], *row["angles"]),
            row["atom_types"],
            np.reshape(row["frac_coords"], (-1, 3)),
        )
        assert StructureMatcher(ltol=1e-3, stol=1e-3, angle_tol=1e-2).fit(rebuilt, original)
        assert row["num_atoms"] == len(original) and row["property"] is not None


def test_crystalnn_bonds_come_in_both_directions_and_are_short() -> None:
    s = canonical(structures_from_table(parsed(1))[0])
    edges = np.reshape(crystalnn_edges(s), (-1, 5))
    assert len(edges) > 0 and len(edges) % 2 == 0
    forward = {(j, i, tuple(o)) for j, i, *o in edges.tolist()}
    assert all((i, j, tuple(-x for x in o)) in forward for j, i, o in forward)
    for j, i, *offset in edges.tolist():  # every bond is a real, short interatomic distance
        d = np.linalg.norm(s.lattice.get_cartesian_coords(s.frac_coords[j] + offset) - s.cart_coords[i])
        assert 1.0 < d < 4.5


def test_a_batch_gathers_atoms_and_remaps_bond_indices() -> None:
    crystals = crystal_set(12)
    picked = torch.tensor([7, 2, 9])
    b = crystals.batch(picked)
    assert b.num_atoms.tolist() == crystals.num_atoms[picked].tolist()
    assert b.batch.tolist() == sum(([k] * int(n) for k, n in enumerate(b.num_atoms)), [])
    # the bonds of a crystal in the batch have the lengths it has alone
    for k, idx in enumerate(picked):
        alone = crystals.batch(idx.view(1))
        lengths_alone = _bond_lengths(alone)
        mask = b.batch[b.edge_index[1]] == k
        assert torch.allclose(torch.sort(_bond_lengths(b)[mask]).values, torch.sort(lengths_alone).values)
        assert (b.batch[b.edge_index[0]][mask] == k).all()


def _bond_lengths(b) -> torch.Tensor:
    lattice = lattice_matrix(b.lengths, b.angles)
    cart = frac_to_cart(b.frac_coords, lattice, b.num_atoms)
    return edge_vectors(cart, lattice, b.batch, b.edge_index, b.cell_offsets).norm(dim=-1)


def test_scaled_lattice_divides_lengths_by_cube_root_of_atom_count() -> None:
    x = scaled_lattice(np.array([[8.0, 8.0, 8.0]]), np.array([[90.0, 90.0, 90.0]]), np.array([8]))
    assert np.allclose(x, [[4, 4, 4, 90, 90, 90]])
    s = Scaler.fit(np.array([[1.0], [3.0]]))
    assert s.mean == [2.0] and s.std[0] == pytest.approx(np.sqrt(2), rel=1e-4)


def test_bad_input_is_refused_with_the_fix() -> None:
    with pytest.raises(
        PreparedDataError, match=r"more than max_atoms=4\. Fix: raise cdvae\.prepare\.max_atoms"
    ):
        prepare_table(parsed(2), "heat_ref", 4, "test.csv")
    with pytest.raises(PreparedDataError, match="no property column 'band_gap'.*heat_ref"):
        prepare_table(parsed(2), "band_gap", 20, "test.csv")


def test_parallel_preparation_equals_serial() -> None:
    assert prepare_table(parsed(6), "heat_ref", 20, "t", workers=2).equals(prepared(6))


def test_another_cdvae_dataset_prepares_by_its_own_columns(tmp_path) -> None:
    """Carbon-24 rows (other property column, up to 24 atoms) go through the same preparation."""
    from studies.cdvae.data import parse_structures as parse
    from studies.cdvae.data import read_cdvae_csv
    from tests.studies.cdvae.test_data import CARBON_CSV

    (path := tmp_path / "val.csv").write_text(CARBON_CSV)
    table = prepare_table(
        parse(read_cdvae_csv(path, ("material_id", "cif", "energy_per_atom")), "val.csv"),
        "energy_per_atom",
        24,
        "carbon_24/val.csv",
    )
    assert table["num_atoms"].to_list() == [8, 6]
    assert all(set(t) == {6} for t in table["atom_types"].to_list()) and table["property"].null_count() == 0
    assert all(len(e) > 0 for e in table["edges"].to_list())
