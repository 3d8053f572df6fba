"""Fan `ordered_map` out as Prefect task runs on a Dask cluster, when studies.toml's `[fan_out] runner` asks
for it.

`STUDIES_TASK_RUNNER=dask` (studies.toml `[fan_out] runner = "dask"`) sends every multi-worker map of a
stage (CDVAE structure matching and fingerprints, SSVI's run × seed fits) through prefect_dask's
DaskTaskRunner: one Prefect task run per chunk, so the Prefect UI shows the work and Dask's per-task cost
is paid per chunk, not per item. `STUDIES_DASK_ADDRESS` names an existing scheduler (workers on other
hosts, started from the same checkout and venv so they can import `studies`); without it each map starts
a LocalCluster of the step's worker count on 127.0.0.1, as the process pool would. Unset: the process pool.
Results, their order and the progress/on_result calls are the same either way (studies/common/parallel.py).

The task runs report to the Prefect API that PREFECT_API_URL names, which the Dask workers must reach too.
Without one, a LocalCluster's workers are pointed at this process's temporary local server (left alone, each
worker would try to start its own and time out), and a cluster at an address is refused.

Ray is not offered: prefect-ray is neither installed nor pinned here (it would bring ray and its dependencies
into the lock for a second way to do what the Dask runner already does, other hosts included); it would be
one more name in RUNNERS and a RayTaskRunner in place of the DaskTaskRunner.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from studies.common import parallel
from tasks.platform.errors import StudiesError
from tasks.platform.settings import ADDRESS_ENV, RUNNER_ENV

RUNNERS = ("dask",)


class FanOutError(StudiesError):
    """The configured task runner is unknown or cannot be reached."""


def backend_from_env() -> parallel.Backend | None:
    """The backend $STUDIES_TASK_RUNNER names (None when unset); an unknown name is refused, naming the known
    ones."""
    runner = os.environ.get(RUNNER_ENV, "").strip()
    if not runner:
        return None
    if runner not in RUNNERS:
        raise FanOutError(
            f"{RUNNER_ENV}={runner!r} (studies.toml [fan_out] runner) is not a known task runner. "
            f"Fix: use one of {', '.join(RUNNERS)}, or unset it for the process pool."
        )
    address = os.environ.get(ADDRESS_ENV) or None
    from prefect.settings import (
        PREFECT_API_URL,
    )  # Prefect and Dask load only when asked for (seconds per stage)

    if address and not PREFECT_API_URL.value():
        raise FanOutError(
            f"{ADDRESS_ENV}={address} but no Prefect server is set, and the Dask workers cannot "
            "reach this process's temporary one. Fix: set [prefect] api_url in studies.toml "
            "(PREFECT_API_URL) to a server they can reach."
        )
    from tasks.orchestration.fan_out_dask import DaskFanOut

    return DaskFanOut(address)


@contextmanager
def from_environment() -> Iterator[None]:
    """Within: ordered_map fans out as the environment says; afterwards the previous backend is back."""
    previous = parallel.set_backend(backend_from_env())
    try:
        yield
    finally:
        parallel.set_backend(previous)
