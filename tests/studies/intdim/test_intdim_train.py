import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from studies.intdim.config import IntDimConfig
from studies.intdim.models import build
from studies.intdim.subspace import SubspaceModel
from studies.intdim.train import accuracy, fit, fit_job, load_model, streams

FAST = dict(arch="fc", width=32, depth=1, epochs=15, batch_size=32, lr=0.1)


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    """500 training and 300 test digits, 1×8×8 in [0, 1]."""
    data = load_digits()
    X = (data.data / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    return {
        "X_train": X[:500],
        "y_train": data.target[:500],
        "X_test": X[1400:1700],
        "y_test": data.target[1400:1700],
    }


def test_subspace_training_learns_digits_and_moves_only_theta_d(digits) -> None:
    cfg = IntDimConfig(d=300, projection="fastfood", **FAST)
    seen: list[dict] = []
    trained = fit(cfg, digits, seed=0, on_epoch=seen.append)
    model = trained.model
    assert seen == trained.history and len(seen) == 15
    assert isinstance(model, SubspaceModel)
    assert trained.history[-1]["test_acc"] > 0.8  # 2,410 weights, trained through 300 numbers
    assert trained.steps == 15 * 16 and trained.seconds_per_step > 0
    theta0 = build("fc", (1, 8, 8), 32, 1, 10, seed=streams(0)[0])
    assert all(torch.equal(a, b) for a, b in zip(model.net.parameters(), theta0.parameters()))  # θ₀ frozen
    assert model.theta_d.abs().sum() > 0


def test_accuracy_grows_with_d_and_the_full_space_is_the_ceiling(digits) -> None:
    scores = {d: fit(IntDimConfig(d=d, **FAST), digits, seed=0).history[-1]["test_acc"] for d in (10, 300)}
    full = fit(IntDimConfig(d=0, **(FAST | {"lr": 0.01})), digits, seed=0).history[-1]["test_acc"]
    assert scores[10] < 0.5 < scores[300] <= full + 0.02


def test_fit_job_round_trips_through_the_stored_weights_and_is_seeded(digits) -> None:
    cfg = IntDimConfig(d=50, projection="sparse", l2=1e-4, **(FAST | {"epochs": 3}))
    result = fit_job({"run": "sparse50", "seed": 1, "config": cfg.to_dict(), "split": digits})
    assert result["d"] == 50 and result["D"] == 2410 and set(result["weights"]) == {"theta_d"}
    model = load_model(cfg, (1, 8, 8), 1, result["weights"])
    X, y = torch.as_tensor(digits["X_test"]), torch.as_tensor(digits["y_test"])
    assert accuracy(model, X, y, 1000) == result["test_acc"]
    again = fit(cfg, digits, seed=1).model.theta_d.detach()
    assert torch.equal(again, result["weights"]["theta_d"])
    other = fit(cfg, digits, seed=2).model.theta_d.detach()
    assert not torch.equal(again, other)


def test_full_space_job_keeps_the_whole_state(digits) -> None:
    cfg = IntDimConfig(d=0, optimizer="sgd", **(FAST | {"epochs": 2, "lr": 0.05}))
    result = fit_job({"seed": 0, "config": cfg.to_dict(), "split": digits})
    assert result["D"] == 2410 and "1.weight" in result["weights"]
    model = load_model(cfg, (1, 8, 8), 0, result["weights"])
    X, y = torch.as_tensor(digits["X_train"]), torch.as_tensor(digits["y_train"])
    assert accuracy(model, X, y, 1000) == result["train_acc"] > 0.5
