"""Wall time of one evaluation map (CDVAE's reconstruction metric) on the process pool vs \
Prefect task runs on Dask.

Run: .venv/bin/python benchmarks/fan_out.py [--n 64] [--workers 2] [--repeats 1]
Three ways to run the same `reconstruction_metrics` call on `--n` noisy Perov-5 pairs (as
cdvae_match_throughput.py): the process pool (STUDIES_TASK_RUNNER unset), `dask` with a LocalCluster started
for the map (what a stage gets without STUDIES_DASK_ADDRESS; cluster start-up included), and `dask` on a
cluster that is already running (given by address: the per-map cost without start-up). Prefect's API is
$PREFECT_API_URL or a temporary local server, started before the timings. Every run's per-pair RMS must equal
the pool's, or the script fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="number of (prediction, ground truth) pairs")
    parser.add_argument("--workers", type=int, default=2, help="pool processes / Dask worker processes")
    parser.add_argument(
        "--repeats", type=int, default=1, help="timed calls per way (the fastest is reported)"
    )
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="fan-out-bench-"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    import distributed
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from benchmarks.cdvae_match_throughput import default_csv, pairs
    from studies.cdvae.metrics import reconstruction_metrics
    from studies.common import parallel
    from tasks.orchestration.fan_out_dask import DaskFanOut

    preds, truths = pairs(default_csv(), args.n, 0.1)
    api = DaskFanOut().api_url()  # Prefect's API up before any timing
    print(
        f"{args.n} pairs, {args.workers} workers, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    def timed(label: str, backend: parallel.Backend | None, reference: list | None) -> list:
        best, rms = float("inf"), None
        for _ in range(args.repeats):
            previous = parallel.set_backend(backend)
            try:
                start = time.perf_counter()
                rms = reconstruction_metrics(preds, truths, workers=args.workers).rms
                best = min(best, time.perf_counter() - start)
            finally:
                parallel.set_backend(previous)
        if reference is not None and rms != reference:
            raise SystemExit(f"{label}: per-pair RMS differ from the process pool's")
        print(f"{label}: {best:.2f} s ({args.n / best:.1f} pairs/s)", flush=True)
        return rms

    reference = timed("process pool", None, None)
    timed("dask, LocalCluster started per map", DaskFanOut(), reference)
    # a cluster at an address needs PREFECT_API_URL set (remote workers cannot reach a temporary server)
    with (
        temporary_settings({PREFECT_API_URL: api}),
        distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
    ):
        warm: Callable = DaskFanOut(cluster.scheduler_address)
        timed("dask, running cluster (first map: workers import the study)", warm, reference)
        timed("dask, running cluster (warm)", warm, reference)


if __name__ == "__main__":
    main()
