"""Fan `ordered_map` out as Prefect task runs on a Dask cluster, when studies.toml's `[fan_out] runner` asks for it.

`STUDIES_TASK_RUNNER=dask` (studies.toml `[fan_out] runner = "dask"`) sends every multi-worker map of a
stage (CDVAE structure matching and fingerprints, SSVI's run × seed fits) through prefect_dask's
DaskTaskRunner: one Prefect task run per chunk, so the Prefect UI shows the work and Dask's per-task cost
is paid per chunk, not per item. `STUDIES_DASK_ADDRESS` names an existing scheduler (workers on other
hosts, started from the same checkout and venv so they can import `studies`); without it each map starts
a LocalCluster of the step's worker count on 127.0.0.1, as the process pool would. Unset: the process pool.
Results, their order and the progress/on_result calls are the same either way (studies/common/parallel.py).

The task runs report to the Prefect API of the stage process (PREFECT_API_URL), which the Dask workers
must reach too; without one, each Dask worker process starts Prefect's temporary local server.

Ray is not offered: prefect-ray is neither installed nor pinned (ray's wheels are large and not in this
project's lock), and the Dask runner already reaches other hosts.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.futures import as_completed
from prefect.settings import PREFECT_API_URL, PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW, temporary_settings
from prefect_dask import DaskTaskRunner

from studies.common import parallel

T = TypeVar("T")
R = TypeVar("R")

RUNNER_ENV = "STUDIES_TASK_RUNNER"
ADDRESS_ENV = "STUDIES_DASK_ADDRESS"
RUNNERS = ("dask",)
TAG = "fan-out"


class FanOutError(ValueError):
    pass


# Results go straight back through Dask: no cache key (it would hash every input) and nothing persisted.
chunk_task = task(parallel.run_chunk, name="fan-out-chunk", cache_policy=NO_CACHE, persist_result=False)


class DaskFanOut:
    """A `parallel.Backend`: each chunk of a map is a Prefect task run (tags `fan-out` and the function's
    name) submitted through a DaskTaskRunner. The runs stand alone rather than in a flow run: a flow run's
    context, its function and parameters with it, would be shipped to the workers with every chunk."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def runner(self, workers: int) -> DaskTaskRunner:
        """The cluster at `address`, else a LocalCluster of `workers` single-threaded processes on 127.0.0.1
        (its scheduler's HTTP server on a free port: two clusters at once must not both want 8787)."""
        if self.address:
            return DaskTaskRunner(address=self.address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                              "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"})

    def api_url(self) -> str:
        """The Prefect API the workers report to: PREFECT_API_URL, else this process's temporary local server
        (started here if need be), which only workers on this host can reach."""
        if url := PREFECT_API_URL.value():
            return url
        if self.address:
            raise FanOutError(f"{ADDRESS_ENV}={self.address} but no Prefect server is set, and the Dask workers cannot "
                              "reach this process's temporary one. Fix: set [prefect] api_url in studies.toml "
                              "(PREFECT_API_URL) to a server they can reach.")
        with get_client(sync_client=True) as client:
            return str(client.api_url).rstrip("/")

    def __call__(self, fn: Callable[[T], R], pairs: list[tuple[int, T]], workers: int, chunk: int | None,
                 emit: Callable[[int, R], None]) -> None:
        name = getattr(getattr(fn, "func", fn), "__name__", "map")
        # the settings travel to the workers with each task run; the runs belong to no flow run, and say so quietly
        settings = {PREFECT_API_URL: self.api_url(), PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"}
        with temporary_settings(settings), self.runner(workers) as runner:
            # chunks sized for the slots the cluster has (one at an address may have more than `workers`)
            slots = sum(runner.client.nthreads().values()) or workers
            size = chunk or parallel.chunksize(len(pairs), slots)
            chunks = [pairs[i:i + size] for i in range(0, len(pairs), size)]
            futures = [runner.submit(chunk_task.with_options(task_run_name=f"{name}[{c[0][0]}:{c[-1][0] + 1}]",
                                                             tags=[TAG, name]), {"fn": fn, "pairs": c})
                       for c in chunks]
            for future in as_completed(futures):
                for i, result in future.result():
                    emit(i, result)


def backend_from_env() -> parallel.Backend | None:
    """The backend $STUDIES_TASK_RUNNER names (None when unset); an unknown name is refused, naming the known ones."""
    runner = os.environ.get(RUNNER_ENV, "").strip()
    if not runner:
        return None
    if runner not in RUNNERS:
        raise FanOutError(f"{RUNNER_ENV}={runner!r} (studies.toml [fan_out] runner) is not a known task runner. "
                          f"Fix: use one of {', '.join(RUNNERS)}, or unset it for the process pool.")
    return DaskFanOut(os.environ.get(ADDRESS_ENV) or None)


@contextmanager
def from_environment() -> Iterator[None]:
    """Within: ordered_map fans out as the environment says; afterwards the previous backend is back."""
    previous = parallel.set_backend(backend_from_env())
    try:
        yield
    finally:
        parallel.set_backend(previous)
