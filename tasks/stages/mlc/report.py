"""mlc-report: reports/mlc.md — MLC vs baselines on the data used, beside the paper's published numbers."""

from __future__ import annotations

import json

import mlflow

from tasks.orchestration.stage_runner import StageContext
from tasks.stages import report

# The paper's results (ResNet-18 backbones on CIFAR/TinyImageNet; not run on this CPU), printed beside ours.
PAPER_RESULTS = [
    ("CIFAR-10 (TCR init)", 0.863, 0.783),
    ("CIFAR-10 (MoCoV2 init)", 0.922, 0.855),
    ("CIFAR-20 (TCR init)", 0.522, 0.546),
    ("CIFAR-100 (TCR init)", 0.494, 0.683),
    ("TinyImageNet-200 (TCR init)", 0.335, 0.675),
]


# Deep-clustering results on all 70,000 images, as their papers report them (ACC, NMI; None: not reported).
# The papers themselves could not be read offline: DEC's 84.30 and IDEC's 88.06 / 86.72 agree with a secondary
# listing of IDEC's Table 2 (which the IDEC label says); N2D's is as its arXiv version was cited when this
# table was written. N2D's MNIST and DEC's Fashion-MNIST numbers (not in the DEC paper): left out, unchecked.
LITERATURE = {
    "mnist": [
        ("DEC (Xie, Girshick & Farhadi, ICML 2016, Table 2)", 0.843, None),
        ("IDEC (Guo et al., IJCAI 2017, Table 2; from a secondary listing of that table)", 0.8806, 0.8672),
    ],
    "fashion_mnist": [("N2D (McConville et al., ICPR 2020; arXiv:1908.05968)", 0.672, 0.684)],
}
# The targets for the `cpu` profile's image sets: an ACC floor, a margin over the best baseline.
TARGETS = {"mnist": 0.85, "fashion_mnist": 0.60}
IMAGE_SETS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
MARGIN = 0.05
MIN_SEEDS = 3
MANIFOLD_KINDS = ("curves", "spirals", "tori")


def targets(name: str, methods: dict[str, dict[str, float]]) -> list[dict[str, str]]:
    """The issue's targets for one image dataset, each marked met or missed from the measured means."""
    mlc = methods["mlc"]
    rivals = {m: v["acc_mean"] for m, v in methods.items() if m != "mlc"}
    best = max(rivals, key=rivals.get)
    rows = [
        (f"ACC ≥ {TARGETS[name]:.2f}", mlc["acc_mean"] >= TARGETS[name], f"{mlc['acc_mean']:.3f}"),
        (
            f"ACC ≥ best scikit-learn baseline + {MARGIN:.2f}",
            mlc["acc_mean"] >= rivals[best] + MARGIN,
            f"{mlc['acc_mean']:.3f} vs {best} {rivals[best]:.3f}",
        ),
        (f"≥ {MIN_SEEDS} seeds", mlc["n_seeds"] >= MIN_SEEDS, str(int(mlc["n_seeds"]))),
    ]
    if "mean_class_rank" in mlc:
        low = mlc["mean_class_rank"] < mlc["overall_rank"] / 2
        rows.append(
            (
                "per-class features low-rank (mean per-class rank < half the overall rank)",
                low,
                f"{mlc['mean_class_rank']} of {mlc['overall_rank']}",
            )
        )
    return [{"target": t, "result": "met" if ok else "missed", "measured": v} for t, ok, v in rows]


def verdict(methods: dict[str, dict[str, float]]) -> str:
    """One sentence: does MLC beat every baseline in mean ACC and NMI on this dataset?"""
    mlc = methods["mlc"]
    rivals = {m: v for m, v in methods.items() if m != "mlc"}
    best_acc = max(rivals, key=lambda m: rivals[m]["acc_mean"])
    best_nmi = max(rivals, key=lambda m: rivals[m]["nmi_mean"])
    beats = all(mlc["acc_mean"] > v["acc_mean"] and mlc["nmi_mean"] > v["nmi_mean"] for v in rivals.values())
    return (
        f"**MLC {'beats' if beats else 'does not beat'} every baseline in both ACC and NMI.** "
        f"Best baseline ACC: {best_acc} {rivals[best_acc]['acc_mean']:.3f} (MLC {mlc['acc_mean']:.3f}); "
        f"best baseline NMI: {best_nmi} {rivals[best_nmi]['nmi_mean']:.3f} (MLC {mlc['nmi_mean']:.3f})."
    )


def write_report(ctx: StageContext) -> None:
    summary = json.loads(ctx.inputs["metrics"].read_text())
    figures = report.copy_figures(ctx.outputs["figures"], ctx.inputs["figures"])
    doc = report.Document(f"MLC — Unsupervised Manifold Linearizing and Clustering (profile `{ctx.profile}`)")
    doc.para(
        "Ding et al., ICCV 2023. Features Z on the unit sphere and a doubly stochastic membership Γ "
        "(log-domain Sinkhorn on the cluster head's Gram matrix) maximise R(Z;ε) − R_c(Z,Γ;ε) after a TCR "
        "self-supervised warm-up and a one-shot copy of the feature head into the cluster head; clusters "
        "come from spectral clustering on Γ. The baselines are scikit-learn's, run in the same stage on the "
        "same features as MLC (L2-normalised rows) and, for digits, also on raw pixels (`:raw`, the setting "
        "of the published scikit-learn numbers in ANCHORS.md)."
    )
    doc.para(
        report.provenance(ctx.project, ctx.profile)
        + " Reproduce: `dvc repro mlc-report` or `studies run mlc`."
    )
    for name, methods in summary.items():
        doc.heading(name)
        doc.table(
            [
                {
                    "method": m,
                    "ACC": report.pm(v["acc_mean"], v["acc_std"]),
                    "NMI": report.pm(v["nmi_mean"], v["nmi_std"]),
                    "ARI": report.pm(v["ari_mean"], v["ari_std"]),
                    "seeds": int(v["n_seeds"]),
                }
                for m, v in sorted(methods.items(), key=lambda kv: -kv[1]["acc_mean"])
            ]
        )
        doc.para(verdict(methods))
        if "overall_rank" in (mlc := methods.get("mlc", {})):
            doc.para(
                f"Numerical rank of Z (share of energy `rank_energy`): overall {mlc['overall_rank']}, "
                f"mean per class {mlc['mean_class_rank']}: each class occupies a low-dimensional subspace."
            )
        doc.figures([f for f in figures if f.name.startswith(f"{name}-")], ctx.outputs["report"].parent)
    _targets_section(doc, summary, ctx.profile)
    _manifolds_section(doc, summary, ctx.params)
    _objective_section(doc)
    doc.heading("The paper's published numbers (ResNet-18 backbones)")
    doc.table([{"dataset (paper)": d, "ACC": f"{a:.3f}", "NMI": f"{n:.3f}"} for d, a, n in PAPER_RESULTS])
    _gpu_section(doc, report.gpu_checks(ctx.inputs.get("gpu_check"), "mlc_gpu_check"))
    doc.para(
        "Deviation from the paper, stated: on this CPU the study trains an MLP on 8×8 digits and synthetic "
        "sets, and a small CNN (3×3 convolutions of 8, 16 and 32 channels, studies/mlc/backbones.py) on "
        "MNIST and Fashion-MNIST, instead of a ResNet-18 on CIFAR; the `paper` profile carries ResNet-18 on "
        "CIFAR-10 with the published hyperparameters but needs a GPU. Offline, CIFAR-10 exists only as "
        "the mirror's lossy JPEG (q75) re-encoding; prepared/datasets.json records which copy a run used."
    )
    doc.write(ctx.outputs["report"])
    mlflow.log_artifact(str(ctx.outputs["report"]), "report")


def _gpu_section(doc: report.Document, checks: list[tuple[str, dict]]) -> None:
    """The `paper` profile's bounded GPU runs (benchmarks/mlc_gpu_check.py, copied into reports/gpu),
    labelled partial with their GPU and step counts: never a row beside the paper's as if comparable."""
    doc.heading("The `paper` profile on a GPU: partial runs")
    if not checks:
        doc.para(
            "Not run on a GPU yet: `benchmarks/mlc_gpu_check.py --profile paper --dataset cifar10` bounds "
            "the `paper` profile to a few minutes of one GPU; its JSON goes to reports/gpu/."
        )
        return
    checks = sorted(checks, key=lambda c: c[1]["config"]["warmup_steps"] + c[1]["config"]["mlc_steps"])
    doc.table(
        [
            {
                "label": f"partial, {c['config']['warmup_steps']} + {c['config']['mlc_steps']} steps on "
                f"{report.device_label(c)}",
                "data": f"{c['dataset']}, {c['n']:,} images",
                "ACC": f"{c['acc']:.3f}",
                "NMI": f"{c['nmi']:.3f}",
                "ARI": f"{c['ari']:.3f}",
                "largest cluster": f"{c['largest_cluster']:.0%}",
                "images/s": f"{c['images_per_second']:,.0f}",
                "peak memory (GiB)": f"{c['peak_memory_mb'] / 1024:.1f}",
                "file": f"`reports/gpu/{name}`",
            }
            for name, c in checks
        ]
    )
    full = checks[-1][1]
    doc.para(
        " ".join(
            (
                "One seed each, TCR warm-up + MLC steps far short of the profile's; the data is a",
                f"{full['n']:,}-image subset of the mirror's lossy JPEG (q75) copy of CIFAR-10",
                "(reports/gpu/README.md says which images), not the canonical set. These numbers are not",
                "comparable with the paper's CIFAR-10 row above; they show the profile runs on a GPU, its",
                "throughput and its memory.",
            )
        )
    )


def _targets_section(doc: report.Document, summary: dict, profile: str) -> None:
    doc.heading(f"Targets on MNIST and Fashion-MNIST (set for profile `cpu`; this run: `{profile}`)")
    doc.para(
        "All 70,000 images of each set (training and test sets together) are clustered, and the network "
        "trains on random batches of the same 70,000 (labels never seen), the deep-clustering "
        "literature's protocol. Γ is formed on 3,000 anchor images (n × n for 70,000 would take 20 GB); "
        "spectral clustering on the anchors' Γ gives their labels, and every image joins the cluster its "
        "cluster-head output votes for among the anchors (Γ's kernel exp(|cᵢ·cₐ|/η), normalised over the "
        "anchors). Baselines: KMeans and GMM on all images; spectral clustering (sparse 10-NN graph, "
        "ARPACK) and Ward on a seeded subsample of 5,000, scored on it."
    )
    doc.para(
        "How the paper assigns clusters for large n could not be read offline (only its abstract was "
        "reachable). The public CPP code of the same group runs spectral clustering on the Π of a batch "
        "(`main.py`), which is what the anchors are here; the vote that extends it to every image is ours."
    )
    for name in TARGETS:
        if name not in summary:
            doc.para(f"{name}: not measured yet (not in this profile's datasets).")
            continue
        doc.heading(f"{IMAGE_SETS[name]} (the mirror's canonical IDX files, pinned in data/SOURCES.json)", 3)
        doc.table(targets(name, summary[name]))
        literature = LITERATURE.get(name, [])
        doc.table(
            [
                {
                    "method": "MLC (ours, this run)",
                    "ACC": f"{summary[name]['mlc']['acc_mean']:.3f}",
                    "NMI": f"{summary[name]['mlc']['nmi_mean']:.3f}",
                }
            ]
            + [
                {
                    "method": f"{m} — published, not run here",
                    "ACC": f"{a:.3f}",
                    "NMI": "–" if n is None else f"{n:.3f}",
                }
                for m, a, n in literature
            ]
        )


def _manifolds_section(doc: report.Document, summary: dict, params: dict) -> None:
    names = [n for n in summary if n.startswith(MANIFOLD_KINDS)]
    if not names:
        return
    k = {spec["name"]: spec.get("n_manifolds") for spec in params["prepare"].get("synthetic", [])}
    doc.heading("Non-linear manifolds: where MLC's clusters collapse")
    doc.table(
        [
            {
                "dataset": n,
                "clusters k": k.get(n, "–"),
                "MLC ACC": f"{summary[n]['mlc']['acc_mean']:.3f}",
                "spectral kNN ACC": f"{summary[n]['spectral_knn10']['acc_mean']:.3f}",
                "blocks of Γ": summary[n]["mlc"].get("gamma_blocks", "–"),
                "largest MLC cluster (share)": summary[n]["mlc"].get("largest_cluster", "–"),
                "per-class rank of Z": summary[n]["mlc"].get("mean_class_rank", "–"),
            }
            for n in names
        ]
    )
    doc.para(fragmentation_verdict({n: summary[n]["mlc"] for n in names}, k))


def fragmentation_verdict(mlc: dict[str, dict[str, float]], k: dict[str, int | None]) -> str:
    """Why MLC's clusters collapse on each manifold set, as far as this run's numbers say: Γ broken into more
    nearly disconnected blocks than clusters (fragmentation), or a connected Γ still split unevenly."""
    fragmented = [n for n, m in mlc.items() if k.get(n) and m.get("gamma_blocks", 0) > k[n]]
    connected = [n for n in mlc if n not in fragmented]
    text = (
        "`blocks of Γ` counts the eigenvalues of the normalised symmetrised Γ above 1 − 10⁻³, i.e. nearly "
        "disconnected blocks (mean over seeds). "
    )
    if fragmented:
        text += (
            f"In {', '.join(fragmented)} Γ has more blocks than clusters: spectral clustering on Γ then "
            "splits off k − 1 small blocks and lumps the rest into one cluster. Our reading (a hypothesis, "
            "not tested by an ablation): R_c rewards each point's Γ-neighbourhood for being low-rank; on a "
            "curve any short arc is nearly linear, so the objective is as content with many short pieces per "
            "manifold as with whole manifolds, and nothing in it (or in a fixed η) joins the pieces. "
        )
    if connected:
        shares = ", ".join(f"{n} {mlc[n].get('largest_cluster', float('nan')):.0%}" for n in connected)
        text += (
            f"In {', '.join(connected)} Γ is not fragmented in this run (no more blocks than clusters), yet "
            f"MLC's largest cluster holds {shares} of the points: the collapse there is in how the "
            "spectral clustering of a connected Γ splits it, a cause this run does not isolate "
            "(`benchmarks/mlc_fragmentation.py` reruns the diagnosis). "
        )
    return text + (
        "No coding defect was found behind it; spectral clustering on a kNN graph of the raw rows, which "
        "joins pieces through chains of neighbours, is the better tool on such data, as the table shows."
    )


def _objective_section(doc: report.Document) -> None:
    doc.heading("Objective check against the public CPP code")
    doc.para(
        "A numeric comparison with LeslieTrue/CPP (`loss/loss_fn.py`, `main.py`, from the MLC authors' "
        "group) found R(Z) − R_c(Z, Π) identical to ours and Sinkhorn identical at matched iterations. "
        "CPP's training loss also adds 0.05·½‖Π‖²_F, runs 5 Sinkhorn iterations and stops the gradient "
        "through the column potential. None of the three is in the MLC paper's objective as we could read"
        " it offline (its abstract and method description: MCR² over Z and a doubly stochastic Γ from a "
        "Sinkhorn projection of the cluster head's Gram matrix); we keep the paper's form: no Frobenius "
        "term, 10 log-domain Sinkhorn iterations, gradients through both potentials. Remaining "
        "difference, stated: the paper's own iteration count and gradient treatment could not be checked "
        "offline (its code repository is not in the mirror)."
    )
