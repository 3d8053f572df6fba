"""The published standardisation that puts CDVAE's composition distances (δ_comp) on the paper's scale. Free
of heavy imports, so a command can check a user's choice before it loads the metrics (matminer, pymatgen,
torch). Each dataset's coverage cutoffs are declared with the dataset (tasks/data/crystal_sets.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

# Upstream's fixed Magpie means and stds, with their provenance: the paper's scale of δ_comp.
UPSTREAM_MAGPIE_SCALE = Path(__file__).with_name("magpie_upstream.json")
CompositionScale = Literal["upstream", "reference"]
COMPOSITION_SCALES: tuple[CompositionScale, ...] = ("upstream", "reference")
