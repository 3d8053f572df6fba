import polars as pl

from tasks.stages.mlc.evaluate import summarise


def test_summary_has_mean_std_and_ranks_per_dataset_and_method() -> None:
    scores = pl.DataFrame(
        {
            "dataset": ["digits"] * 4,
            "method": ["mlc", "mlc", "kmeans", "kmeans"],
            "seed": [0, 1, 0, 1],
            "acc": [0.8, 0.9, 0.7, 0.7],
            "nmi": [0.6, 0.8, 0.5, 0.5],
            "ari": [0.1, 0.3, 0.2, 0.2],
        }
    )
    ranks = pl.DataFrame(
        {"dataset": ["digits"] * 2, "seed": [0, 1], "overall_rank": [30, 28], "mean_class_rank": [4.0, 5.0]}
    )
    out = summarise(scores, ranks)
    assert out["digits"]["mlc"]["acc_mean"] == 0.85 and out["digits"]["mlc"]["acc_std"] == 0.05
    assert out["digits"]["mlc"]["n_seeds"] == 2 and out["digits"]["mlc"]["overall_rank"] == 29
    assert out["digits"]["kmeans"]["nmi_std"] == 0 and "overall_rank" not in out["digits"]["kmeans"]


def test_verdict_says_whether_mlc_beats_every_baseline() -> None:
    from tasks.stages.mlc.report import verdict

    methods = {"mlc": {"acc_mean": 0.9, "nmi_mean": 0.85}, "kmeans": {"acc_mean": 0.8, "nmi_mean": 0.86}}
    assert verdict(methods).startswith("**MLC does not beat") and "kmeans 0.860" in verdict(methods)
    methods["kmeans"]["nmi_mean"] = 0.7
    assert verdict(methods).startswith("**MLC beats every baseline")


def test_targets_are_marked_met_or_missed_from_the_means() -> None:
    from tasks.stages.mlc.report import targets

    methods = {
        "mlc": {"acc_mean": 0.86, "n_seeds": 3, "mean_class_rank": 4.0, "overall_rank": 30.0},
        "kmeans": {"acc_mean": 0.53},
        "spectral_knn10": {"acc_mean": 0.82},
    }
    rows = {r["target"]: r for r in targets("mnist", methods)}
    assert rows["ACC ≥ 0.85"]["result"] == "met"
    margin = rows["ACC ≥ best scikit-learn baseline + 0.05"]
    assert margin["result"] == "missed" and "spectral_knn10 0.820" in margin["measured"]
    assert rows["≥ 3 seeds"]["result"] == "met"
    methods["mlc"] |= {"n_seeds": 1, "mean_class_rank": 20.0}
    rows = {r["target"]: r["result"] for r in targets("mnist", methods)}
    assert rows["≥ 3 seeds"] == "missed" and list(rows.values())[-1] == "missed"
