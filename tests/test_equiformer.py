"""Equiformer, its attention layers and the neighbour lists: O(3) equivariance in float64
(<= 1e-10) and float32 (~1e-5), translations, permutations, batching, a training sanity check
and bad input."""

from __future__ import annotations

import itertools

import pytest
import torch
from e3nn import o3

import workbench.nn.graph as graph
from workbench.checks import equivariance_report
from workbench.groups import O3, SU2
from workbench.models.equiformer import CONFIGS, Equiformer, EquiformerConfig, count_parameters
from workbench.nn.attention import (
    DepthwiseLinear,
    EquivariantLayerNorm,
    GraphAttention,
    IrrepsLinear,
    segment_softmax,
)
from workbench.nn.graph import charge_dipole, radius_graph
from workbench.nn.harmonics import EdgeHarmonics

# The quick config with l = 2 features, as the paper's model at a small width.
L2_SMALL = EquiformerConfig(
    irreps_node="16x0e + 8x1o + 4x2e",
    irreps_head="8x0e + 4x1o + 2x2e",
    irreps_mlp_mid="32x0e + 16x1o + 8x2e",
)
# A small config with every O(3) parity: pseudoscalars, pseudovectors, odd l = 2 (the paper's
# E(3) variant, scaled down).
E3_SMALL = EquiformerConfig(
    irreps_node="8x0e + 2x0o + 2x1e + 4x1o + 2x2e + 2x2o",
    irreps_head="4x0e + 1x0o + 1x1e + 2x1o + 1x2e + 1x2o",
    irreps_mlp_mid="16x0e + 4x0o + 4x1e + 8x1o + 4x2e + 4x2o",
)


def molecules(sizes=(5, 7, 4), dtype=torch.float64, seed=0, spread=2.0):
    """Random molecules: atomic numbers of H, C, N, O, F and positions spread so that some
    pairs are farther apart than the 5 Å cutoff."""
    g = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    z = torch.tensor([1, 6, 7, 8, 9])[torch.randint(0, 5, (n,), generator=g)]
    pos = (torch.randn(n, 3, generator=g, dtype=torch.float64) * spread).to(dtype)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    return z, pos, batch


def random_o3(seed: int, reflect: bool) -> torch.Tensor:
    """A random rotation, times the mirror z -> -z when ``reflect`` (det -1)."""
    torch.manual_seed(seed)
    R = o3.rand_matrix(dtype=torch.float64)
    return R @ torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)) if reflect else R


def model64(config=None) -> Equiformer:
    torch.manual_seed(0)
    return Equiformer(config).double().eval()


# --- neighbour lists -----------------------------------------------------------------------------


def brute_force(pos, batch, r, loop=False, k=None):
    edges = set()
    n = len(pos)
    for i, j in itertools.product(range(n), range(n)):
        if batch[i] == batch[j] and (loop or i != j) and (pos[i] - pos[j]).norm() < r:
            edges.add((j, i))
    if k is not None:
        kept = set()
        for i in range(n):
            sources = sorted((float((pos[i] - pos[j]).norm()), j) for j, t in edges if t == i)
            kept |= {(j, i) for _, j in sources[:k]}
        edges = kept
    return edges


@pytest.mark.parametrize("dense", [True, False], ids=["cdist", "kdtree"])
def test_radius_graph_equals_brute_force(dense, monkeypatch):
    if not dense:
        monkeypatch.setattr(graph, "_DENSE_LIMIT", 0)
    g = torch.Generator().manual_seed(3)
    pos = torch.randn(40, 3, generator=g, dtype=torch.float64) * 2
    batch = torch.randint(0, 4, (40,), generator=g)  # unsorted, uneven molecules
    for loop, k in [(False, None), (True, None), (False, 3)]:
        edges = radius_graph(pos, batch, 2.5, max_neighbors=k, loop=loop)
        assert edges.dtype == torch.long and edges.shape[0] == 2
        assert set(map(tuple, edges.T.tolist())) == brute_force(pos, batch, 2.5, loop, k)
        assert len(set(map(tuple, edges.T.tolist()))) == edges.shape[1]  # no duplicates
        key = edges[1] * 40 + edges[0]
        assert torch.equal(key, key.sort().values)  # sorted by target, then source


def test_radius_graph_rejects_bad_input():
    pos = torch.randn(5, 3)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        radius_graph(torch.randn(5, 2), None, 1.0)
    with pytest.raises(TypeError, match="floating"):
        radius_graph(torch.ones(5, 3, dtype=torch.long), None, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        radius_graph(torch.tensor([[0.0, 0.0, float("nan")]] * 2), None, 1.0)
    with pytest.raises(ValueError, match=r"batch must have shape \(5,\)"):
        radius_graph(pos, torch.zeros(4, dtype=torch.long), 1.0)
    with pytest.raises(TypeError, match="integer"):
        radius_graph(pos, torch.zeros(5), 1.0)
    with pytest.raises(ValueError, match="r_max"):
        radius_graph(pos, None, 0.0)
    with pytest.raises(ValueError, match="max_neighbors"):
        radius_graph(pos, None, 1.0, max_neighbors=0)


# --- layers --------------------------------------------------------------------------------------


def test_segment_softmax_is_a_softmax_per_segment():
    logits = torch.randn(9, 2, dtype=torch.float64) * 30  # large: needs the max shift
    index = torch.tensor([2, 0, 2, 2, 0, 3, 3, 3, 3])
    out = segment_softmax(logits, index, 5)
    for s in (0, 2, 3):
        rows = index == s
        assert torch.allclose(out[rows], torch.softmax(logits[rows], dim=0), atol=1e-15)


def test_fast_linears_equal_the_workbench_layers():
    lin = IrrepsLinear("3x0e + 2x1o + 1x0e + 2x2e + 1x1o", "2x0e + 3x1o + 1x1e + 2x2e").double()
    with torch.no_grad():
        lin.bias.normal_()
    x = torch.randn(6, lin.irreps_in.dim, dtype=torch.float64)
    ref = lin.linear(x)
    ref[:, :2] += lin.bias
    assert torch.allclose(lin(x), ref, atol=1e-14, rtol=0)
    cases = [
        (O3(), "16x0e + 8x1o + 4x2e", "0e + 1o + 2e", "16x0e + 12x0e + 2x1e + 8x1o + 4x2e"),
        (SU2(), "3x0 + 2x1/2 + 2x1", "0 + 1/2 + 1", "3x0 + 2x1/2 + 2x1"),  # complex irreps
    ]
    for group, irreps_in, sh, out in cases:
        dtype = torch.complex128 if group.dtype.is_complex else torch.float64
        for shared in (False, True):
            dl = DepthwiseLinear(irreps_in, sh, out, out, shared_weights=shared, group=group)
            dl = dl.double()
            with torch.no_grad():
                dl.linear.bias.normal_()
            x = torch.randn(7, dl.irreps_in.dim, dtype=dtype)
            y = torch.randn(7, dl.irreps_sh.dim, dtype=dtype)
            w = None if shared else torch.randn(7, dl.weight_numel, dtype=torch.float64)
            assert torch.allclose(dl(x, y, w), dl.linear(dl.tp(x, y, w)), atol=1e-13, rtol=0)


def test_layer_norm_formula_and_equivariance():
    irreps = "4x0e + 3x1o + 2x2e + 2x1e"
    norm = EquivariantLayerNorm(irreps).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2)
        norm.bias.normal_()
    x = torch.randn(5, norm.irreps.dim, dtype=torch.float64)
    out = norm(x)
    s = x[:, :4] - x[:, :4].mean(1, keepdim=True)
    expected = s / (s.pow(2).mean(1, keepdim=True) + 1e-5).sqrt() * norm.weight[:4] + norm.bias
    assert torch.allclose(out[:, :4], expected, atol=1e-14)
    v = x[:, 4:13].reshape(5, 3, 3)
    expected = v / (v.pow(2).mean((1, 2), keepdim=True) + 1e-5).sqrt() * norm.weight[4:7, None]
    assert torch.allclose(out[:, 4:13], expected.reshape(5, 9), atol=1e-14)
    report = equivariance_report(norm, irreps, irreps, n_samples=4)
    assert report["rel_error"].max() <= 1e-12


def test_graph_attention_is_equivariant_and_attends_per_target():
    torch.manual_seed(0)
    node = "8x0e + 4x1o + 2x2e"
    layer = GraphAttention(node, "0e + 1o + 2e", "4x0e + 2x1o + 1x2e", 2, 6, (16,)).double()
    pos = torch.randn(7, 3, dtype=torch.float64)
    src, dst = radius_graph(pos, None, 10.0)
    radial = torch.rand(len(src), 6, dtype=torch.float64)  # invariant edge features
    dim = layer.irreps_node.dim

    def f(flat):  # (1, 3 * 7 + 7 * dim): positions, then node features
        p, x = flat[0, :21].reshape(7, 3), flat[0, 21:].reshape(7, dim)
        sh = EdgeHarmonics(layer.irreps_node.group, "1o", "0e + 1o + 2e")(p[src] - p[dst])
        return layer(x, src, dst, sh, radial).reshape(1, -1)

    irreps_in = f"7x1o + {' + '.join([node] * 7)}"
    report = equivariance_report(f, irreps_in, " + ".join([node] * 7), n_samples=4,
                                 batch_size=1, dtype=torch.float64)  # fmt: skip
    assert report["rel_error"].max() <= 1e-10
    x = torch.randn(7, dim, dtype=torch.float64)
    sh = EdgeHarmonics(layer.irreps_node.group, "1o", "0e + 1o + 2e")(pos[src] - pos[dst])
    weights, _ = layer.attention(x, src, dst, sh, radial)
    sums = torch.zeros(7, 2, dtype=torch.float64).index_add(0, dst, weights)
    assert torch.allclose(sums, torch.ones(7, 2, dtype=torch.float64), atol=1e-14)


# --- the model: symmetries -----------------------------------------------------------------------


@pytest.mark.parametrize("config", [None, L2_SMALL, E3_SMALL], ids=["quick", "l2", "e3-small"])
def test_energy_invariant_and_dipole_polar_under_o3_with_shared_checker(config):
    model = model64(config)
    z, pos, batch = molecules()
    n, b = len(z), int(batch.max()) + 1

    def f(flat):
        out = model(z, flat.reshape(n, 3), batch)
        return out["energy"].reshape(1, b), out["dipole"].reshape(1, 3 * b)

    report = equivariance_report(
        f, f"{n}x1o", [f"{b}x0e", f"{b}x1o"], inputs=pos.reshape(1, -1), n_samples=8,
        dtype=torch.float64,
    )  # fmt: skip
    assert report["inversion"].any() and (~report["inversion"]).any()
    assert report["passed"].all()
    assert report["rel_error"].max() <= 1e-10


@pytest.mark.parametrize("reflect", [False, True], ids=["rotation", "rotation+mirror"])
def test_direct_o3_translation_permutation(reflect):
    model = model64()
    z, pos, batch = molecules()
    out = model(z, pos, batch)
    assert out["energy"].shape == (3,) and out["dipole"].shape == (3, 3)
    assert out["dipole"].abs().min() > 1e-3  # a non-trivial dipole to compare
    for seed in range(3):
        R = random_o3(seed, reflect)
        assert torch.linalg.det(R) == pytest.approx(-1.0 if reflect else 1.0)
        shift = torch.randn(3, dtype=torch.float64) * 5
        moved = model(z, pos @ R.T + shift, batch)
        scale = out["dipole"].abs().max()
        assert (moved["energy"] - out["energy"]).abs().max() <= 1e-10 * out["energy"].abs().max()
        assert (moved["dipole"] - out["dipole"] @ R.T).abs().max() <= 1e-10 * scale
    perm = torch.randperm(len(z), generator=torch.Generator().manual_seed(1))
    permuted = model(z[perm], pos[perm], batch[perm])
    assert torch.allclose(permuted["energy"], out["energy"], atol=1e-12, rtol=0)
    assert torch.allclose(permuted["dipole"], out["dipole"], atol=1e-12, rtol=0)


def test_inversion_flips_the_dipole():
    model = model64()
    z, pos, batch = molecules()
    out, inverted = model(z, pos, batch), model(z, -pos, batch)
    assert torch.allclose(inverted["dipole"], -out["dipole"], atol=1e-12, rtol=0)
    assert torch.allclose(inverted["energy"], out["energy"], atol=1e-12, rtol=0)


def test_node_features_are_equivariant():
    model = model64(L2_SMALL)
    z, pos, batch = molecules()
    n = len(z)
    report = equivariance_report(
        lambda flat: model.node_features(z, flat.reshape(n, 3), batch).reshape(1, -1),
        f"{n}x1o",
        " + ".join([model.config.irreps_node] * n),
        inputs=pos.reshape(1, -1),
        n_samples=4,
        dtype=torch.float64,
    )
    assert report["rel_error"].max() <= 1e-10


def test_forces_rotate_with_the_molecule():
    model = model64()
    z, pos, batch = molecules()

    def forces(p):
        p = p.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(z, p, batch)["energy"].sum(), p)
        return -grad

    R = random_o3(5, reflect=True)
    f, moved = forces(pos), forces(pos @ R.T + 1.0)
    assert torch.isfinite(f).all() and f.abs().max() > 1e-3
    assert (moved - f @ R.T).abs().max() <= 1e-10 * f.abs().max()


def test_batch_equals_molecules_alone():
    model = model64()
    z, pos, batch = molecules()
    out = model(z, pos, batch)
    for m in range(3):
        atoms = batch == m
        alone = model(z[atoms], pos[atoms], torch.zeros(int(atoms.sum()), dtype=torch.long))
        assert torch.allclose(alone["energy"], out["energy"][m : m + 1], atol=1e-12, rtol=0)
        assert torch.allclose(alone["dipole"], out["dipole"][m : m + 1], atol=1e-12, rtol=0)


def test_float32_invariance():
    torch.manual_seed(0)
    model = Equiformer().eval()
    z, pos, batch = molecules(dtype=torch.float32)
    out = model(z, pos, batch)
    for seed, reflect in [(0, False), (1, True)]:
        R = random_o3(seed, reflect).float()
        moved = model(z, pos @ R.T + 3.0, batch)
        rel_e = (moved["energy"] - out["energy"]).abs().max() / out["energy"].abs().max()
        rel_d = (moved["dipole"] - out["dipole"] @ R.T).abs().max() / out["dipole"].abs().max()
        assert rel_e <= 1e-5 and rel_d <= 1e-5, (rel_e, rel_d)


def test_charge_dipole_is_neutral_and_origin_free():
    q = torch.tensor([1.0, 2.0, -0.5, 0.3], dtype=torch.float64)
    pos = torch.randn(4, 3, dtype=torch.float64)
    batch = torch.tensor([0, 0, 1, 1])
    d = charge_dipole(q, pos, batch, 2)
    # neutralised: q - mean, so the dipole of molecule 0 is (q0 - q1)/2 (x0 - x1)
    assert torch.allclose(d[0], 0.5 * (q[0] - q[1]) * (pos[0] - pos[1]), atol=1e-14)
    assert torch.allclose(charge_dipole(q, pos + 7.0, batch, 2), d, atol=1e-12)


# --- training, sizes, bad input ------------------------------------------------------------------


def toy_targets(z, pos, batch, n_graphs):
    """Energy: per-element constants plus a pair term; dipole: fixed charges per element."""
    table = torch.zeros(10, dtype=pos.dtype)
    table[[1, 6, 7, 8, 9]] = torch.tensor([-0.5, -1.0, -1.2, -1.5, -1.7], dtype=pos.dtype)
    src, dst = radius_graph(pos, batch, 5.0)
    pair = torch.exp(-(pos[src] - pos[dst]).norm(dim=-1))
    energy = graph.molecule_sum(table[z], batch, n_graphs)
    energy = energy + 0.5 * graph.molecule_sum(pair, batch[dst], n_graphs)
    charge = torch.zeros(10, dtype=pos.dtype)
    charge[[1, 6, 7, 8, 9]] = torch.tensor([0.3, -0.1, -0.4, -0.5, -0.3], dtype=pos.dtype)
    return energy, charge_dipole(charge[z], pos, batch, n_graphs)


def test_training_reduces_the_loss_on_a_toy_target():
    torch.manual_seed(0)
    model = Equiformer(EquiformerConfig(num_blocks=1))
    z, pos, batch = molecules(sizes=(6, 5, 7, 4, 6, 5), dtype=torch.float32, seed=4, spread=1.2)
    energy, dipole = toy_targets(z, pos, batch, 6)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss_fn():
        out = model(z, pos, batch)
        return (out["energy"] - energy).pow(2).mean() + (out["dipole"] - dipole).pow(2).mean()

    with torch.no_grad():
        first = float(loss_fn())
    for _ in range(40):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert float(loss_fn()) < 0.2 * first


def test_configs_and_parameter_counts():
    assert CONFIGS["quick"] == EquiformerConfig()
    quick = Equiformer()
    assert count_parameters(quick) == sum(p.numel() for p in quick.parameters())
    assert count_parameters(quick) < 50_000
    full = Equiformer(CONFIGS["full"])
    assert len(full.blocks) == 6 and full.blocks[0].attention.num_heads == 4
    assert str(full.irreps_node) == "128x0e + 64x1o + 32x2e"
    assert 2_000_000 < count_parameters(full) < 4_000_000  # the paper's model: ~3.5M


def test_bad_input_raises_clear_errors():
    model = Equiformer()
    z, pos, batch = molecules(dtype=torch.float32)
    with pytest.raises(TypeError, match="z must be an integer"):
        model(z.float(), pos, batch)
    with pytest.raises(ValueError, match=r"atomic numbers must be in 1\.\.9"):
        model(torch.full_like(z, 17), pos, batch)
    with pytest.raises(ValueError, match=r"z must have shape \(16,\)"):
        model(z[:-1], pos, batch)
    bad = pos.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or inf coordinates at atoms \[3\]"):
        model(z, bad, batch)
    with pytest.raises(ValueError, match=r"molecules \[1\] have no atoms"):
        model(z, pos, torch.where(batch == 1, 2, batch))
    with pytest.raises(
        TypeError, match=r"pos is torch\.float64 but the model's parameters are torch\.float32"
    ):
        model(z, pos.double(), batch)
    with pytest.raises(ValueError, match="needs 0e"):
        Equiformer(EquiformerConfig(irreps_node="8x0e + 4x1e"))
    with pytest.raises(ValueError, match="no invariant"):
        Equiformer(EquiformerConfig(irreps_head="2x1o"))
