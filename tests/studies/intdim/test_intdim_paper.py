from studies.intdim.models import build, n_params
from studies.intdim.paper import CITATION, TABLE1, paper_row

SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def test_every_tabled_D_is_the_parameter_count_of_the_network_built_here() -> None:
    for row in TABLE1:
        width, depth = (400, 5) if row.shuffle == "labels" else (200, 2)
        assert n_params(build(row.arch, SHAPES[row.dataset], width, depth, 10, seed=0)) == row.D, row


def test_table_holds_the_headline_number_and_says_how_each_value_was_checked() -> None:
    assert paper_row("mnist", "none", "fc").d_int90 == 750
    assert paper_row("cifar10", "none", "lenet").d_int90 == 2_900
    assert paper_row("cifar10", "pixels", "fc") is None
    assert {row.source for row in TABLE1} == {"reference notebook", "unverified"}
    assert "ICLR 2018" in CITATION and "Table 1" in CITATION
