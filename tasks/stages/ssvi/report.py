"""ssvi-report: reports/ssvi.md — SSVI against dense VI and the baselines, the targets, and the paper's
claims."""

from __future__ import annotations

import json
from typing import Any

import mlflow

from tasks.orchestration.stage_runner import StageContext
from tasks.stages import report
from tasks.stages.ssvi import FMNIST

# Li et al., ICLR 2024 (ResNet-18, CIFAR-10/100; abstract and §5): quoted for context, not run here.
PAPER_CLAIMS = [
    ("model compression vs dense BNN", "10–20×", "< 3 % accuracy drop"),
    ("training FLOPs vs dense VI", "up to 20× fewer", ""),
    ("against dense VI", "robust to hyperparameters", "occasionally better accuracy and uncertainty metrics"),
]
# ANCHORS.md: measured on this machine before this study existed, for orientation.
ORIENTATION = [
    ("scikit-learn MLPClassifier(256,256)", "98.0", ".065", "1.4"),
    ("prototype: deterministic (3 seeds)", "97.85", ".061", "1.2"),
    ("prototype: dense VI, σ unconverged", "97.70", ".070", "1.3"),
    ("prototype: SSVI d=0.1", "97.93", ".086", "2.1"),
    ("prototype: static mask d=0.1", "97.41", ".096", "3.2"),
]


def _pm(m: dict[str, Any], key: str, scale: float = 1.0, digits: int = 3) -> str:
    if f"{key}_mean" not in m:
        return "–"
    return f"{m[f'{key}_mean'] * scale:.{digits}f} ± {m[f'{key}_std'] * scale:.{digits}f}"


def _flops_ratio(m: dict[str, Any], dense: dict[str, Any] | None) -> str:
    if dense is None:
        return "–"
    return f"{dense['train_flops_mean'] / m['train_flops_mean']:.1f}×"


def method_rows(
    summary: dict[str, dict[str, Any]], names: list[str], dense: str = "dense-vi"
) -> list[dict[str, str]]:
    rows = []
    for name in names:
        if name not in summary:
            continue
        m = summary[name]
        rows.append(
            {
                "run": name,
                "acc %": _pm(m, "acc", 100, 2),
                "NLL": _pm(m, "nll"),
                "ECE %": _pm(m, "ece", 100, 2),
                "marginal L2 CE": _pm(m, "marginal_l2_ce"),
                "acc % (mean weights)": _pm(m, "mean_weights/acc", 100, 2),
                "NLL (mean weights)": _pm(m, "mean_weights/nll"),
                "non-zero weights": f"{m['nnz_mean']:,.0f}",
                "training FLOPs": f"{m['train_flops_mean']:.3g}",
                "fewer than dense VI": _flops_ratio(m, summary.get(dense)),
                "inference FLOPs/example": f"{m['infer_flops_mean']:.3g}",
                "seeds": m["n_seeds"],
            }
        )
    return rows


UNMOVED = 0.01  # mean σ changed less than this over a whole run: never learned, not converged


def targets(
    summary: dict[str, dict[str, Any]], prefix: str = "", acc_points: float = 0.5, nll_gap: float = 0.02
) -> list[dict[str, str]]:
    """The issue's targets for one dataset's runs (`prefix`: "" digits, "fmnist-" Fashion-MNIST), each with
    the measured value and met/missed; "not measured yet" when the runs are missing."""
    need = tuple(prefix + n for n in ("ssvi-0.1", "dense-vi", "static-0.1"))
    if not all(n in summary for n in need):
        return [
            {
                "target": "every target",
                "measured": f"not measured yet (needs runs {', '.join(need)})",
                "": "–",
            }
        ]
    s, d, st = (summary[n] for n in need)
    bayesian = [  # the prototype runs reproduce the old, unconverged setting on purpose
        n
        for n, m in summary.items()
        if n.startswith(prefix) and "sigma_change_last_quarter_mean" in m and not n.endswith("-prototype")
    ]
    if prefix == "":
        bayesian = [n for n in bayesian if _digits(summary, n)]
    worst = max(bayesian, key=lambda n: abs(summary[n]["sigma_change_last_quarter_mean"]))
    worst_change = summary[worst]["sigma_change_last_quarter_mean"]
    # a σ that never moved from its start has not converged, it was never learned: such a run misses
    unmoved = [n for n in bayesian if abs(summary[n].get("sigma_change_whole_run_mean", 1.0)) < UNMOVED]
    rows = [
        (
            f"SSVI 0.1 accuracy within {acc_points:g} points of dense VI",
            f"{(s['acc_mean'] - d['acc_mean']) * 100:+.2f} points",
            s["acc_mean"] >= d["acc_mean"] - acc_points / 100,
        ),
        (
            f"SSVI 0.1 NLL within {nll_gap:g} of dense VI",
            f"{s['nll_mean'] - d['nll_mean']:+.3f}",
            s["nll_mean"] <= d["nll_mean"] + nll_gap,
        ),
        (
            "SSVI 0.1 NLL better than the static mask at 0.1",
            f"{s['nll_mean']:.3f} vs {st['nll_mean']:.3f}",
            s["nll_mean"] < st["nll_mean"],
        ),
        (
            "SSVI 0.1 ECE better than the static mask at 0.1",
            f"{s['ece_mean'] * 100:.2f} % vs {st['ece_mean'] * 100:.2f} %",
            s["ece_mean"] < st["ece_mean"],
        ),
        (
            "≥ 8× fewer training FLOPs than dense VI",
            _flops_ratio(s, d),
            d["train_flops_mean"] / s["train_flops_mean"] >= 8,
        ),
        (
            "σ converged: mean σ moves ≤ 5 % over the last quarter, every VI run (prototypes aside)",
            f"largest: {worst} {worst_change * 100:+.1f} %"
            + (f"; σ never moved (< {UNMOVED:.0%} over the run) in {', '.join(unmoved)}" if unmoved else ""),
            abs(worst_change) <= 0.05 and not unmoved,
        ),
    ]
    return [{"target": t, "measured": v, "": "**met**" if ok else "**missed**"} for t, v, ok in rows]


def _gpu_section(doc: report.Document, checks: list[tuple[str, dict]]) -> None:
    """The `paper` profile's bounded GPU runs (benchmarks/ssvi_gpu_check.py, copied into reports/gpu),
    labelled partial with their GPU and epochs: never beside the paper's numbers as if comparable."""
    doc.heading("The `paper` profile on a GPU: partial runs")
    if not checks:
        doc.para(
            "The `paper` profile trains ResNet-18 on CIFAR-10 with the reference code's settings; it needs a "
            "GPU and has not been run on one yet (benchmarks/ssvi_gpu_check.py bounds it to a few epochs)."
        )
        return
    rows = [
        {
            "label": f"partial, {r['epochs']} epochs on {report.device_label(c)}",
            "run": r["run"],
            "test acc": f"{r['test_acc']:.3f}",
            "NLL": f"{r['test_nll']:.3f}",
            "ECE": f"{r['test_ece']:.3f}",
            "mean σ (end)": "–" if r.get("mean_sigma") is None else f"{r['mean_sigma']:.5f}",
            "training FLOPs": f"{r['train_flops']:.2e}",
            "images/s": f"{r['train_images_per_s']:,.0f}",
            "peak GPU memory (GiB)": f"{r['peak_gpu_memory_gb']:.2f}",
        }
        for _, c in checks
        for r in c["runs"]
        if "skipped" not in r
    ]
    doc.table(sorted(rows, key=lambda r: int(r["label"].split()[1])))
    c = checks[0][1]
    doc.para(
        " ".join(
            (
                "ResNet-18, one seed, each run's schedule compressed to the epochs shown, on",
                f"{c['n_train']:,} training and {c['n_test']:,} test images of the mirror's lossy JPEG (q75)",
                "copy of CIFAR-10 (reports/gpu/README.md says which), not the canonical set: not comparable",
                "with the paper's 200-epoch numbers above. **σ never moved** in these runs (mean σ 0.00100,",
                "its start): the profile follows the reference code's SGD (lr 0.01, momentum 0.9) for ρ,",
                "whose steps at σ ≈ 1e-3 fall below float32's resolution of ρ (reports/gpu/README.md has the",
                "arithmetic); on CIFAR-10 these runs are in effect mean-field VI with a fixed σ, and the σ",
                "target above would count them as missed, not converged.",
            )
        )
    )


def tuning_rows(tuning: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Per run: the grid it was tuned on, the chosen point and its validation scores."""
    rows = []
    for run, t in tuning.items():
        if not t["grid"]:
            rows.append({"run": run, "grid points": "0 (fixed by the run)", "chosen": "–"})
            continue
        best = next(r for r in t["grid"] if all(r[k] == v for k, v in t["chosen"].items()))
        rows.append(
            {
                "run": run,
                "grid points": str(len(t["grid"])),
                "chosen": ", ".join(f"{k} {v:g}" for k, v in t["chosen"].items()),
                "validation NLL": f"{best['val_nll']:.3f}",
                "validation acc %": f"{best['val_acc'] * 100:.2f}",
                "worst point's NLL": f"{max(r['val_nll'] for r in t['grid']):.3f}",
                "tuning s": f"{t['seconds']:.0f}",
            }
        )
    return rows


def grid_edges(tuning: dict[str, dict[str, Any]]) -> str:
    """Which runs chose the largest value of a grid key with several values: there the grid, not the
    validation curve, set the choice, and a wider grid might change it (for every method alike)."""
    edges: dict[str, list[str]] = {}
    for run, t in tuning.items():
        for key, value in t["chosen"].items():
            values = {r[key] for r in t["grid"]}
            if len(values) > 1 and value == max(values):
                edges.setdefault(f"{key} = {value:g}", []).append(run)
    if not edges:
        return "No run chose the upper edge of its grid."
    return " ".join(
        f"At the upper edge of the grid ({point}): {', '.join(runs)}."
        for point, runs in sorted(edges.items())
    ) + (
        " The grids were sized for the `cpu` profile's time budget; a chosen value at the edge means a wider "
        "grid might have chosen otherwise, for those methods alike."
    )


def layout_rows(layout: dict[str, list[dict[str, Any]]]) -> list[dict[str, str]]:
    """Per SSVI run: each Bayesian layer's support density, and the whole net's."""
    rows = []
    for run, layers in layout.items():
        total = sum(layer["support"] for layer in layers)
        weights = sum(layer["support"] / layer["density"] for layer in layers)
        rows.append(
            {
                "run": run,
                "layer densities": " / ".join(f"{layer['density']:.3f}" for layer in layers),
                "non-zero weights": f"{total:,}",
                "overall density": f"{total / weights:.3f}",
            }
        )
    return rows


def convergence_rows(summary: dict[str, dict[str, Any]], names: list[str]) -> list[dict[str, str]]:
    return [
        {
            "run": n,
            "mean σ (end)": _pm(summary[n], "mean_sigma", digits=4),
            "σ change, last quarter": f"{summary[n]['sigma_change_last_quarter_mean'] * 100:+.1f} %",
            "KL / N (end)": _pm(summary[n], "kl_per_example", digits=2),
            "KL change, last quarter": f"{summary[n]['kl_change_last_quarter_mean'] * 100:+.1f} %",
            "NLL": _pm(summary[n], "nll"),
            "ECE %": _pm(summary[n], "ece", 100, 2),
        }
        for n in names
        if n in summary and "mean_sigma_mean" in summary[n]
    ]


def convergence_verdict(summary: dict[str, dict[str, Any]], tolerance: float = 0.05) -> str:
    """Which runs' mean σ settled (moved ≤ 5 % over the last quarter) and which did not, from the numbers."""
    runs = [r for r, m in summary.items() if "sigma_change_last_quarter_mean" in m]
    unmoved = [r for r in runs if abs(summary[r].get("sigma_change_whole_run_mean", 1.0)) < UNMOVED]
    settled = [
        r for r in runs if abs(summary[r]["sigma_change_last_quarter_mean"]) <= tolerance and r not in unmoved
    ]
    moving = [r for r in runs if r not in settled and r not in unmoved]
    text = (
        f"Measured: σ settled (≤ {tolerance:.0%} change over the last quarter) in "
        f"{', '.join(settled) or 'no run'}"
    )
    text += f"; still moving in {', '.join(moving)}" if moving else ""
    return text + (f"; never moved from its start (not learned) in {', '.join(unmoved)}." if unmoved else ".")


def shift_rows(summary: dict[str, dict[str, Any]], names: list[str]) -> list[dict[str, str]]:
    shifts = sorted({k.split("/")[0] for m in summary.values() for k in m if k.endswith("/auroc_mean")})
    rows = []
    for n in names:
        if n not in summary:
            continue
        m = summary[n]
        row = {"run": n, "entropy (test)": f"{m['entropy_mean']:.3f}"}
        for s in shifts:
            row[f"{s}: entropy / AUROC"] = f"{m[f'{s}/entropy_mean']:.3f} / {m[f'{s}/auroc_mean']:.3f}"
        rows.append(row)
    return rows


def _digits(summary: dict[str, dict[str, Any]], r: str) -> bool:
    return summary[r].get("dataset", "digits") == "digits"


def write_report(ctx: StageContext) -> None:
    summary = json.loads(ctx.inputs["metrics"].read_text())
    agreement = summary.pop("_criteria_agreement", {})
    layout = summary.pop("_layout", {})
    tuning = summary.pop("_tuning", {})
    figures = report.copy_figures(ctx.outputs["figures"], ctx.inputs["figures"])
    rel = ctx.outputs["report"].parent
    runs = list(summary)
    digits = [r for r in runs if _digits(summary, r)]
    fmnist = [r for r in runs if r.startswith(FMNIST)]
    doc = report.Document(f"SSVI — Sparse Subspace Variational Inference (profile `{ctx.profile}`)")
    doc.para(
        "Li et al., ICLR 2024. A mean-field Gaussian posterior N(μ, softplus(ρ)²) lives on a sparse support "
        "of fixed size s (exact zeros elsewhere); Bayesian linear/conv layers sample pre-activations by "
        "local reparameterisation; the loss is NLL + β·KL(q‖N(0,1))/N with β warmed up over half the run. "
        "Every ΔT iterations until T_end, each layer removes a fraction α/2·(1+cos(πt/T_end)) of its active "
        "weights by a removal criterion and grows as many with the largest dense |∂L/∂μ| (see the layout "
        "section). Baselines (deterministic net, MC dropout, deep ensemble of 5, dense VI, VI on a static "
        "random mask) run in the same stage under the same protocol; means ± standard deviations over seeds."
    )
    doc.para(
        report.provenance(ctx.project, ctx.profile)
        + " Reproduce: `dvc repro ssvi-report` or `studies run ssvi`."
    )
    doc.heading("Protocol: the same for every method")
    doc.para(
        "Each dataset's training set loses a stratified validation share (`ssvi.prepare.val_size`). Every "
        "run (baselines included) is fitted once per point of its dataset's grid of weight decay × epochs "
        "(`ssvi.train.tune.grids`, seed `tune.seed`) on the rest and scored by its posterior-predictive NLL "
        "on the validation rows; the point with the lowest NLL is refitted on the whole training set for "
        "every seed. A run that sets a grid key itself keeps it (the prototype runs reproduce ANCHORS.md). "
        "A deep ensemble is tuned as one member. All methods use Adam with weight decay on every parameter "
        "but ρ and a learning rate annealed to 0 by a cosine. The test set is read only by ssvi-evaluate, "
        "once, after all choices are made."
    )
    doc.table(tuning_rows(tuning) or [{"run": "–", "grid points": "no tuning in this profile"}])
    doc.para(grid_edges(tuning))
    doc.heading("Targets: digits")
    doc.table(targets(summary))
    doc.para(
        "The 450-digit test set resolves about 0.5 accuracy points (one digit is 0.22), so NLL, ECE, several "
        "seeds and the shift test carry the comparison."
    )
    doc.heading("Targets: Fashion-MNIST")
    doc.table(targets(summary, FMNIST, acc_points=1.0, nll_gap=0.03))
    doc.heading("Methods on digits (MLP 64-256-256-10)")
    main = [
        r
        for r in digits
        if summary[r].get("arch") != "cnn"
        and not r.startswith("dense-vi-")
        and not r.startswith("ssvi-0.1-")
        and not (r.startswith("ssvi-") and r not in ("ssvi-0.1", "ssvi-0.05"))
    ]
    doc.table(method_rows(summary, main))
    doc.para(
        "Posterior predictive with K weight samples (`n_samples`); the mean-weights columns use μ alone. "
        "Training FLOPs are counted analytically from the active weights (`studies/ssvi/flops.py`): 3 "
        "forward passes per step, two products per Bayesian layer (mean and variance), plus a dense weight "
        "gradient at each support update; a deep ensemble counts all its members. Tuning fits are not "
        "counted (every method pays for its grid alike)."
    )
    doc.figures([f for f in figures if f.name == "reliability.png"], rel)
    doc.heading("Fashion-MNIST (MLP on 28×28 images)")
    if fmnist:
        doc.table(method_rows(summary, fmnist, dense=f"{FMNIST}dense-vi"))
        doc.figures([f for f in figures if f.name == "reliability-fmnist.png"], rel)
        doc.table(shift_rows(summary, fmnist))
        doc.para("Shift test on Fashion-MNIST: entropy / AUROC on rotated and noised test images.")
    else:
        doc.para("Not measured yet: this profile has no Fashion-MNIST runs.")
    cnn = [r for r in digits if summary[r].get("arch") == "cnn"]
    if cnn:
        doc.heading("Small CNN on digits")
        doc.table(method_rows(summary, cnn, dense="cnn-dense-vi"))
    doc.heading("Accuracy and NLL against density (digits)")
    doc.table(
        method_rows(
            summary,
            sorted(
                (
                    r
                    for r in digits
                    if summary[r].get("method") == "ssvi"
                    and summary[r].get("arch") == "mlp"
                    and summary[r].get("criterion") == "snr_abs_theta"
                ),
                key=lambda r: summary[r]["density_mean"],
            ),
        )
    )
    doc.figures([f for f in figures if f.name.startswith("density-")], rel)
    doc.heading("Removal criteria (SSVI, density 0.1, digits)")
    crit = [r for r in digits if r in ("ssvi-0.1", f"ssvi-0.1-{summary[r].get('criterion')}")]
    doc.table(
        [
            {
                "criterion": summary[r]["criterion"],
                **{k: v for k, v in row.items() if k in ("acc %", "NLL", "ECE %", "marginal L2 CE")},
                "final support from the initial one": _pm(summary[r], "initial_support_share"),
            }
            for r, row in zip(crit, method_rows(summary, crit))
        ]
    )
    doc.para(
        "The last column is the share of the final support already in the random initial mask: 1 for a "
        "static mask, about the density for a support rebuilt from scratch."
    )
    if agreement:
        doc.para(
            "Kendall τ between the criteria's rankings of the trained `ssvi-0.1` support "
            "(first seed, all layers): "
            + ", ".join(f"{k.replace('-vs-', ' vs ')} {v:.3f}" for k, v in agreement.items())
            + "."
        )
    doc.para(
        "SNR |μ|/σ and the SNR of |θ| must rank every support identically: for θ ~ N(μ, σ²), E|θ|/sd|θ| "
        "depends on |μ|/σ alone and increases with it (`tests/studies/ssvi/test_ssvi_sparsity.py` checks "
        "τ = 1 on random weights). The code computes the folded normal's variance in float64: in float32 it "
        "cancels to 0 once |μ|/σ ≈ 10⁴ and every such weight would tie."
    )
    doc.heading("Sparsity layout and support updates")
    doc.para(
        "The reference code (ljb121002/SSVI, `rigl_torch/RigL.py`, `train_cifar.py`) keeps the first weight"
        " layer dense and puts `density` in every other layer, updates every ΔT = 100 iterations until "
        "T_end = 0.75 of training with α = 0.3, lets a weight it has just removed be regrown at once (it "
        "then keeps its μ and ρ), gives a newly grown weight μ = 0 and the mean ρ of the layer's surviving "
        "weights, and anneals the learning rates by a cosine to 0. This code does all of these; the first-"
        "layer rule is a switch (`dense_first_layer`), on in the `paper` profile (ResNet-18's stem is 0.02 "
        "% of its weights) and measured by `ssvi-0.1-dense-first` on digits. The `cpu` profile's MLPs put "
        "the run's density in every layer: their first layer holds 19 % (digits) and 86 % (Fashion-MNIST) "
        "of the weights, so keeping it dense would cap the training-FLOPs saving far below the 8× target. "
        "The paper's text was not available offline to say which of these rules it states; they follow the "
        "reference code, not a reading of the paper."
    )
    doc.table(layout_rows(layout) or [{"run": "–", "layer densities": "no SSVI run"}])
    doc.heading("Is the posterior variance learned?")
    bayes = [r for r in runs if "mean_sigma_mean" in summary[r]]
    doc.table(convergence_rows(summary, bayes))
    doc.para(
        "`dense-vi-prototype` and `ssvi-0.1-prototype` are ANCHORS.md's setting (ρ on Adam at 1e-3, β = 1, a "
        "constant learning rate): σ starts at 1e-3 and can only creep up by the optimiser's step size. The "
        "other runs give ρ its own learning rate (0.1), temper the KL to 0.01/N (chosen on a validation "
        "split in the first version of this study) and anneal both learning rates by a cosine, as the "
        "reference code does; after T_end = 0.75 the rate is at most 15 % of its start and falls to 0, "
        "which is what lets σ settle after SSVI's last support update. " + convergence_verdict(summary)
    )
    doc.figures([f for f in figures if f.name.startswith("trajectory-")], rel)
    doc.heading("Shift test: predictive entropy on rotated and noised digits")
    doc.table(
        shift_rows(
            summary,
            [
                r
                for r in (
                    "deterministic",
                    "mc-dropout",
                    "deep-ensemble",
                    "dense-vi",
                    "static-0.1",
                    "ssvi-0.1",
                    "ssvi-0.05",
                )
                if r in summary
            ],
        )
    )
    doc.para(
        "AUROC of telling shifted from clean test images by predictive entropy (0.5: blind to the shift)."
    )
    doc.heading("For orientation (ANCHORS.md, this machine, before this study)")
    doc.table([{"run": a, "acc %": b, "NLL": c, "ECE %": d} for a, b, c, d in ORIENTATION])
    doc.heading("The paper's published claims (ResNet-18 on CIFAR-10/100; the paper's numbers, not ours)")
    doc.table([{"claim (paper)": a, "value": b, "note": c} for a, b, c in PAPER_CLAIMS])
    _gpu_section(doc, report.gpu_checks(ctx.inputs.get("gpu_check"), "ssvi_gpu_check"))
    doc.heading("Deviations from the paper, stated")
    doc.para(
        "Digits and Fashion-MNIST with MLPs instead of ResNet-18 on CIFAR (the `paper` profile has the "
        "ResNet-18 path, on the mirror's lossy JPEG copy of CIFAR-10 when the canonical one is absent, and "
        "without the reference's crop/flip augmentation). Fashion-MNIST on a 10,000-image training subset "
        "and 5,000 test images. Adam instead of SGD on the `cpu` profile, with a separate learning rate for "
        "ρ and a KL tempered to 0.01/N. Biases are point estimates (no KL). FLOPs are analytic: masked dense "
        "products give no wall-clock gain on CPU (`benchmarks/ssvi_epoch_time.py`)."
    )
    doc.write(ctx.outputs["report"])
    mlflow.log_artifact(str(ctx.outputs["report"]), "report")
