"""cdvae-report: reports/cdvae.md — reconstruction beside the paper's Table 1, with the budget that produced it."""
from __future__ import annotations

import json

import mlflow

from tasks import report
from tasks.cdvae.prepare import describe
from tasks.stages import StageContext

# Xie et al. (ICLR 2022), Table 1: reconstruction match rate (%) and RMSE. Printed beside ours, labelled as the paper's.
PAPER_TABLE1 = {"perov_5": (97.52, 0.0156), "carbon_24": (55.22, 0.1251), "mp_20": (45.43, 0.0356)}
CPU_TARGET_MATCH = 0.60  # issue target for the cpu profile on Perov-5 test, within 30 minutes of training on 2 cores


def write_report(ctx: StageContext) -> None:
    metrics = json.loads(ctx.inputs["metrics"].read_text())
    splits = json.loads((ctx.inputs["prepared"] / "splits.json").read_text())
    train = json.loads((ctx.inputs["train"] / "summary.json").read_text())
    model_cfg = json.loads((ctx.inputs["train"] / "model.json").read_text())["model"]
    timing = json.loads((ctx.inputs["reconstruct"] / "timing.json").read_text())
    p = ctx.params
    figures = report.copy_figures(ctx.inputs["figures"], ctx.outputs["figures"])
    dataset = splits["dataset"]
    doc = report.Document(f"CDVAE — Crystal Diffusion Variational Autoencoder (profile `{ctx.profile}`)")
    doc.para(
        "Xie et al., ICLR 2022. A DimeNet++ encoder maps a crystal to z; heads on z predict the number of atoms, "
        "the lattice and the composition; a score network conditioned on z denoises atom positions (on "
        "minimum-image displacements) and types over 50 noise levels, and decoding runs annealed Langevin "
        "dynamics from random positions. Reconstruction (Table 1): encode each test crystal with the posterior "
        "mean, decode, and compare with pymatgen's `StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)`; an "
        "invalid prediction counts as a non-match and the RMSE averages matched pairs."
    )
    doc.para(report.provenance(ctx.project, ctx.profile) + " Reproduce: `dvc repro cdvae-report` or `studies run cdvae`.")
    doc.heading("Reconstruction")
    paper = PAPER_TABLE1.get(dataset)
    rmse = metrics["rmse"]
    doc.table([
        {"": f"this run ({metrics['n_test']} test crystals)", "match rate %": f"{100 * metrics['match_rate']:.2f}",
         "RMSE": "–" if rmse is None else f"{rmse:.4f}"},
        *([{"": "paper, Table 1 (full test set, 3000-epoch training)", "match rate %": f"{paper[0]:.2f}", "RMSE": f"{paper[1]:.4f}"}] if paper else []),
    ])
    if ctx.profile == "cpu" and dataset == "perov_5":
        met = metrics["match_rate"] >= CPU_TARGET_MATCH
        doc.para(f"**Target for this profile (match rate ≥ {100 * CPU_TARGET_MATCH:.0f} % within 30 minutes of training on "
                 f"2 cores): {'met' if met else 'missed'}** — {100 * metrics['match_rate']:.2f} % after "
                 f"{train['train_seconds'] / 60:.1f} minutes of training.")
    doc.table([{"diagnostic": k, "value": f"{metrics[k]:.4f}"} for k in
               ("valid_rate", "num_atoms_accuracy", "composition_accuracy", "length_mae", "angle_mae")])
    doc.para("`composition_accuracy`: share of reconstructions with exactly the true multiset of elements (a match "
             "needs it); `length_mae` in Å and `angle_mae` in degrees compare the predicted lattice with the true one.")
    doc.figures([f for f in figures if f.name == "reconstructions.png"], ctx.outputs["report"].parent)
    doc.heading("What trained the model")
    doc.table([{"split": s, "crystals": n, "taken from": describe(splits["splits"][s])} for s, n in splits["sizes"].items()])
    if not splits["official_splits"]:
        doc.para(f"**Split choice, stated:** the official `train.csv` of {dataset} is not used here (the offline mirror "
                 "has only val/test); train and validation crystals are disjoint fractions of a seeded permutation "
                 f"(seed {splits['shuffle_seed']}) of the files named above, and the test crystals are never trained on.")
    doc.table([
        {"setting": "epochs (batch)", "this run": f"{train['epochs']} ({p['train']['optim'].get('batch_size', 512)})",
         "paper": "3000 (512) for Perov-5"},
        {"setting": "training wall time", "this run": f"{train['train_seconds'] / 60:.1f} min on {p['train']['optim'].get('device', 'cpu')}",
         "paper": "GPU"},
        {"setting": "throughput", "this run": f"{train['crystals_per_second']:.1f} crystals/s", "paper": "–"},
        {"setting": "parameters", "this run": f"{train['n_parameters'] / 1e6:.2f} M", "paper": "4.92 M (reference code)"},
        {"setting": "encoder hidden × blocks", "this run": f"{model_cfg['enc_hidden_dim']} × {model_cfg['enc_num_blocks']}", "paper": "128 × 4"},
        {"setting": "decoder hidden × blocks", "this run": f"{model_cfg['dec_hidden_dim']} × {model_cfg['dec_num_blocks']}", "paper": "128 × 3 (GemNet-T)"},
        {"setting": "latent", "this run": model_cfg["latent_dim"], "paper": 256},
        {"setting": "Langevin steps per σ (step_lr)", "this run": f"{p['reconstruct']['langevin']['n_step_each']} ({p['reconstruct']['langevin']['step_lr']})",
         "paper": "100 (1e-4)"},
        {"setting": "decoding", "this run": f"{timing['crystals_per_second']:.2f} crystals/s", "paper": "–"},
        {"setting": "best epoch (validation loss)", "this run": f"{train['best_epoch']} ({train['best_val_loss']:.3f})", "paper": "–"},
        {"setting": "resumed from step", "this run": train["resumed_from_step"] or "– (uninterrupted)", "paper": "–"},
    ])
    doc.heading("Deviations from the paper, stated")
    doc.para(
        "The decoder is GemNet-T-*style*: latent-conditioned atom embeddings, triplet interactions, atom and edge "
        "updates and GemNet's direct (per-edge scalar × unit vector) score head, but its triplet interaction is "
        "DimeNet++'s (torch-geometric's `InteractionPPBlock`) rather than GemNet's bilinear layer, and messages are "
        "normalised per edge instead of by a fitted scale file (see `studies/cdvae/decoder.py`). Integer atom counts "
        "come from the predicted composition by largest-remainder apportionment instead of upstream's random patching. "
        + ("On this CPU the networks, the number of epochs, the Langevin steps and the number of test crystals are "
           "reduced as listed above, so the numbers are not the paper's protocol." if ctx.profile != "paper" else "")
    )
    doc.heading("Training curves")
    doc.figures([f for f in figures if f.name.startswith("loss-")], ctx.outputs["report"].parent)
    doc.write(ctx.outputs["report"])
    mlflow.log_artifact(str(ctx.outputs["report"]), "report")
