import pytest

from studies.intdim.config import IntDimConfig


def test_defaults_are_the_reference_codes_mnist_fc_run() -> None:
    cfg = IntDimConfig()
    assert (cfg.arch, cfg.width, cfg.depth, cfg.projection) == ("fc", 200, 2, "fastfood")
    assert (cfg.optimizer, cfg.lr, cfg.beta2, cfg.batch_size, cfg.epochs, cfg.l2) == (
        "adam",
        1e-3,
        0.99,
        128,
        100,
        0.0,
    )
    assert not cfg.full_space and IntDimConfig(d=0).full_space


def test_config_round_trips_and_refuses_bad_values_with_the_fix() -> None:
    cfg = IntDimConfig(arch="lenet", d=290, shuffle="pixels")
    assert IntDimConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="Valid keys"):
        IntDimConfig.from_dict({"subspace_dim": 10})
    for bad in ({"arch": "vgg"}, {"projection": "gaussian"}, {"optimizer": "lamb"}, {"shuffle": "both"}):
        with pytest.raises(ValueError, match="Fix: use one of"):
            IntDimConfig(**bad)
    with pytest.raises(ValueError, match="0 for the full space"):
        IntDimConfig(d=-1)
