r"""SL(2, C) and the Lorentz group SO(1, 3)^+ (proper orthochronous).

Lie algebra basis (6 generators): rotations X_1..3 = -i J_k and boosts X_4..6 = -i K_k with
[J_i, J_j] = i e_ijk J_k, [J_i, K_j] = i e_ijk K_k, [K_i, K_j] = -i e_ijk J_k. On the
4-vector (E, px, py, pz) they are the ordinary matrices: X_k rotates the spatial part,
exp(eta X_{3+k}) is the boost along axis k with rapidity eta (E' = cosh eta E + sinh eta p_k).

Irreps are labelled as in lie-nn (arXiv 2306.00091) by doubled spins ``(l, k)`` = (2 j1, 2 j2)
of the complexified algebra sl(2) + sl(2): V = V_{j1} (x) V_{j2}, J = S1 + S2,
K = i (S1 - S2); dimension (l + 1)(k + 1). ``"(1,1)"`` is the 4-vector, given in the
Minkowski basis above; the others in the product basis |j1 m1> |j2 m2> (m ascending).
Spins may also be written as fractions: ``"(1/2,1/2)"`` is ``"(1,1)"``. The Lorentz group
has the irreps with l + k even. Boosts are not unitary: these representations are not either.
Cartan generators H1 = 2 S1_z, H2 = 2 S2_z give the Dynkin weights (2 m1, 2 m2).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from .base import Group, GroupElement, Label
from .so3 import _haar_rotations, spin_matrices

__all__ = ["SL2C", "Lorentz", "minkowski_generators"]

_PAIR = re.compile(r"^\s*\(\s*([0-9/]+)\s*,\s*([0-9/]+)\s*\)\s*$")


def minkowski_generators() -> torch.Tensor:
    """(6, 4, 4) real generators on (E, px, py, pz): rotations then boosts."""
    X = torch.zeros(6, 4, 4, dtype=torch.float64)
    for k in range(3):
        i, j = (k + 1) % 3, (k + 2) % 3
        X[k, 1 + j, 1 + i], X[k, 1 + i, 1 + j] = 1.0, -1.0  # (X_k)_ij = -e_kij
        X[3 + k, 0, 1 + k] = X[3 + k, 1 + k, 0] = 1.0
    return X


def _product_generators(l: int, k: int) -> torch.Tensor:
    """(6, d, d) generators on V_{l/2} (x) V_{k/2}: -i J and -i K with K = i (S1 - S2)."""
    S1 = spin_matrices(l)
    S2 = spin_matrices(k)
    one1, one2 = torch.eye(l + 1, dtype=S1.dtype), torch.eye(k + 1, dtype=S2.dtype)
    A = torch.stack([torch.kron(s, one2) for s in S1])
    B = torch.stack([torch.kron(one1, s) for s in S2])
    J, K = A + B, 1j * (A - B)
    return torch.cat([-1j * J, -1j * K])


@functools.cache
def _vector_basis() -> torch.Tensor:
    """S with S X_a S^-1 = Minkowski X_a on the (1/2, 1/2) irrep (the intertwiner, solved)."""
    A = _product_generators(1, 1).numpy()
    B = minkowski_generators().numpy().astype(np.complex128)
    eye = np.eye(4)
    # S A - B S = 0 for every generator, with S flattened row-major
    system = np.concatenate(
        [np.kron(eye, a.T) - np.kron(b, eye) for a, b in zip(A, B, strict=True)]
    )
    _, sigma, vh = np.linalg.svd(system)
    if sigma[-1] > 1e-10 or sigma[-2] < 1e-6:
        raise ArithmeticError("no unique intertwiner from (1/2,1/2) to the 4-vector")
    return torch.from_numpy(vh[-1].conj().reshape(4, 4))


def _parse_spin2(text: str) -> int:
    value = Fraction(text) * (2 if "/" in text else 1)
    if value.denominator != 1 or value < 0:
        raise ValueError(f"{text!r} is not a (doubled) spin")
    return int(value)


@dataclass(frozen=True)
class SL2C(Group):
    """SL(2, C), the double cover of the Lorentz group; irreps (l, k) with l, k >= 0."""

    compact = False
    _example_label = (1, 0)

    @property
    def name(self) -> str:
        return "SL(2,C)"

    @property
    def algebra_dim(self) -> int:
        return 6

    @property
    def cartan_matrix(self) -> torch.Tensor:
        return torch.tensor([[2, 0], [0, 2]])

    def parse_label(self, text: str) -> Label:
        match = _PAIR.match(text)
        try:
            if match is None:
                raise ValueError("not a pair")
            label = tuple(_parse_spin2(g) for g in match.groups())
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"invalid {self.name} irrep {text!r}: expected doubled spins '(l,k)' as in "
                f"lie-nn, e.g. '(1,1)' for the 4-vector, or spins '(1/2,1/2)'"
            ) from None
        return self.check_label(label)

    def format_label(self, label: Label) -> str:
        return f"({label[0]},{label[1]})"

    def check_label(self, label: Any) -> Label:
        if not (
            isinstance(label, tuple)
            and len(label) == 2
            and all(isinstance(x, int) and x >= 0 for x in label)
        ):
            raise ValueError(f"invalid {self.name} label {label!r}: expected (l, k), ints >= 0")
        return label

    def dim(self, label: Label) -> int:
        return (label[0] + 1) * (label[1] + 1)

    def _generators(self, label: Label) -> torch.Tensor:
        if label == (1, 1):
            return minkowski_generators().to(torch.complex128)
        return _product_generators(*label)

    def _cartan(self, label: Label) -> torch.Tensor:
        X = self.generators(label)
        rot, boost = X[:3], X[3:]
        # S1 = (J - iK)/2, S2 = (J + iK)/2 with J = i X_rot, K = i X_boost
        return torch.stack([1j * rot[2] + boost[2], 1j * rot[2] - boost[2]])

    def highest_weight(self, label: Label) -> tuple[int, ...]:
        return label

    @property
    def _menu_seeds(self) -> tuple[Label, ...]:
        return ((1, 0), (0, 1)) if self.name == "SL(2,C)" else ((1, 1),)

    def describe(self, element: GroupElement) -> dict[str, Any]:
        """Rotation angle and rapidity of g = exp(rotation) exp(boost)."""
        rotation, boost = (torch.tensor(c) for c in element.factors)
        return {"angle": float(rotation[:3].norm()), "rapidity": float(boost[3:].norm())}

    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        return self.check_label(tuple(highest_weight))

    def sample(self, n: int, seed: int = 0, max_rapidity: float = 1.0, **kwargs: Any):
        """Rotation (Haar) times a boost in a uniform direction with rapidity uniform in
        [0, max_rapidity]: g = exp(theta n.X_rot) exp(eta u.X_boost)."""
        if max_rapidity < 0:
            raise ValueError(f"max_rapidity must be >= 0, got {max_rapidity}")
        angle, axis = _haar_rotations(n, seed)
        rng = torch.Generator().manual_seed(seed + 1)
        direction = torch.randn(n, 3, generator=rng, dtype=torch.float64)
        direction = direction / direction.norm(dim=1, keepdim=True)
        rapidity = max_rapidity * torch.rand(n, generator=rng, dtype=torch.float64)
        zero = (0.0, 0.0, 0.0)
        return [
            GroupElement(
                self,
                (
                    tuple((angle[i] * axis[i]).tolist()) + zero,
                    zero + tuple((rapidity[i] * direction[i]).tolist()),
                ),
            )
            for i in range(n)
        ]


@dataclass(frozen=True)
class Lorentz(SL2C):
    """SO(1, 3)^+, the proper orthochronous Lorentz group: irreps (l, k) with l + k even."""

    _example_label = (1, 1)

    @property
    def name(self) -> str:
        return "SO(1,3)"

    def check_label(self, label: Any) -> Label:
        label = super().check_label(label)
        if (label[0] + label[1]) % 2:
            raise ValueError(
                f"({label[0]},{label[1]}) is a spinor irrep of SL(2,C), not of SO(1,3): l + k "
                f"must be even"
            )
        return label
