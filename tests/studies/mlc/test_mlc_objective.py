import math

import pytest
import torch
import torch.nn.functional as F

from studies.mlc.objective import coding_rate, compression_rate, mlc_loss, sinkhorn_log, tcr_loss

EPS2 = 0.1


def _spread(n_per: int, d: int) -> torch.Tensor:
    """n_per copies of each standard basis vector: ZᵀZ = n_per·I."""
    return torch.eye(d).repeat(n_per, 1)


def test_coding_rate_closed_forms():
    d = 8
    spread = _spread(5, d)
    collapsed = torch.zeros(40, d)
    collapsed[:, 0] = 1.0
    # ZᵀZ = (n/d) I → R = d/2 log(1 + 1/ε²); ZᵀZ = n e₁e₁ᵀ → R = ½ log(1 + d/ε²)
    assert coding_rate(spread, EPS2).item() == pytest.approx(d / 2 * math.log(1 + 1 / EPS2), rel=1e-5)
    assert coding_rate(collapsed, EPS2).item() == pytest.approx(0.5 * math.log(1 + d / EPS2), rel=1e-5)
    assert coding_rate(spread, EPS2) > coding_rate(collapsed, EPS2)


def test_compression_rate_with_identity_and_uniform_memberships():
    torch.manual_seed(0)
    n, d = 30, 6
    Z = F.normalize(torch.randn(n, d, dtype=torch.float64), dim=1)
    # every sample alone: each term is ½ logdet(I + d/ε² z zᵀ) = ½ log(1 + d/ε²)
    alone = compression_rate(Z, torch.eye(n, dtype=torch.float64), EPS2)
    assert alone.item() == pytest.approx(0.5 * math.log(1 + d / EPS2))
    # everyone with everyone: each term is the total coding rate
    together = compression_rate(Z, torch.full((n, n), 1 / n, dtype=torch.float64), EPS2)
    assert together.item() == pytest.approx(coding_rate(Z, EPS2).item())


def test_compression_rate_is_lower_for_the_true_memberships():
    """Two orthogonal lines: grouping by line compresses better than grouping across lines."""
    Z = torch.tensor([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4)
    same = torch.block_diag(torch.full((4, 4), 0.25), torch.full((4, 4), 0.25))
    assert compression_rate(Z, same, EPS2) < compression_rate(Z, torch.full((8, 8), 1 / 8), EPS2)


@pytest.mark.parametrize("eta", [0.05, 0.175, 1.0])
def test_sinkhorn_is_doubly_stochastic_and_nonnegative(eta):
    torch.manual_seed(1)
    C = F.normalize(torch.randn(50, 8), dim=1)
    gamma = sinkhorn_log((C @ C.T).abs(), eta, n_iters=200)
    assert (gamma >= 0).all()
    assert torch.allclose(gamma.sum(0), torch.ones(50), atol=1e-4)
    assert torch.allclose(gamma.sum(1), torch.ones(50), atol=1e-3)


def test_sinkhorn_entropy_weight_moves_between_identity_and_uniform():
    torch.manual_seed(2)
    C = F.normalize(torch.randn(40, 8), dim=1)
    scores = (C @ C.T).abs()
    sharp = sinkhorn_log(scores, 0.02, 100)
    flat = sinkhorn_log(scores, 100.0, 100)
    assert sharp.diagonal().mean() > 0.9
    assert torch.allclose(flat, torch.full_like(flat, 1 / 40), atol=1e-3)


def test_losses_return_terms_and_gradients():
    torch.manual_seed(3)
    Z = F.normalize(torch.randn(20, 4), dim=1).requires_grad_()
    C = F.normalize(torch.randn(20, 4), dim=1).requires_grad_()
    loss, terms = mlc_loss(Z, C, EPS2, eta=0.2, n_iters=5)
    assert loss.item() == pytest.approx(terms["compression"] - terms["rate"], rel=1e-5)
    assert terms["rate_reduction"] == pytest.approx(-loss.item(), rel=1e-5)
    loss.backward()
    assert C.grad is not None and C.grad.abs().sum() > 0  # the cluster head learns through Γ
    views = [F.normalize(torch.randn(20, 4), dim=1) for _ in range(2)]
    tcr, tcr_terms = tcr_loss(views, EPS2, lam=50.0)
    assert tcr.item() == pytest.approx(-tcr_terms["rate"] - 50.0 * tcr_terms["invariance"], rel=1e-5)
