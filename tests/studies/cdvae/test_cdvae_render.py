"""Ground-truth / reconstruction figures of real perov_5 test crystals."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import pytest
from pymatgen.core import Structure

from studies.cdvae.data import parse_structures, read_cdvae_csv, structures_from_table
from studies.cdvae.render import render_pairs
from tests.conftest import MIRROR

PEROV_TEST = MIRROR / "cdvae" / "perov_5" / "test.csv"


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, Structure]]:
    df = parse_structures(read_cdvae_csv(PEROV_TEST, ["material_id", "cif"]).head(3), "test.csv")
    return list(zip(df["material_id"].to_list(), structures_from_table(df)))


def test_png_has_one_row_per_pair_and_allows_missing_reconstructions(rows, tmp_path: Path) -> None:
    pairs = [(mid, s, s if i != 1 else None) for i, (mid, s) in enumerate(rows)]
    path = render_pairs(pairs, tmp_path / "figs" / "pairs.png")
    assert path == tmp_path / "figs" / "pairs.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000
    one = render_pairs(pairs[:1], tmp_path / "one.png")
    tall, short = matplotlib.image.imread(path), matplotlib.image.imread(one)
    assert tall.shape[1] == short.shape[1] and tall.shape[0] == pytest.approx(3 * short.shape[0], rel=0.01)


def test_only_missing_reconstructions(rows, tmp_path: Path) -> None:
    path = render_pairs([(rows[0][0], rows[0][1], None)], tmp_path / "none.png")
    assert path.stat().st_size > 5_000


def test_nothing_to_render_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        render_pairs([], tmp_path / "empty.png")
