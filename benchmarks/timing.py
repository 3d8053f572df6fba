"""Timing and device-record helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def device_record(device: torch.device) -> dict[str, str]:
    """What a measurement ran on, for its JSON: the GPU's name (or 'cpu'), the date and torch's version, so
    that a report can label device numbers without a hand-written note. Here, not in studies/common: no
    pipeline stage needs it, and a change there would invalidate every stage that imports it."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {"gpu": name, "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__}
