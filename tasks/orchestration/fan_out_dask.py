"""The Dask backend that tasks/orchestration/fan_out.py picks: chunks of an `ordered_map` as Prefect task runs
through prefect_dask's DaskTaskRunner. A module of its own so that stages which do not fan out never import
Prefect or Dask."""

from __future__ import annotations

from collections.abc import Callable
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

TAG = "fan-out"


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
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": workers,
                "threads_per_worker": 1,
                "processes": True,
                "host": "127.0.0.1",
                "dashboard_address": "127.0.0.1:0",
            }
        )

    def api_url(self) -> str:
        """The Prefect API the workers report to: PREFECT_API_URL, else this process's temporary local server
        (started here if need be), which only workers on this host can reach (tasks/orchestration/fan_out.py
        refuses a cluster address without PREFECT_API_URL before building this backend)."""
        if url := PREFECT_API_URL.value():
            return url
        with get_client(sync_client=True) as client:
            return str(client.api_url).rstrip("/")

    def __call__(
        self,
        fn: Callable[[T], R],
        pairs: list[tuple[int, T]],
        workers: int,
        chunk: int | None,
        emit: Callable[[int, R], None],
    ) -> None:
        name = getattr(getattr(fn, "func", fn), "__name__", "map")
        # the settings travel to the workers with each task run; the runs belong to no flow run, and say so
        # quietly
        settings = {PREFECT_API_URL: self.api_url(), PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"}
        with temporary_settings(settings), self.runner(workers) as runner:
            # chunks sized for the slots the cluster has (one at an address may have more than `workers`)
            slots = sum(runner.client.nthreads().values()) or workers
            size = chunk or parallel.chunksize(len(pairs), slots)
            chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
            futures = [
                runner.submit(
                    chunk_task.with_options(
                        task_run_name=f"{name}[{c[0][0]}:{c[-1][0] + 1}]", tags=[TAG, name]
                    ),
                    {"fn": fn, "pairs": c},
                )
                for c in chunks
            ]
            for future in as_completed(futures):
                for i, result in future.result():
                    emit(i, result)
