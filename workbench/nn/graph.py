r"""Molecular graphs: input checks, neighbour lists, distance embeddings, per-molecule sums.

A batch of B molecules is the flat PyTorch-Geometric layout: atomic numbers ``z`` (N,),
positions ``pos`` (N, 3) and the molecule of each atom ``batch`` (N,) with values 0..B-1.

* :func:`radius_graph`: the directed edges j -> i between distinct atoms of one molecule with
  :math:`|x_i - x_j| < r_\mathrm{max}` (torch.cdist on padded per-molecule blocks; scipy's
  cKDTree for batches too large for that), as ``torch_cluster.radius_graph`` returns them.
* :class:`GaussianBasis`: :math:`e_k(r) = \exp(-(r - \mu_k)^2 / 2\sigma^2)` with centres
  :math:`\mu_k` evenly spaced on [0, r_max] and :math:`\sigma` their spacing (SchNet's
  radial basis, arXiv 1706.08566, with schnetpack's widths; trainable centres and widths as
  Equiformer's Gaussian layer, arXiv 2206.11990, which takes it from Graphormer).
* :class:`CosineCutoff`: :math:`f(r) = \tfrac12 (\cos(\pi r / r_\mathrm{max}) + 1)` for
  r < r_max, else 0 (Behler's cutoff, as in SchNet's follow-up, arXiv 1712.06113).
* :func:`molecule_sum` and :func:`charge_dipole`: sums over the atoms of each molecule, and
  the dipole :math:`\mu = \sum_i q_i (x_i - \bar x)` of per-atom charges.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "CosineCutoff",
    "GaussianBasis",
    "charge_dipole",
    "check_molecules",
    "molecule_sum",
    "radius_graph",
]

# Batches whose padded per-molecule distance blocks (B x n_max^2 entries) are larger than this
# go through scipy's cKDTree, molecule by molecule, instead.
_DENSE_LIMIT = 2**24


def _check_positions(pos: torch.Tensor, batch: torch.Tensor | None, where: str):
    if not isinstance(pos, torch.Tensor) or not pos.is_floating_point():
        got = pos.dtype if isinstance(pos, torch.Tensor) else type(pos).__name__
        raise TypeError(f"{where}: pos must be a floating torch tensor of shape (N, 3), got {got}")
    if pos.dim() != 2 or pos.shape[1] != 3:
        raise ValueError(f"{where}: pos must have shape (N, 3), got {tuple(pos.shape)}")
    bad = ~torch.isfinite(pos).all(dim=1)
    if bad.any():
        atoms = bad.nonzero().flatten()[:10].tolist()
        raise ValueError(f"{where}: pos has NaN or inf coordinates at atoms {atoms}")
    n = pos.shape[0]
    if batch is None:
        return torch.zeros(n, dtype=torch.long, device=pos.device)
    if not isinstance(batch, torch.Tensor) or batch.dtype not in (torch.int32, torch.int64):
        raise TypeError(
            f"{where}: batch must be an integer (long) tensor of shape ({n},) giving each atom's "
            f"molecule, got {getattr(batch, 'dtype', type(batch).__name__)}"
        )
    if batch.shape != (n,):
        raise ValueError(
            f"{where}: batch must have shape ({n},) (one molecule index per atom of pos), got "
            f"{tuple(batch.shape)}"
        )
    if n and int(batch.min()) < 0:
        raise ValueError(f"{where}: batch has negative molecule index {int(batch.min())}")
    return batch.long()


def check_molecules(
    z: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor, max_z: int, where: str = "model"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Validate a batch of molecules; returns (z, pos, batch, B).

    Raises TypeError for wrong dtypes and ValueError for wrong shapes, non-finite positions,
    atomic numbers outside 1..max_z, or molecule indices 0..B-1 with no atoms.
    """
    batch = _check_positions(pos, batch, where)
    n = pos.shape[0]
    if not isinstance(z, torch.Tensor) or z.dtype not in (torch.int32, torch.int64):
        raise TypeError(
            f"{where}: z must be an integer (long) tensor of atomic numbers, shape ({n},), got "
            f"{getattr(z, 'dtype', type(z).__name__)}"
        )
    if z.shape != (n,):
        raise ValueError(f"{where}: z must have shape ({n},) like pos (N, 3), got {tuple(z.shape)}")
    if n == 0:
        raise ValueError(f"{where}: the batch has no atoms")
    bad = (z < 1) | (z > max_z)
    if bad.any():
        raise ValueError(
            f"{where}: atomic numbers must be in 1..{max_z} (set max_z in the config for heavier "
            f"elements), got {sorted(set(z[bad].tolist()))[:10]}"
        )
    n_graphs = int(batch.max()) + 1
    counts = torch.bincount(batch, minlength=n_graphs)
    if (counts == 0).any():
        empty = (counts == 0).nonzero().flatten()[:10].tolist()
        raise ValueError(
            f"{where}: molecules {empty} have no atoms: batch must number the molecules "
            f"0..B-1 without gaps"
        )
    return z.long(), pos, batch, n_graphs


def radius_graph(
    pos: torch.Tensor,
    batch: torch.Tensor | None,
    r_max: float,
    max_neighbors: int | None = None,
    loop: bool = False,
) -> torch.Tensor:
    """Edges (2, E) = (source j, target i) with |pos_i - pos_j| < r_max within each molecule.

    Args:
        pos: (N, 3) positions.
        batch: (N,) molecule index of each atom, or None for a single molecule; need not be
            sorted.
        r_max: cutoff radius (> 0).
        max_neighbors: keep only the nearest ``max_neighbors`` sources of each target (ties
            broken by source index), or all if None.
        loop: include the self-edges i -> i.

    Returns a long tensor sorted by target, then source. No gradient flows through the choice
    of edges; compute edge vectors from ``pos`` afterwards.
    """
    batch = _check_positions(pos, batch, "radius_graph")
    if not (isinstance(r_max, (int, float)) and math.isfinite(r_max) and r_max > 0):
        raise ValueError(f"radius_graph: r_max must be a positive finite number, got {r_max!r}")
    if max_neighbors is not None and (
        isinstance(max_neighbors, bool) or not isinstance(max_neighbors, int) or max_neighbors < 1
    ):
        raise ValueError(
            f"radius_graph: max_neighbors must be a positive int or None, got {max_neighbors!r}"
        )
    n = pos.shape[0]
    if n == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=pos.device)
    with torch.no_grad():
        order = torch.argsort(batch, stable=True)
        counts = torch.bincount(batch)
        n_max = int(counts.max())
        if counts.numel() * n_max**2 <= _DENSE_LIMIT:
            src, dst, dist = _dense_candidates(pos.detach(), batch, order, counts, r_max, loop)
        else:
            src, dst, dist = _kdtree_candidates(pos.detach(), batch, r_max, loop)
        key = dst * n + src  # sort by target, then source
        perm = torch.argsort(key)
        src, dst, dist = src[perm], dst[perm], dist[perm]
        if max_neighbors is not None and src.numel():
            src, dst = _nearest(src, dst, dist, n, max_neighbors)
    return torch.stack([src, dst])


def _dense_candidates(pos, batch, order, counts, r_max, loop):
    """All pairs per molecule from padded (B, n_max, 3) blocks and one batched cdist."""
    n_graphs, n_max = counts.numel(), int(counts.max())
    start = torch.cumsum(counts, 0) - counts
    sorted_batch = batch[order]
    slot = torch.arange(len(order), device=pos.device) - start[sorted_batch]
    dense = pos.new_zeros(n_graphs, n_max, 3)
    dense[sorted_batch, slot] = pos[order]
    valid = torch.zeros(n_graphs, n_max, dtype=torch.bool, device=pos.device)
    valid[sorted_batch, slot] = True
    # exact differences (the matrix-product shortcut loses ~1e-8 relative near the cutoff)
    d = torch.cdist(dense, dense, compute_mode="donot_use_mm_for_euclid_dist")
    adj = (d < r_max) & valid[:, :, None] & valid[:, None, :]
    if not loop:
        adj &= ~torch.eye(n_max, dtype=torch.bool, device=pos.device)
    b, i, j = adj.nonzero(as_tuple=True)
    return order[start[b] + j], order[start[b] + i], d[b, i, j]


def _kdtree_candidates(pos, batch, r_max, loop):
    """Pairs per molecule from scipy's cKDTree (for batches too large for dense blocks)."""
    from scipy.spatial import cKDTree

    x = pos.cpu().double().numpy()
    b = batch.cpu().numpy()
    src, dst = [], []
    for g in np.unique(b):
        atoms = np.flatnonzero(b == g)
        pairs = cKDTree(x[atoms]).query_pairs(r_max, output_type="ndarray")
        i, j = atoms[pairs[:, 0]], atoms[pairs[:, 1]]
        src += [i, j]
        dst += [j, i]
        if loop:
            src.append(atoms)
            dst.append(atoms)
    src_t = torch.from_numpy(np.concatenate(src)).to(pos.device)
    dst_t = torch.from_numpy(np.concatenate(dst)).to(pos.device)
    dist = (pos[src_t] - pos[dst_t]).norm(dim=-1)
    keep = dist < r_max  # query_pairs includes r == r_max
    return src_t[keep], dst_t[keep], dist[keep]


def _nearest(src, dst, dist, n, k):
    """Keep the k nearest sources of each target; edges come sorted by (target, source)."""
    perm = torch.argsort(dist, stable=True)
    perm = perm[torch.argsort(dst[perm], stable=True)]  # by target, then distance, then source
    src, dst = src[perm], dst[perm]
    first = torch.searchsorted(dst, torch.arange(n, device=dst.device))
    rank = torch.arange(len(dst), device=dst.device) - first[dst]
    keep = rank < k
    src, dst = src[keep], dst[keep]
    perm = torch.argsort(dst * n + src)
    return src[perm], dst[perm]


class GaussianBasis(torch.nn.Module):
    """(...,) distances -> (..., num_basis) Gaussians exp(-(r - mu_k)^2 / (2 sigma_k^2)).

    Centres evenly spaced on [0, r_max], widths equal to the spacing; ``trainable`` makes both
    parameters (Equiformer's learnable Gaussian basis).
    """

    def __init__(self, r_max: float, num_basis: int, trainable: bool = False) -> None:
        super().__init__()
        if r_max <= 0 or num_basis < 2:
            raise ValueError(f"need r_max > 0 and num_basis >= 2, got {r_max}, {num_basis}")
        centres = torch.linspace(0.0, float(r_max), num_basis)
        widths = torch.full((num_basis,), float(r_max) / (num_basis - 1))
        if trainable:
            self.centres = torch.nn.Parameter(centres)
            self.widths = torch.nn.Parameter(widths)
        else:
            self.register_buffer("centres", centres)
            self.register_buffer("widths", widths)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.5 * ((r.unsqueeze(-1) - self.centres) / self.widths) ** 2)


class CosineCutoff(torch.nn.Module):
    """f(r) = (cos(pi r / r_max) + 1) / 2 for r < r_max, 0 beyond."""

    def __init__(self, r_max: float) -> None:
        super().__init__()
        self.r_max = float(r_max)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return 0.5 * (torch.cos(math.pi * r / self.r_max) + 1.0) * (r < self.r_max)


def molecule_sum(x: torch.Tensor, batch: torch.Tensor, n_graphs: int) -> torch.Tensor:
    """(N, ...) per-atom values -> (B, ...) sums over the atoms of each molecule."""
    out = x.new_zeros(n_graphs, *x.shape[1:])
    return out.index_add(0, batch, x)


def charge_dipole(
    q: torch.Tensor, pos: torch.Tensor, batch: torch.Tensor, n_graphs: int, neutral: bool = True
) -> torch.Tensor:
    r"""(B, 3) dipoles :math:`\sum_i q_i (x_i - \bar x)` of per-atom charges q (N,).

    :math:`\bar x` is the molecule's centroid, so the dipole does not change under
    translations. With ``neutral`` the mean charge of each molecule is subtracted first
    (sum q_i = 0, then the origin does not matter at all; schnetpack's charge correction).
    """
    counts = torch.bincount(batch, minlength=n_graphs).to(pos.dtype)
    centroid = molecule_sum(pos, batch, n_graphs) / counts[:, None]
    if neutral:
        q = q - (molecule_sum(q, batch, n_graphs) / counts).index_select(0, batch)
    dx = pos - centroid.index_select(0, batch)
    return molecule_sum(q[:, None] * dx, batch, n_graphs)
