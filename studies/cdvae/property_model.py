"""The property model behind d_E: a DimeNet++ regressor of the dataset's property, trained on the same splits.

Upstream scores generated crystals with separately trained property models (`prop_models/`,
CrystGNN_Supervise: a DimeNet++ encoder whose readout is the property). This is the same
model family trained by this pipeline (`cdvae-train-property-model`), so d_E here is measured
with our regressor, not the paper's. Deviation, stated: it reads the on-the-fly radius graph
(cutoff and neighbour cap from the config) instead of CrystalNN bonds, so that a generated
crystal is scored without a CrystalNN pass and the graph is built on the model's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F
from torch import nn

from studies.cdvae.config import ModelConfig
from studies.cdvae.crystal import CrystalArrays
from studies.cdvae.dataset import PREPARED_SCHEMA, CrystalBatch, CrystalSet, Scaler
from studies.cdvae.encoder import DimeNetPPEncoder
from studies.cdvae.model import mlp


class PropertyModel(nn.Module):
    def __init__(self, cfg: ModelConfig, prop_scaler: Scaler):
        super().__init__()
        self.cfg = cfg
        self.encoder = DimeNetPPEncoder(cfg)
        self.head = mlp(cfg.latent_dim, cfg.fc_hidden_dim, cfg.fc_num_layers, 1)
        self.register_buffer("prop_mean", torch.tensor(prop_scaler.mean, dtype=torch.float32))
        self.register_buffer("prop_std", torch.tensor(prop_scaler.std, dtype=torch.float32))

    def forward(self, b: CrystalBatch) -> torch.Tensor:
        """The standardised property of each crystal in the batch."""
        hidden = self.encoder(b.frac_coords, b.atom_types, b.num_atoms, b.lengths, b.angles, b.batch, None)
        return self.head(hidden).squeeze(-1)

    def losses(self, b: CrystalBatch, teacher_forcing: bool = False) -> dict[str, torch.Tensor]:
        """MSE on the standardised property; `teacher_forcing` has no meaning here (the shared training loop
        passes it)."""
        return {"property": F.mse_loss(self(b), (b.prop - self.prop_mean) / self.prop_std)}

    def total_loss(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return terms["property"]

    @torch.no_grad()
    def predict(self, crystals: CrystalSet, batch_size: int = 256) -> np.ndarray:
        """The property in its own units for every crystal of the set."""
        self.eval()
        device = self.prop_mean.device
        out = [self(b.to(device)) * self.prop_std + self.prop_mean for b in crystals.batches(batch_size)]
        return torch.cat(out).cpu().double().numpy() if out else np.empty(0)


def crystal_set(crystals: Sequence[CrystalArrays]) -> CrystalSet:
    """Decoded or parsed crystals as a CrystalSet (no bonds, no property), for models that build their own
    graph."""
    return CrystalSet(
        pl.DataFrame(
            {
                "material_id": [str(k) for k in range(len(crystals))],
                "num_atoms": [len(c.atom_types) for c in crystals],
                "lengths": [np.asarray(c.lengths, dtype=float).tolist() for c in crystals],
                "angles": [np.asarray(c.angles, dtype=float).tolist() for c in crystals],
                "atom_types": [np.asarray(c.atom_types).astype(int).tolist() for c in crystals],
                "frac_coords": [np.asarray(c.frac_coords, dtype=float).ravel().tolist() for c in crystals],
                "property": [None] * len(crystals),
                "edges": [[] for _ in crystals],
            },
            schema=PREPARED_SCHEMA,
        )
    )
