"""The SQLite run cap: slots per database file, refused beyond the cap with the scale-out fix, freed by
death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.platform.sqlite_slots import LIMIT_ENV, SqliteBusy, sqlite_file, sqlite_slot
from tests.conftest import REPO

HOLD = (
    "import sys, time; from tasks.platform.sqlite_slots import sqlite_slot\n"
    "with sqlite_slot(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)\n"
)


def hold(uri: str, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, uri], cwd=REPO, stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_only_sqlite_uris_have_a_file(tmp_path: Path) -> None:
    assert sqlite_file(f"sqlite:///{tmp_path}/m.db") == tmp_path / "m.db"
    assert sqlite_file("http://127.0.0.1:5000") is None and sqlite_file("postgresql://u:p@h/db") is None


def test_servers_need_no_slot() -> None:
    with sqlite_slot("http://127.0.0.1:5000"), sqlite_slot("http://127.0.0.1:5000"):
        pass


def test_runs_beyond_the_cap_are_refused_and_a_killed_run_frees_its_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LIMIT_ENV, "2")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    holders = [hold(uri, dict(os.environ)) for _ in range(2)]
    try:
        with pytest.raises(
            SqliteBusy, match=r"2 pipeline runs are already writing.*PostgreSQL-backed MLflow server"
        ):
            with sqlite_slot(uri):
                pass
        with sqlite_slot(f"sqlite:///{tmp_path / 'other.db'}"):  # another store has its own slots
            pass
        os.kill(holders[0].pid, signal.SIGKILL)
        holders[0].wait()
        with sqlite_slot(uri):
            pass
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()


def test_a_bad_cap_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIMIT_ENV, "many")
    with pytest.raises(SqliteBusy, match=f"{LIMIT_ENV}=many"):
        with sqlite_slot(f"sqlite:///{tmp_path / 'mlflow.db'}"):
            pass
