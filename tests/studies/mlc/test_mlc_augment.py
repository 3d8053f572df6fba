import torch

from studies.mlc.augment import augment, random_shift


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
