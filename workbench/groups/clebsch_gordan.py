r"""Clebsch-Gordan tensors of any group as the null space of the intertwiner equations.

A coupling of irreps a x b -> c is a linear map M: V_a (x) V_b -> V_c with

.. math:: M (D_a(g) \otimes D_b(g)) = D_c(g) M \quad \forall g,

equivalently, for every Lie-algebra generator X and discrete generator P,

.. math:: X_c M - M (X_a \otimes 1 + 1 \otimes X_b) = 0, \qquad P_c M - M (P_a \otimes P_b) = 0

(lie-nn, arXiv 2306.00091, eq. 9). In a weight basis of the Cartan generators the equations
force M_{k,ij} = 0 unless w_i + w_j = w_k, so only those entries are unknowns: the system is
small and sparse, and it is solved through the Gram matrix of its columns. Correct for complex
and non-unitary irreps (complex128 throughout; real groups return float64).

Basis convention (deterministic, independent of the solver's internals): let P be the
orthogonal projector onto the space of solutions, flattened as C[i, j, k]. Taking the standard
basis tensors e_s in flat (i, j, k) order, the paths are the Gram-Schmidt orthonormalisation
of P e_s, skipping those already spanned. Each path is then normalised to Frobenius norm 1,
its first pivot entry is real and positive, and paths are mutually orthogonal. A group may
replace the phase of a single path by its own convention: SU(2), SO(3) and O(3) use
Condon-Shortley's <j1 j1; j2 j3-j1 | j3 j3> > 0, with which SO(3)/O(3) tensors equal e3nn's
``wigner_3j`` exactly (same Frobenius normalisation; tested up to l = 4).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse
import torch

from .base import Irrep
from .cache import cached_tensor

__all__ = ["clebsch_gordan"]

_PIVOT = 1e-6  # a projected basis tensor shorter than this is taken as already spanned


def clebsch_gordan(a: Irrep, b: Irrep, c: Irrep) -> torch.Tensor:
    r"""(n_paths, d_a, d_b, d_c) Clebsch-Gordan tensors coupling a x b -> c.

    ``out_k = sum_ij C[p, i, j, k] x_i y_j`` is equivariant for each path p. A triple with no
    coupling gives a tensor with 0 paths. Cached in memory and on disk.
    """
    if not (a.group == b.group == c.group):
        raise ValueError(f"irreps of different groups: {a!r}, {b!r}, {c!r}")
    return _memory_cached(a, b, c).clone()


@functools.lru_cache(maxsize=1024)
def _memory_cached(a: Irrep, b: Irrep, c: Irrep) -> torch.Tensor:
    key = f"{a.group!r}|{a.label}|{b.label}|{c.label}"
    return cached_tensor("clebsch_gordan", key, lambda: _solve(a, b, c))


def _solve(a: Irrep, b: Irrep, c: Irrep) -> torch.Tensor:
    group = a.group
    da, db, dc = a.dim, b.dim, c.dim
    Ua, Ub, Uc = (group.weight_basis(r) for r in (a, b, c))
    Wa, Wb, Wc = (group.weights(r) for r in (a, b, c))
    # unknowns: entries M[k, i, j] with w_i + w_j = w_k
    match = (Wa[:, None, None, :] + Wb[None, :, None, :] == Wc[None, None, :, :]).all(-1)
    i_s, j_s, k_s = (t.numpy() for t in torch.nonzero(match, as_tuple=True))
    n_unknowns = len(i_s)
    if n_unknowns == 0:
        return _empty(group, da, db, dc)

    inverse = {id(U): torch.linalg.inv(U) for U in (Ua, Ub, Uc)}

    def to_weight_basis(X: torch.Tensor, U: torch.Tensor) -> np.ndarray:
        return (inverse[id(U)] @ X.to(torch.complex128) @ U).numpy()

    blocks = []
    for Xa, Xb, Xc in zip(
        group.generators(a), group.generators(b), group.generators(c), strict=True
    ):
        blocks.append(
            _algebra_equations(
                to_weight_basis(Xa, Ua),
                to_weight_basis(Xb, Ub),
                to_weight_basis(Xc, Uc),
                i_s,
                j_s,
                k_s,
            )
        )
    for Pa, Pb, Pc in zip(
        group.discrete_generators(a),
        group.discrete_generators(b),
        group.discrete_generators(c),
        strict=True,
    ):
        blocks.append(
            _discrete_equations(
                to_weight_basis(Pa, Ua),
                to_weight_basis(Pb, Ub),
                to_weight_basis(Pc, Uc),
                i_s,
                j_s,
                k_s,
            )
        )
    null = _null_space(scipy.sparse.vstack(blocks))
    if null.shape[1] == 0:
        return _empty(group, da, db, dc)

    # back to the group's basis: C[p, i, j, k] = sum Uc[k, k'] M[k', i', j'] Ua^-1[i', i] ...
    M = np.zeros((null.shape[1], dc, da, db), dtype=np.complex128)
    M[:, k_s, i_s, j_s] = null.T
    C = np.einsum(
        "kK,pKIJ,Ii,Jj->pijk",
        Uc.numpy(),
        M,
        np.linalg.inv(Ua.numpy()),
        np.linalg.inv(Ub.numpy()),
        optimize=True,
    )
    paths = _canonical_basis(C.reshape(C.shape[0], -1))
    C = group._cg_phase(a.label, b.label, c.label, torch.from_numpy(paths.reshape(-1, da, db, dc)))
    if group.real:
        if C.imag.abs().max() > 1e-10:
            raise ArithmeticError(f"{group}: Clebsch-Gordan tensor of {a} x {b} -> {c} not real")
        return C.real.contiguous()
    return C


def _null_space(A: scipy.sparse.spmatrix) -> np.ndarray:
    """Orthonormal columns spanning the null space of a sparse system, via its Gram matrix."""
    A = A.tocsc()
    values, vectors = np.linalg.eigh((A.conj().T @ A).toarray())
    return vectors[:, values <= 1e-10 * max(1.0, float(values[-1]))]


def _algebra_equations(Xa, Xb, Xc, i_s, j_s, k_s) -> scipy.sparse.coo_matrix:
    """Columns: the image of each unknown e_s under M -> Xc M - M (Xa x 1 + 1 x Xb)."""
    da, db, dc = Xa.shape[0], Xb.shape[0], Xc.shape[0]
    n = len(i_s)
    s = np.arange(n)
    rows, cols, vals = [], [], []
    # (Xc e_s)[k, i_s, j_s] = Xc[k, k_s]
    k = np.arange(dc)
    rows.append((k[None, :] * da + i_s[:, None]) * db + j_s[:, None])
    cols.append(np.broadcast_to(s[:, None], (n, dc)))
    vals.append(Xc[:, k_s].T)
    # -(e_s (Xa x 1))[k_s, i, j_s] = -Xa[i_s, i]
    i = np.arange(da)
    rows.append((k_s[:, None] * da + i[None, :]) * db + j_s[:, None])
    cols.append(np.broadcast_to(s[:, None], (n, da)))
    vals.append(-Xa[i_s, :])
    # -(e_s (1 x Xb))[k_s, i_s, j] = -Xb[j_s, j]
    j = np.arange(db)
    rows.append((k_s[:, None] * da + i_s[:, None]) * db + j[None, :])
    cols.append(np.broadcast_to(s[:, None], (n, db)))
    vals.append(-Xb[j_s, :])
    return _coo(rows, cols, vals, (dc * da * db, n))


def _discrete_equations(Pa, Pb, Pc, i_s, j_s, k_s) -> scipy.sparse.coo_matrix:
    """Columns: the image of each unknown e_s under M -> Pc M - M (Pa x Pb)."""
    da, db, dc = Pa.shape[0], Pb.shape[0], Pc.shape[0]
    n = len(i_s)
    s = np.arange(n)
    k = np.arange(dc)
    rows = [(k[None, :] * da + i_s[:, None]) * db + j_s[:, None]]
    cols = [np.broadcast_to(s[:, None], (n, dc))]
    vals = [Pc[:, k_s].T]
    ij = np.arange(da * db)
    rows.append(k_s[:, None] * da * db + ij[None, :])
    cols.append(np.broadcast_to(s[:, None], (n, da * db)))
    vals.append(-(Pa[i_s, :, None] * Pb[j_s, None, :]).reshape(n, -1))
    return _coo(rows, cols, vals, (dc * da * db, n))


def _coo(rows, cols, vals, shape) -> scipy.sparse.coo_matrix:
    v = np.concatenate([x.ravel() for x in vals])
    keep = v != 0
    return scipy.sparse.coo_matrix(
        (
            v[keep],
            (
                np.concatenate([x.ravel() for x in rows])[keep],
                np.concatenate([x.ravel() for x in cols])[keep],
            ),
        ),
        shape=shape,
    )


def _canonical_basis(V: np.ndarray) -> np.ndarray:
    """Orthonormal basis of span(rows of V) fixed by the convention in the module docstring.

    With Q an orthonormal basis of the span (N x n), P e_s = Q conj(Q[s]); the Gram-Schmidt
    runs on these n-dimensional coefficient vectors, O(N n^2) in all.
    """
    Q, _ = np.linalg.qr(V.T)
    n = Q.shape[1]
    A = np.zeros((0, n), dtype=Q.dtype)  # rows: coefficients of the paths found so far
    for s in np.nonzero(np.linalg.norm(Q, axis=1) > _PIVOT)[0]:
        q = Q[s].conj()
        r = q - A.T @ (A.conj() @ q)
        norm = np.linalg.norm(r)
        if norm > _PIVOT:
            A = np.vstack([A, r / norm])
            if len(A) == n:
                break
    return A @ Q.T


def _empty(group, da: int, db: int, dc: int) -> torch.Tensor:
    return torch.zeros(0, da, db, dc, dtype=group.dtype)
