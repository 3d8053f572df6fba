"""One training run's hyperparameters. Defaults are the `cpu` calibration on digits (ANCHORS.md, issue 5).

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


@dataclass(frozen=True)
class SSVIConfig:
    method: str = "ssvi"
    arch: str = "mlp"
    density: float = 0.1
    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3  # Adam on μ (and on every deterministic parameter)
    lr_rho: float = 1e-3  # Adam on ρ; σ only converges when this is large enough (see the report)
    prior_std: float = 1.0
    init_sigma: float = 1e-3
    kl_scale: float = 1.0  # KL weight is kl_scale/N_train at the end of the warm-up (1: the ELBO itself)
    kl_warmup_epochs: int = 100
    update_every: int = 50  # ΔT, iterations between support updates
    t_end: float = 0.75  # T_end as a fraction of all iterations
    alpha: float = 0.3
    criterion: str = "snr_abs_theta"
    dropout: float = 0.1
    ensemble_size: int = 5
    n_samples: int = 20  # K, weight samples in the posterior predictive
    n_classes: int = 10

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Unknown method '{self.method}'. Fix: use one of {', '.join(METHODS)}.")
        if self.criterion not in CRITERIA:
            raise ValueError(f"Unknown criterion '{self.criterion}'. Fix: use one of {', '.join(CRITERIA)}.")
        if not 0.0 < self.density <= 1.0:
            raise ValueError(f"density={self.density} must be in (0, 1].")
        if self.method == "ssvi" and self.density == 1.0:
            raise ValueError(
                "SSVI at density 1 has nothing to prune. Fix: density < 1, or method 'vi' for dense VI."
            )

    @property
    def bayesian(self) -> bool:
        return self.method in ("vi", "ssvi")

    @classmethod
    def from_dict(cls, overrides: dict[str, Any]) -> SSVIConfig:
        return from_overrides(cls, overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
