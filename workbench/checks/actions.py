"""Group actions used by the equivariance checks.

A check needs three things from a group: random elements, the matrix of an element on a
representation given by an irreps string, and a printable description of an element. That is
the :class:`GroupAction` protocol. O(3) and SO(3) are provided here on top of e3nn; other
groups plug in by implementing the same three methods.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from e3nn import o3

__all__ = [
    "O3",
    "SO3",
    "GroupAction",
    "LieGroupAction",
    "O3Action",
    "O3Element",
    "as_action",
    "parse_irreps",
]


def parse_irreps(irreps: str | o3.Irreps | Any) -> o3.Irreps:
    """Parse an O(3) irreps specification such as ``"16x0e + 8x1o"`` into ``e3nn.o3.Irreps``.

    Raises ``ValueError`` naming the bad value and the expected form.

    >>> parse_irreps("2x0e + 1x1o").dim
    5
    """
    try:
        return o3.Irreps(irreps)
    except (ValueError, AssertionError, TypeError, KeyError) as err:
        raise ValueError(
            f"invalid irreps {irreps!r}: expected a sum of 'multiplicity x irrep' terms such as "
            f"'16x0e + 8x1o' (irrep = degree l >= 0 followed by parity 'e' or 'o'). "
            f"e3nn said: {err}"
        ) from None


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Temporarily set torch's default dtype.

    e3nn builds some change-of-basis tensors of its Wigner matrices in the default dtype, so a
    float64 D computed under a float32 default is only accurate to ~1e-7 (measured with e3nn
    0.6.0: |D_1o(R) - R| = 2.6e-7). Building D under a float64 default gives ~1e-15.
    """
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@dataclass(frozen=True)
class O3Element:
    """An element of O(3): the rotation R(alpha, beta, gamma) = Y(alpha) X(beta) Y(gamma) in
    e3nn's convention, followed by the inversion x -> -x when ``inversion`` is true."""

    alpha: float
    beta: float
    gamma: float
    inversion: bool = False

    def matrix(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The 3x3 matrix of this element acting on Cartesian vectors (x, y, z)."""
        angles = [torch.tensor(a, dtype=dtype) for a in (self.alpha, self.beta, self.gamma)]
        rotation = o3.angles_to_matrix(*angles)
        return -rotation if self.inversion else rotation


@runtime_checkable
class GroupAction(Protocol):
    """What an equivariance check needs from a group."""

    name: str

    def parse(self, irreps: Any) -> Any:
        """Validate and parse a representation specification; raise ``ValueError`` if bad."""

    def dim(self, irreps: Any) -> int:
        """Dimension of the representation."""

    def sample(self, n: int, generator: torch.Generator) -> list[Any]:
        """``n`` random group elements, reproducible for a seeded generator."""

    def matrix(self, irreps: Any, element: Any, dtype: torch.dtype) -> torch.Tensor:
        """The (dim, dim) matrix of ``element`` on the representation ``irreps``."""

    def describe(self, element: Any) -> dict[str, Any]:
        """A flat dict describing ``element`` (one row of a report)."""


@dataclass(frozen=True)
class O3Action:
    """O(3) (``inversion=True``) or SO(3) acting on e3nn irreps.

    Rotations are sampled from the Haar measure: alpha, gamma uniform on [0, 2pi) and
    cos(beta) uniform on [-1, 1]. With inversion, every second sample is composed with the
    inversion so that both cosets of O(3) are always covered.
    """

    inversion: bool = True

    @property
    def name(self) -> str:
        return "O(3)" if self.inversion else "SO(3)"

    def parse(self, irreps: Any) -> o3.Irreps:
        return parse_irreps(irreps)

    def dim(self, irreps: Any) -> int:
        return self.parse(irreps).dim

    def sample(self, n: int, generator: torch.Generator) -> list[O3Element]:
        u = torch.rand(n, 3, generator=generator, dtype=torch.float64)
        return [
            O3Element(
                alpha=2 * math.pi * float(u[i, 0]),
                beta=math.acos(1 - 2 * float(u[i, 1])),
                gamma=2 * math.pi * float(u[i, 2]),
                inversion=self.inversion and i % 2 == 1,
            )
            for i in range(n)
        ]

    def matrix(self, irreps: Any, element: O3Element, dtype: torch.dtype) -> torch.Tensor:
        irreps = self.parse(irreps)
        if element.inversion and not self.inversion:
            raise ValueError(f"{self.name} has no inversion; got {element}")
        with _default_dtype(torch.float64):
            angles = [
                torch.tensor(a, dtype=torch.float64)
                for a in (element.alpha, element.beta, element.gamma)
            ]
            parity = torch.tensor(1.0 if element.inversion else 0.0, dtype=torch.float64)
            matrix = irreps.D_from_angles(*angles, parity)
        return matrix.to(dtype)

    def describe(self, element: O3Element) -> dict[str, Any]:
        return {
            "alpha": element.alpha,
            "beta": element.beta,
            "gamma": element.gamma,
            "inversion": element.inversion,
        }


O3 = O3Action(inversion=True)
SO3 = O3Action(inversion=False)


class LieGroupAction:
    """Any :class:`workbench.groups.Group` as a :class:`GroupAction`.

    Irreps are written in that group's notation (``"(1,1) + 2x(0,0)"`` for the Lorentz group);
    ``sample_options`` go to ``group.sample`` (e.g. ``max_rapidity=2.0``).

    >>> from workbench.groups import Lorentz
    >>> action = LieGroupAction(Lorentz(), max_rapidity=2.0)
    >>> action.dim("(1,1) + (0,0)")
    5
    """

    def __init__(self, group: Any, **sample_options: Any) -> None:
        self.group = group
        self.sample_options = sample_options

    @property
    def name(self) -> str:
        return self.group.name

    def parse(self, irreps: Any) -> Any:
        return self.group.Irreps(irreps)

    def dim(self, irreps: Any) -> int:
        return self.parse(irreps).dim

    def sample(self, n: int, generator: torch.Generator) -> list[Any]:
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        return self.group.sample(n, seed, **self.sample_options)

    def matrix(self, irreps: Any, element: Any, dtype: torch.dtype) -> torch.Tensor:
        D = self.group.rep(self.parse(irreps), element)
        if D.is_complex() and not dtype.is_complex:
            if D.imag.abs().max() > 0:
                raise ValueError(
                    f"{self.name} acts on {irreps} by complex matrices: check in a complex dtype "
                    f"(dtype=torch.complex128)"
                )
            D = D.real
        return D.to(dtype)

    def describe(self, element: Any) -> dict[str, Any]:
        return self.group.describe(element)


def as_action(group: Any) -> GroupAction:
    """A ``GroupAction`` as it is, or a ``workbench.groups.Group`` wrapped in one."""
    from workbench.groups import Group

    return LieGroupAction(group) if isinstance(group, Group) else group
