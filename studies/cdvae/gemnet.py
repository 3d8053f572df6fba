"""CDVAE's decoder: GemNet-dT (Gasteiger et al., NeurIPS 2021), the triplet-only GemNet with direct forces,
conditioned on the latent z as upstream's `GemNetTDecoder` does.

From the GemNet paper: Gaussian radial basis with the polynomial envelope and spherical
harmonics of the bond angle (gemnet_basis.py); atom embeddings, and edge embeddings from both
atoms and the radial basis; interaction blocks of the bilinear triplet interaction (a message
m_kj reaches edge j→i through a bilinear layer on the basis of d_ji and the angle k-j-i, and the
edge is updated from the triplets at both of its ends), residual edge layers around a skip
connection, an atom update that pools edges, and an edge update from both atoms; an output block
after the embedding and after each interaction whose per-edge scalar F_ji times the unit vector
from j to i, summed into i, is the score ("dT": forces predicted directly, not as an energy
gradient). Scale factors keep each data-dependent sum at unit-order variance (gemnet_layers.py).
From CDVAE (conf/model/decoder/gemnet.yaml, which keeps GemNetT's defaults for the rest):
hidden 128 for atoms and edges, 3 blocks, 128 Gaussians, 7 spherical harmonics, cutoff 7 Å,
20 neighbours; z is concatenated to each atom embedding and projected back, and the type logits
are a linear layer on the final atom embeddings.

Deviations, stated: (1) the output blocks have no energy head: upstream's GemNetT computes
per-atom energies that CDVAE discards (at the paper's size 4 × 116,864 parameters that never get a
gradient), so it is not built. (2) The edge set is made symmetric by adding each missing reverse
edge (`graph.with_reverse_edges`), where upstream keeps the pairs whose source index is smaller
and mirrors them, a choice that depends on the atom order. (3) The scale factors are fitted on one
batch of the training data when the model is built (`CDVAE.fit_scales`), not read from
upstream's gemnet-dT.json, which was fitted for another dataset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from studies.cdvae.config import MAX_ATOMIC_NUM, ModelConfig
from studies.cdvae.gemnet_basis import RadialBasis, circular_basis
from studies.cdvae.gemnet_layers import (
    INV_SQRT2,
    Residual,
    ScaleFactor,
    dense,
    dense_then_residuals,
    fitting_scale_factors,
    he_orthogonal_,
)
from studies.cdvae.graph import (
    CellPlan,
    PeriodicGraph,
    bond_angle_cosines,
    radius_graph_pbc,
    reverse_edges,
    triplets,
    with_reverse_edges,
)
from studies.cdvae.lattice import atom_frac_to_cart, frac_to_cart, lattice_matrix


@dataclass
class Triplets:
    """Triplets k→j→i (message kj into edge ji) and their basis, padded per edge ji for batched products.

    `angular` [E, S, K] holds Y_l0 of each edge's K (at most) triplets, zero-padded; `radial`
    [E, emb_size_cbf, S] is the edge's radial basis already projected per spherical degree; `slot`
    [T] is each triplet's row in the padded [E·K] layout.
    """

    idx_kj: Tensor
    idx_ji: Tensor
    slot: Tensor
    angular: Tensor
    radial: Tensor

    def padded(self, x: Tensor) -> Tensor:
        """Per-triplet rows [T, C] laid out per edge ji [E, K, C], zeros where an edge has fewer than K."""
        return pad_rows(x, self.slot, *self.angular.shape[::2])


def triplet_slots(idx_ji: Tensor, num_edges: int) -> tuple[Tensor, int]:
    """Each triplet's row in a [num_edges · K] layout grouped by edge ji (sorted), and K, the most per edge.

    This is torch_geometric.utils.to_dense_batch's layout, computed once per graph: finding K
    synchronises with the device, which the message passing can then do without.
    """
    counts = torch.bincount(idx_ji, minlength=num_edges)
    width = int(counts.max()) if num_edges else 0
    start = torch.cumsum(counts, 0) - counts
    within = torch.arange(len(idx_ji), device=idx_ji.device) - start[idx_ji]
    return idx_ji * width + within, width


def pad_rows(x: Tensor, slot: Tensor, rows: int, width: int) -> Tensor:
    """`x` [T, ...] at `slot` in a zero [rows, width, ...] tensor: to_dense_batch with a given layout."""
    out = x.new_zeros(rows * width, *x.shape[1:])
    out[slot] = x
    return out.view(rows, width, *x.shape[1:])


@dataclass
class Geometry:
    """Everything the message passing reads from the atoms' positions: the symmetric periodic graph, each
    edge's reverse, the triplets with their bases, and each atom's crystal."""

    graph: PeriodicGraph
    swap: Tensor
    trip: Triplets
    rbf: Tensor
    batch: Tensor


class TripletInteraction(nn.Module):
    """Bilinear triplet interaction: messages m_kj, gated by rbf(d_kj), meet the basis of (d_ji, ∠kji).

    The sum over k is taken per edge at its source j; upstream pairs edges at a shared target
    instead, the same triplets indexed from the other end. Each edge then receives the sum
    gathered at its source and, through the reverse edge, the one gathered at its target.
    """

    def __init__(self, edge: int, trip: int, bilinear: int, rbf_emb: int, cbf_emb: int):
        super().__init__()
        self.dense_kj = dense(edge, edge)
        self.rbf = dense(rbf_emb, edge, activation=False)
        self.scale_rbf = ScaleFactor()
        self.down = dense(edge, trip)
        self.bilinear = nn.Linear(cbf_emb * trip, bilinear, bias=False)
        he_orthogonal_(self.bilinear.weight)
        self.scale_sum = ScaleFactor()
        self.up_source = dense(bilinear, edge)  # upstream's up_projection_ac
        self.up_target = dense(bilinear, edge)  # upstream's up_projection_ca

    def forward(self, m: Tensor, rbf3: Tensor, trip: Triplets, swap: Tensor) -> Tensor:
        x = self.dense_kj(m)
        x = self.down(self.scale_rbf(x, x * self.rbf(rbf3)))
        x_kj = x[trip.idx_kj]
        padded = trip.padded(x_kj)  # [E, K, trip]
        per_degree = trip.radial @ (trip.angular @ padded)  # Σ_k over each edge's triplets: [E, cbf, trip]
        y = self.scale_sum(x_kj, self.bilinear(per_degree.flatten(1)))
        return (self.up_source(y) + self.up_target(y)[swap]) * INV_SQRT2


class AtomUpdate(nn.Module):
    """h_i from the edges into i: Σ_j m_ji ⊙ W rbf(d_ji), scaled, then an MLP with residual layers."""

    def __init__(self, atom: int, edge: int, rbf_emb: int, num_atom: int):
        super().__init__()
        self.rbf = dense(rbf_emb, edge, activation=False)
        self.scale_sum = ScaleFactor()
        self.mlp = dense_then_residuals(edge, atom, num_atom)

    def forward(self, m: Tensor, rbf_h: Tensor, target: Tensor, num_nodes: int) -> Tensor:
        pooled = scatter(m * self.rbf(rbf_h), target, dim=0, dim_size=num_nodes, reduce="sum")
        return self.mlp(self.scale_sum(m, pooled))


class ForceOutput(nn.Module):
    """GemNet's output block, direct-force part: a scalar F_ji per edge from m_ji and rbf(d_ji)."""

    def __init__(self, edge: int, rbf_emb: int, num_atom: int):
        super().__init__()
        self.mlp = dense_then_residuals(edge, edge, num_atom)
        self.rbf = dense(rbf_emb, edge, activation=False)
        self.scale_rbf = ScaleFactor()
        self.out = nn.Linear(edge, 1, bias=False)
        he_orthogonal_(self.out.weight)

    def forward(self, m: Tensor, rbf_out: Tensor) -> Tensor:
        x = self.mlp(m)
        return self.out(self.scale_rbf(x, x * self.rbf(rbf_out)))


class InteractionBlock(nn.Module):
    """Triplet interaction and skip connection → residual edge layers → atom update → edge update from atoms.

    Every merge of two branches is averaged by 1/√2, so each keeps unit-order variance.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        hidden, rbf_emb = cfg.dec_hidden_dim, cfg.dec_emb_size_rbf
        self.skip = dense(hidden, hidden)
        self.triplet = TripletInteraction(
            hidden, cfg.dec_emb_size_trip, cfg.dec_emb_size_bil_trip, rbf_emb, cfg.dec_emb_size_cbf
        )
        self.before_skip = nn.Sequential(*(Residual(hidden) for _ in range(cfg.num_before_skip)))
        self.after_skip = nn.Sequential(*(Residual(hidden) for _ in range(cfg.num_after_skip)))
        self.atom_update = AtomUpdate(hidden, hidden, rbf_emb, cfg.dec_num_atom)
        self.concat = dense(3 * hidden, hidden)
        self.after_concat = nn.Sequential(*(Residual(hidden) for _ in range(cfg.dec_num_concat)))

    def forward(
        self,
        h: Tensor,
        m: Tensor,
        rbf3: Tensor,
        rbf_h: Tensor,
        trip: Triplets,
        edge_index: Tensor,
        swap: Tensor,
    ) -> tuple[Tensor, Tensor]:
        source, target = edge_index
        x = (self.skip(m) + self.triplet(m, rbf3, trip, swap)) * INV_SQRT2
        m = self.after_skip((m + self.before_skip(x)) * INV_SQRT2)
        h = (h + self.atom_update(m, rbf_h, target, len(h))) * INV_SQRT2
        m_atoms = self.after_concat(self.concat(torch.cat([h[source], h[target], m], dim=-1)))
        return h, (m + m_atoms) * INV_SQRT2


class GemNetDT(nn.Module):
    """z, noisy crystal → (per-atom Cartesian score [N, 3], per-atom type logits [N, 100] over Z = 1..100)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        hidden, num_radial, rbf_emb = cfg.dec_hidden_dim, cfg.dec_num_radial, cfg.dec_emb_size_rbf
        self.cutoff, self.max_neighbors, self.num_spherical = cfg.cutoff, cfg.max_neighbors, cfg.num_spherical
        self.radial = RadialBasis(num_radial, cfg.cutoff, cfg.envelope_exponent)
        # projections of the bases shared by all blocks, as upstream
        self.rbf_triplet = dense(num_radial, rbf_emb, activation=False)
        self.cbf_radial = nn.Parameter(
            he_orthogonal_(torch.empty(cfg.dec_emb_size_cbf, cfg.num_spherical, num_radial))
        )
        self.rbf_atom = dense(num_radial, rbf_emb, activation=False)
        self.rbf_out = dense(num_radial, rbf_emb, activation=False)
        self.atom_emb = nn.Embedding(MAX_ATOMIC_NUM, hidden)  # row Z - 1
        nn.init.uniform_(self.atom_emb.weight, -math.sqrt(3), math.sqrt(3))
        self.atom_latent = nn.Linear(hidden + cfg.latent_dim, hidden)
        self.edge_emb = dense(2 * hidden + num_radial, hidden)
        self.interactions = nn.ModuleList(InteractionBlock(cfg) for _ in range(cfg.dec_num_blocks))
        self.outputs = nn.ModuleList(
            ForceOutput(hidden, rbf_emb, cfg.dec_num_atom) for _ in range(cfg.dec_num_blocks + 1)
        )
        self.type_head = nn.Linear(hidden, MAX_ATOMIC_NUM)
        self.register_buffer("scales_fitted", torch.tensor(False))
        self.fitting = False

    @contextmanager
    def fitting_scales(self) -> Iterator[None]:
        """Fit every scale factor on the one forward pass run inside; a fitted (or loaded) model refuses."""
        if self.scales_fitted:
            raise RuntimeError(
                "GemNet-dT's scale factors are already fitted; refitting would change the model."
            )
        self.fitting = True
        try:
            with fitting_scale_factors(self):
                yield
        finally:
            self.fitting = False
        self.scales_fitted.fill_(True)

    def forward(
        self,
        z: Tensor,
        frac_coords: Tensor,
        atom_types: Tensor,
        num_atoms: Tensor,
        lengths: Tensor,
        angles: Tensor,
        plan: CellPlan | None = None,
    ) -> tuple[Tensor, Tensor]:
        """`plan`: `graph.cell_plan` of these cells and counts with the decoder's cutoff, for callers that
        keep them fixed over many calls (Langevin decoding); the result is the same without it."""
        lattice = lattice_matrix(lengths, angles)
        return self.forward_in_cell(z, frac_coords, atom_types, num_atoms, lattice, plan)

    def forward_in_cell(
        self,
        z: Tensor,
        frac_coords: Tensor,
        atom_types: Tensor,
        num_atoms: Tensor,
        lattice: Tensor,
        plan: CellPlan | None = None,
    ) -> tuple[Tensor, Tensor]:
        """As `forward`, for cells [B, 3, 3] in any orientation (rows a, b, c): the score turns with them."""
        return self.network(z, atom_types, self.geometry(frac_coords, num_atoms, lattice, plan))

    def compiled(self, **options) -> Callable[..., tuple[Tensor, Tensor]]:
        """`forward` with the message passing compiled by torch.compile (dynamic shapes; `options` go to it).

        The geometry stays eager: its sizes (edges, triplets) depend on the positions and are found with
        host synchronisations, which would split a compiled graph anyway; the message passing after it
        is shape-generic tensor code that compiles into one graph.
        """
        network = torch.compile(self.network, dynamic=True, **options)

        def score(z, frac_coords, atom_types, num_atoms, lengths, angles, plan=None):
            lattice = lattice_matrix(lengths, angles)
            return network(z, atom_types, self.geometry(frac_coords, num_atoms, lattice, plan))

        return score

    def geometry(
        self, frac_coords: Tensor, num_atoms: Tensor, lattice: Tensor, plan: CellPlan | None = None
    ) -> Geometry:
        """The symmetric radius graph of the atoms, its triplets and their bases."""
        if not (self.fitting or self.scales_fitted):
            raise RuntimeError(
                "GemNet-dT's scale factors are not fitted. Fix: call CDVAE.fit_scales(batch, seed) once "
                "after building the model (a saved state_dict carries them)."
            )
        n = len(frac_coords)
        if plan is None:
            cart = frac_to_cart(frac_coords, lattice, num_atoms)
            batch = torch.arange(len(num_atoms), device=cart.device).repeat_interleave(num_atoms)
        else:
            cart, batch = atom_frac_to_cart(frac_coords, plan.atom_lattice), plan.batch
        graph = with_reverse_edges(
            radius_graph_pbc(cart, lattice, num_atoms, self.cutoff, self.max_neighbors, plan), n
        )
        swap = reverse_edges(graph.edge_index, graph.cell_offsets, n)
        idx_kj, idx_ji = triplets(graph.edge_index, graph.cell_offsets, n, reverse=swap)
        rbf = self.radial(graph.distances)
        slot, width = triplet_slots(idx_ji, len(swap))
        angular = pad_rows(
            circular_basis(bond_angle_cosines(graph.vectors, idx_kj, idx_ji), self.num_spherical),
            slot,
            len(swap),
            width,
        )
        trip = Triplets(
            idx_kj,
            idx_ji,
            slot,
            angular.transpose(1, 2),
            torch.einsum("er,csr->ecs", rbf, self.cbf_radial),
        )
        return Geometry(graph, swap, trip, rbf, batch)

    def network(self, z: Tensor, atom_types: Tensor, geo: Geometry) -> tuple[Tensor, Tensor]:
        """The message passing on a built geometry: (score [N, 3], type logits [N, 100])."""
        n = atom_types.numel()
        source, target = geo.graph.edge_index
        rbf = geo.rbf
        rbf3, rbf_h, rbf_out = self.rbf_triplet(rbf), self.rbf_atom(rbf), self.rbf_out(rbf)

        h = self.atom_emb(atom_types - 1)
        h = self.atom_latent(torch.cat([h, z.index_select(0, geo.batch)], dim=-1))
        m = self.edge_emb(torch.cat([h[source], h[target], rbf], dim=-1))
        forces = self.outputs[0](m, rbf_out)
        for interaction, output in zip(self.interactions, self.outputs[1:]):
            h, m = interaction(h, m, rbf3, rbf_h, geo.trip, geo.graph.edge_index, geo.swap)
            forces = forces + output(m, rbf_out)
        unit = geo.graph.vectors / geo.graph.distances.clamp_min(1e-9)[:, None]
        score = scatter(forces * unit, target, dim=0, dim_size=n, reduce="sum")
        return score, self.type_head(h)
