"""The published settings that put CDVAE's generation metrics on the paper's scale: the coverage cutoffs of
each dataset and the standardisation δ_comp is measured in. Free of heavy imports, so a command can check a
user's choice before it loads the metrics (matminer, pymatgen, torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

# (δ_struct, δ_comp) per dataset, upstream's COV_Cutoffs (the paper's Appendix).
COVERAGE_CUTOFFS = {"perov_5": (0.2, 4.0), "carbon_24": (0.2, 4.0), "mp_20": (0.4, 10.0)}
# Upstream's fixed Magpie means and stds, with their provenance: the paper's scale of δ_comp.
UPSTREAM_MAGPIE_SCALE = Path(__file__).with_name("magpie_upstream.json")
CompositionScale = Literal["upstream", "reference"]
COMPOSITION_SCALES: tuple[CompositionScale, ...] = ("upstream", "reference")


def coverage_cutoffs(dataset: str) -> tuple[float, float]:
    if dataset not in COVERAGE_CUTOFFS:
        raise ValueError(
            f"no published coverage thresholds for dataset '{dataset}' "
            f"(known: {', '.join(COVERAGE_CUTOFFS)}). "
            "Fix: pass them explicitly (cdvae.evaluate_generation.coverage_cutoffs: [δ_struct, δ_comp])."
        )
    return COVERAGE_CUTOFFS[dataset]
