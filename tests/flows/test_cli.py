"""The `studies` command line: help everywhere, clear errors that leave params.yaml alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, project_env

COMMANDS = [
    "ingest",
    "run",
    "stage",
    "report",
    "generate",
    "evaluate-cifs",
    "ui",
    "server",
    "serve",
    "worker",
    "config",
    "result-storage",
]


def studies(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "studies"), *args],
        cwd=root,
        env=project_env(root),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_every_command_has_help(project: Path, command: list[str]) -> None:
    out = studies(project, *command, "--help")
    assert out.returncode == 0 and "Usage: studies" in out.stdout


def test_bad_override_is_refused_and_params_untouched(project: Path) -> None:
    before = (project / "params.yaml").read_bytes()
    out = studies(project, "run", "mlc", "--profile", "ci", "--set", "mlc.train.no_such_key=1")
    assert out.returncode == 2
    assert "no 'no_such_key'" in out.stderr and "params.yaml" in out.stderr
    assert (project / "params.yaml").read_bytes() == before


def test_unknown_profile_names_the_choices(project: Path) -> None:
    out = studies(project, "run", "--profile", "gpu")
    assert out.returncode == 2 and "ci, cpu, paper" in out.stderr


def test_outside_a_project_says_where_to_run(tmp_path: Path) -> None:
    env = {k: v for k, v in project_env(tmp_path).items() if k != "STUDIES_ROOT"}
    out = subprocess.run(
        [str(BIN / "studies"), "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0 and "No subspace-studies project" in out.stderr


def test_run_without_data_sources_fails_once_with_the_fix(project: Path, tmp_path: Path) -> None:
    """No data.dvc content and an empty mirror: a clear ingest error, not retried, data.dvc untouched."""
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    (project / "data.dvc").unlink()
    env = project_env(project) | {"STUDIES_DATA_MIRROR": str(empty)}
    out = subprocess.run(
        [str(BIN / "studies"), "run", "mlc", "--profile", "ci"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert "the pipeline stopped" in out.stderr and "Fix:" in out.stderr
    assert "Retrying" not in out.stdout + out.stderr
    assert not (project / "data.dvc").exists() and not (project / "data").exists()


def test_generate_without_a_trained_model_says_how_to_train_one(project: Path) -> None:
    out = studies(project, "generate", "--n", "2", "--profile", "ci")
    assert (
        out.returncode == 2
        and "no trained CDVAE" in out.stderr
        and "studies run cdvae --profile ci" in out.stderr
    )


def test_evaluate_cifs_refuses_a_folder_without_cifs(project: Path, tmp_path: Path) -> None:
    out = studies(project, "evaluate-cifs", str(tmp_path), "--reference", "perov_5")
    assert out.returncode == 2 and "no .cif files" in out.stderr
    (tmp_path / "x.cif").write_text(CIF)
    out = studies(project, "evaluate-cifs", str(tmp_path), "--reference", "some_dataset")
    assert out.returncode == 2 and "studies ingest --dataset some_dataset" in out.stderr


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


def test_dispatch_to_an_unknown_pool_names_the_known_ones_and_params_stay(project: Path) -> None:
    before = (project / "params.yaml").read_bytes()
    out = studies(project, "run", "mlc", "--profile", "ci", "--dispatch", "tpu")
    assert out.returncode == 2 and "--dispatch tpu" in out.stderr and "gpu" in out.stderr
    assert (project / "params.yaml").read_bytes() == before


def test_dispatch_and_worker_need_a_shared_prefect_server(project: Path) -> None:
    out = studies(project, "run", "mlc", "--profile", "ci", "--dispatch", "gpu")
    assert out.returncode == 2 and "PREFECT_API_URL" in out.stderr and "studies worker" in out.stderr
    out = studies(project, "worker", "--pool", "gpu")
    assert out.returncode == 2 and "PREFECT_API_URL" in out.stderr


@pytest.mark.reliability
@pytest.mark.parametrize(
    "args",
    [
        ["evaluate-cifs", "/etc", "--reference", "perov_5"],
        ["evaluate-cifs", "{root}/results", "--reference", "perov_5", "--out", "/tmp/metrics.json"],
        ["ingest", "--mirror", "/"],
        ["generate", "--out", "{root}/../outside"],
    ],
)
def test_served_path_options_outside_the_project_are_refused(project: Path, args: list[str]) -> None:
    from tests.reliability import record

    env = project_env(project) | {"STUDIES_SERVED": "1"}
    args = [a.format(root=project) for a in args]
    out = subprocess.run(
        [str(BIN / "studies"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and "outside the folders this served pipeline may touch" in out.stderr, (
        out.stderr
    )
    assert not Path("/tmp/metrics.json").exists() and not (project.parent / "outside").exists()
    record("security", "served path option outside the allowed folders refused", inputs=1)


@pytest.mark.reliability
def test_a_second_run_in_a_busy_checkout_is_refused_and_params_untouched(project: Path) -> None:
    from tests.reliability import record
    from tests.tasks.platform.test_checkout_lock import hold

    before = (project / "params.yaml").read_bytes()
    holder = hold(project)
    try:
        out = studies(project, "run", "mlc", "--profile", "ci")
    finally:
        holder.kill()
        holder.wait()
    assert (
        out.returncode == 2
        and f"pid {holder.pid}" in out.stderr
        and "one pipeline process per checkout" in out.stderr
    )
    assert (project / "params.yaml").read_bytes() == before
    record("load", "second pipeline run in a busy embedded checkout refused up front", refused=1, lost=0)
