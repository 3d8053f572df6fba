from studies.intdim.config import IntDimConfig
from studies.intdim.models import build, n_params
from studies.intdim.paper import CITATION, PROTOCOLS, TABLE1, paper_row, protocol_deviations

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


def test_a_run_departs_from_the_reference_protocol_only_where_its_config_does() -> None:
    reference = IntDimConfig(arch="lenet", l2=1e-4).to_dict()
    assert protocol_deviations("mnist", "none", "lenet", reference) == []
    quick = reference | {"epochs": 8, "lr": 0.03}
    assert protocol_deviations("mnist", "none", "lenet", quick) == [("epochs", 8, 100), ("lr", 0.03, 1e-3)]
    assert protocol_deviations("mnist", "pixels", "lenet", reference) == [
        ("optimizer", "adam", "sgd"),
        ("lr", 1e-3, 0.01),
        ("l2", 1e-4, 0.0),
    ]
    assert protocol_deviations("digits", "none", "fc", reference) == [("condition", "digits, none, fc", None)]
    assert set(PROTOCOLS) == {(r.dataset, r.shuffle, r.arch) for r in TABLE1}
