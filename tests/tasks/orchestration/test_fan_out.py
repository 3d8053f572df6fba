"""Fan-out over Prefect's DaskTaskRunner: the same results, order and callbacks as the process pool, one
Prefect task run per chunk, on a LocalCluster of the step's workers or an existing cluster given by address;
unknown runners refused.

Real things only: a Prefect server on 127.0.0.1 (tests/conftest.py), Dask clusters of worker processes, and
CDVAE's reconstruction metric on real Perov-5 test crystals."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator

import distributed
import numpy as np
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterTags
from prefect.client.schemas.objects import TaskRun
from prefect.settings import PREFECT_API_URL, temporary_settings

from studies.cdvae.crystal import CrystalArrays, build_structure
from studies.cdvae.data import parse_structures, read_cdvae_csv, structures_from_table
from studies.cdvae.metrics import reconstruction_metrics
from studies.common import parallel
from studies.common.parallel import ordered_map
from tasks.orchestration import fan_out, fan_out_dask
from tests.conftest import MIRROR


@pytest.fixture(scope="module")
def prefect_api(shared_prefect: str) -> Iterator[str]:
    """The Prefect server the test process and its Dask workers report to (tests/conftest.py shares it)."""
    with temporary_settings({PREFECT_API_URL: shared_prefect}):
        yield shared_prefect


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    """An existing Dask cluster (two worker processes), reached only through its scheduler's address."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as c:
        yield c


@pytest.fixture(autouse=True)
def no_backend_left() -> Iterator[None]:
    yield
    assert parallel.set_backend(None) is None, "a test left a fan-out backend installed"


@pytest.fixture(scope="module")
def pairs() -> tuple[list[CrystalArrays], list[CrystalArrays]]:
    """Six Perov-5 test crystals and predictions for them: noisy copies (0.1 Å), every third one of its
    neighbour instead, so some pairs match (each with its own RMS) and some do not."""
    df = read_cdvae_csv(MIRROR / "cdvae" / "perov_5" / "test.csv", ["material_id", "cif"]).head(6)
    truths = [
        CrystalArrays.from_structure(s) for s in structures_from_table(parse_structures(df, "test.csv"))
    ]
    rng = np.random.default_rng(0)
    noisy = [
        dataclasses.replace(
            t,
            frac_coords=t.frac_coords
            + build_structure(t).lattice.get_fractional_coords(
                rng.normal(0.0, 0.1, size=t.frac_coords.shape)
            ),
        )
        for t in truths
    ]
    return [noisy[(k + 1) % 6] if k % 3 == 0 else noisy[k] for k in range(6)], truths


def task_runs(tag: str, expected: int, timeout: float = 30) -> list[TaskRun]:
    """Completed task runs tagged `tag`, once the server has recorded `expected` of them (it records from
    events)."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                task_run_filter=TaskRunFilter(tags=TaskRunFilterTags(all_=[fan_out_dask.TAG, tag]))
            )
            done = [r for r in runs if r.state is not None and r.state.is_completed()]
            if len(done) >= expected or time.monotonic() > deadline:
                return done
            time.sleep(0.5)


def test_dask_gives_the_pool_results_in_item_order(
    prefect_api: str,
    cluster: distributed.LocalCluster,
    pairs: tuple[list, list],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    preds, truths = pairs
    pool = reconstruction_metrics(preds, truths, workers=2)
    assert 0 < pool.match_rate < 1  # a mix of matches and misses, so the comparison can tell them apart

    monkeypatch.setenv(fan_out.RUNNER_ENV, "dask")
    monkeypatch.delenv(fan_out.ADDRESS_ENV, raising=False)
    progress: list[tuple[int, int]] = []
    with fan_out.from_environment():  # a LocalCluster of the step's 2 workers
        local = reconstruction_metrics(
            preds, truths, workers=2, progress=lambda d, t: progress.append((d, t))
        )
    monkeypatch.setenv(fan_out.ADDRESS_ENV, cluster.scheduler_address)
    with fan_out.from_environment():
        remote = reconstruction_metrics(preds, truths, workers=2)

    for result in (local, remote):
        assert result.rms == pool.rms and result.valid == pool.valid and result.match_rate == pool.match_rate
    assert progress == [(d, 6) for d in range(1, 7)]
    # one task run per chunk (chunksize(6, 2) = 1 here), from both clusters
    runs = task_runs("_match_pair", expected=12)
    assert sorted(r.name for r in runs) == sorted(2 * [f"_match_pair[{i}:{i + 1}]" for i in range(6)])


def test_one_task_run_per_chunk_and_each_result_once(
    prefect_api: str, cluster: distributed.LocalCluster
) -> None:
    seen: list[int] = []
    backend = fan_out_dask.DaskFanOut(cluster.scheduler_address)
    previous = parallel.set_backend(backend)
    try:
        out = ordered_map(math.factorial, list(range(7)), workers=2, on_result=seen.append, chunk=3)
    finally:
        parallel.set_backend(previous)
    assert out == [math.factorial(n) for n in range(7)] and sorted(seen) == sorted(out)
    runs = task_runs("factorial", expected=3)
    assert sorted(r.name for r in runs) == ["factorial[0:3]", "factorial[3:6]", "factorial[6:7]"]


def test_a_failing_item_raises_its_own_error(prefect_api: str, cluster: distributed.LocalCluster) -> None:
    previous = parallel.set_backend(fan_out_dask.DaskFanOut(cluster.scheduler_address))
    try:
        with pytest.raises(ValueError, match="negative"):
            ordered_map(math.factorial, [3, -1, 4], workers=2)
    finally:
        parallel.set_backend(previous)


def test_unset_runner_keeps_the_process_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fan_out.RUNNER_ENV, raising=False)
    assert fan_out.backend_from_env() is None


def test_unknown_runner_is_refused_naming_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fan_out.RUNNER_ENV, "ray")
    with pytest.raises(fan_out.FanOutError, match=r"STUDIES_TASK_RUNNER='ray'.*one of dask"):
        with fan_out.from_environment():
            pytest.fail("an unknown runner must be refused before the stage runs")


def test_a_cluster_address_without_a_prefect_server_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fan_out.RUNNER_ENV, "dask")
    monkeypatch.setenv(fan_out.ADDRESS_ENV, "tcp://127.0.0.1:1")
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        with pytest.raises(fan_out.FanOutError, match=r"api_url"):
            with fan_out.from_environment():
                pytest.fail("a cluster its workers cannot report from must be refused before the stage runs")
