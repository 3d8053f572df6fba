"""Training is deterministic on CPU and a crashed run resumes exactly where it stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from studies.cdvae.config import TrainConfig
from studies.cdvae.dataset import CrystalSet
from studies.cdvae.train import BEST, LAST, TrainState, evaluate_losses, fit
from studies.common.seeding import seed_everything
from tests.studies.cdvae.perov import crystal_set, tiny_model

CFG = TrainConfig(epochs=2, batch_size=4, checkpoint_every=1, val_batch_size=8, lr=1e-3)


class Crash(RuntimeError):
    """What a killed process would do to the loop: stop between two batches."""


class CrashingSet(CrystalSet):
    """A training set whose n-th batch raises: a process killed in the middle of an epoch."""

    def __init__(self, base: CrystalSet, after: int):
        self.__dict__ |= base.__dict__
        self.calls, self.after = 0, after

    def batch(self, indices):
        self.calls += 1
        if self.calls > self.after:
            raise Crash
        return super().batch(indices)


def _train(state: Path, train: CrystalSet, val: CrystalSet, fingerprint: str = "f"):
    seed_everything(
        0
    )  # as the stage does: seeds, and deterministic kernels (2-thread scatter sums are not, otherwise)
    model = tiny_model(train)
    result = fit(model, train, val, CFG, seed=0, state_dir=state, fingerprint=fingerprint)
    return model, result


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path: Path) -> None:
    train, val = crystal_set(16), crystal_set(24)
    reference, ref_fit = _train(tmp_path / "a", train, val)
    assert ref_fit.resumed_from_step is None and ref_fit.state.global_step == 8  # 2 epochs × 4 batches

    with pytest.raises(Crash):
        # dies in epoch 1, after 6 steps (one batch more: tiny_model fits the scale factors on one)
        _train(tmp_path / "b", CrashingSet(train, after=7), val)
    assert (tmp_path / "b" / LAST).exists()
    resumed, resumed_fit = _train(tmp_path / "b", train, val)
    assert resumed_fit.resumed_from_step == 6
    assert [r["epoch"] for r in resumed_fit.state.history] == [0, 1] and resumed_fit.state.global_step == 8
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name

    def without_time(history):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    assert without_time(resumed_fit.state.history) == without_time(ref_fit.state.history)
    assert (tmp_path / "b" / BEST).exists()


def test_a_checkpoint_of_another_configuration_is_not_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    train = crystal_set(8)
    _train(tmp_path, train, train, fingerprint="one")
    _, other = _train(tmp_path, train, train, fingerprint="two")
    assert other.resumed_from_step is None and other.state.global_step == 4
    assert "belongs to another configuration" in capsys.readouterr().out


def test_training_reduces_the_losses_of_the_heads_on_z(tmp_path: Path) -> None:
    """Atom count, lattice and composition losses (on fixed noise draws) fall after a few steps on real
    crystals."""
    train = crystal_set(16)
    torch.manual_seed(0)
    before = evaluate_losses(tiny_model(train), train, 16, seed=0)
    model, result = _train(tmp_path, train, train)
    after = evaluate_losses(model, train, 16, seed=0)
    heads = ("natom", "lattice", "composition")
    assert sum(after[k] for k in heads) < sum(before[k] for k in heads), (before, after)
    assert {"train_coord", "val_coord", "train_type", "val_kld", "lr"} <= set(result.state.history[-1])


def test_a_checkpoint_holding_pickled_objects_is_not_unpickled(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Checkpoints load through torch's weights-only loader: one carrying a Python object (an older format, or
    a planted file) is refused, said aloud, and training starts over instead of running its pickle."""
    train = crystal_set(8)
    torch.save({"fingerprint": "one", "state": TrainState(global_step=3)}, tmp_path / LAST)
    _, fit = _train(tmp_path, train, train, fingerprint="one")
    assert fit.resumed_from_step is None and fit.state.global_step == 4
    assert "not a readable checkpoint (UnpicklingError)" in capsys.readouterr().out
    saved = torch.load(tmp_path / LAST, weights_only=True)  # what it writes now reads back safely
    assert saved["state"]["global_step"] == 4
