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
import re
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import smact
from pymatgen.core import Element, Lattice, Structure
from pymatgen.io.cif import CifFile, CifWriter

MIN_VOLUME = 0.1  # Å^3; CDVAE rejects smaller cells as degenerate
# Every element pymatgen knows: CDVAE's decoders emit 1..100, but CIFs scored by evaluate-cifs may hold any
# (Lr, 103, is one of the elements CDVAE's composition test treats specially).
MAX_Z = 118


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
    types that are not whole numbers 1..118 (a float array of whole numbers is accepted).
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
    """True when the cell is proper and no two atoms, periodic images included, are closer than `cutoff` Å
    (upstream's test: exactly `cutoff` apart is valid)."""
    if not _cell_volume(np.array(s.lattice.abc), np.array(s.lattice.angles)) >= MIN_VOLUME:
        return False
    if len(s) < 2:
        return True
    dist = s.distance_matrix + np.diag(np.full(len(s), np.inf))
    return bool(dist.min() >= cutoff)


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
        # SMACT 4's neutral_ratios returns the balanced ratios (empty: none), not SMACT 2's (bool, ratios)
        if smact.neutral_ratios(ox_states, stoichs=stoichs, threshold=max(counts)) and _pauling_ok(
            ox_states, electronegativities
        ):
            return True
    return False


def _pauling_ok(ox_states: Sequence[int], electronegativities: Sequence[float | None]) -> bool:
    """Pauling's test as the SMACT that CDVAE ran had it, written here because SMACT 4 changed it: every
    cation less electronegative than every anion; a cation-anion pair with an element that has no Pauling
    electronegativity made that SMACT raise TypeError, which CDVAE's `smact_validity` takes as a pass (SMACT
    4 returns False for such an element wherever it occurs)."""
    pairs = itertools.combinations(zip(ox_states, electronegativities, strict=True), 2)
    for (ox1, eneg1), (ox2, eneg2) in pairs:
        if ox1 * ox2 >= 0:  # not a cation-anion pair: the old test compared nothing
            continue
        if eneg1 is None or eneg2 is None:
            return True
        if (ox1 > 0 and eneg1 >= eneg2) or (ox1 < 0 and eneg1 <= eneg2):
            return False
    return True


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


@dataclass(frozen=True)
class CifFolder:
    """A folder of CIFs as crystals to score: `crystals[name]` is None where the file is a CIF but holds no
    crystal that can be built (`unbuildable[name]` says why); such a crystal scores invalid on every count."""

    crystals: dict[str, CrystalArrays | None]
    unbuildable: dict[str, str]


def read_cifs(folder: Path) -> CifFolder:
    """Every `*.cif` in `folder`, by file stem in name order. Only a file that is not a CIF at all is refused
    (naming it); one pymatgen cannot build is read as written where it is a P1 listing (so two atoms on one
    site score as structurally invalid, not as a refusal), else kept as unbuildable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder. Fix: pass a folder that holds .cif files.")
    paths = sorted(folder.glob("*.cif"))
    if not paths:
        raise ValueError(
            f"no .cif files in {folder}. Fix: point at a folder of CIF files, one crystal per file."
        )
    crystals: dict[str, CrystalArrays | None] = {}
    unbuildable: dict[str, str] = {}
    for path in paths:
        block = _cif_block(path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = Structure.from_file(path)
            if not s.is_ordered:
                raise ValueError("a disordered structure (partial occupancies), not one element per site")
            crystals[path.stem] = CrystalArrays.from_structure(s)
        except Exception as exc:  # noqa: BLE001 — pymatgen raises many types on CIFs it cannot build
            crystals[path.stem] = _p1_listing(block)
            if crystals[path.stem] is None:
                unbuildable[path.stem] = f"{type(exc).__name__}: {exc}"
    return CifFolder(crystals, unbuildable)


def _cif_block(path: Path) -> dict:
    """The first data block with atom sites, refusing (naming the file) anything that is not such a CIF."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen warns on each line it cannot place
            blocks = CifFile.from_str(path.read_text(errors="strict")).data
    except Exception as exc:  # noqa: BLE001 — a CIF parser meets every kind of junk
        raise ValueError(
            f"{path}: not a CIF ({type(exc).__name__}: {exc}). Fix: remove the file or repair it."
        ) from exc
    for block in blocks.values():
        if any(key.startswith("_atom_site_") for key in block.data):
            return block.data
    raise ValueError(f"{path}: not a CIF (no data block with atom sites). Fix: remove the file or repair it.")


_P1 = {"x,y,z", "+x,+y,+z"}
# A CIF number, with its standard uncertainty in brackets if given: 1.234(5).
_NUMBER = re.compile(r"^\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)(?:\(\d+\))?\s*$")
_SYMBOL = re.compile(r"^([A-Z][a-z]?)")


def _p1_listing(block: dict) -> CrystalArrays | None:
    """The cell and sites of a P1 CIF exactly as listed, or None. Written by hand because pymatgen's parser
    merges coincident sites and then refuses the file, while the metrics must see the sites to score them;
    a CIF with symmetry operations beyond the identity is left to pymatgen (None here)."""
    ops = block.get("_symmetry_equiv_pos_as_xyz", block.get("_space_group_symop_operation_xyz", ["x,y,z"]))
    ops = [ops] if isinstance(ops, str) else ops
    if {op.replace(" ", "").replace("'", "").lower() for op in ops} - _P1:
        return None

    def numbers(key: str) -> list[float] | None:
        raw = block.get(key)
        raw = [raw] if isinstance(raw, str) else raw
        found = [_NUMBER.match(v) for v in raw or []]
        return [float(m.group(1)) for m in found] if raw and all(found) else None

    cell = [numbers(f"_cell_{key}") for key in ("length_a", "length_b", "length_c", "angle_alpha")]
    cell += [numbers(f"_cell_angle_{key}") for key in ("beta", "gamma")]
    coords = [numbers(f"_atom_site_fract_{axis}") for axis in "xyz"]
    if "_atom_site_occupancy" in block and numbers("_atom_site_occupancy") != [1.0] * len(coords[0] or []):
        return None  # partial occupancies: not one element per site
    symbols = block.get("_atom_site_type_symbol", block.get("_atom_site_label"))
    symbols = [symbols] if isinstance(symbols, str) else symbols
    if any(v is None or len(v) != 1 for v in cell) or any(v is None for v in coords) or not symbols:
        return None
    matched = [_SYMBOL.match(v) for v in symbols]
    if (
        not all(matched)
        or any(m.group(1) not in _ELEMENTS for m in matched)
        or len({len(symbols), *map(len, coords)}) != 1
    ):
        return None
    return CrystalArrays(
        frac_coords=np.array(coords, dtype=float).T,
        atom_types=np.array([_ELEMENTS[m.group(1)] for m in matched], dtype=int),
        lengths=np.array([v[0] for v in cell[:3]], dtype=float),
        angles=np.array([v[0] for v in cell[3:]], dtype=float),
    )


_ELEMENTS = {Element.from_Z(z).symbol: z for z in range(1, MAX_Z + 1)}
