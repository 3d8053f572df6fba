"""benchmarks/mlc_gpu_check.py --smoke: the GPU check's whole path (data, fit, anchors, scores, JSON) on the
CPU in seconds, so the script a GPU session runs once is known to work before the GPU time is spent."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tests.conftest import REPO


def _script():
    spec = importlib.util.spec_from_file_location("mlc_gpu_check", REPO / "benchmarks" / "mlc_gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_mode_trains_clusters_and_reports_throughput_memory_and_scores(tmp_path: Path) -> None:
    result = _script().main(["--smoke", "--out", str(tmp_path / "check.json")])
    assert json.loads((tmp_path / "check.json").read_text()) == result
    assert result["device"] == "cpu" and result["n"] == 120
    assert result["images_per_second"] > 0 and result["peak_memory_mb"] > 0
    assert result["acc"] > 0.6  # three clearly different patterns: chance is 1/3
    assert result["config"]["arch"] == "cnn"


def test_the_paper_profile_it_checks_is_resnet18_on_cifar10() -> None:
    cfg = _script().config("paper", "cifar10")
    assert (cfg.arch, cfg.feature_dim, cfg.eta, cfg.eps2, cfg.batch_size) == (
        "resnet18",
        128,
        0.175,
        0.1,
        1024,
    )
