"""One parametrised test over (group x irreps): algebra, representations, Clebsch-Gordan
tensors, decompositions, and the value types; plus closed forms and e3nn agreement."""

from __future__ import annotations

import math

import pytest
import torch
from e3nn import o3

from workbench.groups import O3, SL2C, SO, SO3, SU, SU2, Lorentz, O, Sp
from workbench.groups.base import GroupElement, structure_constants

IRREPS = {
    SU2(): ["0", "1/2", "1", "3/2", "2"],
    SO3(): ["0", "1", "2", "3"],
    O3(): ["0e", "1o", "1e", "2e", "3o"],
    SL2C(): ["(0,0)", "(1,0)", "(0,1)", "(1,1)", "(2,0)", "(2,1)"],
    Lorentz(): ["(0,0)", "(1,1)", "(2,0)", "(0,2)", "(2,2)", "(3,1)"],
    SU(3): ["(0,0)", "(1,0)", "(0,1)", "(1,1)", "(2,0)", "(3,0)"],
    SU(4): ["(0,0,0)", "(1,0,0)", "(0,0,1)", "(0,1,0)", "(1,0,1)"],
    SO(2): ["(0)", "(1)", "(-1)", "(2)"],
    SO(4): ["(0,0)", "(1,0)", "(1,1)", "(1,-1)", "(2,0)"],
    SO(5): ["(0,0)", "(1,0)", "(1,1)", "(2,0)"],
    O(5): ["(0,0)e", "(1,0)o", "(1,1)e", "(2,0)e", "(0,0)o"],
    SO(6): ["(0,0,0)", "(1,0,0)", "(1,1,0)", "(1,1,1)"],
    Sp(4): ["(0,0)", "(1,0)", "(1,1)", "(2,0)"],
    Sp(6): ["(0,0,0)", "(1,0,0)", "(1,1,0)", "(1,1,1)"],
    O(2): ["(0)", "(0)det", "(1)", "(2)"],
    O(4): ["(0,0)", "(0,0)det", "(1,0)", "(1,1)", "(2,0)"],
}
GROUP_IRREP = [(g, ir) for g, labels in IRREPS.items() for ir in labels]
TRIPLES = [
    (SU2(), "1/2", "1/2", "1"),
    (SU2(), "1", "3/2", "1/2"),
    (SU2(), "3/2", "3/2", "2"),
    (SO3(), "1", "1", "1"),
    (SO3(), "2", "3", "4"),
    (O3(), "1o", "1o", "1e"),
    (O3(), "2e", "1o", "3o"),
    (SL2C(), "(1,0)", "(0,1)", "(1,1)"),
    (SL2C(), "(2,1)", "(1,0)", "(1,1)"),
    (Lorentz(), "(1,1)", "(1,1)", "(2,2)"),
    (Lorentz(), "(2,2)", "(2,2)", "(4,4)"),
    (Lorentz(), "(1,1)", "(2,0)", "(1,1)"),
    (SU(3), "(1,0)", "(0,1)", "(1,1)"),
    (SU(3), "(1,1)", "(1,1)", "(1,1)"),
    (SU(3), "(1,1)", "(1,1)", "(2,2)"),
    (SU(4), "(1,0,0)", "(0,0,1)", "(1,0,1)"),
    (SO(2), "(1)", "(2)", "(3)"),
    (SO(4), "(1,0)", "(1,0)", "(1,1)"),
    (SO(5), "(1,0)", "(1,0)", "(2,0)"),
    (SO(5), "(1,1)", "(1,0)", "(2,1)"),
    (O(5), "(1,0)o", "(1,1)e", "(1,0)o"),
    (SO(6), "(1,0,0)", "(1,1,0)", "(1,1,1)"),
    (Sp(4), "(1,0)", "(1,0)", "(1,1)"),
    (Sp(4), "(1,0)", "(1,1)", "(1,0)"),
    (Sp(6), "(1,0,0)", "(1,1,0)", "(1,1,1)"),
    (O(2), "(1)", "(1)", "(0)det"),
    (O(4), "(1,0)", "(1,0)", "(1,1)"),
    (O(4), "(1,1)", "(1,0)", "(1,0)det"),
    (O(4), "(1,1)", "(1,1)", "(0,0)det"),
]
ids = lambda x: str(x)  # noqa: E731


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-300))


@pytest.mark.parametrize(("group", "label"), GROUP_IRREP, ids=ids)
def test_generators_satisfy_the_lie_algebra(group, label):
    f = structure_constants(group.generators(group._faithful_label))
    X = group.generators(label)
    ir = group.irrep(label)
    assert X.shape == (group.algebra_dim, ir.dim, ir.dim) and X.dtype == group.dtype
    commutators = torch.einsum("aij,bjk->abik", X, X) - torch.einsum("bij,ajk->abik", X, X)
    residual = commutators - torch.einsum("abc,cij->abij", f.to(X.dtype), X)
    assert residual.abs().max() < 1e-10


@pytest.mark.parametrize(("group", "label"), GROUP_IRREP, ids=ids)
def test_weights_and_representation_matrices(group, label):
    ir = group.irrep(label)
    weights = group.weights(ir)
    assert weights.shape == (ir.dim, group.rank)
    assert tuple(group.highest_weight(ir.label)) in {tuple(w) for w in weights.tolist()}
    # weights come in +- pairs where the Weyl group contains -1 (not SU(n > 2), SO(2), SO(6))
    minus_one_in_weyl = {"SU(2)", "SO(3)", "O(3)", "SL(2,C)", "SO(1,3)", "SO(4)", "SO(5)", "O(5)"}
    minus_one_in_weyl |= {"O(2)", "O(4)"}  # R pairs l_m with -l_m
    if group.name in minus_one_in_weyl or group.name.startswith("Sp"):
        assert sorted(map(tuple, weights.tolist())) == sorted(map(tuple, (-weights).tolist()))
    for g in group.sample(3, seed=1):
        D = group.rep(ir, g)
        inverse = GroupElement(group, tuple(tuple(-c for c in f) for f in reversed(g.factors)))
        eye = torch.eye(ir.dim, dtype=D.dtype)
        if not g.discrete or not any(g.discrete):
            assert torch.allclose(D @ group.rep(ir, inverse), eye, atol=1e-10)
        if group.compact:
            assert torch.allclose(D @ D.conj().T, eye, atol=1e-12)


@pytest.mark.parametrize(("group", "a", "b", "c"), TRIPLES, ids=ids)
def test_clebsch_gordan_intertwines(group, a, b, c):
    C = group.cg(a, b, c)
    paths = group.decompose(a, b).count(c)
    assert C.shape == (paths, group.irrep(a).dim, group.irrep(b).dim, group.irrep(c).dim)
    assert paths >= 1
    flat = C.reshape(paths, -1)
    assert torch.allclose(flat.conj() @ flat.T, torch.eye(paths, dtype=C.dtype), atol=1e-12)
    Xa, Xb, Xc = group.generators(a), group.generators(b), group.generators(c)
    lhs = torch.einsum("pijk,xia->xpajk", C, Xa) + torch.einsum("pijk,xjb->xpibk", C, Xb)
    rhs = torch.einsum("xkl,pijl->xpijk", Xc, C)
    assert (lhs - rhs).abs().max() < 1e-10
    for g in group.sample(4, seed=2, **({"max_rapidity": 2.0} if not group.compact else {})):
        Da, Db, Dc = group.rep(a, g), group.rep(b, g), group.rep(c, g)
        lhs = torch.einsum("pijk,ia,jb->pabk", C, Da, Db)
        rhs = torch.einsum("kl,pabl->pabk", Dc, C)
        assert _rel(lhs, rhs) < 1e-10


@pytest.mark.parametrize("group", list(IRREPS), ids=ids)
def test_tensor_products_and_symmetric_powers_have_the_right_dimensions(group):
    labels = IRREPS[group]
    for a in labels:
        for b in labels[:4]:
            product = group.decompose(a, b)
            assert product.dim == group.irrep(a).dim * group.irrep(b).dim
    for spec in [labels[1], f"{labels[0]} + {labels[3]}", f"2x{labels[2]}"]:
        V = group.Irreps(spec)
        for k in (2, 3):
            assert group.symmetric_power(V, k).dim == math.comb(V.dim + k - 1, k)


def test_lorentz_symmetric_powers_are_right_where_lie_nn_is_wrong():
    """Sym^2 of the 5-dim (0,0) + (1,1) must be 15-dimensional (lie-nn returns more)."""
    L = Lorentz()
    sym2 = L.symmetric_power("(0,0) + (1,1)", 2)
    assert sym2.dim == 15
    assert str(sym2) == "2x(0,0) + 1x(1,1) + 1x(2,2)"
    assert str(L.symmetric_power("(1,1)", 3)) == "1x(1,1) + 1x(3,3)"


def test_decomposition_agrees_with_the_solver():
    """decompose() (from weights) and cg() (null space) count the same paths."""
    for group, labels in IRREPS.items():
        for a in labels[:4]:
            for b in labels[:4]:
                product = group.decompose(a, b)
                for mul, c in product:
                    assert group.cg(a, b, c).shape[0] == mul
                    assert group.cg(a, b, c).shape[0] == product.count(c)


# --- references: e3nn and closed forms ---------------------------------------------------


@pytest.mark.parametrize("l1", range(5))
def test_so3_and_o3_equal_e3nn_up_to_l4(l1):
    so3, o3g = SO3(), O3()
    for l2 in range(5):
        for l3 in range(abs(l1 - l2), min(l1 + l2, 4) + 1):
            ref = o3.wigner_3j(l1, l2, l3, dtype=torch.float64)
            assert (so3.cg(l1, l2, l3)[0] - ref).abs().max() < 1e-12
            for p1 in (1, -1):
                for p2 in (1, -1):
                    a, b = o3.Irrep(l1, p1), o3.Irrep(l2, p2)
                    good = o3g.cg(str(a), str(b), str(o3.Irrep(l3, p1 * p2)))
                    assert (good[0] - ref).abs().max() < 1e-12
                    assert o3g.cg(str(a), str(b), str(o3.Irrep(l3, -p1 * p2))).shape[0] == 0
        assert (so3.generators(l1) - o3.so3_generators(l1).double()).abs().max() < 1e-6


def test_su2_closed_forms():
    g = SU2()
    singlet = g.cg("1/2", "1/2", "0")[0, :, :, 0]
    s = 2**-0.5
    assert torch.allclose(singlet, torch.tensor([[0, -s], [s, 0]], dtype=singlet.dtype))
    # <1/2 1/2; 1/2 1/2 | 1 1> = 1, <1/2 1/2; 1/2 -1/2 | 1 0> = 1/sqrt 2, normalised by sqrt 3
    triplet = g.cg("1/2", "1/2", "1")[0] * math.sqrt(3)
    assert abs(triplet[1, 1, 2] - 1) < 1e-12 and abs(triplet[1, 0, 1] - s) < 1e-12
    # <1 m; 1 -m | 0 0> = (-1)^(1-m) / sqrt 3 (indices m + 1)
    scalar = g.cg("1", "1", "0")[0, :, :, 0] * math.sqrt(3)
    expected = torch.tensor([[0, 0, 1], [0, -1, 0], [1, 0, 0]], dtype=scalar.dtype)
    assert torch.allclose(scalar, expected, atol=1e-12)


@pytest.mark.parametrize(
    ("g", "labels"),
    [(SU2(), ("1/2", "1")), (SO3(), ("1", "2")), (SU(3), ("(1,0)", "(0,1)", "(1,1)"))],
    ids=ids,
)
def test_schur_orthogonality_for_compact_groups(g, labels):
    """E_g[D^a_ij conj(D^b_kl)] = delta_ab delta_ik delta_jl / d_a under Haar samples."""
    elements = g.sample(3000, seed=5)
    Ds = {label: torch.stack([g.rep(label, e) for e in elements]) for label in labels}
    for a in Ds:
        for b in Ds:
            m = torch.einsum("nij,nkl->ijkl", Ds[a], Ds[b].conj()) / len(elements)
            if a == b:
                d = Ds[a].shape[-1]
                eye = torch.eye(d, dtype=m.dtype)
                expected = torch.einsum("ik,jl->ijkl", eye, eye) / d
            else:
                expected = torch.zeros_like(m)
            assert (m - expected).abs().max() < 0.05


def test_lorentz_vector_is_the_ordinary_action():
    L = Lorentz()
    eta = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))
    for g in L.sample(5, seed=3, max_rapidity=3.0):
        D = L.rep("(1,1)", g)
        assert D.imag.abs().max() == 0
        assert torch.allclose(D.real.T @ eta @ D.real, eta, atol=1e-10)
        assert D.real[0, 0] >= 1  # orthochronous
    boost = GroupElement(L, ((0.0, 0.0, 0.0, 0.5, 0.0, 0.0),))
    D = L.rep("(1,1)", boost).real
    assert math.isclose(D[0, 0], math.cosh(0.5)) and math.isclose(D[0, 1], math.sinh(0.5))
    invariant = L.cg("(1,1)", "(1,1)", "(0,0)")[0, :, :, 0]
    assert torch.allclose(invariant / invariant[0, 0], eta.to(invariant.dtype), atol=1e-12)


# --- value types and bad input ------------------------------------------------------------


def test_irreps_values():
    g = O3()
    irreps = g.Irreps("16x0e + 8x1o + 1o")
    assert irreps.dim == 16 + 24 + 3 and irreps.num_irreps == 25
    assert str(irreps.simplify()) == "16x0e + 9x1o"
    assert g.Irreps(str(irreps)) == irreps and hash(g.Irreps(str(irreps))) == hash(irreps)
    assert str(g.Irreps("1o + 0e + 2e").sort()) == "1x0e + 1x1o + 1x2e"
    assert irreps.to_e3nn() == o3.Irreps("16x0e + 8x1o + 1x1o")
    assert O3.from_e3nn("2x0e + 1x2o") == g.Irreps("2x0e + 1x2o")
    L = Lorentz()
    assert L.Irreps("2x(0,0) + (1,1)").dim == 6
    assert L.irrep("(1/2,1/2)") == L.irrep("(1,1)")
    assert SU2().irrep("3/2").dim == 4 and str(SU2().irrep((3,))) == "3/2"


@pytest.mark.parametrize(
    ("group", "bad", "hint"),
    [
        (O3(), "1q", "'1o' or '2e'"),
        (O3(), "16x0e + + 1o", "empty term"),
        (SO3(), "1o", "degree l"),
        (SU2(), "1/3", "spin such as '1/2'"),
        (Lorentz(), "(1,0)", "l + k"),
        (Lorentz(), "(1,1", "'(l,k)'"),
    ],
    ids=ids,
)
def test_bad_labels_say_what_is_expected(group, bad, hint):
    with pytest.raises(ValueError) as err:
        group.Irreps(bad)
    assert hint in str(err.value) and bad in str(err.value)


def test_no_coupling_path_gives_zero_paths_not_an_error():
    assert SO3().cg(1, 1, 3).shape == (0, 3, 3, 7)
    assert Lorentz().cg("(1,1)", "(1,1)", "(4,4)").shape == (0, 4, 4, 25)


def test_disk_cache_is_used_and_corrupt_entries_are_recomputed(tmp_path, monkeypatch):
    from workbench.groups import clebsch_gordan as cgmod

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    cgmod._memory_cached.cache_clear()
    first = SO3().cg(2, 2, 2)
    [entry] = list((tmp_path / "clebsch_gordan").glob("*.pt"))
    cgmod._memory_cached.cache_clear()
    monkeypatch.setattr(cgmod, "_solve", lambda *a: pytest.fail("recomputed a cached tensor"))
    assert torch.equal(SO3().cg(2, 2, 2), first)
    entry.write_bytes(b"not a tensor")
    cgmod._memory_cached.cache_clear()
    monkeypatch.undo()
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    assert torch.equal(SO3().cg(2, 2, 2), first)
    assert torch.load(entry, weights_only=True).shape == first.shape
    cgmod._memory_cached.cache_clear()


@pytest.mark.parametrize(
    ("group", "spec", "k"),
    [
        (O3(), "1x0e + 1x1o", 3),
        (O3(), "2x1o", 2),
        (SU2(), "1/2 + 1", 2),
        (Lorentz(), "(0,0) + (1,1)", 3),
        (SL2C(), "(1,0)", 2),
        (SU(3), "(1,0)", 3),
        (SU(3), "(1,1)", 2),
        (SO(5), "(1,0)", 3),
        (O(5), "(0,0)e + (1,0)o", 2),
        (Sp(4), "(1,0)", 3),
        (O(4), "(1,0)", 2),
        (O(4), "(0,0)det + (1,1)", 2),
        (O(2), "(1)", 3),
    ],
    ids=ids,
)
def test_symmetric_power_bases_are_symmetric_equivariant_and_complete(group, spec, k):
    V = group.Irreps(spec)
    sample_options = {} if group.compact else {"max_rapidity": 1.5}
    elements = group.sample(3, seed=4, **sample_options)
    x = torch.randn(V.dim, dtype=torch.float64).to(group.dtype)
    letters = "abcdefg"[:k]
    for mul, c in group.symmetric_power(V, k):
        U = group.symmetric_power_basis(V, k, c)
        assert U.shape == (mul, *(V.dim,) * k, c.dim)  # as many paths as the decomposition says
        flat = U.reshape(mul, -1)
        assert torch.allclose(flat.conj() @ flat.T, torch.eye(mul, dtype=U.dtype), atol=1e-12)
        assert (U - U.transpose(1, 2)).abs().max() < 1e-12
        contract = f"p{letters}m," + ",".join(letters) + "->pm"
        for g in elements:
            D, Dc = group.rep(V, g), group.rep(c, g)
            y = torch.einsum(contract, U, *[x] * k)
            y_rotated = torch.einsum(contract, U, *[D @ x] * k)
            assert _rel(y_rotated, y @ Dc.T) < 1e-10


def test_su3_closed_forms():
    """3 x 3bar = 1 + 8, 3 x 3 = 3bar + 6, 8 x 8 = 1 + 8 + 8 + 10 + 10bar + 27 (twice 8: 2
    paths), weights of the octet = roots + 2 zeros, Weyl dimensions."""
    g = SU(3)
    assert str(g.decompose("(1,0)", "(0,1)")) == "1x(0,0) + 1x(1,1)"
    assert str(g.decompose("(1,0)", "(1,0)")) == "1x(0,1) + 1x(2,0)"
    product = g.decompose("(1,1)", "(1,1)")
    assert sorted(ir.dim for mul, ir in product for _ in range(mul)) == [1, 8, 8, 10, 10, 27]
    assert g.cg("(1,1)", "(1,1)", "(1,1)").shape[0] == 2
    roots = {(2, -1), (-1, 2), (1, 1), (-2, 1), (1, -2), (-1, -1)}
    octet = [tuple(w) for w in g.weights("(1,1)").tolist()]
    assert set(octet) == roots | {(0, 0)} and octet.count((0, 0)) == 2
    assert [g.irrep(x).dim for x in ("(1,0)", "(1,1)", "(3,0)", "(2,2)", "(4,1)")] == [
        3,
        8,
        10,
        27,
        35,
    ]
    sym = g.symmetric_power("(1,1)", 2)  # Sym^2 8 = 1 + 8 + 27
    assert str(sym) == "1x(0,0) + 1x(1,1) + 1x(2,2)"


def test_su3_sampling_is_haar_like_and_special_unitary():
    g = SU(3)
    D = torch.stack([g.rep("(1,0)", e) for e in g.sample(400, seed=9)])
    eye = torch.eye(3, dtype=D.dtype)
    assert torch.allclose(D @ D.conj().transpose(1, 2), eye.expand_as(D), atol=1e-10)
    assert torch.allclose(torch.linalg.det(D), torch.ones(400, dtype=D.dtype), atol=1e-10)
    # Haar: E|U_00|^2 = 1/n, E[U_00] = 0
    assert abs(D[:, 0, 0].abs().pow(2).mean() - 1 / 3) < 0.05 and D[:, 0, 0].mean().abs() < 0.1


def test_orthogonal_groups_closed_forms():
    """Weyl dimensions and the classic products: SO(n) v x v = 1 + 2-forms + traceless
    symmetric; SO(4) 2-forms split into self-dual and anti-self-dual; the invariant of two
    vectors is delta_ij; O(n) parity."""
    for n in (3, 4, 5, 6, 7):
        g = SO(n)
        v = g.irrep(g._example_label)
        product = g.decompose(v, v)
        dims = sorted(ir.dim for mul, ir in product for _ in range(mul))
        expected = sorted([1, n * (n - 1) // 2, n * (n + 1) // 2 - 1])
        if n == 4:
            expected = [1, 3, 3, 9]
        if n == 6:
            expected = [1, 15, 20]
        assert dims == expected, (n, product)
        invariant = g.cg(v, v, g.irrep((0,) * g.m))[0, :, :, 0]
        assert torch.allclose(invariant / invariant[0, 0], torch.eye(n, dtype=invariant.dtype))
    assert [SO(5).irrep(x).dim for x in ("(2,1)", "(2,2)", "(3,0)")] == [35, 35, 30]
    assert SO(2).decompose("(1)", "(-1)") == SO(2).Irreps("(0)")
    assert str(O(5).decompose("(1,0)o", "(1,0)o")) == "1x(0,0)e + 1x(1,1)e + 1x(2,0)e"
    with pytest.raises(ValueError, match="partition"):
        SO(5).irrep("(0,1)")


def test_symplectic_closed_forms():
    """Sp(2n): the algebra preserves J, dimensions n(2n+1); Sp(4): 4 x 4 = 1 + 5 + 10 with the
    singlet the symplectic form J; Sym^2 of the defining rep is the adjoint."""
    for dim in (2, 4, 6):
        g = Sp(dim)
        X = g.generators(g._example_label)
        n = dim // 2
        J = torch.zeros(dim, dim, dtype=X.dtype)
        J[:n, n:], J[n:, :n] = torch.eye(n), -torch.eye(n)
        assert X.shape[0] == n * (2 * n + 1)
        assert (X.transpose(1, 2) @ J + J @ X).abs().max() < 1e-15
    g = Sp(4)
    assert str(g.decompose("(1,0)", "(1,0)")) == "1x(0,0) + 1x(1,1) + 1x(2,0)"
    assert str(g.symmetric_power("(1,0)", 2)) == "1x(2,0)"
    form = g.cg("(1,0)", "(1,0)", "(0,0)")[0, :, :, 0]
    J = torch.zeros(4, 4, dtype=form.dtype)
    J[:2, 2:], J[2:, :2] = torch.eye(2), -torch.eye(2)
    assert torch.allclose(form / form[0, 2], J, atol=1e-12)
    assert [Sp(6).irrep(x).dim for x in ("(1,1,0)", "(1,1,1)", "(2,0,0)")] == [14, 14, 21]


def test_orthogonal_groups_of_even_dimension():
    """O(2m) is not SO(2m) x {1, -1}: (l_m = 0) irreps come natural or twisted by det, the
    others pair lambda with its reflection; the solver counts the +- split."""
    o2 = O(2)
    assert o2.irrep("(1)").dim == 2 and o2.irrep("(0)det").dim == 1
    assert str(o2.decompose("(1)", "(1)")) == "1x(0)det + 1x(0) + 1x(2)"
    o4 = O(4)
    assert o4.irrep("(1,1)").dim == 6  # self-dual + anti-self-dual 2-forms, swapped by R
    assert str(o4.decompose("(1,0)", "(1,0)")) == "1x(0,0) + 1x(1,1) + 1x(2,0)"
    product = o4.decompose("(1,1)", "(1,1)")
    assert product.dim == 36 and product.count("(0,0)det") == 1 and product.count("(0,0)") == 1
    R = o4.discrete_generators("(2,0)")[0]
    eye = torch.eye(9, dtype=R.dtype)
    assert torch.allclose(R @ R, eye, atol=1e-12) and torch.allclose(
        R @ R.conj().T, eye, atol=1e-12
    )
    with pytest.raises(ValueError, match="det"):
        o4.irrep("(1,1)det")  # a paired irrep has no det twist (it absorbs it)
    assert str(o4.symmetric_power("(1,0)", 2)) == "1x(0,0) + 1x(2,0)"
    # Sym^2 of the 2-forms: the Pfaffian-like invariant of O(4) is det-twisted
    assert o4.symmetric_power("(1,1)", 2).count("(0,0)det") == 1
