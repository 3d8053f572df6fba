"""The random baseline keeps the training crystals' compositions and lattices and randomises positions."""

from __future__ import annotations

import numpy as np

from studies.cdvae.baseline import random_crystals
from studies.cdvae.crystal import CrystalArrays
from tests.studies.cdvae.perov import structures


def test_random_crystals_take_composition_and_lattice_from_training_crystals() -> None:
    training = [CrystalArrays.from_structure(s) for s in structures(12)]
    out = random_crystals(training, 30, seed=0)
    assert len(out) == 30
    signatures = {(tuple(sorted(c.atom_types.tolist())), tuple(c.lengths), tuple(c.angles)) for c in training}
    for c in out:
        assert (tuple(sorted(c.atom_types.tolist())), tuple(c.lengths), tuple(c.angles)) in signatures
        assert c.frac_coords.shape == (len(c.atom_types), 3)
        assert ((c.frac_coords >= 0) & (c.frac_coords < 1)).all()
    again = random_crystals(training, 30, seed=0)
    assert all(np.array_equal(a.frac_coords, b.frac_coords) for a, b in zip(out, again))
    coords = np.concatenate([c.frac_coords for c in out])
    assert abs(coords.mean() - 0.5) < 0.05  # uniform, not the training positions
