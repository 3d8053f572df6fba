"""The CDVAE pipeline end to end on the `ci` profile, against real Prefect and MLflow servers on 127.0.0.1:
what is particular to CDVAE (tests/e2e/test_study_runs.py checks what every study's run must show).

The last test (`slow`: about 3.5 minutes, most of it the stages after training, which run again) kills a
training run mid-way (SIGKILL to the whole `studies run` process group) and checks that the rerun resumes from
the checkpoint instead of starting over. The default run covers the same path in lighter tests: a resumed
CDVAE fit ends with the weights of an uninterrupted one (tests/studies/cdvae/test_cdvae_train.py), a stale
checkpoint is not resumed (tests/tasks/orchestration/test_resume.py), killed stages resume from their
finished fits (tests/tasks/stages/*/test_train_resume.py), and a worker killed mid-training is survived by a
resumed retry (tests/e2e/test_worker.py).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BIN
from tests.e2e.pipeline import experiment_runs, studies

pytestmark = pytest.mark.e2e

TERMS = ("loss", "natom", "lattice", "composition", "coord", "type", "kld")
RESULTS = Path("results") / "ci" / "cdvae"


@pytest.fixture(scope="module")
def run(ci_run: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    return ci_run("cdvae")


def _ci_params(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "params.yaml").read_text())["profiles"]["ci"]["cdvae"]


def test_the_run_wrote_metrics_cifs_and_a_report_beside_the_papers_tables(run: Any) -> None:
    root = run["root"]
    report = (root / "reports" / "cdvae.md").read_text()
    assert "val.csv[0.0:0.9]" in report, "the report does not state the split choice"
    assert "97.52" in report, "the report does not show the paper's Table 1 match rate beside ours"
    assert "## Generation" in report and "99.45" in report, (
        "the report does not show Table 2 beside the paper's"
    )
    assert "random baseline, this run" in report
    assert "the scale of the paper's Table 2" in report and "with one difference:" in report

    metrics = json.loads((root / RESULTS / "metrics.json").read_text())
    assert {
        "match_rate",
        "rmse",
        "n_test",
        "valid_rate",
        "composition_accuracy",
        "num_atoms_accuracy",
        "length_mae",
        "angle_mae",
    } <= set(metrics), metrics
    assert 0.0 <= metrics["match_rate"] <= 1.0 and 0.0 <= metrics["valid_rate"] <= 1.0, metrics
    assert metrics["n_test"] == 8, metrics

    structures = root / RESULTS / "structures"
    true = sorted(p.name for p in structures.glob("*-true.cif"))
    reconstructed = sorted(p.name for p in structures.glob("*-reconstructed.cif"))
    assert len(true) == 8, true
    assert 1 <= len(reconstructed) <= 8, reconstructed  # an invalid reconstruction has no CIF
    ids = {n.removesuffix("-true.cif") for n in true}
    assert {n.removesuffix("-reconstructed.cif") for n in reconstructed} <= ids
    assert all(p.read_text().startswith("# generated using pymatgen") for p in structures.glob("*.cif"))

    # generation: 8 samples as a table and CIFs, Table 2 for them and for the random baseline
    import polars as pl

    samples = pl.read_parquet(root / RESULTS / "generate" / "samples.parquet")
    assert samples.height == 8 and samples["material_id"].to_list() == [f"gen-{k:05d}" for k in range(8)]
    cifs = sorted(p.stem for p in (root / RESULTS / "generate" / "structures").glob("*.cif"))
    assert 1 <= len(cifs) <= 8 and set(cifs) <= set(samples["material_id"].to_list())
    generation = json.loads((root / RESULTS / "generation_metrics.json").read_text())
    assert generation["dataset"] == "perov_5" and generation["coverage_cutoffs"] == [0.2, 4.0]
    for method in ("cdvae", "random_baseline"):
        m = generation[method]
        assert m["n_generated"] == 8 and m["n_reference"] == 8, m
        for key in ("struct_valid", "comp_valid", "valid", "cov_recall", "cov_precision"):
            assert 0.0 <= m[key] <= 1.0, (method, key, m)
        assert m["n_property_samples"] == round(m["valid"] * 8), m
        if m["n_property_samples"]:
            assert all(m[k] >= 0.0 for k in ("wdist_density", "wdist_num_elems", "wdist_prop")), m
    per_sample = pl.read_parquet(root / RESULTS / "generation-tables" / "generated.parquet")
    assert per_sample.height == 8 and per_sample["valid"].sum() == generation["cdvae"]["n_property_samples"]
    prop = json.loads((root / RESULTS / "property-model" / "summary.json").read_text())
    assert prop["property"] == "heat_ref" and prop["dataset"] == "perov_5" and prop["test_mae"] >= 0.0


def test_mlflow_holds_stage_metrics_artifacts_and_a_loadable_model(run: Any) -> None:
    client, root, parent = run["mlflow"], run["root"], run["parent"]
    children = {
        r.data.tags["stage"]: r
        for r in experiment_runs(client, "cdvae")
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }

    # prepare records which rows trained the model
    assert children["prepare"].data.tags["cdvae.train_split"] == "val.csv[0.0:0.9]"
    assert children["prepare"].data.tags["cdvae.dataset"] == "perov_5"

    # train: one point per epoch for every loss term, train and validation
    train = children["train"]
    epochs = _ci_params(root)["train"]["optim"]["epochs"]
    assert epochs == 3
    for split in ("train", "val"):
        for term in TERMS:
            history = client.get_metric_history(train.info.run_id, f"{split}/{term}")
            assert sorted(m.step for m in history) == list(range(epochs)), (
                f"{split}/{term}",
                [m.step for m in history],
            )
            assert all(math.isfinite(m.value) for m in history), f"{split}/{term}"
    assert train.data.tags["cdvae.resumed_from_step"] == "None"
    checkpoint = {Path(a.path).name for a in client.list_artifacts(train.info.run_id, "checkpoint")}
    assert {"model.pt", "model.json", "history.parquet", "summary.json"} <= checkpoint, checkpoint
    cifs = {Path(a.path).name for a in client.list_artifacts(children["evaluate"].info.run_id, "structures")}
    assert cifs == {p.name for p in (root / RESULTS / "structures").glob("*.cif")}
    assert 0.0 <= parent.data.metrics["match_rate"] <= 1.0  # the study's DVC metrics land on the parent run
    assert 0.0 <= parent.data.metrics["cdvae/cov_recall"] <= 1.0
    generate = children["generate"]
    assert generate.data.tags["device"] == "cpu" and generate.data.metrics["generate_crystals_per_second"] > 0
    generated = {Path(a.path).name for a in client.list_artifacts(generate.info.run_id, "generated")}
    assert {"samples.parquet", "structures"} <= generated, generated
    scored = children["evaluate-generation"].data.metrics
    assert {"cdvae/struct_valid", "cdvae/cov_recall", "random_baseline/struct_valid"} <= set(scored), sorted(
        scored
    )
    property_run = children["train-property-model"]
    assert property_run.data.metrics["test_mae"] >= 0.0
    assert [
        m.name
        for m in client.search_logged_models(
            [property_run.info.experiment_id], filter_string=f"source_run_id = '{property_run.info.run_id}'"
        )
    ] == ["property-model"]

    # the logged model loads back (pickled with its code) and reconstructs a real test batch
    models = client.search_logged_models(
        [train.info.experiment_id], filter_string=f"source_run_id = '{train.info.run_id}'"
    )
    assert [m.name for m in models] == ["cdvae"]
    import mlflow.pytorch
    import polars as pl
    import torch

    from studies.cdvae.config import LangevinConfig
    from studies.cdvae.dataset import CrystalSet
    from studies.cdvae.sample import langevin_decode

    mlflow.set_tracking_uri(client.tracking_uri)
    model = mlflow.pytorch.load_model(f"models:/{models[0].model_id}")
    assert type(model).__name__ == "CDVAE" and isinstance(model, torch.nn.Module)
    model.eval()
    batch = CrystalSet(pl.read_parquet(root / RESULTS / "prepared" / "test.parquet")).batch(torch.arange(4))
    torch.manual_seed(0)
    with torch.no_grad():
        mu, log_var, z = model.encode(batch)
        stats = model.decode_stats(mu)
    latent = model.cfg.latent_dim
    assert mu.shape == log_var.shape == z.shape == (4, latent)
    assert stats.lengths.shape == stats.angles.shape == (4, 3)
    assert stats.num_atoms_logits.shape == (4, model.cfg.max_atoms + 1)
    decoded = langevin_decode(
        model, mu, LangevinConfig(n_step_each=1, batch_size=4), torch.Generator().manual_seed(0)
    )
    n_atoms = int(decoded["num_atoms"].sum())
    assert decoded["num_atoms"].shape == (4,) and (decoded["num_atoms"] >= 1).all()
    assert decoded["frac_coords"].shape == (n_atoms, 3) and decoded["atom_types"].shape == (n_atoms,)
    assert torch.isfinite(decoded["frac_coords"]).all() and torch.isfinite(decoded["lengths"]).all()


def test_generate_and_evaluate_cifs_commands(run: Any, tmp_path: Path) -> None:
    """`studies cdvae generate` on the trained model, then `studies cdvae evaluate-cifs` on its CIFs; generate
    refuses to overwrite what it wrote. evaluate-cifs' refusals (an existing --out, a reference not ingested)
    need no trained model: tests/tasks/stages/cdvae/test_cli.py has them."""
    root, env = run["root"], run["env"]
    out = tmp_path / "samples"
    made = studies(
        root, env, "cdvae", "generate", "--n", "3", "--profile", "ci", "--out", str(out), "--steps", "2"
    )
    assert f"3 crystals in {out}" in made.stdout, made.stdout[-3000:]
    import polars as pl

    assert pl.read_parquet(out / "samples.parquet").height == 3
    assert json.loads((out / "timing.json").read_text())["n_crystals"] == 3
    again = studies(
        root, env, "cdvae", "generate", "--n", "3", "--profile", "ci", "--out", str(out), check=False
    )
    assert again.returncode != 0 and "already holds files" in again.stderr

    from studies.cdvae.crystal import write_cifs
    from studies.cdvae.data import structures_from_table

    folder = tmp_path / "cifs"  # four crystals of the reference itself: each is covered, and covers itself
    write_cifs(
        {
            f"t{k}": s
            for k, s in enumerate(
                structures_from_table(
                    pl.read_parquet(root / "data" / "cdvae" / "perov_5" / "test.parquet").head(4)
                )
            )
        },
        folder,
    )
    # a disordered CIF: no ordered crystal can be built from it, so it is scored invalid and named
    from pymatgen.core import Lattice, Structure

    write_cifs({"alloy": Structure(Lattice.cubic(4.0), [{"Fe": 0.5, "Ni": 0.5}], [[0, 0, 0]])}, folder)
    report = tmp_path / "metrics.json"
    scored = studies(
        root,
        env,
        "cdvae",
        "evaluate-cifs",
        str(folder),
        "--reference",
        "perov_5",
        "--profile",
        "ci",
        "--out",
        str(report),
        "--reference-limit",
        "16",
    )
    metrics = json.loads(report.read_text())
    assert metrics["reference"] == "perov_5" and metrics["n_generated"] == 5
    assert metrics["composition_scale"] == "upstream"  # the paper's scale by default
    assert metrics["n_unbuildable"] == 1 and list(metrics["unbuildable"]) == ["alloy"]
    assert "alloy.cif: no crystal could be built from it, scored invalid" in scored.stderr
    assert metrics["n_reference"] == 16  # the first 16 of the ingested test split
    assert metrics["valid"] == 4 / 5  # the alloy counts against validity ...
    assert metrics["cov_precision"] == 4 / 5 and metrics["cov_recall"] >= 4 / 16, metrics  # ... and precision
    assert metrics["wdist_prop"] is not None, metrics  # the ci property model was trained on perov_5
    assert "cov_recall" in scored.stdout


def _tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


@pytest.mark.slow
def test_killed_training_resumes_from_its_checkpoint(run: Any, tmp_path: Path) -> None:
    """SIGKILL the whole `studies run` mid-training; the rerun continues at the checkpointed step."""
    root, env = run["root"], run["env"]
    epochs = 15  # the kill lands after 3 checkpoint rewrites, near epoch 4: 11 epochs of margin, few to rerun
    args = [
        "run",
        "cdvae",
        "--profile",
        "ci",
        "--set",
        f"cdvae.train.optim.epochs={epochs}",
        "--set",
        "cdvae.train.optim.checkpoint_every=1",
    ]
    state, last = root / RESULTS / "train-state", root / RESULTS / "train-state" / "last.pt"
    summary = root / RESULTS / "train" / "summary.json"
    assert not state.exists(), "the first run left its training state behind"

    stdout, stderr = tmp_path / "killed.out", tmp_path / "killed.err"
    started = time.time()
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(
            [str(BIN / "studies"), *args], cwd=root, env=env, stdout=out, stderr=err, start_new_session=True
        )
    try:
        rewrites, seen, deadline = 0, None, time.monotonic() + 900
        while rewrites < 3:
            assert proc.poll() is None, (
                f"`studies {' '.join(args)}` ended (exit {proc.returncode}) before it was killed:\n"
                f"{_tail(stdout)}\n{_tail(stderr)}"
            )
            assert time.monotonic() < deadline, (
                f"no checkpoint rewritten 3 times in 900 s:\n{_tail(stdout)}\n{_tail(stderr)}"
            )
            try:
                stamp = (last.stat().st_ino, last.stat().st_mtime_ns)
            except FileNotFoundError:
                stamp = None
            if stamp is not None and stamp != seen:
                rewrites += seen is not None
                seen = stamp
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, _tail(stdout), _tail(stderr))
    assert last.is_file(), "the killed run left no checkpoint"
    assert not summary.exists() or summary.stat().st_mtime < started, "the killed run finished training"

    rerun = studies(root, env, *args)
    output = rerun.stdout + rerun.stderr
    found = re.search(r"resuming from \S+ at epoch (\d+), step (\d+)", output)
    assert found, f"the rerun did not resume:\n{output[-6000:]}"
    resumed_epoch, resumed_step = int(found[1]), int(found[2])
    assert resumed_step > 0 and resumed_epoch < epochs, found[0]
    assert "| cdvae-prepare | cached |" in rerun.stdout, rerun.stdout[-4000:]
    assert "| cdvae-train | ran |" in rerun.stdout, rerun.stdout[-4000:]

    import polars as pl

    optim = _ci_params(root)["train"]["optim"]
    assert (
        optim["epochs"] == epochs and optim["checkpoint_every"] == 1
    )  # --set wrote the overrides to params.yaml
    n_train = pl.read_parquet(root / RESULTS / "prepared" / "train.parquet").height
    per_epoch = -(-n_train // optim["batch_size"])
    assert per_epoch == 3  # 48 train crystals in batches of 16

    result = json.loads(summary.read_text())
    assert result["resumed_from_step"] == resumed_step > 0, result
    assert result["epochs"] == epochs and result["steps"] == epochs * per_epoch, result
    history = pl.read_parquet(root / RESULTS / "train" / "history.parquet")
    assert history["epoch"].to_list() == list(range(epochs)), history["epoch"].to_list()
    assert history["step"].to_list() == [(e + 1) * per_epoch for e in range(epochs)], history[
        "step"
    ].to_list()
    assert not state.exists(), f"{state} was not removed after training succeeded"

    # MLflow: the resumed train run says where it resumed from; the report says so too
    client = run["mlflow"]
    train_runs = [
        r
        for r in experiment_runs(client, "cdvae")
        if r.data.tags.get("stage") == "train" and r.info.status == "FINISHED"
    ]
    resumed_run = train_runs[-1]
    assert resumed_run.data.tags["cdvae.resumed_from_step"] == str(resumed_step)
    logged = {m.step for m in client.get_metric_history(resumed_run.info.run_id, "train/loss")}
    assert logged == set(range(epochs)), sorted(
        logged
    )  # the crashed attempt's epochs too, so the curve is whole
    assert f"| resumed from step | {resumed_step} |" in (root / "reports" / "cdvae.md").read_text()
