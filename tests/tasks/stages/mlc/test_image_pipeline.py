"""The four MLC stages on an image dataset larger than its anchor count: the CNN trains, Γ covers the anchors
only, evaluate extends their labels to every image and the report shows the set beside its baselines."""

from __future__ import annotations

import json

from tests.tasks.stages.conftest import Stages
from tests.tasks.stages.mlc.test_prepare import _images


def test_an_image_set_runs_through_prepare_train_evaluate_and_report(stages: Stages) -> None:
    _images(stages, "mnist", 40, (12, 12))
    stages.version_data()
    params = stages.params("mlc")
    params["prepare"] = {"datasets": {"mnist": {"n": None}}, "synthetic": []}
    params["train"] = {
        "seeds": [0],
        "synthetic": {},
        "mnist": {
            "arch": "cnn",
            "conv_width": 2,
            "hidden_dim": 16,
            "feature_dim": 8,
            "batch_size": 30,
            "warmup_steps": 2,
            "mlc_steps": 2,
            "anchors": 40,
            "eta": 0.5,
            "log_every": 1,
        },
    }
    params["evaluate"] = {"baseline_seeds": [0], "rank_energy": 0.95, "baseline_subsample": 50}
    r = stages.root / "results"
    stages.run("mlc", "prepare", params, {"data": stages.root / "data"}, {"prepared": r / "prepared"})
    stages.run("mlc", "train", params, {"prepared": r / "prepared"}, {"train": r / "train"})
    outputs = {"tables": r / "tables", "figures": r / "figures", "metrics": r / "metrics.json"}
    stages.run("mlc", "evaluate", params, {"prepared": r / "prepared", "train": r / "train"}, outputs)
    report = stages.root / "reports" / "mlc.md"
    inputs = {"metrics": r / "metrics.json", "figures": r / "figures"}
    stages.run(
        "mlc", "report", params, inputs, {"report": report, "figures": stages.root / "reports" / "fig"}
    )

    mlc = json.loads((r / "metrics.json").read_text())["mnist"]["mlc"]
    assert mlc["anchors"] == 40 and mlc["n_seeds"] == 1 and 0 < mlc["largest_cluster"] <= 1
    assert mlc["gamma_blocks"] >= 1 and 0 <= mlc["acc_mean"] <= 1
    text = report.read_text()
    assert "## mnist" in text and "| kmeans:raw |" in text and "| spectral_knn10 |" in text
    assert "| ≥ 3 seeds | missed | 1 |" in text  # the targets table, from the measured means
    assert "fashion_mnist: not measured yet" in text
