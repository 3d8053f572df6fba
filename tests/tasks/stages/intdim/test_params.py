"""`studies params intdim`: each network as the config its runs are built from, and a typo refused before
any training."""

from __future__ import annotations

import pytest

from tasks.platform.params import study_params
from tasks.stages.intdim import resolved_params
from tasks.stages.intdim.train import fit_config, network_configs
from tests.conftest import REPO


def test_each_network_shows_its_grid_and_config_with_the_defaults_marked() -> None:
    shown = resolved_params(study_params(REPO / "params.yaml", "intdim", "cpu"))["train"]["networks"]["lenet"]
    assert list(shown)[:3] == ["dataset", "dims", "arch"] and "d" not in shown
    assert (shown["dataset"], shown["l2"], shown["lr"], shown["epochs"]) == ("mnist", 0.0001, 0.03, 8)
    marked = {key for key, comment in shown.ca.items.items() if comment and "default" in comment[2].value}
    assert "projection" in marked and "l2" not in marked and "lr" not in marked


def test_the_baselines_take_the_full_space_settings_and_the_subspace_runs_their_d() -> None:
    networks = network_configs(study_params(REPO / "params.yaml", "intdim", "cpu")["train"], shuffle_seed=3)
    pixels = networks["lenet-pixels"]
    assert fit_config(pixels, 0).lr == 0.001 and fit_config(pixels, 0).d == 0
    subspace = fit_config(pixels, 750)
    assert (subspace.d, subspace.lr, subspace.shuffle, subspace.l2) == (750, 0.03, "pixels", 0.0001)
    assert subspace.shuffle_seed == 3  # prepare's, whatever the network says


def test_a_typo_or_a_bad_grid_fails_before_any_training() -> None:
    train = study_params(REPO / "params.yaml", "intdim", "ci")["train"]
    typo = train | {"networks": {"fc": {"dataset": "digits", "widht": 8, "dims": [30]}}}
    with pytest.raises(ValueError, match="widht.*Valid keys"):
        network_configs(typo)
    unsorted = train | {"networks": {"fc": {"dataset": "digits", "dims": [100, 30]}}}
    with pytest.raises(ValueError, match="increasing"):
        network_configs(unsorted)
