"""Fit one network of the study, in its full space (d = 0) or in a random d-dimensional subspace.

Objective per mini-batch: mean cross-entropy + λ·Σ kernel² over the current weights θ (Keras' l2, as the
reference code; see config.py). One seed fixes three independent random streams: θ₀, P and the batch order.
θ₀ depends on the seed alone, so at one seed every d (and the full-space baseline) starts from the same
network and only the subspace differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from studies.intdim.config import IntDimConfig
from studies.intdim.models import build, n_params
from studies.intdim.projections import make_projection
from studies.intdim.subspace import SubspaceModel

EpochCallback = Callable[[dict[str, Any]], None]


@dataclass
class Trained:
    """The fitted model (a SubspaceModel, or the plain network for d = 0), per-epoch history and timings."""

    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    train_seconds: float = 0.0  # optimisation steps only, not evaluation

    @property
    def seconds_per_step(self) -> float:
        return self.train_seconds / max(self.steps, 1)


def streams(seed: int) -> tuple[int, int, int]:
    """Independent seeds for θ₀, P and the batch order, derived from one run seed."""
    init, projection, batches = (int(s) for s in np.random.SeedSequence(seed).generate_state(3))
    return init, projection, batches


def make_model(cfg: IntDimConfig, input_shape: tuple[int, ...], seed: int) -> nn.Module:
    """θ₀ for `seed`, wrapped in its random subspace unless cfg.d = 0."""
    init_seed, projection_seed, _ = streams(seed)
    net = build(cfg.arch, input_shape, cfg.width, cfg.depth, cfg.n_classes, init_seed)
    if cfg.full_space:
        return net
    return SubspaceModel(net, make_projection(cfg.projection, n_params(net), cfg.d, projection_seed))


def forward(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Logits and the weights θ they were computed with (the L2 term needs them; computed once)."""
    if isinstance(model, SubspaceModel):
        theta = model.theta()
        return functional_call(model.net, theta, (x,)), theta
    return model(x), dict(model.named_parameters())


def kernel_l2(theta: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ w² over the kernels (weights, not biases)."""
    return sum(p.square().sum() for name, p in theta.items() if name.endswith("weight"))


def make_optimizer(cfg: IntDimConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, cfg.beta2), eps=1e-8)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    net = model.materialize() if isinstance(model, SubspaceModel) else model
    correct = sum(
        int((net(xb).argmax(1) == yb).sum()) for xb, yb in zip(X.split(batch_size), y.split(batch_size))
    )
    return correct / len(y)


def fit(
    cfg: IntDimConfig,
    split: dict[str, np.ndarray],
    seed: int,
    device: torch.device = torch.device("cpu"),
    on_epoch: EpochCallback | None = None,
) -> Trained:
    """Train on split["X_train"], split["y_train"] (float32 N×C×H×W, int labels) and score every epoch on
    the test set; the last epoch's test accuracy is the run's result, as in the reference code."""
    X, y, X_test, y_test = (
        torch.as_tensor(split[k], device=device) for k in ("X_train", "y_train", "X_test", "y_test")
    )
    y, y_test = y.long(), y_test.long()
    model = make_model(cfg, tuple(X.shape[1:]), seed).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(cfg, trainable)
    generator = torch.Generator().manual_seed(streams(seed)[2])
    trained = Trained(model)
    for epoch in range(cfg.epochs):
        model.train()
        loss_sum, correct, start = 0.0, 0, time.perf_counter()
        for index in torch.randperm(len(y), generator=generator).to(device).split(cfg.batch_size):
            logits, theta = forward(model, X[index])
            loss = F.cross_entropy(logits, y[index])
            if cfg.l2:
                loss = loss + cfg.l2 * kernel_l2(theta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(index)
            correct += int((logits.argmax(1) == y[index]).sum())
            trained.steps += 1
        trained.train_seconds += time.perf_counter() - start
        model.eval()
        record = {
            "epoch": epoch + 1,
            "loss": loss_sum / len(y),
            "train_acc_running": correct / len(y),  # during the epoch, as the reference code logs it
            "test_acc": accuracy(model, X_test, y_test, cfg.eval_batch_size),
        }
        trained.history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return trained


def trained_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """What a run needs to keep: θ_d alone for a subspace run (θ₀ and P regrow from the seed), the whole
    state for a full-space one."""
    if isinstance(model, SubspaceModel):
        return {"theta_d": model.theta_d.detach().cpu()}
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def load_model(
    cfg: IntDimConfig, input_shape: tuple[int, ...], seed: int, weights: dict[str, torch.Tensor]
) -> nn.Module:
    """The fitted model of (cfg, seed) from `trained_weights`, in eval mode."""
    model = make_model(cfg, input_shape, seed)
    if isinstance(model, SubspaceModel):
        with torch.no_grad():
            model.theta_d.copy_(weights["theta_d"])
    else:
        model.load_state_dict(weights)
    return model.eval()


def fit_job(job: dict[str, Any]) -> dict[str, Any]:
    """One (run, seed) of a sweep, in a worker process: scores, history, timings and weights as plain data.
    Keys in: config, seed, split (the four arrays), and optionally run, threads, device. `train_acc` is
    scored on the whole training set after the last epoch: the shuffled-label condition's metric."""
    torch.set_num_threads(job.get("threads", 1))
    cfg = IntDimConfig.from_dict(job["config"])
    device = torch.device(job.get("device", "cpu"))
    trained = fit(cfg, job["split"], job["seed"], device)
    X_train = torch.as_tensor(job["split"]["X_train"], device=device)
    y_train = torch.as_tensor(job["split"]["y_train"], device=device).long()
    return {
        "run": job.get("run"),
        "seed": job["seed"],
        "d": cfg.d,
        "D": n_params(trained.model.net if isinstance(trained.model, SubspaceModel) else trained.model),
        "test_acc": trained.history[-1]["test_acc"],
        "train_acc": accuracy(trained.model, X_train, y_train, cfg.eval_batch_size),
        "history": trained.history,
        "steps": trained.steps,
        "train_seconds": trained.train_seconds,
        "seconds_per_step": trained.seconds_per_step,
        "weights": trained_weights(trained.model),
    }
