"""CDVAE (Xie et al., ICLR 2022): encoder → z → (atom count, lattice, composition) heads + a score-network
decoder.

Training (paper §3, upstream `CDVAE.forward`): encode the crystal to q(z|x); predict the
number of atoms, the scaled lattice and a per-atom composition distribution from z; pick
one of 50 noise levels per crystal, perturb the coordinates with Gaussian noise of σ Å and
the types by mixing the one-hot type with the predicted composition (type σ); the decoder
then predicts the denoising score and the clean types. Losses and weights are upstream's.
The lattice/property scalers are buffers, so a saved state_dict is the whole model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.utils import scatter

from studies.cdvae.config import MAX_ATOMIC_NUM, ModelConfig
from studies.cdvae.dataset import CrystalBatch, Scaler
from studies.cdvae.decoder import GemNetTStyleDecoder
from studies.cdvae.encoder import DimeNetPPEncoder
from studies.cdvae.gemnet import GemNetDT
from studies.cdvae.lattice import cart_to_frac, frac_to_cart, lattice_matrix, min_image_vectors

DECODER_CLASSES = {"gemnet_dt": GemNetDT, "gemnet_t_style": GemNetTStyleDecoder}  # config.DECODERS


def mlp(in_dim: int, hidden: int, layers: int, out_dim: int) -> nn.Sequential:
    """Upstream's build_mlp: `layers` hidden ReLU layers, then a linear output."""
    mods: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.ReLU()]
    for _ in range(layers - 1):
        mods += [nn.Linear(hidden, hidden), nn.ReLU()]
    return nn.Sequential(*mods, nn.Linear(hidden, out_dim))


@dataclass
class Stats:
    """What z predicts before decoding: atom-count logits, scaled lattice, lattice, per-atom composition
    logits."""

    num_atoms_logits: torch.Tensor
    scaled_lattice: torch.Tensor
    lengths: torch.Tensor
    angles: torch.Tensor
    composition_logits: torch.Tensor


class CDVAE(nn.Module):
    def __init__(self, cfg: ModelConfig, lattice_scaler: Scaler, prop_scaler: Scaler | None = None):
        super().__init__()
        self.cfg = cfg
        self.encoder = DimeNetPPEncoder(cfg)
        self.fc_mu = nn.Linear(cfg.latent_dim, cfg.latent_dim)
        self.fc_var = nn.Linear(cfg.latent_dim, cfg.latent_dim)
        self.decoder = DECODER_CLASSES[cfg.decoder](cfg)
        h, k = cfg.fc_hidden_dim, cfg.fc_num_layers
        self.fc_num_atoms = mlp(cfg.latent_dim, h, k, cfg.max_atoms + 1)
        self.fc_lattice = mlp(cfg.latent_dim, h, k, 6)
        self.fc_composition = mlp(cfg.latent_dim, h, k, MAX_ATOMIC_NUM)
        self.fc_property = mlp(cfg.latent_dim, h, k, 1) if cfg.predict_property else None
        self.register_buffer("sigmas", cfg.sigmas())
        self.register_buffer("type_sigmas", cfg.type_sigmas())
        self.register_buffer("lattice_mean", torch.tensor(lattice_scaler.mean, dtype=torch.float32))
        self.register_buffer("lattice_std", torch.tensor(lattice_scaler.std, dtype=torch.float32))
        prop_scaler = prop_scaler or Scaler([0.0], [1.0])
        self.register_buffer("prop_mean", torch.tensor(prop_scaler.mean, dtype=torch.float32))
        self.register_buffer("prop_std", torch.tensor(prop_scaler.std, dtype=torch.float32))

    def fit_scales(self, b: CrystalBatch, seed: int) -> None:
        """Fit GemNet-dT's scale factors on one training batch, once, right after building the model.

        One no-grad pass of the training objective (teacher-forced lattice, as training starts)
        with noise drawn from `seed` in a forked RNG: the same batch and seed give the same
        factors, and the training RNG stream is untouched. The GemNet-T-style decoder has none.
        """
        if not isinstance(self.decoder, GemNetDT):
            return
        devices = [b.frac_coords.device] if b.frac_coords.device.type == "cuda" else []
        with torch.no_grad(), torch.random.fork_rng(devices=devices), self.decoder.fitting_scales():
            torch.manual_seed(seed)
            self.losses(b, teacher_forcing=True)

    # -- encoder and the heads on z -------------------------------------------------------------
    def encode(self, b: CrystalBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """→ (μ, log σ², z ~ q(z|x) by reparameterisation)."""
        hidden = self.encoder(
            b.frac_coords,
            b.atom_types,
            b.num_atoms,
            b.lengths,
            b.angles,
            b.batch,
            (b.edge_index, b.cell_offsets),
        )
        mu, log_var = self.fc_mu(hidden), self.fc_var(hidden)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        return mu, log_var, z

    def decode_stats(
        self,
        z: torch.Tensor,
        num_atoms: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        angles: torch.Tensor | None = None,
    ) -> Stats:
        """Heads on z. Given ground-truth counts/lattice (teacher forcing) they replace the predictions
        downstream."""
        num_atoms_logits = self.fc_num_atoms(z)
        if num_atoms is None:
            num_atoms = num_atoms_logits.argmax(-1).clamp_min(1)
        scaled = self.fc_lattice(z)
        pred_lengths, pred_angles = self.unscale_lattice(scaled, num_atoms)
        composition = self.fc_composition(z.repeat_interleave(num_atoms, dim=0))
        return Stats(
            num_atoms_logits,
            scaled,
            pred_lengths if lengths is None else lengths,
            pred_angles if angles is None else angles,
            composition,
        )

    def unscale_lattice(
        self, scaled: torch.Tensor, num_atoms: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raw = scaled * self.lattice_std + self.lattice_mean
        return raw[:, :3] * num_atoms.float().pow(1 / 3)[:, None], raw[:, 3:]

    def scale_lattice(
        self, lengths: torch.Tensor, angles: torch.Tensor, num_atoms: torch.Tensor
    ) -> torch.Tensor:
        raw = torch.cat([lengths / num_atoms.float().pow(1 / 3)[:, None], angles], dim=-1)
        return (raw - self.lattice_mean) / self.lattice_std

    # -- training objective ---------------------------------------------------------------------
    def losses(self, b: CrystalBatch, teacher_forcing: bool) -> dict[str, torch.Tensor]:
        """Every loss term of one batch (unweighted); `total_loss` combines them with the config's weights."""
        mu, log_var, z = self.encode(b)
        stats = self.decode_stats(
            z, b.num_atoms, b.lengths if teacher_forcing else None, b.angles if teacher_forcing else None
        )
        n_crystals = b.size
        level = torch.randint(0, len(self.sigmas), (n_crystals,), device=z.device)
        sigma = self.sigmas[level].repeat_interleave(b.num_atoms)
        type_level = torch.randint(0, len(self.type_sigmas), (n_crystals,), device=z.device)
        type_sigma = self.type_sigmas[type_level].repeat_interleave(b.num_atoms)

        # types: mix the true one-hot with the predicted composition, more of it at higher type σ
        composition_probs = F.softmax(stats.composition_logits.detach(), dim=-1)
        mixed = F.one_hot(b.atom_types - 1, MAX_ATOMIC_NUM) + composition_probs * type_sigma[:, None]
        noisy_types = torch.multinomial(mixed, 1).squeeze(1) + 1

        # coordinates: Gaussian noise in Cartesian space of the (teacher-forced or predicted) lattice
        lattice = lattice_matrix(stats.lengths, stats.angles)
        cart = (
            frac_to_cart(b.frac_coords, lattice, b.num_atoms)
            + torch.randn_like(b.frac_coords) * sigma[:, None]
        )
        noisy_frac = cart_to_frac(cart, lattice, b.num_atoms)
        score, type_logits = self.decoder(
            z, noisy_frac, noisy_types, b.num_atoms, stats.lengths, stats.angles
        )

        terms = {
            "natom": F.cross_entropy(stats.num_atoms_logits, b.num_atoms),
            "lattice": F.mse_loss(stats.scaled_lattice, self.scale_lattice(b.lengths, b.angles, b.num_atoms)),
            "composition": self._per_crystal(
                F.cross_entropy(stats.composition_logits, b.atom_types - 1, reduction="none"), b
            ),
            "coord": self.coord_loss(score, noisy_frac, sigma, b),
            "type": self._per_crystal(
                F.cross_entropy(type_logits, b.atom_types - 1, reduction="none") / type_sigma, b
            ),
            "kld": torch.mean(-0.5 * torch.sum(1 + log_var - mu**2 - log_var.exp(), dim=1)),
        }
        if self.fc_property is not None:
            target = (b.prop - self.prop_mean) / self.prop_std
            terms["property"] = F.mse_loss(self.fc_property(z).squeeze(-1), target)
        return terms

    def total_loss(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self.cfg
        weights = {
            "natom": c.cost_natom,
            "lattice": c.cost_lattice,
            "composition": c.cost_composition,
            "coord": c.cost_coord,
            "type": c.cost_type,
            "kld": c.beta,
            "property": c.cost_property,
        }
        return sum(weights[k] * v for k, v in terms.items())

    def coord_loss(
        self, score: torch.Tensor, noisy_frac: torch.Tensor, sigma: torch.Tensor, b: CrystalBatch
    ) -> torch.Tensor:
        """Denoising score matching on minimum-image displacements, weighted by σ² (upstream coord_loss).

        The target score is (x − x̃)/σ² along the shortest periodic vector from the noisy
        atom x̃ to its clean position x, both in the true lattice.
        """
        lattice = lattice_matrix(b.lengths, b.angles)
        clean = frac_to_cart(b.frac_coords, lattice, b.num_atoms)
        noisy = frac_to_cart(noisy_frac, lattice, b.num_atoms)
        target = min_image_vectors(noisy, clean, lattice, b.num_atoms) / sigma[:, None] ** 2
        per_atom = 0.5 * ((target - score / sigma[:, None]) ** 2).sum(-1) * sigma**2
        return self._per_crystal(per_atom, b)

    @staticmethod
    def _per_crystal(per_atom: torch.Tensor, b: CrystalBatch) -> torch.Tensor:
        """Mean over each crystal's atoms, then over crystals: every crystal weighs the same."""
        return scatter(per_atom, b.batch, dim=0, dim_size=b.size, reduce="mean").mean()
