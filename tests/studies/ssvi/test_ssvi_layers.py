import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from studies.ssvi.layers import BayesianConv2d, BayesianLinear, mean_weights, random_mask, total_kl


def _layer(density: float = 1.0, sigma: float = 0.3) -> BayesianLinear:
    layer = BayesianLinear(
        6, 4, density=density, prior_std=0.7, init_sigma=sigma, generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        layer.weight_mu.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
        layer.weight_rho.uniform_(-2, 0, generator=torch.Generator().manual_seed(2))
    return layer


def test_kl_matches_a_monte_carlo_estimate_and_torch_distributions() -> None:
    layer = _layer(density=0.5)
    mask = layer.mask.bool()
    with torch.no_grad():
        q, p = Normal(layer.weight_mu[mask], layer.sigma[mask]), Normal(0.0, 0.7)
    theta = q.sample((200_000,))
    mc = (q.log_prob(theta) - p.log_prob(theta)).sum(1).mean()
    exact = layer.kl().detach()
    assert torch.isclose(exact, kl_divergence(q, p).sum(), rtol=1e-5)
    assert abs(float(exact - mc)) < 0.02 * float(exact) + 0.05


def test_kl_counts_only_the_support() -> None:
    dense, sparse = _layer(1.0), _layer(0.25)
    assert sparse.support_size == 6 and dense.support_size == 24
    assert float(sparse.kl().detach()) < float(dense.kl().detach())
    assert torch.isclose(
        total_kl(torch.nn.Sequential(dense, torch.nn.ReLU(), sparse)), dense.kl() + sparse.kl()
    )


def test_local_reparameterisation_matches_the_moments_of_sampled_weights() -> None:
    layer = _layer(density=0.5)
    x = torch.randn(1, 6).repeat(100_000, 1)
    with torch.no_grad():
        out = layer(x)
        w = layer.weight_mu * layer.mask
        var = (x[:1] ** 2) @ (layer.sigma**2 * layer.mask).T
    assert torch.allclose(out.mean(0), (x[:1] @ w.T + layer.bias)[0], atol=0.02)
    assert torch.allclose(out.var(0), var[0], rtol=0.03)


def test_mean_weights_turn_sampling_off_and_back_on() -> None:
    layer = _layer()
    x = torch.randn(3, 6)
    with mean_weights(layer):
        assert torch.equal(layer(x), layer(x))
    assert not torch.equal(layer(x), layer(x))


def test_masked_weights_get_no_gradient() -> None:
    layer = BayesianConv2d(2, 3, 3, padding=1, density=0.2, generator=torch.Generator().manual_seed(0))
    (layer(torch.randn(4, 2, 5, 5)) ** 2).sum().backward()
    off = layer.mask == 0
    assert layer.weight_mu.grad[off].abs().max() == 0 and layer.weight_rho.grad[off].abs().max() == 0
    assert layer.weight_mu.grad[~off].abs().max() > 0


def test_random_mask_has_exactly_the_requested_size() -> None:
    for density in (0.01, 0.1, 0.5, 1.0):
        assert int(random_mask((256, 64), density, None).sum()) == max(1, round(density * 256 * 64))


def test_bad_density_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="density=0"):
        BayesianLinear(3, 2, density=0.0)
    assert math.isclose(
        float(BayesianLinear(3, 2, init_sigma=0.05).sigma.mean().detach()), 0.05, rel_tol=1e-5
    )
