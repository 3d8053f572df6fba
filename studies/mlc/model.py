"""The MLC network: a shared backbone with a feature head (Z) and a cluster head (C), both on the sphere."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class MLCNet(nn.Module):
    """MLP backbone (Linear→BatchNorm→ReLU blocks) with two linear heads whose outputs are L2-normalised."""

    def __init__(self, in_dim: int, hidden_dim: int, n_hidden: int, feature_dim: int):
        super().__init__()
        blocks: list[nn.Module] = []
        for i in range(n_hidden):
            blocks += [
                nn.Linear(in_dim if i == 0 else hidden_dim, hidden_dim),
                nn.BatchNorm1d(hidden_dim),
                nn.ReLU(),
            ]
        self.backbone = nn.Sequential(*blocks)
        width = hidden_dim if n_hidden else in_dim
        self.feature_head = nn.Linear(width, feature_dim)
        self.cluster_head = nn.Linear(width, feature_dim)

    def features(self, x: Tensor) -> Tensor:
        """Z alone, for the TCR warm-up where the cluster head has no role yet."""
        return F.normalize(self.feature_head(self.backbone(x)), dim=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(Z, C): features and cluster-head outputs, each row on the unit sphere."""
        h = self.backbone(x)
        return F.normalize(self.feature_head(h), dim=1), F.normalize(self.cluster_head(h), dim=1)

    def one_shot_init(self) -> None:
        """Copy the warmed-up feature head into the cluster head, so the first Γ reflects feature
        similarity."""
        self.cluster_head.load_state_dict(self.feature_head.state_dict())
