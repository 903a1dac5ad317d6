r"""SO(n) and O(n): tensor irreps labelled by partitions, built as highest-weight modules.

Labels are highest weights in the orthogonal basis eps_1..eps_m (m = floor(n/2)), written as
``"(l_1,...,l_m)"`` with integers l_1 >= ... >= l_{m-1} >= |l_m| (l_m >= 0 for odd n): the
vector is ``(1,0,...)``, the traceless symmetric 2-tensor ``(2,0,...)``, the 2-forms
``(1,1,0,...)``; for SO(4), ``(1,1)`` and ``(1,-1)`` are the self-dual and anti-self-dual
2-forms. Spinor irreps are not constructed (they are not in tensor powers of the vector).
SO(2) irreps are the charges ``"(q)"``, q any integer. The vector is in the real basis
(e_1..e_n, generators L_ij = e_i e_j^T - e_j e_i^T for i < j); other irreps in an orthonormal
weight basis (complex). O(n) for odd n is SO(n) x {1, -1}: labels ``"(l_1,...)e"`` / ``"o"``
like e3nn's parity.
"""

from __future__ import annotations

import functools
import itertools
import math
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

__all__ = ["SO", "O"]

_PARTITION = re.compile(r"^\s*\(\s*(-?\d+(?:\s*,\s*-?\d+)*)\s*\)\s*([eo]?)\s*$")


def _defining(n: int) -> np.ndarray:
    """(n(n-1)/2, n, n) real antisymmetric L_ij, i < j in lexicographic order."""
    X = []
    for i, j in itertools.combinations(range(n), 2):
        L = np.zeros((n, n))
        L[i, j], L[j, i] = 1.0, -1.0
        X.append(L)
    return np.stack(X).astype(np.complex128)


@functools.cache
def _structure(n: int):
    """Defining generators, weight vectors f_{+-k} (columns), orthogonal Cartan H'_k, simple
    roots (orthogonal basis) and their coroots (for the Dynkin basis)."""
    m = n // 2
    X = _defining(n)
    f = np.zeros((n, n), dtype=np.complex128)  # columns: f_{+1}, .., f_{+m}, [e_n], f_{-m}, ..
    H = np.zeros((m, n, n), dtype=np.complex128)
    for k in range(m):
        a, b = 2 * k, 2 * k + 1
        L = np.zeros((n, n))
        L[a, b], L[b, a] = 1.0, -1.0
        H[k] = 1j * L  # eigenvalue +1 on (e_a - i e_b)/sqrt 2
        f[[a, b], k] = np.array([1, -1j]) / math.sqrt(2)
        f[[a, b], n - 1 - k] = np.array([1, 1j]) / math.sqrt(2)
    if n % 2:
        f[n - 1, m] = 1.0
    eps = np.eye(m)
    if n == 2:
        roots, coroots = [], [eps[0]]
    elif n % 2:  # B_m: eps_i - eps_{i+1}, eps_m; coroot of the short root is 2 eps_m
        roots = [eps[i] - eps[i + 1] for i in range(m - 1)] + [eps[m - 1]]
        coroots = [*roots[:-1], 2 * eps[m - 1]]
    else:  # D_m: eps_i - eps_{i+1}, eps_{m-1} + eps_m (all roots the same length)
        roots = [eps[i] - eps[i + 1] for i in range(m - 1)] + [eps[m - 2] + eps[m - 1]]
        coroots = roots
    return X, f, H, roots, coroots


@functools.lru_cache(maxsize=128)
def _irrep(n: int, label: Label) -> tuple[np.ndarray, np.ndarray]:
    """(generators (n_gen, d, d), highest-weight vector) of the SO(n) irrep ``label``.

    Trivial: zeros. SO(2): the charge q acts as -i q. The vector: the real basis. Others:
    ``highest_weight.tensor_irrep`` with top weight vectors f_{+1}, ..., f_{+h} (f_{-m} last
    when l_m < 0).
    """
    X, f, _, _, _ = _structure(n)
    m = n // 2
    if all(x == 0 for x in label):
        return np.zeros((len(X), 1, 1), dtype=np.complex128), np.ones(1, dtype=np.complex128)
    if n == 2:
        return np.full((1, 1, 1), -1j * label[0], dtype=np.complex128), np.ones(1, np.complex128)
    if label == (1,) + (0,) * (m - 1):
        return X.copy(), f[:, 0].copy()  # the vector, real basis; f_{+1} is its top weight

    def top_vectors(h: int, last_negative: bool) -> list[np.ndarray]:
        vectors = [f[:, k] for k in range(h)]  # f_{+1}, ..., f_{+h}
        if last_negative:
            vectors[-1] = f[:, n - m]  # f_{-m}
        return vectors

    return tensor_irrep(label, X, _lowering(n), top_vectors, lambda sub: _irrep(n, sub))


@functools.cache
def _lowering(n: int) -> np.ndarray:
    """(n_simple, n_gen) coefficients of the lowering operators of the simple roots."""
    X, _, H, roots, _ = _structure(n)
    return np.stack([root_coefficients(X, H, -np.asarray(r)) for r in roots])


@dataclass(frozen=True)
class SO(Group):
    """The special orthogonal group SO(n), n >= 2 (tensor irreps)."""

    n: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 2:
            raise ValueError(f"SO(n) needs an int n >= 2, got {self.n!r}")

    @property
    def name(self) -> str:
        return f"SO({self.n})"

    def __repr__(self) -> str:
        return self.name

    @property
    def m(self) -> int:
        return self.n // 2

    @property
    def algebra_dim(self) -> int:
        return self.n * (self.n - 1) // 2

    @property
    def cartan_matrix(self) -> torch.Tensor:
        _, _, _, roots, coroots = _structure(self.n)
        if not roots:  # SO(2) is abelian; a 1x1 "Cartan matrix" only orders the charges
            return torch.tensor([[2]])
        return torch.tensor([[round(float(r @ c)) for r in roots] for c in coroots])

    @property
    def _example_label(self) -> Label:  # type: ignore[override]
        return (1,) + (0,) * (self.m - 1)

    # --- labels ----------------------------------------------------------------------------

    def parse_label(self, text: str) -> Label:
        match = _PARTITION.match(text)
        if match is None or match.group(2):
            raise ValueError(
                f"invalid {self.name} irrep {text!r}: expected a partition of {self.m} integers "
                f"such as {self.format_label(self._example_label)!r} (the vector)"
            )
        return self.check_label(tuple(int(x) for x in match.group(1).split(",")))

    def format_label(self, label: Label) -> str:
        return "(" + ",".join(str(x) for x in label[: self.m]) + ")"

    def check_label(self, label: Any) -> Label:
        m = self.m
        ok = isinstance(label, tuple) and len(label) == m and all(isinstance(x, int) for x in label)
        if ok and self.n > 2:
            tail = abs(label[-1]) if self.n % 2 == 0 else label[-1]
            ok = (
                all(label[i] >= label[i + 1] for i in range(m - 2))
                and (m == 1 or label[m - 2] >= tail)
                and tail >= 0
            )
        if not ok:
            raise ValueError(
                f"invalid {self.name} label {label!r}: expected {m} integers "
                f"l_1 >= ... >= |l_m| (a partition; l_m >= 0 for odd n)"
            )
        return label

    def dim(self, label: Label) -> int:
        """Weyl's formula prod_{alpha > 0} <lambda + rho, alpha> / <rho, alpha>."""
        if self.n == 2:
            return 1
        m = self.m
        # half the sum of positive roots: B_m (n odd) m - i - 1/2, D_m (n even) m - i - 1
        rho = [
            Fraction(2 * (m - i) - 1, 2) if self.n % 2 else Fraction(m - i - 1) for i in range(m)
        ]
        return weyl_dimension(label, rho, with_eps=bool(self.n % 2))

    # --- generators --------------------------------------------------------------------------

    def _generators(self, label: Label) -> torch.Tensor:
        return torch.from_numpy(_irrep(self.n, label)[0])

    def _cartan(self, label: Label) -> torch.Tensor:
        """Dynkin-basis Cartan: H_i = sum_k coroot_i[k] H'_k with H'_k = i L_{2k-1, 2k}."""
        X = self.generators(label)
        _, _, _, _, coroots = _structure(self.n)
        index = {pair: a for a, pair in enumerate(itertools.combinations(range(self.n), 2))}
        Hp = torch.stack([1j * X[index[(2 * k, 2 * k + 1)]] for k in range(self.m)])
        return dynkin_cartan(coroots, Hp)

    def highest_weight(self, label: Label) -> tuple[int, ...]:
        return dynkin_labels(_structure(self.n)[4], label)

    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        try:
            return self.check_label(orthogonal_weight(_structure(self.n)[4], highest_weight))
        except ValueError as err:
            raise ValueError(f"{self.name}: {err}") from None

    def sample(self, n: int, seed: int = 0, **kwargs: Any) -> list[GroupElement]:
        """Haar-random rotations (QR of a Gaussian matrix, det +1) as exp(sum_ij c_ij L_ij)."""
        import scipy.linalg

        generator = torch.Generator().manual_seed(seed)
        X = _defining(self.n).real
        basis = X.reshape(len(X), -1).T
        elements = []
        for _ in range(n):
            z = torch.randn(self.n, self.n, generator=generator, dtype=torch.float64).numpy()
            q, r = np.linalg.qr(z)
            q = q * np.sign(np.diag(r))
            if np.linalg.det(q) < 0:
                q[:, 0] = -q[:, 0]
            log = scipy.linalg.logm(q).real
            c = np.linalg.lstsq(basis, log.reshape(-1), rcond=None)[0]
            elements.append(GroupElement(self, (tuple(c.tolist()),)))
        return elements


@dataclass(frozen=True)
class O(SO):  # noqa: E742 - the group's name
    """O(n). For odd n: SO(n) x {1, -1}, irreps "(l...)e" / "(l...)o" by the action of -1
    (like e3nn's parity). ``O(2m)`` returns an :class:`OEven`, whose irreps are labelled by
    the reflection's action instead."""

    n: int = 3

    def __new__(cls, n: int = 3):  # O(2m) is not SO(2m) x {1, -1}: its own class
        if cls is O and isinstance(n, int) and n % 2 == 0:
            return super().__new__(OEven)
        return super().__new__(cls)

    @property
    def name(self) -> str:
        return f"O({self.n})"

    @property
    def num_discrete(self) -> int:
        return 1

    @property
    def _example_label(self) -> Label:  # type: ignore[override]
        return (1,) + (0,) * (self.m - 1) + (-1,)

    def parse_label(self, text: str) -> Label:
        match = _PARTITION.match(text)
        if match is None or not match.group(2):
            raise ValueError(
                f"invalid {self.name} irrep {text!r}: expected a partition and a parity such "
                f"as {self.format_label(self._example_label)!r} (the vector)"
            )
        part = tuple(int(x) for x in match.group(1).split(","))
        return self.check_label((*part, 1 if match.group(2) == "e" else -1))

    def format_label(self, label: Label) -> str:
        return super().format_label(label[:-1]) + ("e" if label[-1] == 1 else "o")

    def check_label(self, label: Any) -> Label:
        if not (isinstance(label, tuple) and label and label[-1] in (1, -1)):
            raise ValueError(f"invalid {self.name} label {label!r}: expected (l_1..l_m, p)")
        return (*super().check_label(label[:-1]), label[-1])

    def dim(self, label: Label) -> int:
        return super().dim(label[:-1])

    def _generators(self, label: Label) -> torch.Tensor:
        return SO(self.n).generators(label[:-1])

    def _cartan(self, label: Label) -> torch.Tensor:
        return SO(self.n).cartan(label[:-1])

    def highest_weight(self, label: Label) -> tuple[int, ...]:
        return super().highest_weight(label[:-1])

    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        return (*SO(self.n).label_from(highest_weight, ()), -1 if charge[0] % 2 else 1)

    def charge(self, label: Label) -> tuple[int, ...]:
        return (0 if label[-1] == 1 else 1,)

    def _discrete_generators(self, label: Label) -> torch.Tensor:
        return label[-1] * torch.eye(self.dim(label), dtype=torch.complex128)[None]

    def sample(self, n: int, seed: int = 0, **kwargs: Any) -> list[GroupElement]:
        """Haar-random rotations; every second one composed with the inversion -1."""
        return [
            GroupElement(self, g.factors, (i % 2,))
            for i, g in enumerate(SO(self.n).sample(n, seed))
        ]


def _generator_signs(n: int) -> np.ndarray:
    """s_a with R L_ij R = s_a L_ij for the reflection R = diag(1, ..., 1, -1)."""
    return np.array(
        [
            -1.0 if (j == n - 1) != (i == n - 1) else 1.0
            for i, j in itertools.combinations(range(n), 2)
        ]
    )


@functools.lru_cache(maxsize=128)
def _reflection(n: int, partition: Label) -> np.ndarray:
    """The reflection R = diag(1, ..., 1, -1) on the SO(n) irrep ``partition`` (l_m = 0), with
    R v_top = v_top (the natural tensor action).

    R F R^-1 = F' with F' = sum_a s_a c_a X_a for every lowering operator F = sum_a c_a X_a,
    so R (F_i1 ... F_ik v_top) = F'_i1 ... F'_ik v_top: R = U' U^-1 over a spanning set of
    lowering words.
    """
    X = SO(n).generators(partition).numpy()
    d = X.shape[-1]
    if d == 1:  # the trivial irrep (the only one with l_m = 0 for O(2))
        return np.ones((1, 1), dtype=np.complex128)
    c = _lowering(n)
    F = np.einsum("ia,ajk->ijk", c, X)
    Fr = np.einsum("ia,ajk->ijk", c * _generator_signs(n), X)
    top = np.eye(d, dtype=np.complex128)[0]
    U, Ur, frontier = [top], [top], [(top, top)]
    while frontier and len(U) < d:
        new = []
        for u, ur in frontier:
            for f, fr in zip(F, Fr, strict=True):
                w = f @ u
                if np.linalg.matrix_rank(np.stack([*U, w], axis=1), tol=1e-8) > len(U):
                    U.append(w)
                    Ur.append(fr @ ur)
                    new.append((w, fr @ ur))
        frontier = new
    return np.stack(Ur, axis=1) @ np.linalg.inv(np.stack(U, axis=1))


_O_EVEN = re.compile(r"^\s*\(\s*(\d+(?:\s*,\s*\d+)*)\s*\)\s*(det)?\s*$")


@dataclass(frozen=True)
class OEven(O):
    """O(n) for even n = 2m: SO(n) and the reflection R = diag(1, ..., 1, -1).

    Irreps: for l_m = 0, ``"(l_1,...,l_m)"`` is the SO(n) irrep with R acting naturally and
    ``"(l_1,...,l_m)det"`` the same twisted by the determinant (``"(0,0)det"`` is det itself);
    for l_m > 0, ``"(l_1,...,l_m)"`` is V_lambda + V_R(lambda), on which R swaps the two halves
    (dimension 2 dim V_lambda). Label = (l_1..l_m, s), s = +1 (natural), -1 (det), or 0
    (paired). The vector is ``(1,0,...)`` (for O(2), the paired charges +-1).
    """

    def __post_init__(self) -> None:
        SO.__post_init__(self)

    @property
    def _example_label(self) -> Label:  # type: ignore[override]
        return (1,) + (0,) * (self.m - 1) + ((1,) if self.m >= 2 else (0,))

    def parse_label(self, text: str) -> Label:
        match = _O_EVEN.match(text)
        if match is None:
            raise ValueError(
                f"invalid {self.name} irrep {text!r}: expected a partition, optionally followed "
                f"by 'det', e.g. {self.format_label(self._example_label)!r} or '(0,...)det'"
            )
        part = tuple(int(x) for x in match.group(1).split(","))
        sign = -1 if match.group(2) else (1 if part[-1] == 0 else 0)
        return self.check_label((*part, sign))

    def format_label(self, label: Label) -> str:
        return SO.format_label(self, label[:-1]) + ("det" if label[-1] == -1 else "")

    def check_label(self, label: Any) -> Label:
        ok = isinstance(label, tuple) and len(label) == self.m + 1 and label[-1] in (1, -1, 0)
        if ok:
            part = SO.check_label(self, label[:-1])
            ok = part[-1] >= 0 and ((label[-1] == 0) == (part[-1] > 0))
        if not ok:
            raise ValueError(
                f"invalid {self.name} label {label!r}: expected (l_1..l_m, s) with l_m >= 0, "
                f"s = +-1 when l_m = 0 (-1: twisted by det) and s = 0 when l_m > 0 (a 'det' "
                f"twist of a paired irrep is the same irrep)"
            )
        return label

    def dim(self, label: Label) -> int:
        return SO.dim(self, label[:-1]) * (2 if label[-1] == 0 else 1)

    def _generators(self, label: Label) -> torch.Tensor:
        X = SO(self.n).generators(label[:-1])
        if label[-1] != 0:
            return X
        signs = torch.from_numpy(_generator_signs(self.n)).to(X.dtype)
        return torch.stack([torch.block_diag(x, s * x) for x, s in zip(X, signs, strict=True)])

    def _cartan(self, label: Label) -> torch.Tensor:
        return SO._cartan(self, label)

    def _discrete_generators(self, label: Label) -> torch.Tensor:
        if label[-1] != 0:
            return label[-1] * torch.from_numpy(_reflection(self.n, label[:-1]))[None]
        d = SO.dim(self, label[:-1])
        eye, zero = torch.eye(d, dtype=torch.complex128), torch.zeros(d, d, dtype=torch.complex128)
        return torch.cat([torch.cat([zero, eye], 1), torch.cat([eye, zero], 1)])[None]

    def charge(self, label: Label) -> tuple[int, ...]:
        return ()

    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        part = SO(self.n).label_from(highest_weight, ())
        if part[-1] != 0:
            return (*part[:-1], abs(part[-1]), 0)
        return (*part, 1)  # decompose() splits these into + and - with the solver

    def decompose(self, a: Any, b: Any):
        """Weights give the SO(n) content; the +/- split of each l_m = 0 irrep is counted by
        the Clebsch-Gordan solver (the reflection is not central)."""
        from .base import Irreps

        A, B = self.Irreps(a), self.Irreps(b)
        terms = []
        for mul, ir in super().decompose(A, B):
            if ir.label[-1] == 0:
                terms.append((mul, ir))
                continue
            plus = self.irrep((*ir.label[:-1], 1))
            p = sum(ma * mb * self.cg(x, y, plus).shape[0] for ma, x in A for mb, y in B)
            terms += [(p, plus), (mul - p, self.irrep((*ir.label[:-1], -1)))]
        return Irreps(self, tuple(terms)).sort().simplify()

    def symmetric_power(self, irreps: Any, k: int):
        """Weights give the SO(n) content of Sym^k; the +/- split of each l_m = 0 irrep is
        counted by the symmetric-power solver."""
        from .base import Irreps

        V = self.Irreps(irreps)
        terms = []
        for mul, ir in super().symmetric_power(V, k):
            if ir.label[-1] == 0:
                terms.append((mul, ir))
                continue
            plus = self.irrep((*ir.label[:-1], 1))
            p = self.symmetric_power_basis(V, k, plus).shape[0]
            terms += [(p, plus), (mul - p, self.irrep((*ir.label[:-1], -1)))]
        return Irreps(self, tuple(terms)).sort().simplify()

    def sample(self, n: int, seed: int = 0, **kwargs: Any) -> list[GroupElement]:
        """Haar-random rotations; every second one composed with the reflection R."""
        return [
            GroupElement(self, g.factors, (i % 2,))
            for i, g in enumerate(SO(self.n).sample(n, seed))
        ]
