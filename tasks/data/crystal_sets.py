"""CDVAE's crystal datasets by name: the CSV columns each must have and the property the studies condition on.

Kept apart from their ingest declaration (tasks/data/datasets/cdvae.py) because cdvae-prepare reads it:
its code deps are this file alone, so a change to ingest does not rerun CDVAE.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CrystalSet:
    name: str
    columns: tuple[str, ...]  # required CSV columns besides the unnamed pandas index
    property: str


CRYSTAL_SETS: dict[str, CrystalSet] = {
    c.name: c
    for c in (
        CrystalSet(
            "perov_5",
            ("material_id", "cif", "formula", "heat_all", "heat_ref", "dir_gap", "ind_gap"),
            "heat_ref",
        ),
        CrystalSet("carbon_24", ("material_id", "cif", "energy_per_atom"), "energy_per_atom"),
        CrystalSet(
            "mp_20",
            (
                "material_id",
                "cif",
                "formation_energy_per_atom",
                "band_gap",
                "pretty_formula",
                "e_above_hull",
                "elements",
                "spacegroup.number",
            ),
            "formation_energy_per_atom",
        ),
    )
}
