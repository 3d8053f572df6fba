"""What a profile leaves open (null or absent) is the dataset's, in the stages and in `studies params` alike;
a value the profile gives wins, unless the prepared crystals cannot fit it."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tasks.platform.errors import StudiesError
from tasks.platform.params import study_params
from tasks.stages.cdvae import resolved_params
from tasks.stages.cdvae.train import configs
from tests.conftest import REPO


def _comment(block: dict, key: str) -> str | None:
    comment = block.ca.items.get(key)
    return comment[2].value.strip() if comment else None


def test_studies_params_shows_the_datasets_settings_where_the_profile_leaves_them_open() -> None:
    params = study_params(REPO / "params.yaml", "cdvae", "ci")
    params["prepare"]["dataset"] = "carbon_24"
    shown = resolved_params(params)
    prepare, model, optim = shown["prepare"], shown["train"]["model"], shown["train"]["optim"]
    assert (prepare["property"], prepare["max_atoms"], model["max_atoms"]) == ("energy_per_atom", 24, 24)
    assert (
        _comment(model, "max_atoms") == "# carbon_24's" and _comment(prepare, "max_atoms") == "# carbon_24's"
    )
    assert optim["teacher_forcing_fraction"] == 0.25 and optim["epochs"] == 3  # the profile's epochs win
    assert _comment(optim, "epochs") is None
    assert shown["evaluate-generation"]["coverage_cutoffs"] == [0.2, 4.0]

    params["prepare"]["max_atoms"] = 30
    shown = resolved_params(params)
    assert shown["train"]["model"]["max_atoms"] == 30 and _comment(shown["prepare"], "max_atoms") is None

    params["prepare"]["dataset"] = "mp_20"  # cutoffs unlike Perov-5's: they must come from the declaration
    assert resolved_params(params)["evaluate-generation"]["coverage_cutoffs"] == [0.4, 10.0]


def _prepared(folder: Path, num_atoms: list[int]) -> Path:
    folder.mkdir()
    sizes = {}
    for split in ("train", "val", "test"):
        pl.DataFrame({"num_atoms": num_atoms}).write_parquet(folder / f"{split}.parquet")
        sizes[split] = len(num_atoms)
    record = {"dataset": "carbon_24", "max_atoms": 24, "sizes": sizes}
    (folder / "splits.json").write_text(json.dumps(record))
    return folder


def test_the_model_is_sized_from_the_prepared_crystals_and_too_small_a_size_is_refused(
    tmp_path: Path,
) -> None:
    prepared = _prepared(tmp_path / "prepared", [6, 12, 22])
    train = study_params(REPO / "params.yaml", "cdvae", "ci")["train"]
    model, optim = configs(train, prepared)
    assert model.max_atoms == 24 and optim.teacher_forcing_fraction == 0.25 and optim.epochs == 3
    train["model"]["max_atoms"] = 22  # enough for these crystals: the profile's choice stands
    assert configs(train, prepared)[0].max_atoms == 22
    train["model"]["max_atoms"] = 20
    with pytest.raises(StudiesError) as err:
        configs(train, prepared)
    assert (
        "max_atoms = 20 is smaller than the prepared carbon_24 crystals need: 22 atoms" in err.value.message
    )
    assert "at least 22" in err.value.fix and "sized from the prepared data (24)" in err.value.fix
