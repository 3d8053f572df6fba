"""Crystals as CDVAE trains on them: Niggli-reduced cells, scaled lattices, atom types, one property, bonds.

Upstream preprocessing, step by step: Niggli-reduce the parsed cell, rebuild it from its
six parameters (a canonical orientation), keep fractional coordinates and atomic numbers,
and find the bonds with pymatgen's CrystalNN, which is the graph upstream's encoder reads
(its decoder builds radius graphs on the fly instead, since decoding moves the atoms);
the lattice target is (a, b, c) / N^(1/3) plus the three angles, standardised with a
scaler fitted on the training split only. A whole split lives in a few concatenated
tensors, and a batch is an index gather: no per-crystal Python objects in the training loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch
from pymatgen.core import Lattice, Structure

from studies.cdvae.config import MAX_ATOMIC_NUM
from studies.cdvae.data import structures_from_table

PREPARED_SCHEMA = {
    "material_id": pl.String,
    "num_atoms": pl.Int64,
    "lengths": pl.List(pl.Float64),
    "angles": pl.List(pl.Float64),
    "atom_types": pl.List(pl.Int64),
    "frac_coords": pl.List(pl.Float64),
    "property": pl.Float64,
    "edges": pl.List(
        pl.Int64
    ),  # CrystalNN bonds, flattened (source, target, image offset x, y, z) per directed edge
}


class PreparedDataError(ValueError):
    """Crystals CDVAE cannot take (too many atoms, unknown elements, a missing property)."""


def canonical(structure: Structure) -> Structure:
    """Niggli-reduced cell rebuilt from its lattice parameters, so every crystal has one orientation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reduced = structure.get_reduced_structure()
    lattice = Lattice.from_parameters(*reduced.lattice.parameters)
    return Structure(lattice, reduced.species, reduced.frac_coords % 1.0)


def crystalnn_edges(structure: Structure) -> list[int]:
    """Directed CrystalNN bonds in both directions, flattened as (source j, target i, image of j) five at a
    time.

    CrystalNN says site v's image `to_jimage` neighbours site u: that is the message v(+image) → u,
    and its reverse u(−image) → v. Settings are upstream's (no distance cutoffs, no
    electronegativity weighting, no porous adjustment).
    """
    # Imported here: pymatgen.analysis loads its YAML tables on import (~3 s on 2 cores), which every stage
    # process that only loads a model or a batch would pay (only preparation finds bonds).
    from pymatgen.analysis.graphs import StructureGraph
    from pymatgen.analysis.local_env import CrystalNN

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = StructureGraph.from_local_env_strategy(
            structure, CrystalNN(distance_cutoffs=None, x_diff_weight=-1, porous_adjustment=False)
        )
    edges: list[int] = []
    for u, v, data in graph.graph.edges(data=True):
        image = [int(x) for x in data["to_jimage"]]
        edges += [v, u, *image, u, v, *(-x for x in image)]
    return edges


def _canonical_row(structure: Structure) -> tuple[Structure, list[int]]:
    c = canonical(structure)
    return c, crystalnn_edges(c)


def prepare_table(
    parsed: pl.DataFrame,
    prop: str | None,
    max_atoms: int,
    source: str,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """Parsed crystals (studies.cdvae.data) → CDVAE's training representation, one row per crystal.

    CrystalNN takes tens of milliseconds per crystal, so `workers` processes share the work.
    """
    if prop is not None and prop not in parsed.columns:
        props = [
            c
            for c in parsed.columns
            if parsed[c].dtype.is_numeric() and c not in ("n_atoms", "a", "b", "c", "alpha", "beta", "gamma")
        ]
        raise PreparedDataError(
            f"{source}: no property column '{prop}'. "
            f"Fix: set cdvae.prepare.property to one of: {', '.join(props)}."
        )
    rows: dict[str, list] = {k: [] for k in PREPARED_SCHEMA}
    values = parsed[prop].to_list() if prop else [None] * parsed.height
    structures = structures_from_table(parsed)
    for material_id, s in zip(parsed["material_id"].to_list(), structures):
        if len(s) > max_atoms:
            raise PreparedDataError(
                f"{source}: material {material_id} has {len(s)} atoms, more than max_atoms={max_atoms}. "
                "Fix: raise cdvae.prepare.max_atoms (null: the dataset's declared maximum), "
                "or choose the dataset this file belongs to (cdvae.prepare.dataset)."
            )
        if max(s.atomic_numbers) > MAX_ATOMIC_NUM:
            raise PreparedDataError(
                f"{source}: material {material_id} has an element beyond Z={MAX_ATOMIC_NUM}, "
                "which CDVAE cannot type."
            )
    done = []
    for row in _map(_canonical_row, structures, workers):
        done.append(row)
        if progress is not None and (len(done) % 256 == 0 or len(done) == len(structures)):
            progress(len(done), len(structures))
    for material_id, (c, edges), value in zip(parsed["material_id"].to_list(), done, values):
        rows["material_id"].append(material_id)
        rows["num_atoms"].append(len(c))
        rows["lengths"].append(list(c.lattice.abc))
        rows["angles"].append(list(c.lattice.angles))
        rows["atom_types"].append([int(z) for z in c.atomic_numbers])
        rows["frac_coords"].append(c.frac_coords.ravel().tolist())
        rows["property"].append(None if value is None else float(value))
        rows["edges"].append(edges)
    return pl.DataFrame(rows, schema=PREPARED_SCHEMA)


def _map(fn, items: list, workers: int):
    """`map`, over `workers` processes when more than one."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ProcessPoolExecutor(workers) as pool:
        yield from pool.map(fn, items, chunksize=64)


@dataclass(frozen=True)
class Scaler:
    """Standardisation fitted on the training split (upstream StandardScalerTorch: unbiased std)."""

    mean: list[float]
    std: list[float]

    @classmethod
    def fit(cls, x: np.ndarray) -> Scaler:
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return cls(x.mean(0).tolist(), (x.std(0, ddof=1) + 1e-5).tolist())


def scaled_lattice(lengths: np.ndarray, angles: np.ndarray, num_atoms: np.ndarray) -> np.ndarray:
    """Upstream's `scale_length`: lengths divided by N^(1/3), so the target does not grow with cell size."""
    return np.concatenate([lengths / np.cbrt(num_atoms)[:, None], angles], axis=1)


@dataclass
class CrystalBatch:
    """B crystals, atoms concatenated; `batch[n]` is atom n's crystal."""

    frac_coords: torch.Tensor  # (N, 3)
    atom_types: torch.Tensor  # (N,) atomic numbers
    num_atoms: torch.Tensor  # (B,)
    lengths: torch.Tensor  # (B, 3) Å
    angles: torch.Tensor  # (B, 3) degrees
    prop: torch.Tensor  # (B,) nan where absent
    batch: torch.Tensor  # (N,)
    edge_index: torch.Tensor  # (2, E) CrystalNN bonds, source → target, indices into this batch's atoms
    cell_offsets: torch.Tensor  # (E, 3) image of the source

    def to(self, device: torch.device) -> CrystalBatch:
        return CrystalBatch(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))

    @property
    def size(self) -> int:
        return int(self.num_atoms.numel())


class CrystalSet:
    """One split as concatenated tensors; `batch(indices)` gathers any subset in one shot."""

    def __init__(self, table: pl.DataFrame):
        self.material_ids = table["material_id"].to_list()
        self.num_atoms = torch.tensor(table["num_atoms"].to_numpy(), dtype=torch.long)
        self.lengths = torch.tensor(np.stack(table["lengths"].to_numpy()), dtype=torch.float32)
        self.angles = torch.tensor(np.stack(table["angles"].to_numpy()), dtype=torch.float32)
        self.atom_types = torch.tensor(table["atom_types"].explode().to_numpy(), dtype=torch.long)
        self.frac_coords = torch.tensor(table["frac_coords"].explode().to_numpy(), dtype=torch.float32).view(
            -1, 3
        )
        self.prop = torch.tensor(table["property"].fill_null(float("nan")).to_numpy(), dtype=torch.float32)
        self.offsets = torch.cumsum(self.num_atoms, 0) - self.num_atoms
        edges = torch.tensor(table["edges"].explode().drop_nulls().to_numpy(), dtype=torch.long).view(-1, 5)
        self.num_edges = torch.tensor(table["edges"].list.len().to_numpy().astype(np.int64) // 5)
        self.edges = (
            edges[:, :2] + self.offsets.repeat_interleave(self.num_edges)[:, None]
        )  # global atom indices
        self.edge_images = edges[:, 2:]
        self.edge_offsets = torch.cumsum(self.num_edges, 0) - self.num_edges

    def __len__(self) -> int:
        return len(self.material_ids)

    def batch(self, indices: torch.Tensor) -> CrystalBatch:
        counts = self.num_atoms[indices]
        atoms = _ranges(self.offsets[indices], counts)
        edge_counts = self.num_edges[indices]
        edges = _ranges(self.edge_offsets[indices], edge_counts)
        new_start = torch.cumsum(counts, 0) - counts  # where each crystal's atoms land in the batch
        shift = (new_start - self.offsets[indices]).repeat_interleave(edge_counts)
        return CrystalBatch(
            frac_coords=self.frac_coords[atoms],
            atom_types=self.atom_types[atoms],
            num_atoms=counts,
            lengths=self.lengths[indices],
            angles=self.angles[indices],
            prop=self.prop[indices],
            batch=torch.arange(len(indices)).repeat_interleave(counts),
            edge_index=(self.edges[edges] + shift[:, None]).T.contiguous(),
            cell_offsets=self.edge_images[edges],
        )

    def batches(self, batch_size: int) -> list[CrystalBatch]:
        """The split in order, for evaluation."""
        return [self.batch(idx) for idx in torch.arange(len(self)).split(batch_size)]


def _ranges(starts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Concatenated aranges [starts[k], starts[k] + counts[k]) without a Python loop."""
    within = torch.arange(int(counts.sum())) - (torch.cumsum(counts, 0) - counts).repeat_interleave(counts)
    return starts.repeat_interleave(counts) + within
