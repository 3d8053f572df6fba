"""DVC operations the pipeline needs, run as `python -m dvc` from the interpreter running this code.

A subprocess keeps DVC's locks, logging and state out of the caller's process
(Prefect workers, tests), and `sys.executable -m dvc` is the DVC installed
beside this code whatever $PATH says. Only what takes no DVC lock runs in-process
through `dvc.repo.Repo`: reading the hashes a target records and setting a remote
option in .dvc/config.local (for the verified pull, `dvc_pull`). DVC's Python API is
imported there, not at the top: every stage process imports this module (tracking).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from tasks.platform.errors import StudiesError

if TYPE_CHECKING:
    from dvc.repo import Repo
    from dvc_data.hashfile.db import HashFileDB
    from dvc_data.hashfile.hash_info import HashInfo

DATA_DVC = "data.dvc"


class DvcError(StudiesError):
    """A DVC command failed; the message carries its command line and DVC's own explanation."""


class DataNotIngestedError(StudiesError):
    """The project has no data.dvc yet."""


class CorruptedDataError(DvcError):
    """A tracked file has no copy, in the cache or on the remote, whose bytes match the md5 DVC recorded."""


def run_dvc(root: Path, *args: str, stream: bool = False, env: dict[str, str] | None = None) -> str:
    """Run DVC in `root` and return its output; `stream` also echoes it live (progress bars redraw with
    \\r)."""
    cmd = [sys.executable, "-m", "dvc", *args]
    env = {**(env or os.environ), "DVC_NO_ANALYTICS": "1"}
    if stream:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        chunks = []
        while chunk := os.read(proc.stdout.fileno(), 4096):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            chunks.append(chunk)
        returncode, out, err = proc.wait(), b"".join(chunks).decode(errors="replace"), ""
    else:
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        returncode, out, err = done.returncode, done.stdout, done.stderr
    if returncode != 0:
        detail = (err.strip() or out.strip())[-2000:]
        raise DvcError(
            f"`dvc {' '.join(args)}` failed in {root} (exit {returncode}):\n{detail}\n"
            "Fix: see DVC's message above; run the same command in the project folder to reproduce it."
        )
    return out


def dvc_add(root: Path, rel_path: str) -> None:
    """Track `rel_path` (a file or folder under root) in `<rel_path>.dvc` and store its content in the
    cache."""
    run_dvc(root, "add", rel_path)


def dvc_push(root: Path, rel_paths: Sequence[str] | None = None) -> None:
    """Upload the cache entries of `rel_paths` (.dvc files or outputs; default: everything) to the default
    remote."""
    run_dvc(root, "push", *(rel_paths or ()))


def dvc_pull(root: Path, targets: Sequence[str] = ()) -> None:
    """`dvc pull targets` (default: everything), where no byte reaches the workspace unless it matched its
    md5.

    DVC alone does not guarantee that: it never re-hashes a read-only (protected) cache file, so bit rot in
    the cache is checked out as is, and it hashes downloads only from remotes with `verify = true`. So remotes
    are set to verify, the targets' cache files are hashed and the damaged ones deleted (as DVC deletes a
    damaged file it notices) and fetched again; a file with no good copy left raises CorruptedDataError naming
    it.
    """
    verify_downloads(root)
    try:
        for _ in range(
            2
        ):  # the second pass checks the files of a directory whose damaged listing was refetched
            if not drop_corrupted(root, targets):
                break
            run_dvc(root, "fetch", *targets)  # verified downloads only (verify_downloads)
        run_dvc(root, "pull", *targets)
    except DvcError as err:
        if missing := _missing_from_cache(root, targets):
            raise CorruptedDataError(
                f"`dvc pull {' '.join(targets)}` in {root} found no intact copy of {'; '.join(missing)}: the "
                "remote's copy is missing or does not match its md5 (DVC verified the download and discarded "
                "it) and the local cache has none, so nothing was checked out. Fix: delete that remote copy "
                "(and the listing it is in: DVC takes a listed directory as complete and would not upload "
                "the file again), then `dvc push` from a checkout whose cache has a good one; or recreate it "
                "(`studies ingest` for data/, `dvc repro <stage>` and `dvc push` for a stage's "
                f"outputs).\nDVC said: {err}"
            ) from err
        raise


def verify_downloads(root: Path) -> None:
    """Set `verify = true` on every remote of the checkout, in .dvc/config.local: DVC then hashes each file it
    downloads and discards one that does not match (also for a plain `dvc pull` typed by hand)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        remotes = list(repo.config["remote"])
        with repo.config.edit("local") as local:
            for name in remotes:
                local["remote"].setdefault(name, {})["verify"] = True


def drop_corrupted(root: Path, targets: Sequence[str] = ()) -> list[str]:
    """Delete the targets' cache files whose bytes no longer hash to their name (as DVC deletes a damaged file
    it notices); return them as `path (md5 ...)`.

    Hand-written because DVC trusts protected cache files and its state database (inode, mtime, size), which
    bit rot leaves unchanged. A damaged directory listing hides its entries: `dvc_pull` fetches it and calls
    this again.
    """
    from dvc.repo import Repo

    dropped = []
    with Repo(str(root)) as repo:
        for name, info, odb in _outputs(repo, targets):
            objects = [(name, info)] if _damaged(odb, info) else _entries(odb, name, info)
            dropped += [f"{n} (md5 {i.value})" for n, i in objects if i is info or _damaged(odb, i)]
    return dropped


def _missing_from_cache(root: Path, targets: Sequence[str] = ()) -> list[str]:
    """The targets' objects that are not in the local cache, as
    `path (md5 ...; remote copy <where>[; listed in <where>])`; none without a default remote (the pull failed
    for that). Call it after drop_corrupted, which removes a damaged directory listing that this would fail to
    read."""
    from dvc.config import NoRemoteError
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        try:
            remote = repo.cloud.get_remote_odb(None)
        except NoRemoteError:
            return []

        def where(info: HashInfo) -> str:
            return remote.fs.unstrip_protocol(remote.oid_to_path(info.value))

        missing = []
        for name, info, cache in _outputs(repo, targets):
            if cache.exists(info.value):
                listing = cache
            elif info.isdir and _intact(remote, info):  # DVC caches a listing only once all its files arrived
                listing = remote
            else:
                missing.append(f"{name} (md5 {info.value}; remote copy {where(info)})")
                continue
            missing += [
                f"{n} (md5 {i.value}; remote copy {where(i)}; listed in {where(info)})"
                for n, i in _entries(listing, name, info)
                if not cache.exists(i.value)
            ]
        return missing


def _outputs(repo: Repo, targets: Sequence[str]) -> Iterator[tuple[str, HashInfo, HashFileDB]]:
    """(workspace path, hash, cache) of each cached output of the targets (.dvc files or stage names; default:
    all)."""
    for out in (o for t in (targets or [None]) for stage in repo.stage.collect(t) for o in stage.outs):
        if out.use_cache and out.hash_info:
            yield str(out), out.hash_info, out.cache


def _entries(odb: HashFileDB, name: str, info: HashInfo) -> list[tuple[str, HashInfo]]:
    """The files of a directory output, read from its listing in `odb` (none for a file or an absent
    listing)."""
    from dvc_data.hashfile.tree import Tree

    if not (info.isdir and odb.exists(info.value)):
        return []
    return [("/".join((name, *key)), entry) for key, _, entry in Tree.load(odb, info)]


def _intact(odb: HashFileDB, info: HashInfo) -> bool:
    """Whether `odb` (a cache or a remote) holds the object with the bytes its hash names. dvc_data's own hash
    function, so legacy md5-dos2unix entries agree."""
    from dvc_data.hashfile.hash import file_md5

    path = odb.oid_to_path(info.value)
    return odb.fs.exists(path) and file_md5(path, odb.fs, name=info.name) == info.value.removesuffix(".dir")


def _damaged(odb: HashFileDB, info: HashInfo) -> bool:
    """Whether the cache holds the object with other bytes than its hash names; if so the file is deleted."""
    if not odb.exists(info.value) or _intact(odb, info):
        return False
    odb.fs.remove(odb.oid_to_path(info.value))
    return True


def dvc_status_clean(root: Path, targets: Sequence[str] | None = None) -> bool:
    """Whether the workspace matches what DVC records for `targets` (default: every .dvc file and stage)."""
    return json.loads(run_dvc(root, "status", "--json", *(targets or ())) or "{}") == {}


def data_hash(root: Path) -> str:
    """The md5 DVC recorded for data/ in data.dvc (ends in `.dir`): the version of the data a run used."""
    path = Path(root) / DATA_DVC
    if not path.is_file():
        raise DataNotIngestedError(
            f"{path} does not exist, so the project's data is not versioned yet. "
            "Fix: run `studies ingest` in the project folder."
        )
    outs = (yaml.safe_load(path.read_text()) or {}).get("outs") or []
    md5 = next((o.get("md5") for o in outs if o.get("path") == "data"), None)
    if not md5:
        raise DvcError(f"{path} has no md5 for `data`. Fix: run `studies ingest` to rewrite it.")
    return md5
