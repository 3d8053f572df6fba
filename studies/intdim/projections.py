"""The fixed random maps P: R^d → R^D of subspace training, with (approximately) unit-norm columns.

Three kinds, as in the paper (§2, Appendix S3) and its code (uber-research/intrinsic-dimension,
keras_ext/rproj_layers_util.py and the normalisation step in intrinsic_dim/train.py):

- `dense`: i.i.d. N(0, 1) entries, each column then scaled to unit norm. Stores D·d numbers, so only for
  small D·d (the MNIST FC net at d = 750 would need 600 MB).
- `sparse`: scikit-learn's SparseRandomProjection (Li, Hastie & Church 2006; density 1/√D, the reference
  code's choice), each column scaled to unit norm. Stores its ≈ d·√D nonzeros.
- `fastfood`: the Fastfood transform (Le, Sarlós & Smola 2013) as the reference code builds it, one block of
  size L = 2^⌈log₂ D⌉: P θ_d = first D entries of H G Π H B [θ_d; 0] / √(D·‖G‖²), with H the Walsh–Hadamard
  matrix, B random signs, Π a random permutation and G Gaussian. A column of the L×L product has squared norm
  L·‖G‖² exactly, so its first D entries carry D/L of that in expectation and the columns of P have norm 1 on
  average (exactly 1 when D is a power of two). Stores 3·L numbers: O(D), whatever d.

Each is an nn.Module whose random factors are buffers (they move with `.to(device)` and are saved in a
state_dict, but are never trained). Each maps θ_d of shape (..., d) to (..., D).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.random_projection import SparseRandomProjection
from torch import nn

from studies.intdim.hadamard import fwht

KINDS = ("dense", "sparse", "fastfood")


class Projection(nn.Module):
    """θ_d ↦ P θ_d for a fixed D×d matrix P."""

    def __init__(self, D: int, d: int) -> None:
        super().__init__()
        if not 0 < d <= D:
            raise ValueError(f"a subspace of dimension d={d} in D={D} parameters: need 0 < d <= D.")
        self.D, self.d = D, d

    def stored_bytes(self) -> int:
        """Bytes held by the projection's fixed tensors: the memory cost of P itself."""
        return sum(buffer.numel() * buffer.element_size() for buffer in self.buffers())


class DenseProjection(Projection):
    def __init__(self, D: int, d: int, seed: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(D, d)
        generator = torch.Generator().manual_seed(seed)
        matrix = torch.randn(D, d, generator=generator, dtype=torch.float64)
        self.register_buffer("matrix", (matrix / matrix.norm(dim=0)).to(dtype))

    def forward(self, theta_d: torch.Tensor) -> torch.Tensor:
        return theta_d @ self.matrix.T


class SparseProjection(Projection):
    """P kept as its nonzeros (row, column, value), applied by gather and scatter-add: O(nnz) both ways. On
    CPU this was 7× faster than torch.sparse.mm on the same COO matrix (4.8 vs 33 ms forward + backward at
    D = 199,210, d = 750), whose backward re-sorts the transpose every step."""

    def __init__(self, D: int, d: int, seed: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(D, d)
        # Only the random matrix is wanted; fit() draws it from the input's width and never reads the values.
        draw = SparseRandomProjection(n_components=d, density="auto", random_state=seed)
        components = draw.fit(np.zeros((1, D), np.float32)).components_.tocoo()  # d × D, scipy sparse
        data = components.data.astype(np.float64)
        values = data / np.sqrt(np.bincount(components.row, data**2, minlength=d))[components.row]
        self.register_buffer("rows", torch.as_tensor(components.col, dtype=torch.long))
        self.register_buffer("columns", torch.as_tensor(components.row, dtype=torch.long))
        self.register_buffer("values", torch.as_tensor(values, dtype=dtype))

    def forward(self, theta_d: torch.Tensor) -> torch.Tensor:
        terms = theta_d.index_select(-1, self.columns) * self.values
        return terms.new_zeros(*theta_d.shape[:-1], self.D).index_add(-1, self.rows, terms)


class FastfoodProjection(Projection):
    def __init__(self, D: int, d: int, seed: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(D, d)
        self.L = 2 ** math.ceil(math.log2(D))
        generator = torch.Generator().manual_seed(seed)
        signs = torch.randint(0, 2, (self.L,), generator=generator).to(dtype) * 2 - 1
        permutation = torch.randperm(self.L, generator=generator)
        gaussian = torch.randn(self.L, generator=generator, dtype=torch.float64)
        self.register_buffer("signs", signs)
        self.register_buffer("permutation", permutation)
        self.register_buffer("gaussian", gaussian.to(dtype))
        self.register_buffer("scale", torch.sqrt(D * gaussian.square().sum()).to(dtype))

    def forward(self, theta_d: torch.Tensor) -> torch.Tensor:
        x = F.pad(theta_d, (0, self.L - self.d)) * self.signs
        x = fwht(x).index_select(-1, self.permutation) * self.gaussian
        return fwht(x)[..., : self.D] / self.scale


def make_projection(kind: str, D: int, d: int, seed: int, dtype: torch.dtype = torch.float32) -> Projection:
    """The projection of `kind` (dense | sparse | fastfood) from d to D dimensions, drawn from `seed`."""
    classes = {"dense": DenseProjection, "sparse": SparseProjection, "fastfood": FastfoodProjection}
    if kind not in classes:
        raise ValueError(f"Unknown projection '{kind}'. Fix: use one of {', '.join(KINDS)}.")
    return classes[kind](D, d, seed, dtype)
