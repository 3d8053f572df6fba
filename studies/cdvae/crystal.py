"""Crystals as plain arrays, and CDVAE's validity test on them.

A decoder emits arrays (fractional coordinates, atomic numbers, lattice
lengths and angles), not pymatgen objects, and some of what it emits is not a
crystal at all. `CrystalArrays` is that raw output; `build_structure` is the one
place that decides whether it can be a cell, and `is_valid` is the validity of
Xie et al. (2022): structurally valid (no two atoms closer than 0.5 Å) and
compositionally valid (SMACT charge neutrality with the Pauling test).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import smact
from pymatgen.core import Element, Lattice, Structure
from pymatgen.io.cif import CifWriter
from smact.screening import pauling_test

MIN_VOLUME = 0.1  # Å^3; CDVAE rejects smaller cells as degenerate
MAX_Z = 100  # CDVAE's decoders predict elements 1..100


@dataclass(frozen=True)
class CrystalArrays:
    """One crystal as the model sees it; picklable, so it crosses process boundaries cheaply."""

    frac_coords: np.ndarray  # (N, 3)
    atom_types: np.ndarray  # (N,) atomic numbers
    lengths: np.ndarray  # (3,) Å
    angles: np.ndarray  # (3,) degrees

    @classmethod
    def from_structure(cls, s: Structure) -> CrystalArrays:
        """The arrays of a pymatgen structure, in its own cell and site order."""
        return cls(
            frac_coords=np.array(s.frac_coords, dtype=float),
            atom_types=np.array(s.atomic_numbers, dtype=int),
            lengths=np.array(s.lattice.abc, dtype=float),
            angles=np.array(s.lattice.angles, dtype=float),
        )


def _cell_volume(lengths: np.ndarray, angles: np.ndarray) -> float:
    """Volume from lengths and angles, or nan when no real cell has them.

    pymatgen's `Lattice.from_parameters` clips an impossible angle triple into a
    different cell instead of failing, so the check is done here first.
    """
    if (
        lengths.shape != (3,)
        or angles.shape != (3,)
        or not (np.isfinite(lengths).all() and np.isfinite(angles).all())
    ):
        return math.nan
    if (lengths <= 0).any() or (angles <= 0).any() or (angles >= 180).any():
        return math.nan
    ca, cb, cg = np.cos(np.radians(angles))
    gram = 1.0 - ca**2 - cb**2 - cg**2 + 2.0 * ca * cb * cg  # (V / abc)^2
    return float(np.prod(lengths) * math.sqrt(gram)) if gram > 0 else math.nan


def build_structure(c: CrystalArrays) -> Structure | None:
    """The pymatgen structure of `c`, or None when its arrays cannot describe a proper cell.

    None for: non-finite or non-positive lengths, angles outside (0, 180) or not
    forming a cell, volume < 0.1 Å^3, no atoms, non-finite coordinates, or atom
    types that are not whole numbers 1..100 (a float array of whole numbers is accepted).
    """
    lengths, angles = np.asarray(c.lengths, dtype=float), np.asarray(c.angles, dtype=float)
    types, coords = np.asarray(c.atom_types), np.asarray(c.frac_coords, dtype=float)
    if not _cell_volume(lengths, angles) >= MIN_VOLUME:  # also false for nan
        return None
    if types.ndim != 1 or len(types) == 0 or coords.shape != (len(types), 3) or not np.isfinite(coords).all():
        return None
    if (
        not np.isfinite(types).all()
        or (types != np.round(types)).any()
        or types.min() < 1
        or types.max() > MAX_Z
    ):
        return None
    lattice = Lattice.from_parameters(*lengths, *angles)
    return Structure(lattice, [int(z) for z in types], coords)


def structure_valid(s: Structure, cutoff: float = 0.5) -> bool:
    """True when the cell is proper and all atoms, periodic images included, are more than `cutoff` Å
    apart."""
    if not _cell_volume(np.array(s.lattice.abc), np.array(s.lattice.angles)) >= MIN_VOLUME:
        return False
    if len(s) < 2:
        return True
    dist = s.distance_matrix + np.diag(np.full(len(s), np.inf))
    return bool(dist.min() > cutoff)


@functools.cache
def _smact_valid(symbols: tuple[str, ...], counts: tuple[int, ...]) -> bool:
    """SMACT's test for one reduced composition; cached because generated sets repeat compositions."""
    if len(symbols) == 1:
        return True
    if all(e in smact.metals for e in symbols):  # alloys count as valid
        return True
    elements = smact.element_dictionary(symbols)
    # CDVAE used SMACT < 3, whose default oxidation states are what SMACT >= 3 calls
    # `oxidation_states_smact14`.
    ox_choices = [elements[e].oxidation_states_smact14 or [] for e in symbols]
    electronegativities = [elements[e].pauling_eneg for e in symbols]
    stoichs = [(n,) for n in counts]
    for ox_states in itertools.product(*ox_choices):
        if not smact.neutral_ratios(ox_states, stoichs=stoichs, threshold=max(counts)):
            continue
        try:
            if pauling_test(ox_states, electronegativities):
                return True
        except TypeError:  # an element without a Pauling electronegativity: SMACT's convention is to pass it
            return True
    return False


def composition_valid(atom_types: Sequence[int]) -> bool:
    """SMACT charge neutrality + Pauling electronegativity test on the gcd-reduced composition.

    An element without oxidation states in SMACT's table cannot be balanced, so such a
    compound is invalid (a pure element or an all-metal alloy is still valid).
    """
    by_z = Counter(int(z) for z in atom_types)
    if not by_z or min(by_z) < 1 or max(by_z) > MAX_Z:
        return False
    divisor = math.gcd(*by_z.values())
    zs = sorted(by_z)
    symbols = tuple(Element.from_Z(z).symbol for z in zs)
    return _smact_valid(symbols, tuple(by_z[z] // divisor for z in zs))


def is_valid(c: CrystalArrays) -> bool:
    """CDVAE validity: the arrays build a proper cell, no atoms overlap, and the composition is
    SMACT-valid."""
    s = build_structure(c)
    return s is not None and structure_valid(s) and composition_valid(c.atom_types)


def write_cifs(structures: Mapping[str, Structure | None], folder: Path) -> list[Path]:
    """Write `<name>.cif` for every structure that exists (None is skipped); return the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, s in structures.items():
        if s is None:
            continue
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(
                f"CIF name {name!r} is not a plain file name. Fix: pass names without path separators."
            )
        path = folder / f"{name}.cif"
        CifWriter(s).write_file(path)
        written.append(path)
    return written


def read_cifs(folder: Path) -> dict[str, CrystalArrays]:
    """Every `*.cif` in `folder`, by file stem in name order; a file that is not one ordered crystal fails,
    naming it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder. Fix: pass a folder that holds .cif files.")
    paths = sorted(folder.glob("*.cif"))
    if not paths:
        raise ValueError(
            f"no .cif files in {folder}. Fix: point at a folder of CIF files, one crystal per file."
        )
    crystals = {}
    for path in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = Structure.from_file(path)
        except Exception as exc:  # noqa: BLE001 — pymatgen raises many types on malformed CIFs
            raise ValueError(
                f"{path}: not a readable CIF ({type(exc).__name__}: {exc}). Fix: repair or remove the file."
            ) from exc
        if not s.is_ordered:
            raise ValueError(
                f"{path}: a disordered structure (partial occupancies). Fix: order it first; "
                "the generation metrics need one element per site."
            )
        crystals[path.stem] = CrystalArrays.from_structure(s)
    return crystals
