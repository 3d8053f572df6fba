"""The property model that scores generated crystals: it learns, and it scores crystals without bonds."""

from __future__ import annotations

import numpy as np
import torch

from studies.cdvae.config import TrainConfig
from studies.cdvae.crystal import CrystalArrays
from studies.cdvae.dataset import Scaler
from studies.cdvae.property_model import PropertyModel, crystal_set
from studies.cdvae.train import evaluate_losses, fit
from tests.studies.cdvae.perov import TINY, structures
from tests.studies.cdvae.perov import crystal_set as perov_set


def _model(prop: np.ndarray) -> PropertyModel:
    torch.manual_seed(0)
    return PropertyModel(TINY, Scaler.fit(prop))


def test_training_lowers_the_property_loss(tmp_path) -> None:
    crystals = perov_set(24)
    model = _model(crystals.prop.double().numpy())
    before = evaluate_losses(model, crystals, 24, seed=0)["property"]
    fit(
        model,
        crystals,
        crystals,
        TrainConfig(epochs=30, batch_size=8, lr=3e-3, checkpoint_every=1000, num_threads=2),
        seed=0,
        state_dir=tmp_path,
        fingerprint="test",
    )
    after = evaluate_losses(model, crystals, 24, seed=0)["property"]
    assert after < 0.5 * before, (before, after)


def test_predictions_come_back_in_property_units_for_bare_crystal_arrays() -> None:
    arrays = [CrystalArrays.from_structure(s) for s in structures(5)]
    model = _model(np.array([10.0, 12.0, 14.0]))
    pred = model.predict(crystal_set(arrays))
    assert pred.shape == (5,) and np.isfinite(pred).all()
    scaled = model.predict(crystal_set(arrays)) - 10.0
    model.prop_mean += 10.0  # the scaler is part of the model: shifting it shifts the predictions
    assert np.allclose(model.predict(crystal_set(arrays)) - 20.0, scaled, atol=1e-4)
