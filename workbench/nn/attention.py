r"""Equiformer's building blocks: equivariant graph attention, layer norm and feed-forward.

Equiformer (Liao & Smidt, arXiv 2206.11990) is a pre-norm Transformer on irreps features
x_i:

.. math::
    x_i \leftarrow x_i + \mathrm{GA}(\mathrm{LN}(x))_i, \qquad
    x_i \leftarrow x_i + \mathrm{FFN}(\mathrm{LN}(x_i)).

Equivariant graph attention, for the edges j -> i with harmonics
:math:`Y_{ij} = Y(\hat r_{ij})` and radial basis :math:`e(|r_{ij}|)`:

.. math::
    x_{ij} &= L_\mathrm{dst}(x_i) + L_\mathrm{src}(x_j) \\
    f_{ij} &= \mathrm{DTP}_{w(e)}(x_{ij}, Y_{ij})
        &\text{depth-wise TP, weights from an MLP of } e \\
    a_{ij}^{(h)} &= \operatorname{softmax}_{j \in \mathcal N(i)}
        \big(a^{(h)} \cdot \mathrm{LeakyReLU}(L_\alpha(f_{ij})^{(h)})\big)
        &\text{MLP attention on the invariants of } f_{ij} \\
    v_{ij} &= L_v\big(\mathrm{DTP}_{w}(\mathrm{Gate}(L(f_{ij})), Y_{ij})\big)
        &\text{non-linear message} \\
    \mathrm{GA}(x)_i &= L_\mathrm{out}\Big(\textstyle\bigoplus_h \sum_j a_{ij}^{(h)}
        v_{ij}^{(h)}\Big) &\text{multi-head}

The depth-wise ("uvu") tensor product couples each channel of x_ij with each harmonic and
keeps only the irreps of the target (plus invariants), as Equiformer's
``DepthwiseTensorProduct``. The layer norm centres the invariants and divides every block
by the RMS norm of its channels (Equiformer's ``EquivariantLayerNormV2``); the feed-forward
network is Linear -> Gate -> Linear. Built from ``workbench.nn`` layers, so any compact group
of ``workbench.groups`` works (Equiformer uses O(3)).

Shapes: node features (N, irreps.dim); ``edge_src``, ``edge_dst`` (E,) long; harmonics
(E, irreps_sh.dim); radial embeddings (E, num_basis).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from workbench.groups import O3, Group, Irreps

from ._util import block_starts, compute_dtype, split_blocks
from .embedding import RadialMLP
from .gate import Gate
from .linear import Linear
from .tensor_product import ChannelwiseTensorProduct

__all__ = [
    "DepthwiseLinear",
    "EquiformerBlock",
    "EquivariantLayerNorm",
    "FeedForward",
    "GraphAttention",
    "IrrepsLinear",
    "depthwise_tensor_product",
    "gate_for",
    "segment_softmax",
    "smooth_leaky_relu",
]


def _group_of(irreps: Any, group: Group | None) -> Group:
    return group or (irreps.group if isinstance(irreps, Irreps) else O3())


def _trivial_index(irreps: Irreps) -> torch.Tensor:
    """Positions of the invariant (trivial-irrep) components of an irreps-shaped vector."""
    parts = [
        torch.arange(start, start + mul)
        for start, (mul, ir) in zip(block_starts(irreps), irreps, strict=True)
        if ir == irreps.group.trivial
    ]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


def segment_softmax(logits: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Softmax of ``logits`` (E, ...) over the entries sharing a value of ``index`` (E,).

    The maximum of each segment is subtracted first (detached: the result does not depend on
    it), as ``torch_geometric.utils.softmax``.
    """
    shape = (num_segments, *logits.shape[1:])
    expanded = index.view(-1, *([1] * (logits.dim() - 1))).expand_as(logits)
    top = logits.new_full(shape, float("-inf")).scatter_reduce(
        0, expanded, logits.detach(), reduce="amax", include_self=True
    )
    exp = torch.exp(logits - top.index_select(0, index))
    total = logits.new_zeros(shape).index_add(0, index, exp)
    return exp / total.index_select(0, index)


def smooth_leaky_relu(x: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    """(1 + s)/2 x + (1 - s)/2 x (2 sigmoid(x) - 1): Equiformer's smooth LeakyReLU."""
    return (1 + negative_slope) / 2 * x + (1 - negative_slope) / 2 * x * (2 * torch.sigmoid(x) - 1)


class IrrepsLinear(torch.nn.Module):
    """``workbench.nn.Linear`` plus a learnable bias on the invariant outputs (Equiformer's
    ``LinearRS``): (..., irreps_in.dim) -> (..., irreps_out.dim).

    Same weights and outputs as the wrapped ``Linear`` (tested), computed with one matrix
    product per output block: the input blocks feeding it are stacked along the channels.
    """

    def __init__(self, irreps_in: Any, irreps_out: Any, bias: bool = True, *, group=None):
        super().__init__()
        group = _group_of(irreps_in, group)
        self.linear = Linear(irreps_in, irreps_out, group=group)
        self.irreps_in, self.irreps_out = self.linear.irreps_in, self.linear.irreps_out
        index = _trivial_index(self.irreps_out)
        self.register_buffer("bias_index", index, persistent=False)
        self.bias = torch.nn.Parameter(torch.zeros(len(index))) if bias and len(index) else None
        # per output block: [(input block, weight offset, u, w, path weight)]
        self.plan: list[list[tuple[int, int, int, int, float]]] = [[] for _ in self.irreps_out]
        offset = 0
        for (i, j), (u, w), alpha in zip(
            self.linear.instructions, self.linear.shapes, self.linear.path_weights, strict=True
        ):
            self.plan[j].append((i, offset, u, w, alpha))
            offset += u * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.irreps_in.dim:
            raise ValueError(
                f"input has {x.shape[-1]} features but irreps_in {self.irreps_in} has dimension "
                f"{self.irreps_in.dim}"
            )
        batch = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        n = x.shape[0]
        blocks = torch.split(x, [mul * ir.dim for mul, ir in self.irreps_in], dim=-1)
        weight = self.linear.weight.to(x.dtype)
        out = []
        for (mul, ir), plan in zip(self.irreps_out, self.plan, strict=True):
            d = ir.dim
            if not plan:
                out.append(x.new_zeros(n, mul * d))
                continue
            W = torch.cat([alpha * weight[o : o + u * w].view(u, w) for _, o, u, w, alpha in plan])
            xs = [blocks[i].view(n, u, d) for i, _, u, _, _ in plan]
            xs = xs[0] if len(xs) == 1 else torch.cat(xs, dim=1)  # (n, sum u, d)
            if d == 1:
                out.append(xs.view(n, -1) @ W)
            else:
                y = xs.transpose(1, 2).reshape(n * d, -1) @ W  # (n d, w)
                out.append(y.view(n, d, mul).transpose(1, 2).reshape(n, mul * d))
        y = torch.cat(out, dim=-1) if len(out) > 1 else out[0]
        if self.bias is not None:
            y = y.index_add(-1, self.bias_index, self.bias.to(y.dtype).expand(n, -1))
        return y.reshape(*batch, -1)

    def extra_repr(self) -> str:
        return f"bias={self.bias is not None}"


def gate_for(irreps: Any, *, group: Group | None = None) -> Gate:
    """A Gate whose output is ``irreps``: SiLU on its invariants, each other irrep multiplied
    by the sigmoid of its own extra invariant (Equiformer's ``irreps2gate``)."""
    group = _group_of(irreps, group)
    irreps = group.Irreps(irreps)
    trivial = group.trivial
    scalars = Irreps(group, tuple((m, ir) for m, ir in irreps if ir == trivial)).simplify()
    gated = Irreps(group, tuple((m, ir) for m, ir in irreps if ir != trivial))
    gates = Irreps(group, ((gated.num_irreps, trivial),) if gated.num_irreps else ())
    silu = torch.nn.functional.silu
    return Gate(
        scalars, [silu] * len(scalars), gates, [torch.sigmoid] * len(gates), gated, group=group
    )


def depthwise_tensor_product(
    irreps_in: Any, irreps_sh: Any, irreps_target: Any, *, shared_weights: bool, group=None
) -> ChannelwiseTensorProduct:
    """Equiformer's depth-wise TP: every channel of x times every harmonic ("uvu"), keeping the
    output irreps that occur in ``irreps_target`` and the invariants."""
    group = _group_of(irreps_in, group)
    target = group.Irreps(irreps_target)
    keep = Irreps(group, ((1, group.trivial), *((1, ir) for _, ir in target)))
    return ChannelwiseTensorProduct(
        irreps_in, irreps_sh, keep, group=group, shared_weights=shared_weights
    )


class DepthwiseLinear(torch.nn.Module):
    r"""``IrrepsLinear(DTP(x, y, w))``: Equiformer's depth-wise tensor product followed by a
    linear layer (its ``SeparableFCTP`` without activation), in one pass.

    The result equals ``self.linear(self.tp(x, y, w))`` with the wrapped
    :func:`depthwise_tensor_product` and :class:`IrrepsLinear` (tested), but the product is
    never laid out as irreps. For each path p (block a of x with u channels, harmonic b,
    output irrep c):

    .. math:: G^p_e = y^{(b)}_e \cdot \alpha_p C^p \in \mathbb R^{d_c \times d_a}, \quad
              P^p_e = G^p_e\, (w^p_e \odot x^{(a)}_e)^T \in \mathbb R^{d_c \times u}, \quad
              z^{(c)}_e \mathrel{+}= P^p_e\, W_p

    where :math:`W_p` (u x outputs of irrep c) are the linear layer's weights of that path.
    Needs harmonics of multiplicity 1.

    Args:
        irreps_in, irreps_sh, irreps_target: as :func:`depthwise_tensor_product`.
        irreps_out: irreps of the linear layer's output.
        shared_weights: one weight vector (a parameter, as Equiformer's value TP) instead of
            per-edge weights passed to ``forward``.
        bias: bias on the invariant outputs.

    ``forward(x (E, irreps_in.dim), y (E, irreps_sh.dim), weight (E, weight_numel) or None)``
    -> (E, irreps_out.dim).
    """

    def __init__(
        self,
        irreps_in: Any,
        irreps_sh: Any,
        irreps_target: Any,
        irreps_out: Any,
        *,
        shared_weights: bool,
        bias: bool = True,
        group: Group | None = None,
    ) -> None:
        super().__init__()
        group = _group_of(irreps_in, group)
        self.group = group
        self.tp = depthwise_tensor_product(
            irreps_in, irreps_sh, irreps_target, shared_weights=shared_weights, group=group
        )
        self.linear = IrrepsLinear(self.tp.irreps_out, irreps_out, bias=bias, group=group)
        self.irreps_in, self.irreps_sh = self.tp.irreps_in1, self.tp.irreps_in2
        self.irreps_out, self.weight_numel = self.linear.irreps_out, self.tp.weight_numel
        if any(mul != 1 for mul, _ in self.irreps_sh):
            raise ValueError(f"irreps_sh {self.irreps_sh}: give each harmonic once")
        tp, lin = self.tp, self.linear
        # per TP instruction k (= TP output block k): (x block, harmonic block, u, d_a, d_c)
        self.paths: list[tuple[int, int, int, int, int]] = []
        for k, ins in enumerate(tp.instructions):
            (u, a), (_, b) = self.irreps_in[ins.i_in1], self.irreps_sh[ins.i_in2]
            c = tp.irreps_out[ins.i_out][1]
            if tp.path_shapes[k] != (u, 1):
                raise AssertionError("unexpected depth-wise tensor product layout")
            C = group.cg(a, b, c)[ins.path] * tp.alphas[k]  # (d_a, d_b, d_c)
            F = C.permute(1, 2, 0).reshape(b.dim, c.dim * a.dim)
            if F.is_complex() and F.imag.abs().max() < 1e-12:
                F = F.real
            self.register_buffer(f"F{k}", F.contiguous(), persistent=False)
            self.paths.append((ins.i_in1, ins.i_in2, u, a.dim, c.dim))
        # blocks of x that are not invariant: all their paths in one batched product,
        # y @ F_a -> G (E, K, d_a) with the paths' d_c rows stacked (K = sum d_c)
        self.stacked: list[tuple[int, list[int]]] = []  # (x block, its paths)
        sh_starts = block_starts(self.irreps_sh)
        for i1, (_, a) in enumerate(self.irreps_in):
            members = [k for k, path in enumerate(self.paths) if path[0] == i1]
            if a.dim == 1 or not members:
                continue
            parts = []
            for k in members:
                i2, dc = self.paths[k][1], self.paths[k][4]
                part = torch.zeros(self.irreps_sh.dim, dc, a.dim, dtype=group.dtype)
                j0 = sh_starts[i2]
                F = getattr(self, f"F{k}").view(-1, dc, a.dim)
                part[j0 : j0 + F.shape[0]] = F.to(group.dtype)
                parts.append(part)
            F = torch.cat(parts, dim=1)
            if F.is_complex() and F.imag.abs().max() < 1e-12:
                F = F.real
            F = F.reshape(self.irreps_sh.dim, -1)
            self.register_buffer(f"stacked{i1}", F, persistent=False)
            self.stacked.append((i1, members))
        # per output irrep c: the output blocks j of irrep c that the same paths feed, and
        # for each such path k the linear's weights [(j, offset, u, w, path weight)]
        path_of_block = {ins.i_out: k for k, ins in enumerate(tp.instructions)}
        self.groups: list[tuple[int, list[int], list[tuple[int, list[tuple]]]]] = []
        done: set[int] = set()
        for j, (_, c) in enumerate(self.irreps_out):
            if j in done or not lin.plan[j]:
                continue
            sources = [i for i, *_ in lin.plan[j]]
            targets = [
                jj
                for jj, (_, cc) in enumerate(self.irreps_out)
                if cc == c and [i for i, *_ in lin.plan[jj]] == sources
            ]
            done.update(targets)
            per_path = [
                (path_of_block[i], [(jj, *next(t[1:] for t in lin.plan[jj] if t[0] == i))
                                    for jj in targets])
                for i in sources
            ]  # fmt: skip
            self.groups.append((c.dim, targets, per_path))

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if x.shape[-1] != self.irreps_in.dim or y.shape[-1] != self.irreps_sh.dim:
            raise ValueError(
                f"expected x (E, {self.irreps_in.dim}) and y (E, {self.irreps_sh.dim}), got "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
        weight = self.tp._weights(weight, x, y)
        n = x.shape[0]
        dtype = compute_dtype(x.dtype, y.dtype, complex_=self.group.dtype.is_complex)
        x, y, weight = x.to(dtype), y.to(dtype), weight.to(dtype)
        xs = torch.split(x, [mul * ir.dim for mul, ir in self.irreps_in], dim=-1)
        ys = torch.split(y, [ir.dim for _, ir in self.irreps_sh], dim=-1)
        ws = torch.split(weight, [u for _, _, u, _, _ in self.paths], dim=-1)
        W_lin = self.linear.linear.weight.to(dtype)
        rows_of: dict[int, torch.Tensor] = {}  # path -> (E, d_c, u) rows of a batched product
        for i1, members in self.stacked:
            u, da = self.paths[members[0]][2], self.paths[members[0]][3]
            G = (y @ getattr(self, f"stacked{i1}").to(dtype)).view(n, -1, da)
            P = torch.bmm(G, xs[i1].view(n, u, da).transpose(1, 2))  # (E, K, u)
            rows = torch.split(P, [self.paths[k][4] for k in members], dim=1)
            rows_of.update(zip(members, rows, strict=True))
        out: list[torch.Tensor | None] = [None] * len(self.irreps_out)
        for dc, targets, per_path in self.groups:
            z = None
            for k, pieces in per_path:
                i1, i2, u, da, _ = self.paths[k]
                W = torch.cat(
                    [alpha * W_lin[o : o + uu * ww].view(uu, ww) for _, o, uu, ww, alpha in pieces],
                    dim=1,
                )  # (u, outputs of irrep c)
                shared = self.tp.shared_weights
                if shared:
                    W = W * ws[k][:, None]
                if da == 1:  # invariant input: contract the channels first, G (x W)
                    xk = xs[i1] if shared else xs[i1] * ws[k]
                    G = ys[i2] @ getattr(self, f"F{k}").to(dtype)  # (E, d_c)
                    zk = G.unsqueeze(-1) * (xk @ W).unsqueeze(1)
                else:
                    P = rows_of[k]  # (E, d_c, u), made contiguous by the weights or a copy
                    P = P.reshape(n * dc, u) if shared else P * ws[k].unsqueeze(1)
                    zk = (P.view(n * dc, u) @ W).view(n, dc, -1)
                z = zk if z is None else z + zk
            start = 0
            for j in targets:
                mul = self.irreps_out[j][0]
                zj = z[..., start : start + mul]
                out[j] = zj.reshape(n, mul) if dc == 1 else zj.transpose(1, 2).reshape(n, -1)
                start += mul
        blocks = [
            o if o is not None else x.new_zeros(n, mul * ir.dim)
            for o, (mul, ir) in zip(out, self.irreps_out, strict=True)
        ]
        z = torch.cat(blocks, dim=-1)
        lin = self.linear
        if lin.bias is not None:
            z = z.index_add(-1, lin.bias_index, lin.bias.to(z.dtype).expand(n, -1))
        return z


class EquivariantLayerNorm(torch.nn.Module):
    r"""Layer norm of irreps features (Equiformer's ``EquivariantLayerNormV2``), per block:

    .. math:: \tilde x_{u} = \frac{x_u - \bar x}{\sqrt{\tfrac{1}{\mathrm{mul}\, d}
              \sum_{u,m} |x_{um} - \bar x_m|^2 + \epsilon}}\, \gamma_u + \beta_u

    where the mean :math:`\bar x` over channels and the bias :math:`\beta` are used for the
    invariants only. Needs a compact group (norms invariant). (N, irreps.dim) -> same.
    """

    def __init__(self, irreps: Any, eps: float = 1e-5, affine: bool = True, *, group=None):
        super().__init__()
        group = _group_of(irreps, group)
        if not group.compact:
            raise ValueError(f"{group} is not compact: feature norms are not invariant")
        self.irreps, self.eps = group.Irreps(irreps), float(eps)
        n_trivial = self.irreps.count(group.trivial)
        self.weight = torch.nn.Parameter(torch.ones(self.irreps.num_irreps)) if affine else None
        self.bias = torch.nn.Parameter(torch.zeros(n_trivial)) if affine and n_trivial else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.irreps.dim:
            raise ValueError(f"expected (..., {self.irreps.dim}) for {self.irreps}, got {x.shape}")
        out, iw, ib = [], 0, 0
        for (mul, ir), block in zip(self.irreps, split_blocks(x, self.irreps), strict=True):
            trivial = ir == self.irreps.group.trivial
            if trivial:
                block = block - block.mean(dim=-2, keepdim=True)
            power = (block.abs() ** 2 if block.is_complex() else block**2).mean(dim=(-2, -1))
            block = block * torch.rsqrt(power + self.eps)[..., None, None]
            if self.weight is not None:
                block = block * self.weight[iw : iw + mul, None].to(block.dtype)
                if trivial and self.bias is not None:
                    block = block + self.bias[ib : ib + mul, None].to(block.dtype)
                    ib += mul
            iw += mul
            out.append(block.reshape(*x.shape[:-1], mul * ir.dim))
        return torch.cat(out, dim=-1)

    def extra_repr(self) -> str:
        return f"{self.irreps}, eps={self.eps}"


class FeedForward(torch.nn.Module):
    """Linear -> Gate -> Linear on irreps (Equiformer's FFN with the constant node attribute,
    where its tensor products with ``1x0e`` are linear layers with bias)."""

    def __init__(self, irreps_in: Any, irreps_mid: Any, irreps_out: Any, *, group=None):
        super().__init__()
        group = _group_of(irreps_in, group)
        self.gate = gate_for(irreps_mid, group=group)
        self.linear_in = IrrepsLinear(irreps_in, self.gate.irreps_in, group=group)
        self.linear_out = IrrepsLinear(self.gate.irreps_out, irreps_out, group=group)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_out(self.gate(self.linear_in(x)))


class GraphAttention(torch.nn.Module):
    """Equiformer's equivariant graph attention with MLP attention and non-linear messages.

    Args:
        irreps_node: irreps of the node features (input and output).
        irreps_sh: irreps of the edge harmonics (e.g. ``"0e + 1o + 2e"``).
        irreps_head: irreps of one head's value; the heads together carry
            ``num_heads x irreps_head``, and the attention logits of a head come from
            (number of its invariants) invariants of f_ij.
        num_heads: number of heads.
        num_basis: size of the radial embedding of the edge lengths.
        radial_hidden: hidden widths of the MLP giving the first depth-wise TP's weights.
        alpha_drop: dropout on the attention weights (training only).

    ``forward(x, edge_src, edge_dst, edge_sh, edge_radial) -> (N, irreps_node.dim)``.
    """

    def __init__(
        self,
        irreps_node: Any,
        irreps_sh: Any,
        irreps_head: Any,
        num_heads: int,
        num_basis: int,
        radial_hidden: Sequence[int] = (64, 64),
        alpha_drop: float = 0.0,
        *,
        group: Group | None = None,
    ) -> None:
        super().__init__()
        group = _group_of(irreps_node, group)
        self.irreps_node = node = group.Irreps(irreps_node)
        self.irreps_sh = sh = group.Irreps(irreps_sh)
        head = group.Irreps(irreps_head)
        if num_heads < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads}")
        self.num_heads = num_heads
        # all heads: each block's channels, head-major (head h owns a contiguous range)
        self.irreps_heads = Irreps(group, tuple((m * num_heads, ir) for m, ir in head))
        self.alpha_per_head = head.count(group.trivial)
        if self.alpha_per_head == 0:
            raise ValueError(
                f"irreps_head {head} has no invariant ({group.trivial}): the attention logits "
                "are computed from invariants"
            )
        head_of = [h for m, ir in head for h in range(num_heads) for _ in range(m * ir.dim)]
        heads = torch.nn.functional.one_hot(torch.tensor(head_of), num_heads).T
        self.register_buffer("heads", heads.to(torch.get_default_dtype()), persistent=False)

        self.merge_src = IrrepsLinear(node, node, bias=True)
        self.merge_dst = IrrepsLinear(node, node, bias=False)
        self.gate = gate_for(node, group=group)
        irreps_alpha = Irreps(group, ((self.alpha_per_head * num_heads, group.trivial),))
        self.n_alpha = irreps_alpha.dim
        # f_ij -> (attention invariants, gate input) in one depth-wise TP + linear
        self.message = DepthwiseLinear(
            node, sh, node, irreps_alpha + self.gate.irreps_in, shared_weights=False
        )
        self.radial = RadialMLP((num_basis, *radial_hidden, self.message.weight_numel))
        self.alpha_dot = torch.nn.Parameter(torch.empty(num_heads, self.alpha_per_head))
        bound = (6 / (num_heads + self.alpha_per_head)) ** 0.5  # glorot, as GATv2 / Equiformer
        torch.nn.init.uniform_(self.alpha_dot, -bound, bound)
        self.value = DepthwiseLinear(
            self.gate.irreps_out, sh, self.irreps_heads, self.irreps_heads, shared_weights=True
        )
        self.alpha_dropout = torch.nn.Dropout(alpha_drop) if alpha_drop > 0 else None
        self.proj = IrrepsLinear(self.irreps_heads, node)

    def attention(self, x, edge_src, edge_dst, edge_sh, edge_radial):
        """The attention weights (E, num_heads) and values (E, irreps_heads.dim) of each edge."""
        message = self.merge_src(x).index_select(0, edge_src)
        message = message + self.merge_dst(x).index_select(0, edge_dst)
        f = self.message(message, edge_sh, self.radial(edge_radial))
        alpha, gate_in = torch.split(f, [self.n_alpha, f.shape[-1] - self.n_alpha], dim=-1)
        alpha = alpha.reshape(-1, self.num_heads, self.alpha_per_head)
        logits = (smooth_leaky_relu(alpha) * self.alpha_dot).sum(-1)
        weights = segment_softmax(logits, edge_dst, x.shape[0])
        value = self.value(self.gate(gate_in), edge_sh)
        return weights, value

    def forward(self, x, edge_src, edge_dst, edge_sh, edge_radial) -> torch.Tensor:
        weights, value = self.attention(x, edge_src, edge_dst, edge_sh, edge_radial)
        if self.alpha_dropout is not None:
            weights = self.alpha_dropout(weights)
        messages = value * (weights @ self.heads.to(weights.dtype))  # each head's features
        out = messages.new_zeros(x.shape[0], messages.shape[-1]).index_add(0, edge_dst, messages)
        return self.proj(out)

    def extra_repr(self) -> str:
        return f"{self.irreps_node}, heads {self.num_heads} x ({self.irreps_heads} / heads)"


class EquiformerBlock(torch.nn.Module):
    """One pre-norm Transformer block: x + GA(LN(x)), then + FFN(LN(x)); irreps unchanged.

    Arguments as :class:`GraphAttention`, plus ``irreps_mlp_mid`` (the FFN's hidden irreps).
    """

    def __init__(
        self,
        irreps_node: Any,
        irreps_sh: Any,
        irreps_head: Any,
        num_heads: int,
        irreps_mlp_mid: Any,
        num_basis: int,
        radial_hidden: Sequence[int] = (64, 64),
        alpha_drop: float = 0.0,
        *,
        group: Group | None = None,
    ) -> None:
        super().__init__()
        group = _group_of(irreps_node, group)
        self.norm_1 = EquivariantLayerNorm(irreps_node, group=group)
        self.attention = GraphAttention(
            irreps_node, irreps_sh, irreps_head, num_heads, num_basis, radial_hidden,
            alpha_drop, group=group,
        )  # fmt: skip
        self.norm_2 = EquivariantLayerNorm(irreps_node, group=group)
        self.ffn = FeedForward(irreps_node, irreps_mlp_mid, irreps_node, group=group)

    def forward(self, x, edge_src, edge_dst, edge_sh, edge_radial) -> torch.Tensor:
        x = x + self.attention(self.norm_1(x), edge_src, edge_dst, edge_sh, edge_radial)
        return x + self.ffn(self.norm_2(x))
