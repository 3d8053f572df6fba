import math

import pytest
import torch

from studies.intdim.models import build, n_params


@pytest.mark.parametrize(
    "arch,shape,width,depth,D",
    [
        ("fc", (1, 28, 28), 200, 2, 199_210),  # the paper's MNIST FC
        ("lenet", (1, 28, 28), 0, 0, 44_426),  # the paper's MNIST LeNet
        ("lenet", (3, 32, 32), 0, 0, 62_006),  # the paper's CIFAR-10 LeNet
        ("fc", (3, 32, 32), 200, 2, 656_810),  # the paper's CIFAR-10 FC
        ("fc", (1, 28, 28), 400, 5, 959_610),  # the shuffled-label FC
    ],
)
def test_the_papers_networks_have_its_parameter_counts(arch, shape, width, depth, D) -> None:
    net = build(arch, shape, width, depth, 10, seed=0)
    assert n_params(net) == D
    assert net(torch.zeros(2, *shape)).shape == (2, 10)


def test_fc_widths_span_more_than_a_factor_four_in_D() -> None:
    sizes = [n_params(build("fc", (1, 28, 28), w, 2, 10, seed=0)) for w in (50, 200, 400)]
    assert sizes == [42_310, 199_210, 478_410] and sizes[-1] / sizes[0] > 4


def test_init_is_keras_he_normal_truncated_with_zero_biases_and_seeded() -> None:
    net = build("fc", (1, 28, 28), 200, 2, 10, seed=0)
    weight, sigma = net[1].weight, math.sqrt(2 / 784)
    assert weight.abs().max() <= 2 * sigma and torch.all(net[1].bias == 0)
    # a normal truncated at ±2σ has standard deviation 0.880σ
    assert abs(weight.std().item() / sigma - 0.880) < 0.01
    again, other = build("fc", (1, 28, 28), 200, 2, 10, seed=0), build("fc", (1, 28, 28), 200, 2, 10, seed=1)
    assert torch.equal(weight, again[1].weight) and not torch.equal(weight, other[1].weight)
    conv = build("lenet", (1, 28, 28), 0, 0, 10, seed=0)[0].weight
    assert conv.abs().max() <= 2 * math.sqrt(2 / 25)  # fan-in of a 5×5 kernel on one channel


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="fc, lenet"):
        build("resnet", (1, 28, 28), 200, 2, 10, seed=0)
