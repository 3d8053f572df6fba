import pytest

from studies.mlc.config import MLCConfig


def test_defaults_are_the_cpu_calibration():
    cfg = MLCConfig()
    assert (cfg.feature_dim, cfg.eps2, cfg.eta, cfg.sinkhorn_iters) == (32, 0.1, 0.175, 10)
    assert (cfg.warmup_steps, cfg.mlc_steps, cfg.lam, cfg.batch_size) == (300, 200, 50.0, None)


def test_from_dict_applies_overrides():
    cfg = MLCConfig.from_dict({"eta": 0.3, "batch_size": 256})
    assert cfg.eta == 0.3 and cfg.batch_size == 256 and cfg.eps2 == MLCConfig().eps2


def test_from_dict_names_unknown_keys_and_lists_valid_ones():
    with pytest.raises(ValueError, match="etta") as err:
        MLCConfig.from_dict({"etta": 0.3, "eps2": 0.2})
    assert "eta" in str(err.value).split("Valid keys:")[1]
    assert "eps2" not in str(err.value).split("Valid keys:")[0]
