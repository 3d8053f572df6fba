"""The fingerprints behind CDVAE's coverage metrics: CrystalNN "ops" site fingerprints and Magpie composition
features.

As upstream's evaluation: a crystal's structure fingerprint is the mean over its sites of
matminer's `CrystalNNFingerprint.from_preset("ops")` (61 local-order parameters), its
composition fingerprint is matminer's `ElementProperty.from_preset("magpie")` (132 element
statistics). CrystalNN can fail on a pathological cell; upstream then drops the crystal from
the coverage sets (it still counts in COV-P's denominator), so a failure is a row of nan here.

Deviation, kept on purpose: upstream also fingerprints cells under 0.1 Å³, which it has already called
invalid ("unrealistically_small_lattice"); here they get no fingerprint (a miss, as above). Such a cell has
no meaningful local environment, and CrystalNN's neighbour search grows as 1/volume: one 5-atom cell of
0.015 Å³ ran over 300 s without finishing, against ~0.1 s for a real Perov-5 crystal.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from matminer.featurizers.composition.composite import ElementProperty
from matminer.featurizers.site.fingerprint import CrystalNNFingerprint
from pymatgen.core import Composition, Element

from studies.cdvae.crystal import CrystalArrays, build_structure
from studies.common.parallel import ordered_map

STRUCTURE_FINGERPRINT = CrystalNNFingerprint.from_preset("ops")
COMPOSITION_FINGERPRINT = ElementProperty.from_preset("magpie")
STRUCTURE_DIM = len(STRUCTURE_FINGERPRINT.feature_labels())
COMPOSITION_DIM = len(COMPOSITION_FINGERPRINT.feature_labels())


@dataclass
class Fingerprints:
    """One row per crystal; a row of nan where the fingerprint could not be computed."""

    structure: np.ndarray  # (n, 61)
    composition: np.ndarray  # (n, 132)

    @property
    def ok(self) -> np.ndarray:
        """Crystals with both fingerprints (upstream's `filter_fps`)."""
        return ~(np.isnan(self.structure).all(1) | np.isnan(self.composition).all(1))


def fingerprint_blanks() -> tuple[np.ndarray, np.ndarray]:
    """The (structure, composition) fingerprints of a crystal that has none: rows of nan."""
    return np.full(STRUCTURE_DIM, np.nan), np.full(COMPOSITION_DIM, np.nan)


def fingerprint(c: CrystalArrays) -> tuple[np.ndarray, np.ndarray]:
    """(structure, composition) fingerprints of one crystal; nan rows where it has no cell or CrystalNN
    fails."""
    blank_s, blank_c = fingerprint_blanks()
    s = build_structure(c)
    if s is None:
        return blank_s, blank_c
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CrystalNN warns on every site without oxidation states
        try:
            sites = [STRUCTURE_FINGERPRINT.featurize(s, i) for i in range(len(s))]
        except Exception:  # noqa: BLE001 — any CrystalNN failure makes the crystal unfingerprintable, as upstream
            return blank_s, blank_c
        composition = Composition(
            {Element.from_Z(int(z)): n for z, n in Counter(c.atom_types.tolist()).items()}
        )
        return np.mean(sites, axis=0), np.asarray(COMPOSITION_FINGERPRINT.featurize(composition), dtype=float)


def fingerprints(
    crystals: Sequence[CrystalArrays], workers: int = 0, progress: Callable[[int, int], None] | None = None
) -> Fingerprints:
    """Fingerprints of every crystal, in order, over `workers` processes (0: all cores)."""
    rows = ordered_map(fingerprint, list(crystals), workers, progress)
    if not rows:
        return Fingerprints(np.empty((0, STRUCTURE_DIM)), np.empty((0, COMPOSITION_DIM)))
    return Fingerprints(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]))
