"""Unpickling that cannot run code: CIFAR's python batches are pickles, and a planted file must not execute.

Hand-written because neither numpy nor the standard library ships a restricted loader.
"""

from __future__ import annotations

import io
import pickle
from typing import IO, Any


class ArraysOnly(pickle.Unpickler):
    """Unpickle only what CIFAR batches hold (dicts, lists, bytes and numpy arrays)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # protocol-2 bytes from Python 3
    }

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: a CIFAR batch holds only arrays"
            )
        return super().find_class(module, name)


def load_arrays(source: IO[bytes] | bytes) -> Any:
    """The object in a CIFAR-style pickle (bytes keys, as the batches were written by Python 2)."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    return ArraysOnly(stream, encoding="bytes").load()
