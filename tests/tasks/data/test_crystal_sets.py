"""Each CDVAE dataset's settings come from its declaration, as upstream published them."""

from __future__ import annotations

import pytest

from tasks.data.crystal_sets import CRYSTAL_SETS, UnknownDataset, crystal_set


def test_mp_20_takes_upstreams_cutoffs_and_size() -> None:
    mp_20 = crystal_set("mp_20")
    assert mp_20.coverage_cutoffs == (0.4, 10.0) and mp_20.max_atoms == 20
    assert mp_20.property == "formation_energy_per_atom"
    assert (mp_20.schedule.epochs, mp_20.schedule.batch_size, mp_20.schedule.teacher_forcing_fraction) == (
        1000,
        256,
        0.5,
    )


def test_perov_5_and_carbon_24_share_cutoffs_but_not_their_size() -> None:
    perov, carbon = crystal_set("perov_5"), crystal_set("carbon_24")
    assert perov.coverage_cutoffs == carbon.coverage_cutoffs == (0.2, 4.0)
    assert (perov.max_atoms, carbon.max_atoms) == (20, 24)
    assert carbon.schedule.teacher_forcing_fraction == 0.25  # 1000 of 4000 epochs upstream


def test_an_unknown_dataset_is_refused_with_the_known_names() -> None:
    with pytest.raises(UnknownDataset, match="unknown CDVAE dataset 'mp_21'") as err:
        crystal_set("mp_21")
    assert all(name in err.value.message for name in CRYSTAL_SETS)
    assert "tasks/data/crystal_sets.py" in err.value.fix
