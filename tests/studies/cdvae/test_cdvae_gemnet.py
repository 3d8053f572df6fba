"""GemNet-dT, CDVAE's decoder: symmetries, the fitted scale factors, the paper's size, and that it trains."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import pytest
import torch

from studies.cdvae.config import DECODERS, ModelConfig
from studies.cdvae.dataset import CrystalBatch, Scaler
from studies.cdvae.gemnet import GemNetDT, pad_rows, triplet_slots
from studies.cdvae.gemnet_basis import PolynomialEnvelope, circular_basis
from studies.cdvae.gemnet_layers import ScaleFactor
from studies.cdvae.graph import cell_plan
from studies.cdvae.lattice import lattice_matrix
from studies.cdvae.model import CDVAE, DECODER_CLASSES
from tests.studies.cdvae.perov import TINY, crystal_set, tiny_model

UPSTREAM_PARAMETERS = 4.92e6  # upstream CDVAE on Perov-5 (DimeNet++ encoder, GemNetT decoder, heads)


def _noisy(b: CrystalBatch, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinates off the ideal sites and a cell off cubic, as the decoder sees crystals: in a perfect cubic
    cell, images at equal distances straddle the neighbour cap and which the graph keeps is arbitrary."""
    gen = torch.Generator().manual_seed(seed)
    frac = (b.frac_coords + 0.02 * torch.randn(b.frac_coords.shape, generator=gen)) % 1.0
    return frac, lattice_matrix(b.lengths * torch.tensor([1.0, 1.013, 0.987]), b.angles)


@pytest.fixture(scope="module")
def decoded() -> tuple[GemNetDT, CrystalBatch, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A tiny fitted GemNet-dT, four noisy Perov-5 crystals, their cells and latents."""
    torch.manual_seed(0)
    crystals = crystal_set(8)
    decoder = tiny_model(crystals).decoder.eval()
    b = crystals.batch(torch.arange(4))
    frac, lattice = _noisy(b, 0)
    return decoder, b, frac, lattice, torch.randn(4, TINY.latent_dim)


def test_shapes_and_a_score_that_is_not_zero(decoded) -> None:
    decoder, b, frac, lattice, z = decoded
    with torch.no_grad():
        score, logits = decoder.forward_in_cell(z, frac, b.atom_types, b.num_atoms, lattice)
    n = len(b.atom_types)
    assert score.shape == (n, 3) and logits.shape == (n, 100)
    assert torch.isfinite(score).all() and torch.isfinite(logits).all()
    assert score.norm(dim=-1).min() > 1e-3  # direct forces start He-initialised, not at zero


def test_padding_layout_is_to_dense_batchs() -> None:
    """The triplet layout is computed once per graph in place of to_dense_batch; it must place every row
    where to_dense_batch does, empty edges included."""
    from torch_geometric.utils import to_dense_batch

    groups = torch.tensor([0, 0, 2, 2, 2, 3, 5])
    x = torch.randn(len(groups), 3)
    slot, width = triplet_slots(groups, 7)
    assert width == 3
    assert torch.equal(pad_rows(x, slot, 7, width), to_dense_batch(x, groups, batch_size=7)[0])


def test_the_compiled_score_traces_into_one_graph_and_matches_eager(decoded) -> None:
    """Compiled on a GPU (`LangevinConfig.compile`), the message passing must trace without a graph break
    (fullgraph) and keep eager's numbers; Dynamo's own `eager` backend checks both here without a
    compiler, over two batches whose edge and triplet counts differ (no recompiling for new sizes)."""
    decoder, b, frac, lattice, z = decoded
    lengths, angles = b.lengths, b.angles
    score = decoder.compiled(backend="eager", fullgraph=True)
    plan = cell_plan(lattice_matrix(lengths, angles), b.num_atoms, decoder.cutoff)
    sizes = set()
    with torch.no_grad():
        for spread in (0.0, 0.3):
            moved = (frac + spread * torch.rand(frac.shape, generator=torch.Generator().manual_seed(2))) % 1.0
            args = (z, moved, b.atom_types, b.num_atoms, lengths, angles)
            want = decoder(*args)
            with torch.compiler.set_stance("fail_on_recompile" if sizes else "default"):
                assert all(torch.equal(g, w) for g, w in zip(score(*args), want))
            assert all(torch.equal(g, w) for g, w in zip(decoder(*args, plan=plan), want))
            geo = decoder.geometry(moved, b.num_atoms, lattice_matrix(lengths, angles))
            sizes.add((len(geo.swap), len(geo.trip.idx_kj)))
    assert len(sizes) == 2  # the second call really had other sizes


def test_score_rotates_with_the_cell_and_type_logits_do_not(decoded) -> None:
    decoder, b, frac, lattice, z = decoded
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1)))
    rotation = q * torch.sign(torch.diagonal(r))
    rotation = rotation * torch.sign(torch.linalg.det(rotation))  # a proper rotation
    with torch.no_grad():
        score, logits = decoder.forward_in_cell(z, frac, b.atom_types, b.num_atoms, lattice)
        turned, turned_logits = decoder.forward_in_cell(
            z, frac, b.atom_types, b.num_atoms, lattice @ rotation.T
        )
    assert torch.allclose(turned, score @ rotation.T, atol=1e-4)
    assert torch.allclose(turned_logits, logits, atol=1e-4)
    assert not torch.allclose(turned, score, atol=1e-2)  # it did turn


def test_permuting_the_atoms_of_each_crystal_permutes_the_outputs(decoded) -> None:
    decoder, b, frac, lattice, z = decoded
    gen = torch.Generator().manual_seed(2)
    starts = torch.cumsum(b.num_atoms, 0) - b.num_atoms
    perm = torch.cat([s + torch.randperm(int(n), generator=gen) for s, n in zip(starts, b.num_atoms)])
    assert not torch.equal(perm, torch.arange(len(perm)))
    with torch.no_grad():
        score, logits = decoder.forward_in_cell(z, frac, b.atom_types, b.num_atoms, lattice)
        p_score, p_logits = decoder.forward_in_cell(z, frac[perm], b.atom_types[perm], b.num_atoms, lattice)
    assert torch.allclose(p_score, score[perm], atol=1e-4) and torch.allclose(
        p_logits, logits[perm], atol=1e-4
    )


def _scale_variances(model: CDVAE, b: CrystalBatch, seed: int) -> dict[str, tuple[float, float, float]]:
    """(Var reference, Var unscaled, Var scaled) at each ScaleFactor: during the fit when the model has none
    yet, else on the pass the fit made (same batch, same noise)."""
    seen: dict[str, tuple[float, float, float]] = {}

    def watch(name: str):
        def hook(_, inputs, output) -> None:
            ref, y = inputs
            seen[name] = tuple(float(t.var(dim=0).mean()) for t in (ref, y, output))

        return hook

    hooks = [
        m.register_forward_hook(watch(name))
        for name, m in model.decoder.named_modules()
        if isinstance(m, ScaleFactor)
    ]
    if model.decoder.scales_fitted:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model.losses(b, teacher_forcing=True)
    else:
        model.fit_scales(b, seed)
    for h in hooks:
        h.remove()
    return seen


def test_scale_fit_preserves_each_references_variance_on_the_fit_batch() -> None:
    """As GemNet's fit does: the scaled output keeps its reference's variance (that of the tensor the sum or
    product was formed from), which the unscaled one does not."""
    crystals = crystal_set(8)
    b = crystals.batch(torch.arange(8))
    torch.manual_seed(0)
    model = CDVAE(TINY, Scaler([0.0] * 6, [1.0] * 6))
    fit = _scale_variances(model, b, seed=3)
    assert len(fit) == 4 * TINY.dec_num_blocks + 1  # 3 per interaction block, 1 per output block
    for name, (ref, raw, scaled) in fit.items():
        assert scaled == pytest.approx(ref, rel=1e-4), name
        assert not 0.5 < raw / ref < 2, name  # every factor corrects by more than √2 here
        assert 1e-3 < scaled < 10, name
    again = _scale_variances(model, b, seed=3)  # fitted now: the same pass, scaled by the stored factors
    for name, (ref, _, scaled) in again.items():
        assert scaled == pytest.approx(ref, rel=1e-4), name


def test_scale_fit_is_deterministic_and_travels_in_the_state_dict_without_refitting() -> None:
    crystals = crystal_set(8)
    b = crystals.batch(torch.arange(8))

    torch.manual_seed(0)
    built = CDVAE(TINY, Scaler([0.0] * 6, [1.0] * 6))

    def fitted(seed: int) -> CDVAE:
        model = copy.deepcopy(built)  # the same initial weights
        model.fit_scales(b, seed)
        return model

    one, same, other = fitted(5), fitted(5), fitted(6)
    factors = {k: v for k, v in one.state_dict().items() if k.endswith(".factor")}
    assert len(factors) == 4 * TINY.dec_num_blocks + 1 and one.state_dict()["decoder.scales_fitted"]
    assert all(torch.equal(v, same.state_dict()[k]) for k, v in factors.items())
    assert not all(torch.equal(v, other.state_dict()[k]) for k, v in factors.items())

    torch.manual_seed(1)
    fresh = CDVAE(TINY, Scaler([0.0] * 6, [1.0] * 6))  # other weights, no factors
    with pytest.raises(RuntimeError, match="not fitted"):
        fresh.decoder(
            torch.zeros(8, TINY.latent_dim), b.frac_coords, b.atom_types, b.num_atoms, b.lengths, b.angles
        )
    fresh.load_state_dict(one.state_dict())
    with pytest.raises(RuntimeError, match="already fitted"):
        fresh.fit_scales(b, 6)
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in factors.items())
    z = torch.randn(8, TINY.latent_dim)
    with torch.no_grad():
        args = (z, b.frac_coords, b.atom_types, b.num_atoms, b.lengths, b.angles)
        assert all(torch.equal(x, y) for x, y in zip(fresh.decoder(*args), one.decoder(*args)))


def test_paper_configuration_has_upstreams_parameter_count_but_the_unused_energy_heads() -> None:
    """Upstream's 4.92 M counts GemNetT's energy heads, computed in each of its num_blocks + 1 output blocks
    and discarded by CDVAE (they never get a gradient); this decoder does not build them. Each is a radial
    projection, a dense layer and num_atom residual layers of two, and a 1-unit output."""
    cfg = ModelConfig()
    assert cfg.decoder == "gemnet_dt"
    model = CDVAE(cfg, Scaler([0.0] * 6, [1.0] * 6))
    hidden = cfg.dec_hidden_dim
    energy_head = cfg.dec_emb_size_rbf * hidden + hidden * hidden * (1 + 2 * cfg.dec_num_atom) + hidden
    unused = (cfg.dec_num_blocks + 1) * energy_head
    n = sum(p.numel() for p in model.parameters())
    assert n + unused == pytest.approx(UPSTREAM_PARAMETERS, rel=0.02)


def test_a_few_steps_reduce_the_loss_on_perov5() -> None:
    """Adam with training's learning rate and clipping; losses compared on the same four noise draws."""
    crystals = crystal_set(8)
    b = crystals.batch(torch.arange(8))
    torch.manual_seed(0)
    model = tiny_model(crystals)

    def losses() -> tuple[float, float]:
        total = type_loss = 0.0
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            for seed in range(4):
                torch.manual_seed(seed)
                terms = model.losses(b, teacher_forcing=True)
                total, type_loss = total + float(model.total_loss(terms)), type_loss + float(terms["type"])
        return total, type_loss

    before = losses()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(20):
        loss = model.total_loss(model.losses(b, teacher_forcing=True))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
    after = losses()
    assert after[0] < 0.9 * before[0] and after[1] < 0.9 * before[1]  # the type term is GemNet-dT's


def test_both_decoders_build_train_and_an_unknown_one_is_refused() -> None:
    assert set(DECODER_CLASSES) == set(DECODERS)
    crystals = crystal_set(8)
    b = crystals.batch(torch.arange(4))
    for name in DECODERS:
        model = tiny_model(crystals, replace(TINY, decoder=name))
        model.total_loss(model.losses(b, teacher_forcing=False)).backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters()), name
    with pytest.raises(ValueError, match="gemnet_dt, gemnet_t_style"):
        ModelConfig(decoder="gemnet")


def test_envelope_and_circular_basis_are_gemnets() -> None:
    x = torch.tensor([0.0, 0.5, 1.0, 1.5], dtype=torch.float64, requires_grad=True)
    u = PolynomialEnvelope(5)(x)
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x)
    assert u[0] == 1 and 0 < u[1] < 1 and u[2] == 0 and u[3] == 0
    assert abs(du[2]) < 1e-12 and abs(d2u[2]) < 1e-9  # smooth to second order at the cutoff
    cos = torch.linspace(-1, 1, 7, dtype=torch.float64)
    y = circular_basis(cos, 4)
    legendre = [torch.ones_like(cos), cos, (3 * cos**2 - 1) / 2, (5 * cos**3 - 3 * cos) / 2]
    want = torch.stack([math.sqrt((2 * deg + 1) / (4 * math.pi)) * p for deg, p in enumerate(legendre)], -1)
    assert torch.allclose(y, want, atol=1e-12)
