"""Prefect's overhead per task: a flow of N trivial tasks vs the same N plain calls.

Run: .venv/bin/python benchmarks/prefect_overhead.py [N]   (embedded mode, temporary PREFECT_HOME)
Prints the per-task overhead in milliseconds and the flow's fixed start-up cost.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-bench-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from prefect import flow, task  # noqa: E402


def work(i: int) -> int:
    return i * i


traced = task(work, name="trivial")


@flow(name="overhead-bench")
def many(n: int) -> int:
    return sum(traced(i) for i in range(n))


@flow(name="overhead-empty")
def empty() -> int:
    return 0


def main(n: int) -> None:
    start = time.perf_counter()
    empty()  # first flow call also starts the local server
    first = time.perf_counter() - start
    start = time.perf_counter()
    empty()
    fixed = time.perf_counter() - start
    start = time.perf_counter()
    plain = sum(work(i) for i in range(n))
    plain_s = time.perf_counter() - start
    start = time.perf_counter()
    assert many(n) == plain
    flow_s = time.perf_counter() - start
    per_task_ms = (flow_s - fixed - plain_s) / n * 1000
    print(f"first flow call (local server start-up included): {first:.2f} s")
    print(
        f"empty flow: {fixed:.3f} s; {n} plain calls: {plain_s * 1000:.3f} ms; "
        f"flow of {n} tasks: {flow_s:.2f} s"
    )
    print(f"Prefect overhead per task: {per_task_ms:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
