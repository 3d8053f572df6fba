"""ordered_map: results in item order, in or out of process, and each handed to `on_result` as it arrives."""

from __future__ import annotations

import time

import pytest

from studies.common.parallel import ordered_map, run_chunk, set_backend


def slow_square(x: int) -> int:
    """The first item takes longest, so out of process it finishes last."""
    time.sleep(1.0 if x == 0 else 0.01)
    return x * x


@pytest.mark.parametrize("workers", [1, 2])
def test_results_keep_item_order_and_each_arrives_once(workers: int) -> None:
    seen, progress = [], []
    out = ordered_map(
        slow_square,
        list(range(6)),
        workers,
        progress=lambda d, t: progress.append((d, t)),
        on_result=seen.append,
        chunk=1,
    )
    assert out == [x * x for x in range(6)]
    assert sorted(seen) == out and progress == [(d, 6) for d in range(1, 7)]
    if workers == 2:  # completion order: the slow first item does not hold back the others
        assert seen[-1] == 0


def test_no_items_no_calls() -> None:
    assert ordered_map(slow_square, [], 2, on_result=lambda r: pytest.fail("no result expected")) == []


class Reversed:
    """A backend that runs chunks in this process, last chunk first, and records the chunk sizes it was asked
    for."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, fn, pairs, workers, chunk, emit) -> None:
        self.calls.append((workers, chunk))
        for i, result in reversed(run_chunk(fn, pairs)):
            emit(i, result)


def test_a_backend_gets_multi_worker_maps_and_results_still_come_back_in_item_order() -> None:
    backend, seen, progress = Reversed(), [], []
    previous = set_backend(backend)
    try:
        out = ordered_map(
            abs, [-3, 1, -2], 2, progress=lambda d, t: progress.append((d, t)), on_result=seen.append, chunk=2
        )
        assert ordered_map(abs, [-5, 6], 1) == [5, 6]  # workers=1 stays in this process
    finally:
        assert set_backend(previous) is backend
    assert out == [3, 1, 2] and seen == [2, 1, 3] and progress == [(1, 3), (2, 3), (3, 3)]
    assert backend.calls == [(2, 2)]
