"""Fit one network of the study: the ELBO for VI/SSVI (with SSVI's support updates), cross-entropy otherwise.

Objective per mini-batch (Li et al. 2024, eq. 2, as a loss): mean NLL + β_t·KL(q‖p)/N_train, where β_t ramps
linearly from 0 to `kl_scale` over the first `kl_warmup` of training (β = 1 is the ELBO itself). Adam, with
its own learning rate for ρ: with ρ on μ's learning rate, σ = softplus(ρ) cannot travel from its 1e-3 start to
the ELBO's optimum within the run (ANCHORS.md), so the posterior variance would be set by the step size
(`optimizer: sgd` with momentum is the reference code's choice, used by the `paper` profile). Weight decay
acts on everything but ρ, and both learning rates follow `lr_schedule` (cosine: to 0 at the last step, as
the reference code anneals them), so after SSVI's last support update the step size, and with it the drift
of σ, dies away.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studies.ssvi import flops as flops_mod
from studies.ssvi.config import SSVIConfig
from studies.ssvi.layers import bayesian_layers, total_kl
from studies.ssvi.models import LayerFactory, build
from studies.ssvi.sparsity import update_fraction, update_support

EpochCallback = Callable[[dict[str, Any]], None]


@dataclass
class Trained:
    """The fitted network(s) (several for a deep ensemble), per-epoch history and the analytic training
    cost."""

    models: list[nn.Module]
    history: list[dict[str, Any]] = field(default_factory=list)
    train_flops: float = 0.0
    seconds: float = 0.0


def make_model(cfg: SSVIConfig, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    kind = "bayesian" if cfg.bayesian else ("dropout" if cfg.method == "dropout" else "deterministic")
    torch.manual_seed(seed)  # deterministic layers draw their init from the global RNG
    factory = LayerFactory(
        kind,
        density=cfg.density if cfg.bayesian else 1.0,
        prior_std=cfg.prior_std,
        init_sigma=cfg.init_sigma,
        dropout=cfg.dropout,
        generator=generator,
        dense_first=cfg.dense_first_layer,
    )
    return build(cfg.arch, factory, cfg.input_shape, cfg.n_classes, cfg.width)


def fit(
    cfg: SSVIConfig,
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    device: torch.device = torch.device("cpu"),
    on_epoch: EpochCallback | None = None,
) -> Trained:
    """Train `cfg.method` on (X, y) under `seed`; a deep ensemble trains `ensemble_size` members on seeds
    seed·100+i."""
    start = time.perf_counter()
    if cfg.method == "ensemble":
        members = [
            _fit_one(cfg, X, y, seed * 100 + i, device, on_epoch if i == 0 else None)
            for i in range(cfg.ensemble_size)
        ]
        return Trained(
            [m.models[0] for m in members],
            members[0].history,
            sum(m.train_flops for m in members),
            time.perf_counter() - start,
        )
    trained = _fit_one(cfg, X, y, seed, device, on_epoch)
    trained.seconds = time.perf_counter() - start
    return trained


def _fit_one(
    cfg: SSVIConfig,
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    device: torch.device,
    on_epoch: EpochCallback | None,
) -> Trained:
    model = make_model(cfg, seed).to(device)
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device).view(-1, *cfg.input_shape)
    y_t = torch.as_tensor(y, dtype=torch.long, device=device)
    n = len(y_t)
    rho = [p for name, p in model.named_parameters() if name.endswith("weight_rho")]
    rest = [p for name, p in model.named_parameters() if not name.endswith("weight_rho")]
    groups = [
        {"params": rest, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
        {"params": rho, "lr": cfg.lr_rho, "weight_decay": 0.0},
    ]
    optimizer = (
        torch.optim.SGD(groups, momentum=cfg.momentum) if cfg.optimizer == "sgd" else torch.optim.Adam(groups)
    )
    batches = math.ceil(n / cfg.batch_size)
    total_steps = cfg.epochs * batches
    warmup_steps = int(cfg.kl_warmup * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: lr_factor(cfg.lr_schedule, t, total_steps)
    )
    t_end = int(cfg.t_end * total_steps)
    shape = cfg.input_shape
    step_flops = 3 * flops_mod.forward_flops(model, shape)
    dense_grad_flops = flops_mod.forward_flops(model, shape, dense=True) // 2 if cfg.bayesian else 0
    layers = bayesian_layers(model)
    generator = torch.Generator().manual_seed(seed)
    trained, t = Trained([model]), 0
    for epoch in range(cfg.epochs):
        model.train()
        nll_sum, correct, swapped = 0.0, 0, 0
        for index in torch.randperm(n, generator=generator).to(device).split(cfg.batch_size):
            update = cfg.method == "ssvi" and t > 0 and t % cfg.update_every == 0 and t < t_end
            for layer in layers:
                layer.keep_mean_weight = update
            logits = model(X_t[index])
            nll = F.cross_entropy(logits, y_t[index])
            beta = cfg.kl_scale * min(1.0, t / warmup_steps) if warmup_steps else cfg.kl_scale
            loss = nll + beta * total_kl(model) / n if cfg.bayesian else nll
            optimizer.zero_grad(set_to_none=False)
            loss.backward()
            optimizer.step()
            scheduler.step()
            trained.train_flops += len(index) * step_flops
            if update:
                fraction = update_fraction(t, t_end, cfg.alpha)
                for layer in layers:
                    swapped += update_support(
                        layer, layer.last_mean_weight.grad, fraction, cfg.criterion, optimizer
                    )
                    layer.last_mean_weight = None
                trained.train_flops += len(index) * dense_grad_flops
            nll_sum += nll.item() * len(index)
            correct += int((logits.argmax(1) == y_t[index]).sum())
            t += 1
        record = {
            "epoch": epoch + 1,
            "nll": nll_sum / n,
            "train_acc": correct / n,
            "swapped": swapped,
            **posterior_summary(model, n),
        }
        if "kl_per_example" in record:  # the negative ELBO per example, with the KL at full weight
            record["neg_elbo"] = record["nll"] + record["kl_per_example"]
        trained.history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    for layer in layers:
        layer.keep_mean_weight = False
    return trained


def lr_factor(schedule: str, t: int, total_steps: int) -> float:
    """The learning rates' multiplier after t steps: 1 throughout (constant) or ½(1 + cos(πt/T)) (cosine)."""
    if schedule == "constant":
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * min(t, total_steps) / total_steps))


def posterior_summary(model: nn.Module, n_train: int) -> dict[str, float]:
    """Mean σ over the support and KL/N_train: the two numbers that show whether the variance was learned."""
    layers = bayesian_layers(model)
    if not layers:
        return {}
    with torch.no_grad():
        sigmas = torch.cat([layer.sigma[layer.mask.bool()] for layer in layers])
        return {"mean_sigma": float(sigmas.mean()), "kl_per_example": float(total_kl(model)) / n_train}


def fit_job(job: dict[str, Any]) -> dict[str, Any]:
    """One (run, seed) of a study grid, in a worker process: the fitted weights, history and cost as plain
    data."""
    torch.set_num_threads(job.get("threads", 1))
    cfg = SSVIConfig.from_dict(job["config"])
    trained = fit(cfg, job["X"], job["y"], job["seed"], torch.device(job.get("device", "cpu")))
    return {
        "run": job["run"],
        "seed": job["seed"],
        "state_dicts": [{k: v.cpu() for k, v in m.state_dict().items()} for m in trained.models],
        "history": trained.history,
        "train_flops": trained.train_flops,
        "seconds": trained.seconds,
    }


def load_models(cfg: SSVIConfig, seed: int, state_dicts: list[dict[str, torch.Tensor]]) -> list[nn.Module]:
    """Rebuild the fitted network(s) of a (config, seed): masks are buffers, so the support comes back too."""
    seeds = [seed * 100 + i for i in range(len(state_dicts))] if cfg.method == "ensemble" else [seed]
    models = []
    for member_seed, state in zip(seeds, state_dicts):
        model = make_model(cfg, member_seed)
        model.load_state_dict(state)
        models.append(model.eval())
    return models
