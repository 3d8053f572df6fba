"""The report's GPU section: the measured numbers labelled with the GPU, or a line saying there are none."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from tasks.stages import report
from tasks.stages.cdvae.report import GPU_CHECK, _gpu_check

COMMITTED = Path(__file__).resolve().parents[4] / "reports" / "gpu"  # a real device reading


def _section(folder: Path) -> str:
    doc = report.Document("t")
    _gpu_check(doc, SimpleNamespace(inputs={"gpu_check": folder}))
    return "\n".join(doc.lines)


def test_without_results_it_says_the_gpu_path_was_not_run(tmp_path: Path) -> None:
    assert "have not been run on a GPU yet" in _section(tmp_path)


def test_with_results_it_shows_them_labelled_with_the_gpu(tmp_path: Path) -> None:
    check = {
        "device": "NVIDIA H200",
        "torch": "2.11.0+cu130",
        "parameters_m": 8.3,
        "decoder": "gemnet_dt",
        "atoms_per_crystal": 5,
        "compile_backend": "inductor",
        "langevin": [
            {"batch": 1024, "mode": "eager", "s_per_step": 0.042, "setup_s": 0.2},
            {"batch": 1024, "mode": "compiled", "s_per_step": 0.0125, "setup_s": 0.25},
            {"batch": 4096, "mode": "compiled", "skipped": "time budget spent"},
        ],
        "training": [{"batch": 256, "s_per_step": 0.1, "crystals_per_s": 2560.0}],
    }
    (tmp_path / GPU_CHECK).write_text(json.dumps(check))
    text = _section(tmp_path)
    assert "**NVIDIA H200**" in text and "not been run" not in text
    assert "| 1024 | eager | 42.0 | 0.20 |" in text and "| 1024 | compiled | 12.5 | 0.25 |" in text
    assert "4096" not in text
    assert "| 256 | 2560 |" in text


def test_the_committed_device_results_render_with_date_steps_and_projection() -> None:
    """reports/gpu holds a real H200 reading; the section must keep reading what the script writes."""
    text = _section(COMMITTED)
    assert "**NVIDIA H200** on 2026-11-30" in text
    assert "| 4096 | compiled | 86.4 | 0.30 |" in text
    assert (
        "generates upstream's 10,000 crystals × 5,000 steps in ≈ 18 min (from the compiled step at batch 4096"
        in text
    )
