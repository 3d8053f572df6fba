"""Another CDVAE dataset by params alone: the `ci` profile's stages, with only `cdvae.prepare.dataset` set to
carbon_24, on 48 carbon crystals built here (Carbon-24's CSVs are not in the offline mirror). The dataset's
declaration must size the model for 24 atoms, set the property and the coverage cutoffs, and the report must
put the paper's Carbon-24 numbers beside ours."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from pymatgen.core import Lattice, Structure

from studies.cdvae.data import parse_structures, read_cdvae_csv
from tasks.data.crystal_sets import CRYSTAL_SETS
from tasks.stages.cdvae import modelio
from tasks.stages.cdvae.report import PAPER_TABLE1, PAPER_TABLE2
from tests.conftest import REPO
from tests.tasks.stages.conftest import Stages

CARBON = CRYSTAL_SETS["carbon_24"]
# An order of dvc.yaml's DAG; each stage's files are where dvc.yaml puts them. Generation is scored before
# reconstruction so that the metrics' worker pools fork from a server that has imported the generation
# metrics (studies/common/parallel.py): otherwise each of its three pools imports matminer again.
STEPS = (
    "prepare",
    "train",
    "train-property-model",
    "generate",
    "evaluate-generation",
    "reconstruct",
    "evaluate",
    "report",
)


def _allotropes() -> dict[str, tuple[Structure, float]]:
    """Carbon allotropes by their cells, each with a made-up energy per atom near Carbon-24's (eV)."""
    a = 3.567  # diamond's cubic lattice constant, Å
    diamond = Structure(
        Lattice([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]]), ["C"] * 2, [[0] * 3, [0.25] * 3]
    )
    graphite = Structure(
        Lattice.hexagonal(2.464, 6.711),
        ["C"] * 4,
        [[0, 0, 0.25], [0, 0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]],
    )
    lonsdaleite = Structure(
        Lattice.hexagonal(2.51, 4.12),
        ["C"] * 4,
        [[1 / 3, 2 / 3, 0.0625], [2 / 3, 1 / 3, 0.5625], [1 / 3, 2 / 3, 0.4375], [2 / 3, 1 / 3, 0.9375]],
    )
    return {
        "diamond": (diamond, -154.50),
        "diamond-cubic": (Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["C"], [[0, 0, 0]]), -154.50),
        "graphite": (graphite, -154.52),
        "graphite-AA": (
            Structure(Lattice.hexagonal(2.46, 3.55), ["C"] * 2, [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0]]),
            -154.47,
        ),
        "lonsdaleite": (lonsdaleite, -154.45),
        "simple-cubic": (Structure(Lattice.cubic(1.8), ["C"], [[0, 0, 0]]), -152.0),
    }


# (allotrope, supercell). Mostly cells of 1 to 4 atoms, which keep the stages fast (CrystalNN and the
# fingerprints cost per atom), and four of 21 to 24 atoms: Carbon-24's largest, more than Perov-5's 20.
SMALL = [
    ("diamond", (1, 1, 1)),
    ("diamond", (2, 1, 1)),
    ("graphite", (1, 1, 1)),
    ("graphite-AA", (1, 1, 1)),
    ("graphite-AA", (1, 1, 2)),
    ("lonsdaleite", (1, 1, 1)),
    ("simple-cubic", (1, 1, 1)),
    ("simple-cubic", (2, 1, 1)),
    ("diamond-cubic", (1, 1, 1)),
]
LARGE = [
    ("simple-cubic", (3, 7, 1)),
    ("diamond", (11, 1, 1)),
    ("simple-cubic", (23, 1, 1)),
    ("lonsdaleite", (3, 2, 1)),
]


def carbon_csv(path: Path, cells: list[tuple[str, tuple[int, int, int]]], rng: np.random.Generator) -> None:
    """The cells, strained and rattled, as a CDVAE-format CSV (pandas index, material_id, cif,
    energy_per_atom)."""
    allotropes, rows = _allotropes(), []
    for k, (name, scale) in enumerate(cells):
        base, energy = allotropes[name]
        cell = base * scale
        strained = Lattice(cell.lattice.matrix @ (np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3))))
        cell = Structure(strained, cell.species, cell.frac_coords)
        cell.perturb(0.05)
        rows.append((f"{path.stem}-{k}", cell.to(fmt="cif"), energy + rng.normal(0, 0.02)))
    ids, cifs, energies = zip(*rows)
    pl.DataFrame(
        {"": range(len(rows)), "material_id": ids, "cif": cifs, "energy_per_atom": energies}
    ).write_csv(path)


def ingest(data: Path) -> None:
    """data/cdvae/carbon_24/{val,test}.parquet as ingest writes them (40 and 8 crystals), from CDVAE-format
    CSVs built here."""
    folder = data / CARBON.name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    small = [SMALL[k % len(SMALL)] for k in range(44)]
    for split, cells in (("val", small[:37] + LARGE[:3]), ("test", small[37:] + LARGE[3:])):
        carbon_csv(folder / f"{split}.csv", cells, rng)
        csv = read_cdvae_csv(folder / f"{split}.csv", CARBON.columns)
        parse_structures(csv, split).write_parquet(folder / f"{split}.parquet")


def stage_files(root: Path, step: str) -> tuple[dict[str, Path], dict[str, Path]]:
    """The step's `-i name=path` and `-o name=path` in dvc.yaml, on the ci profile under `root`."""
    cmd = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][f"cdvae-{step}"]["cmd"]
    tokens = shlex.split(cmd)
    files: dict[str, dict[str, Path]] = {"-i": {}, "-o": {}}
    for flag, value in zip(tokens, tokens[1:]):
        if flag in files:
            name, _, path = value.partition("=")
            files[flag][name] = root / path.replace("${profile}", "ci")
    return files["-i"], files["-o"]


def test_carbon_24_by_params_alone_on_the_ci_profile(stages: Stages) -> None:
    ingest(stages.root / "data" / "cdvae")
    stages.version_data()
    params = stages.params("cdvae")
    params["prepare"]["dataset"] = "carbon_24"
    for step in STEPS:
        inputs, outputs = stage_files(stages.root, step)
        stages.run("cdvae", step, params, inputs, outputs)
    results = stages.root / "results" / "ci" / "cdvae"

    splits = json.loads((results / "prepared" / "splits.json").read_text())
    assert (splits["property"], splits["max_atoms"]) == ("energy_per_atom", 24)
    assert splits["sizes"] == {"train": 36, "val": 4, "test": 8}  # nothing refused or dropped
    num_atoms = pl.concat(
        pl.read_parquet(results / "prepared" / f"{s}.parquet", columns=["num_atoms"]) for s in splits["sizes"]
    )["num_atoms"]
    assert set(range(21, 25)) <= set(num_atoms) and num_atoms.max() == 24

    model = modelio.load(results / "train")
    assert model.cfg.max_atoms == 24 and model.fc_num_atoms[-1].out_features == 25  # 0..24 atoms

    generation = json.loads((results / "generation_metrics.json").read_text())
    assert generation["dataset"] == "carbon_24" and generation["coverage_cutoffs"] == [0.2, 4.0]
    property_model = json.loads((results / "property-model" / "summary.json").read_text())
    assert property_model["property"] == "energy_per_atom"

    report = (stages.root / "reports" / "cdvae.md").read_text()
    assert "## Reconstruction — Carbon-24" in report and "## Generation — Carbon-24" in report
    match, rmse = PAPER_TABLE1["carbon_24"]
    table1 = f"| paper, Table 1, Carbon-24 (full test set, 4000-epoch training) | {match:.2f} | {rmse:.4f} |"
    paper2 = PAPER_TABLE2["carbon_24"]
    table2 = f"| paper, Table 2, Carbon-24 | {paper2['struct_valid']:.2f} | – | {paper2['cov_recall']:.2f} |"
    assert table1 in report and table2 in report
    assert "CDVAE, this run" in report and "4000 (256) for Carbon-24" in report
    assert "Perov-5" not in report and "97.52" not in report
