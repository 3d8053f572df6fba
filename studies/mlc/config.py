"""Every hyperparameter of an MLC run, in one frozen record; defaults are the `cpu` calibration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from studies.common.config import from_overrides


@dataclass(frozen=True)
class MLCConfig:
    """Hyperparameters of MLC (Ding et al., ICCV 2023) and its TCR warm-up.

    Defaults reproduce the calibration on digits on 2 CPU cores: full batch, an
    MLP backbone, linear heads to a 32-dim sphere, 300 TCR steps, a one-shot
    head copy, then 200 MLC steps.
    """

    # network: a backbone (studies/mlc/backbones.py: mlp, cnn or resnet18), linear feature and cluster heads
    arch: str = "mlp"
    hidden_dim: int = 512  # mlp width; the cnn's last (Linear+BN+ReLU) width
    n_hidden: int = 2  # mlp only
    conv_width: int = 16  # cnn only: channels of its first conv (then 2× and 4×)
    feature_dim: int = 32
    # coding rates and the doubly stochastic membership
    eps2: float = 0.1  # ε², the distortion of the coding rates
    eta: float = 0.175  # Sinkhorn entropy weight: too small splits clusters into pieces, too large blurs them
    sinkhorn_iters: int = 10  # log-domain row+column normalisations
    # optimisation
    warmup_steps: int = 300  # TCR self-supervised warm-up
    mlc_steps: int = 200
    lr: float = 1e-3  # Adam, both phases
    weight_decay: float = 0.0
    batch_size: int | None = None  # None: full batch
    one_shot_init: bool = True  # copy feature head into cluster head after warm-up
    # TCR augmentation-consistency term and the augmentations
    lam: float = 50.0
    n_views: int = 2
    shift_pixels: int = 1  # image inputs only, as are the next three
    rotate_degrees: float = 0.0
    scale: float = 0.0  # zoom by a factor in 1 ± scale
    hflip: bool = False  # natural photos, not digits
    noise_std: float = 0.02  # per-entry Gaussian noise on L2-normalised inputs
    dropout: float = 0.1  # fraction of input entries zeroed
    # cluster assignment for large n: Γ (n × n) is formed only on this many anchor points, drawn once per fit;
    # every point then joins the cluster its cluster-head row votes for among the anchors (evaluate.py)
    anchors: int = 5000
    embed_batch: int = 4096  # rows per forward pass when embedding all n points after training
    # bookkeeping
    log_every: int = 10
    num_threads: int | None = 2  # torch CPU threads; None leaves torch's default
    device: str = "cpu"

    @classmethod
    def from_dict(cls, d: Mapping) -> MLCConfig:
        return from_overrides(cls, d)
