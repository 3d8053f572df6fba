import numpy as np
import pytest
import torch
from torch import nn

from studies.intdim.intrinsic import Sweep, d_int_within_noise
from studies.intdim.models import build
from studies.intdim.projections import make_projection
from studies.intdim.subspace import SubspaceModel

F64 = torch.float64
D, K = 1000, 10  # the paper's toy problem (§2): θ ∈ R^1000 whose 10 blocks of 100 must sum to 1, 2, …, 10


def toy_problem() -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs A (K×D block indicators) and targets b: the loss ‖A θ − b‖² depends on K directions only,
    so a random subspace of dimension d can drive it to zero exactly when d ≥ K."""
    A = torch.kron(torch.eye(K, dtype=F64), torch.ones(1, D // K, dtype=F64))
    return A, torch.arange(1, K + 1, dtype=F64)[:, None]


def fraction_of_loss_removed(model: nn.Module, trainable: list[torch.Tensor]) -> float:
    """Minimise the toy loss over `trainable` with L-BFGS; 1 − loss/initial loss."""
    A, b = toy_problem()

    def loss() -> torch.Tensor:
        return (model(A) - b).square().sum()

    initial = loss().item()
    optimizer = torch.optim.LBFGS(
        trainable, max_iter=500, tolerance_grad=1e-14, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        value = loss()
        value.backward()
        return value

    optimizer.step(closure)
    return 1 - loss().item() / initial


def toy_net(seed: int) -> nn.Module:
    net = nn.Linear(D, 1, bias=False).double()
    nn.init.normal_(net.weight, generator=torch.Generator().manual_seed(seed))
    return net


@pytest.mark.parametrize("kind", ["dense", "sparse", "fastfood"])
def test_subspace_training_finds_the_toy_problems_intrinsic_dimension(kind: str) -> None:
    grid, seeds = [4, 8, 9, 10, 11, 16], range(2)
    runs = {}
    for d in grid:
        scores = []
        for seed in seeds:
            model = SubspaceModel(toy_net(seed), make_projection(kind, D, d, seed=100 + seed, dtype=F64))
            scores.append(fraction_of_loss_removed(model, [model.theta_d]))
        runs[d] = np.array(scores)
    baseline = np.array(
        [fraction_of_loss_removed(net, list(net.parameters())) for net in map(toy_net, seeds)]
    )
    assert baseline.min() > 1 - 1e-12  # the full space solves it
    assert all(runs[d].max() < 1 - 1e-6 for d in grid if d < K)  # some constraint is always left unmet
    assert all(runs[d].min() > 1 - 1e-9 for d in grid if d >= K)
    # the toy is noiseless, so "within noise of the baseline" is within a numerical tolerance (z = 0)
    assert d_int_within_noise(Sweep(baseline, runs), z=0.0, tolerance=1e-9) == K


def test_theta_d_starts_at_zero_so_the_model_starts_as_the_network() -> None:
    net = build("lenet", (1, 28, 28), 0, 0, 10, seed=0)
    model = SubspaceModel(net, make_projection("fastfood", 44_426, 100, seed=0))
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model(x), net(x))
    assert [name for name, p in model.named_parameters() if p.requires_grad] == ["theta_d"]
    with torch.no_grad():
        model.theta_d.normal_(generator=torch.Generator().manual_seed(1))
    assert not torch.equal(model(x), net(x))
    assert torch.allclose(model.materialize()(x), model(x), atol=1e-6)


def test_a_projection_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="D=1000"):
        SubspaceModel(
            build("lenet", (1, 28, 28), 0, 0, 10, seed=0), make_projection("dense", 1000, 5, seed=0)
        )
