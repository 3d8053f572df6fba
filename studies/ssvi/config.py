"""One training run's hyperparameters. Defaults are the `cpu` calibration on digits (ANCHORS.md, issue 5).

Every method trains under the same protocol: Adam, weight decay `weight_decay` on every parameter but
ρ, and a learning rate annealed by `lr_schedule` (cosine to 0 over the run, as the reference code does: it is
what lets σ settle after SSVI's last support update at T_end). `weight_decay` and `epochs` are chosen per run
on a validation split (studies/ssvi/tuning.py).

Methods: `deterministic`, `dropout` (MC dropout), `ensemble` (deep ensemble of `ensemble_size` deterministic
nets), `vi` (mean-field VI on a fixed support: density 1 is dense VI, density < 1 the static random mask)
and `ssvi` (the support is pruned and regrown every `update_every` iterations until `t_end`·training).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from studies.common.config import from_overrides
from studies.ssvi.sparsity import CRITERIA

METHODS = ("deterministic", "dropout", "ensemble", "vi", "ssvi")
LR_SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "sgd")
# Image shape (C, H, W) of each dataset the study can train on; prepared arrays are stored in it.
INPUT_SHAPES = {
    "digits": (1, 8, 8),
    "fashion_mnist": (1, 28, 28),
    "mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
}


@dataclass(frozen=True)
class SSVIConfig:
    method: str = "ssvi"
    arch: str = "mlp"
    dataset: str = "digits"  # which prepared dataset the run trains and is scored on
    width: int = 256  # hidden units of the MLP
    density: float = 0.1
    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3  # Adam on μ (and on every deterministic parameter)
    lr_rho: float = 1e-3  # Adam on ρ; σ only converges when this is large enough (see the report)
    weight_decay: float = 0.0  # L2 on every parameter but ρ (the reference code's placement)
    optimizer: str = "adam"  # sgd: SGD with `momentum`, the reference code's optimiser (the paper profile)
    momentum: float = 0.9
    lr_schedule: str = "cosine"
    prior_std: float = 1.0
    init_sigma: float = 1e-3
    kl_scale: float = 1.0  # KL weight is kl_scale/N_train at the end of the warm-up (1: the ELBO itself)
    kl_warmup: float = 0.5  # the KL weight ramps up over this fraction of training (the reference code: half)
    update_every: int = 100  # ΔT, iterations between support updates (the reference code's default)
    t_end: float = 0.75  # T_end as a fraction of all iterations
    alpha: float = 0.3
    criterion: str = "snr_abs_theta"
    dense_first_layer: bool = (
        False  # True: the reference code's layout (first layer dense, `density` elsewhere)
    )
    dropout: float = 0.1
    ensemble_size: int = 5
    n_samples: int = 20  # K, weight samples in the posterior predictive
    n_classes: int = 10

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Unknown method '{self.method}'. Fix: use one of {', '.join(METHODS)}.")
        if self.criterion not in CRITERIA:
            raise ValueError(f"Unknown criterion '{self.criterion}'. Fix: use one of {', '.join(CRITERIA)}.")
        if self.dataset not in INPUT_SHAPES:
            raise ValueError(f"Unknown dataset '{self.dataset}'. Fix: use one of {', '.join(INPUT_SHAPES)}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer '{self.optimizer}'. Fix: one of {', '.join(OPTIMIZERS)}.")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"Unknown lr_schedule '{self.lr_schedule}'. Fix: one of {', '.join(LR_SCHEDULES)}."
            )
        if not 0.0 <= self.kl_warmup <= 1.0:
            raise ValueError(f"kl_warmup={self.kl_warmup} is a fraction of training. Fix: a value in [0, 1].")
        if not 0.0 < self.density <= 1.0:
            raise ValueError(f"density={self.density} must be in (0, 1].")
        if self.method == "ssvi" and self.density == 1.0:
            raise ValueError(
                "SSVI at density 1 has nothing to prune. Fix: density < 1, or method 'vi' for dense VI."
            )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return INPUT_SHAPES[self.dataset]

    @property
    def bayesian(self) -> bool:
        return self.method in ("vi", "ssvi")

    @classmethod
    def from_dict(cls, overrides: dict[str, Any]) -> SSVIConfig:
        return from_overrides(cls, overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
