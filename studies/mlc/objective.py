"""The coding rates of MCR², the doubly stochastic membership, and the two losses MLC trains with.

Z holds one sample per row (n, d), rows on the unit sphere. Following Ding et
al. (ICCV 2023):
  R(Z; ε)      = ½ logdet(I + d/(nε²) ZᵀZ)                         total coding rate
  R_c(Z, Γ; ε) = Σ_i r_i/(2n) logdet(I + d/(r_i ε²) Σ_k Γ_ik z_k z_kᵀ)  r_i = Σ_k Γ_ik (= 1 on Ω)
  Γ            = argmin_{Γ doubly stochastic} −⟨|CCᵀ|, Γ⟩ + η⟨Γ, log Γ⟩   (Sinkhorn)
MLC maximises R(Z) − R_c(Z, Γ); the TCR warm-up maximises R(Z) plus λ times
the agreement of augmented views.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _logdet_spd(A: Tensor) -> Tensor:
    """logdet of (a batch of) symmetric positive definite matrices; written here: 2 Σ log diag(chol(A))."""
    return 2.0 * torch.linalg.cholesky(A).diagonal(dim1=-2, dim2=-1).log().sum(-1)


def coding_rate(Z: Tensor, eps2: float) -> Tensor:
    """R(Z; ε): bits (nats) to code the n rows of Z up to distortion ε; written here from the MCR² formula."""
    n, d = Z.shape
    eye = torch.eye(d, dtype=Z.dtype, device=Z.device)
    return 0.5 * _logdet_spd(eye + (d / (n * eps2)) * Z.T @ Z)


def compression_rate(Z: Tensor, Gamma: Tensor, eps2: float) -> Tensor:
    """R_c(Z, Γ; ε): coding rate of each sample's Γ-weighted neighbourhood, averaged; written here, batched.

    Row i of Γ is sample i's soft membership, i.e. the MCR² compression term with
    Π_i = diag(Γ_i). All n weighted covariances Σ_k Γ_ik z_k z_kᵀ come from one
    (n, n) @ (n, d(d+1)/2) product over the upper triangles of z_k z_kᵀ, and their
    logdets from one batched Cholesky.
    """
    n, d = Z.shape
    rows, cols = torch.triu_indices(d, d, device=Z.device)
    packed = torch.zeros(d, d, dtype=torch.long, device=Z.device)
    packed[rows, cols] = packed[cols, rows] = torch.arange(len(rows), device=Z.device)
    row_mass = Gamma.sum(1).clamp_min(1e-12)
    cov = (Gamma @ (Z[:, rows] * Z[:, cols]))[:, packed] / row_mass[:, None, None]
    eye = torch.eye(d, dtype=Z.dtype, device=Z.device)
    return (row_mass * 0.5 * _logdet_spd(eye + (d / eps2) * cov)).sum() / n


def _log_matvec(K: Tensor, log_v: Tensor) -> Tensor:
    """log(K @ exp(log_v)) with the exponent shifted so it cannot overflow (a logsumexp done as a matvec)."""
    top = log_v.max()
    return torch.log((K @ torch.exp(log_v - top)).clamp_min(torch.finfo(K.dtype).tiny)) + top


def sinkhorn_log(scores: Tensor, eta: float, n_iters: int) -> Tensor:
    """Entropic projection of exp(scores/η) onto doubly stochastic matrices; written here, log-domain
    Sinkhorn.

    The scalings live in the log domain as potentials f, g with Γ = exp(f_i + S_ij/η + g_j);
    the kernel is exponentiated once (shifted by its maximum), so an iteration costs two
    matvecs instead of two full-matrix logsumexps. Exact in float32 while (max − min of
    scores)/η stays below ~80, which |CCᵀ| ∈ [0, 1] meets for η ≥ 0.0125. Each iteration
    normalises rows then columns: columns sum to one exactly, rows within the Sinkhorn
    error. Differentiable end to end (the iterations are unrolled).
    """
    log_k = scores / eta
    log_k = log_k - log_k.max()
    K = log_k.exp()
    g = torch.zeros(scores.shape[1], dtype=scores.dtype, device=scores.device)
    f = torch.zeros(scores.shape[0], dtype=scores.dtype, device=scores.device)
    for _ in range(n_iters):
        f = -_log_matvec(K, g)
        g = -_log_matvec(K.T, f)
    return torch.exp(f[:, None] + log_k + g[None, :])


def membership(C: Tensor, eta: float, n_iters: int) -> Tensor:
    """Γ from cluster-head outputs: Sinkhorn on |CCᵀ|, so points on one subspace match whatever their sign."""
    return sinkhorn_log((C @ C.T).abs(), eta, n_iters)


def tcr_loss(views: list[Tensor], eps2: float, lam: float) -> tuple[Tensor, dict[str, float]]:
    """Warm-up loss −mean_a R(Z_a) − λ·mean cos(z_a, z̄): spread features out, keep augmented views
    together."""
    rate = torch.stack([coding_rate(Z, eps2) for Z in views]).mean()
    mean_view = torch.stack(views).mean(0)
    invariance = torch.stack([F.cosine_similarity(Z, mean_view, dim=1).mean() for Z in views]).mean()
    loss = -rate - lam * invariance
    return loss, {"rate": rate.item(), "invariance": invariance.item()}


def mlc_loss(Z: Tensor, C: Tensor, eps2: float, eta: float, n_iters: int) -> tuple[Tensor, dict[str, float]]:
    """MLC loss R_c(Z, Γ) − R(Z) with Γ = Sinkhorn(|CCᵀ|); gradients reach the cluster head through Γ."""
    Gamma = membership(C, eta, n_iters)
    rate = coding_rate(Z, eps2)
    compression = compression_rate(Z, Gamma, eps2)
    loss = compression - rate
    terms = {
        "rate": rate.item(),
        "compression": compression.item(),
        "rate_reduction": (rate - compression).item(),
        "gamma_diag": Gamma.diagonal().mean().item(),  # → 1 when Γ collapses onto the identity
    }
    return loss, terms
