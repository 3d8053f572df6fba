"""COV-R/COV-P on the paper's scale, at the scale of a real evaluation: 300 Perov-5 validation crystals as the
"generated" set against 1,000 test crystals. The project must equal upstream's `compute_cov` formulas
(re-derived in test_cdvae_generation_metrics.py) and land where issue 18's run of upstream's own script did:
COV-R 62.5 %, COV-P 90.3 % on upstream's Magpie scale, 27.8 % / 59.7 % on the test set's own. That run's
subsets were not recorded; the first 300 / first 1,000 give 62.0 / 90.3 and 27.0 / 60.0, so the comparison
allows one point."""

from __future__ import annotations

import pytest

from studies.cdvae.crystal import CrystalArrays
from studies.cdvae.data import parse_structures, read_cdvae_csv, structures_from_table
from studies.cdvae.generation_metrics import assess_all, coverage
from tasks.data.crystal_sets import CRYSTAL_SETS
from tests.conftest import MIRROR
from tests.studies.cdvae.test_cdvae_generation_metrics import _upstream_cov


def _perov(split: str, n: int) -> list[CrystalArrays]:
    table = read_cdvae_csv(MIRROR / "cdvae" / "perov_5" / f"{split}.csv", ("material_id", "cif")).head(n)
    return [CrystalArrays.from_structure(s) for s in structures_from_table(parse_structures(table, split))]


def _percent(cov: dict[str, float]) -> tuple[float, float]:
    return 100 * cov["cov_recall"], 100 * cov["cov_precision"]


@pytest.mark.slow
def test_validation_crystals_score_upstreams_coverage_on_the_test_set() -> None:
    generated = assess_all(_perov("val", 300), workers=0)
    reference = assess_all(_perov("test", 1000), workers=0)
    cutoffs = CRYSTAL_SETS["perov_5"].coverage_cutoffs
    paper, own = (
        coverage(generated, reference, *cutoffs),
        coverage(generated, reference, *cutoffs, "reference"),
    )
    theirs = _upstream_cov(generated, reference, *cutoffs)
    assert paper == pytest.approx(theirs, rel=1e-12, abs=1e-12)
    assert _percent(paper) == pytest.approx((62.5, 90.3), abs=1.0)
    assert _percent(own) == pytest.approx((27.8, 59.7), abs=1.0)
