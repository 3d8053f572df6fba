"""The registry of datasets ingest accepts: every `Dataset` declared in a module of tasks/data/datasets/.

A module there registers its datasets by listing them in a module-level `DATASETS`; adding a dataset means
adding one such module (or one entry to an existing one), and no change to ingest.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Sequence

from tasks.data.declaration import Dataset, IngestError

PACKAGE = "tasks.data.datasets"


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def check_distinct(datasets: Iterable[Dataset]) -> None:
    """Names must be unique and folders disjoint: each dataset owns its folder of data/."""
    seen: list[Dataset] = []
    for d in datasets:
        for other in seen:
            if d.name == other.name or _overlap(d.folder, other.folder):
                raise IngestError(
                    f"Datasets {other.name} (data/{other.folder}) and {d.name} (data/{d.folder}) clash: "
                    "names must differ and neither folder may contain the other. "
                    "Fix: rename one of them or move its folder."
                )
        seen.append(d)


def discover(package: str = PACKAGE) -> dict[str, Dataset]:
    """Every dataset declared in the modules of `package`, in module then declaration order."""
    found: list[Dataset] = []
    for info in sorted(pkgutil.iter_modules(importlib.import_module(package).__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{info.name}")
        declared = getattr(module, "DATASETS", None)
        if not isinstance(declared, (list, tuple)) or not all(isinstance(d, Dataset) for d in declared):
            raise IngestError(
                f"{module.__name__} declares no datasets. Fix: give it a module-level "
                "`DATASETS = [Dataset(...), ...]` (tasks/data/declaration.py), or move it out of the package."
            )
        found.extend(declared)
    check_distinct(found)
    return {d.name: d for d in found}


DATASETS: dict[str, Dataset] = discover()
DEFAULT_DATASETS: tuple[str, ...] = tuple(name for name, d in DATASETS.items() if d.default)


def dataset_names() -> dict[str, str]:
    """Every declared dataset: name -> one-line description (the CLI's help), defaults marked."""
    return {name: d.description + (" [default]" if d.default else "") for name, d in sorted(DATASETS.items())}


def resolve(datasets: Sequence[str | Dataset]) -> list[Dataset]:
    """Names (looked up here) or declarations (a caller's own, e.g. a test's), once each, in order."""
    resolved: list[Dataset] = []
    for item in datasets:
        if isinstance(item, str):
            if item not in DATASETS:
                raise IngestError(f"Unknown dataset {item!r}. Fix: use one of {', '.join(sorted(DATASETS))}.")
            item = DATASETS[item]
        if item not in resolved:
            resolved.append(item)
    check_distinct(resolved)
    return resolved
