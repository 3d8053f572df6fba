"""Periodic neighbour graphs and edge triplets, computed in torch on the fly.

Langevin decoding moves the atoms at every step, so the graph is rebuilt each
time rather than precomputed: one padded tensor search for the whole batch,
then exact, differentiable edge vectors from the chosen indices.

Edge convention (PyG's flow "source_to_target"): edge e carries a message from
source j = edge_index[0, e] to target i = edge_index[1, e], and
vectors[e] = cart[i] - (cart[j] + cell_offsets[e] @ lattice), the vector from
the source's image to the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from studies.cdvae.lattice import cell_heights, image_offsets


@dataclass
class PeriodicGraph:
    """Edges of a periodic graph: indices [2,E], integer image offsets [E,3], vectors [E,3] and lengths
    [E]."""

    edge_index: Tensor
    cell_offsets: Tensor
    vectors: Tensor
    distances: Tensor


def edge_vectors(
    cart: Tensor, lattice: Tensor, batch: Tensor, edge_index: Tensor, cell_offsets: Tensor
) -> Tensor:
    """Target minus source-image vectors [E,3], differentiable in `cart` and `lattice`.

    `batch` gives each atom's crystal. Recomputing vectors from fixed edges lets a
    caller search once without gradients and still differentiate the geometry.
    """
    src, dst = edge_index
    shift = torch.einsum("ei,eij->ej", cell_offsets.to(cart.dtype), lattice[batch[dst]])
    return cart[dst] - (cart[src] + shift)


def _reachable_offsets(lattice: Tensor, cutoff: float) -> Tensor:
    """Integer image offsets [K,3] at which some crystal of the batch may have a neighbour of a wrapped atom.

    Two wrapped atoms differ by less than one cell per direction, so an image at
    offset o is at least g = max(|o| - 1, 0) cells away: that is g_k heights along
    each direction k, and |g| times the cell's smallest singular value overall.
    Images beyond the cutoff by either bound for every crystal are dropped, which
    roughly halves the search when one small cell sets the batch's range.
    """
    heights = cell_heights(lattice)  # [B,3]
    offsets = image_offsets(torch.ceil(cutoff / heights).amax(dim=0).long())
    gap = (offsets.abs() - 1).clamp_min(0).to(lattice.dtype)  # [K,3]
    sigma = torch.linalg.svdvals(lattice)[:, -1]  # [B]
    by_height = ((gap * heights.unsqueeze(1)) <= cutoff).all(-1)  # [B,K]
    by_sigma = sigma.unsqueeze(1) * gap.norm(dim=-1) <= cutoff
    return offsets[(by_height & by_sigma).any(dim=0)]


@dataclass
class CellPlan:
    """What the radius graph's search needs from the cells and atom counts alone.

    Langevin decoding keeps each batch's cells and counts fixed for thousands of steps
    while the atoms move; building this once per batch takes the image-range search
    (an SVD per cell) and several host-device synchronisations out of every step.
    """

    batch: Tensor  # [N] each atom's crystal
    ptr: Tensor  # [B] each crystal's first atom
    local: Tensor  # [N] each atom's index within its crystal
    atom_lattice: Tensor  # [N,3,3] each atom's cell
    atom_inverse: Tensor  # [N,3,3] its inverse
    offsets: Tensor  # [K,3] the image offsets searched
    real: Tensor  # [B, n_max] which padded slots hold an atom
    is_self: Tensor  # [n_max, n_max, K] the target itself at offset zero
    cutoff: float


def cell_plan(lattice: Tensor, num_atoms: Tensor, cutoff: float) -> CellPlan:
    """The search plan of `radius_graph_pbc` for these cells and counts (see CellPlan)."""
    num_crystals, device = len(num_atoms), lattice.device
    batch = torch.repeat_interleave(torch.arange(num_crystals, device=device), num_atoms)
    ptr = torch.cumsum(num_atoms, 0) - num_atoms
    n_max = int(num_atoms.max())
    with torch.no_grad():
        offsets = _reachable_offsets(lattice, cutoff)
        inverse = torch.linalg.inv(lattice)[batch]
    return CellPlan(
        batch=batch,
        ptr=ptr,
        local=torch.arange(len(batch), device=device) - ptr[batch],
        atom_lattice=lattice[batch],
        atom_inverse=inverse,
        offsets=offsets,
        real=torch.arange(n_max, device=device) < num_atoms.unsqueeze(1),
        is_self=torch.eye(n_max, dtype=torch.bool, device=device).unsqueeze(-1) & (offsets == 0).all(-1),
        cutoff=cutoff,
    )


def radius_graph_pbc(
    cart: Tensor,
    lattice: Tensor,
    num_atoms: Tensor,
    cutoff: float,
    max_neighbors: int,
    plan: CellPlan | None = None,
) -> PeriodicGraph:
    """For each target atom, the `max_neighbors` nearest source images within `cutoff` Å, in its own crystal
    only.

    Images of the target itself and of its crystal's other atoms count; the
    target at zero offset does not. Atoms may lie outside their cell: the search
    runs on wrapped positions and the offsets are corrected back, so edges refer
    to `cart` as given. The images searched are those some crystal of the batch
    can reach within the cutoff (`_reachable_offsets`), in one padded
    [B, atoms, atoms x images] distance tensor. Edges come sorted by target, then
    by distance; among equally distant neighbours at the `max_neighbors` boundary
    the choice is arbitrary. A `plan` built once for these cells and counts
    (`cell_plan`) gives the same graph without redoing the search's set-up.
    """
    if plan is None:
        plan = cell_plan(lattice, num_atoms, cutoff)
    elif plan.cutoff != cutoff:  # the cells are not compared: that would cost the synchronisation it saves
        raise ValueError(f"The cell plan was built for a {plan.cutoff} Å cutoff, not {cutoff} Å.")
    num_crystals, (n_max, _, k) = len(num_atoms), plan.is_self.shape
    batch, ptr, offsets = plan.batch, plan.ptr, plan.offsets
    with torch.no_grad():
        raw = torch.einsum("ni,nij->nj", cart, plan.atom_inverse)
        shift = raw.floor()  # wrapped = raw - shift lies in [0, 1)
        wrapped = torch.einsum("ni,nij->nj", raw - shift, plan.atom_lattice)

        pos = cart.new_zeros(num_crystals, n_max, 3)
        pos[batch, plan.local] = wrapped
        images = pos.unsqueeze(2) + torch.einsum("ki,bij->bkj", offsets.to(cart.dtype), lattice).unsqueeze(1)
        dist = torch.cdist(
            pos, images.reshape(num_crystals, n_max * k, 3), compute_mode="donot_use_mm_for_euclid_dist"
        )
        dist = dist.view(num_crystals, n_max, n_max, k)  # [crystal, target, source, image]

        real = plan.real
        for drop in (
            dist > cutoff,
            ~real[:, None, :, None],
            plan.is_self,
        ):  # in place, broadcast: dist is the big tensor
            dist.masked_fill_(drop, torch.inf)

        dist = dist.view(num_crystals, n_max, n_max * k)
        nearest, flat = torch.topk(dist, min(max_neighbors, n_max * k), largest=False)
        keep = torch.isfinite(nearest) & real.unsqueeze(-1)  # [B, target, rank]
        crystal, target, rank = keep.nonzero(as_tuple=True)
        chosen = flat[crystal, target, rank]
        dst = ptr[crystal] + target
        src = ptr[crystal] + chosen // k
        # An image of wrapped positions is cart-offset by the wrap shifts of its two ends.
        cell_offsets = offsets[chosen % k] + (shift[dst] - shift[src]).long()
        edge_index = torch.stack([src, dst])

    vectors = edge_vectors(cart, lattice, batch, edge_index, cell_offsets)
    return PeriodicGraph(edge_index, cell_offsets, vectors, vectors.norm(dim=-1))


def reverse_edges(edge_index: Tensor, cell_offsets: Tensor, num_nodes: int) -> Tensor:
    """For each edge j→i at offset o, the index of the edge i→j at offset -o, or -1 where the graph lacks it.

    The reverse is absent when `max_neighbors` kept one direction of a pair but
    not the other. Edges are matched on an integer key of (source, target, offset).
    """
    src, dst = edge_index
    if src.numel() == 0:
        return torch.empty_like(src)
    reach = int(cell_offsets.abs().max())
    span = 2 * reach + 1

    def key(a: Tensor, b: Tensor, offset: Tensor) -> Tensor:
        o = offset + reach
        return (((a * num_nodes + b) * span + o[:, 0]) * span + o[:, 1]) * span + o[:, 2]

    keys, order = key(src, dst, cell_offsets).sort()
    wanted = key(dst, src, -cell_offsets)
    slot = torch.searchsorted(keys, wanted).clamp_max(len(keys) - 1)
    return torch.where(keys[slot] == wanted, order[slot], -1)


def triplets(
    edge_index: Tensor, cell_offsets: Tensor, num_nodes: int, reverse: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Edge pairs (idx_kj, idx_ji) with k→j feeding j→i, as PyG's DimeNet `InteractionPPBlock` takes them.

    Every edge into j pairs with every edge out of j, except the one back-edge
    whose source is the very image of i that j→i points to (k == i and
    offset_kj == -offset_ji). Another image of i is a different neighbour and
    stays, unlike in PyG's molecular `triplets`, which drops every k == i.
    Triplets come grouped by the ji edge, in edge order. `reverse`, when the caller already has it, is
    `reverse_edges(edge_index, cell_offsets, num_nodes)`.
    """
    src, dst = edge_index
    by_target = torch.argsort(dst, stable=True)
    counts = torch.bincount(dst, minlength=num_nodes)
    first = torch.cumsum(counts, 0) - counts  # where each node's incoming edges start in `by_target`
    per_ji = counts[src]  # edges into j, for each edge j→i
    idx_ji = torch.repeat_interleave(torch.arange(len(src), device=src.device), per_ji)
    # Triplet t of edge ji is its (t - start_ji)-th edge into j, at first[j] + t - start_ji in `by_target`.
    # index_select, not [] indexing: these are the model's largest index tensors, and it is several times
    # faster on CPU.
    start = torch.cumsum(per_ji, 0) - per_ji
    slot = torch.arange(len(idx_ji), device=src.device) + (first[src] - start).index_select(0, idx_ji)
    idx_kj = by_target.index_select(0, slot)
    if reverse is None:
        reverse = reverse_edges(edge_index, cell_offsets, num_nodes)
    back = reverse.index_select(0, idx_ji)
    keep = (idx_kj != back).nonzero().squeeze(1)
    return idx_kj.index_select(0, keep), idx_ji.index_select(0, keep)


def triplet_angles(vectors: Tensor, idx_kj: Tensor, idx_ji: Tensor) -> Tensor:
    """Angles [T] at j between j→i and k→j, as PyG's DimeNetPlusPlus.forward computes them.

    There pos_ij = pos[i] - pos[j] and pos_jk = pos[j] - pos[k], which are this
    module's vectors[idx_ji] and vectors[idx_kj] (target minus source image); for a
    molecule in a cell too large to see its images the two agree exactly.
    """
    pos_ij, pos_jk = vectors[idx_ji], vectors[idx_kj]
    return torch.atan2(torch.linalg.cross(pos_ij, pos_jk).norm(dim=-1), (pos_ij * pos_jk).sum(-1))


def with_reverse_edges(graph: PeriodicGraph, num_nodes: int) -> PeriodicGraph:
    """The graph plus the reverse i→j (offset -o) of every edge j→i (offset o) that `max_neighbors` left out.

    GemNet updates each edge from both of its ends, which needs every edge's reverse.
    Upstream keeps one direction of each pair (source index < target) and mirrors it,
    which depends on the atom order; adding the missing reverses does not.
    """
    missing = (reverse_edges(graph.edge_index, graph.cell_offsets, num_nodes) < 0).nonzero().squeeze(1)
    return PeriodicGraph(
        torch.cat([graph.edge_index, graph.edge_index[:, missing].flip(0)], dim=1),
        torch.cat([graph.cell_offsets, -graph.cell_offsets[missing]]),
        torch.cat([graph.vectors, -graph.vectors[missing]]),
        torch.cat([graph.distances, graph.distances[missing]]),
    )


def bond_angle_cosines(vectors: Tensor, idx_kj: Tensor, idx_ji: Tensor) -> Tensor:
    """cos of the bond angle k-j-i [T] at the shared atom j, GemNet's cos φ (between j→i and j→k).

    vectors[idx_ji] = i - j and vectors[idx_kj] = j - k, so the cosine between i - j and
    k - j is minus theirs; clamped, as rounding can leave a unit-vector product just past ±1.
    """
    unit = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    return -(unit[idx_ji] * unit[idx_kj]).sum(-1).clamp(-1.0, 1.0)
