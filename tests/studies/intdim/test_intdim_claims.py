import math

from studies.intdim.claims import (
    Net,
    judge,
    lenet_below_fc,
    shuffling_raises_lenet_not_fc,
    sizes_agree,
    within,
)


def net(name: str, arch: str, D: int, value: float | None, shuffle: str = "none", **kw) -> Net:
    """A network with a ±10 % interval around its value (unbounded above when it was not reached)."""
    low, high = (value * 0.9, value * 1.1) if value else (kw.pop("low", math.inf), math.inf)
    width, depth = kw.pop("size", (200, 2))
    return Net(
        name,
        kw.pop("dataset", "mnist"),
        arch,
        shuffle,
        width,
        depth,
        D,
        value,
        low,
        high,
        kw.pop("top", 2000),
    )


FC = [net("fc-50x1", "fc", 39_760, 700, size=(50, 1)), net("fc-100x3", "fc", 99_710, 800, size=(100, 3))]
FC200 = net("fc-200x2", "fc", 199_210, 900)
LENET = net("lenet", "lenet", 44_426, 300)
PAPER_LIKE = [
    *FC,
    FC200,
    LENET,
    net("lenet-pixels", "lenet", 44_426, 1400, "pixels"),
    net("fc-pix", "fc", 199_210, 850, "pixels"),
]


def test_the_paper_like_sweep_shows_every_claim() -> None:
    verdicts = judge(PAPER_LIKE)
    assert {k: v.holds for k, v in verdicts.items()} == {"a": True, "b": True, "c": True}
    assert "×5.0" in verdicts["a"].measured and "ratio 0.33" in verdicts["b"].measured


def test_claim_a_needs_three_sizes_spanning_four_times_the_parameters() -> None:
    assert sizes_agree(FC, "mnist").holds is None  # two sizes
    close = [net("a", "fc", 100_000, 700), net("b", "fc", 150_000, 700), net("c", "fc", 200_000, 700)]
    assert sizes_agree(close, "mnist").holds is None and "2.0×" in sizes_agree(close, "mnist").measured
    assert sizes_agree([*FC, FC200], "mnist").holds is True  # 700-900: ×1.29
    spread = [*FC, net("fc-200x2", "fc", 199_210, 1200)]  # ×1.71
    assert sizes_agree(spread, "mnist").holds is False
    unreached = [*FC, net("fc-200x2", "fc", 199_210, None)]
    assert (
        sizes_agree(unreached, "mnist").holds is None
        and "fc-200x2" in sizes_agree(unreached, "mnist").measured
    )


def test_claim_b_needs_half_the_fc_value_and_intervals_apart() -> None:
    assert lenet_below_fc(LENET, FC200).holds is True
    assert lenet_below_fc(net("lenet", "lenet", 44_426, 500), FC200).holds is False  # ratio 0.56
    wide = Net("lenet", "mnist", "lenet", "none", 200, 2, 44_426, 400, 300, 850, 2000)
    assert lenet_below_fc(wide, FC200).holds is False  # ratio 0.44, but 850 > the FC net's low end 810
    never = net("fc-200x2", "fc", 199_210, None, top=1500)  # counts as ≥ 1,500
    assert (
        lenet_below_fc(LENET, never).holds is True and "at most 0.20" in lenet_below_fc(LENET, never).measured
    )
    assert lenet_below_fc(None, FC200).holds is None
    assert lenet_below_fc(net("lenet", "lenet", 44_426, None), FC200).holds is None


def test_claim_c_needs_lenet_raised_and_the_fc_net_unchanged() -> None:
    pixels = net("lenet-pixels", "lenet", 44_426, 1400, "pixels")
    fc_pixels = net("fc-pix", "fc", 199_210, 850, "pixels")
    assert shuffling_raises_lenet_not_fc(LENET, pixels, FC200, fc_pixels).holds is True
    fc_raised = net("fc-pix", "fc", 199_210, 1400, "pixels")  # ×1.56
    assert shuffling_raises_lenet_not_fc(LENET, pixels, FC200, fc_raised).holds is False
    barely = net("lenet-pixels", "lenet", 44_426, 400, "pixels")  # ×1.33
    assert shuffling_raises_lenet_not_fc(LENET, barely, FC200, fc_pixels).holds is False
    # never reached by d = 2,000: at least ×6.7, its interval starting above plain LeNet's
    unreached = net("lenet-pixels", "lenet", 44_426, None, "pixels", low=1800)
    verdict = shuffling_raises_lenet_not_fc(LENET, unreached, FC200, fc_pixels)
    assert verdict.holds is True and "×6.67 at least" in verdict.measured
    assert shuffling_raises_lenet_not_fc(LENET, None, FC200, fc_pixels).holds is None


def test_claim_c_pairs_the_shuffled_fc_net_with_the_plain_one_of_its_size() -> None:
    small_pixels = net("fc-50x1-pixels", "fc", 39_760, 1400, "pixels", size=(50, 1))  # ×2 the plain 50x1
    nets = [*FC, FC200, LENET, net("lenet-pixels", "lenet", 44_426, 1400, "pixels"), small_pixels]
    assert judge(nets)["c"].holds is False and "700 → 1,400" in judge(nets)["c"].measured


def test_claims_are_judged_on_mnist_when_the_profile_has_it() -> None:
    digits = [net(f"digits-{i}", "fc", 1000 * 5**i, 100, dataset="digits") for i in range(3)]
    assert judge(digits)["a"].holds is True and judge(digits)["b"].holds is None
    assert judge([*digits, *FC])["a"].holds is None  # on MNIST there are only two FC sizes


def test_within_tolerance_of_the_paper_value() -> None:
    assert within(970, 750, 0.3) and within(530, 750, 0.3) and not within(1000, 750, 0.3)
    assert not within(None, 750, 0.3)
