import pytest
import torch

from studies.mlc.model import build


def _build(arch: str, in_dim: int, image_shape=None):
    return build(
        arch, in_dim, feature_dim=8, hidden_dim=16, n_hidden=2, conv_width=4, image_shape=image_shape
    )


@pytest.mark.parametrize(
    "arch, in_dim, shape",
    [("mlp", 64, None), ("cnn", 28 * 28, (28, 28)), ("resnet18", 32 * 32 * 3, (32, 32))],
)
def test_every_backbone_maps_rows_onto_the_sphere(arch, in_dim, shape):
    net = _build(arch, in_dim, shape).eval()
    with torch.no_grad():
        Z, C = net(torch.rand(3, in_dim))
    assert Z.shape == C.shape == (3, 8)
    assert torch.allclose(Z.norm(dim=1), torch.ones(3), atol=1e-5)


def test_the_mlp_keeps_the_state_dict_names_of_earlier_fits():
    keys = set(_build("mlp", 64).state_dict())
    assert {
        "backbone.0.weight",
        "backbone.1.running_mean",
        "backbone.3.weight",
        "feature_head.weight",
    } <= keys


def test_the_cnn_reads_rows_as_channel_last_images():
    net = _build("cnn", 4 * 4 * 3, (4, 4)).eval()
    x = torch.rand(2, 4, 4, 3)
    assert torch.equal(net.backbone[0](x.reshape(2, -1)), x.permute(0, 3, 1, 2))


def test_convolutional_backbones_need_an_image_shape():
    with pytest.raises(ValueError, match="needs images"):
        _build("cnn", 64)
    with pytest.raises(ValueError, match="unknown backbone"):
        _build("vit", 64)
