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


def test_support_size_stays_exactly_s_and_swapped_weights_restart() -> None:
    gen = torch.Generator().manual_seed(0)
    layer = BayesianLinear(64, 32, density=0.1, generator=gen, init_sigma=0.05)
    s = layer.support_size
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-2)
    for step in range(12):
        x = torch.randn(16, 64, generator=gen)
        layer.keep_mean_weight = True
        (layer(x) ** 2).mean().backward()
        optimizer.step()
        before = layer.mask.clone()
        grad = layer.last_mean_weight.grad
        k = update_support(layer, grad, update_fraction(step, 12, 0.3), "snr_abs_theta", optimizer)
        assert layer.support_size == s
        assert int((before != layer.mask).sum()) == 2 * k
        added = (layer.mask == 1) & (before == 0)
        removed = (layer.mask == 0) & (before == 1)
        assert torch.all(layer.weight_mu[added] == 0)
        assert torch.allclose(
            layer.weight_rho[added], layer.weight_rho[added][0].expand_as(layer.weight_rho[added])
        )
        state = optimizer.state[layer.weight_mu]
        assert torch.all(state["exp_avg"][added | removed] == 0) and torch.all(
            state["exp_avg_sq"][added | removed] == 0
        )
        if k:  # the added weights are the inactive ones with the largest dense gradient
            candidates = grad.abs()[before == 0]
            assert grad.abs()[added].min() >= torch.topk(candidates, k).values.min()
        optimizer.zero_grad()
    assert inverse_softplus(0.05) == pytest.approx(math.log(math.expm1(0.05)))


def test_unknown_criterion_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="snr_abs_theta"):
        removal_scores(torch.ones(2), torch.ones(2), "magnitude")
