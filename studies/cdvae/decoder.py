"""A lighter decoder (`decoder: gemnet_t_style`, the ci and cpu profiles'): a GemNet-T-style periodic score
network conditioned on the latent z. The paper's, and the default, is GemNet-dT (studies/cdvae/gemnet.py).

Given noisy fractional coordinates, current atom types, the lattice and z, it returns a
per-atom Cartesian score (CDVAE's `pred_cart_coord_diff`, the denoising direction scaled
by 1/σ) and per-atom type logits. What it keeps from CDVAE's GemNet-T decoder: atom
embeddings concatenated with z and projected back (the latent conditioning); edge
embeddings from both atoms and the radial basis; triplet interactions on the periodic
graph; atom updates that pool edges; edge updates from both atoms; and GemNet's *direct*
force head, a learned scalar per edge times the edge's unit vector summed into its
target atom, so the score rotates with the crystal. What it simplifies, said here so no
reader mistakes it for GemNet-T: the triplet interaction is DimeNet++'s (PyG's
`InteractionPPBlock`, a spherical-basis product rather than GemNet's bilinear layer),
the bases are DimeNet++'s Bessel/spherical ones shared with the encoder, and there is
no learned output scaling file.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch_geometric.nn.models.dimenet import InteractionPPBlock, OutputPPBlock
from torch_geometric.utils import scatter

from studies.cdvae.config import MAX_ATOMIC_NUM, ModelConfig
from studies.cdvae.encoder import GraphFeatures
from studies.cdvae.graph import CellPlan


class EdgeEmbedding(nn.Module):
    """m_ji = act(W [h_i, h_j, act(W_rbf rbf_ji)]): the first edge state, from both atoms and the distance."""

    def __init__(self, hidden: int, num_radial: int, act: nn.Module):
        super().__init__()
        self.act = act
        self.lin_rbf = nn.Linear(num_radial, hidden)
        self.lin = nn.Linear(3 * hidden, hidden)

    def forward(self, h: torch.Tensor, rbf: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return self.act(self.lin(torch.cat([h[i], h[j], self.act(self.lin_rbf(rbf))], dim=-1)))


class EdgeUpdate(nn.Module):
    """m_ji += act(W [h_i, h_j, m_ji]): GemNet's atom-to-edge step after each atom update."""

    def __init__(self, hidden: int, act: nn.Module):
        super().__init__()
        self.act = act
        self.lin = nn.Linear(3 * hidden, hidden)

    def forward(self, m: torch.Tensor, h: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        return m + self.act(self.lin(torch.cat([h[i], h[j], m], dim=-1)))


class DirectForce(nn.Module):
    """Per-edge scalar F_ji (gated by the radial basis) times the unit vector, summed per target atom."""

    def __init__(self, hidden: int, num_radial: int, act: nn.Module):
        super().__init__()
        self.lin_rbf = nn.Linear(num_radial, hidden, bias=False)
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), act, nn.Linear(hidden, 1, bias=False))
        nn.init.zeros_(self.mlp[-1].weight)  # the score starts at zero, as DimeNet's output blocks do

    def forward(self, m, rbf, unit, i, num_nodes: int) -> torch.Tensor:
        scalar = self.mlp(m * self.lin_rbf(rbf))
        return scatter(scalar * unit, i, dim=0, dim_size=num_nodes, reduce="sum")


class GemNetTStyleDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        act, hidden = nn.SiLU(), cfg.dec_hidden_dim
        self.features = GraphFeatures(cfg)
        self.atom_emb = nn.Embedding(MAX_ATOMIC_NUM + 1, hidden)
        nn.init.uniform_(self.atom_emb.weight, -math.sqrt(3), math.sqrt(3))
        self.atom_latent = nn.Linear(hidden + cfg.latent_dim, hidden)
        self.edge_emb = EdgeEmbedding(hidden, cfg.num_radial, act)
        self.interactions = nn.ModuleList(
            InteractionPPBlock(
                hidden,
                cfg.dec_int_emb_size,
                cfg.dec_basis_emb_size,
                cfg.num_spherical,
                cfg.num_radial,
                cfg.num_before_skip,
                cfg.num_after_skip,
                act,
            )
            for _ in range(cfg.dec_num_blocks)
        )
        self.atom_updates = nn.ModuleList(
            OutputPPBlock(cfg.num_radial, hidden, hidden, hidden, 1, act) for _ in range(cfg.dec_num_blocks)
        )
        self.edge_updates = nn.ModuleList(EdgeUpdate(hidden, act) for _ in range(cfg.dec_num_blocks))
        self.forces = nn.ModuleList(
            DirectForce(hidden, cfg.num_radial, act) for _ in range(cfg.dec_num_blocks + 1)
        )
        self.type_head = nn.Linear(hidden, MAX_ATOMIC_NUM)

    def forward(
        self, z, frac_coords, atom_types, num_atoms, lengths, angles, plan: CellPlan | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """→ (per-atom Cartesian score (N, 3), per-atom type logits (N, 100) over Z = 1..100); `plan` as
        GemNetDT.forward's."""
        graph, rbf, sbf, idx_kj, idx_ji = self.features(frac_coords, lengths, angles, num_atoms, plan=plan)
        n = atom_types.numel()
        j, i = graph.edge_index
        unit = graph.vectors / graph.distances.clamp_min(1e-9)[:, None]
        h = self.atom_emb(atom_types)
        h = self.atom_latent(torch.cat([h, z.repeat_interleave(num_atoms, dim=0)], dim=-1))
        m = self.edge_emb(h, rbf, i, j)
        score = self.forces[0](m, rbf, unit, i, n)
        for interaction, atom_update, edge_update, force in zip(
            self.interactions, self.atom_updates, self.edge_updates, self.forces[1:]
        ):
            m = interaction(m, rbf, sbf, idx_kj, idx_ji)
            h = h + atom_update(m, rbf, i, num_nodes=n)
            m = edge_update(m, h, i, j)
            score = score + force(m, rbf, unit, i, n)
        return score, self.type_head(h)
