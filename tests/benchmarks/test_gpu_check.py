"""benchmarks/gpu_check.py, the device machine's CDVAE check, in its CPU smoke mode: it must run without
pymatgen, polars and smact (the device image has none of them) and write every number the report reads."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def test_smoke_run_writes_the_results_without_the_data_packages(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpu_check.py"),
            "--smoke",
            "--stand-ins",
            "--budget-s",
            "3600",
            "--out",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "cdvae_gpu_check.json").read_text())
    assert (
        result["device"] == "cpu"
        and result["smoke"]
        and result["stand_ins"] == ["polars", "pymatgen", "smact"]
    )
    assert {(row["batch"], row["mode"]) for row in result["langevin"]} == {(2, "eager"), (2, "compiled")}
    # a step is a difference of two timed decodes: finite, but on a loaded CPU at this size not always > 0
    assert all(math.isfinite(row["s_per_step"]) and "setup_s" in row for row in result["langevin"])
    assert all(row["s_per_step"] > 0 for row in result["training"])
    assert result["generation"]["n"] == 2 and "generate_10000_s" in result["gpu_profile_estimate"]
    with np.load(tmp_path / "samples.npz") as samples:
        assert samples["frac_coords"].shape == (2 * result["atoms_per_crystal"], 3)
