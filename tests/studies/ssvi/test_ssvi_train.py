import numpy as np
import pytest
import torch

from studies.ssvi.config import SSVIConfig
from studies.ssvi.evaluate import cost, predict, shift_scores
from studies.ssvi.layers import bayesian_layers
from studies.ssvi.train import fit, fit_job, load_models


def _blobs(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten separable Gaussian blobs in [0, 1]^64: any method should learn them in a few epochs."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (10, 64))
    y = rng.integers(0, 10, n)
    return np.clip(centres[y] + rng.normal(0, 0.05, (n, 64)), 0, 1).astype(np.float32), y


FAST = dict(
    epochs=15,
    batch_size=32,
    kl_warmup=0.15,
    lr=1e-2,
    lr_rho=0.1,
    kl_scale=0.01,
    update_every=5,
    n_samples=4,
)


@pytest.mark.parametrize(
    "method,density", [("deterministic", 1.0), ("dropout", 1.0), ("vi", 1.0), ("vi", 0.3), ("ssvi", 0.3)]
)
def test_every_method_learns_separable_blobs(method: str, density: float) -> None:
    X, y = _blobs()
    cfg = SSVIConfig(method=method, density=density, **FAST)
    trained = fit(cfg, X, y, seed=0)
    probs = predict(trained.models, X, cfg, "samples")
    assert np.allclose(probs.sum(1), 1) and np.mean(probs.argmax(1) == y) > 0.9
    assert trained.history[-1]["train_acc"] > 0.9 and trained.train_flops > 0


def test_ssvi_swaps_weights_until_t_end_and_keeps_the_support_size() -> None:
    X, y = _blobs()
    cfg = SSVIConfig(method="ssvi", density=0.2, **FAST)
    model = fit(cfg, X, y, seed=0).models[0]
    trained = fit(cfg, X, y, seed=0)
    swapped = [r["swapped"] for r in trained.history]
    assert (
        sum(swapped[:5]) > 0 and swapped[-1] == 0
    )  # T_end = 0.75 of training: the last epochs keep their support
    for a, b in zip(bayesian_layers(model), bayesian_layers(trained.models[0])):
        assert a.support_size == round(0.2 * a.mask.numel()) and torch.equal(
            a.mask, b.mask
        )  # seeded: same support
    static = fit(SSVIConfig(method="vi", density=0.2, **FAST), X, y, seed=0)
    assert all(r["swapped"] == 0 for r in static.history)


def test_a_larger_rho_learning_rate_moves_sigma_further() -> None:
    X, y = _blobs()
    slow = fit(SSVIConfig(method="vi", density=1.0, **(FAST | {"lr_rho": 1e-3})), X, y, seed=0)
    fast = fit(SSVIConfig(method="vi", density=1.0, **FAST), X, y, seed=0)
    assert slow.history[-1]["mean_sigma"] < 0.02 < fast.history[-1]["mean_sigma"]
    assert fast.history[-1]["kl_per_example"] < slow.history[-1]["kl_per_example"]


def test_ensemble_members_differ_and_fit_job_round_trips() -> None:
    X, y = _blobs(120)
    cfg = SSVIConfig(method="ensemble", ensemble_size=3, **(FAST | {"epochs": 2}))
    result = fit_job({"run": "ens", "seed": 1, "config": cfg.to_dict(), "X": X, "y": y})
    models = load_models(cfg, 1, result["state_dicts"])
    assert len(models) == 3
    w = [next(m.parameters()) for m in models]
    assert not torch.equal(w[0], w[1])
    assert cost(models, cfg)["nnz"] == 3 * 84_480
    again = fit(cfg, X, y, seed=1)
    assert all(torch.equal(next(a.parameters()), next(b.parameters())) for a, b in zip(models, again.models))


def test_mean_weights_predictive_is_deterministic_and_shift_scores_see_noise() -> None:
    X, y = _blobs()
    cfg = SSVIConfig(method="ssvi", density=0.3, **FAST)
    models = fit(cfg, X, y, seed=0).models
    assert np.array_equal(predict(models, X, cfg, "mean"), predict(models, X, cfg, "mean"))
    noise = np.random.default_rng(1).uniform(0, 1, X.shape).astype(np.float32)
    s = shift_scores(predict(models, X, cfg, "samples"), predict(models, noise, cfg, "samples"))
    assert s["entropy_gain"] > 0 and s["auroc"] > 0.8


def test_config_refuses_bad_values_with_the_fix() -> None:
    with pytest.raises(ValueError, match="Unknown method"):
        SSVIConfig(method="laplace")
    with pytest.raises(ValueError, match="dense VI"):
        SSVIConfig(method="ssvi", density=1.0)
    with pytest.raises(ValueError, match="Valid keys"):
        SSVIConfig.from_dict({"lr_sigma": 0.1})


def test_initial_support_share_is_one_for_a_static_mask_and_lower_after_swaps() -> None:
    from studies.ssvi.evaluate import initial_support_share
    from studies.ssvi.train import make_model

    X, y = _blobs()
    static_cfg, ssvi_cfg = (SSVIConfig(method=m, density=0.2, **FAST) for m in ("vi", "ssvi"))
    static = fit(static_cfg, X, y, seed=0).models[0]
    swapped = fit(ssvi_cfg, X, y, seed=0).models[0]
    assert initial_support_share(static, make_model(static_cfg, 0)) == 1.0
    assert 0 < initial_support_share(swapped, make_model(ssvi_cfg, 0)) < 1.0
