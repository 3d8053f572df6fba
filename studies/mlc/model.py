"""The MLC network: a shared backbone with a feature head (Z) and a cluster head (C), both on the sphere."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from studies.mlc import backbones


class MLCNet(nn.Module):
    """A backbone (studies/mlc/backbones.py) with two linear heads whose outputs are L2-normalised."""

    def __init__(self, backbone: nn.Module, width: int, feature_dim: int):
        super().__init__()
        self.backbone = backbone
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


def build(
    arch: str,
    in_dim: int,
    feature_dim: int,
    hidden_dim: int,
    n_hidden: int,
    conv_width: int,
    image_shape: tuple[int, int] | None,
) -> MLCNet:
    """MLCNet with the backbone `arch` names: `mlp`, `cnn` or `resnet18` (these two need image_shape)."""
    if arch == "mlp":
        body, width = backbones.mlp(in_dim, hidden_dim, n_hidden)
    elif arch in ("cnn", "resnet18"):
        if image_shape is None:
            raise ValueError(f"backbone {arch} needs images; this dataset has no image_shape")
        channels = in_dim // (image_shape[0] * image_shape[1])
        if arch == "cnn":
            body, width = backbones.small_cnn(image_shape, channels, conv_width, hidden_dim)
        else:
            body, width = backbones.resnet18(image_shape, channels)
    else:
        raise ValueError(f"unknown backbone {arch!r}: mlp, cnn or resnet18")
    return MLCNet(body, width, feature_dim)
