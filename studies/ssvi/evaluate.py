"""Posterior predictives and the study's scores: accuracy, NLL, ECE, marginal L2 CE, the entropy shift test,
cost."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from studies.common import calibration
from studies.ssvi import flops as flops_mod
from studies.ssvi.config import SSVIConfig
from studies.ssvi.layers import bayesian_layers, mean_weights


def predict(
    models: Sequence[nn.Module],
    X: np.ndarray,
    cfg: SSVIConfig,
    mode: str,
    seed: int = 0,
    batch_size: int = 1024,
) -> np.ndarray:
    """Class probabilities averaged over the predictive's draws.

    mode "samples": K = cfg.n_samples stochastic passes for VI/SSVI (local reparameterisation) and MC dropout,
    one pass per member for deterministic nets and ensembles. mode "mean": the mean weights (dropout off).
    """
    if mode not in ("samples", "mean"):
        raise ValueError(f"Unknown predictive mode '{mode}'. Fix: samples or mean.")
    stochastic = mode == "samples" and (cfg.bayesian or cfg.method == "dropout")
    draws = cfg.n_samples if stochastic else 1
    torch.manual_seed(seed)
    device = next(models[0].parameters()).device
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device).view(-1, *cfg.input_shape)
    total = np.zeros((len(X), cfg.n_classes), dtype=np.float64)
    for model in models:
        model.eval()
        if stochastic and cfg.method == "dropout":
            for m in model.modules():
                if isinstance(m, nn.Dropout):
                    m.train()
        with torch.no_grad(), mean_weights(model) if mode == "mean" else nullcontext():
            for _ in range(draws):
                total += (
                    torch.cat([torch.softmax(model(b), 1) for b in X_t.split(batch_size)])
                    .double()
                    .cpu()
                    .numpy()
                )
    return total / (draws * len(models))


def shift_scores(probs_in: np.ndarray, probs_shifted: np.ndarray) -> dict[str, float]:
    """Mean predictive entropy on the shifted set, its rise over in-distribution, and the AUROC of telling the
    two apart by entropy (0.5: blind to the shift; 1: every shifted digit is less certain than every clean
    one)."""
    h_in, h_out = calibration.entropy(probs_in), calibration.entropy(probs_shifted)
    labels = np.r_[np.zeros(len(h_in)), np.ones(len(h_out))]
    return {
        "entropy": float(h_out.mean()),
        "entropy_gain": float(h_out.mean() - h_in.mean()),
        "auroc": float(roc_auc_score(labels, np.r_[h_in, h_out])),
    }


def cost(models: Sequence[nn.Module], cfg: SSVIConfig) -> dict[str, float]:
    """Non-zero weights and inference FLOPs per example (all members, one predictive draw; mean-weight pass
    too)."""
    shape = cfg.input_shape
    counts = [flops_mod.weight_count(m) for m in models]
    infer = sum(flops_mod.forward_flops(m, shape) for m in models)
    with_mean = [flops_mod.forward_flops(m, shape) // (2 if cfg.bayesian else 1) for m in models]
    return {
        "nnz": float(sum(c["nnz"] for c in counts)),
        "weights": float(sum(c["total"] for c in counts)),
        "infer_flops": float(infer),
        "infer_flops_mean_weights": float(sum(with_mean)),
    }


def initial_support_share(model: nn.Module, initial: nn.Module) -> float:
    """Share of the final support that was already in the random initial one (a static mask: 1; a support
    rebuilt from scratch: about the density, what a fresh random draw would share)."""
    final, start = bayesian_layers(model), bayesian_layers(initial)
    kept = sum(int((a.mask.bool() & b.mask.bool()).sum()) for a, b in zip(final, start))
    return kept / sum(a.support_size for a in final)
