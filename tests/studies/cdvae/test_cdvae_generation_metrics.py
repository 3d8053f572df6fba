"""Table 2's metrics on hand-built and real crystals: validity, coverage, Wasserstein distances, the property
draw."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from studies.cdvae.crystal import CrystalArrays
from studies.cdvae.fingerprints import COMPOSITION_DIM, STRUCTURE_DIM, fingerprint, fingerprints
from studies.cdvae.generation_metrics import (
    FeatureScaler,
    assess,
    assess_all,
    coverage,
    coverage_cutoffs,
    generation_metrics,
    property_sample,
)
from tests.studies.cdvae.perov import structures


@cache
def perovskites() -> tuple:
    """Assessments of 24 real Perov-5 test crystals (computed once: CrystalNN is slow)."""
    return tuple(assess_all([CrystalArrays.from_structure(s) for s in structures(24)], workers=1))


def _srtio3(a: float = 3.905) -> CrystalArrays:
    s = Structure(
        Lattice.cubic(a),
        ["Sr", "Ti", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )
    return CrystalArrays.from_structure(s)


def _metal(element: str, a: float) -> CrystalArrays:
    return CrystalArrays.from_structure(
        Structure(Lattice.cubic(a), [element, element], [[0, 0, 0], [0.5, 0.5, 0.5]])
    )


def test_validity_of_hand_built_crystals() -> None:
    good = assess(_srtio3())
    assert good.struct_valid and good.comp_valid and good.valid
    assert good.density == pytest.approx(5.12, abs=0.02)  # SrTiO3's textbook density, g/cm³
    assert good.n_elements == 3

    squeezed = _srtio3()
    coords = squeezed.frac_coords.copy()
    coords[1] = coords[0] + [0.3 / 3.905, 0, 0]  # Ti 0.3 Å from Sr: overlapping atoms
    overlap = assess(CrystalArrays(coords, squeezed.atom_types, squeezed.lengths, squeezed.angles))
    assert not overlap.struct_valid and overlap.comp_valid and not overlap.valid

    flat = assess(
        CrystalArrays(squeezed.frac_coords, squeezed.atom_types, np.array([3.9, 3.9, 1e-3]), squeezed.angles)
    )
    assert not flat.struct_valid  # volume below 0.1 Å³
    assert np.isnan(flat.density) and np.isnan(flat.struct_fp).all()

    wrong_charge = assess(
        CrystalArrays(squeezed.frac_coords, np.array([38, 38, 8, 8, 8]), squeezed.lengths, squeezed.angles)
    )
    assert wrong_charge.struct_valid and not wrong_charge.comp_valid  # Sr2O3 cannot balance with Sr2+


def test_coverage_of_a_set_against_itself_is_complete() -> None:
    ref = list(perovskites())
    cov = coverage(ref, ref, *coverage_cutoffs("perov_5"))
    assert cov["cov_recall"] == 1.0 and cov["cov_precision"] == 1.0
    assert cov["amsd_recall"] == 0.0 and cov["amcd_precision"] == 0.0


def test_coverage_against_a_disjoint_set_is_zero() -> None:
    metals = [assess(_metal(e, a)) for e, a in (("Li", 3.51), ("Na", 4.29), ("K", 5.33), ("W", 3.16))]
    cov = coverage(metals, list(perovskites()), *coverage_cutoffs("perov_5"))
    assert cov["cov_recall"] == 0.0 and cov["cov_precision"] == 0.0
    assert cov["amcd_precision"] > coverage_cutoffs("perov_5")[1]


def test_an_unfingerprintable_crystal_counts_against_precision_only() -> None:
    ref = list(perovskites())
    broken = assess(CrystalArrays(np.zeros((1, 3)), np.array([8]), np.array([-1.0, 3, 3]), np.full(3, 90.0)))
    assert np.isnan(broken.struct_fp).all()
    cov = coverage([*ref, broken], ref, *coverage_cutoffs("perov_5"))
    assert cov["cov_recall"] == 1.0 and cov["cov_precision"] == pytest.approx(len(ref) / (len(ref) + 1))


def test_identical_distributions_are_zero_apart() -> None:
    ref = list(perovskites())
    prop = np.linspace(-1, 1, len(ref))
    metrics = generation_metrics(ref, ref, (0.2, 4.0), np.arange(len(ref)), prop, prop)
    assert (
        metrics["wdist_density"] == 0.0 and metrics["wdist_num_elems"] == 0.0 and metrics["wdist_prop"] == 0.0
    )
    shifted = generation_metrics(ref, ref, (0.2, 4.0), np.arange(len(ref)), prop + 0.5, prop)
    assert shifted["wdist_prop"] == pytest.approx(0.5)


def test_property_sample_draws_only_valid_crystals_reproducibly() -> None:
    good, bad = assess(_srtio3()), assess(_srtio3())
    bad.struct_valid = False
    rows = [good, bad] * 10
    first, again = property_sample(rows, 5, seed=3), property_sample(rows, 5, seed=3)
    assert len(first) == 5 and (first == again).all() and all(k % 2 == 0 for k in first)
    assert len(property_sample(rows, 1000, seed=0)) == 10  # fewer valid crystals than asked: all of them


def test_feature_scaler_keeps_constant_features_and_zeroes_missing_values() -> None:
    x = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, 2.0]])
    scaler = FeatureScaler.fit(x)
    out = scaler.transform(np.array([[2.0, 6.0, np.nan]]))
    assert out.tolist() == [[0.0, 1.0, 0.0]]


def test_fingerprints_match_in_and_out_of_process() -> None:
    crystals = [CrystalArrays.from_structure(s) for s in structures(6)]
    one, two = fingerprints(crystals, workers=1), fingerprints(crystals, workers=2)
    assert one.structure.shape == (6, STRUCTURE_DIM) and one.composition.shape == (6, COMPOSITION_DIM)
    assert np.array_equal(one.structure, two.structure) and np.array_equal(one.composition, two.composition)
    assert one.ok.all()
    s, c = fingerprint(_srtio3())
    assert np.isfinite(s).all() and np.isfinite(c).all()


def test_unknown_dataset_needs_explicit_cutoffs() -> None:
    with pytest.raises(ValueError, match="coverage_cutoffs"):
        coverage_cutoffs("my_dataset")
