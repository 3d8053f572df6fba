"""The random baseline of the generation table: what a generator gets without learning any geometry.

Each baseline crystal takes the composition and lattice of a training crystal drawn at random
(so it matches the dataset's composition and lattice statistics exactly) and places its atoms
at uniform random fractional coordinates. The gap between it and CDVAE is what the decoder adds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from studies.cdvae.crystal import CrystalArrays


def random_crystals(training: Sequence[CrystalArrays], n: int, seed: int) -> list[CrystalArrays]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(training), n)
    return [
        CrystalArrays(
            rng.random((len(training[k].atom_types), 3)),
            rng.permutation(np.asarray(training[k].atom_types)),
            np.asarray(training[k].lengths, dtype=float),
            np.asarray(training[k].angles, dtype=float),
        )
        for k in picks
    ]
