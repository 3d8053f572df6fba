"""Ordered parallel map over worker processes, with progress, for CPU-bound independent items (crystal
metrics, SSVI runs).

Workers must not fork a parent that holds torch's thread pools, so they come from a fork server
that has imported only the module of the function being mapped (and through it pymatgen, SMACT,
matminer). Measured on a 2-core machine with torch imported, 4 matcher pairs on 2 workers (best
of 6): the first call takes 2.2 s with "spawn" or "forkserver" alike, but later calls take 1.5 s
from the preloaded fork server against 2.1 s with "spawn", which re-imports everything per pool.
The preload is process-wide and only takes effect if no fork server is running yet; it changes
speed, never results.

The orchestration layer may route maps elsewhere with `set_backend` (tasks/orchestration/fan_out.py: Prefect
task runs on a Dask cluster, when studies.toml's `[fan_out] runner` asks for it), so this module stays free of
Prefect.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Backend(Protocol):
    """Runs `fn` on (index, item) pairs over `workers` workers, `chunk` items per unit of work (None: its
    choice), and calls `emit(index, result)` in this process for each result as its chunk completes."""

    def __call__(
        self,
        fn: Callable[[T], R],
        pairs: list[tuple[int, T]],
        workers: int,
        chunk: int | None,
        emit: Callable[[int, R], None],
    ) -> None: ...


_backend: Backend | None = None


def set_backend(backend: Backend | None) -> Backend | None:
    """Send later multi-worker maps to `backend` (None: the process pool); returns the one it replaces."""
    global _backend
    previous, _backend = _backend, backend
    return previous


_POOL_CONTEXT = multiprocessing.get_context("forkserver")


def resolve_workers(workers: int, n_items: int) -> int:
    """0 means every core; never more workers than items."""
    if workers < 0:
        raise ValueError(f"workers={workers}. Fix: use 0 (all cores), 1 (in-process) or a positive count.")
    return max(1, min(workers or os.cpu_count() or 1, n_items))


def chunksize(total: int, workers: int) -> int:
    """Chunks small enough for ~8 per worker (load balance, steady progress), at most 64 items (bounded
    latency)."""
    return max(1, min(64, total // (workers * 8)))


def ordered_map(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
    on_result: Callable[[R], None] | None = None,
    chunk: int | None = None,
) -> list[R]:
    """[fn(x) for x in items], over `workers` processes (0: all cores, 1: in this process).

    `fn` must be a module-level function (or a functools.partial of one); `progress(done, total)`
    is called after each item, ending with (total, total). `on_result(r)` sees each result as soon
    as it reaches this process (completion order, not item order), so a caller can save finished
    work before the rest is done. Workers take `chunk` items at a time (default: `chunksize`); a
    chunk's results come back together. With a backend set (`set_backend`), workers > 1 go to it.
    """
    total = len(items)
    workers = resolve_workers(workers, total)
    out: list = [None] * total
    done = 0

    def emit(i: int, result: R) -> None:
        nonlocal done
        out[i], done = result, done + 1
        if on_result is not None:
            on_result(result)
        if progress is not None:
            progress(done, total)

    if workers == 1:
        for i, item in enumerate(items):
            emit(i, fn(item))
    elif _backend is not None:
        _backend(fn, list(enumerate(items)), workers, chunk, emit)
    else:
        target = getattr(fn, "func", fn)
        _POOL_CONTEXT.set_forkserver_preload([target.__module__])
        with _POOL_CONTEXT.Pool(workers) as pool:
            for i, result in pool.imap_unordered(
                partial(_indexed, fn), enumerate(items), chunksize=chunk or chunksize(total, workers)
            ):
                emit(i, result)
    return out


def run_chunk(fn: Callable[[T], R], pairs: list[tuple[int, T]]) -> list[tuple[int, R]]:
    """fn on a chunk of (index, item) pairs, keeping the indices: a backend's unit of work."""
    return [(i, fn(x)) for i, x in pairs]


def _indexed(fn: Callable[[T], R], pair: tuple[int, T]) -> tuple[int, R]:
    """fn on an (index, item) pair, keeping the index: results arrive unordered and are put back in place."""
    return pair[0], fn(pair[1])
