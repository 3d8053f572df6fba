"""CDVAE's reconstruction metric (Xie et al. 2022, Table 1): match rate and RMSE under pymatgen's
StructureMatcher.

Each prediction is compared with its own ground truth. An invalid prediction
(see `crystal.is_valid`) is never shown to the matcher and counts as a miss.
Matching is CPU-bound and independent per pair, so pairs are spread over
worker processes (`parallel.ordered_map`); `rms[i]` belongs to pair i.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pymatgen.analysis.structure_matcher import StructureMatcher

from studies.cdvae.crystal import CrystalArrays, build_structure, is_valid
from studies.common.parallel import ordered_map


@dataclass
class ReconstructionResult:
    """Match rate over all pairs, RMSE over matched pairs, and the per-pair detail behind them."""

    match_rate: float
    rmse: float  # nan when nothing matched
    n: int
    n_valid: int
    rms: list[float | None]  # None: invalid prediction, or the matcher found no match
    valid: list[bool]


def _match_pair(
    pair: tuple[CrystalArrays, CrystalArrays], stol: float, angle_tol: float, ltol: float
) -> tuple[bool, float | None]:
    """(prediction valid, RMS distance or None) for one (prediction, ground truth) pair."""
    pred, target = pair
    if not is_valid(pred):
        return False, None
    pred_s, target_s = build_structure(pred), build_structure(target)
    if target_s is None:
        return True, None
    # StructureMatcher.fit checks this first but get_rms_dist does not, and on a wrong composition it can
    # spend minutes on lattice mappings that cannot succeed (its species comparator needs equal compositions).
    if pred_s.composition.reduced_composition != target_s.composition.reduced_composition:
        return True, None
    matcher = StructureMatcher(stol=stol, angle_tol=angle_tol, ltol=ltol)
    try:
        found = matcher.get_rms_dist(pred_s, target_s)
    except (
        Exception
    ):  # the matcher can fail on degenerate cells (e.g. in its lattice reduction); a failure is a miss
        return True, None
    return True, None if found is None else float(found[0])


def reconstruction_metrics(
    preds: Sequence[CrystalArrays],
    targets: Sequence[CrystalArrays],
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
    stol: float = 0.5,
    angle_tol: float = 10.0,
    ltol: float = 0.3,
) -> ReconstructionResult:
    """Match every prediction against its target; `workers=0` uses all cores, `workers=1` stays in this
    process.

    `progress(done, total)` is called after each pair, ending with (total, total).
    """
    if len(preds) != len(targets):
        raise ValueError(
            f"{len(preds)} predictions but {len(targets)} targets. Fix: pass one prediction per target."
        )
    total = len(preds)
    match = functools.partial(_match_pair, stol=stol, angle_tol=angle_tol, ltol=ltol)
    outcomes = ordered_map(match, list(zip(preds, targets)), workers, progress)
    valid = [ok for ok, _ in outcomes]
    rms = [r for _, r in outcomes]
    matched = [r for r in rms if r is not None]
    return ReconstructionResult(
        match_rate=len(matched) / total if total else math.nan,
        rmse=sum(matched) / len(matched) if matched else math.nan,
        n=total,
        n_valid=sum(valid),
        rms=rms,
        valid=valid,
    )
