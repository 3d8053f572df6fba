import torch

from studies.mlc.augment import augment, random_affine, random_hflip, random_shift


def test_random_shift_moves_images_by_at_most_the_shift():
    image = torch.zeros(1, 8, 8)
    image[0, 4, 3] = 1.0
    generator = torch.Generator().manual_seed(0)
    shifted = random_shift(image.reshape(1, 64).repeat(200, 1), (8, 8), 1, generator).reshape(200, 8, 8)
    rows, cols = shifted.nonzero()[:, 1], shifted.nonzero()[:, 2]
    assert shifted.sum(dim=(1, 2)).eq(1).all()  # the pixel is kept, only moved
    assert set(rows.tolist()) == {3, 4, 5} and set(cols.tolist()) == {2, 3, 4}


def test_augment_keeps_rows_on_the_sphere_and_is_reproducible():
    X = torch.nn.functional.normalize(torch.rand(10, 64), dim=1)
    kwargs = dict(noise_std=0.05, dropout=0.1, shift_pixels=1, image_shape=(8, 8))
    a = augment(X, torch.Generator().manual_seed(0), **kwargs)
    b = augment(X, torch.Generator().manual_seed(0), **kwargs)
    assert torch.equal(a, b) and not torch.equal(a, X)
    assert torch.allclose(a.norm(dim=1), torch.ones(10), atol=1e-5)
    vector = augment(X[:, :50], torch.Generator().manual_seed(0), noise_std=0.0, dropout=0.0)
    assert torch.allclose(vector, X[:, :50] / X[:, :50].norm(dim=1, keepdim=True))  # no shift without a shape


def test_random_affine_without_rotation_or_zoom_is_the_identity():
    X = torch.rand(5, 28 * 28)
    same = random_affine(X, (28, 28), 0.0, 0.0, torch.Generator().manual_seed(0))
    assert torch.allclose(same, X, atol=1e-5)


def test_random_affine_rotates_about_the_centre_within_the_bound():
    image = torch.zeros(1, 9, 9)
    image[0, 4, 4] = 1.0  # the centre pixel stays where it is under any rotation and zoom
    out = random_affine(
        image.reshape(1, 81).repeat(50, 1), (9, 9), 30.0, 0.2, torch.Generator().manual_seed(0)
    )
    assert out.reshape(50, 9, 9)[:, 4, 4].min() > 0.5
    assert not torch.allclose(out[0], out[1])  # each image its own transform


def test_random_hflip_mirrors_about_half_of_the_colour_images():
    X = torch.rand(200, 4 * 5 * 3)
    out = random_hflip(X, (4, 5), torch.Generator().manual_seed(0)).reshape(200, 4, 5, 3)
    mirrored = (out == X.reshape(200, 4, 5, 3).flip(2)).flatten(1).all(1)
    assert 60 < int(mirrored.sum()) < 140
    assert torch.equal(out[~mirrored], X.reshape(200, 4, 5, 3)[~mirrored])
