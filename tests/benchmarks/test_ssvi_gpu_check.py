"""benchmarks/ssvi_gpu_check.py --smoke: every `paper` run trains one tiny epoch on CPU and reports its
throughput and test metrics (the GPU run itself needs a GPU and data/cifar10)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmarks.ssvi_gpu_check import main, profile_configs


def test_smoke_mode_checks_every_paper_run_on_cpu(tmp_path: Path) -> None:
    out = tmp_path / "ssvi_gpu.json"
    rows = main(["--smoke", "--out", str(out)])
    paper = profile_configs("paper")
    assert [r["run"] for r in rows] == list(paper) and all(c.arch == "resnet18" for c in paper.values())
    assert all(c.dense_first_layer and c.optimizer == "sgd" for c in paper.values())
    for row in rows:
        assert row["epochs"] == 1 and row["train_images_per_s"] > 0 and row["peak_gpu_memory_gb"] is None
        assert 0 <= row["test_acc"] <= 1 and math.isfinite(row["test_nll"])
    assert json.loads(out.read_text())["device"] == "cpu"


def test_a_spent_budget_skips_the_remaining_runs() -> None:
    rows = main(["--smoke", "--budget-s", "0"])
    assert rows[0]["run"] == "dense-vi" and "skipped" not in rows[0]  # the first run always starts
    assert all("skipped" in r for r in rows[1:])
