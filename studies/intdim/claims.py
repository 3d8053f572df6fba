"""The paper's claims about its image-classification sweeps, each turned into a rule on our own numbers.

(a) d_int90 varies little across fully connected nets of different width and depth, though D does (§3.1;
    the reference code sweeps widths 50-400 and depths 1-5, intrinsic_dim/scripts/more/
    loop_d_mnist_fnn_wd.sh);
(b) LeNet's d_int90 on MNIST is well below the FC net's (Table 1: 290 against 750): convolutions make the
    problem easier to solve in a random subspace;
(c) shuffling the pixels raises LeNet's d_int90 but not the FC net's (Table 1: 1,400 against 290; 750
    against 750): the FC net never used the pixels' arrangement, LeNet's convolutions do.

Every rule compares interpolated d_int90 values (the crossing in log d, free of the grid's spacing) and,
where it says so, their bootstrap intervals over seeds. A sweep that never reached the threshold counts with
its largest d as a lower bound where that settles the question, and leaves the claim unassessed otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from studies.intdim.paper import paper_row

FC_SPREAD_MAX = 1.5  # (a): largest / smallest d_int90 across the FC sizes, at most
FC_D_SPREAD_MIN = 4.0  # (a): ... with D spanning at least this factor, and at least FC_SIZES_MIN sizes
FC_SIZES_MIN = 3
LENET_BELOW_MAX = 0.5  # (b): LeNet / FC at most, and LeNet's interval entirely below the FC net's
RAISED_MIN = 1.5  # (c): shuffled / plain LeNet at least, and the intervals apart
UNCHANGED_MAX = 1.25  # (c): shuffled / plain FC within [1/1.25, 1.25]

RULES = {
    "a": (
        f"at least {FC_SIZES_MIN} plain FC nets whose D spans ≥ {FC_D_SPREAD_MIN:g}×, and their d_int90 "
        f"(interpolated) spans ≤ {FC_SPREAD_MAX:g}×"
    ),
    "b": (
        f"LeNet's d_int90 ≤ {LENET_BELOW_MAX:g} × the FC net's (784-200-200-10 where present, else the "
        "largest plain FC), and LeNet's bootstrap interval lies entirely below the FC net's"
    ),
    "c": (
        f"shuffled-pixel LeNet's d_int90 ≥ {RAISED_MIN:g} × plain LeNet's with disjoint bootstrap intervals, "
        f"and the shuffled-pixel FC net's within {UNCHANGED_MAX:g}× (either way) of the same FC net's on "
        "plain pixels"
    ),
}


@dataclass(frozen=True)
class Net:
    """One network's sweep under one d_int90 definition, as the claims need it."""

    name: str
    dataset: str
    arch: str
    shuffle: str
    width: int
    depth: int
    D: int
    d_int90: float | None  # interpolated crossing; None: the threshold was not reached in the grid
    low: float  # bootstrap interval of the interpolated crossing; inf where replicates never reached it
    high: float
    grid_max: int

    @property
    def reached(self) -> bool:
        return self.d_int90 is not None

    def shown(self) -> str:
        return f"{self.d_int90:,.0f}" if self.reached else f"> {self.grid_max:,}"


@dataclass(frozen=True)
class Verdict:
    holds: bool | None  # None: these networks cannot settle it
    measured: str  # the numbers it rests on, or why it cannot be settled


def claims_dataset(nets: Sequence[Net]) -> str:
    """The dataset the claims are judged on: MNIST, the paper's, when the profile has it."""
    datasets = [n.dataset for n in nets]
    return "mnist" if "mnist" in datasets else datasets[0]


def plain_fc(nets: Sequence[Net], dataset: str) -> list[Net]:
    return [n for n in nets if (n.dataset, n.arch, n.shuffle) == (dataset, "fc", "none")]


def reference_fc(nets: Sequence[Net], dataset: str, paper_D: int | None) -> Net | None:
    """The FC net the paper quotes (its D), else the largest plain FC net."""
    fc = plain_fc(nets, dataset)
    exact = [n for n in fc if n.D == paper_D]
    return exact[0] if exact else max(fc, key=lambda n: n.D, default=None)


def sizes_agree(nets: Sequence[Net], dataset: str) -> Verdict:
    """Claim (a)."""
    fc = plain_fc(nets, dataset)
    if len(fc) < FC_SIZES_MIN:
        return Verdict(None, f"needs {FC_SIZES_MIN} plain FC nets on {dataset}; the profile has {len(fc)}")
    d_spread = max(n.D for n in fc) / min(n.D for n in fc)
    if d_spread < FC_D_SPREAD_MIN:
        return Verdict(None, f"the FC nets' D spans only {d_spread:.1f}× (rule: ≥ {FC_D_SPREAD_MIN:g}×)")
    missing = [n.name for n in fc if not n.reached]
    if missing:
        return Verdict(None, f"not reached inside the grid by {', '.join(missing)}")
    values = [n.d_int90 for n in fc]
    spread = max(values) / min(values)
    return Verdict(
        spread <= FC_SPREAD_MAX,
        f"d_int90 {min(values):,.0f}–{max(values):,.0f} (×{spread:.2f}) while D spans "
        f"{min(n.D for n in fc):,}–{max(n.D for n in fc):,} (×{d_spread:.1f})",
    )


def lenet_below_fc(lenet: Net | None, fc: Net | None) -> Verdict:
    """Claim (b). An FC sweep that never reached the threshold counts with its largest d (a lower bound)."""
    if lenet is None or fc is None:
        return Verdict(None, "needs a plain LeNet and a plain FC net on the same data")
    if not lenet.reached:
        return Verdict(None, f"LeNet did not reach the threshold inside its grid (d ≤ {lenet.grid_max:,})")
    fc_value = fc.d_int90 if fc.reached else fc.grid_max
    ratio = lenet.d_int90 / fc_value
    apart = lenet.high < fc.low
    bound = "" if fc.reached else " at most"
    return Verdict(
        ratio <= LENET_BELOW_MAX and apart,
        f"LeNet {lenet.shown()} vs {fc.name} {fc.shown()}: ratio{bound} {ratio:.2f}; intervals "
        f"{_interval(lenet)} vs {_interval(fc)} ({'apart' if apart else 'overlap'})",
    )


def shuffling_raises_lenet_not_fc(
    lenet: Net | None, lenet_pixels: Net | None, fc: Net | None, fc_pixels: Net | None
) -> Verdict:
    """Claim (c): both halves must hold. A shuffled LeNet that never reached the threshold counts with its
    largest d as a lower bound."""
    if None in (lenet, lenet_pixels, fc, fc_pixels):
        return Verdict(None, "needs LeNet and an FC net, each on plain and on shuffled pixels")
    if not (lenet.reached and fc.reached and fc_pixels.reached):
        return Verdict(None, "a plain net or the shuffled FC net did not reach the threshold in its grid")
    lenet_ratio = (lenet_pixels.d_int90 if lenet_pixels.reached else lenet_pixels.grid_max) / lenet.d_int90
    raised = lenet_ratio >= RAISED_MIN and lenet_pixels.low > lenet.high
    fc_ratio = fc_pixels.d_int90 / fc.d_int90
    unchanged = 1 / UNCHANGED_MAX <= fc_ratio <= UNCHANGED_MAX
    at_least = "" if lenet_pixels.reached else " at least"
    return Verdict(
        raised and unchanged,
        f"LeNet {lenet.shown()} → {lenet_pixels.shown()} (×{lenet_ratio:.2f}{at_least}; intervals "
        f"{_interval(lenet)} → {_interval(lenet_pixels)}: {'raised' if raised else 'not raised'}); "
        f"FC {fc.shown()} → {fc_pixels.shown()} (×{fc_ratio:.2f}: {'unchanged' if unchanged else 'changed'})",
    )


def judge(nets: Sequence[Net]) -> dict[str, Verdict]:
    """The three claims, on MNIST when the networks include it (else on their first dataset). Claim (c)
    compares the shuffled-pixel FC net with the plain FC net of the same width and depth."""
    dataset = claims_dataset(nets)
    on = [n for n in nets if n.dataset == dataset]

    def first(arch: str, shuffle: str) -> Net | None:
        return next((n for n in on if (n.arch, n.shuffle) == (arch, shuffle)), None)

    row = paper_row(dataset, "none", "fc")
    fc_pixels = first("fc", "pixels")
    same_size = [
        n
        for n in plain_fc(on, dataset)
        if fc_pixels and (n.width, n.depth) == (fc_pixels.width, fc_pixels.depth)
    ]
    return {
        "a": sizes_agree(on, dataset),
        "b": lenet_below_fc(first("lenet", "none"), reference_fc(on, dataset, row.D if row else None)),
        "c": shuffling_raises_lenet_not_fc(
            first("lenet", "none"), first("lenet", "pixels"), next(iter(same_size), None), fc_pixels
        ),
    }


def within(value: float | None, reference: float, tolerance: float) -> bool:
    """|value / reference − 1| ≤ tolerance; a threshold never reached (None) is not within anything."""
    return value is not None and abs(value / reference - 1) <= tolerance


def _interval(net: Net) -> str:
    def end(x: float) -> str:
        return "∞" if math.isinf(x) else f"{x:,.0f}"

    return f"[{end(net.low)}, {end(net.high)}]"
