import pytest
import scipy.linalg
import torch

from studies.intdim.hadamard import fwht


@pytest.mark.parametrize("n", [1, 2, 8, 64, 128, 512, 2048])
def test_fwht_is_the_sylvester_hadamard_product_bit_for_bit(n: int) -> None:
    # Integer-valued float64 inputs: every partial sum is exact, so any summation order must agree exactly.
    x = torch.randint(-9, 10, (3, n), generator=torch.Generator().manual_seed(n)).double()
    H = torch.as_tensor(scipy.linalg.hadamard(n), dtype=torch.float64)
    assert torch.equal(fwht(x), x @ H)


def test_fwht_applied_twice_is_n_times_the_identity_beyond_three_factors() -> None:
    n = 2**13  # 13 bits: three Kronecker factors of unequal size
    x = torch.randint(-9, 10, (2, n), generator=torch.Generator().manual_seed(0)).double()
    assert torch.equal(fwht(fwht(x)), n * x)
    assert fwht(x[0]).shape == (n,) and fwht(x.view(2, 1, n)).shape == (2, 1, n)


def test_fwht_gradient_is_the_transform_of_the_upstream_gradient() -> None:
    n = 256
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(n, dtype=torch.float64, generator=generator, requires_grad=True)
    w = torch.randn(n, dtype=torch.float64, generator=generator)
    (fwht(x) * w).sum().backward()
    assert torch.allclose(x.grad, fwht(w), rtol=0, atol=1e-12)  # H is symmetric


def test_fwht_refuses_a_length_that_is_not_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power-of-two"):
        fwht(torch.zeros(3, 12))
