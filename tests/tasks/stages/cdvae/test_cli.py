"""`studies cdvae generate` / `studies cdvae evaluate-cifs` refuse bad input before any work, find the
pipeline's files where dvc.yaml puts them, and answer to their old top-level names for one release.
Their successful runs, on a trained model, are in tests/e2e/test_cdvae_pipeline.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, project_env

NOTE = "note: `studies generate` is now `studies cdvae generate`"


def studies(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "studies"), *args],
        cwd=root,
        env=env or project_env(root),
        capture_output=True,
        text=True,
        timeout=300,
    )


def failure(out: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """(error, fix): the last two lines of stderr, after exit code 2 and no traceback."""
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    assert lines[-2].startswith("error: ") and lines[-1].startswith("fix: "), out.stderr
    return lines[-2], lines[-1]


def test_generate_without_a_trained_model_says_how_to_train_one(project: Path) -> None:
    error, fix = failure(studies(project, "cdvae", "generate", "--n", "2", "--profile", "ci"))
    assert error == f"error: no trained CDVAE in {project / 'results' / 'ci' / 'cdvae' / 'train'}."
    assert "studies run cdvae --profile ci" in fix


def test_generate_looks_for_the_model_where_dvc_yaml_puts_it(project: Path) -> None:
    dvc_yaml = project / "dvc.yaml"
    dvc_yaml.write_text(
        dvc_yaml.read_text().replace(
            "-o train=results/${profile}/cdvae/train", "-o train=models/${profile}/cdvae"
        )
    )
    error, _ = failure(studies(project, "cdvae", "generate", "--profile", "ci"))
    assert error == f"error: no trained CDVAE in {project / 'models' / 'ci' / 'cdvae'}."


def test_the_old_name_still_works_with_a_note(project: Path) -> None:
    out = studies(project, "generate", "--n", "2", "--profile", "ci")
    error, _ = failure(out)
    assert out.stderr.startswith(NOTE) and "no trained CDVAE" in error


def test_bad_input_is_refused_before_any_work(project: Path) -> None:
    error, _ = failure(studies(project, "cdvae", "generate", "--n", "0", "--profile", "ci"))
    assert "--n 0" in error
    error, fix = failure(studies(project, "cdvae", "generate", "--profile", "tpu"))
    assert "Unknown profile 'tpu'" in error and "--profile" in fix


def test_evaluate_cifs_refuses_a_folder_without_cifs_and_an_unknown_reference(
    project: Path, tmp_path: Path
) -> None:
    error, fix = failure(studies(project, "cdvae", "evaluate-cifs", str(tmp_path), "--reference", "perov_5"))
    assert "no .cif files" in error and fix
    (tmp_path / "x.cif").write_text(CIF)
    error, fix = failure(studies(project, "evaluate-cifs", str(tmp_path), "--reference", "some_dataset"))
    assert "unknown CDVAE dataset 'some_dataset' (known: perov_5, carbon_24, mp_20)" in error, error
    error, fix = failure(studies(project, "evaluate-cifs", str(tmp_path), "--reference", "carbon_24"))
    assert "no ingested test split for 'carbon_24'" in error
    assert fix == "fix: `studies ingest --dataset carbon_24`."
    report = tmp_path / "metrics.json"
    report.write_text("{}")
    error, fix = failure(
        studies(
            project, "cdvae", "evaluate-cifs", str(tmp_path), "--reference", "perov_5", "--out", str(report)
        )
    )
    assert f"{report} exists" in error and report.read_text() == "{}"
    error, fix = failure(
        studies(
            project,
            "cdvae",
            "evaluate-cifs",
            str(tmp_path),
            "--reference",
            "perov_5",
            "--composition-scale",
            "test",
        )
    )
    assert "unknown --composition-scale 'test'" in error and "upstream, reference" in fix


@pytest.mark.reliability
@pytest.mark.parametrize(
    "args",
    [
        ["cdvae", "evaluate-cifs", "/etc", "--reference", "perov_5"],
        ["cdvae", "evaluate-cifs", "{root}/results", "--reference", "perov_5", "--out", "/tmp/metrics.json"],
        ["cdvae", "generate", "--out", "{root}/../outside"],
    ],
)
def test_served_path_options_outside_the_project_are_refused(project: Path, args: list[str]) -> None:
    from tests.reliability import record

    env = project_env(project) | {"STUDIES_SERVED": "1"}
    out = studies(project, *(a.format(root=project) for a in args), env=env)
    error, _ = failure(out)
    assert "outside the folders this served pipeline may touch" in error
    assert not Path("/tmp/metrics.json").exists() and not (project.parent / "outside").exists()
    record("security", "served path option outside the allowed folders refused", inputs=1)


CIF = """data_Po
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   3.35
_cell_length_b   3.35
_cell_length_c   3.35
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_as_xyz
  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Po  Po0  0.0  0.0  0.0  1
"""
