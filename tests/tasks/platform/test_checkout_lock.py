"""One pipeline process per checkout: a second is refused naming the first; a killed holder frees the
checkout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.platform.checkout_lock import LOCK_FILE, CheckoutBusy, own_checkout
from tests.conftest import REPO

HOLD = (
    "import sys, time; from pathlib import Path; from tasks.platform.checkout_lock import own_checkout\n"
    "with own_checkout(Path(sys.argv[1]), 'run'):\n    print('held', flush=True); time.sleep(600)\n"
)


def hold(root: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    holder = hold(tmp_path)
    try:
        with pytest.raises(CheckoutBusy, match=rf"pid {holder.pid}.*one pipeline process per checkout.*Fix"):
            with own_checkout(tmp_path, "run"):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_the_checkout_free(tmp_path: Path) -> None:
    holder = hold(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with own_checkout(tmp_path, "run"):
        assert str(os.getpid()) in (tmp_path / LOCK_FILE).read_text()


def test_sequential_commands_reuse_the_lock(tmp_path: Path) -> None:
    for _ in range(2):
        with own_checkout(tmp_path, "run"):
            pass
