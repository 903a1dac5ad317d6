"""IrrepsExplorer: pick a group and two irreps; see their product, weights, CG tensors and an
intertwiner check that holds to machine precision while you move the group element."""

from __future__ import annotations

from typing import Any

import anywidget
import torch
import traitlets

from workbench.groups import O3, SL2C, SO, SO3, SU, SU2, Group, GroupElement, Lorentz

from ._assets import widget_css, widget_esm

__all__ = ["IrrepsExplorer", "default_groups", "weight_coordinates"]


def default_groups() -> dict[str, Group]:
    """The groups offered in the explorer, by name."""
    groups: list[Group] = [SO3(), O3(), SU2(), SU(3), SO(4), SO(5), SL2C(), Lorentz()]
    return {g.name: g for g in groups}


def weight_coordinates(group: Group, weights: torch.Tensor) -> list[list[float]]:
    """Dynkin-basis weights -> points in the plane with the Killing-form geometry.

    The inner product of weights in the Dynkin basis is A^-1 (times root lengths, all equal
    for the algebras here), so x = w R with R^T R = A^-1 draws SU(3) weights on the familiar
    hexagonal lattice. Rank 1 uses the x-axis only.
    """
    form = torch.linalg.inv(group.cartan_matrix.double())
    form = (form + form.T) / 2
    R = torch.linalg.cholesky(form).T  # upper triangular, R^T R = form
    xy = weights.double() @ R.T
    if xy.shape[1] == 1:
        xy = torch.cat([xy, torch.zeros_like(xy)], dim=1)
    return xy[:, :2].tolist()


def _matrix_view(M: torch.Tensor) -> dict[str, Any]:
    """Real and imaginary parts for a heatmap (imag omitted when zero)."""
    M = M.to(torch.complex128)
    view = {"re": M.real.tolist()}
    if M.imag.abs().max() > 1e-14:
        view["im"] = M.imag.tolist()
    return view


class IrrepsExplorer(anywidget.AnyWidget):
    """The representation theory of ``workbench.groups`` you can click through.

    Shows the decomposition of a x b (multiplicities, dimensions), the weight diagrams of a,
    b and c, one slice of the Clebsch-Gordan tensor of a chosen path a x b -> c, the generator
    matrices of a, and the intertwiner residual

    .. math:: \\max |C (D_a(g) \\otimes D_b(g)) - D_c(g) C| / \\max |C|

    for g = exp(angle X_z) exp(rapidity K_z) (rotation about z, then a boost for the Lorentz
    groups). All numbers are computed here; the front end only draws them.
    """

    _esm = widget_esm("irreps.js", ("plotly",))
    _css = widget_css("irreps.css")

    group_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    group_name = traitlets.Unicode("SO(3)").tag(sync=True)
    choices = traitlets.List(traitlets.Unicode()).tag(sync=True)
    irrep_a = traitlets.Unicode("1").tag(sync=True)
    irrep_b = traitlets.Unicode("1").tag(sync=True)
    irrep_c = traitlets.Unicode("").tag(sync=True)
    path = traitlets.Int(0).tag(sync=True)
    slice_index = traitlets.Int(0).tag(sync=True)
    generator = traitlets.Int(0).tag(sync=True)
    angle = traitlets.Float(0.7).tag(sync=True)
    rapidity = traitlets.Float(0.0).tag(sync=True)
    compact = traitlets.Bool(True).tag(sync=True)

    decomposition = traitlets.List(traitlets.Dict()).tag(sync=True)
    weights = traitlets.Dict().tag(sync=True)
    cg_view = traitlets.Dict().tag(sync=True)
    generator_view = traitlets.Dict().tag(sync=True)
    residual = traitlets.Float(0.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        group: Group | str = "SO(3)",
        a: str | None = None,
        b: str | None = None,
        *,
        groups: dict[str, Group] | None = None,
        **kwargs: Any,
    ) -> None:
        self._groups = groups or default_groups()
        name = group if isinstance(group, str) else group.name
        if not isinstance(group, str):
            self._groups.setdefault(name, group)
        if name not in self._groups:
            raise ValueError(f"unknown group {name!r}; choose one of {sorted(self._groups)}")
        self._hold = True  # no recomputation while the constructor sets the traits
        self._initial: tuple | None = (name, a, b)
        super().__init__(group_names=list(self._groups), **kwargs)  # opens the comm: see open()

    def open(self) -> None:
        """Open the comm with the chosen group, irreps and their views already computed: the
        front end gets the whole state in the comm's first message. (An update sent right
        after it can be lost while the front end is still loading the widget's module on a
        busy machine, leaving an empty view that no later update reaches.)"""
        if self.comm is None and self._initial is not None:
            (name, a, b), self._initial = self._initial, None
            self._set_group(name, a, b)
            self._hold = False
            self._update()
        super().open()

    @property
    def group(self) -> Group:
        return self._groups[self.group_name]

    def _set_group(self, name: str, a: str | None = None, b: str | None = None) -> None:
        group = self._groups[name]
        labels = _small_irreps(group)
        self.group_name = name
        self.compact = group.compact
        self.choices = labels
        faithful = str(group.irrep(group._faithful_label))
        self.irrep_a = a or faithful
        self.irrep_b = b or faithful

    @traitlets.observe("group_name")
    def _on_group(self, change: dict) -> None:
        if not self._hold and change["new"] != change["old"]:
            self._hold = True
            self._set_group(change["new"])
            self._hold = False
            self._update()

    @traitlets.observe(
        "irrep_a", "irrep_b", "irrep_c", "path", "slice_index", "generator", "angle", "rapidity"
    )
    def _on_change(self, change: dict) -> None:
        if not self._hold:
            self._update()

    def element(self) -> GroupElement:
        """g = exp(angle X_z) exp(rapidity K_z) in this group's generator basis."""
        group = self.group
        rotation = [0.0] * group.algebra_dim
        rotation[2] = self.angle  # the third generator (SO(3): about z; SO(n): L_14 or L_23)
        factors = [tuple(rotation)]
        if not group.compact:
            boost = [0.0] * group.algebra_dim
            boost[5] = self.rapidity
            factors.append(tuple(boost))
        discrete = (1,) * group.num_discrete  # include parity where the group has it
        return GroupElement(group, tuple(factors), discrete)

    def _update(self) -> None:
        group = self.group
        self._hold = True
        try:
            a, b = group.irrep(self.irrep_a), group.irrep(self.irrep_b)
            product = group.decompose(a, b)
            self.decomposition = [
                {"label": str(ir), "mul": mul, "dim": ir.dim} for mul, ir in product
            ]
            if self.irrep_c not in [str(ir) for _, ir in product]:
                self.irrep_c = str(product[-1][1])
            c = group.irrep(self.irrep_c)
            C = group.cg(a, b, c)
            self.path = min(max(self.path, 0), C.shape[0] - 1)
            self.slice_index = min(max(self.slice_index, 0), c.dim - 1)
            self.generator = min(max(self.generator, 0), group.algebra_dim - 1)
            self.weights = {
                key: {"label": str(ir), "xy": weight_coordinates(group, group.weights(ir))}
                for key, ir in (("a", a), ("b", b), ("c", c))
            }
            self.cg_view = {
                "paths": int(C.shape[0]),
                "shape": list(C.shape[1:]),
                **_matrix_view(C[self.path, :, :, self.slice_index]),
            }
            self.generator_view = _matrix_view(group.generators(a)[self.generator])
            self.residual = intertwiner_residual(group, a, b, c, self.element())
            self.error = ""
        except ValueError as err:
            self.error = str(err)
        finally:
            self._hold = False


def intertwiner_residual(group: Group, a, b, c, g: GroupElement) -> float:
    """max |C (D_a x D_b) - D_c C| / max |C| over all paths of a x b -> c."""
    C = group.cg(a, b, c)
    Da, Db, Dc = group.rep(a, g), group.rep(b, g), group.rep(c, g)
    lhs = torch.einsum("pijk,ia,jb->pabk", C.to(Da.dtype), Da, Db)
    rhs = torch.einsum("kl,pabl->pabk", Dc, C.to(Dc.dtype))
    return float((lhs - rhs).abs().max() / C.abs().max()) if C.numel() else 0.0


def _small_irreps(group: Group, max_dim: int = 16) -> list[str]:
    """Irreps offered in the menus: those reached from the group's seed irreps (the faithful
    irrep, and its conjugate where that differs) by tensor products, up to ``max_dim``."""
    seeds = [group.irrep(label) for label in group._menu_seeds]
    seen, frontier = set(seeds), list(seeds)
    while frontier:
        current = frontier.pop()
        for seed in seeds:
            for _, new in group.decompose(current, seed):
                if new.dim <= max_dim and new not in seen:
                    seen.add(new)
                    frontier.append(new)
    return [str(ir) for ir in sorted(seen, key=lambda ir: (ir.dim, ir.label))]
