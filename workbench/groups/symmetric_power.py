r"""Change of basis from symmetric powers to irreps: what MACE's symmetric contraction needs.

For a representation V (a multiset of irreps) and an irrep c, the tensors
U[p, i_1, ..., i_k, m], symmetric in i_1..i_k, form a basis of the equivariant maps
Sym^k(V) -> V_c:  y_m = sum_{i} U[p, i_1..i_k, m] x_{i_1} ... x_{i_k}  (MACE, arXiv 2206.07697,
eq. 10; lie-nn, arXiv 2306.00091, section 3.3). They solve

.. math:: X_c U - U \rho_k(X) = 0, \qquad
          \rho_k(X) = \sum_{t=1}^k 1 \otimes \dots X_t \dots \otimes 1

for every generator X, and P_c U = U P^{\otimes k} for the discrete generators (parity, the
reflection of O(2m)).
The unknowns are one entry per multiset {i_1 <= ... <= i_k} and output index m with matching
weights (sum of w_i = w_m), in a weight basis, so the system has C(d + k - 1, k) columns at
most, not d^k. Paths follow the basis convention of ``clebsch_gordan`` and are orthonormal
as full (symmetric) tensors; their number equals the multiplicity of c in
``symmetric_power(V, k)`` (tested).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import scipy.sparse
import torch

from .base import Irrep, Irreps
from .cache import cached_tensor
from .clebsch_gordan import _canonical_basis, _coo, _null_space

__all__ = ["symmetric_power_basis"]


def symmetric_power_basis(irreps: Irreps, k: int, c: Irrep) -> torch.Tensor:
    """(n_paths, d, ..., d, d_c) with k input axes of size d = irreps.dim: the equivariant
    symmetric maps Sym^k(irreps) -> c. Cached in memory and on disk."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    if c.group != irreps.group:
        raise ValueError(f"{c!r} and {irreps!r} are of different groups")
    return _memory_cached(irreps, k, c).clone()


@functools.lru_cache(maxsize=256)
def _memory_cached(irreps: Irreps, k: int, c: Irrep) -> torch.Tensor:
    key = f"{irreps.group!r}|{[(m, ir.label) for m, ir in irreps]}|{k}|{c.label}"
    return cached_tensor("symmetric_power", key, lambda: _solve(irreps, k, c))


def _direct_sum(irreps: Irreps):
    """Weight basis U, weights W, and generators / discrete generators in that basis."""
    group = irreps.group
    blocks = [ir for mul, ir in irreps for _ in range(mul)]
    U = torch.block_diag(*(group.weight_basis(ir) for ir in blocks))
    W = torch.cat([group.weights(ir) for ir in blocks])
    inv = torch.linalg.inv(U)
    X = torch.stack(
        [
            torch.block_diag(*(group.generators(ir)[a] for ir in blocks))
            for a in range(group.algebra_dim)
        ]
    ).to(torch.complex128)
    P = [
        torch.block_diag(*(group.discrete_generators(ir)[a] for ir in blocks)).to(torch.complex128)
        for a in range(group.num_discrete)
    ]
    return U, W, (inv @ X @ U).numpy(), [(inv @ p @ U).numpy() for p in P]


def _solve(irreps: Irreps, k: int, c: Irrep) -> torch.Tensor:
    group = irreps.group
    d, dc = irreps.dim, c.dim
    U, W, X, P = _direct_sum(irreps)
    Uc, Wc = group.weight_basis(c), group.weights(c)
    inv_c = torch.linalg.inv(Uc)
    Xc = (inv_c @ group.generators(c).to(torch.complex128) @ Uc).numpy()
    Pc = [(inv_c @ p.to(torch.complex128) @ Uc).numpy() for p in group.discrete_generators(c)]

    weight_of = {i: tuple(W[i].tolist()) for i in range(d)}
    out_by_weight: dict[tuple, list[int]] = {}
    for m in range(dc):
        out_by_weight.setdefault(tuple(Wc[m].tolist()), []).append(m)
    unknowns = []  # (multiset I, m)
    for I in itertools.combinations_with_replacement(range(d), k):
        total = tuple(np.sum([weight_of[i] for i in I], axis=0).tolist())
        unknowns += [(I, m) for m in out_by_weight.get(total, [])]
    if not unknowns:
        return torch.zeros((0,) + (d,) * k + (dc,), dtype=group.dtype)

    rows: dict[tuple, int] = {}

    def row(m: int, J: tuple) -> int:
        return rows.setdefault((m, J), len(rows))

    blocks = []
    for a in range(X.shape[0]):
        r, s_, v = [], [], []
        for s, (I, m) in enumerate(unknowns):
            for mp in np.nonzero(Xc[a][:, m])[0]:  # X_c U
                r.append(row(int(mp), I))
                s_.append(s)
                v.append(Xc[a][mp, m])
            for i in set(I):  # - U rho_k(X): replace one i in I by j
                rest = list(I)
                rest.remove(i)
                for j in np.nonzero(X[a][i])[0]:
                    J = tuple(sorted([*rest, int(j)]))
                    r.append(row(m, J))
                    s_.append(s)
                    v.append(-X[a][i, j] * J.count(int(j)))
        blocks.append((r, s_, v))
    for Pv, Pcv in zip(P, Pc, strict=True):
        Pv = np.where(np.abs(Pv) > 1e-13, Pv, 0)
        r, s_, v = [], [], []
        for s, (I, m) in enumerate(unknowns):
            for mp in np.nonzero(Pcv[:, m])[0]:  # P_c U
                r.append(row(int(mp), I))
                s_.append(s)
                v.append(Pcv[mp, m])
            # - U P^(x)k at sorted J: sum over the orderings I' of I of prod_t P[I'_t, J_t]
            for ordered in set(itertools.permutations(I)):
                choices = [np.nonzero(Pv[i])[0] for i in ordered]
                for J in itertools.product(*choices):
                    if all(J[t] <= J[t + 1] for t in range(k - 1)):
                        r.append(row(m, tuple(int(j) for j in J)))
                        s_.append(s)
                        v.append(-np.prod([Pv[i, j] for i, j in zip(ordered, J, strict=True)]))
        blocks.append((r, s_, v))
    n_rows = len(rows)
    A = scipy.sparse.vstack(
        [
            _coo(
                [np.array(r, dtype=np.int64)],
                [np.array(s_, dtype=np.int64)],
                [np.array(v, dtype=np.complex128)],
                (n_rows, len(unknowns)),
            )
            for r, s_, v in blocks
        ]
    )
    null = _null_space(A)
    if null.shape[1] == 0:
        return torch.zeros((0,) + (d,) * k + (dc,), dtype=group.dtype)

    # full symmetric tensors in the weight basis, then back to the group's basis
    T = np.zeros((null.shape[1],) + (d,) * k + (dc,), dtype=np.complex128)
    for s, (I, m) in enumerate(unknowns):
        for perm in set(itertools.permutations(I)):
            T[(slice(None), *perm, m)] = null[s]
    T = np.tensordot(T, Uc.numpy().T, axes=([k + 1], [0]))  # output axis: sum_K Uc[m, K] T[.., K]
    inv = np.linalg.inv(U.numpy())
    for axis in range(1, k + 1):
        T = np.moveaxis(np.tensordot(T, inv, axes=([axis], [0])), -1, axis)
    paths = _canonical_basis(T.reshape(T.shape[0], -1))
    result = torch.from_numpy(paths.reshape((-1,) + (d,) * k + (dc,)))
    if group.real:
        if result.imag.abs().max() > 1e-10:
            raise ArithmeticError(f"{group}: symmetric power basis is not real")
        return result.real.contiguous()
    return result
