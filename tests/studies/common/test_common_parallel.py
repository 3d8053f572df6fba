"""ordered_map: results in item order, in or out of process, and each handed to `on_result` as it arrives."""
from __future__ import annotations

import time

import pytest

from studies.common.parallel import ordered_map


def slow_square(x: int) -> int:
    """The first item takes longest, so out of process it finishes last."""
    time.sleep(1.0 if x == 0 else 0.01)
    return x * x


@pytest.mark.parametrize("workers", [1, 2])
def test_results_keep_item_order_and_each_arrives_once(workers: int) -> None:
    seen, progress = [], []
    out = ordered_map(slow_square, list(range(6)), workers, progress=lambda d, t: progress.append((d, t)),
                      on_result=seen.append, chunk=1)
    assert out == [x * x for x in range(6)]
    assert sorted(seen) == out and progress == [(d, 6) for d in range(1, 7)]
    if workers == 2:  # completion order: the slow first item does not hold back the others
        assert seen[-1] == 0


def test_no_items_no_calls() -> None:
    assert ordered_map(slow_square, [], 2, on_result=lambda r: pytest.fail("no result expected")) == []
