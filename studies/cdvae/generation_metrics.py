"""CDVAE's generation metrics (Xie et al. 2022, Table 2), computed as upstream's evaluation script does.

- Validity: structural (a proper cell ≥ 0.1 Å³, no two atoms closer than 0.5 Å) and compositional
  (SMACT charge neutrality with the Pauling test); the rates are over all generated crystals.
- Coverage against the reference (test) crystals, on fingerprints (`fingerprints.py`): a
  reference crystal is recalled when some generated crystal lies within δ_struct in structure
  fingerprint *and* δ_comp in standardised composition fingerprint; COV-R is the recalled share
  of the reference, COV-P the share of generated crystals within both distances of some
  reference crystal, over all generated crystals (unfingerprintable ones count as misses).
- Property statistics on up to `n_property_samples` valid crystals drawn at random: Wasserstein
  distances to the reference of the density, of the number of elements and of a property that
  a property model predicts for both sets (scipy's `wasserstein_distance`).

The composition fingerprints are standardised, as upstream's, with the fixed Magpie means and stds shipped
in upstream's code (`magpie_upstream.json`, with its provenance): they define the scale of δ_comp and so of
the paper's COV numbers. `composition_scale="reference"` standardises on the reference set's own spread
instead; it is labelled wherever it is used, because its COV is not comparable with the paper's.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist, pdist
from scipy.stats import wasserstein_distance

from studies.cdvae.crystal import CrystalArrays, build_structure, composition_valid, structure_valid
from studies.cdvae.fingerprints import COMPOSITION_DIM, STRUCTURE_DIM, fingerprint, fingerprint_blanks
from studies.cdvae.metric_settings import (
    COMPOSITION_SCALES,
    UPSTREAM_MAGPIE_SCALE,
    CompositionScale,
)
from studies.common.parallel import ordered_map


@dataclass
class Assessment:
    """Everything the metrics need from one crystal, computed once (in a worker process)."""

    struct_valid: bool
    comp_valid: bool
    density: float  # g/cm³; nan without a cell
    n_elements: int
    struct_fp: np.ndarray
    comp_fp: np.ndarray

    @property
    def valid(self) -> bool:
        return self.struct_valid and self.comp_valid


def assess(c: CrystalArrays | None) -> Assessment:
    """One crystal's validity and fingerprints; None (a CIF that holds no crystal) is invalid on every count
    and has no fingerprint."""
    if c is None:
        return Assessment(False, False, float("nan"), 0, *fingerprint_blanks())
    s = build_structure(c)
    struct_fp, comp_fp = fingerprint(c)
    return Assessment(
        struct_valid=s is not None and structure_valid(s),
        comp_valid=composition_valid(c.atom_types),
        density=float(s.density) if s is not None else float("nan"),
        n_elements=len(set(np.asarray(c.atom_types).tolist())),
        struct_fp=struct_fp,
        comp_fp=comp_fp,
    )


def assess_all(
    crystals: Sequence[CrystalArrays | None],
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Assessment]:
    return ordered_map(assess, list(crystals), workers, progress)


@dataclass(frozen=True)
class FeatureScaler:
    """Standardisation of the Magpie features; nan (a property Magpie lacks for an element) becomes 0 after
    it, as upstream's `replace_nan_token=0`."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> FeatureScaler:
        std = np.nanstd(x, axis=0)
        return cls(np.nan_to_num(np.nanmean(x, axis=0)), np.where(np.nan_to_num(std) > 0, std, 1.0))

    @classmethod
    @functools.cache
    def upstream(cls) -> FeatureScaler:
        """Upstream's fixed CompScaler constants: the paper's scale."""
        table = json.loads(UPSTREAM_MAGPIE_SCALE.read_text())
        mean, std = np.asarray(table["means"], dtype=float), np.asarray(table["stds"], dtype=float)
        if mean.shape != (COMPOSITION_DIM,) or std.shape != (COMPOSITION_DIM,) or not (std > 0).all():
            raise ValueError(
                f"{UPSTREAM_MAGPIE_SCALE}: expected {COMPOSITION_DIM} means and positive stds. "
                "Fix: restore the file from git."
            )
        return cls(mean, std)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num((x - self.mean) / self.std, nan=0.0)


def composition_scaler(scale: CompositionScale, reference: list[Assessment]) -> FeatureScaler:
    """The standardisation δ_comp is measured in: upstream's constants, or the reference set's spread."""
    if scale == "upstream":
        return FeatureScaler.upstream()
    if scale == "reference":
        return FeatureScaler.fit(_stack(_fingerprinted(reference), "comp_fp", COMPOSITION_DIM))
    raise ValueError(
        f"unknown composition scale '{scale}'. Fix: use one of {', '.join(COMPOSITION_SCALES)} "
        "(cdvae.evaluate-generation.composition_scale)."
    )


def _stack(rows: list[Assessment], field: str, dim: int) -> np.ndarray:
    return np.stack([getattr(r, field) for r in rows]) if rows else np.empty((0, dim))


def _fingerprinted(rows: list[Assessment]) -> list[Assessment]:
    return [r for r in rows if not (np.isnan(r.struct_fp).all() or np.isnan(r.comp_fp).all())]


def coverage(
    generated: list[Assessment],
    reference: list[Assessment],
    struct_cutoff: float,
    comp_cutoff: float,
    scale: CompositionScale = "upstream",
) -> dict[str, float]:
    """COV-R, COV-P and the mean minimum distances behind them (upstream's `compute_cov`)."""
    n_generated = len(generated)
    gen, ref = _fingerprinted(generated), _fingerprinted(reference)
    if not gen or not ref:
        return {"cov_recall": 0.0, "cov_precision": 0.0}
    scaler = composition_scaler(scale, reference)
    struct = cdist(_stack(gen, "struct_fp", STRUCTURE_DIM), _stack(ref, "struct_fp", STRUCTURE_DIM))
    comp = cdist(
        scaler.transform(_stack(gen, "comp_fp", COMPOSITION_DIM)),
        scaler.transform(_stack(ref, "comp_fp", COMPOSITION_DIM)),
    )
    recall = (struct.min(0) <= struct_cutoff) & (comp.min(0) <= comp_cutoff)
    precision = (struct.min(1) <= struct_cutoff) & (comp.min(1) <= comp_cutoff)
    return {
        "cov_recall": float(recall.mean()),
        "cov_precision": float(precision.sum() / n_generated),
        "amsd_recall": float(struct.min(0).mean()),
        "amsd_precision": float(struct.min(1).mean()),
        "amcd_recall": float(comp.min(0).mean()),
        "amcd_precision": float(comp.min(1).mean()),
    }


def property_sample(assessments: list[Assessment], n: int, seed: int) -> np.ndarray:
    """Indices of up to `n` valid crystals drawn without replacement (upstream draws exactly 1,000)."""
    valid = np.flatnonzero([a.valid for a in assessments])
    if len(valid) <= n:
        return valid
    return np.sort(np.random.default_rng(seed).choice(valid, n, replace=False))


def generation_metrics(
    generated: list[Assessment],
    reference: list[Assessment],
    cutoffs: tuple[float, float],
    sample: np.ndarray,
    generated_property: np.ndarray | None = None,
    reference_property: np.ndarray | None = None,
    scale: CompositionScale = "upstream",
) -> dict[str, float | int | None]:
    """Table 2's metrics from assessed crystals; `sample` indexes the valid crystals for the property
    statistics."""
    picked = [generated[i] for i in sample]
    metrics: dict[str, float | int | None] = {
        "n_generated": len(generated),
        "n_reference": len(reference),
        "n_property_samples": len(picked),
        "struct_valid": float(np.mean([a.struct_valid for a in generated])) if generated else 0.0,
        "comp_valid": float(np.mean([a.comp_valid for a in generated])) if generated else 0.0,
        "valid": float(np.mean([a.valid for a in generated])) if generated else 0.0,
    }
    metrics |= coverage(generated, reference, *cutoffs, scale)
    if not picked:
        return metrics | {"wdist_density": None, "wdist_num_elems": None, "wdist_prop": None}
    metrics["wdist_density"] = float(
        wasserstein_distance(
            [a.density for a in picked], [a.density for a in reference if np.isfinite(a.density)]
        )
    )
    metrics["wdist_num_elems"] = float(
        wasserstein_distance([a.n_elements for a in picked], [a.n_elements for a in reference])
    )
    metrics["wdist_prop"] = (
        None
        if generated_property is None or reference_property is None
        else float(wasserstein_distance(generated_property, reference_property))
    )
    ok = _fingerprinted(picked)
    if (
        len(ok) > 1
    ):  # upstream's diversity: mean pairwise fingerprint distance among the sampled valid crystals
        scaler = composition_scaler(scale, reference)
        metrics["struct_diversity"] = float(pdist(_stack(ok, "struct_fp", STRUCTURE_DIM)).mean())
        metrics["comp_diversity"] = float(
            pdist(scaler.transform(_stack(ok, "comp_fp", COMPOSITION_DIM))).mean()
        )
    return metrics
