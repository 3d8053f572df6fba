import numpy as np
import pytest

from studies.ssvi.config import SSVIConfig
from studies.ssvi.train import lr_factor
from studies.ssvi.tuning import fit_and_validation, grid_points, select, tuning_config


def test_grid_points_skip_the_keys_a_run_fixes() -> None:
    grid = {"weight_decay": [0.0, 1e-4], "epochs": [50, 100]}
    assert len(grid_points(grid, [])) == 4
    assert grid_points(grid, ["epochs"]) == [{"weight_decay": 0.0}, {"weight_decay": 1e-4}]
    assert grid_points(grid, ["epochs", "weight_decay", "method"]) == [{}]  # nothing left to tune
    assert grid_points({}, []) == [{}]


def test_an_ensemble_is_tuned_as_one_member_and_the_lowest_validation_nll_wins() -> None:
    cfg = tuning_config(SSVIConfig(method="ensemble", ensemble_size=5), {"weight_decay": 1e-3})
    assert cfg.ensemble_size == 1 and cfg.weight_decay == 1e-3
    rows = [
        {"weight_decay": 0.0, "val_nll": 0.30, "val_acc": 0.95},
        {"weight_decay": 1e-3, "val_nll": 0.20, "val_acc": 0.90},
        {"weight_decay": 1e-2, "val_nll": 0.20, "val_acc": 0.99},
    ]
    assert select(rows) == {"weight_decay": 1e-3}  # by NLL, not accuracy; the first of equals


def test_fit_and_validation_partition_the_training_set() -> None:
    split = {
        "X_train": np.arange(20.0).reshape(10, 2),
        "y_train": np.arange(10),
        "val_index": np.array([1, 7]),
    }
    X_fit, y_fit, X_val, y_val = fit_and_validation(split)
    assert y_val.tolist() == [1, 7] and len(y_fit) == 8 and set(y_fit) | set(y_val) == set(range(10))
    assert np.array_equal(X_val, split["X_train"][[1, 7]])


def test_cosine_schedule_ends_at_zero_and_constant_stays() -> None:
    assert lr_factor("cosine", 0, 100) == 1.0 and lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, 100) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor("cosine", 75, 100) == pytest.approx(
        0.1464, abs=1e-4
    )  # at T_end = 0.75: 15 % of the rate
    assert lr_factor("constant", 99, 100) == 1.0
    with pytest.raises(ValueError, match="lr_schedule"):
        SSVIConfig(lr_schedule="step")
