import pytest
import scipy.linalg
import torch

from studies.intdim.projections import FastfoodProjection, Projection, make_projection

F64 = torch.float64


def dense_of(projection: Projection) -> torch.Tensor:
    """P as a D×d matrix: the projection applied to every basis vector of R^d."""
    return projection(torch.eye(projection.d, dtype=F64)).T


def fastfood_from_factors(p: FastfoodProjection) -> torch.Tensor:
    """The same P from its explicit factors: (H G Π H B)[:D, :d] / scale, all dense."""
    H = torch.as_tensor(scipy.linalg.hadamard(p.L), dtype=F64)
    Pi = torch.eye(p.L, dtype=F64)[p.permutation]  # (Π x)_i = x[permutation[i]]
    M = H @ torch.diag(p.gaussian) @ Pi @ H @ torch.diag(p.signs)
    return M[: p.D, : p.d] / p.scale


def test_fastfood_matches_its_dense_reference_from_the_same_factors() -> None:
    p = make_projection("fastfood", 300, 40, seed=3, dtype=F64)
    # Not bit-for-bit: the transform adds the ±G terms in Kronecker-factor order, the dense product in row
    # order, and with Gaussian G the two orders round differently (by ~1e-16). Integer inputs, which round
    # nowhere, are checked bit-for-bit in test_intdim_hadamard.py.
    assert (dense_of(p) - fastfood_from_factors(p)).abs().max() <= 1e-12
    theta_d = torch.randn(40, dtype=F64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(p(theta_d), fastfood_from_factors(p) @ theta_d, rtol=0, atol=1e-12)


def test_fastfood_columns_have_unit_norm_exactly_at_a_power_of_two_and_on_average_otherwise() -> None:
    exact = dense_of(make_projection("fastfood", 1024, 200, seed=0, dtype=F64))
    assert (exact.norm(dim=0) - 1).abs().max() < 1e-12
    for seed in range(3):  # D = 700 keeps 700 of L = 1024 rows: norm 1 in expectation only
        norms = dense_of(make_projection("fastfood", 700, 300, seed=seed, dtype=F64)).norm(dim=0)
        assert abs(norms.square().mean() - 1) < 0.01
        assert 0.9 < norms.min() and norms.max() < 1.1


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_dense_and_sparse_columns_are_unit_norm_and_the_draw_is_seeded(kind: str) -> None:
    p = make_projection(kind, 500, 30, seed=7, dtype=F64)
    P = dense_of(p)
    assert P.shape == (500, 30)
    assert (P.norm(dim=0) - 1).abs().max() < 1e-12
    assert torch.equal(P, dense_of(make_projection(kind, 500, 30, seed=7, dtype=F64)))
    assert not torch.equal(P, dense_of(make_projection(kind, 500, 30, seed=8, dtype=F64)))


def test_sparse_projection_keeps_about_sqrt_D_nonzeros_per_column() -> None:
    P = dense_of(make_projection("sparse", 10_000, 20, seed=0, dtype=F64))
    per_column = (P != 0).sum(dim=0).double()
    assert 80 < per_column.mean() < 120  # density 1/√D: √10,000 = 100 expected


@pytest.mark.parametrize("kind", ["dense", "sparse", "fastfood"])
def test_gradient_reaches_theta_d_as_p_transpose(kind: str) -> None:
    p = make_projection(kind, 300, 25, seed=1, dtype=F64)
    generator = torch.Generator().manual_seed(2)
    theta_d = torch.randn(25, dtype=F64, generator=generator, requires_grad=True)
    w = torch.randn(300, dtype=F64, generator=generator)
    (p(theta_d) * w).sum().backward()
    assert torch.allclose(theta_d.grad, dense_of(p).T @ w, rtol=0, atol=1e-12)


def test_fastfood_state_is_linear_in_D_and_does_not_grow_with_d() -> None:
    D = 199_210  # the MNIST FC net
    small, large = (make_projection("fastfood", D, d, seed=0) for d in (10, 5000))
    assert small.stored_bytes() == large.stored_bytes() <= 40 * (D + 5000)  # 3 vectors of L = 262,144
    assert large.stored_bytes() < D * 5000 * 4 / 500  # a dense P in float32 would be 4 GB, ~950× more
    assert max(t.numel() for t in large.state_dict().values()) == large.L <= 2 * D
    dense = make_projection("dense", 2000, 50, seed=0)
    assert dense.stored_bytes() == 2000 * 50 * 4


def test_bad_projections_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="fastfood"):
        make_projection("hadamard", 10, 2, seed=0)
    with pytest.raises(ValueError, match="0 < d <= D"):
        make_projection("dense", 10, 11, seed=0)
