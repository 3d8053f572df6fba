"""The settings a CDVAE profile may leave to the dataset (null or absent in params.yaml), filled from its
declaration (tasks/data/crystal_sets.py).

One place for the rule, so the stages and `studies params` agree on what runs. A value the profile gives
always wins. Light: `studies params` and the prepare stage import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.data.crystal_sets import crystal_set


def fill(given: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """`given` with every key of `defaults` that it leaves absent or null taken from `defaults`."""
    return {**given, **{k: v for k, v in defaults.items() if given.get(k) is None}}


def prepare_defaults(dataset_name: str) -> dict[str, Any]:
    """cdvae.prepare: the property the studies condition on and the largest crystal taken."""
    dataset = crystal_set(dataset_name)
    return {"property": dataset.property, "max_atoms": dataset.max_atoms}


def model_defaults(max_atoms: int) -> dict[str, Any]:
    """cdvae.train.model: the atom-count head covers the crystals prepared (their `max_atoms`)."""
    return {"max_atoms": max_atoms}


def optim_defaults(dataset_name: str) -> dict[str, Any]:
    """cdvae.train.optim: upstream's schedule for the dataset (the teacher forcing as a share of the epochs,
    so that it scales with a shorter run)."""
    s = crystal_set(dataset_name).schedule
    return {
        "epochs": s.epochs,
        "batch_size": s.batch_size,
        "teacher_forcing_fraction": s.teacher_forcing_fraction,
    }


def generation_defaults(dataset_name: str) -> dict[str, Any]:
    """cdvae.evaluate-generation (and `studies cdvae evaluate-cifs`): the published coverage cutoffs
    (δ_struct, δ_comp)."""
    return {"coverage_cutoffs": list(crystal_set(dataset_name).coverage_cutoffs)}
