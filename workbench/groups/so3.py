"""SU(2), SO(3) and O(3): spins, the rotation group in e3nn's real basis, and parity.

Spin matrices in the basis |j, m>, m = -j..j (Condon-Shortley phases):
J_z |m> = m |m>,  J_+- |m> = sqrt(j(j+1) - m(m+-1)) |m+-1>. The real Lie-algebra basis is
X_k = -i J_k (anti-Hermitian), so exp(theta n.X) is the rotation by theta about n.

SO(3) and O(3) irreps use e3nn's real basis (arXiv 2207.09453): the real spherical-harmonic
change of basis Q_l (with the phase (-i)^l that makes Clebsch-Gordan tensors real) and the
quantisation axis along Cartesian y, so that the l = 1 irrep is the vector (x, y, z) and
D^1(R) = R. Our generators equal ``e3nn.o3.so3_generators`` (tested).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch

from .base import Group, GroupElement, Label

__all__ = ["O3", "SO3", "SU2", "spin_matrices"]


def spin_matrices(two_j: int) -> torch.Tensor:
    """(3, d, d) complex Hermitian (J_x, J_y, J_z) of spin j = two_j / 2, basis m = -j..j."""
    j = two_j / 2
    m = torch.arange(-two_j, two_j + 1, 2, dtype=torch.float64) / 2
    # J_+ |m> = sqrt(j(j+1) - m(m+1)) |m+1>: entries just below the diagonal in this order
    plus = torch.diag(torch.sqrt(j * (j + 1) - m[:-1] * (m[:-1] + 1)), -1).to(torch.complex128)
    minus = plus.T.conj()
    Jx = (plus + minus) / 2
    Jy = (plus - minus) / 2j
    Jz = torch.diag(m).to(torch.complex128)
    return torch.stack([Jx, Jy, Jz])


def real_basis(l: int) -> torch.Tensor:
    """Q_l: columns express e3nn's real basis in |l, m> (real spherical harmonics, times
    (-i)^l so that Clebsch-Gordan tensors come out real)."""
    q = torch.zeros(2 * l + 1, 2 * l + 1, dtype=torch.complex128)
    s = 2**-0.5
    for m in range(-l, 0):
        q[l + m, l - m] = s
        q[l + m, l + m] = -1j * s
    q[l, l] = 1
    for m in range(1, l + 1):
        q[l + m, l + m] = (-1) ** m * s
        q[l + m, l - m] = 1j * (-1) ** m * s
    return (-1j) ** l * q


def condon_shortley_phase(C: torch.Tensor, two_j: tuple[int, int, int]) -> complex:
    """The phase that makes <j1 j1; j2 j3-j1 | j3 j3> real and positive (Condon-Shortley) for
    a single coupling path C written in the |j, m> bases (m ascending); 1 otherwise."""
    a, b, c = two_j
    value = complex(C[0, a, (c - a + b) // 2, c]) if C.shape[0] == 1 else 0j
    return abs(value) / value if abs(value) > 1e-12 else 1.0


def _haar_rotations(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Haar-random unit quaternions (w, v) -> angle theta = 2 acos(w) in [0, 2pi] and axis:
    Haar measure on SU(2), and (as its image) on SO(3)."""
    q = torch.randn(n, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q = q / q.norm(dim=1, keepdim=True)
    angle = 2 * torch.acos(q[:, 0].clamp(-1, 1))
    axis = q[:, 1:] / q[:, 1:].norm(dim=1, keepdim=True).clamp_min(1e-300)
    return angle, axis


def _parse_spin(text: str) -> Fraction:
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not a spin") from None
    if value < 0 or (2 * value).denominator != 1:
        raise ValueError(f"{text!r} is not a spin j in {{0, 1/2, 1, 3/2, ...}}")
    return value


@dataclass(frozen=True)
class SU2(Group):
    """SU(2): irreps labelled by the spin j ("0", "1/2", "1", ...); label = (2j,).

    Generators X_k = -i J_k in the basis |j, m>, m = -j..j; Cartan H = 2 J_z (weight 2m).
    """

    _example_label = (1,)

    @property
    def name(self) -> str:
        return "SU(2)"

    @property
    def algebra_dim(self) -> int:
        return 3

    @property
    def cartan_matrix(self) -> torch.Tensor:
        return torch.tensor([[2]])

    def parse_label(self, text: str) -> Label:
        try:
            return (int(2 * _parse_spin(text)),)
        except ValueError as err:
            raise ValueError(f"invalid SU(2) irrep: {err}; expected a spin such as '1/2'") from None

    def format_label(self, label: Label) -> str:
        return str(Fraction(label[0], 2))

    def check_label(self, label: Any) -> Label:
        two_j = label[0] if isinstance(label, tuple) and len(label) == 1 else label
        if not isinstance(two_j, int) or two_j < 0:
            raise ValueError(f"invalid SU(2) label {label!r}: expected (2j,) with 2j >= 0 int")
        return (two_j,)

    def dim(self, label: Label) -> int:
        return label[0] + 1

    def _generators(self, label: Label) -> torch.Tensor:
        return -1j * spin_matrices(label[0])

    def _cartan(self, label: Label) -> torch.Tensor:
        return 2 * spin_matrices(label[0])[2:]

    def highest_weight(self, label: Label) -> tuple[int, ...]:
        return (label[0],)

    def _cg_phase(self, a: Label, b: Label, c: Label, C: torch.Tensor) -> torch.Tensor:
        return C * condon_shortley_phase(C, (a[0], b[0], c[0]))

    def describe(self, element: GroupElement) -> dict[str, Any]:
        return {"angle": float(torch.tensor(element.factors[0]).norm())}

    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        return (highest_weight[0],)

    def sample(self, n: int, seed: int = 0, **kwargs: Any) -> list[GroupElement]:
        """Haar-random elements exp(theta n.X): the unit quaternion (cos theta/2, sin theta/2 n)
        is uniform on the 3-sphere, which is SU(2)."""
        angle, axis = _haar_rotations(n, seed)
        return [GroupElement(self, (tuple((angle[i] * axis[i]).tolist()),)) for i in range(n)]


@dataclass(frozen=True)
class SO3(Group):
    """SO(3): irreps labelled by the degree l ("0", "1", "2", ...) in e3nn's real basis.

    Generators X_x, X_y, X_z (real antisymmetric; on l = 1 the matrices (X_k)_ij = -eps_kij),
    Cartan H = 2 J_z = -2i X_y (e3nn quantises along y), weights 2m.
    """

    real = True
    _example_label = (1,)

    @property
    def name(self) -> str:
        return "SO(3)"

    @property
    def algebra_dim(self) -> int:
        return 3

    @property
    def cartan_matrix(self) -> torch.Tensor:
        return torch.tensor([[2]])

    def parse_label(self, text: str) -> Label:
        if not re.fullmatch(r"\s*\d+\s*", text):
            raise ValueError(f"invalid SO(3) irrep {text!r}: expected a degree l such as '2'")
        return (int(text),)

    def format_label(self, label: Label) -> str:
        return str(label[0])

    def check_label(self, label: Any) -> Label:
        l = label[0] if isinstance(label, tuple) and len(label) == 1 else label
        if not isinstance(l, int) or l < 0:
            raise ValueError(f"invalid SO(3) label {label!r}: expected a degree l >= 0")
        return (l,)

    def dim(self, label: Label) -> int:
        return 2 * label[0] + 1

    def _generators(self, label: Label) -> torch.Tensor:
        l = label[0]
        J = spin_matrices(2 * l)
        Q = real_basis(l)
        # e3nn quantises along y: Cartesian (x, y, z) take the roles of the spin's (y, -z, -x)
        X = -1j * torch.stack([J[1], -J[2], -J[0]])
        X = Q.conj().T @ X @ Q
        if X.imag.abs().max() > 1e-12:
            raise ArithmeticError(f"SO(3) generators of l={l} are not real")
        return X.real.contiguous()

    def _cartan(self, label: Label) -> torch.Tensor:
        return -2j * self.generators(label)[1:2].to(torch.complex128)  # 2 J_z = -2i X_y

    def highest_weight(self, label: Label) -> tuple[int, ...]:
        return (2 * label[0],)

    def describe(self, element: GroupElement) -> dict[str, Any]:
        row = {"angle": float(torch.tensor(element.factors[0]).norm())}
        if element.discrete:
            row["inversion"] = bool(element.discrete[0] % 2)
        return row

    def _cg_phase(self, a: Label, b: Label, c: Label, C: torch.Tensor) -> torch.Tensor:
        """Condon-Shortley phase, read in the complex basis |l, m> = Q-rotated real basis."""
        Qa, Qb, Qc = (real_basis(r[0]) for r in (a, b, c))
        in_complex_basis = torch.einsum("ij,kl,nm,pjlm->pikn", Qa.conj(), Qb.conj(), Qc, C + 0j)
        phase = condon_shortley_phase(in_complex_basis, (2 * a[0], 2 * b[0], 2 * c[0]))
        return C * round(phase.real if isinstance(phase, complex) else phase)

    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        if highest_weight[0] % 2:
            raise ValueError(f"SO(3) has no half-integer spin {highest_weight[0]}/2")
        return (highest_weight[0] // 2,)

    def sample(self, n: int, seed: int = 0, **kwargs: Any) -> list[GroupElement]:
        """Haar-random rotations exp(theta n.X)."""
        angle, axis = _haar_rotations(n, seed)
        return [GroupElement(self, (tuple((angle[i] * axis[i]).tolist()),)) for i in range(n)]


_O3_LABEL = re.compile(r"^\s*(\d+)\s*([eo])\s*$")


@dataclass(frozen=True)
class O3(SO3):
    """O(3) = SO(3) x {1, P}: irreps "le" / "lo" as in e3nn (parity p = +1 e, -1 o).

    The inversion P acts as p on the irrep: the single discrete generator. Label = (l, p).
    """

    _example_label = (1, -1)

    @property
    def name(self) -> str:
        return "O(3)"

    @property
    def num_discrete(self) -> int:
        return 1

    def parse_label(self, text: str) -> Label:
        match = _O3_LABEL.match(text)
        if match is None:
            raise ValueError(
                f"invalid O(3) irrep {text!r}: expected degree and parity such as '1o' or '2e'"
            )
        return (int(match.group(1)), 1 if match.group(2) == "e" else -1)

    def format_label(self, label: Label) -> str:
        return f"{label[0]}{'e' if label[1] == 1 else 'o'}"

    def check_label(self, label: Any) -> Label:
        if not (
            isinstance(label, tuple)
            and len(label) == 2
            and isinstance(label[0], int)
            and label[0] >= 0
            and label[1] in (1, -1)
        ):
            raise ValueError(f"invalid O(3) label {label!r}: expected (l, p), l >= 0, p = +-1")
        return (label[0], int(label[1]))

    def _generators(self, label: Label) -> torch.Tensor:
        return super()._generators(label[:1])

    def _discrete_generators(self, label: Label) -> torch.Tensor:
        return label[1] * torch.eye(self.dim(label), dtype=torch.float64)[None]

    def charge(self, label: Label) -> tuple[int, ...]:
        return (0 if label[1] == 1 else 1,)

    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        return (super().label_from(highest_weight, ())[0], -1 if charge[0] % 2 else 1)

    def sample(self, n: int, seed: int = 0, **kwargs: Any) -> list[GroupElement]:
        """Haar-random rotations; every second one composed with the inversion."""
        return [
            GroupElement(self, g.factors, (i % 2,)) for i, g in enumerate(SO3.sample(self, n, seed))
        ]

    @staticmethod
    def from_e3nn(irreps: Any):
        """O(3) irreps from ``e3nn.o3.Irreps`` (or anything it parses)."""
        from e3nn import o3

        return O3().Irreps([(mul, (ir.l, ir.p)) for mul, ir in o3.Irreps(irreps)])
