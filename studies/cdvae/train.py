"""Training CDVAE (and its property model): Adam, ReduceLROnPlateau on the validation loss, gradient-norm
clipping, resumable checkpoints.

Resumability is exact on CPU: each epoch's batch order comes from its own seeded generator,
and a checkpoint holds the model, optimiser, scheduler, torch RNG state, the position inside
the epoch and the running loss sums. A run killed at step k and restarted continues at
step k and ends with the same weights as a run that was never interrupted.
"""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from studies.cdvae.config import TrainConfig
from studies.cdvae.dataset import CrystalSet
from studies.common import atomic

LAST, BEST = "last.pt", "best.pt"


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # batches of the current epoch already taken
    global_step: int = 0
    sums: dict[str, float] = field(default_factory=dict)  # running loss sums of the current epoch
    history: list[dict[str, Any]] = field(default_factory=list)
    best_val: float = float("inf")
    best_epoch: int = -1
    seconds: float = 0.0  # training wall time over all attempts


@dataclass
class FitResult:
    state: TrainState
    resumed_from_step: int | None  # None: started from scratch


def fit(
    model: nn.Module,
    train: CrystalSet,
    val: CrystalSet,
    cfg: TrainConfig,
    seed: int,
    state_dir: Path,
    fingerprint: str,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    device: torch.device = torch.device("cpu"),
) -> FitResult:
    """Train `model` for cfg.epochs, resuming from `state_dir/last.pt` when its fingerprint matches this
    run's.

    The model provides `losses(batch, teacher_forcing) -> {term: tensor}` and `total_loss(terms)`.

    `fingerprint` identifies the configuration and data; a checkpoint from another one is
    not resumed from (it is replaced at the first save). The best model by validation loss
    is kept in `state_dir/best.pt` as a plain state_dict.
    """
    atomic.make_folder(state_dir)  # fails now, with a clear error, rather than at the first checkpoint
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=cfg.lr_factor, patience=cfg.lr_patience, min_lr=cfg.min_lr
    )
    state, resumed = TrainState(), None
    last = state_dir / LAST
    if last.exists():
        saved = _read_checkpoint(last)
        if saved is not None and saved["fingerprint"] == fingerprint:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            torch.set_rng_state(saved["rng"])
            state = TrainState(**saved["state"])
            resumed = state.global_step
            print(f"resuming from {last} at epoch {state.epoch}, step {state.global_step}")
        elif saved is not None:
            print(f"ignoring {last}: it belongs to another configuration or dataset; training from scratch")

    def checkpoint() -> None:
        # only tensors and plain values (the state as a dict), so it loads back with weights_only=True;
        # atomic, so a kill or a full disk during the save leaves the previous checkpoint intact
        atomic.torch_save(
            {
                "fingerprint": fingerprint,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(),
                "state": asdict(state),
            },
            last,
        )

    n_batches = -(-len(train) // cfg.batch_size)
    teacher_epochs = cfg.teacher_forcing_fraction * cfg.epochs
    bar = tqdm(
        total=cfg.epochs * n_batches,
        initial=state.global_step,
        desc=f"train {type(model).__name__}",
        unit="step",
        file=sys.stderr,
        mininterval=5,
        dynamic_ncols=True,
    )
    started = time.perf_counter() - state.seconds
    while state.epoch < cfg.epochs:
        model.train()
        order = torch.randperm(
            len(train), generator=torch.Generator().manual_seed(seed * 1_000_003 + state.epoch)
        )
        batches = order.split(cfg.batch_size)
        for indices in batches[state.step_in_epoch :]:
            b = train.batch(indices).to(device)
            terms = model.losses(b, teacher_forcing=state.epoch < teacher_epochs)
            loss = model.total_loss(terms)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            for k, v in {"loss": loss, **terms}.items():
                state.sums[k] = state.sums.get(k, 0.0) + v.item() * b.size
            state.step_in_epoch += 1
            state.global_step += 1
            bar.update()
            bar.set_postfix(epoch=state.epoch, loss=f"{loss.item():.3f}", refresh=False)
            if state.global_step % cfg.checkpoint_every == 0:
                state.seconds = time.perf_counter() - started
                checkpoint()
        val_terms = evaluate_losses(model, val, cfg.val_batch_size, seed, device)
        scheduler.step(val_terms["loss"])
        state.seconds = time.perf_counter() - started
        record = {
            "epoch": state.epoch,
            "step": state.global_step,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(state.seconds, 2),
            **{f"train_{k}": v / len(train) for k, v in state.sums.items()},
            **{f"val_{k}": v for k, v in val_terms.items()},
        }
        state.history.append(record)
        if val_terms["loss"] < state.best_val:
            state.best_val, state.best_epoch = val_terms["loss"], state.epoch
            atomic.torch_save(model.state_dict(), state_dir / BEST)
        state.epoch, state.step_in_epoch, state.sums = state.epoch + 1, 0, {}
        checkpoint()
        if on_epoch is not None:
            on_epoch(record)
    bar.close()
    return FitResult(state, resumed)


@torch.no_grad()
def _read_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint through torch's safe loader (no pickled code runs); None, said aloud, when it cannot be
    read that way (truncated, or written by an older version that pickled objects): training starts over."""
    try:
        return torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        print(f"ignoring {path}: not a readable checkpoint ({type(exc).__name__}); training from scratch")
        return None


def evaluate_losses(
    model: nn.Module,
    crystals: CrystalSet,
    batch_size: int,
    seed: int,
    device: torch.device = torch.device("cpu"),
) -> dict[str, float]:
    """Mean loss terms without teacher forcing (as upstream validates), on fixed noise draws.

    The noise is drawn from a forked RNG seeded the same way every time, so epochs are
    comparable and the training RNG stream is untouched.
    """
    model.eval()
    sums: dict[str, float] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for b in crystals.batches(batch_size):
            b = b.to(device)
            terms = model.losses(b, teacher_forcing=False)
            for k, v in {"loss": model.total_loss(terms), **terms}.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b.size
    model.train()
    return {k: v / len(crystals) for k, v in sums.items()}
