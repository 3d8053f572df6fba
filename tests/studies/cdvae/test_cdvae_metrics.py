"""CDVAE's reconstruction metric on real perov_5 test crystals: exact, noisy, wrong and invalid
predictions."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Element

from studies.cdvae.crystal import CrystalArrays, build_structure
from studies.cdvae.data import parse_structures, read_cdvae_csv, structures_from_table
from studies.cdvae.metrics import reconstruction_metrics
from tests.conftest import MIRROR

PEROV_TEST = MIRROR / "cdvae" / "perov_5" / "test.csv"


@pytest.fixture(scope="module")
def truths() -> list[CrystalArrays]:
    """The first 12 perov_5 test crystals."""
    df = read_cdvae_csv(PEROV_TEST, ["material_id", "cif"]).head(12)
    return [CrystalArrays.from_structure(s) for s in structures_from_table(parse_structures(df, "test.csv"))]


def _noisy(c: CrystalArrays, sigma: float, rng: np.random.Generator) -> CrystalArrays:
    """`c` with every atom moved by Gaussian noise of `sigma` Å per Cartesian axis."""
    lattice = build_structure(c).lattice
    shift = lattice.get_fractional_coords(rng.normal(0.0, sigma, size=c.frac_coords.shape))
    return dataclasses.replace(c, frac_coords=c.frac_coords + shift)


def _wrong_element(c: CrystalArrays) -> CrystalArrays:
    """`c` with its first site's element replaced everywhere by its neighbour in the same group (Sr -> Ca,
    Cu -> Ag)."""
    e = Element.from_Z(int(c.atom_types[0]))
    try:
        other = Element.from_row_and_group(e.row - 1, e.group)
    except ValueError:  # the top of its group (Li, Cu, ...)
        other = Element.from_row_and_group(e.row + 1, e.group)
    return dataclasses.replace(c, atom_types=np.where(c.atom_types == e.Z, other.Z, c.atom_types))


def _overlapping(c: CrystalArrays) -> CrystalArrays:
    """`c` with its second atom put 0.1 Å from its first."""
    lattice = build_structure(c).lattice
    coords = c.frac_coords.copy()
    coords[1] = coords[0] + lattice.get_fractional_coords([0.1, 0.0, 0.0])
    return dataclasses.replace(c, frac_coords=coords)


def _negative_length(c: CrystalArrays) -> CrystalArrays:
    return dataclasses.replace(c, lengths=c.lengths * np.array([-1.0, 1.0, 1.0]))


def test_identical_structures_match_exactly(truths: list[CrystalArrays]) -> None:
    result = reconstruction_metrics(truths, truths, workers=1)
    assert result.match_rate == 1.0 and result.n == result.n_valid == len(truths)
    assert result.rmse == pytest.approx(0.0, abs=1e-6)
    assert all(v for v in result.valid)


def test_small_noise_still_matches_with_small_error(truths: list[CrystalArrays]) -> None:
    rng = np.random.default_rng(0)
    result = reconstruction_metrics([_noisy(c, 0.05, rng) for c in truths], truths, workers=1)
    assert result.match_rate == 1.0
    assert 0.0 < result.rmse < 0.1  # pymatgen normalises the RMS by (volume / atoms)^(1/3), ~2.3 Å here


def test_wrong_composition_does_not_match(truths: list[CrystalArrays]) -> None:
    result = reconstruction_metrics([_wrong_element(c) for c in truths], truths, workers=1)
    assert result.match_rate == 0.0 and math.isnan(result.rmse)
    assert all(r is None for r in result.rms)
    assert result.n_valid > 0  # some swaps stay chemically valid, so the matcher itself said no


def test_invalid_predictions_count_as_misses(truths: list[CrystalArrays]) -> None:
    preds = [truths[0], _overlapping(truths[1]), _negative_length(truths[2]), truths[3]]
    result = reconstruction_metrics(preds, truths[:4], workers=1)
    assert result.valid == [True, False, False, True]
    assert result.rms[1] is None and result.rms[2] is None
    assert result.match_rate == 0.5 and result.n == 4 and result.n_valid == 2


def test_matcher_failure_is_a_miss(truths: list[CrystalArrays], monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args, **_kwargs):
        raise ValueError("lattice reduction failed")

    monkeypatch.setattr(StructureMatcher, "get_rms_dist", boom)
    result = reconstruction_metrics(truths[:2], truths[:2], workers=1)
    assert result.rms == [None, None] and result.valid == [True, True] and result.match_rate == 0.0


def test_pool_gives_the_same_results_in_order(truths: list[CrystalArrays]) -> None:
    rng = np.random.default_rng(1)
    makers = [lambda c: c, lambda c: _noisy(c, 0.05, rng), _wrong_element, _overlapping, _negative_length]
    preds = [makers[i % len(makers)](c) for i, c in enumerate(truths)]
    calls: list[tuple[int, int]] = []
    serial = reconstruction_metrics(preds, truths, workers=1)
    pooled = reconstruction_metrics(
        preds, truths, workers=2, progress=lambda done, total: calls.append((done, total))
    )
    assert pooled == serial
    assert [r is not None for r in serial.rms] == [i % len(makers) in (0, 1) for i in range(len(truths))]
    assert calls == [(i, len(truths)) for i in range(1, len(truths) + 1)]


def test_progress_ends_at_total_in_process(truths: list[CrystalArrays]) -> None:
    calls: list[tuple[int, int]] = []
    reconstruction_metrics(
        truths[:3], truths[:3], workers=1, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_mismatched_lengths_are_refused(truths: list[CrystalArrays]) -> None:
    with pytest.raises(ValueError, match="one prediction per target"):
        reconstruction_metrics(truths[:2], truths[:3], workers=1)
