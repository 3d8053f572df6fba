"""SSVI's support updates: remove the weakest active weights by a criterion, add as many by dense-gradient
size.

Li et al. 2024, §3.2–3.3: every ΔT iterations until T_end, each layer drops a fraction
α/2·(1 + cos(π t / T_end)) of its s active weights, ranked by one of the criteria below, and activates the
same number of weights with the largest |∂L/∂μ| (the gradient of the loss w.r.t. the dense mean weight) among
all that did not survive the removal. As in the reference code (ljb121002/SSVI, rigl_torch/RigL.py), a weight
just removed may be regrown at once and then keeps its μ and ρ; a weight that was inactive before starts at
μ = 0 and the mean ρ of the layer's surviving weights, with its optimiser state cleared.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from studies.ssvi.layers import BayesianLayer


def folded_normal_moments(mu: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """E|θ| and Var|θ| for θ ~ N(μ, σ²) (the folded normal), in float64: Var = μ² + σ² − (E|θ|)² cancels
    catastrophically in float32 once |μ|/σ is in the hundreds."""
    mu, sigma = mu.double(), sigma.double()
    r = mu / sigma
    mean = sigma * math.sqrt(2 / math.pi) * torch.exp(-0.5 * r**2) + mu * torch.erf(r / math.sqrt(2))
    var = (mu**2 + sigma**2 - mean**2).clamp_min(0.0)
    return mean, var


def _abs_mu(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return mu.abs()


def _snr_mu(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return mu.abs() / sigma


def _mean_abs_theta(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return folded_normal_moments(mu, sigma)[0]


def _snr_abs_theta(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    mean, var = folded_normal_moments(mu, sigma)
    return mean / var.sqrt().clamp_min(torch.finfo(torch.float64).tiny)


# Higher score = more worth keeping. `snr_abs_theta` is the paper's default ("SNR of |θ|").
CRITERIA: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "abs_mu": _abs_mu,
    "snr_mu": _snr_mu,
    "mean_abs_theta": _mean_abs_theta,
    "snr_abs_theta": _snr_abs_theta,
}


def removal_scores(mu: torch.Tensor, sigma: torch.Tensor, criterion: str) -> torch.Tensor:
    if criterion not in CRITERIA:
        raise ValueError(f"Unknown removal criterion '{criterion}'. Fix: use one of {', '.join(CRITERIA)}.")
    return CRITERIA[criterion](mu.detach(), sigma.detach())


def update_fraction(t: int, t_end: int, alpha: float) -> float:
    """α/2·(1 + cos(π t / T_end)) before T_end, 0 afterwards: the share of active weights swapped at step
    t."""
    if t >= t_end:
        return 0.0
    return alpha / 2 * (1 + math.cos(math.pi * t / t_end))


def update_support(
    layer: BayesianLayer,
    dense_grad: torch.Tensor,
    fraction: float,
    criterion: str,
    optimizer: torch.optim.Optimizer | None = None,
) -> int:
    """Remove ⌊fraction·s⌋ of the layer's s active weights and grow as many; returns how many left the support
    (removed and not regrown). The support keeps exactly s entries; a dense layer (nothing inactive) is left
    alone.
    """
    mask = layer.mask.view(-1)
    active = mask.nonzero().squeeze(1)
    k = int(fraction * len(active))
    if k == 0 or len(active) == mask.numel():
        return 0
    with torch.no_grad():
        scores = removal_scores(layer.weight_mu.view(-1)[active], layer.sigma.view(-1)[active], criterion)
        removed = active[torch.topk(scores, k, largest=False).indices]
        survivors = mask.clone()
        survivors[removed] = 0.0
        candidates = (survivors == 0).nonzero().squeeze(1)
        grown = candidates[torch.topk(dense_grad.reshape(-1)[candidates].abs(), k).indices]
        fresh = grown[mask[grown] == 0]  # grown weights that were not in the support before this update
        new_rho = layer.weight_rho.view(-1)[survivors.bool()].mean()
        mask.copy_(survivors)
        mask[grown] = 1.0
        gone = removed[~torch.isin(removed, grown)]  # removed and not regrown: exactly zero from now on
        layer.weight_mu.view(-1)[torch.cat([gone, fresh])] = 0.0
        layer.weight_rho.view(-1)[fresh] = new_rho
        if optimizer is not None:
            _clear_state(optimizer, [layer.weight_mu, layer.weight_rho], fresh)
    return len(fresh)


def _clear_state(
    optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter], index: torch.Tensor
) -> None:
    """Zero the optimiser's per-weight moments at `index`, so swapped weights start fresh (no stale
    momentum)."""
    for p in params:
        for value in optimizer.state.get(p, {}).values():
            if torch.is_tensor(value) and value.shape == p.shape:
                value.view(-1)[index] = 0.0
