"""Periodic radius graph against pymatgen's neighbour list; triplets and angles against brute force."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
import torch
from pymatgen.core import Structure

from studies.cdvae.graph import (
    PeriodicGraph,
    bond_angle_cosines,
    cell_plan,
    radius_graph_pbc,
    reverse_edges,
    triplet_angles,
    triplets,
    with_reverse_edges,
)
from tests.studies.cdvae.perov import structures as perov_structures
from tests.studies.cdvae.perov import triclinic

CUTOFF = 6.0


@pytest.fixture(scope="module")
def crystals() -> list[Structure]:
    """Four real perov_5 crystals, a skewed (non-reduced) 10-atom supercell, its Niggli cell, a 3-atom
    triclinic."""
    perov = perov_structures(4)
    skewed = perov[1].copy()
    skewed.make_supercell([[1, 1, 0], [0, 1, 0], [0, 1, 2]])
    skewed_triclinic = triclinic()
    return [perov[0], skewed, perov[2], skewed_triclinic, skewed.get_reduced_structure(), perov[3]]


def _batch(structures: list[Structure]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    cart = torch.tensor(np.concatenate([s.cart_coords for s in structures]))
    lattice = torch.tensor(np.stack([s.lattice.matrix for s in structures]))
    return cart, lattice, torch.tensor([len(s) for s in structures])


def _pymatgen_edges(
    structures: list[Structure], cutoff: float
) -> dict[tuple[int, int, tuple[int, ...]], float]:
    """(target, source, offset) -> distance over the batch; pymatgen centre = our target, its neighbour = our
    source."""
    edges, start = {}, 0
    for s in structures:
        centre, neighbour, images, dist = s.get_neighbor_list(r=cutoff)
        for i, j, image, d in zip(centre, neighbour, images, dist):
            edges[(start + int(i), start + int(j), tuple(int(x) for x in image))] = float(d)
        start += len(s)
    return edges


def _our_edges(graph: PeriodicGraph) -> dict[tuple[int, int, tuple[int, ...]], float]:
    return {
        (int(i), int(j), tuple(o)): float(d)
        for j, i, o, d in zip(
            *graph.edge_index.tolist(), graph.cell_offsets.tolist(), graph.distances.tolist()
        )
    }


def test_all_neighbours_match_pymatgen(crystals: list[Structure]) -> None:
    graph = radius_graph_pbc(*_batch(crystals), cutoff=CUTOFF, max_neighbors=1000)
    want, got = _pymatgen_edges(crystals, CUTOFF), _our_edges(graph)
    assert len(got) == graph.edge_index.shape[1]  # no duplicate edges
    assert got.keys() == want.keys()
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=0, atol=1e-10)


def test_edge_vectors_point_from_source_image_to_target(crystals: list[Structure]) -> None:
    cart, lattice, num_atoms = _batch(crystals)
    graph = radius_graph_pbc(cart, lattice, num_atoms, CUTOFF, 1000)
    crystal = torch.repeat_interleave(torch.arange(len(num_atoms)), num_atoms)
    src, dst = graph.edge_index
    assert (crystal[src] == crystal[dst]).all()
    shift = (graph.cell_offsets.double().unsqueeze(1) @ lattice[crystal[dst]]).squeeze(1)
    torch.testing.assert_close(graph.vectors, cart[dst] - (cart[src] + shift))
    torch.testing.assert_close(graph.distances, graph.vectors.norm(dim=-1))
    # Sorted by target, then distance (found on wrapped positions, so equal distances may differ in the last
    # bits).
    assert (dst[1:] >= dst[:-1]).all()
    same = dst[1:] == dst[:-1]
    assert (graph.distances[1:][same] >= graph.distances[:-1][same] - 1e-12).all()


def test_max_neighbors_keeps_the_nearest(crystals: list[Structure]) -> None:
    graph = radius_graph_pbc(*_batch(crystals), cutoff=CUTOFF, max_neighbors=20)
    want: defaultdict[int, list[float]] = defaultdict(list)
    for (i, _, _), d in _pymatgen_edges(crystals, CUTOFF).items():
        want[i].append(d)
    got: defaultdict[int, list[float]] = defaultdict(list)
    for i, d in zip(graph.edge_index[1].tolist(), graph.distances.tolist()):
        got[i].append(d)
    assert got.keys() == want.keys()
    for i, dists in want.items():
        np.testing.assert_allclose(sorted(got[i]), sorted(dists)[:20], rtol=0, atol=1e-10)


def test_atoms_outside_their_cell_give_the_same_neighbours(crystals: list[Structure]) -> None:
    cart, lattice, num_atoms = _batch(crystals)
    gen = torch.Generator().manual_seed(0)
    jumps = torch.randint(-2, 3, cart.shape, generator=gen).double()
    moved = cart + (jumps.unsqueeze(1) @ lattice.repeat_interleave(num_atoms, 0)).squeeze(1)
    home = radius_graph_pbc(cart, lattice, num_atoms, CUTOFF, 1000)
    away = radius_graph_pbc(moved, lattice, num_atoms, CUTOFF, 1000)

    def key(g: PeriodicGraph) -> list[tuple]:
        return sorted(zip(*g.edge_index.tolist(), np.round(g.vectors.numpy(), 8).tolist()))

    assert key(home) == key(away)


def test_a_cell_plan_gives_the_same_graph_bit_for_bit(crystals: list[Structure]) -> None:
    """Langevin decoding builds the plan once per batch; the graph must not change by a bit, atoms outside
    their cell included."""
    cart, lattice, num_atoms = _batch(crystals)
    jumps = torch.randint(-1, 2, cart.shape, generator=torch.Generator().manual_seed(1)).double()
    cart = cart + (jumps.unsqueeze(1) @ lattice.repeat_interleave(num_atoms, 0)).squeeze(1)
    plan = cell_plan(lattice, num_atoms, CUTOFF)
    for max_neighbors in (8, 1000):
        want = radius_graph_pbc(cart, lattice, num_atoms, CUTOFF, max_neighbors)
        got = radius_graph_pbc(cart, lattice, num_atoms, CUTOFF, max_neighbors, plan)
        for field in ("edge_index", "cell_offsets", "vectors", "distances"):
            assert torch.equal(getattr(got, field), getattr(want, field)), field
    with pytest.raises(ValueError, match="cutoff"):
        radius_graph_pbc(cart, lattice, num_atoms, CUTOFF + 1, 8, plan)


def test_vectors_are_differentiable(crystals: list[Structure]) -> None:
    cart, lattice, num_atoms = _batch(crystals)
    cart = cart + 0.05 * torch.randn(cart.shape, generator=torch.Generator().manual_seed(1), dtype=cart.dtype)
    cart.requires_grad_()
    lattice.requires_grad_()
    graph = radius_graph_pbc(cart, lattice, num_atoms, CUTOFF, 20)
    idx_kj, idx_ji = triplets(graph.edge_index, graph.cell_offsets, len(cart))
    loss = torch.exp(-graph.distances).sum() + triplet_angles(graph.vectors, idx_kj, idx_ji).cos().sum()
    loss.backward()
    for grad in (cart.grad, lattice.grad):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def _brute_force_triplets(graph: PeriodicGraph) -> set[tuple[int, int]]:
    src, dst = graph.edge_index.tolist()
    off = [tuple(o) for o in graph.cell_offsets.tolist()]
    return {
        (kj, ji)
        for kj, ji in itertools.product(range(len(src)), repeat=2)
        if dst[kj] == src[ji] and not (src[kj] == dst[ji] and off[kj] == tuple(-x for x in off[ji]))
    }


def test_triplets_match_brute_force_on_a_periodic_cell(crystals: list[Structure]) -> None:
    cart, lattice, num_atoms = _batch(crystals[3:4] + crystals[0:1])  # triclinic 3-atom + cubic 5-atom
    graph = radius_graph_pbc(cart, lattice, num_atoms, cutoff=4.5, max_neighbors=12)
    idx_kj, idx_ji = triplets(graph.edge_index, graph.cell_offsets, len(cart))
    got = list(zip(idx_kj.tolist(), idx_ji.tolist()))
    want = _brute_force_triplets(graph)
    assert len(got) == len(set(got)) == len(want)
    assert set(got) == want
    src, dst = graph.edge_index
    k, i = src[idx_kj], dst[idx_ji]
    back = (graph.cell_offsets[idx_kj] == -graph.cell_offsets[idx_ji]).all(-1)
    assert not (back & (k == i)).any()
    assert ((k == i) & ~back).any()  # another image of i is a genuine third atom and is kept
    assert (idx_ji[1:] >= idx_ji[:-1]).all()  # grouped by the ji edge
    reverse = reverse_edges(graph.edge_index, graph.cell_offsets, len(cart))
    has = reverse >= 0
    assert has.any() and (reverse[reverse[has]] == torch.nonzero(has).squeeze(1)).all()


def test_with_reverse_edges_completes_every_pair_and_keeps_the_graph(crystals: list[Structure]) -> None:
    cart, lattice, num_atoms = _batch(crystals)
    graph = radius_graph_pbc(cart, lattice, num_atoms, CUTOFF, max_neighbors=8)  # a cap that drops reverses
    assert (reverse_edges(graph.edge_index, graph.cell_offsets, len(cart)) < 0).any()
    full = with_reverse_edges(graph, len(cart))
    n = graph.distances.numel()  # the original edges come first, unchanged
    assert torch.equal(full.edge_index[:, :n], graph.edge_index)
    for field in ("cell_offsets", "vectors", "distances"):
        assert torch.equal(getattr(full, field)[:n], getattr(graph, field))
    reverse = reverse_edges(full.edge_index, full.cell_offsets, len(cart))
    assert (reverse >= 0).all() and torch.equal(reverse[reverse], torch.arange(len(reverse)))
    assert torch.allclose(full.vectors[reverse], -full.vectors, atol=1e-10)
    assert _our_edges(full).keys() <= _pymatgen_edges(crystals, CUTOFF).keys()


def test_bond_angle_cosines_are_the_angle_at_the_shared_atom(crystals: list[Structure]) -> None:
    cart, lattice, num_atoms = _batch(crystals[:2])
    graph = radius_graph_pbc(cart, lattice, num_atoms, CUTOFF, max_neighbors=12)
    idx_kj, idx_ji = triplets(graph.edge_index, graph.cell_offsets, len(cart))
    to_i, to_k = graph.vectors[idx_ji], -graph.vectors[idx_kj]  # from j to i, from j to k's image
    want = (to_i * to_k).sum(-1) / (to_i.norm(dim=-1) * to_k.norm(dim=-1))
    got = bond_angle_cosines(graph.vectors, idx_kj, idx_ji)
    assert torch.allclose(got, want, atol=1e-12)
    assert torch.allclose(got, -triplet_angles(graph.vectors, idx_kj, idx_ji).cos(), atol=1e-10)


def test_triplets_of_an_empty_graph() -> None:
    idx_kj, idx_ji = triplets(
        torch.empty(2, 0, dtype=torch.long), torch.empty(0, 3, dtype=torch.long), num_nodes=4
    )
    assert idx_kj.shape == idx_ji.shape == (0,)


def test_molecule_in_a_huge_cell_matches_dimenet_plus_plus() -> None:
    """Without visible images the graph is PyG DimeNet++'s: same (distance, angle) per triplet.

    PyG's own `triplets` needs torch_sparse, so the reference follows DimeNetPlusPlus.forward by hand:
    edges j→i for every pair within the cutoff, triplets k→j→i with k != i,
    pos_jk = pos[j] - pos[k], pos_ij = pos[i] - pos[j], angle = atan2(|pos_ij × pos_jk|, pos_ij · pos_jk).
    """
    pos = (
        torch.tensor(
            [
                [0.0, 0.0, 0.0],
                [1.1, 0.1, -0.2],
                [-0.4, 1.0, 0.3],
                [0.2, -0.5, 1.2],
                [2.3, 0.9, 0.4],
                [1.5, -1.2, 0.8],
            ],
            dtype=torch.float64,
        )
        + 50.0
    )
    cutoff = 2.0
    huge_cell = 100.0 * torch.eye(3, dtype=torch.float64).unsqueeze(0)
    graph = radius_graph_pbc(pos, huge_cell, torch.tensor([6]), cutoff, max_neighbors=1000)
    idx_kj, idx_ji = triplets(graph.edge_index, graph.cell_offsets, len(pos))
    angles = triplet_angles(graph.vectors, idx_kj, idx_ji)
    got = sorted(
        (round(d_ji, 9), round(d_kj, 9), round(a, 9))
        for d_ji, d_kj, a in zip(
            graph.distances[idx_ji].tolist(), graph.distances[idx_kj].tolist(), angles.tolist()
        )
    )

    edges = [(j, i) for i in range(6) for j in range(6) if i != j and (pos[i] - pos[j]).norm() <= cutoff]
    assert sorted(edges) == sorted(zip(*graph.edge_index.tolist()))
    assert (graph.cell_offsets == 0).all()
    want = []
    for (k, j_), (j, i) in itertools.product(edges, edges):
        if j_ != j or k == i:
            continue
        pos_jk, pos_ij = (pos[j] - pos[k]).numpy(), (pos[i] - pos[j]).numpy()
        angle = math.atan2(float(np.linalg.norm(np.cross(pos_ij, pos_jk))), float(pos_ij @ pos_jk))
        want.append(tuple(round(x, 9) for x in (np.linalg.norm(pos_ij), np.linalg.norm(pos_jk), angle)))
    assert len(want) > 10
    assert got == sorted(want)
