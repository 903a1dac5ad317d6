"""Sp(2n): the compact symplectic group USp(2n), irreps labelled by partitions.

The defining representation is C^{2n} with J = [[0, 1], [-1, 0]]; the Lie algebra is the
anti-Hermitian X with X^T J + J X = 0, i.e. X = [[A, B], [-conj(B), conj(A)]] with A
anti-Hermitian and B symmetric (dimension n(2n + 1)). Basis: i E_kk (the Cartan), then for
k < l E_kl - E_lk and i(E_kl + E_lk) in A, then for k <= l the symmetric S_kl and i S_kl in B.
Irreps ``"(l_1,...,l_n)"``, l_1 >= ... >= l_n >= 0: ``(1,0,...)`` is the defining 2n-dim
representation, ``(2,0,...)`` the adjoint, ``(1,1,0,...)`` the traceless 2-forms. Built by the
same highest-weight construction as SO(n) (``highest_weight.tensor_irrep``), weight basis
e_1..e_n (weights eps_k), e_{n+1}..e_{2n} (-eps_k); roots of C_n.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from .base import Group, GroupElement, Label
from .highest_weight import (
    dynkin_cartan,
    dynkin_labels,
    orthogonal_weight,
    root_coefficients,
    tensor_irrep,
    weyl_dimension,
)

__all__ = ["Sp"]

_PARTITION = re.compile(r"^\s*\(\s*(\d+(?:\s*,\s*\d+)*)\s*\)\s*$")


@functools.cache
def _structure(n: int):
    """Defining generators, Cartan H'_k (eigenvalue +1 on e_k), simple roots and coroots."""
    d = 2 * n

    def block(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        return np.block([[A, B], [-B.conj(), A.conj()]])

    def unit(k: int, l: int) -> np.ndarray:
        E = np.zeros((n, n), dtype=np.complex128)
        E[k, l] = 1.0
        return E

    zero = np.zeros((n, n), dtype=np.complex128)
    X = [block(1j * unit(k, k), zero) for k in range(n)]
    for k, l in itertools.combinations(range(n), 2):
        X += [block(unit(k, l) - unit(l, k), zero), block(1j * (unit(k, l) + unit(l, k)), zero)]
    for k, l in itertools.combinations_with_replacement(range(n), 2):
        S = unit(k, l) + unit(l, k) if k != l else unit(k, k)
        X += [block(zero, S), block(zero, 1j * S)]
    X = np.stack(X)
    H = np.stack([-1j * X[k] for k in range(n)])
    eps = np.eye(n)
    roots = [eps[i] - eps[i + 1] for i in range(n - 1)] + [2 * eps[n - 1]]
    coroots = [*roots[:-1], eps[n - 1]]
    assert X.shape == (n * (2 * n + 1), d, d)
    return X, H, roots, coroots


@functools.cache
def _lowering(n: int) -> np.ndarray:
    X, H, roots, _ = _structure(n)
    return np.stack([root_coefficients(X, H, -np.asarray(r)) for r in roots])


@functools.lru_cache(maxsize=128)
def _irrep(n: int, label: Label) -> tuple[np.ndarray, np.ndarray]:
    X, _, _, _ = _structure(n)
    e = np.eye(2 * n, dtype=np.complex128)
    if all(x == 0 for x in label):
        return np.zeros((len(X), 1, 1), dtype=np.complex128), np.ones(1, dtype=np.complex128)
    if label == (1,) + (0,) * (n - 1):
        return X.copy(), e[0]
    return tensor_irrep(
        label, X, _lowering(n), lambda h, _: [e[k] for k in range(h)], lambda s: _irrep(n, s)
    )


@dataclass(frozen=True)
class Sp(Group):
    """Sp(2n) = USp(2n), written with the dimension of its defining representation: Sp(4)."""

    dimension: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.dimension, int) or self.dimension < 2 or self.dimension % 2:
            raise ValueError(f"Sp(2n) needs an even int 2n >= 2, got {self.dimension!r}")

    @property
    def n(self) -> int:
        return self.dimension // 2

    @property
    def name(self) -> str:
        return f"Sp({self.dimension})"

    def __repr__(self) -> str:
        return self.name

    @property
    def algebra_dim(self) -> int:
        return self.n * (2 * self.n + 1)

    @property
    def cartan_matrix(self) -> torch.Tensor:
        _, _, roots, coroots = _structure(self.n)
        return torch.tensor([[round(float(r @ c)) for r in roots] for c in coroots])

    @property
    def _example_label(self) -> Label:  # type: ignore[override]
        return (1,) + (0,) * (self.n - 1)

    def parse_label(self, text: str) -> Label:
        match = _PARTITION.match(text)
        if match is None:
            raise ValueError(
                f"invalid {self.name} irrep {text!r}: expected a partition of {self.n} integers "
                f"such as {self.format_label(self._example_label)!r}"
            )
        return self.check_label(tuple(int(x) for x in match.group(1).split(",")))

    def format_label(self, label: Label) -> str:
        return "(" + ",".join(str(x) for x in label) + ")"

    def check_label(self, label: Any) -> Label:
        if not (
            isinstance(label, tuple)
            and len(label) == self.n
            and all(isinstance(x, int) and x >= 0 for x in label)
            and all(label[i] >= label[i + 1] for i in range(self.n - 1))
        ):
            raise ValueError(
                f"invalid {self.name} label {label!r}: expected a partition "
                f"l_1 >= ... >= l_{self.n} >= 0"
            )
        return label

    def dim(self, label: Label) -> int:
        """Weyl's formula for C_n: rho_i = n - i (i = 0..n-1), roots eps_i +- eps_j, 2 eps_i."""
        return weyl_dimension(label, [Fraction(self.n - i) for i in range(self.n)], with_eps=True)

    def _generators(self, label: Label) -> torch.Tensor:
        return torch.from_numpy(_irrep(self.n, label)[0])

    def _cartan(self, label: Label) -> torch.Tensor:
        X = self.generators(label)
        _, _, _, coroots = _structure(self.n)
        Hp = torch.stack([-1j * X[k] for k in range(self.n)])
        return dynkin_cartan(coroots, Hp)

    def highest_weight(self, label: Label) -> tuple[int, ...]:
        return dynkin_labels(_structure(self.n)[3], label)

    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        return self.check_label(orthogonal_weight(_structure(self.n)[3], highest_weight))

    def sample(self, n: int, seed: int = 0, scale: float = 1.0, **kwargs: Any):
        """Random elements exp(sum_a c_a X_a), c_a ~ N(0, scale^2) (not Haar-distributed)."""
        generator = torch.Generator().manual_seed(seed)
        c = scale * torch.randn(n, self.algebra_dim, generator=generator, dtype=torch.float64)
        return [GroupElement(self, (tuple(row.tolist()),)) for row in c]
