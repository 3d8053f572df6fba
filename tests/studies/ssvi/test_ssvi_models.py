import pytest
import torch

from studies.ssvi import flops
from studies.ssvi.layers import BayesianLayer, bayesian_layers
from studies.ssvi.models import LayerFactory, build

SHAPES = {"mlp": (1, 8, 8), "cnn": (1, 8, 8), "resnet18": (3, 32, 32)}


@pytest.mark.parametrize("arch", ["mlp", "cnn", "resnet18"])
@pytest.mark.parametrize("kind", ["deterministic", "dropout", "bayesian"])
def test_every_architecture_runs_as_every_kind_on_a_tiny_batch(arch: str, kind: str) -> None:
    model = build(
        arch, LayerFactory(kind, density=0.1, generator=torch.Generator().manual_seed(0)), SHAPES[arch], 7
    )
    x = torch.rand(2, *SHAPES[arch])
    out = model(x)
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    out.sum().backward()
    assert (len(bayesian_layers(model)) > 0) == (kind == "bayesian")


def test_resnet18_has_the_standard_weight_count() -> None:
    """CIFAR ResNet-18's conv/linear weights (BatchNorm and biases excluded): stem 1,728 + stages 147,456 +
    524,288 + 2,097,152 + 8,388,608 (shortcuts included) + head 5,120; 21 weight layers incl. 3 shortcuts."""
    model = build("resnet18", LayerFactory("bayesian", density=1.0), (3, 32, 32))
    counts = flops.weight_count(model)
    assert counts["total"] == counts["nnz"] == 11_164_352
    assert len(bayesian_layers(model)) == 21


def test_mlp_flops_are_counted_from_the_active_weights() -> None:
    det = build("mlp", LayerFactory("deterministic"), (1, 8, 8))
    assert flops.forward_flops(det, (64,)) == 2 * 84_480
    sparse = build("mlp", LayerFactory("bayesian", density=0.1), (1, 8, 8))
    nnz = flops.weight_count(sparse)["nnz"]
    assert nnz == round(0.1 * 16384) + round(0.1 * 65536) + round(0.1 * 2560)
    assert flops.forward_flops(sparse, (64,)) == 2 * 2 * nnz  # mean and variance products
    assert flops.forward_flops(sparse, (64,), dense=True) == 2 * 2 * 84_480


def test_conv_flops_scale_with_output_positions() -> None:
    cnn = build("cnn", LayerFactory("deterministic"), (1, 8, 8))
    # conv1 1→16 and conv2 16→32 on 8×8 (64 positions each), then 512→64 and 64→10.
    assert flops.forward_flops(cnn, (1, 8, 8)) == 2 * (144 * 64 + 4608 * 64 + 32768 + 640)


def test_layer_kind_and_architecture_are_checked() -> None:
    with pytest.raises(ValueError, match="deterministic, dropout or bayesian"):
        LayerFactory("sparse")
    with pytest.raises(ValueError, match="mlp"):
        build("vgg", LayerFactory("deterministic"), (1, 8, 8))
    cnn = build("cnn", LayerFactory("bayesian"), (1, 8, 8))
    assert all(isinstance(m, BayesianLayer) for m in bayesian_layers(cnn))


@pytest.mark.parametrize(
    "arch,shape", [("mlp", (1, 28, 28)), ("cnn", (1, 28, 28)), ("resnet18", (3, 32, 32))]
)
def test_dense_first_keeps_only_the_first_weight_layer_whole(arch: str, shape: tuple[int, ...]) -> None:
    """The reference code's layout: the first layer (MLP 784→width, the stem conv) dense, `density` in every
    other layer."""
    model = build(arch, LayerFactory("bayesian", density=0.1, dense_first=True), shape, width=32)
    layers = bayesian_layers(model)
    assert layers[0].support_size == layers[0].mask.numel()
    assert all(layer.support_size == round(0.1 * layer.mask.numel()) for layer in layers[1:])
    assert layers[0].mask.shape[1] == shape[0] if arch != "mlp" else layers[0].mask.shape == (32, 784)
