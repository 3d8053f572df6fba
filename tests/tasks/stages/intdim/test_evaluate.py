"""intdim-evaluate and intdim-report on a hand-made sweep whose crossings are known: the d_int90 table under
both definitions, the verdicts on the paper's claims and the target, and the report that states them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import mlflow
import polars as pl
import pytest

from studies.intdim.config import IntDimConfig
from tests.tasks.stages.conftest import Stages

NOISE = (-0.002, 0.0, 0.002)  # seed to seed: the means are the curves below
FC_CURVE = {
    0: 0.96,
    400: 0.84,
    800: 0.88,
    1600: 0.91,
}  # relative 0.864 at 400·2^0.6; fixed 0.9 at 800·2^(2/3)
LENET_CURVE = {0: 0.97, 150: 0.85, 300: 0.90, 600: 0.93}  # relative 0.873 at 150·2^0.46; fixed 0.9 at 300
PIXELS_CURVE = {0: 0.90, 400: 0.70, 800: 0.80, 1600: 0.85}  # relative 0.81 at 800·2^0.2; fixed 0.9 never
NETWORKS = {  # name: (arch, width, depth, shuffle, D, curve)
    "fc-50x1": ("fc", 50, 1, "none", 39_760, FC_CURVE),
    "fc-100x3": ("fc", 100, 3, "none", 99_710, FC_CURVE),
    "fc-200x2": ("fc", 200, 2, "none", 199_210, FC_CURVE),
    "lenet": ("lenet", 200, 2, "none", 44_426, LENET_CURVE),
    "lenet-pixels": ("lenet", 200, 2, "pixels", 44_426, PIXELS_CURVE),
    "fc-200x2-pixels": ("fc", 200, 2, "pixels", 199_210, FC_CURVE),
}
DATA = {
    "copy": {"source": "canonical", "files": {}},
    "n_train": 10_000,
    "n_test": 10_000,
    "available": {"train": 60_000, "test": 10_000},
    "input_shape": [1, 28, 28],
    "scale": 255,
    "shuffle_seed": 0,
}


def trained(folder: Path) -> Path:
    """A train output folder as intdim-train writes it (the parts evaluate reads), for NETWORKS."""
    folder.mkdir(parents=True)
    rows, networks = [], {}
    for name, (arch, width, depth, shuffle, D, accuracy) in NETWORKS.items():
        rows += [
            {
                "network": name,
                "d": d,
                "seed": seed,
                "shuffle": shuffle,
                "test_acc": acc + noise,
                "train_acc": 1.0,
            }
            | {"seconds": 1.0}
            for d, acc in accuracy.items()
            for seed, noise in enumerate(NOISE)
        ]
        cfg = IntDimConfig(arch=arch, width=width, depth=depth, shuffle=shuffle, epochs=8, lr=0.03).to_dict()
        networks[name] = {
            "dataset": "mnist",
            "data": DATA,
            "dims": [d for d in accuracy if d],
            "D": D,
            "subspace": cfg | {"d": None},
            "full_space": cfg | {"d": 0, "lr": 0.001},
        }
    pl.DataFrame(rows).write_parquet(folder / "records.parquet")
    (folder / "networks.json").write_text(json.dumps(networks))
    return folder


@pytest.fixture
def evaluated(stages: Stages) -> dict[str, Any]:
    results = stages.root / "results" / "ci" / "intdim"
    outputs = {
        "tables": results / "tables",
        "figures": results / "figures",
        "metrics": results / "metrics.json",
    }
    params = stages.params("intdim")
    run = stages.run("intdim", "evaluate", params, {"train": trained(stages.root / "train")}, outputs)
    return {
        "stages": stages,
        "params": params,
        "outputs": outputs,
        "run": run,
        "metrics": json.loads(outputs["metrics"].read_text()),
        "summary": json.loads((outputs["tables"] / "summary.json").read_text()),
    }


def test_d_int90_under_both_definitions_is_the_crossing_of_the_mean_curve(evaluated: dict[str, Any]) -> None:
    fc, lenet, pixels = (evaluated["metrics"][n] for n in ("fc-200x2", "lenet", "lenet-pixels"))
    assert fc["baseline_mean"] == pytest.approx(0.96) and fc["D"] == 199_210 and fc["n_seeds"] == 3
    assert fc["relative"]["threshold"] == pytest.approx(0.864) and fc["fixed"]["threshold"] == pytest.approx(
        0.9
    )
    assert fc["relative"]["d_int90"] == 800 and fc["fixed"]["d_int90"] == 1600
    assert fc["relative"]["d_int90_interpolated"] == pytest.approx(400 * 2**0.6)
    assert fc["fixed"]["d_int90_interpolated"] == pytest.approx(800 * 2 ** (2 / 3))
    assert fc["relative"]["low"] < 400 * 2**0.6 < fc["relative"]["high"] < 800
    assert lenet["fixed"]["d_int90"] == 300 and lenet["fixed"]["d_int90_interpolated"] == pytest.approx(300)
    assert lenet["relative"]["d_int90_interpolated"] == pytest.approx(150 * 2 ** (0.023 / 0.05))
    assert pixels["relative"]["d_int90_interpolated"] == pytest.approx(800 * 2**0.2)
    # never reached: no value, the interval unbounded (None in JSON), every replicate unresolved
    assert pixels["fixed"]["d_int90"] is None and pixels["fixed"]["d_int90_interpolated"] is None
    assert pixels["fixed"]["high"] is None and pixels["fixed"]["unresolved"] == 1.0
    assert fc["d_int100"] is None  # 0.91 at the largest d is far below 0.96


def test_the_claims_and_the_target_are_judged_from_those_numbers(evaluated: dict[str, Any]) -> None:
    claims, summary = evaluated["metrics"]["claims"], evaluated["summary"]
    assert claims == {d: {"relative": True, "fixed": True} for d in "abc"}
    assert "×1.00" in summary["claims"]["a"]["relative"]["measured"]
    assert "ratio 0.34" in summary["claims"]["b"]["relative"]["measured"]  # 206 / 606
    assert "at least" in summary["claims"]["c"]["fixed"]["measured"]  # shuffled LeNet never reached 0.9
    target = evaluated["metrics"]["target"]
    assert target["met"] is False and target["ratio"] == pytest.approx(800 * 2 ** (2 / 3) / 750)
    assert summary["target"]["network"] == "fc-200x2" and summary["target"]["ours_grid"] == 1600


def test_mlflow_and_dvc_get_finite_numbers_and_the_figures(evaluated: dict[str, Any]) -> None:
    logged = mlflow.MlflowClient().get_run(evaluated["run"]).data.metrics
    assert logged["fc-200x2/fixed/d_int90"] == 1600 and logged["claims/b/relative"] == 1.0
    assert "lenet-pixels/fixed/d_int90" not in logged and all(math.isfinite(v) for v in logged.values())
    figures = sorted(p.name for p in evaluated["outputs"]["figures"].glob("*.png"))
    assert figures == sorted(["d_int90.png", *(f"accuracy-{n}.png" for n in NETWORKS)])
    sweep = pl.read_parquet(evaluated["outputs"]["tables"] / "sweep.parquet")
    assert sweep.filter((pl.col("network") == "lenet") & (pl.col("d") == 300))["test_acc_mean"][
        0
    ] == pytest.approx(0.9)


def test_the_report_puts_the_papers_values_beside_ours_and_says_they_are_not_comparable(
    evaluated: dict[str, Any],
) -> None:
    stages, outputs = evaluated["stages"], evaluated["outputs"]
    stages.version_data()
    report = stages.root / "reports" / "intdim.md"
    inputs = {"tables": outputs["tables"], "figures": outputs["figures"]}
    stages.run(
        "intdim",
        "report",
        evaluated["params"],
        inputs,
        {"report": report, "figures": report.parent / "figures" / "intdim"},
    )
    text = report.read_text()
    assert "**Not comparable with the paper's numbers.**" in text
    assert "paper's d_int90 (Table 1), not comparable" in text and "| 750 (reference notebook) |" in text
    assert "| 290 (reference notebook) |" in text and "| 1,400 (reference notebook) |" in text
    assert "Li, Farkhoor, Liu & Yosinski (2018)" in text and "Table 1" in text
    assert "| mnist train images | 10,000 | 60,000 |  |" in text
    assert "| epochs | 8 | 100 | every run |" in text
    assert "| lr | 0.03 | 0.001 | fc-50x1 (θ_d), fc-100x3 (θ_d), fc-200x2 (θ_d), lenet (θ_d) |" in text
    assert (
        "| optimizer | adam | sgd | lenet-pixels (θ_d), lenet-pixels (full space), fc-200x2-pixels (θ_d)"
        in text
    )
    assert "| mnist | labels | fc | 959,610 | 190,000 | reference notebook |" in text  # all of Table 1 too
    assert "| 800 / 606 [" in text and "> grid (threshold 0.900)" in text
    assert "**missed**" in text and "1,270 (+69%); grid value 1,600" in text
    assert text.count("**shown**") == 6
    for line in (line for line in text.splitlines() if line.startswith("![")):
        assert (report.parent / line.split("(")[1].rstrip(")")).is_file(), line
