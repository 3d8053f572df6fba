"""FitStore and fingerprint: what a resumed stage may reuse, and what it must recompute."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tasks.orchestration import code_deps, resume
from tasks.orchestration.resume import FitStore, fingerprint, state_dir, step_code
from tasks.orchestration.stage_runner import StageContext
from tasks.platform.project import Project

FIT = {
    "state_dicts": [torch.nn.Linear(3, 2).state_dict()],
    "history": [{"epoch": 1, "nll": 0.5, "phase": "tcr"}],
    "Z": torch.arange(6.0).view(2, 3),
    "seconds": 1.25,
    "shape": (8, 8),
    "note": None,
}


def _equal(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    return a == b


def test_a_saved_fit_loads_back_only_under_its_fingerprint(tmp_path: Path) -> None:
    store = FitStore(tmp_path / "state")
    assert store.load("ssvi-0.1/seed0", "f1") is None
    store.save("ssvi-0.1/seed0", "f1", FIT)
    assert (tmp_path / "state" / "ssvi-0.1" / "seed0.pt").is_file()
    assert _equal(store.load("ssvi-0.1/seed0", "f1"), FIT)
    assert store.load("ssvi-0.1/seed0", "f2") is None  # another configuration, data or code
    store.save("ssvi-0.1/seed0", "f2", {"seconds": 2.0})  # ... whose fit then replaces it
    assert (
        store.load("ssvi-0.1/seed0", "f2") == {"seconds": 2.0} and store.load("ssvi-0.1/seed0", "f1") is None
    )


def test_load_done_counts_the_matching_fits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = FitStore(tmp_path)
    assert store.load_done({"a": "1", "b": "1"}) == {} and capsys.readouterr().out == ""
    store.save("a", "1", {"x": 1})
    store.save("b", "old", {"x": 2})
    assert store.load_done({"a": "1", "b": "1", "c": "1"}) == {"a": {"x": 1}}
    assert capsys.readouterr().out == f"resuming: 1 of 3 fits already done (state in {tmp_path})\n"


def test_a_torn_write_never_replaces_a_good_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FitStore(tmp_path)
    store.save("k", "f", FIT)
    store.path("k").with_name("k.pt.tmp").write_bytes(b"half a zip")  # left by a kill during an earlier save
    assert _equal(store.load("k", "f"), FIT)

    def killed_mid_write(obj: object, f) -> None:
        f.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        store.save("k", "f", {"seconds": 9.0})
    monkeypatch.undo()
    assert _equal(store.load("k", "f"), FIT)


def test_a_damaged_file_is_recomputed_and_unloadable_values_are_refused_at_save(tmp_path: Path) -> None:
    store = FitStore(tmp_path)
    store.save("k", "f", FIT)
    data = store.path("k").read_bytes()
    store.path("k").write_bytes(data[: len(data) // 2])
    assert store.load("k", "f") is None
    with pytest.raises(TypeError, match=r"k\['Z'\] is a numpy.ndarray.*torch.from_numpy"):
        store.save("k", "f", {"Z": np.zeros(3)})
    with pytest.raises(TypeError, match=r"numpy.float64"):
        store.save("k", "f", {"history": [{"loss": np.float64(1.0)}]})


def test_clear_removes_the_state_folder(tmp_path: Path) -> None:
    store = FitStore(tmp_path / "state")
    store.clear()  # nothing saved yet: nothing to do
    store.save("a/seed0", "f", {"x": 1})
    store.clear()
    assert not (tmp_path / "state").exists()


def test_fingerprint_sees_parts_array_contents_and_file_contents(tmp_path: Path) -> None:
    code = tmp_path / "train.py"
    code.write_text("x = 1\n")
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    base = fingerprint({"lr": 0.1}, 0, X, files=[code])
    assert fingerprint({"lr": 0.1}, 0, X.copy(), files=[code]) == base  # by content, not identity
    assert fingerprint({"lr": 0.2}, 0, X, files=[code]) != base
    assert fingerprint({"lr": 0.1}, 1, X, files=[code]) != base
    assert fingerprint({"lr": 0.1}, 0, X + 1, files=[code]) != base
    assert fingerprint({"lr": 0.1}, 0, X.astype(np.float64), files=[code]) != base
    code.write_text("x = 2\n")
    assert fingerprint({"lr": 0.1}, 0, X, files=[code]) != base
    with pytest.raises(TypeError, match="cannot fingerprint a set"):
        fingerprint({1, 2})


def test_fingerprint_without_arrays_is_the_one_cdvae_checkpoints_carry(tmp_path: Path) -> None:
    """cdvae-train's last.pt stores this hash: it must not change under a checkpoint that is waiting to
    resume."""
    a, b = tmp_path / "b.parquet", tmp_path / "a.py"
    a.write_bytes(b"data")
    b.write_bytes(b"code")
    expected = hashlib.sha256(json.dumps([{"z": 1, "a": 2}, 0], sort_keys=True).encode())
    for path in sorted([a, b]):
        expected.update(path.name.encode() + path.read_bytes())
    assert fingerprint({"z": 1, "a": 2}, 0, files=[a, b]) == expected.hexdigest()


def test_state_lives_beside_the_outputs_and_step_code_is_what_dvc_yaml_lists(tmp_path: Path) -> None:
    ctx = StageContext(Project(tmp_path), "ssvi", "train", "ci", {})
    assert state_dir(ctx) == tmp_path / "results" / "ci" / "ssvi" / "train-state"
    assert state_dir(ctx, "property-model-state").name == "property-model-state"
    for study, step in (
        ("ssvi", "train"),
        ("mlc", "train"),
        ("cdvae", "train"),
        ("cdvae", "train-property-model"),
    ):
        names = [p.relative_to(resume.CODE_ROOT).as_posix() for p in step_code(study, step)]
        assert names == code_deps.stage_sources(resume.CODE_ROOT, f"{study}-{step}")
        assert (
            any(n.startswith("studies/common/") for n in names) and f"tasks/stages/{study}/train.py" in names
        )


def test_a_cdvae_checkpoint_is_stale_after_a_change_in_studies_common(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bug: CDVAE hashed only studies/cdvae, so after an edit in studies/common (a dvc.yaml dep of
    cdvae-train) a checkpoint made by the old code still matched and was resumed."""
    import shutil
    from dataclasses import asdict

    from studies.cdvae.config import ModelConfig, TrainConfig

    cdvae_train = importlib.import_module(
        "tasks.stages.cdvae.train"
    )  # the package exports the step function `train`

    for package in ("studies", "tasks"):
        shutil.copytree(
            resume.CODE_ROOT / package,
            tmp_path / "code" / package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    monkeypatch.setattr(resume, "CODE_ROOT", tmp_path / "code")
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "train.parquet").write_bytes(b"rows")
    (prepared / "scalers.json").write_text("{}")
    model, optim = ModelConfig.from_dict({}), TrainConfig.from_dict({})
    before = cdvae_train.fingerprint(model, optim, 0, prepared, "train")
    assert before == cdvae_train.fingerprint(
        ModelConfig.from_dict(asdict(model)), optim, 0, prepared, "train"
    )
    common = [p for p in step_code("cdvae", "train") if p.parent.name == "common" and p.name != "__init__.py"]
    assert common, "cdvae-train imports studies/common"
    with common[0].open("a") as f:
        f.write("# an edit\n")
    assert cdvae_train.fingerprint(model, optim, 0, prepared, "train") != before
