import pytest
import torch

from studies.ssvi import flops
from studies.ssvi.layers import BayesianLayer, bayesian_layers
from studies.ssvi.models import INPUT_SHAPES, LayerFactory, build


@pytest.mark.parametrize("arch", ["mlp", "cnn", "resnet18"])
@pytest.mark.parametrize("kind", ["deterministic", "dropout", "bayesian"])
def test_every_architecture_runs_as_every_kind_on_a_tiny_batch(arch: str, kind: str) -> None:
    model = build(
        arch, LayerFactory(kind, density=0.1, generator=torch.Generator().manual_seed(0)), n_classes=7
    )
    x = torch.rand(2, *INPUT_SHAPES[arch])
    out = model(x)
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    out.sum().backward()
    assert (len(bayesian_layers(model)) > 0) == (kind == "bayesian")


def test_resnet18_has_the_standard_weight_count() -> None:
    """CIFAR ResNet-18's conv/linear weights (BatchNorm and biases excluded): stem 1,728 + stages 147,456 +
    524,288 + 2,097,152 + 8,388,608 (shortcuts included) + head 5,120; 21 weight layers incl. 3 shortcuts."""
    model = build("resnet18", LayerFactory("bayesian", density=1.0))
    counts = flops.weight_count(model)
    assert counts["total"] == counts["nnz"] == 11_164_352
    assert len(bayesian_layers(model)) == 21


def test_mlp_flops_are_counted_from_the_active_weights() -> None:
    det = build("mlp", LayerFactory("deterministic"))
    assert flops.forward_flops(det, (64,)) == 2 * 84_480
    sparse = build("mlp", LayerFactory("bayesian", density=0.1))
    nnz = flops.weight_count(sparse)["nnz"]
    assert nnz == round(0.1 * 16384) + round(0.1 * 65536) + round(0.1 * 2560)
    assert flops.forward_flops(sparse, (64,)) == 2 * 2 * nnz  # mean and variance products
    assert flops.forward_flops(sparse, (64,), dense=True) == 2 * 2 * 84_480


def test_conv_flops_scale_with_output_positions() -> None:
    cnn = build("cnn", LayerFactory("deterministic"))
    # conv1 1→16 and conv2 16→32 on 8×8 (64 positions each), then 512→64 and 64→10.
    assert flops.forward_flops(cnn, (1, 8, 8)) == 2 * (144 * 64 + 4608 * 64 + 32768 + 640)


def test_layer_kind_and_architecture_are_checked() -> None:
    with pytest.raises(ValueError, match="deterministic, dropout or bayesian"):
        LayerFactory("sparse")
    with pytest.raises(ValueError, match="mlp"):
        build("vgg", LayerFactory("deterministic"))
    assert all(isinstance(m, BayesianLayer) for m in bayesian_layers(build("cnn", LayerFactory("bayesian"))))
