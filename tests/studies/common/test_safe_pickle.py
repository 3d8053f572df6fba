"""The arrays-only unpickler loads what CIFAR batches hold and refuses anything that could run code."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from studies.common.safe_pickle import load_arrays


def test_dicts_of_arrays_bytes_and_lists_load_back() -> None:
    batch = {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), b"labels": [1, 2, 3], b"batch_label": b"x"}
    loaded = load_arrays(pickle.dumps(batch, protocol=2))
    assert np.array_equal(loaded[b"data"], batch[b"data"]) and loaded[b"labels"] == [1, 2, 3]


class _Planted:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo planted",))


def test_a_planted_callable_is_refused_before_it_runs() -> None:
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle (posix|os)\.system"):
        load_arrays(pickle.dumps({b"data": _Planted()}, protocol=2))
