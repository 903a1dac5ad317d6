r"""Non-equivariant point-cloud classifiers: the baselines an O(3)-invariant model is measured
against, plus the random O(3) augmentation they are trained with.

Both models read a padded batch of clouds, ``pos`` (B, N, 3) with a boolean ``mask`` (B, N)
(True for real points), and return logits (B, n_classes). Each cloud is first centred on its
masked centroid, :math:`x_i \to x_i - \frac{1}{n}\sum_{j\ \mathrm{valid}} x_j`, and padded
points are set to zero, so that exactly (up to round-off)

- translations :math:`x_i \to x_i + t` leave the logits unchanged (the centroid absorbs t);
- permutations of the points do too: the pooling over points is symmetric (max, mean);
- padding with masked points, whatever their values, does too: they are never pooled and
  never chosen as neighbours;

while rotations and reflections :math:`x_i \to R x_i` do **not**: the networks can only learn
that symmetry approximately, from :func:`augment` during training. Normalisation is a
per-point ``LayerNorm`` rather than the papers' BatchNorm, whose batch statistics would mix
padding and other clouds into each output and break the invariances above.

- :class:`PointNet`: shared per-point MLP, max pooling (Qi et al. 2017, arXiv 1612.00593),
  without the T-Net.
- :class:`DGCNN`: EdgeConv on dynamic kNN graphs (Wang et al. 2019, arXiv 1801.07829).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["DGCNN", "DGCNNConfig", "PointNet", "PointNetConfig", "augment", "random_rotations"]


@dataclass(frozen=True)
class PointNetConfig:
    """PointNet sizes: per-point MLP widths ``hidden``, classifier head widths ``head``."""

    n_classes: int
    hidden: tuple[int, ...] = (64, 128, 256)
    head: tuple[int, ...] = (128,)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        _check_config(self)


@dataclass(frozen=True)
class DGCNNConfig:
    """DGCNN sizes: ``k`` neighbours, EdgeConv widths ``hidden``, per-point embedding ``emb``
    (pooled by max and mean, so the head sees 2 * emb features), head widths ``head``."""

    n_classes: int
    k: int = 16
    hidden: tuple[int, ...] = (64, 64, 128)
    emb: int = 256
    head: tuple[int, ...] = (128,)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        _check_config(self)
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive int, got {self.k!r}")
        if not isinstance(self.emb, int) or self.emb < 1:
            raise ValueError(f"emb must be a positive int, got {self.emb!r}")


class PointNet(nn.Module):
    r"""PointNet classifier (Qi et al. 2017, arXiv 1612.00593), without the T-Net.

    .. math:: \mathrm{logits} = \gamma\Big(\max_{i\ \mathrm{valid}} h(x_i - \bar x)\Big)

    with h a shared per-point MLP (``config.hidden``), the max taken feature-wise over the
    valid points and γ an MLP head (``config.head``, dropout).

    ``model(pos, mask)``: pos (B, N, 3) float, mask (B, N) bool (None: all points valid)
    -> logits (B, n_classes). Invariant to translations, permutations and masked padding;
    not to rotations.
    """

    def __init__(self, config: PointNetConfig) -> None:
        super().__init__()
        self.config = config
        self.point_mlp = _mlp((3, *config.hidden), nn.ReLU)
        self.head = _head(config.hidden[-1], config.head, config.n_classes, config.dropout)

    def forward(self, pos: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x, mask = _centre(pos, mask)
        h = self.point_mlp(x)
        return self.head(_masked_max(h, mask))


class DGCNN(nn.Module):
    r"""Dynamic graph CNN classifier (Wang et al. 2019, arXiv 1801.07829).

    Each EdgeConv layer rebuilds the kNN graph in its input feature space (the first one in
    the centred coordinates; a point is its own nearest neighbour) and updates

    .. math:: x_i' = \max_{j \in \mathrm{kNN}(i)} h\big(x_i,\ x_j - x_i\big)

    with h a Linear + LayerNorm + LeakyReLU(0.2). The outputs of all layers are concatenated,
    embedded per point to ``config.emb`` features, pooled by max and mean over the valid
    points and classified by an MLP head. Masked points are never neighbours; a cloud with
    fewer than k valid points uses all of them.

    ``model(pos, mask)``: pos (B, N, 3) float, mask (B, N) bool (None: all points valid)
    -> logits (B, n_classes). Invariant to translations, permutations and masked padding;
    not to rotations.
    """

    def __init__(self, config: DGCNNConfig) -> None:
        super().__init__()
        self.config = config
        widths = (3, *config.hidden)
        self.edge_convs = nn.ModuleList(
            _mlp((2 * c_in, c_out), _leaky) for c_in, c_out in itertools.pairwise(widths)
        )
        self.embed = _mlp((sum(config.hidden), config.emb), _leaky)
        self.head = _head(2 * config.emb, config.head, config.n_classes, config.dropout)

    def forward(self, pos: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x, mask = _centre(pos, mask)
        features = []
        for edge_conv in self.edge_convs:
            x = self._edge_conv(edge_conv, x, mask)
            features.append(x)
        h = self.embed(torch.cat(features, dim=-1))
        count = mask.sum(dim=1, keepdim=True).to(h.dtype)
        mean = torch.where(mask[..., None], h, 0.0).sum(dim=1) / count
        return self.head(torch.cat([_masked_max(h, mask), mean], dim=-1))

    def _edge_conv(self, mlp: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One EdgeConv: (B, N, C) -> (B, N, C'), padded rows set to zero."""
        batch, n, _ = x.shape
        k = min(self.config.k, n)
        with torch.no_grad():  # the graph is a choice of indices: no gradient through it
            dist = torch.cdist(x, x)
            dist = dist.masked_fill(~mask[:, None, :], float("inf"))
            dist, idx = dist.topk(k, dim=-1, largest=False)  # (B, N, k)
        neighbour_ok = torch.isfinite(dist)  # False only where fewer than k points are valid
        x_j = x[torch.arange(batch, device=x.device)[:, None, None], idx]  # (B, N, k, C)
        x_i = x[:, :, None, :].expand_as(x_j)
        h = mlp(torch.cat([x_i, x_j - x_i], dim=-1))
        h = torch.where(neighbour_ok[..., None], h, float("-inf")).amax(dim=2)
        return torch.where(mask[..., None], h, 0.0)


def random_rotations(
    n: int,
    generator: torch.Generator | None = None,
    reflections: bool = True,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n`` Haar-random orthogonal 3x3 matrices, (n, 3, 3): O(3), or SO(3) if not
    ``reflections``.

    Q R = A for a Gaussian A, with the signs of R's diagonal moved into Q so that R's is
    positive: then Q is Haar-distributed on O(3) (Mezzadri 2007, arXiv math-ph/0609050), and
    det(Q) Q on SO(3). Sampled in float64 on the generator's device, then cast.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    where = generator.device if generator is not None else None
    a = torch.randn(n, 3, 3, generator=generator, dtype=torch.float64, device=where)
    q, r = torch.linalg.qr(a)
    q = q * torch.where(r.diagonal(dim1=-2, dim2=-1) < 0, -1.0, 1.0)[:, None, :]
    if not reflections:
        q = q * torch.linalg.det(q)[:, None, None]  # det(-Q) = -det(Q) in odd dimension
    return q.to(dtype=dtype, device=device)


def augment(
    pos: torch.Tensor,
    mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    reflections: bool = True,
) -> torch.Tensor:
    """Rotation augmentation: each cloud's valid points x_i -> R x_i about the origin, one
    Haar-random R per cloud (O(3), or SO(3) if not ``reflections``); padded points are
    returned unchanged. pos (B, N, 3), mask (B, N) bool -> (B, N, 3)."""
    mask = _check_cloud(pos, mask)
    rot = random_rotations(len(pos), generator, reflections, dtype=pos.dtype, device=pos.device)
    return torch.where(mask[..., None], torch.einsum("bij,bnj->bni", rot, pos), pos)


def _check_config(config: PointNetConfig | DGCNNConfig) -> None:
    if not isinstance(config.n_classes, int) or config.n_classes < 1:
        raise ValueError(f"n_classes must be a positive int, got {config.n_classes!r}")
    for name in ("hidden", "head"):
        widths = getattr(config, name)
        if isinstance(widths, list):  # a list would make the frozen config unhashable
            widths = tuple(widths)
            object.__setattr__(config, name, widths)
        if not isinstance(widths, tuple) or not all(isinstance(w, int) and w > 0 for w in widths):
            raise ValueError(f"{name} must be a tuple of positive ints, got {widths!r}")
    if not config.hidden:
        raise ValueError("hidden must name at least one layer width, got ()")
    if not 0.0 <= config.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {config.dropout!r}")


def _check_cloud(pos: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Validate a padded batch of clouds; return the mask (all True if None)."""
    if not isinstance(pos, torch.Tensor) or not pos.is_floating_point():
        raise TypeError(f"pos must be a floating torch tensor, got {_describe(pos)}")
    if pos.ndim != 3 or pos.shape[-1] != 3:
        raise ValueError(f"pos must have shape (batch, n_points, 3), got {tuple(pos.shape)}")
    if mask is None:
        return torch.ones(pos.shape[:2], dtype=torch.bool, device=pos.device)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool torch tensor, got {_describe(mask)}")
    if mask.shape != pos.shape[:2]:
        raise ValueError(
            f"mask has shape {tuple(mask.shape)} but pos {tuple(pos.shape)} needs "
            f"(batch, n_points) = {tuple(pos.shape[:2])}"
        )
    empty = (~mask.any(dim=1)).nonzero().flatten()
    if len(empty):
        raise ValueError(
            f"clouds {empty.tolist()} of the batch have no valid point (mask all False)"
        )
    return mask


def _describe(x: object) -> str:
    return f"tensor of dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__


def _centre(pos: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated clouds centred on their masked centroids, padded points zeroed (so garbage,
    even NaN, in the padding never reaches a value or a gradient); and the mask."""
    mask = _check_cloud(pos, mask)
    m = mask[..., None]
    x = torch.where(m, pos, 0.0)
    centroid = x.sum(dim=1, keepdim=True) / m.sum(dim=1, keepdim=True).to(pos.dtype)
    return torch.where(m, x - centroid, 0.0), mask


def _masked_max(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Feature-wise max over the valid points: (B, N, C) -> (B, C)."""
    return torch.where(mask[..., None], h, float("-inf")).amax(dim=1)


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.2)


def _mlp(widths: tuple[int, ...], activation: Callable[[], nn.Module]) -> nn.Sequential:
    """Per-point MLP: Linear, LayerNorm, activation for each consecutive pair of widths."""
    layers: list[nn.Module] = []
    for c_in, c_out in itertools.pairwise(widths):
        layers += [nn.Linear(c_in, c_out), nn.LayerNorm(c_out), activation()]
    return nn.Sequential(*layers)


def _head(c_in: int, widths: tuple[int, ...], n_classes: int, dropout: float) -> nn.Sequential:
    """Classifier head: (Linear, LayerNorm, ReLU, Dropout) per width, then Linear to logits."""
    layers: list[nn.Module] = []
    for c_out in widths:
        layers += [nn.Linear(c_in, c_out), nn.LayerNorm(c_out), nn.ReLU(), nn.Dropout(dropout)]
        c_in = c_out
    layers.append(nn.Linear(c_in, n_classes))
    return nn.Sequential(*layers)
