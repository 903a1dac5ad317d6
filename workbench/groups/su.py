"""SU(n): irreps by Dynkin labels, generators from Gelfand-Tsetlin patterns.

An irrep is written ``"(a_1,...,a_{n-1})"`` (its highest weight in the Dynkin basis): for
SU(3), ``(1,0)`` is the triplet 3, ``(0,1)`` the antitriplet, ``(1,1)`` the octet, ``(3,0)``
the decuplet. Generators are the anti-Hermitian basis i(E_kk - E_k+1,k+1), E_kl - E_lk,
i(E_kl + E_lk) of su(n) in the orthonormal Gelfand-Tsetlin basis (``_gelfand_tsetlin``);
on ``(1,0,...,0)`` they are the defining n x n matrices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from ._gelfand_tsetlin import su_cartan, su_generators, weyl_dimension
from .base import Group, GroupElement, Label

__all__ = ["SU"]

_TUPLE = re.compile(r"^\s*\(\s*(\d+(?:\s*,\s*\d+)*)\s*\)\s*$")


@dataclass(frozen=True)
class SU(Group):
    """The special unitary group SU(n), n >= 2."""

    n: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 2:
            raise ValueError(f"SU(n) needs an int n >= 2, got {self.n!r}")

    @property
    def name(self) -> str:
        return f"SU({self.n})"

    def __repr__(self) -> str:
        return f"SU({self.n})"

    @property
    def algebra_dim(self) -> int:
        return self.n * self.n - 1

    @property
    def cartan_matrix(self) -> torch.Tensor:
        r = self.n - 1
        return (
            2 * torch.eye(r, dtype=torch.long)
            - torch.diag(torch.ones(r - 1, dtype=torch.long), 1)
            - torch.diag(torch.ones(r - 1, dtype=torch.long), -1)
        )

    @property
    def _example_label(self) -> Label:  # type: ignore[override]
        return (1,) + (0,) * (self.n - 2)

    @property
    def _menu_seeds(self) -> tuple[Label, ...]:
        fundamental = (1,) + (0,) * (self.n - 2)
        return (fundamental, fundamental[::-1])

    def parse_label(self, text: str) -> Label:
        match = _TUPLE.match(text)
        if match is None:
            raise ValueError(
                f"invalid {self.name} irrep {text!r}: expected {self.n - 1} Dynkin labels such "
                f"as {self.format_label(self._example_label)!r}"
            )
        return self.check_label(tuple(int(x) for x in match.group(1).split(",")))

    def format_label(self, label: Label) -> str:
        return "(" + ",".join(str(a) for a in label) + ")"

    def check_label(self, label: Any) -> Label:
        if not (
            isinstance(label, tuple)
            and len(label) == self.n - 1
            and all(isinstance(a, int) and a >= 0 for a in label)
        ):
            raise ValueError(
                f"invalid {self.name} label {label!r}: expected {self.n - 1} Dynkin labels >= 0"
            )
        return label

    def dim(self, label: Label) -> int:
        return weyl_dimension(self.n, label)

    def _generators(self, label: Label) -> torch.Tensor:
        return su_generators(self.n, label)

    def _cartan(self, label: Label) -> torch.Tensor:
        return su_cartan(self.n, label)

    def highest_weight(self, label: Label) -> tuple[int, ...]:
        return label

    def label_from(self, highest_weight: tuple[int, ...], charge: tuple[int, ...]) -> Label:
        return self.check_label(tuple(highest_weight))

    def sample(self, n: int, seed: int = 0, **kwargs: Any) -> list[GroupElement]:
        """Haar-random elements (QR of a complex Gaussian matrix with fixed phases, det 1),
        written as exp(sum_a c_a X_a) through the principal logarithm."""
        generator = torch.Generator().manual_seed(seed)
        basis = self.generators(self._example_label).reshape(self.algebra_dim, -1).T
        elements = []
        for _ in range(n):
            z = torch.complex(
                torch.randn(self.n, self.n, generator=generator, dtype=torch.float64),
                torch.randn(self.n, self.n, generator=generator, dtype=torch.float64),
            )
            q, r = torch.linalg.qr(z)
            q = q * (r.diagonal() / r.diagonal().abs())  # Haar on U(n)
            q = q / torch.linalg.det(q) ** (1 / self.n)  # into SU(n)
            values, vectors = torch.linalg.eig(q)
            angles = values.angle()
            angles[0] -= angles.sum()  # det 1: the angles sum to 2 pi k; make the log traceless
            log = vectors @ torch.diag(1j * angles) @ torch.linalg.inv(vectors)
            c = torch.linalg.lstsq(basis, log.reshape(-1, 1)).solution.real.flatten()
            elements.append(GroupElement(self, (tuple(c.tolist()),)))
        return elements
