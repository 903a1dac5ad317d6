"""Groups, irreps, multisets of irreps and group elements: the value types of the core.

A :class:`Group` knows its Lie algebra (a basis of generators), how to build the generators of
any irrep from its label, its discrete generators (parity), how to sample elements and how an
element acts on an irrep: D(g) = exp(sum_a c_a X_a) ... P^k, following the lie-nn construction
(arXiv 2306.00091, section 3). Everything else (Clebsch-Gordan tensors, decompositions of
tensor and symmetric powers) is generic and lives in ``clebsch_gordan.py`` / ``decompose.py``.
"""

from __future__ import annotations

import functools
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Group", "GroupElement", "Irrep", "Irreps"]

Label = tuple  # canonical label of an irrep: a tuple of ints (and a parity for O(3))


@dataclass(frozen=True)
class Irrep:
    """An irreducible representation: a group and a canonical label (e.g. O(3) ``1o``)."""

    group: Group
    label: Label

    @property
    def dim(self) -> int:
        return self.group.dim(self.label)

    def __str__(self) -> str:
        return self.group.format_label(self.label)

    def __repr__(self) -> str:
        return f"{self.group}.irrep({str(self)!r})"

    def generators(self) -> torch.Tensor:
        """(n_gen, d, d): the Lie-algebra basis acting on this irrep."""
        return self.group.generators(self)


@dataclass(frozen=True)
class Irreps:
    """A multiset of irreps of one group, e.g. O(3) ``"16x0e + 8x1o"``; a hashable value.

    Iterating gives ``(multiplicity, Irrep)`` pairs in the order written.
    """

    group: Group
    terms: tuple[tuple[int, Irrep], ...]

    def __post_init__(self) -> None:
        for mul, ir in self.terms:
            if not isinstance(mul, int) or mul < 0:
                raise ValueError(f"multiplicity must be an int >= 0, got {mul!r}")
            if ir.group != self.group:
                raise ValueError(f"irrep {ir!r} is not an irrep of {self.group}")

    def __iter__(self) -> Iterator[tuple[int, Irrep]]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __getitem__(self, i: int) -> tuple[int, Irrep]:
        return self.terms[i]

    def __add__(self, other: Irreps) -> Irreps:
        if other.group != self.group:
            raise ValueError(f"cannot add irreps of {self.group} and {other.group}")
        return Irreps(self.group, self.terms + other.terms)

    def __str__(self) -> str:
        return " + ".join(f"{mul}x{ir}" for mul, ir in self.terms) or "0"

    def __repr__(self) -> str:
        return f"{self.group}.Irreps({str(self)!r})"

    @property
    def dim(self) -> int:
        return sum(mul * ir.dim for mul, ir in self.terms)

    @property
    def num_irreps(self) -> int:
        return sum(mul for mul, _ in self.terms)

    def count(self, ir: Irrep | str) -> int:
        ir = self.group.irrep(ir)
        return sum(mul for mul, other in self.terms if other == ir)

    def simplify(self) -> Irreps:
        """Merge consecutive equal irreps and drop zero multiplicities (like e3nn)."""
        terms: list[tuple[int, Irrep]] = []
        for mul, ir in self.terms:
            if mul == 0:
                continue
            if terms and terms[-1][1] == ir:
                terms[-1] = (terms[-1][0] + mul, ir)
            else:
                terms.append((mul, ir))
        return Irreps(self.group, tuple(terms))

    def sort(self) -> Irreps:
        """Sorted by (dimension, label); equal irreps become adjacent (then ``simplify``)."""
        return Irreps(self.group, tuple(sorted(self.terms, key=lambda t: (t[1].dim, t[1].label))))

    def to_e3nn(self):
        """The same multiset as ``e3nn.o3.Irreps`` (O(3) only)."""
        from e3nn import o3

        if self.group.name != "O(3)":
            raise ValueError(f"only O(3) irreps convert to e3nn, not {self.group}")
        return o3.Irreps([(mul, str(ir)) for mul, ir in self.terms])


@dataclass(frozen=True)
class GroupElement:
    """g = exp(sum_a c1_a X_a) exp(sum_a c2_a X_a) ... P_1^k_1 P_2^k_2 ...

    ``factors`` are coefficient vectors on the Lie-algebra basis (e.g. a rotation and a boost),
    ``discrete`` the powers of the group's discrete generators (e.g. parity).
    """

    group: Group
    factors: tuple[tuple[float, ...], ...]
    discrete: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = self.group.algebra_dim
        for c in self.factors:
            if len(c) != n:
                raise ValueError(f"{self.group} has {n} generators; got coefficients {c}")
        if len(self.discrete) not in (0, self.group.num_discrete):
            raise ValueError(f"{self.group} has {self.group.num_discrete} discrete generators")


_TERM = re.compile(r"^\s*(?:(\d+)\s*x\s*)?(.+?)\s*$")


class Group(ABC):
    """A reductive Lie group given by its Lie algebra, its irreps and its discrete part.

    Subclasses are frozen dataclasses (hashable values) that define the label format, the
    dimension, the irrep generators and the Cartan data; everything else is generic.
    Generators are a basis X_a of the real Lie algebra acting on the irrep, so that
    exp(sum_a c_a X_a) with real c_a is a group element (anti-Hermitian for compact groups).
    """

    #: representation matrices are real in the chosen bases (float64), else complex128
    real: bool = False
    #: the group is compact (its irreps are unitary in the chosen bases)
    compact: bool = True

    # --- what a group defines ---------------------------------------------------------------

    @property
    @abstractmethod
    def name(self) -> str: ...

    @property
    @abstractmethod
    def algebra_dim(self) -> int: ...

    @property
    def num_discrete(self) -> int:
        """Number of discrete generators (0 for connected groups, 1 for O(3)'s parity)."""
        return 0

    @property
    @abstractmethod
    def cartan_matrix(self) -> torch.Tensor:
        """(rank, rank) Cartan matrix of the complexified Lie algebra (int)."""

    @abstractmethod
    def parse_label(self, text: str) -> Label:
        """Canonical label of the irrep written ``text``; ``ValueError`` with the form."""

    @abstractmethod
    def format_label(self, label: Label) -> str: ...

    @abstractmethod
    def check_label(self, label: Any) -> Label:
        """Canonical label from a tuple/int given in code; ``ValueError`` if invalid."""

    @abstractmethod
    def dim(self, label: Label) -> int:
        """Dimension of the irrep (closed form, e.g. Weyl's formula)."""

    @abstractmethod
    def _generators(self, label: Label) -> torch.Tensor:
        """(algebra_dim, d, d) generators of the irrep."""

    @abstractmethod
    def _cartan(self, label: Label) -> torch.Tensor:
        """(rank, d, d) commuting generators H_i of the complexified algebra whose eigenvalues
        are the weights in the Dynkin basis (integers)."""

    @abstractmethod
    def highest_weight(self, label: Label) -> tuple[int, ...]:
        """Dynkin labels of the irrep's highest weight."""

    @abstractmethod
    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        """The label of the irrep with this highest weight and discrete charge."""

    @abstractmethod
    def sample(self, n: int, seed: int = 0, **kwargs: Any) -> list[GroupElement]:
        """``n`` random elements, reproducible for a seed."""

    def _cg_phase(self, a: Label, b: Label, c: Label, C: torch.Tensor) -> torch.Tensor:
        """Hook for a group's own phase convention of single Clebsch-Gordan paths (SU(2) and
        SO(3) use Condon-Shortley); the default keeps the generic pivot convention."""
        return C

    def describe(self, element: GroupElement) -> dict[str, Any]:
        """A flat dict describing an element (one row of an equivariance report): the norm of
        each factor's coefficients, and the discrete powers."""
        row: dict[str, Any] = {
            f"|c{i}|": float(torch.tensor(c).norm()) for i, c in enumerate(element.factors)
        }
        if element.discrete:
            row["discrete"] = element.discrete
        return row

    def _discrete_generators(self, label: Label) -> torch.Tensor:
        d = self.dim(label)
        return torch.zeros(0, d, d, dtype=self.dtype)

    def charge(self, label: Label) -> tuple[int, ...]:
        """Characters of the central discrete part (O(3): parity exponent 0 or 1), added
        modulo ``charge_modulus`` in tensor products."""
        return ()

    charge_modulus: int = 2

    # --- generic ------------------------------------------------------------------------------

    def __str__(self) -> str:
        return self.name

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64 if self.real else torch.complex128

    @property
    def rank(self) -> int:
        return self.cartan_matrix.shape[0]

    def irrep(self, label: Any) -> Irrep:
        """The irrep written ``label`` (a string such as ``"1o"`` or ``"(1,1)"``, a tuple, or an
        ``Irrep`` of this group)."""
        if isinstance(label, Irrep):
            if label.group != self:
                raise ValueError(f"{label!r} is not an irrep of {self}")
            return label
        canonical = self.parse_label(label) if isinstance(label, str) else self.check_label(label)
        return Irrep(self, canonical)

    def Irreps(self, spec: Any) -> Irreps:
        """Parse a multiset such as ``"16x0e + 8x1o"``, a list of ``(mul, label)`` or irreps."""
        if isinstance(spec, Irreps):
            if spec.group != self:
                raise ValueError(f"{spec!r} are not irreps of {self}")
            return spec
        if isinstance(spec, Irrep):
            return Irreps(self, ((1, self.irrep(spec)),))
        if isinstance(spec, (int, tuple)):  # a label given in code, such as 2 or (1, -1)
            try:
                return Irreps(self, ((1, self.irrep(spec)),))
            except ValueError:
                if isinstance(spec, int):
                    raise
        if isinstance(spec, str):
            terms = []
            for term in _split_terms(spec):
                match = _TERM.match(term)
                if not term.strip() or match is None:
                    raise ValueError(
                        f"invalid irreps {spec!r} for {self}: empty term; expected e.g. "
                        f"{self._example()!r}"
                    )
                mul = int(match.group(1)) if match.group(1) else 1
                try:
                    terms.append((mul, self.irrep(match.group(2))))
                except ValueError as err:
                    raise ValueError(f"invalid irreps {spec!r}: {err}") from None
            return Irreps(self, tuple(terms))
        if isinstance(spec, Iterable):
            terms = []
            for item in spec:
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], int):
                    terms.append((item[0], self.irrep(item[1])))
                else:
                    terms.append((1, self.irrep(item)))
            return Irreps(self, tuple(terms))
        raise TypeError(f"cannot make {self} irreps from {type(spec).__name__}: {spec!r}")

    def _example(self) -> str:
        return "1x" + self.format_label(self.check_label(self._example_label))

    _example_label: Any = None

    def generators(self, irrep: Any) -> torch.Tensor:
        """(algebra_dim, d, d) Lie-algebra basis on the irrep (cached)."""
        return _cached_generators(self, self.irrep(irrep).label).clone()

    def cartan(self, irrep: Any) -> torch.Tensor:
        """(rank, d, d) Cartan generators whose eigenvalues are Dynkin-basis weights."""
        return self._cartan(self.irrep(irrep).label)

    def discrete_generators(self, irrep: Any) -> torch.Tensor:
        """(num_discrete, d, d) discrete generators on the irrep (parity for O(3))."""
        return self._discrete_generators(self.irrep(irrep).label)

    def structure_constants(self) -> torch.Tensor:
        """f_abc with [X_a, X_b] = sum_c f_abc X_c, read off a faithful irrep."""
        X = self.generators(self._faithful_label)
        return structure_constants(X)

    @property
    def trivial(self) -> Irrep:
        """The trivial irrep (O(3): ``0e``): the invariants."""
        charge = tuple(0 for _ in self.charge(self._faithful_label))
        return Irrep(self, self.label_from((0,) * self.rank, charge))

    @property
    def _faithful_label(self) -> Label:
        return self.check_label(self._example_label)

    @property
    def _menu_seeds(self) -> tuple[Label, ...]:
        """Irreps whose tensor powers reach every irrep (used to list irreps in menus)."""
        return (self._faithful_label,)

    def rep(self, irreps: Any, element: GroupElement) -> torch.Tensor:
        """(d, d) matrix of ``element`` on an irrep or a direct sum of irreps."""
        if element.group != self:
            raise ValueError(f"{element} is not an element of {self}")
        if isinstance(irreps, (Irreps, str)) and not _is_single(self, irreps):
            blocks = [self.rep(ir, element) for mul, ir in self.Irreps(irreps) for _ in range(mul)]
            return torch.block_diag(*blocks) if blocks else torch.zeros(0, 0, dtype=self.dtype)
        ir = self.irrep(irreps)
        X = self.generators(ir)
        D = torch.eye(ir.dim, dtype=X.dtype)
        for coefficients in element.factors:
            c = torch.tensor(coefficients, dtype=torch.float64).to(X.dtype)
            D = D @ torch.linalg.matrix_exp(torch.einsum("a,aij->ij", c, X))
        if element.discrete:
            P = self.discrete_generators(ir)
            for k, Pk in zip(element.discrete, P, strict=True):
                D = D @ torch.linalg.matrix_power(Pk, k)
        return D

    def weights(self, irrep: Any) -> torch.Tensor:
        """(d, rank) integer weights (Dynkin basis), one per basis vector of a weight basis."""
        return _cached_weight_basis(self, self.irrep(irrep).label)[0]

    def weight_basis(self, irrep: Any) -> torch.Tensor:
        """(d, d) matrix U whose columns are weight vectors: U^-1 H_i U is diagonal."""
        return _cached_weight_basis(self, self.irrep(irrep).label)[1]

    def cg(self, a: Any, b: Any, c: Any) -> torch.Tensor:
        """(n_paths, d_a, d_b, d_c) Clebsch-Gordan tensors: see ``clebsch_gordan.cg``."""
        from .clebsch_gordan import clebsch_gordan

        return clebsch_gordan(self.irrep(a), self.irrep(b), self.irrep(c))

    def decompose(self, a: Any, b: Any) -> Irreps:
        """Irreps of the tensor product a x b (a, b irreps or multisets), sorted."""
        from .decompose import decompose

        return decompose(self.Irreps(a), self.Irreps(b))

    def symmetric_power(self, irreps: Any, k: int) -> Irreps:
        """Irreps of Sym^k of a representation (dimension C(d + k - 1, k)), sorted."""
        from .decompose import symmetric_power

        return symmetric_power(self.Irreps(irreps), k)

    def symmetric_power_basis(self, irreps: Any, k: int, c: Any) -> torch.Tensor:
        """(n_paths, d, ..., d, d_c): equivariant symmetric maps Sym^k(irreps) -> c, the change
        of basis MACE's symmetric contraction needs; see ``symmetric_power.py``."""
        from .symmetric_power import symmetric_power_basis

        return symmetric_power_basis(self.Irreps(irreps), k, self.irrep(c))


def structure_constants(X: torch.Tensor) -> torch.Tensor:
    """Real f_abc with [X_a, X_b] = sum_c f_abc X_c, by least squares on a faithful rep X.

    Solved over the reals (real and imaginary parts stacked): the X_a are a basis of a real Lie
    algebra, which a complex representation may map to complex-linearly dependent matrices.
    """
    n = X.shape[0]
    X = X.to(torch.complex128)
    commutators = torch.einsum("aij,bjk->abik", X, X) - torch.einsum("bij,ajk->abik", X, X)
    basis = X.reshape(n, -1).T  # (d*d, n)
    rhs = commutators.reshape(n * n, -1).T  # (d*d, n*n)
    f = torch.linalg.lstsq(
        torch.cat([basis.real, basis.imag]), torch.cat([rhs.real, rhs.imag])
    ).solution
    return f.T.reshape(n, n, n)


def _split_terms(spec: str) -> list[str]:
    """Split on '+' outside parentheses: "2x(0,0) + (1,1)" -> ["2x(0,0) ", " (1,1)"]."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(spec):
        depth += (ch in "([" and 1) or ((ch in ")]" and -1) or 0)
        if ch == "+" and depth == 0:
            terms.append(spec[start:i])
            start = i + 1
    terms.append(spec[start:])
    return [] if spec.strip() == "" else terms


def _is_single(group: Group, spec: Any) -> bool:
    if isinstance(spec, str):
        try:
            group.irrep(spec)
            return True
        except ValueError:
            return False
    return False


@functools.lru_cache(maxsize=512)
def _cached_generators(group: Group, label: Label) -> torch.Tensor:
    return group._generators(label)


@functools.lru_cache(maxsize=512)
def _cached_weight_basis(group: Group, label: Label) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer weights and a basis of simultaneous eigenvectors of the Cartan generators."""
    H = group._cartan(label).to(torch.complex128)
    d = H.shape[-1]
    if d == 1:
        return H[:, 0, 0].real.round().long().reshape(1, -1), torch.eye(1, dtype=torch.complex128)
    # a generic combination separates distinct integer weights
    mix = torch.tensor([math.pi ** (-i) * (1 + 0.1 * i) for i in range(H.shape[0])])
    values, U = torch.linalg.eig(torch.einsum("r,rij->ij", mix.to(H.dtype), H))
    order = torch.argsort(-values.real, stable=True)
    U = U[:, order]
    diagonal = torch.einsum("ij,rjk,ki->ri", torch.linalg.inv(U), H, U)  # (rank, d)
    weights = diagonal.real.round()
    if (diagonal - weights).abs().max() > 1e-6:
        raise ArithmeticError(f"{group} {label}: Cartan eigenvalues are not integers")
    return weights.long().T.contiguous(), U
