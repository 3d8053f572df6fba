"""cdvae-reconstruct: encode test crystals (posterior mean) and decode them by annealed Langevin dynamics."""

from __future__ import annotations

import json
import sys
import time

import mlflow
import numpy as np
import polars as pl
from tqdm import tqdm

from studies.cdvae.config import LangevinConfig
from studies.cdvae.crystal import CrystalArrays
from studies.cdvae.dataset import CrystalSet
from studies.cdvae.sample import reconstruct as decode
from studies.common.devices import resolve_device
from tasks.orchestration.stage_runner import StageContext
from tasks.stages.cdvae import modelio

PREDICTIONS = "predictions.parquet"


def to_table(material_ids: list[str], crystals: list[CrystalArrays]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "material_id": material_ids,
            "num_atoms": [len(c.atom_types) for c in crystals],
            "lengths": [c.lengths.tolist() for c in crystals],
            "angles": [c.angles.tolist() for c in crystals],
            "atom_types": [c.atom_types.astype(int).tolist() for c in crystals],
            "frac_coords": [c.frac_coords.ravel().tolist() for c in crystals],
        }
    )


def from_table(table: pl.DataFrame) -> list[CrystalArrays]:
    """Crystals from a predictions table, or from a prepared split (same columns)."""
    return [
        CrystalArrays(np.reshape(f, (-1, 3)), np.asarray(t), np.asarray(lengths), np.asarray(a))
        for f, t, lengths, a in zip(
            *(table[c].to_list() for c in ("frac_coords", "atom_types", "lengths", "angles"))
        )
    ]


def reconstruct(ctx: StageContext) -> None:
    p = ctx.params["reconstruct"]
    cfg = LangevinConfig.from_dict(p["langevin"])
    device = resolve_device(p["device"])
    mlflow.set_tag("device", str(device))
    model = modelio.load(ctx.inputs["train"], device)
    test = pl.read_parquet(ctx.inputs["prepared"] / "test.parquet")
    if p.get("n_crystals"):
        test = test.head(
            p["n_crystals"]
        )  # the split is already a seeded permutation: the head is a random sample
    crystals = CrystalSet(test)
    steps_per_batch = model.cfg.num_noise_level * cfg.n_step_each
    print(
        f"reconstructing {len(crystals)} test crystals: {model.cfg.num_noise_level} noise levels x "
        f"{cfg.n_step_each} Langevin steps, step_lr {cfg.step_lr}, batch {cfg.batch_size}"
    )
    bar = tqdm(
        total=-(-len(crystals) // cfg.batch_size), desc="cdvae reconstruct", unit="batch", file=sys.stderr
    )
    start = time.perf_counter()
    preds = decode(
        model, crystals, cfg, seed=p["seed"], device=device, on_batch=lambda done, total: bar.update()
    )
    seconds = time.perf_counter() - start
    bar.close()
    out = ctx.outputs["reconstruct"]
    out.mkdir(parents=True, exist_ok=True)
    to_table(crystals.material_ids, preds).write_parquet(out / PREDICTIONS)
    timing = {
        "n_crystals": len(crystals),
        "seconds": round(seconds, 1),
        "crystals_per_second": round(len(crystals) / seconds, 3),
        "decoder_calls_per_batch": steps_per_batch,
    }
    (out / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    mlflow.log_metrics(
        {"decode_seconds": seconds, "decode_crystals_per_second": timing["crystals_per_second"]}
    )
    print(
        f"decoded {len(crystals)} crystals in {seconds:.0f} s "
        f"({timing['crystals_per_second']:.2f} crystals/s)"
    )
