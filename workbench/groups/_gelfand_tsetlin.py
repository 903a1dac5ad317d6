"""Irreducible representations of SU(n) in the Gelfand-Tsetlin basis.

Reference: A. I. Molev, "Gelfand-Tsetlin bases for classical Lie algebras", arXiv
math/0211289, section 2 (Theorem 2.3 and the orthonormal form that follows it); also
A. O. Barut and R. Raczka, "Theory of Group Representations and Applications", ch. 10.

Highest weight and patterns
---------------------------
An irrep of SU(n) with Dynkin labels (a_1, ..., a_{n-1}) is the gl(n) irrep with the partition
m_{1n} >= ... >= m_{nn} = 0 as highest weight, m_{in} - m_{i+1,n} = a_i. Its orthonormal
Gelfand-Tsetlin (GT) basis is labelled by the patterns Λ = (λ_{ki}), rows k = n, ..., 1 with
row k = (λ_{k1}, ..., λ_{kk}), top row λ_{ni} = m_{in}, satisfying the betweenness conditions
λ_{k+1,i} >= λ_{ki} >= λ_{k+1,i+1}. A pattern is stored as a tuple of rows, top row
(length n) first, bottom row (length 1) last.

Order of the basis: patterns sorted in *decreasing* lexicographic order of the rows flattened
top to bottom. The first basis vector is the highest-weight vector (every row as large as it
may be). For the defining irrep (1, 0, ..., 0) the pattern whose rows k >= j read (1, 0, ...)
and rows k < j are zero is the j-th basis vector, and it is exactly the standard basis vector
e_j of C^n (weight E_kk = δ_kj, all GT coefficients below equal 1): the irrep's generators
then equal the matrix-unit construction entry for entry.

gl(n) action (orthonormal basis, with l_{ki} = λ_{ki} - i + 1)
--------------------------------------------------------------
    E_kk ζ_Λ = (Σ_i λ_{ki} - Σ_i λ_{k-1,i}) ζ_Λ,
    E_{k,k+1} ζ_Λ = Σ_{i=1}^k a_{ki}(Λ) ζ_{Λ+δ_{ki}},
    E_{k+1,k} = E_{k,k+1}^T   (real matrices, so the representation of u(n) is unitary),

    a_{ki}(Λ)^2 = - Π_{j=1}^{k+1} (l_{ki} - l_{k+1,j}) Π_{j=1}^{k-1} (l_{ki} - l_{k-1,j} + 1)
                  / Π_{j≠i} (l_{ki} - l_{kj}) (l_{ki} - l_{kj} + 1).

The squared coefficient is computed exactly with ``Fraction`` and is >= 0; it vanishes when
Λ + δ_{ki} breaks a betweenness condition. The non-elementary matrix units follow from
commutators: E_kl = [E_{k,l-1}, E_{l-1,l}] and E_lk = [E_{l,l-1}, E_{l-1,k}] for l > k + 1.

su(n) basis (anti-Hermitian, the same order for every irrep)
-----------------------------------------------------------
    i (E_kk - E_{k+1,k+1})                 for k = 1..n-1,
    E_kl - E_lk,  i (E_kl + E_lk)          for each pair k < l, lexicographic.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from fractions import Fraction

import torch

__all__ = ["gt_patterns", "su_cartan", "su_generators", "su_weights", "weyl_dimension"]

Pattern = tuple[tuple[int, ...], ...]


def _check(n: int, dynkin: Sequence[int]) -> tuple[int, ...]:
    """Validate (n, dynkin) and return the Dynkin labels as a tuple of ints."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    labels = tuple(dynkin)
    if len(labels) != n - 1:
        raise ValueError(f"SU({n}) needs {n - 1} Dynkin labels, got {labels!r}")
    for a in labels:
        if not isinstance(a, int) or isinstance(a, bool) or a < 0:
            raise ValueError(f"Dynkin labels must be ints >= 0, got {labels!r}")
    return labels


def _partition(dynkin: tuple[int, ...]) -> tuple[int, ...]:
    """Top row m_1 >= ... >= m_n = 0 with m_i - m_{i+1} = a_i: m_i = a_i + ... + a_{n-1}."""
    return tuple(sum(dynkin[i:]) for i in range(len(dynkin) + 1))


def weyl_dimension(n: int, dynkin: Sequence[int]) -> int:
    """dim = Π_{i<j} (m_i - m_j + j - i) / (j - i), exact integer arithmetic."""
    m = _partition(_check(n, dynkin))
    num = den = 1
    for i, j in itertools.combinations(range(n), 2):
        num *= m[i] - m[j] + j - i
        den *= j - i
    return num // den


def _rows_below(row: tuple[int, ...]) -> list[tuple[int, ...]]:
    """All rows λ of length len(row) - 1 interlacing row: row[i] >= λ[i] >= row[i + 1]."""
    ranges = [range(row[i], row[i + 1] - 1, -1) for i in range(len(row) - 1)]
    return [tuple(r) for r in itertools.product(*ranges)]


@functools.lru_cache(maxsize=128)
def _patterns(n: int, dynkin: tuple[int, ...]) -> tuple[Pattern, ...]:
    patterns: list[Pattern] = [(_partition(dynkin),)]
    for _ in range(n - 1):
        patterns = [(*p, row) for p in patterns for row in _rows_below(p[-1])]
    flat = {p: tuple(itertools.chain.from_iterable(p)) for p in patterns}
    return tuple(sorted(patterns, key=flat.__getitem__, reverse=True))


def gt_patterns(n: int, dynkin: Sequence[int]) -> list[Pattern]:
    """All GT patterns of the irrep, rows top (length n) to bottom (length 1), in decreasing
    lexicographic order of the flattened rows (highest-weight pattern first)."""
    return list(_patterns(n, _check(n, dynkin)))


def _row(pattern: Pattern, k: int) -> tuple[int, ...]:
    """Row k (length k, 1-based) of a pattern stored top row first; row 0 is empty."""
    n = len(pattern)
    return pattern[n - k] if k >= 1 else ()


def _gl_weight(pattern: Pattern) -> list[int]:
    """Eigenvalues of E_11, ..., E_nn: (sum of row k) - (sum of row k-1)."""
    n = len(pattern)
    return [sum(_row(pattern, k)) - sum(_row(pattern, k - 1)) for k in range(1, n + 1)]


def _raise_coefficient_sq(pattern: Pattern, k: int, i: int) -> Fraction:
    """a_{ki}(Λ)^2 of the module docstring (k, i 1-based), exact."""
    lk = [x - j for j, x in enumerate(_row(pattern, k))]  # l_{kj} = λ_{kj} - j + 1
    lup = [x - j for j, x in enumerate(_row(pattern, k + 1))]
    ldown = [x - j for j, x in enumerate(_row(pattern, k - 1))]
    l = lk[i - 1]
    num = -math.prod(l - x for x in lup) * math.prod(l - x + 1 for x in ldown)
    den = math.prod((l - x) * (l - x + 1) for j, x in enumerate(lk) if j != i - 1)
    return Fraction(num, den)


def _raising(patterns: Sequence[Pattern], k: int) -> torch.Tensor:
    """E_{k,k+1} (real, float64) on the GT basis: E[index(Λ + δ_{ki}), index(Λ)] = a_{ki}(Λ)."""
    n = len(patterns[0])
    index = {p: a for a, p in enumerate(patterns)}
    e = torch.zeros(len(patterns), len(patterns), dtype=torch.float64)
    for col, p in enumerate(patterns):
        for i in range(1, k + 1):
            row = list(_row(p, k))
            row[i - 1] += 1
            target = tuple(tuple(row) if r == n - k else p[r] for r in range(n))
            if target not in index:
                continue
            sq = _raise_coefficient_sq(p, k, i)
            if sq < 0:
                raise ArithmeticError(f"negative GT coefficient {sq} at {p}, k={k}, i={i}")
            e[index[target], col] = math.sqrt(sq)
    return e


@functools.lru_cache(maxsize=32)
def _matrix_units(n: int, dynkin: tuple[int, ...]) -> dict[tuple[int, int], torch.Tensor]:
    """All E_kl (1-based) on the irrep, real float64 (d, d)."""
    patterns = _patterns(n, dynkin)
    weights = torch.tensor([_gl_weight(p) for p in patterns], dtype=torch.float64)
    units = {(k, k): torch.diag(weights[:, k - 1]) for k in range(1, n + 1)}
    for k in range(1, n):
        units[k, k + 1] = _raising(patterns, k)
        units[k + 1, k] = units[k, k + 1].T.contiguous()
    for gap in range(2, n):
        for k in range(1, n - gap + 1):
            l = k + gap
            units[k, l] = units[k, l - 1] @ units[l - 1, l] - units[l - 1, l] @ units[k, l - 1]
            units[l, k] = units[l, l - 1] @ units[l - 1, k] - units[l - 1, k] @ units[l, l - 1]
    return units


def su_generators(n: int, dynkin: Sequence[int]) -> torch.Tensor:
    """(n^2 - 1, d, d) complex128 anti-Hermitian basis of su(n) on the irrep, GT basis.

    Order: i(E_kk - E_{k+1,k+1}) for k = 1..n-1, then for each k < l (lexicographic)
    E_kl - E_lk and i(E_kl + E_lk). For dynkin = (1, 0, ..., 0) these are exactly the same
    expressions in the matrix units e_kl of C^n. A fresh tensor on every call (the real
    matrix units behind it are cached).
    """
    e = _matrix_units(n, _check(n, dynkin))
    d = e[1, 1].shape[0]
    gens = torch.zeros(n * n - 1, d, d, dtype=torch.complex128)
    for k in range(1, n):
        gens.imag[k - 1] = e[k, k] - e[k + 1, k + 1]
    for a, (k, l) in enumerate(itertools.combinations(range(1, n + 1), 2)):
        gens.real[n - 1 + 2 * a] = e[k, l] - e[l, k]
        gens.imag[n + 2 * a] = e[k, l] + e[l, k]
    return gens


def su_cartan(n: int, dynkin: Sequence[int]) -> torch.Tensor:
    """(n - 1, d, d) complex128: H_k = E_kk - E_{k+1,k+1}, diagonal in the GT basis."""
    units = _matrix_units(n, _check(n, dynkin))
    cartan = [units[k, k] - units[k + 1, k + 1] for k in range(1, n)]
    return torch.stack(cartan).to(torch.complex128)


def su_weights(n: int, dynkin: Sequence[int]) -> torch.Tensor:
    """(d, n - 1) int64: the weight of each GT basis vector in the Dynkin basis,
    w_k = λ(E_kk) - λ(E_{k+1,k+1}) (the diagonals of H_k)."""
    patterns = _patterns(n, _check(n, dynkin))
    gl = torch.tensor([_gl_weight(p) for p in patterns], dtype=torch.int64).reshape(-1, n)
    return gl[:, :-1] - gl[:, 1:]
