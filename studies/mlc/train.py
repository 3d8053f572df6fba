"""Fit MLC: TCR warm-up with augmentations, one-shot head copy, then maximise R(Z) − R_c(Z, Γ)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from tqdm.auto import tqdm

from studies.common.devices import resolve_device
from studies.common.seeding import seed_everything
from studies.mlc.augment import augment
from studies.mlc.config import MLCConfig
from studies.mlc.model import MLCNet, build
from studies.mlc.objective import membership, mlc_loss, tcr_loss


@dataclass
class MLCFit:
    """A trained MLC model, its features Z and cluster-head outputs C on every point, the membership Γ among
    the anchor points (all points when n ≤ cfg.anchors), and the logged training curve."""

    model: MLCNet
    Z: np.ndarray
    C: np.ndarray
    gamma: np.ndarray
    anchors: np.ndarray  # indices of the points Γ covers, sorted
    history: list[dict] = field(default_factory=list)

    def to_state(self) -> dict:
        """Tensors, state dict and plain lists only, so `torch.load(weights_only=True)` can read it back."""
        return {
            "model": self.model.state_dict(),
            "Z": torch.from_numpy(self.Z),
            "C": torch.from_numpy(self.C),
            "gamma": torch.from_numpy(self.gamma),
            "anchors": torch.from_numpy(self.anchors),
            "history": self.history,
        }

    @classmethod
    def from_state(
        cls, state: dict, in_dim: int, cfg: MLCConfig, image_shape: tuple[int, int] | None = None
    ) -> MLCFit:
        """The fit `to_state` saved, its model rebuilt on `cfg.device` in eval mode as `fit_mlc` returns
        it."""
        model = new_model(in_dim, cfg, image_shape).to(resolve_device(cfg.device))
        model.load_state_dict(state["model"])
        arrays = {k: state[k].numpy() for k in ("Z", "C", "gamma", "anchors")}
        return cls(model.eval(), **arrays, history=state["history"])


def new_model(in_dim: int, cfg: MLCConfig, image_shape: tuple[int, int] | None = None) -> MLCNet:
    return build(cfg.arch, in_dim, cfg.feature_dim, cfg.hidden_dim, cfg.n_hidden, cfg.conv_width, image_shape)


def anchor_indices(n: int, n_anchors: int, seed: int) -> np.ndarray:
    """The points Γ is formed on: all of them, or a seeded random subset when n is too large for n × n."""
    if n <= n_anchors:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).permutation(n)[:n_anchors])


@torch.no_grad()
def embed(model: MLCNet, data: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(Z, C) of every row, `batch` rows per forward pass (eval mode: BatchNorm's running statistics)."""
    parts = [model(data[i : i + batch]) for i in range(0, len(data), batch)]
    return torch.cat([z for z, _ in parts]), torch.cat([c for _, c in parts])


def _batch(data: torch.Tensor, batch_size: int | None, generator: torch.Generator) -> torch.Tensor:
    """The whole set (full batch) or a random subset drawn without replacement."""
    if batch_size is None or batch_size >= len(data):
        return data
    return data[torch.randperm(len(data), generator=generator)[:batch_size].to(data.device)]


def fit_mlc(
    X: np.ndarray,
    cfg: MLCConfig,
    seed: int,
    image_shape: tuple[int, int] | None = None,
    on_step: Callable[[dict], None] | None = None,
    progress: bool = True,
) -> MLCFit:
    """Train MLC on X (n, D) and return Z and Γ for all n points; same seed, same result on CPU.

    The final Γ is one Sinkhorn over the anchor points (all n when n ≤ cfg.anchors) with the model in eval
    mode: an n × n Γ for n = 70,000 would take 20 GB.

    History records ({"phase", "step", "loss", **terms}) are kept every
    `cfg.log_every` steps and at the end of each phase, and passed to `on_step`;
    `step` counts across both phases so it can serve as a tracking step.
    """
    generator = seed_everything(seed)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    device = resolve_device(cfg.device)
    data = torch.as_tensor(X, dtype=torch.float32, device=device)
    model = new_model(data.shape[1], cfg, image_shape).to(device)
    history: list[dict] = []
    total = cfg.warmup_steps + cfg.mlc_steps
    bar = tqdm(total=total, disable=not progress, desc="mlc", leave=False)

    def record(phase: str, step: int, last: bool, loss: torch.Tensor, terms: dict[str, float]) -> None:
        bar.update(1)
        bar.set_postfix(phase=phase, loss=f"{loss.item():.3f}")
        if step % cfg.log_every == 0 or last:
            entry = {"phase": phase, "step": step, "loss": loss.item(), **terms}
            history.append(entry)
            if on_step is not None:
                on_step(entry)

    def train_phase(phase: str, n_steps: int, first_step: int, loss_fn: Callable) -> None:
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        for i in range(n_steps):
            loss, terms = loss_fn(_batch(data, cfg.batch_size, generator))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            record(phase, first_step + i, i == n_steps - 1, loss, terms)

    view = partial(
        augment,
        generator=generator,
        noise_std=cfg.noise_std,
        dropout=cfg.dropout,
        shift_pixels=cfg.shift_pixels,
        rotate_degrees=cfg.rotate_degrees,
        scale=cfg.scale,
        hflip=cfg.hflip,
        image_shape=image_shape,
    )

    def tcr_step(batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return tcr_loss([model.features(view(batch)) for _ in range(cfg.n_views)], cfg.eps2, cfg.lam)

    def mlc_step(batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        Z, C = model(batch)
        return mlc_loss(Z, C, cfg.eps2, cfg.eta, cfg.sinkhorn_iters)

    model.train()
    train_phase("tcr", cfg.warmup_steps, 0, tcr_step)
    if cfg.one_shot_init:
        model.one_shot_init()
    train_phase("mlc", cfg.mlc_steps, cfg.warmup_steps, mlc_step)  # fresh Adam: the cluster head starts anew
    bar.close()

    model.eval()
    Z, C = embed(model, data, cfg.embed_batch)
    anchors = anchor_indices(len(data), cfg.anchors, seed)
    with torch.no_grad():
        gamma = membership(C[torch.as_tensor(anchors, device=C.device)], cfg.eta, cfg.sinkhorn_iters)
    return MLCFit(
        model=model,
        Z=Z.cpu().numpy(),
        C=C.cpu().numpy(),
        gamma=gamma.cpu().numpy(),
        anchors=anchors,
        history=history,
    )
