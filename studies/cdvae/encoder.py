"""The encoder: DimeNet++ message passing on the periodic neighbour graph, mean-pooled per crystal.

torch-geometric provides DimeNet++'s layers (Bessel and spherical bases, embedding,
interaction and output blocks); what it cannot provide is the graph, because its
`radius_graph` knows neither periodic images nor (without pyg-lib) runs here. So the
graph and the triplets come from `studies.cdvae.graph`, and the blocks are PyG's. As upstream
for Perov-5, the encoder reads the CrystalNN bonds found at prepare time (`otf_graph: false`).
"""

from __future__ import annotations

import math
from functools import cache

import torch
from torch import nn
from torch_geometric.nn.models.dimenet import (
    BesselBasisLayer,
    EmbeddingBlock,
    InteractionPPBlock,
    OutputPPBlock,
    SphericalBasisLayer,
)
from torch_geometric.utils import scatter

from studies.cdvae.config import MAX_ATOMIC_NUM, ModelConfig
from studies.cdvae.graph import PeriodicGraph, edge_vectors, radius_graph_pbc, triplet_angles, triplets
from studies.cdvae.lattice import frac_to_cart, lattice_matrix

# The spherical Bessel functions behind DimeNet's bases cancel catastrophically near zero
# distance (≈1e11 at 0.01 Å in float32); noised atoms do come that close, so the bases see
# distances of at least this much. Clean crystals (valid: > 0.5 Å apart) are unaffected.
MIN_BASIS_DISTANCE = 0.5  # Å


@cache
def spherical_basis(num_spherical: int, num_radial: int, cutoff: float, envelope_exponent: int) -> nn.Module:
    """One spherical basis per setting in a process. PyG derives it symbolically (sympy) on every
    construction: ~2.5 s at the ci profile's size and ~20 s at the published one, once for the encoder and
    again for the decoder of each model built. It has no weights, buffers or randomness, so sharing it changes
    no result."""
    return SphericalBasisLayer(num_spherical, num_radial, cutoff, envelope_exponent)


class GraphFeatures(nn.Module):
    """Radial and angular bases of a periodic graph: the geometric input both networks share."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cutoff, self.max_neighbors = cfg.cutoff, cfg.max_neighbors
        self.rbf = BesselBasisLayer(cfg.num_radial, cfg.cutoff, cfg.envelope_exponent)
        self.sbf = spherical_basis(cfg.num_spherical, cfg.num_radial, cfg.cutoff, cfg.envelope_exponent)

    def forward(
        self, frac_coords, lengths, angles, num_atoms, bonds: tuple[torch.Tensor, torch.Tensor] | None = None
    ):
        """Bases on the given bonds (edge_index, cell_offsets), or on the radius graph of the current
        coordinates."""
        lattice = lattice_matrix(lengths, angles)
        cart = frac_to_cart(frac_coords, lattice, num_atoms)
        if bonds is None:
            graph = radius_graph_pbc(cart, lattice, num_atoms, self.cutoff, self.max_neighbors)
        else:
            batch = torch.arange(num_atoms.numel(), device=cart.device).repeat_interleave(num_atoms)
            vectors = edge_vectors(cart, lattice, batch, *bonds)
            graph = PeriodicGraph(bonds[0], bonds[1], vectors, vectors.norm(dim=-1))
        idx_kj, idx_ji = triplets(graph.edge_index, graph.cell_offsets, int(num_atoms.sum()))
        distances = graph.distances.clamp_min(MIN_BASIS_DISTANCE)
        rbf = self.rbf(distances)
        sbf = self.sbf(distances, triplet_angles(graph.vectors, idx_kj, idx_ji), idx_kj)
        # An edge sums one message per triplet, and a noised atom can have ~20 neighbours in a
        # small cell; dividing by √(triplets per edge) keeps the sum's scale fixed, the role of
        # GemNet's fitted scaling factors (upstream's scale_file), but per edge instead of fitted.
        per_edge = torch.bincount(idx_ji, minlength=graph.distances.numel()).clamp_min(1)
        sbf = sbf / per_edge[idx_ji].sqrt().unsqueeze(-1)
        return graph, rbf, sbf, idx_kj, idx_ji


class DimeNetPPEncoder(nn.Module):
    """Crystal → hidden vector (then μ, log σ² in the VAE): DimeNet++ on the CrystalNN bonds, mean readout, as
    upstream."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        act = nn.SiLU()
        self.features = GraphFeatures(cfg)
        self.emb = EmbeddingBlock(cfg.num_radial, cfg.enc_hidden_dim, act)
        # PyG's embedding table stops at Z=94; CDVAE types go to 100.
        self.emb.emb = nn.Embedding(MAX_ATOMIC_NUM + 1, cfg.enc_hidden_dim)
        nn.init.uniform_(self.emb.emb.weight, -math.sqrt(3), math.sqrt(3))
        self.interactions = nn.ModuleList(
            InteractionPPBlock(
                cfg.enc_hidden_dim,
                cfg.enc_int_emb_size,
                cfg.enc_basis_emb_size,
                cfg.num_spherical,
                cfg.num_radial,
                cfg.num_before_skip,
                cfg.num_after_skip,
                act,
            )
            for _ in range(cfg.enc_num_blocks)
        )
        self.outputs = nn.ModuleList(
            OutputPPBlock(
                cfg.num_radial,
                cfg.enc_hidden_dim,
                cfg.enc_out_emb_channels,
                cfg.latent_dim,
                cfg.enc_num_output_layers,
                act,
            )
            for _ in range(cfg.enc_num_blocks + 1)
        )

    def forward(self, frac_coords, atom_types, num_atoms, lengths, angles, batch, bonds) -> torch.Tensor:
        graph, rbf, sbf, idx_kj, idx_ji = self.features(frac_coords, lengths, angles, num_atoms, bonds)
        n = atom_types.numel()
        j, i = graph.edge_index  # messages flow from source j to target i
        x = self.emb(atom_types, rbf, i, j)
        per_atom = self.outputs[0](x, rbf, i, num_nodes=n)
        for interaction, output in zip(self.interactions, self.outputs[1:]):
            x = interaction(x, rbf, sbf, idx_kj, idx_ji)
            per_atom = per_atom + output(x, rbf, i, num_nodes=n)
        return scatter(per_atom, batch, dim=0, dim_size=num_atoms.numel(), reduce="mean")
