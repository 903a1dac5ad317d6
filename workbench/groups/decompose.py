r"""Decompositions of tensor products and symmetric powers from weights.

The weights of V (x) W are the sums w + w' of the weights of V and W; the weights of Sym^k V
are the sums of k weights of V chosen with repetition (one per monomial, C(d + k - 1, k) of
them). A multiset of weights is split into irreps by repeatedly taking a weight of maximal
height (a highest weight, hence the highest weight of a component) and removing the weights
of that irrep (e.g. Fulton & Harris, Representation Theory, section 14.1). Central discrete
charges (O(3) parity) ride along, added modulo 2. The result is checked against the
Clebsch-Gordan solver in the tests.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import torch

from .base import Group, Irrep, Irreps

__all__ = ["decompose", "symmetric_power", "weight_multiset"]

Key = tuple[tuple[int, ...], tuple[int, ...]]  # (weight, charge)


def weight_multiset(irreps: Irreps) -> list[Key]:
    """The weights of a direct sum, with the central charge of each, one per basis vector."""
    group = irreps.group
    keys: list[Key] = []
    for mul, ir in irreps:
        charge = group.charge(ir.label)
        keys += [(tuple(w), charge) for w in group.weights(ir).tolist()] * mul
    return keys


def decompose(a: Irreps, b: Irreps) -> Irreps:
    """Irreps of the tensor product a (x) b, sorted and simplified."""
    if a.group != b.group:
        raise ValueError(f"irreps of different groups: {a.group} and {b.group}")
    group = a.group
    wa, wb = weight_multiset(a), weight_multiset(b)
    counts = Counter(_add(group, x, y) for x in wa for y in wb)
    return _peel(group, counts)


def symmetric_power(irreps: Irreps, k: int) -> Irreps:
    """Irreps of Sym^k(V) for the representation V = ``irreps``, sorted and simplified."""
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an int >= 0, got {k!r}")
    group = irreps.group
    weights = weight_multiset(irreps)
    rank = group.rank
    n_charges = len(group.charge(irreps[0][1].label)) if len(irreps) else 0
    zero: Key = ((0,) * rank, (0,) * n_charges)
    counts: Counter = Counter()
    for combination in itertools.combinations_with_replacement(range(len(weights)), k):
        key = zero
        for index in combination:
            key = _add(group, key, weights[index])
        counts[key] += 1
    expected = math.comb(len(weights) + k - 1, k)
    assert sum(counts.values()) == expected, "internal error: wrong number of monomials"
    return _peel(group, counts)


def _add(group: Group, x: Key, y: Key) -> Key:
    weight = tuple(p + q for p, q in zip(x[0], y[0], strict=True))
    charge = tuple((p + q) % group.charge_modulus for p, q in zip(x[1], y[1], strict=True))
    return weight, charge


def _peel(group: Group, counts: Counter) -> Irreps:
    """Split a weight multiset into irreps, highest weights first."""
    # height of a Dynkin-basis weight w: its coefficient sum on the simple roots. With
    # A_ij = <alpha_i^v, alpha_j>, alpha_j = sum_i A_ij omega_i, so omega_i = sum_j (A^-1)_ji
    # alpha_j and height(w) = sum_ij w_i (A^-1)_ji (column sums; A is not symmetric for B_m)
    height = torch.linalg.inv(group.cartan_matrix.double()).sum(dim=0)
    counts = +counts
    found: Counter = Counter()
    while counts:
        weight, charge = max(counts, key=lambda key: (float(height @ _t(key[0])), key))
        ir = Irrep(group, group.label_from(weight, charge))
        if weight not in {tuple(w) for w in group.weights(ir).tolist()}:
            raise ArithmeticError(f"{group}: peeled {weight} but built {ir} ({ir.label})")
        for key in weight_multiset(Irreps(group, ((1, ir),))):
            counts[key] -= 1
            if counts[key] < 0:
                raise ArithmeticError(f"{group}: weight {key} of {ir} missing while peeling")
        counts = +counts
        found[ir] += 1
    return Irreps(group, tuple((mul, ir) for ir, mul in found.items())).sort().simplify()


def _t(weight: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(weight, dtype=torch.float64)
