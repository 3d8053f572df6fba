"""The MLC targets on digits and the synthetic sets, on the `cpu` profile without its MNIST and Fashion-MNIST
sets (those take most of the profile's time; the report's targets table covers them): run with `-m slow`."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import BIN, copy_project, project_env

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
DIGITS_ONLY = "mlc.prepare.datasets={digits: {n: null}}"


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = copy_project(tmp_path_factory.mktemp("cpu") / "project")
    proc = subprocess.run(
        [str(BIN / "studies"), "run", "mlc", "--profile", "cpu", "--no-push", "-s", DIGITS_ONLY],
        cwd=root,
        env=project_env(root),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((root / "results" / "cpu" / "mlc" / "metrics.json").read_text())


def test_mlc_beats_every_baseline_on_digits_in_acc_and_nmi(metrics: dict) -> None:
    digits = metrics["digits"]
    assert digits["mlc"]["n_seeds"] >= 3
    for method, scores in digits.items():
        if method != "mlc":
            assert digits["mlc"]["acc_mean"] > scores["acc_mean"], method
            assert digits["mlc"]["nmi_mean"] > scores["nmi_mean"], method


def test_mlc_separates_ten_noisy_five_dim_subspaces(metrics: dict) -> None:
    assert metrics["subspaces-10x5-noise0.05"]["mlc"]["acc_mean"] >= 0.95
