"""CDVAE's crystal datasets by name: everything that differs between them, declared once.

Every stage takes its per-dataset settings from here (the CSV columns, the property, the largest crystal,
upstream's training schedule, the coverage cutoffs), so another dataset is a params change
(`cdvae.prepare.dataset`), not a code path. The values are upstream's, at the commit the ingest declaration
pins (tasks/data/datasets/cdvae.py): `conf/data/<file>.yaml` for the data and training settings,
`scripts/compute_metrics.py` (COV_Cutoffs) for the cutoffs. Upstream's other data settings are the same for
all three datasets and are what studies/cdvae/dataset.py does (niggli: true, primitive: false,
graph_method: crystalnn, lattice_scale_method: scale_length).

Kept apart from the ingest declaration, and free of heavy imports, because cdvae-prepare and `studies cdvae
evaluate-cifs` (before its heavy imports) read it: a change to ingest does not rerun CDVAE.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.platform.errors import StudiesError


@dataclass(frozen=True)
class Schedule:
    """Upstream's training run (conf/data/<file>.yaml): what the paper's numbers came from."""

    epochs: int  # train_max_epochs
    batch_size: int  # datamodule.batch_size.train
    # teacher_forcing_max_epoch: until then the lattice head is given the true lattice
    teacher_forcing_epochs: int

    @property
    def teacher_forcing_fraction(self) -> float:
        return self.teacher_forcing_epochs / self.epochs


@dataclass(frozen=True)
class CrystalSet:
    name: str
    title: str  # as the paper names it
    columns: tuple[str, ...]  # required CSV columns besides the unnamed pandas index
    property: str  # conf/data/<file>.yaml `prop`
    max_atoms: int  # conf/data/<file>.yaml `max_atoms`: the largest crystal, and the atom-count head's size
    schedule: Schedule
    # (δ_struct, δ_comp): scripts/compute_metrics.py COV_Cutoffs[<the config's eval_model_name>]
    coverage_cutoffs: tuple[float, float]


CRYSTAL_SETS: dict[str, CrystalSet] = {
    c.name: c
    for c in (
        CrystalSet(  # conf/data/perov.yaml (eval_model_name: perovskite)
            name="perov_5",
            title="Perov-5",
            columns=("material_id", "cif", "formula", "heat_all", "heat_ref", "dir_gap", "ind_gap"),
            property="heat_ref",
            max_atoms=20,
            schedule=Schedule(epochs=3000, batch_size=512, teacher_forcing_epochs=1500),
            coverage_cutoffs=(0.2, 4.0),
        ),
        CrystalSet(  # conf/data/carbon.yaml (eval_model_name: carbon)
            name="carbon_24",
            title="Carbon-24",
            columns=("material_id", "cif", "energy_per_atom"),
            property="energy_per_atom",
            max_atoms=24,
            schedule=Schedule(epochs=4000, batch_size=256, teacher_forcing_epochs=1000),
            coverage_cutoffs=(0.2, 4.0),
        ),
        CrystalSet(  # conf/data/mp_20.yaml (eval_model_name: mp20)
            name="mp_20",
            title="MP-20",
            columns=(
                "material_id",
                "cif",
                "formation_energy_per_atom",
                "band_gap",
                "pretty_formula",
                "e_above_hull",
                "elements",
                "spacegroup.number",
            ),
            property="formation_energy_per_atom",
            max_atoms=20,
            schedule=Schedule(epochs=1000, batch_size=256, teacher_forcing_epochs=500),
            coverage_cutoffs=(0.4, 10.0),
        ),
    )
}


class UnknownDataset(StudiesError):
    """A dataset name with no declaration here."""


def crystal_set(name: str) -> CrystalSet:
    """The declaration of `name`; an unknown name is refused with the known ones."""
    if name not in CRYSTAL_SETS:
        raise UnknownDataset(
            f"unknown CDVAE dataset '{name}' (known: {', '.join(CRYSTAL_SETS)}). Fix: name one of those "
            "(cdvae.prepare.dataset, --reference), or declare it in tasks/data/crystal_sets.py."
        )
    return CRYSTAL_SETS[name]
