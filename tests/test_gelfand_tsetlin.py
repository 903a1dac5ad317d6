"""SU(n) irreps in the Gelfand-Tsetlin basis: dimensions, the su(n) algebra, unitarity,
weights, the defining irrep, irreducibility and the dual."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
import torch

from workbench.groups._gelfand_tsetlin import (
    gt_patterns,
    su_cartan,
    su_generators,
    su_weights,
    weyl_dimension,
)

TOL = 1e-10

ALGEBRA_CASES = [
    *[(2, (two_j,)) for two_j in range(6)],
    *[(3, d) for d in [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (3, 0), (2, 1), (2, 2)]],
    *[(4, d) for d in [(1, 0, 0), (0, 1, 0), (1, 0, 1), (1, 1, 0)]],
    (5, (1, 0, 0, 0)),
    (5, (0, 1, 0, 0)),
]
SMALL_CASES = [(2, (3,)), (3, (1, 1)), (3, (2, 1)), (4, (0, 1, 0)), (4, (1, 0, 1))]


def defining_generators(n: int) -> torch.Tensor:
    """The su(n) basis of the module built directly from the matrix units e_kl of C^n."""

    def e(k: int, l: int) -> torch.Tensor:
        m = torch.zeros(n, n, dtype=torch.complex128)
        m[k - 1, l - 1] = 1
        return m

    gens = [1j * (e(k, k) - e(k + 1, k + 1)) for k in range(1, n)]
    for k, l in itertools.combinations(range(1, n + 1), 2):
        gens += [e(k, l) - e(l, k), 1j * (e(k, l) + e(l, k))]
    return torch.stack(gens)


def structure_constants(n: int) -> torch.Tensor:
    """f_abc with [X_a, X_b] = sum_c f_abc X_c in the defining irrep (least squares)."""
    x = defining_generators(n)
    comm = torch.einsum("aij,bjk->abik", x, x) - torch.einsum("bij,ajk->abik", x, x)
    basis = x.reshape(len(x), -1).T  # (n*n, N)
    f = torch.linalg.lstsq(basis, comm.reshape(len(x) ** 2, -1).T).solution
    return f.T.reshape(len(x), len(x), len(x))


def raising(n: int, x: torch.Tensor) -> list[torch.Tensor]:
    """E_{k,k+1} = (X_A - i X_S) / 2 from the generators X_A = E - E^T, X_S = i(E + E^T)."""
    pairs = list(itertools.combinations(range(1, n + 1), 2))
    out = []
    for k in range(1, n):
        a = n - 1 + 2 * pairs.index((k, k + 1))
        out.append((x[a] - 1j * x[a + 1]) / 2)
    return out


def null_dim(equations: torch.Tensor, tol: float = 1e-9) -> int:
    s = torch.linalg.svdvals(equations)
    return equations.shape[1] - int((s > tol * max(1.0, float(s[0]))).sum())


def intertwiner_equations(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Linear equations on vec(A) (row-major) for x_a A = A y_a, all a."""
    d1, d2 = x.shape[-1], y.shape[-1]
    eye1 = torch.eye(d1, dtype=x.dtype)
    eye2 = torch.eye(d2, dtype=x.dtype)
    blocks = [
        torch.kron(xa, eye2) - torch.kron(eye1, ya.T.contiguous())
        for xa, ya in zip(x, y, strict=True)
    ]
    return torch.cat(blocks)


def dimension_cases() -> list[tuple[int, tuple[int, ...]]]:
    cases = []
    for n, top in [(2, 8), (3, 4), (4, 3), (5, 2)]:
        for d in itertools.product(range(top + 1), repeat=n - 1):
            if sum(d) <= top:
                cases.append((n, d))
    return cases


@pytest.mark.parametrize(
    "n, dynkin, dim",
    [
        (2, (0,), 1),
        (2, (5,), 6),
        (3, (1, 0), 3),
        (3, (0, 1), 3),
        (3, (1, 1), 8),
        (3, (3, 0), 10),
        (3, (2, 2), 27),
        (4, (0, 1, 0), 6),
        (4, (1, 0, 1), 15),
        (4, (0, 2, 0), 20),
        (5, (1, 0, 0, 1), 24),
        (5, (0, 1, 0, 0), 10),
    ],
)
def test_known_dimensions(n: int, dynkin: tuple[int, ...], dim: int) -> None:
    assert weyl_dimension(n, dynkin) == dim
    assert len(gt_patterns(n, dynkin)) == dim


def test_pattern_count_is_weyl_dimension() -> None:
    for n, dynkin in dimension_cases():
        assert len(gt_patterns(n, dynkin)) == weyl_dimension(n, dynkin), (n, dynkin)


def weyl_fraction(n: int, dynkin: tuple[int, ...]) -> Fraction:
    m = [sum(dynkin[i:]) for i in range(n)]
    out = Fraction(1)
    for i, j in itertools.combinations(range(n), 2):
        out *= Fraction(m[i] - m[j] + j - i, j - i)
    return out


def test_weyl_dimension_is_exact() -> None:
    for n, dynkin in [(6, (3, 1, 4, 1, 5)), (7, (2, 0, 7, 1, 8, 2)), (3, (100, 57))]:
        assert weyl_dimension(n, dynkin) == weyl_fraction(n, dynkin)


@pytest.mark.parametrize("n, dynkin", [(3, (2, 1)), (4, (1, 1, 0)), (5, (1, 0, 1, 0))])
def test_patterns_interlace_and_are_ordered(n: int, dynkin: tuple[int, ...]) -> None:
    patterns = gt_patterns(n, dynkin)
    top = tuple(sum(dynkin[i:]) for i in range(n))
    for p in patterns:
        assert p[0] == top and [len(r) for r in p] == list(range(n, 0, -1))
        for upper, lower in itertools.pairwise(p):
            assert all(upper[i] >= lower[i] >= upper[i + 1] for i in range(len(lower)))
    flat = [sum(p, ()) for p in patterns]
    assert flat == sorted(flat, reverse=True) and len(set(flat)) == len(flat)


@pytest.mark.parametrize("n, dynkin", ALGEBRA_CASES)
def test_commutation_relations(n: int, dynkin: tuple[int, ...]) -> None:
    f = structure_constants(n)
    x = su_generators(n, dynkin)
    d = weyl_dimension(n, dynkin)
    assert x.shape == (n * n - 1, d, d) and x.dtype == torch.complex128
    comm = torch.einsum("aij,bjk->abik", x, x) - torch.einsum("bij,ajk->abik", x, x)
    rhs = torch.einsum("abc,cij->abij", f, x)
    assert (comm - rhs).abs().max() < TOL


@pytest.mark.parametrize("n, dynkin", ALGEBRA_CASES)
def test_unitary_and_cartan(n: int, dynkin: tuple[int, ...]) -> None:
    x = su_generators(n, dynkin)
    assert (x + x.conj().transpose(-1, -2)).abs().max() < TOL
    h = su_cartan(n, dynkin)
    w = su_weights(n, dynkin)
    assert h.shape == (n - 1, *x.shape[1:]) and h.dtype == torch.complex128
    assert w.shape == (x.shape[1], n - 1) and w.dtype == torch.int64
    assert torch.equal(h, torch.diag_embed(w.T.to(torch.complex128)))
    assert torch.allclose(h, -1j * x[: n - 1], atol=TOL)


@pytest.mark.parametrize("n, dynkin", ALGEBRA_CASES)
def test_highest_weight(n: int, dynkin: tuple[int, ...]) -> None:
    w = su_weights(n, dynkin)
    assert w[0].tolist() == list(dynkin)
    # every weight is dynkin minus a non-negative integer combination of simple roots
    cartan = (
        2 * torch.eye(n - 1) - torch.diag(torch.ones(n - 2), 1) - torch.diag(torch.ones(n - 2), -1)
    )
    coeff = torch.linalg.solve(cartan.double(), (w[0] - w).double().T).T
    assert (coeff - coeff.round()).abs().max() < 1e-9 and coeff.min() > -1e-9
    assert (coeff.sum(1) > 0.5).sum() == len(w) - 1  # the highest weight is unique
    # the highest-weight vector is the only one annihilated by every raising operator
    x = su_generators(n, dynkin)
    raise_ops = torch.cat(raising(n, x))
    assert null_dim(raise_ops) == 1
    assert raise_ops[:, 0].abs().max() < TOL


def test_octet_weights_are_roots() -> None:
    roots = [(2, -1), (-1, 2), (1, 1), (-2, 1), (1, -2), (-1, -1)]
    weights = sorted(map(tuple, su_weights(3, (1, 1)).tolist()))
    assert weights == sorted([*roots, (0, 0), (0, 0)])


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_defining_irrep_is_the_matrix_unit_construction(n: int) -> None:
    dynkin = (1,) + (0,) * (n - 2)
    assert torch.equal(su_generators(n, dynkin), defining_generators(n))
    assert torch.equal(
        su_weights(n, dynkin)[:, :],
        torch.eye(n, dtype=torch.int64)[:, :-1] - torch.eye(n, dtype=torch.int64)[:, 1:],
    )


@pytest.mark.parametrize("n, dynkin", [*SMALL_CASES, (3, (2, 2))])
def test_irreducible(n: int, dynkin: tuple[int, ...]) -> None:
    x = su_generators(n, dynkin)
    assert null_dim(intertwiner_equations(x, x)) == 1


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_dual_of_defining_is_complex_conjugate(n: int) -> None:
    fundamental = (1,) + (0,) * (n - 2)
    dual = (0,) * (n - 2) + (1,)
    w, w_dual = su_weights(n, fundamental), su_weights(n, dual)
    assert sorted(map(tuple, (-w).tolist())) == sorted(map(tuple, w_dual.tolist()))
    x_dual = su_generators(n, dual)
    x_conj = su_generators(n, fundamental).conj()
    equations = intertwiner_equations(x_dual, x_conj)
    assert null_dim(equations) == 1
    _, _, vh = torch.linalg.svd(equations)
    a = vh[-1].conj().reshape(n, n)
    assert torch.linalg.matrix_rank(a) == n
    assert (torch.einsum("ij,ajk->aik", a, x_conj) - x_dual @ a).abs().max() < TOL


def test_generators_are_fresh_copies() -> None:
    x = su_generators(3, (1, 1))
    x.zero_()
    assert su_generators(3, (1, 1)).abs().max() > 0.5


@pytest.mark.parametrize("n, dynkin", [(1, ()), (3, (1,)), (3, (1, -1)), (3, (1.0, 0))])
def test_bad_input(n: int, dynkin: tuple) -> None:
    with pytest.raises(ValueError):
        gt_patterns(n, dynkin)
