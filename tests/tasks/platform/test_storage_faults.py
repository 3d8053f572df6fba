"""Storage faults: damaged DVC objects are refetched or reported, never used; a full disk or an unwritable
folder fails with a clear error and leaves the last good checkpoint as it was.

Real DVC (the project copy's cache and its local-folder remote, .dvc-remote/) and real failed writes: a child
process whose RLIMIT_FSIZE is below a checkpoint's size gets EFBIG from write(2) exactly where a full disk
gives ENOSPC; a state folder under a regular file gets ENOTDIR, which root cannot write through either.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from studies.cdvae.config import TrainConfig
from studies.cdvae.train import LAST, FitResult, fit
from studies.common.atomic import StorageError
from studies.common.seeding import seed_everything
from tasks.orchestration.resume import FitStore
from tasks.platform.versioning import (
    CorruptedDataError,
    data_hash,
    dvc_add,
    dvc_pull,
    dvc_push,
    dvc_status_clean,
)
from tests.conftest import REPO
from tests.reliability import record
from tests.studies.cdvae.perov import crystal_set, tiny_model

pytestmark = pytest.mark.reliability

DATA = {"a.txt": b"first file\n", "sub/b.txt": b"second file\n"}
CFG = TrainConfig(epochs=2, batch_size=4, checkpoint_every=1, val_batch_size=8, lr=1e-3)


# --- DVC: damaged objects -----------------------------------------------------------------------------------


def _track(root: Path) -> None:
    """data/ as ingest leaves it: recorded in data.dvc, in the cache, and pushed to the project's local
    remote."""
    for rel, content in DATA.items():
        (root / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "data" / rel).write_bytes(content)
    dvc_add(root, "data")
    dvc_push(root, ["data.dvc"])


def _object(store: Path, md5: str) -> Path:
    """Where DVC 3 keeps an object in a cache or a local remote."""
    return store / "files" / "md5" / md5[:2] / md5[2:]


def _rot(path: Path) -> None:
    """Flip the first byte in place, keeping size, mtime and the read-only mode: what bit rot on a disk does,
    and what neither DVC's protected-cache shortcut nor its state database (inode, mtime, size) can notice."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))  # root writes through mode 0444
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _workspace(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root / "data").as_posix(): p.read_bytes()
        for p in (root / "data").rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("damaged", [["a.txt"], ["listing", "a.txt"]], ids=["file", "listing-and-file"])
def test_damaged_cache_objects_are_refetched_from_the_remote_never_checked_out(
    project: Path, damaged: list[str]
) -> None:
    _track(project)
    cache = project / ".dvc" / "cache"
    md5 = {"listing": data_hash(project)} | {
        rel: hashlib.md5(content).hexdigest() for rel, content in DATA.items()
    }
    for name in damaged:
        _rot(_object(cache, md5[name]))
    shutil.rmtree(project / "data")  # a fresh checkout (a worker) about to pull

    dvc_pull(project, ["data.dvc"])

    assert _workspace(project) == DATA
    for name in damaged:  # the cache holds the remote's good copy again
        assert hashlib.md5(_object(cache, md5[name]).read_bytes()).hexdigest() == md5[name].removesuffix(
            ".dir"
        )
    assert dvc_status_clean(project, ["data.dvc"])
    record(
        "fault",
        f"bit rot in the local DVC cache ({' + '.join(damaged)}): refetched from the remote",
        survived=1,
        lost=0,
    )


def test_a_damaged_remote_copy_is_reported_by_name_and_never_checked_out(
    project: Path, tmp_path: Path
) -> None:
    _track(project)
    remote, cache = project / ".dvc-remote", project / ".dvc" / "cache"
    md5 = hashlib.md5(DATA["a.txt"]).hexdigest()
    _rot(_object(remote, md5))
    shutil.move(cache, tmp_path / "good-cache")  # a fresh checkout: nothing local to fall back on
    shutil.rmtree(project / "data")

    with pytest.raises(CorruptedDataError) as err:
        dvc_pull(project, ["data.dvc"])
    message = str(err.value)
    listing = _object(remote, data_hash(project))
    assert f"data/a.txt (md5 {md5}; remote copy {_object(remote, md5)}; listed in {listing})" in message
    assert "Fix: delete that remote copy (and the listing it is in" in message
    assert not (project / "data" / "a.txt").exists() and not _object(cache, md5).exists()

    # the fix the message gives: delete the damaged remote copy and its listing, push from a good cache, pull
    # again
    _object(remote, md5).unlink()
    listing.unlink()
    shutil.rmtree(cache)
    shutil.move(tmp_path / "good-cache", cache)
    dvc_push(project, ["data.dvc"])
    shutil.rmtree(cache)
    dvc_pull(project, ["data.dvc"])
    assert _workspace(project) == DATA
    record(
        "fault",
        "damaged object in the DVC remote: reported by path and md5, nothing checked out",
        survived=1,
        lost=0,
    )


# --- full disk and unwritable folders -----------------------------------------------------------------------


def train_tiny(state: Path, epochs: int) -> FitResult:
    """A tiny CDVAE on 4 real crystals, one step an epoch, a checkpoint after every step (also run in the
    child)."""
    seed_everything(0)
    crystals = crystal_set(4)
    return fit(
        tiny_model(crystals),
        crystals,
        crystals,
        replace(CFG, epochs=epochs),
        seed=0,
        state_dir=state,
        fingerprint="f",
    )


def _with_full_disk(imports: str, call: str, limit: int) -> subprocess.CompletedProcess[str]:
    """Run `imports`, then `call` in a child process where no file may grow past `limit` bytes: with SIGXFSZ
    ignored, such a write fails with EFBIG, as a full disk fails with ENOSPC."""
    code = (
        f"import resource, signal\nfrom pathlib import Path\n{imports}\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))\n"
        f"{call}\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)


def _strays(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tmp"))


def test_a_full_disk_mid_training_keeps_the_last_good_checkpoint_and_a_rerun_resumes(tmp_path: Path) -> None:
    state = tmp_path / "train-state"
    assert train_tiny(state, epochs=1).state.global_step == 1
    good = (state / LAST).read_bytes()

    child = _with_full_disk(
        "from tests.tasks.platform.test_storage_faults import train_tiny",
        f"train_tiny(Path({str(state)!r}), epochs=2)",
        limit=len(good) // 2,
    )

    assert child.returncode != 0
    assert f"StorageError: [Errno 27] cannot write {state / LAST}: File too large" in child.stderr, (
        child.stderr[-3000:]
    )
    assert f"Fix: free space on the file system that holds {state}" in child.stderr
    assert "continues from its last checkpoint" in child.stderr
    assert (state / LAST).read_bytes() == good and _strays(state) == []
    assert torch.load(state / LAST, weights_only=True)["state"]["global_step"] == 1
    rerun = train_tiny(state, epochs=2)  # space again
    assert rerun.resumed_from_step == 1 and rerun.state.global_step == 2
    record(
        "fault",
        "disk full while writing a CDVAE checkpoint: clear error, last good one kept, rerun resumed",
        survived=1,
        lost=0,
    )


def test_a_full_disk_never_replaces_a_saved_fit(tmp_path: Path) -> None:
    """FitStore (MLC and SSVI resume state): a save that runs out of space leaves the previous fit
    loadable."""
    store = FitStore(tmp_path / "train-state")
    small, big = {"w": torch.ones(10)}, {"w": torch.ones(100_000)}
    store.save("mlc/seed0", "f", small)
    good = store.path("mlc/seed0").read_bytes()

    child = _with_full_disk(
        "import torch\nfrom tasks.orchestration.resume import FitStore",
        f"FitStore(Path({str(store.root)!r})).save('mlc/seed0', 'f', {{'w': torch.ones(100_000)}})",
        limit=100_000,
    )

    assert child.returncode != 0
    assert f"cannot write {store.path('mlc/seed0')}: File too large" in child.stderr, child.stderr[-3000:]
    assert store.path("mlc/seed0").read_bytes() == good and _strays(store.root) == []
    assert torch.equal(store.load_done({"mlc/seed0": "f"})["mlc/seed0"]["w"], small["w"])
    store.save("mlc/seed0", "f", big)  # space again
    assert torch.equal(store.load("mlc/seed0", "f")["w"], big["w"])
    record(
        "fault", "disk full while saving a resumable fit: clear error, previous fit kept", survived=1, lost=0
    )


def test_an_unwritable_state_folder_fails_before_training_naming_the_blocker(tmp_path: Path) -> None:
    """As root no mode bit stops a write, but a path through a regular file does (ENOTDIR)."""
    blocker = tmp_path / "results"
    blocker.write_text("a file where the results folder should be\n")
    with pytest.raises(
        StorageError,
        match=rf"cannot write {blocker}/ci/train-state: Not a directory \({blocker} is a "
        rf"file, not a folder\).*Fix: make {blocker}/ci/train-state a writable folder",
    ):
        train_tiny(blocker / "ci" / "train-state", epochs=1)
    with pytest.raises(StorageError, match=rf"cannot write {blocker}/ssvi/seed0.pt: Not a directory"):
        FitStore(blocker).save("ssvi/seed0", "f", {"w": torch.ones(1)})
    assert blocker.read_text() == "a file where the results folder should be\n"
    record(
        "fault",
        "state folder not writable (a file in its path): clear error before any work",
        survived=1,
        lost=0,
    )
