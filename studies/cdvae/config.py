"""Every hyperparameter of a CDVAE run, in frozen records; defaults are the paper's published Perov-5
configuration.

Field names follow the reference configuration (conf/model/vae.yaml, encoder/dimenet.yaml,
decoder/gemnet.yaml) so a reader can check them side by side; profiles in params.yaml
override them (the `cpu` profile shrinks the networks and the schedule, and says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from studies.common.config import from_overrides

MAX_ATOMIC_NUM = 100  # atom types are atomic numbers 1..100, as upstream
DECODERS = ("gemnet_dt", "gemnet_t_style")  # ModelConfig.decoder: studies/cdvae/model.py builds each
COMPILE_SETTINGS = ("auto", "on", "off")  # LangevinConfig.compile


@dataclass(frozen=True)
class ModelConfig:
    # latent space and the heads on z (MLPs with `fc_num_layers` hidden layers of `fc_hidden_dim`)
    latent_dim: int = 256
    fc_hidden_dim: int = 256
    fc_num_layers: int = 1
    max_atoms: int = 20
    predict_property: bool = False
    # encoder: DimeNet++ on the periodic graph, mean readout
    enc_hidden_dim: int = 128
    enc_num_blocks: int = 4
    enc_int_emb_size: int = 64
    enc_basis_emb_size: int = 8
    enc_out_emb_channels: int = 256
    enc_num_output_layers: int = 3
    # decoder: the latent-conditioned score network with direct forces. `gemnet_dt`: upstream's GemNet-dT
    # (studies/cdvae/gemnet.py); `gemnet_t_style`: the lighter DimeNet++-block one (studies/cdvae/decoder.py)
    decoder: str = "gemnet_dt"
    dec_hidden_dim: int = 128  # decoder/gemnet.yaml hidden_dim: GemNet's emb_size_atom and emb_size_edge
    dec_num_blocks: int = 3
    # gemnet_dt only: GemNetT's defaults, which decoder/gemnet.yaml keeps (upstream's names, dec_ prefixed)
    dec_num_radial: int = 128
    dec_emb_size_trip: int = 64
    dec_emb_size_rbf: int = 16
    dec_emb_size_cbf: int = 16
    dec_emb_size_bil_trip: int = 64
    dec_num_concat: int = 1
    dec_num_atom: int = 3
    # gemnet_t_style only
    dec_int_emb_size: int = 64
    dec_basis_emb_size: int = 16
    # shared by the encoder and both decoders (GemNet-dT's defaults agree with DimeNet++'s here)
    num_spherical: int = 7
    num_radial: int = 6  # not GemNet-dT's: dec_num_radial
    envelope_exponent: int = 5
    num_before_skip: int = 1
    num_after_skip: int = 2
    cutoff: float = 7.0  # Å
    max_neighbors: int = 20
    # noise levels: geometric from begin to end
    sigma_begin: float = 10.0  # Å, coordinates
    sigma_end: float = 0.01
    type_sigma_begin: float = 5.0
    type_sigma_end: float = 0.01
    num_noise_level: int = 50
    # loss weights
    cost_natom: float = 1.0
    cost_coord: float = 10.0
    cost_type: float = 1.0
    cost_lattice: float = 10.0
    cost_composition: float = 1.0
    cost_property: float = 1.0
    beta: float = 0.01  # KL weight

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ValueError(f"Unknown decoder '{self.decoder}'. Fix: use one of {', '.join(DECODERS)}.")

    @classmethod
    def from_dict(cls, d: Mapping) -> ModelConfig:
        return from_overrides(cls, d)

    def sigmas(self) -> torch.Tensor:
        return geometric_levels(self.sigma_begin, self.sigma_end, self.num_noise_level)

    def type_sigmas(self) -> torch.Tensor:
        return geometric_levels(self.type_sigma_begin, self.type_sigma_end, self.num_noise_level)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 3000
    batch_size: int = 512
    lr: float = 1e-3  # Adam
    lr_factor: float = 0.6  # ReduceLROnPlateau on the validation loss
    lr_patience: int = 30  # epochs
    min_lr: float = 1e-4
    grad_clip: float = 0.5  # gradient norm, as Lightning's gradient_clip_val upstream
    teacher_forcing_fraction: float = 0.5  # upstream: ground-truth lattice for the first 1500 of 3000 epochs
    checkpoint_every: int = 50  # optimiser steps between resumable checkpoints
    val_batch_size: int = 256
    num_threads: int | None = 2
    device: str = "cpu"

    @classmethod
    def from_dict(cls, d: Mapping) -> TrainConfig:
        return from_overrides(cls, d)


@dataclass(frozen=True)
class LangevinConfig:
    """Annealed Langevin dynamics over the decoder's noise levels (upstream evaluate.py defaults)."""

    n_step_each: int = 100
    step_lr: float = 1e-4
    min_sigma: float = 0.0
    batch_size: int = 256
    # torch.compile of the decoder's score call: `auto` compiles GemNet-dT's on CUDA, where small steps are
    # bound by per-kernel overhead, and nothing on the CPU, where compiling costs minutes and eager results
    # stay bit-identical; `on` compiles any decoder
    compile: str = "auto"

    def __post_init__(self) -> None:
        if self.compile not in COMPILE_SETTINGS:
            raise ValueError(
                f"Unknown langevin compile setting '{self.compile}'. "
                f"Fix: use one of {', '.join(COMPILE_SETTINGS)}."
            )

    @classmethod
    def from_dict(cls, d: Mapping) -> LangevinConfig:
        return from_overrides(cls, d)


def geometric_levels(begin: float, end: float, n: int) -> torch.Tensor:
    """`n` noise levels evenly spaced in log from `begin` down to `end`."""
    return torch.tensor(np.exp(np.linspace(np.log(begin), np.log(end), n)), dtype=torch.float32)
