import math

import numpy as np
import pytest
import torch
from scipy.stats import foldnorm, kendalltau

from studies.ssvi.layers import BayesianLinear, inverse_softplus
from studies.ssvi.sparsity import folded_normal_moments, removal_scores, update_fraction, update_support


def _hand_made_layer() -> BayesianLinear:
    """Four active weights (the rest masked) whose criteria disagree:
    a: μ=0.50, σ=0.01  large mean, tiny spread
    b: μ=0.05, σ=0.0005 tiny mean, tinier spread (highest SNR)
    c: μ=0.00, σ=1.00  zero mean, huge spread (largest E|θ|)
    d: μ=0.30, σ=0.30  in between
    """
    layer = BayesianLinear(4, 2, density=1.0)
    mu = torch.tensor([[0.5, 0.05, 0.0, 0.3], [0, 0, 0, 0]])
    sigma = torch.tensor([[0.01, 0.0005, 1.0, 0.3], [1, 1, 1, 1]])
    with torch.no_grad():
        layer.weight_mu.copy_(mu)
        layer.weight_rho.copy_(torch.log(torch.expm1(sigma)))
        layer.mask.copy_(torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0]]))
    return layer


def _order(layer: BayesianLinear, criterion: str) -> list[str]:
    scores = removal_scores(layer.weight_mu[0], layer.sigma[0], criterion)
    return ["abcd"[i] for i in torch.argsort(scores).tolist()]  # first = removed first


def test_criteria_rank_a_hand_made_layer_as_expected() -> None:
    layer = _hand_made_layer()
    assert _order(layer, "abs_mu") == ["c", "b", "d", "a"]
    assert _order(layer, "snr_mu") == ["c", "d", "a", "b"]
    assert _order(layer, "mean_abs_theta") == ["b", "d", "a", "c"]
    assert _order(layer, "snr_abs_theta") == ["c", "d", "a", "b"]  # same as SNR |μ|/σ: see the next test


def test_snr_of_abs_theta_is_a_monotone_function_of_abs_mu_over_sigma() -> None:
    """Why SNR |μ|/σ and the SNR of |θ| must rank every support identically: both depend on |μ|/σ only,
    increasingly."""
    r = torch.logspace(-3, 3, 400, dtype=torch.float64)
    for scale in (1e-3, 1.0, 50.0):
        snr = removal_scores(r * scale, torch.full_like(r, scale), "snr_abs_theta")
        assert torch.all(torch.diff(snr) > 0)
        assert torch.allclose(snr, removal_scores(r, torch.ones_like(r), "snr_abs_theta"), rtol=1e-9)
    rng = np.random.default_rng(0)
    mu, sigma = torch.tensor(rng.normal(0, 0.2, 5000)), torch.tensor(rng.uniform(0.01, 0.5, 5000))
    tau = kendalltau(
        removal_scores(mu, sigma, "snr_mu"), removal_scores(mu, sigma, "snr_abs_theta")
    ).statistic
    assert tau == pytest.approx(1.0)


def test_folded_normal_moments_match_scipy_and_survive_large_snr() -> None:
    mu, sigma = torch.tensor([0.0, 0.3, -1.0, 400.0]), torch.tensor([1.0, 0.2, 0.5, 1.0])
    mean, var = folded_normal_moments(mu, sigma)
    ref = [foldnorm(abs(m) / s, scale=s) for m, s in zip(mu.tolist(), sigma.tolist())]
    assert np.allclose(mean.numpy(), [d.mean() for d in ref], rtol=1e-9)
    assert np.allclose(var.numpy(), [d.var() for d in ref], rtol=1e-6)
    # The case where the two SNRs part ways in practice: evaluated in float32, μ² + σ² − (E|θ|)² cancels to 0
    # at |μ|/σ ≈ 1e4 (every such weight gets SNR = ∞ and they tie, while |μ|/σ still orders them); hence
    # float64.
    m32, s32 = torch.tensor([10000.3, 20000.3]), torch.tensor([1.0, 1.0])
    e32 = s32 * math.sqrt(2 / math.pi) * torch.exp(-0.5 * (m32 / s32) ** 2) + m32 * torch.erf(
        m32 / s32 / math.sqrt(2)
    )
    assert torch.all(m32**2 + s32**2 - e32**2 <= 0)
    assert torch.allclose(folded_normal_moments(m32, s32)[1], torch.ones(2, dtype=torch.float64), rtol=1e-6)
    snr = removal_scores(m32, s32, "snr_abs_theta")
    assert torch.isfinite(snr).all() and snr[1] > snr[0]


def test_cosine_schedule_fractions() -> None:
    assert update_fraction(0, 1000, 0.3) == pytest.approx(0.3)
    assert update_fraction(500, 1000, 0.3) == pytest.approx(0.15)
    assert update_fraction(250, 1000, 0.3) == pytest.approx(0.15 * (1 + math.cos(math.pi / 4)))
    assert update_fraction(999, 1000, 0.3) == pytest.approx(0.0, abs=1e-5)
    assert update_fraction(1000, 1000, 0.3) == 0.0 and update_fraction(5000, 1000, 0.3) == 0.0
    fractions = [update_fraction(t, 1000, 0.3) for t in range(0, 1000, 50)]
    assert all(a > b for a, b in zip(fractions, fractions[1:]))


def test_support_size_stays_exactly_s_and_fresh_weights_restart() -> None:
    gen = torch.Generator().manual_seed(0)
    layer = BayesianLinear(64, 32, density=0.1, generator=gen, init_sigma=0.05)
    s = layer.support_size
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-2)
    for step in range(12):
        x = torch.randn(16, 64, generator=gen)
        layer.keep_mean_weight = True
        (layer(x) ** 2).mean().backward()
        optimizer.step()
        before, mu_before = layer.mask.clone(), layer.weight_mu.detach().clone()
        rho_before = layer.weight_rho.detach().clone()
        grad = layer.last_mean_weight.grad
        k = update_support(layer, grad, update_fraction(step, 12, 0.3), "snr_abs_theta", optimizer)
        assert layer.support_size == s
        assert int((before != layer.mask).sum()) == 2 * k
        added = (layer.mask == 1) & (before == 0)
        removed = (layer.mask == 0) & (before == 1)
        kept = (layer.mask == 1) & (before == 1)
        assert torch.all(layer.weight_mu[added] == 0) and torch.all(layer.weight_mu[removed] == 0)
        assert torch.equal(layer.weight_mu[kept], mu_before[kept])  # survivors and regrown keep μ and ρ
        assert torch.equal(layer.weight_rho[kept], rho_before[kept])
        if k:  # fresh weights start at the mean ρ of the survivors (the support before, less the removed)
            fresh_rho = layer.weight_rho[added]
            assert torch.allclose(fresh_rho, fresh_rho[0].expand_as(fresh_rho))
            assert rho_before[kept].min() <= fresh_rho[0] <= rho_before[kept].max()
        state = optimizer.state[layer.weight_mu]
        assert torch.all(state["exp_avg"][added] == 0) and torch.all(state["exp_avg_sq"][added] == 0)
        optimizer.zero_grad()
    assert inverse_softplus(0.05) == pytest.approx(math.log(math.expm1(0.05)))


def test_a_just_removed_weight_with_the_largest_gradient_is_regrown_and_keeps_its_values() -> None:
    """Weights a (weakest) and b active; the dense gradient is largest at a: the update removes a and grows it
    straight back, so nothing leaves the support and a keeps its μ and ρ (the reference code's behaviour)."""
    layer = _hand_made_layer()
    layer.mask.zero_()
    layer.mask[0, :2] = 1.0  # a (μ 0.5, σ 0.01, SNR 50) and b (μ 0.05, σ 0.0005, SNR 100): a is weaker
    mu, rho = layer.weight_mu.detach().clone(), layer.weight_rho.detach().clone()
    grad = torch.zeros(2, 4)
    grad[0, 0] = 10.0
    assert update_support(layer, grad, 0.5, "snr_mu") == 0
    assert torch.equal(layer.mask[0, :2], torch.ones(2)) and int(layer.mask.sum()) == 2
    assert torch.equal(layer.weight_mu, mu) and torch.equal(layer.weight_rho, rho)
    grad[0, 0], grad[1, 3] = 0.0, 10.0  # now an inactive weight wins: a leaves, the new one starts fresh
    assert update_support(layer, grad, 0.5, "snr_mu") == 1
    assert layer.mask[0, 0] == 0 and layer.mask[1, 3] == 1 and layer.weight_mu[0, 0] == 0
    assert layer.weight_mu[1, 3] == 0 and float(layer.weight_rho[1, 3].detach()) == pytest.approx(
        float(rho[0, 1])
    )


def test_a_dense_layer_is_never_updated() -> None:
    layer = BayesianLinear(8, 4, density=1.0)
    assert update_support(layer, torch.ones(4, 8), 0.3, "snr_abs_theta") == 0 and layer.support_size == 32


def test_unknown_criterion_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="snr_abs_theta"):
        removal_scores(torch.ones(2), torch.ones(2), "magnitude")
