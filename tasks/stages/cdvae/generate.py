"""cdvae-generate (and `studies generate`): sample new crystals from the trained CDVAE by annealed Langevin
dynamics.

Writes `samples.parquet` (one row per crystal, the predictions-table columns), one CIF per
crystal that forms a cell (`structures/`), and `timing.json` (crystals/s on which device).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import mlflow
from tqdm import tqdm

from studies.cdvae.config import LangevinConfig
from studies.cdvae.crystal import build_structure, write_cifs
from studies.cdvae.model import CDVAE
from studies.cdvae.sample import generate as sample
from studies.common.devices import resolve_device
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.cdvae import modelio
from tasks.stages.cdvae.reconstruct import to_table

SAMPLES, STRUCTURES, TIMING = "samples.parquet", "structures", "timing.json"


def generate_to(model: CDVAE, n: int, cfg: LangevinConfig, seed: int, out: Path, device_name: str) -> dict:
    """Generate `n` crystals into `out` (samples table, CIFs, timing); returns the timing record."""
    print(
        f"generating {n} crystals: z ~ N(0, I), {model.cfg.num_noise_level} noise levels x {cfg.n_step_each} "
        f"Langevin steps, step_lr {cfg.step_lr}, batch {cfg.batch_size}, seed {seed}, on {device_name}"
    )
    bar = tqdm(total=-(-n // cfg.batch_size), desc="cdvae generate", unit="batch", file=sys.stderr)
    start = time.perf_counter()
    crystals = sample(
        model, n, cfg, seed, device=next(model.parameters()).device, on_batch=lambda done, total: bar.update()
    )
    seconds = time.perf_counter() - start
    bar.close()
    out.mkdir(parents=True, exist_ok=True)
    ids = [f"gen-{k:05d}" for k in range(n)]
    to_table(ids, crystals).write_parquet(out / SAMPLES)
    write_cifs({i: build_structure(c) for i, c in zip(ids, crystals)}, out / STRUCTURES)
    timing = {
        "n_crystals": n,
        "seconds": round(seconds, 1),
        "crystals_per_second": round(n / seconds, 3),
        "device": device_name,
        "batch_size": cfg.batch_size,
        "decoder_calls_per_batch": model.cfg.num_noise_level * cfg.n_step_each,
    }
    (out / TIMING).write_text(json.dumps(timing, indent=2) + "\n")
    print(f"generated {n} crystals in {seconds:.0f} s ({timing['crystals_per_second']:.2f} crystals/s)")
    return timing


def generate(ctx: StageContext) -> None:
    p = ctx.params["generate"]
    device = resolve_device(p["device"])
    model = modelio.load(ctx.inputs["train"], device)
    out = ctx.outputs["generate"]
    timing = generate_to(
        model, p["n_samples"], LangevinConfig.from_dict(p["langevin"]), p["seed"], out, str(device)
    )
    mlflow.set_tag("device", str(device))
    mlflow.log_metrics(
        {"generate_seconds": timing["seconds"], "generate_crystals_per_second": timing["crystals_per_second"]}
    )
    mlflow.log_artifact(str(out / SAMPLES), "generated")
    mlflow.log_artifacts(str(out / STRUCTURES), "generated/structures")
