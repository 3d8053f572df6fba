"""The provenance line every report carries: a clean tree gives the commit alone, a dirty one names its
files."""

from __future__ import annotations

from pathlib import Path

from tasks.platform.project import Project
from tasks.stages.report import provenance
from tests.conftest import git

DATA_DVC = "outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  path: data\n"


def _repo(root: Path) -> Path:
    (root / "tasks").mkdir(parents=True)
    (root / "tasks" / "step.py").write_text("X = 1\n")
    (root / "params.yaml").write_text("profile: cpu\n")
    (root / "data.dvc").write_text(DATA_DVC)
    git(root, "init", "-q")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c")
    return root


def test_a_report_from_a_clean_tree_names_the_commit_only(tmp_path: Path) -> None:
    root = _repo(tmp_path / "p")
    commit = git(root, "rev-parse", "HEAD").strip()
    (root / "reports").mkdir()
    (root / "reports" / "x.md").write_text("the report itself is not code\n")
    line = provenance(Project(root), "cpu")
    assert f"code `{commit[:10]}`." in line and "uncommitted" not in line
    assert "0123456789abcdef0123456789abcdef.dir" in line


def test_a_report_from_a_dirty_tree_names_the_changed_files(tmp_path: Path) -> None:
    root = _repo(tmp_path / "p")
    (root / "tasks" / "step.py").write_text("X = 2\n")
    (root / "params.yaml").write_text("profile: ci\n")
    line = provenance(Project(root), "ci")
    assert "with uncommitted changes to `params.yaml`, `tasks/step.py`" in line


def test_the_gpu_sections_label_the_committed_device_runs_partial_with_their_gpu() -> None:
    """reports/gpu's MLC and SSVI checks reach their reports as partial rows named with the GPU, step or
    epoch counts and the data copy; a folder without them says they were not run."""
    from tasks.stages import report
    from tasks.stages.mlc.report import _gpu_section as mlc_gpu
    from tasks.stages.ssvi.report import _gpu_section as ssvi_gpu

    folder = Path(__file__).parents[3] / "reports" / "gpu"
    assert [n for n, _ in report.gpu_checks(folder, "mlc_gpu_check")] == [
        "mlc_gpu_check_1200steps.json",
        "mlc_gpu_check_130steps.json",
    ]
    doc = report.Document("t")
    mlc_gpu(doc, report.gpu_checks(folder, "mlc_gpu_check"))
    ssvi_gpu(doc, report.gpu_checks(folder, "ssvi_gpu_check"))
    text = "\n".join(doc.lines)
    assert (
        "| partial, 80 + 50 steps on NVIDIA H200, torch 2.11.0+cu130, 2026-11-30 | cifar10, 12,000 images "
        "| 0.190" in text
    )
    assert text.index("80 + 50 steps") < text.index("700 + 500 steps")
    assert (
        "| partial, 8 epochs on NVIDIA H200, torch 2.11.0+cu130, 2026-11-30 | ssvi-0.1 | 0.636 | 1.091 |"
        in text
    )
    assert text.count("partial, 2 epochs") == 5 and text.count("partial, 8 epochs") == 4  # one skipped run
    assert "lossy JPEG (q75) copy of CIFAR-10" in text and "**σ never moved**" in text

    empty = report.Document("t")
    mlc_gpu(empty, report.gpu_checks(None, "mlc_gpu_check"))
    assert "Not run on a GPU yet" in "\n".join(empty.lines)
