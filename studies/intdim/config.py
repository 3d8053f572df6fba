"""One training run's hyperparameters. Defaults are the paper's MNIST FC setting (784-200-200-10 in a Fastfood
subspace), as its reference code ran it.

What the reference code (uber-research/intrinsic-dimension, master at 9754ebe) says, file by file:

- intrinsic_dim/standard_parser.py: Adam with β₁ = 0.9, β₂ = 0.99 (not Keras' 0.999), ε = 1e-8; SGD is
  momentum 0.9; the training set is reshuffled every epoch. intrinsic_dim/train.py: minibatch 128; no
  learning-rate decay unless asked (--lr_epochs 0); validation accuracy after the last epoch is the number
  collected (`final_stats val_accuracy`), no early stopping.
- intrinsic_dim/scripts/more/loop_d_mnist_fnn.sh: MNIST FC, 100 epochs, Adam, lr 1e-3, no L2; README.md's
  example adds --l2 1e-5. loop_d_mnist_lenet.sh: LeNet, 100 epochs, Adam 1e-3, L2 1e-4. loop_d_cifar_fnn.sh:
  100 epochs, Adam 1e-3, L2 1e-4. loop_d_cifar_lenet.sh: Adam 1e-3, L2 1e-5 (1e-4 in a commented variant).
  loop_d_mnist_permuted_label_fnn_wd.sh (shuffled labels): 500 epochs, Adam 1e-4, L2 1e-4, FC of depth 1-5
  and width 50-400, Fastfood. loop_d_mnist_pi_lenet.sh (shuffled pixels, LeNet): SGD lr 0.01, no L2;
  loop_d_mnist_noisy_image_fnn_wd.sh (shuffled pixels, FC): SGD lr 0.1, L2 1e-4.
- keras_ext/rproj_layers.py: the L2 term is Keras' l2(λ) = λ·Σw² on the kernels of θ = θ₀ + Pθ_d (the full
  weights, not θ_d); biases are not penalised. θ_d starts at zero (rproj_layers_util.py, ThetaPrime).
- Projections and initialisation: see projections.py and models.py.

Not found there: how the distributed .h5 datasets were preprocessed (pixel scale, mean subtraction; they were
shared as a separate download), so inputs here are scaled to [0, 1]; and how many seeds stand behind each
Table 1 number (the plotting notebook has 3 runs per d for MNIST, 6 for the CIFAR FC net).

`d = 0` means training in the full space (the reference's `*_dir` architectures): the baseline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from studies.common.config import from_overrides
from studies.intdim.data import SHUFFLES
from studies.intdim.models import ARCHS
from studies.intdim.projections import KINDS

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class IntDimConfig:
    arch: str = "fc"
    width: int = 200  # FC hidden width
    depth: int = 2  # FC hidden layers
    d: int = 750  # subspace dimension; 0: the full space
    projection: str = "fastfood"
    optimizer: str = "adam"
    lr: float = 1e-3
    beta2: float = 0.99  # Adam's β₂, the reference's default
    momentum: float = 0.9  # SGD's
    l2: float = 0.0  # λ of λ·Σ kernel², on θ = θ₀ + Pθ_d
    batch_size: int = 128
    epochs: int = 100
    shuffle: str = "none"  # none | pixels | labels
    shuffle_seed: int = 0  # one fixed permutation per dataset, shared by every run
    n_classes: int = 10
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        for key, value, allowed in (
            ("arch", self.arch, ARCHS),
            ("projection", self.projection, KINDS),
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("shuffle", self.shuffle, SHUFFLES),
        ):
            if value not in allowed:
                raise ValueError(f"Unknown {key} '{value}'. Fix: use one of {', '.join(allowed)}.")
        if self.d < 0:
            raise ValueError(f"d={self.d}. Fix: a subspace dimension > 0, or 0 for the full space.")

    @property
    def full_space(self) -> bool:
        return self.d == 0

    @classmethod
    def from_dict(cls, overrides: dict[str, Any]) -> IntDimConfig:
        return from_overrides(cls, overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
