"""Real Perov-5 test crystals from the offline mirror, prepared as CDVAE trains on them (shared by the cdvae
tests)."""

from __future__ import annotations

from functools import cache

import polars as pl
import torch
from pymatgen.core import Lattice, Structure

from studies.cdvae.config import ModelConfig
from studies.cdvae.data import parse_structures, read_cdvae_csv, structures_from_table
from studies.cdvae.dataset import CrystalSet, Scaler, prepare_table, scaled_lattice
from studies.cdvae.model import CDVAE
from tests.conftest import MIRROR

PEROV_TEST = MIRROR / "cdvae" / "perov_5" / "test.csv"
# A network small enough for unit tests: every block of the real one, a fraction of the width.
TINY = ModelConfig(
    latent_dim=16,
    fc_hidden_dim=16,
    enc_hidden_dim=16,
    enc_num_blocks=2,
    enc_int_emb_size=8,
    enc_basis_emb_size=4,
    enc_out_emb_channels=16,
    dec_hidden_dim=16,
    dec_num_blocks=2,
    dec_int_emb_size=8,
    dec_basis_emb_size=4,
    dec_num_radial=8,
    dec_emb_size_trip=8,
    dec_emb_size_rbf=4,
    dec_emb_size_cbf=4,
    dec_emb_size_bil_trip=8,
    num_spherical=3,
    num_radial=4,
    num_noise_level=10,
)


@cache
def parsed(n: int = 24) -> pl.DataFrame:
    return parse_structures(
        read_cdvae_csv(PEROV_TEST, ("material_id", "cif", "heat_ref")).head(n), "test.csv"
    )


@cache
def prepared(n: int = 24) -> pl.DataFrame:
    return prepare_table(parsed(n), "heat_ref", 20, "test.csv")


def structures(n: int = 24) -> list[Structure]:
    """The first `n` test crystals as parsed (the CIF's cell, not yet Niggli-reduced)."""
    return structures_from_table(parsed(n))


def triclinic() -> Structure:
    """A hand-built skewed cell that no perovskite provides (three unequal lengths, no right angle)."""
    return Structure(
        Lattice.from_parameters(4, 5, 6, 70, 80, 100),
        ["Si", "O", "O"],
        [[0.1, 0.2, 0.3], [0.95, 0.5, 0.05], [0.5, 0.02, 0.7]],
    )


def crystal_set(n: int = 24) -> CrystalSet:
    return CrystalSet(prepared(n))


def tiny_model(crystals: CrystalSet, cfg: ModelConfig = TINY) -> CDVAE:
    """A model as the train stage makes one: scalers fitted on `crystals`, scale factors on their first 16."""
    lattice = scaled_lattice(
        crystals.lengths.double().numpy(), crystals.angles.double().numpy(), crystals.num_atoms.numpy()
    )
    model = CDVAE(cfg, Scaler.fit(lattice), Scaler.fit(crystals.prop.double().numpy()))
    model.fit_scales(crystals.batch(torch.arange(min(16, len(crystals)))), seed=0)
    return model
