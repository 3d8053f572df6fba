"""cdvae-report: reports/cdvae.md — reconstruction and generation beside the paper's Tables 1 and 2 for the
dataset the run prepared, with the budget that produced them."""

from __future__ import annotations

import json

import mlflow

from tasks.data.crystal_sets import CrystalSet, crystal_set
from tasks.orchestration.stage_runner import StageContext
from tasks.stages import report
from tasks.stages.cdvae.dataset_settings import fill, optim_defaults
from tasks.stages.cdvae.prepare import describe

# Xie et al. (ICLR 2022), Table 1: reconstruction match rate (%) and RMSE. Printed beside ours, labelled as
# the paper's.
PAPER_TABLE1 = {"perov_5": (97.52, 0.0156), "carbon_24": (55.22, 0.1251), "mp_20": (45.43, 0.0356)}
CPU_TARGET_MATCH = (
    0.60  # issue target for the cpu profile on Perov-5 test, within 30 minutes of training on 2 cores
)
# Xie et al. (ICLR 2022), Table 2 (the paper's numbers, 10,000 samples; d_E with the paper's own property
# models).
PAPER_TABLE2 = {
    "perov_5": {
        "struct_valid": 100.0,
        "comp_valid": 98.59,
        "cov_recall": 99.45,
        "cov_precision": 98.46,
        "wdist_density": 0.1258,
        "wdist_prop": 0.0264,
        "wdist_num_elems": 0.0628,
    },
    "carbon_24": {
        "struct_valid": 100.0,
        "comp_valid": None,
        "cov_recall": 99.80,
        "cov_precision": 83.08,
        "wdist_density": 0.1407,
        "wdist_prop": 0.2850,
        "wdist_num_elems": None,
    },
    "mp_20": {
        "struct_valid": 100.0,
        "comp_valid": 86.70,
        "cov_recall": 99.15,
        "cov_precision": 99.49,
        "wdist_density": 0.6875,
        "wdist_prop": 0.2778,
        "wdist_num_elems": 1.432,
    },
}
# issue targets for the cpu profile on Perov-5 (validity and coverage, in %, on the paper's scale)
CPU_TARGETS_GENERATION = {"struct_valid": 95.0, "comp_valid": 85.0, "cov_recall": 80.0, "cov_precision": 80.0}
PERCENT = ("struct_valid", "comp_valid", "cov_recall", "cov_precision")
# The paper's decoder (GemNet-dT, 4.45 M parameters) training at batch 256 on this 2-core machine
# (`benchmarks/cdvae_throughput.py`, benchmarks/README.md "Parity with the paper's decoder"), for the cpu
# profile's choice of decoder.
PAPER_DECODER_CRYSTALS_PER_S = 40.6


_DECODER_DEVIATIONS = {
    "gemnet_t_style": (
        "The decoder is GemNet-T-*style*: latent-conditioned atom embeddings, triplet interactions, atom and "
        "edge updates and GemNet's direct (per-edge scalar × unit vector) score head, but its triplet "
        "interaction is DimeNet++'s (torch-geometric's `InteractionPPBlock`) rather than GemNet's bilinear "
        "layer, and messages are normalised per edge instead of by a fitted scale file (see "
        "`studies/cdvae/decoder.py`)."
    ),
    "gemnet_dt": (
        "The decoder is GemNet-dT as upstream configures it (`studies/cdvae/gemnet.py`), with three "
        "differences: its output blocks have no per-atom energy heads (upstream's GemNetT computes them and "
        "CDVAE discards them; they are the gap between this run's parameter count and 4.92 M), the "
        "neighbour graph is made symmetric by adding each missing reverse edge, and its scale factors are "
        "fitted on the first training batch rather than read from upstream's file."
    ),
}


def write_report(ctx: StageContext) -> None:
    metrics = json.loads(ctx.inputs["metrics"].read_text())
    splits = json.loads((ctx.inputs["prepared"] / "splits.json").read_text())
    train = json.loads((ctx.inputs["train"] / "summary.json").read_text())
    model_cfg = json.loads((ctx.inputs["train"] / "model.json").read_text())["model"]
    timing = json.loads((ctx.inputs["reconstruct"] / "timing.json").read_text())
    p = ctx.params
    figures = report.copy_figures(
        ctx.outputs["figures"], ctx.inputs["figures"], ctx.inputs["generation_figures"]
    )
    dataset = crystal_set(splits["dataset"])
    optim = fill(p["train"]["optim"], optim_defaults(dataset.name))
    doc = report.Document(f"CDVAE — Crystal Diffusion Variational Autoencoder (profile `{ctx.profile}`)")
    doc.para(
        "Xie et al., ICLR 2022. A DimeNet++ encoder maps a crystal to z; heads on z predict the number of "
        "atoms, the lattice and the composition; a score network conditioned on z denoises atom positions "
        "(on minimum-image displacements) and types over 50 noise levels, and decoding runs annealed "
        "Langevin dynamics from random positions. Reconstruction (Table 1): encode each test crystal with "
        "the posterior mean, decode, and compare with pymatgen's "
        "`StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)`; an invalid prediction counts as a non-match "
        "and the RMSE averages matched pairs."
    )
    doc.para(
        report.provenance(ctx.project, ctx.profile)
        + " Reproduce: `dvc repro cdvae-report` or `studies run cdvae`."
    )
    doc.heading(f"Reconstruction — {dataset.title}")
    paper = PAPER_TABLE1.get(dataset.name)
    rmse = metrics["rmse"]
    doc.table(
        [
            {
                "": f"this run ({metrics['n_test']} test crystals)",
                "match rate %": f"{100 * metrics['match_rate']:.2f}",
                "RMSE": "–" if rmse is None else f"{rmse:.4f}",
            },
            *(
                [
                    {
                        "": f"paper, Table 1, {dataset.title} (full test set, "
                        f"{dataset.schedule.epochs}-epoch training)",
                        "match rate %": f"{paper[0]:.2f}",
                        "RMSE": f"{paper[1]:.4f}",
                    }
                ]
                if paper
                else []
            ),
        ]
    )
    if ctx.profile == "cpu" and dataset.name == "perov_5":
        met = metrics["match_rate"] >= CPU_TARGET_MATCH
        doc.para(
            f"**Target for this profile (match rate ≥ {100 * CPU_TARGET_MATCH:.0f} % within 30 minutes of "
            f"training on 2 cores): {'met' if met else 'missed'}** — {100 * metrics['match_rate']:.2f} % "
            f"after {train['train_seconds'] / 60:.1f} minutes of training."
        )
    doc.table(
        [
            {"diagnostic": k, "value": f"{metrics[k]:.4f}"}
            for k in ("valid_rate", "num_atoms_accuracy", "composition_accuracy", "length_mae", "angle_mae")
        ]
    )
    doc.para(
        "`composition_accuracy`: share of reconstructions with exactly the true multiset of elements (a "
        "match needs it); `length_mae` in Å and `angle_mae` in degrees compare the predicted lattice with "
        "the true one."
    )
    doc.figures([f for f in figures if f.name == "reconstructions.png"], ctx.outputs["report"].parent)
    _generation(doc, ctx, dataset, figures)
    doc.heading("What trained the model")
    doc.table(
        [
            {"split": s, "crystals": n, "taken from": describe(splits["splits"][s])}
            for s, n in splits["sizes"].items()
        ]
    )
    if not splits["official_splits"]:
        doc.para(
            f"**Split choice, stated:** the official `train.csv` of {dataset.title} is not used here (the "
            "profile's `cdvae.prepare.splits`: the offline mirror has no `train.csv`); train and validation "
            "crystals are disjoint fractions of a seeded "
            f"permutation (seed {splits['shuffle_seed']}) of the files named above, and the test crystals "
            "are never trained on."
        )
    doc.table(
        [
            {
                "setting": "epochs (batch)",
                "this run": f"{train['epochs']} ({optim['batch_size']})",
                "paper": f"{dataset.schedule.epochs} ({dataset.schedule.batch_size}) for {dataset.title}",
            },
            {
                "setting": "training wall time",
                "this run": (f"{train['train_seconds'] / 60:.1f} min on {optim.get('device', 'cpu')}"),
                "paper": "GPU",
            },
            {
                "setting": "throughput",
                "this run": f"{train['crystals_per_second']:.1f} crystals/s",
                "paper": "–",
            },
            {
                "setting": "parameters",
                "this run": f"{train['n_parameters'] / 1e6:.2f} M",
                "paper": "4.92 M (reference code; 4.45 M without the energy heads CDVAE discards)",
            },
            {
                "setting": "encoder hidden × blocks",
                "this run": f"{model_cfg['enc_hidden_dim']} × {model_cfg['enc_num_blocks']}",
                "paper": "128 × 4",
            },
            {
                "setting": "decoder hidden × blocks",
                "this run": f"{model_cfg['dec_hidden_dim']} × {model_cfg['dec_num_blocks']}",
                "paper": "128 × 3 (GemNet-T)",
            },
            {"setting": "latent", "this run": model_cfg["latent_dim"], "paper": 256},
            {
                "setting": "Langevin steps per σ (step_lr)",
                "this run": (
                    f"{p['reconstruct']['langevin']['n_step_each']} "
                    f"({p['reconstruct']['langevin']['step_lr']})"
                ),
                "paper": "100 (1e-4)",
            },
            {
                "setting": "decoding",
                "this run": f"{timing['crystals_per_second']:.2f} crystals/s",
                "paper": "–",
            },
            {
                "setting": "generated crystals (Langevin steps per σ)",
                "this run": f"{p['generate']['n_samples']} ({p['generate']['langevin']['n_step_each']})",
                "paper": "10,000 (100)",
            },
            {
                "setting": "best epoch (validation loss)",
                "this run": f"{train['best_epoch']} ({train['best_val_loss']:.3f})",
                "paper": "–",
            },
            {
                "setting": "resumed from step",
                "this run": train["resumed_from_step"] or "– (uninterrupted)",
                "paper": "–",
            },
        ]
    )
    doc.heading("Deviations from the paper, stated")
    doc.para(
        "Generation metrics follow upstream's evaluation script (validity over all samples; coverage over "
        "all samples with CrystalNN and Magpie fingerprints; property statistics over up to 1,000 valid "
        "samples), with "
        + (
            "one difference: "
            if _composition_scale(ctx) == "upstream"
            else "two differences: the Magpie features are standardised with the test set's own means and "
            "standard deviations (`composition_scale: reference`; upstream's fixed constants are the "
            "default), and "
        )
        + "d_E uses the property model this pipeline trains (`cdvae-train-property-model`, a DimeNet++ "
        "regressor on the radius graph), not the paper's property models. One boundary case is kept apart "
        "from upstream on purpose: a sample whose cell is under 0.1 Å³ (invalid for both) gets no "
        "fingerprint and so cannot count as covered, where upstream still fingerprints it; such a cell has "
        "no meaningful local environment and CrystalNN's neighbour search on it did not finish in 300 s "
        "(`studies/cdvae/fingerprints.py`)."
    )
    decoder = model_cfg.get("decoder", "gemnet_t_style")  # older model.json: the T-style one
    if decoder != "gemnet_dt" and ctx.profile == "cpu":
        doc.para(
            f"**Why not the paper's decoder here:** GemNet-dT at the published size trains at "
            f"{PAPER_DECODER_CRYSTALS_PER_S} crystals/s on 2 cores (batch 256, `benchmarks/README.md`), so "
            f"this run's {train['epochs']} epochs of {splits['sizes']['train']:,} crystals would take "
            f"{train['epochs'] * splits['sizes']['train'] / PAPER_DECODER_CRYSTALS_PER_S / 3600:.1f} h of "
            "training against a 30-minute budget; the lighter decoder at the widths above fits it. The "
            "`paper` profile uses GemNet-dT."
        )
    doc.para(
        _DECODER_DEVIATIONS[decoder] + " Integer atom counts come from the predicted composition by "
        "largest-remainder apportionment instead of upstream's random patching. "
        + (
            "On this CPU the networks, the number of epochs, the Langevin steps and the number of test "
            "crystals are reduced as listed above, so the numbers are not the paper's protocol."
            if ctx.profile != "paper"
            else ""
        )
    )
    doc.heading("Training curves")
    doc.figures([f for f in figures if f.name.startswith("loss-")], ctx.outputs["report"].parent)
    _gpu_check(doc, ctx)
    doc.write(ctx.outputs["report"])
    mlflow.log_artifact(str(ctx.outputs["report"]), "report")


GPU_CHECK = "cdvae_gpu_check.json"  # benchmarks/gpu_check.py's results, copied into the `gpu_check` input


def _gpu_check(doc: report.Document, ctx: StageContext) -> None:
    """The GPU path's measured numbers (benchmarks/gpu_check.py), labelled with the GPU, or that there are
    none yet."""
    doc.heading("On a GPU")
    path = ctx.inputs["gpu_check"] / GPU_CHECK
    if not path.exists():
        doc.para(
            "The `gpu` profile and `benchmarks/gpu_check.py` have not been run on a GPU yet: its sizes "
            "(params.yaml) are estimates."
        )
        return
    check = json.loads(path.read_text())
    rows = [
        {
            "batch": r["batch"],
            "mode": r["mode"],
            "ms per Langevin step": f"{1e3 * r['s_per_step']:.1f}",
            "per-batch set-up (s)": f"{r['setup_s']:.2f}",
        }
        for r in check["langevin"]
        if "s_per_step" in r
    ]
    doc.para(
        f"Measured on **{check['device']}** on {check.get('date', 'an unrecorded date')} "
        f"(`benchmarks/gpu_check.py`; torch {check['torch']}, {check['parameters_m']:.2f} M parameters, "
        f"{check['decoder']}, {check['atoms_per_crystal']}-atom crystals, random weights; compiled: "
        f"torch.compile with {check['compile_backend']}). A step is timed apart from the per-batch set-up "
        "(heads, types, cell plan) by differencing decodes of 1 and 2 steps per noise level:"
    )
    doc.table(rows)
    doc.table(
        [
            {"training batch": r["batch"], "crystals/s": f"{r['crystals_per_s']:.0f}"}
            for r in check["training"]
            if "crystals_per_s" in r
        ]
    )
    plan = check.get("gpu_profile_estimate", {})
    if "generate_10000_s" in plan:
        doc.para(
            f"At these rates the `gpu` profile trains at {plan['train_s_per_epoch']:.2f} s per epoch, "
            f"reconstructs 1,024 crystals at upstream's 50 × 100 steps in ≈ "
            f"{plan['reconstruct_1024_s'] / 60:.1f} min and generates upstream's 10,000 crystals × 5,000 "
            f"steps in ≈ {plan['generate_10000_s'] / 60:.0f} min (from the compiled step at batch "
            f"{plan['generate_from_batch']}; the profile's batches of 5,000 cost at most that per crystal)."
        )


def _composition_scale(ctx: StageContext) -> str:
    return json.loads(ctx.inputs["generation_metrics"].read_text()).get("composition_scale", "reference")


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.2f}" if key in PERCENT else f"{value:.4f}"


def _generation(doc: report.Document, ctx: StageContext, dataset: CrystalSet, figures: list) -> None:
    """Table 2: CDVAE's samples and the random baseline beside the paper's row, with the targets for this
    profile."""
    gen = json.loads(ctx.inputs["generation_metrics"].read_text())
    timing = json.loads((ctx.inputs["generate"] / "timing.json").read_text())
    prop_model = json.loads((ctx.inputs["property_model"] / "summary.json").read_text())
    doc.heading(f"Generation — {dataset.title}")
    doc.para(
        "z ~ N(0, I) → atom count, lattice and composition from the heads → annealed Langevin dynamics, "
        f"{gen['cdvae']['n_generated']} crystals in {timing['seconds']:.0f} s on {timing['device']} "
        f"({timing['crystals_per_second']:.2f} crystals/s). Coverage against the "
        f"{gen['cdvae']['n_reference']} test crystals with (δ_struct, δ_comp) = "
        f"({gen['coverage_cutoffs'][0]}, {gen['coverage_cutoffs'][1]}); validity and coverage in %, "
        "Wasserstein distances d_ρ (density, g/cm³), d_E (property) and d_elem (number of elements) over "
        f"{gen['cdvae']['n_property_samples']} valid samples. The random baseline places the atoms of "
        "randomly drawn training crystals (their composition and lattice) at uniform random positions."
    )
    columns = {
        "struct_valid": "struct. valid",
        "comp_valid": "comp. valid",
        "cov_recall": "COV-R",
        "cov_precision": "COV-P",
        "wdist_density": "d_ρ",
        "wdist_prop": "d_E",
        "wdist_num_elems": "d_elem",
    }
    rows = [
        {"": "CDVAE, this run", **{c: _fmt(k, gen["cdvae"].get(k)) for k, c in columns.items()}},
        {
            "": "random baseline, this run",
            **{c: _fmt(k, gen["random_baseline"].get(k)) for k, c in columns.items()},
        },
    ]
    paper = PAPER_TABLE2.get(dataset.name)
    if paper:
        rows.append(
            {
                "": f"paper, Table 2, {dataset.title}",
                **{
                    c: "–" if paper[k] is None else (f"{paper[k]:.2f}" if k in PERCENT else f"{paper[k]:.4f}")
                    for k, c in columns.items()
                },
            }
        )
    doc.table(rows)
    if ctx.profile == "cpu" and dataset.name == "perov_5":
        off_scale = gen.get("composition_scale") != "upstream"
        verdicts = [
            f"{columns[k]} ≥ {v:.0f} %: "
            + (
                "not judged (not the paper's scale)"
                if off_scale and k.startswith("cov_")
                else f"{'met' if 100 * gen['cdvae'][k] >= v else 'missed'} ({100 * gen['cdvae'][k]:.2f} %)"
            )
            for k, v in CPU_TARGETS_GENERATION.items()
        ]
        doc.para("**Targets for this profile:** " + "; ".join(verdicts) + ".")
    doc.para(
        "Composition distances are in units of upstream's fixed Magpie constants "
        "(`studies/cdvae/magpie_upstream.json`), the scale of the paper's Table 2."
        if gen.get("composition_scale") == "upstream"
        else "**COV-R and COV-P are not on the paper's scale:** the Magpie features are standardised on the "
        "test set's own spread (`composition_scale: reference`), so δ_comp = "
        f"{gen['coverage_cutoffs'][1]} means something else here; validity, d_ρ and d_elem are unaffected."
    )
    doc.para(
        "COV-R counts the test crystals that some sample lands near, so it grows with the number of samples: "
        f"the paper drew 10,000, this run {gen['cdvae']['n_generated']}. The random baseline copies training "
        "compositions and lattices exactly, so it is close on d_ρ and d_elem, which only see compositions "
        "and cells; coverage and d_E, which see the atoms' arrangement, show what the decoder adds."
    )
    doc.para(
        f"d_E is measured with this pipeline's property model for `{prop_model['property']}` (test MAE "
        f"{prop_model['test_mae']:.4f}, against {prop_model['test_mae_of_train_mean']:.4f} for always "
        "predicting the training mean); the paper's d_E used its own property models, so the two are not the "
        "same measurement."
    )
    doc.figures([f for f in figures if f.name == "generated.png"], ctx.outputs["report"].parent)
    doc.figures([f for f in figures if f.name.startswith("generation-")], ctx.outputs["report"].parent)
