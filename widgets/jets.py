"""JetViewer: boost a jet and watch a Lorentz-invariant top tagger keep its score; plotly
figures of the taggers' ROC curves (:func:`roc_figure`) and the jet masses
(:func:`mass_figure`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import torch
import traitlets

from workbench import metrics
from workbench.data import kinematics

from ._assets import widget_css, widget_esm
from ._util import as_tensor as _as_tensor
from ._util import index_in as _index
from ._util import module_dtype as _dtype_of
from ._util import wrap_angle

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["JetViewer", "mass_figure", "mass_histogram", "roc_figure"]

Tagger = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

LABEL_NAMES = ("QCD", "top")  # label 0, label 1
AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0), "jet": None}
COORDINATES = ("absolute", "relative")
N_CURVE = 41  # rapidities at which the score curves are evaluated, across the slider's range
ETA_VIEW = 6.0  # the eta-phi frame never reaches beyond |eta| (or |delta y|) = ETA_VIEW
_CHUNK = 4096  # jets per block when validating the data and computing all jet masses
TOP_MASS, W_MASS = 173.0, 80.4  # GeV: the marks on the mass figure (PDG, rounded)


def mass_histogram(masses: Any, labels: Any, n_bins: int | None = None) -> dict:
    """Counts of jet masses per class, on shared bins from 0 to just above the largest mass.

    Every jet falls in a bin (nothing is cut away). ``n_bins`` defaults to
    ``clip(2 sqrt(n_jets), 10, 60)``. Returns ``{"edges": [n_bins + 1], "counts": {"QCD":
    [n_bins], "top": [n_bins]}}`` for labels 0 (QCD) and 1 (top).

    >>> mass_histogram([10.0, 170.0, 180.0], [0, 1, 1], n_bins=2)["counts"]
    {'QCD': [1, 0], 'top': [0, 2]}
    """
    masses = np.asarray(masses, dtype=np.float64)
    labels = np.asarray(labels)
    if n_bins is None:
        n_bins = int(np.clip(round(2 * math.sqrt(len(masses))), 10, 60))
    top = float(masses.max()) * 1.02 if len(masses) else 0.0
    edges = np.linspace(0.0, top if top > 0 else 1.0, n_bins + 1)
    counts = {
        name: np.histogram(masses[labels == k], edges)[0].tolist()
        for k, name in enumerate(LABEL_NAMES)
    }
    return {"edges": edges.tolist(), "counts": counts}


def roc_figure(
    scores: Mapping[str, Any],
    labels: Any,
    *,
    signal_efficiencies: Sequence[float] = (0.3, 0.5),
    title: str = "ROC curves",
) -> go.Figure:
    r"""ROC curves as the top-tagging literature draws them: background rejection
    :math:`1/\epsilon_B` (log scale) against signal efficiency :math:`\epsilon_S`, one curve
    per tagger (Kasieczka et al., arXiv 1902.09914, Fig. 4).

    ``scores``: name -> (n,) scores of each tagger on the same test jets (larger = more
    top-like; logits, probabilities or e.g. :math:`-|m_J - m_t|`); ``labels``: (n,) 1 top,
    0 QCD. The cuts ``score >= t`` give the points :math:`(\epsilon_S, 1/\epsilon_B)`
    (:func:`workbench.metrics.roc_curve`); points with :math:`\epsilon_B = 0` (no QCD jet
    passes: an unmeasurable, not infinite, rejection) cannot be drawn on a log axis and are
    left out. The legend gives each AUC; the dotted line is a random guess,
    :math:`1/\epsilon_B = 1/\epsilon_S`; dashed verticals mark ``signal_efficiencies``.
    """
    import plotly.graph_objects as go

    if not isinstance(scores, Mapping) or not scores:
        raise ValueError(
            f"scores must be a non-empty dict: tagger name -> (n,) scores; got {scores!r:.80}"
        )
    fig = go.Figure()
    for name, values in scores.items():
        try:
            fpr, tpr, _ = metrics.roc_curve(values, labels)
        except (TypeError, ValueError) as err:
            raise type(err)(f"scores[{name!r}]: {err}") from None
        area = metrics.auc(values, labels)
        keep = fpr > 0
        fig.add_trace(
            go.Scatter(
                x=tpr[keep],
                y=1.0 / fpr[keep],
                mode="lines",
                name=f"{name} (AUC {area:.3f})",
                hovertemplate="ε_S %{x:.3f}<br>1/ε_B %{y:.4g}<extra>" + str(name) + "</extra>",
            )
        )
    grid = np.linspace(0.01, 1.0, 100)
    fig.add_trace(
        go.Scatter(
            x=grid,
            y=1.0 / grid,
            mode="lines",
            name="random guess",
            line={"dash": "dot", "color": "gray"},
            hoverinfo="skip",
        )
    )
    for eff in signal_efficiencies:
        fig.add_vline(x=float(eff), line={"dash": "dash", "color": "lightgray", "width": 1})
    fig.update_layout(
        title=title,
        xaxis={"title": "signal efficiency ε_S", "range": [0, 1]},
        yaxis={"title": "background rejection 1/ε_B", "type": "log"},
        legend={"x": 0.99, "xanchor": "right", "y": 0.99},
        template="plotly_white",
    )
    return fig


def mass_figure(masses: Any, labels: Any, n_bins: int | None = None) -> go.Figure:
    """The jet-mass distributions of top and QCD jets (each normalised to unit area) on the
    shared bins of :func:`mass_histogram`, with the top and W masses marked: a top jet holds
    all three quarks of t -> b W -> b q q' (m_J ~ 173 GeV) or, when the b falls outside the
    cone, only the W (~80 GeV); a QCD jet's mass comes from radiation and falls smoothly.
    ``masses``: (n,) GeV; ``labels``: (n,) 1 top, 0 QCD."""
    import plotly.graph_objects as go

    masses = np.asarray(masses, dtype=np.float64)
    labels = np.asarray(labels)
    if masses.ndim != 1 or labels.shape != masses.shape or not len(masses):
        raise ValueError(
            f"masses and labels must be (n,) arrays of equal length n >= 1; got shapes "
            f"{masses.shape} and {labels.shape}"
        )
    if not np.isfinite(masses).all() or (masses < 0).any():
        raise ValueError("masses must be finite and >= 0 (GeV)")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 (QCD) or 1 (top); got {np.unique(labels)[:5]}")
    hist = mass_histogram(masses, labels, n_bins)
    edges = np.asarray(hist["edges"])
    centres, widths = 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)
    fig = go.Figure()
    for name, counts in hist["counts"].items():
        counts = np.asarray(counts, dtype=np.float64)
        density = counts / (counts.sum() * widths) if counts.sum() else counts
        fig.add_trace(
            go.Bar(
                x=centres,
                y=density,
                width=widths,
                name=f"{name} ({int(counts.sum())} jets)",
                opacity=0.6,
                customdata=counts,
                hovertemplate="m_J %{x:.0f} GeV: %{customdata:d} jets<extra>" + name + "</extra>",
            )
        )
    for mass, text in ((TOP_MASS, "m_t"), (W_MASS, "m_W")):
        fig.add_vline(x=mass, line={"dash": "dash", "color": "gray"}, annotation_text=text)
    fig.update_layout(
        barmode="overlay",
        xaxis={"title": "jet mass m_J [GeV]"},
        yaxis={"title": "fraction of jets per GeV"},
        template="plotly_white",
    )
    return fig


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    """JSON has no NaN or infinity: a constituent along the beam (pT = 0) has eta = +-inf."""
    return [float(v) if math.isfinite(v) else None for v in values]


def _eta_phi(p: np.ndarray, relative: bool) -> tuple[np.ndarray, np.ndarray]:
    """Plane coordinates of the constituents ``p`` (..., n, 4): absolute ``(eta_i, phi_i)``,
    or relative to their sum J (the jet axis) ``(y_i - y_J, wrap(phi_i - phi_J))`` in
    rapidities y, as FastJet measures Delta R: unchanged by any boost along z (for massless
    constituents y_i = eta_i)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = kinematics.phi(p)
        if not relative:
            return kinematics.eta(p), phi
        jet = p.sum(-2)
        dy = kinematics.rapidity(p) - kinematics.rapidity(jet)[..., None]
        return dy, wrap_angle(phi - kinematics.phi(jet)[..., None])


def _frame(eta: np.ndarray, phi: np.ndarray) -> dict:
    """An eta-phi window holding all finite points (|eta| capped at ETA_VIEW), at least
    1.5 wide in each direction. The front end keeps the two scales equal (Delta R circles
    stay circles) by widening one range to fill the plot."""
    ranges = {}
    for name, values, cap in (("eta", eta, ETA_VIEW), ("phi", phi, math.pi)):
        finite = np.clip(values[np.isfinite(values)], -cap, cap)
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        middle, half = 0.5 * (lo + hi), max(0.5 * (hi - lo), 0.6) + 0.15
        ranges[name] = [middle - half, middle + half]
    return ranges


class JetViewer(anywidget.AnyWidget):
    """The constituents of a jet in the eta-phi plane, boosted live along a chosen axis, next
    to the jet-mass distributions of top and QCD jets and the scores of several taggers.

    A pure boost of rapidity y along the unit vector n (:func:`workbench.data.kinematics.boost`)
    acts on every constituent, ``E' = E cosh y + (n.p) sinh y``,
    ``p' = p + n [(n.p)(cosh y - 1) + E sinh y]``; it keeps every Minkowski product p_i . p_j,
    hence the jet mass ``m^2 = (sum_i p_i)^2``. A Lorentz-invariant tagger (LorentzNet,
    arXiv:2201.08187; PELICAN, arXiv:2211.00454) therefore keeps its score whatever the boost,
    while a baseline on raw (E, p) moves. Along z, massless constituents shift in eta by y
    (rapidity differences Delta y, Delta phi to the jet axis are unchanged); transverse boosts
    and boosts along the jet axis change the picture of the jet itself. The plane is drawn in
    absolute (eta, phi) or, with ``coordinates="relative"``, in (Delta y, Delta phi) to the
    jet axis (rapidities, as FastJet's Delta R; Delta y = Delta eta for massless particles).

    ``spread`` records, per tagger, the largest ``|score(y) - score(0)|`` at any boost visited
    since the jet was selected; ``score_curve`` holds the scores on a grid of rapidities across
    the slider's range along the current axis.

    Args:
        p4: ``(n_jets, N, 4)`` constituent four-momenta ``(E, px, py, pz)`` in GeV (padded;
            kept as given, not copied). Each jet is converted to float64 when it is shown.
        mask: ``(n_jets, N)`` bool, which constituents are real; every jet needs at least one.
        labels: ``(n_jets,)`` 1 for top, 0 for QCD.
        models: name -> tagger ``model(p4, mask) -> logits`` with ``p4`` ``(B, N, 4)``,
            ``mask`` ``(B, N)`` bool and logits ``(B,)``; the score is ``sigmoid(logit)``. A
            ``torch.nn.Module`` (or a method of one) is called in the dtype and on the device
            of its parameters (float32 for a module without any), anything else in float64;
            always under ``torch.no_grad()``. The boost itself is always computed in float64.
        index: the jet shown.
        axis: ``"x"``, ``"y"``, ``"z"`` or ``"jet"`` (the selected jet's 3-momentum direction
            before the boost).
        rapidity: the boost rapidity y, ``|y| <= max_rapidity``.
        title: heading shown above the widget.
        max_rapidity: the slider's range.
        coordinates (keyword): ``"absolute"`` (default) or ``"relative"``, as above.

    All numbers are computed here; the front end only draws and sends the controls back.
    """

    _esm = widget_esm("jets.js", ("plotly",))
    _css = widget_css("jets.css")

    # set by the controls or from Python
    index = traitlets.Int(0).tag(sync=True)
    axis = traitlets.Unicode("z").tag(sync=True)
    rapidity = traitlets.Float(0.0).tag(sync=True)
    coordinates = traitlets.Unicode("absolute").tag(sync=True)

    # computed here, drawn there
    title = traitlets.Unicode("").tag(sync=True)
    model_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    label_names = traitlets.List(traitlets.Unicode(), list(LABEL_NAMES)).tag(sync=True)
    label_counts = traitlets.List(traitlets.Int()).tag(sync=True)
    n_jets = traitlets.Int(1).tag(sync=True)
    max_rapidity = traitlets.Float(2.0).tag(sync=True)
    label = traitlets.Int(0).tag(sync=True)
    n_constituents = traitlets.Int(0).tag(sync=True)
    axis_vector = traitlets.List(traitlets.Float()).tag(sync=True)
    constituents = traitlets.Dict().tag(sync=True)
    original = traitlets.Dict().tag(sync=True)
    frame = traitlets.Dict().tag(sync=True)
    pt_scale = traitlets.Float(1.0).tag(sync=True)
    jet = traitlets.Dict().tag(sync=True)
    mass = traitlets.Float(0.0).tag(sync=True)
    reference_mass = traitlets.Float(0.0).tag(sync=True)
    mass_hist = traitlets.Dict().tag(sync=True)
    scores = traitlets.Dict().tag(sync=True)
    reference_scores = traitlets.Dict().tag(sync=True)
    spread = traitlets.Dict().tag(sync=True)
    score_curve = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        p4: Any,
        mask: Any,
        labels: Any,
        models: Mapping[str, Tagger] | None = None,
        index: int = 0,
        axis: str = "z",
        rapidity: float = 0.0,
        title: str = "",
        max_rapidity: float = 2.0,
        **kwargs: Any,
    ) -> None:
        models = {} if models is None else models
        if not isinstance(models, Mapping):
            raise ValueError(
                f"models must be a dict: name -> model(p4, mask) -> logits; got {models!r}"
            )
        for name, model in models.items():
            if not isinstance(name, str) or not callable(model):
                raise ValueError(
                    f"models must map names (str) to callables; got {name!r}: {model!r}"
                )
        if (
            isinstance(max_rapidity, bool)
            or not isinstance(max_rapidity, numbers.Real)
            or not 0 < max_rapidity < math.inf
        ):
            raise ValueError(f"max_rapidity must be a positive finite number; got {max_rapidity!r}")
        self._models = dict(models)
        self._p4, self._mask, self._labels = self._validate_jets(p4, mask, labels)
        self._masses = _jet_masses(self._p4, self._mask)
        self._n_jets = len(self._labels)
        self._max_rapidity = float(max_rapidity)
        index = _index(index, "index", 0, self._n_jets)
        self._ready = False
        super().__init__(
            title=title,
            model_names=list(self._models),
            n_jets=self._n_jets,
            label_counts=[int((self._labels == k).sum()) for k in range(len(LABEL_NAMES))],
            max_rapidity=self._max_rapidity,
            mass_hist=mass_histogram(self._masses, self._labels),
            index=index,
            axis=axis,
            rapidity=rapidity,
            **kwargs,
        )  # opens the comm: see open()
        self._ready = True
        self.on_msg(self._on_message)

    # --- public API -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the comm with the selected jet already computed: the front end gets the whole
        state in the comm's first message. (An update sent right after it can be lost while
        the front end is still loading the widget's module on a busy machine, leaving a view
        with an empty jet.)"""
        if self.comm is None and not self._ready:
            self._load_jet()
        super().open()

    @property
    def masses(self) -> np.ndarray:
        """``(n_jets,)`` float64 jet masses ``sqrt((sum_i p_i)^2)`` (boost invariant)."""
        return self._masses.copy()

    @property
    def direction(self) -> np.ndarray:
        """The unit 3-vector n of the current boost axis."""
        return self._n.copy()

    def boost_matrix(self) -> np.ndarray:
        """The (4, 4) float64 boost now applied: ``boosted() = p4[index][mask] @ Lambda.T``."""
        return kinematics.boost_matrix(self.rapidity, self._n)

    def boosted(self) -> np.ndarray:
        """``(n, 4)`` float64 four-momenta of the selected jet's constituents at the current
        boost (only the real ones)."""
        return self._moved[self._jet_mask].numpy().copy()

    def next_jet(self, label: int | None = None, step: int = 1) -> int:
        """Select the next jet (``step=-1``: the previous one), cyclically, with this label
        (1 top, 0 QCD; ``None``: any). Returns the new index."""
        if step not in (1, -1):
            raise ValueError(f"step must be 1 or -1; got {step!r}")
        order = (self.index + step * np.arange(1, self._n_jets + 1)) % self._n_jets
        if label is not None:
            label = _index(label, "label", 0, len(LABEL_NAMES))
            order = order[self._labels[order] == label]
            if not order.size:
                raise ValueError(
                    f"no {LABEL_NAMES[label]} jet (label {label}) among the {self._n_jets} jets"
                )
        self.index = int(order[0])
        return self.index

    # --- validation ---------------------------------------------------------------------------

    @staticmethod
    def _validate_jets(
        p4: Any, mask: Any, labels: Any
    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        p4 = _as_tensor(p4, "p4")
        if p4.ndim != 3 or p4.shape[-1] != 4 or p4.shape[0] == 0 or p4.shape[1] == 0:
            raise ValueError(
                f"p4 must have shape (n_jets, N, 4) with (E, px, py, pz) last and n_jets, N >= 1;"
                f" got {tuple(p4.shape)}"
            )
        if p4.dtype == torch.bool or p4.is_complex():
            raise ValueError(f"p4 must hold real numbers; got {p4.dtype}")
        n_jets, n = p4.shape[:2]
        mask = _as_tensor(mask, "mask")
        if tuple(mask.shape) != (n_jets, n):
            raise ValueError(
                f"mask must have shape (n_jets, N) = ({n_jets}, {n}) to match p4; "
                f"got {tuple(mask.shape)}"
            )
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool array; got {mask.dtype}")
        empty = torch.nonzero(~mask.any(1)).flatten().tolist()
        if empty:
            raise ValueError(f"jets {empty[:10]} have no constituents (mask all False)")
        labels = _as_tensor(labels, "labels")
        if tuple(labels.shape) != (n_jets,):
            raise ValueError(
                f"labels must have shape (n_jets,) = ({n_jets},) to match p4; "
                f"got {tuple(labels.shape)}"
            )
        if labels.is_complex():
            raise ValueError(f"labels must be 0 (QCD) or 1 (top); got dtype {labels.dtype}")
        labels = labels.to(torch.float64).numpy()
        bad = np.nonzero((labels != 0) & (labels != 1))[0]
        if bad.size:
            raise ValueError(
                f"labels must be 0 (QCD) or 1 (top); got {labels[bad[:5]].tolist()} at jets "
                f"{bad[:5].tolist()}"
            )
        return p4, mask, labels.astype(np.int64)

    @traitlets.validate("index")
    def _check_index(self, proposal: dict) -> int:
        return _index(proposal["value"], "index", 0, self._n_jets)

    @traitlets.validate("axis")
    def _check_axis(self, proposal: dict) -> str:
        if proposal["value"] not in AXES:
            raise ValueError(f"axis must be one of {list(AXES)}; got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("coordinates")
    def _check_coordinates(self, proposal: dict) -> str:
        if proposal["value"] not in COORDINATES:
            raise ValueError(
                f"coordinates must be one of {list(COORDINATES)}; got {proposal['value']!r}"
            )
        return proposal["value"]

    @traitlets.validate("rapidity")
    def _check_rapidity(self, proposal: dict) -> float:
        y = float(proposal["value"])
        if not abs(y) <= self._max_rapidity:  # also false for NaN
            raise ValueError(
                f"rapidity must be in [-{self._max_rapidity}, {self._max_rapidity}]; got {y}"
            )
        return y

    # --- computation --------------------------------------------------------------------------

    def _scores(self, p4: torch.Tensor, mask: torch.Tensor) -> dict[str, np.ndarray]:
        """name -> (B,) float64 ``sigmoid(logits)`` of every tagger on the float64 jets ``p4``
        (B, N, 4), all with the constituent mask ``mask`` (N,)."""
        batch = p4.shape[0]
        out = {}
        for name, model in self._models.items():
            dtype, device = _dtype_of(model)
            with torch.no_grad():
                logits = model(
                    p4.to(device=device, dtype=dtype), mask.unsqueeze(0).repeat(batch, 1).to(device)
                )
            if not torch.is_tensor(logits):
                raise ValueError(f"model {name!r} returned {type(logits).__name__}, not a tensor")
            if tuple(logits.shape) != (batch,):
                raise ValueError(
                    f"model {name!r} returned logits of shape {tuple(logits.shape)} for {batch} "
                    f"jets; expected ({batch},): one logit per jet"
                )
            logits = logits.detach().to(device="cpu", dtype=torch.float64)
            if not torch.isfinite(logits).all():
                raise ValueError(f"model {name!r} returned non-finite logits: {logits.tolist()}")
            out[name] = torch.sigmoid(logits).numpy()
        return out

    def _axis_direction(self) -> np.ndarray:
        if self.axis != "jet":
            return np.asarray(AXES[self.axis])
        p = self._jet_p4[self._jet_mask].sum(0)[1:].numpy()
        norm = float(np.linalg.norm(p))
        if norm == 0:
            raise ValueError(f"jet {self.index} has zero 3-momentum: no jet axis to boost along")
        return p / norm

    def _load_jet(self) -> None:
        """The selected jet: its taggers' scores at rest (y = 0), then everything else."""
        i = self.index
        self._jet_p4 = self._p4[i].to(torch.float64)
        self._jet_mask = self._mask[i].clone()
        self._reference = {
            k: float(v[0]) for k, v in self._scores(self._jet_p4[None], self._jet_mask).items()
        }
        self._spread = dict.fromkeys(self._reference, 0.0)
        pt = kinematics.pt(self._jet_p4[self._jet_mask])
        with self.hold_sync():
            self.label = int(self._labels[i])
            self.n_constituents = int(self._jet_mask.sum())
            self.reference_mass = float(self._masses[i])
            self.reference_scores = dict(self._reference)
            self.pt_scale = float(pt.max()) or 1.0
            self._load_axis()

    def _load_axis(self) -> None:
        """The boost axis, and the score curves over the slider's range along it."""
        self._n = self._axis_direction()
        grid = np.linspace(-self._max_rapidity, self._max_rapidity, N_CURVE)
        jets = torch.stack([kinematics.boost(self._jet_p4, y, self._n) for y in grid])
        curves = self._scores(jets, self._jet_mask)
        with self.hold_sync():
            self.axis_vector = [float(v) for v in self._n]
            self.score_curve = {
                "rapidity": grid.tolist(),
                "scores": {name: c.tolist() for name, c in curves.items()},
            }
            self._update()

    def _update(self) -> None:
        """The jet at the current boost: constituents, mass, scores and their spread."""
        self._moved = kinematics.boost(self._jet_p4, self.rapidity, self._n)
        scores = {
            k: float(v[0]) for k, v in self._scores(self._moved[None], self._jet_mask).items()
        }
        for name, s in scores.items():
            self._spread[name] = max(self._spread[name], abs(s - self._reference[name]))
        total = self._moved[self._jet_mask].sum(0).numpy()
        with np.errstate(divide="ignore", invalid="ignore"):  # a jet at rest has no direction
            eta = kinematics.eta(total)
        with self.hold_sync():
            self.scores = scores
            self.spread = dict(self._spread)
            self.mass = float(kinematics.mass(total))
            self.jet = {
                "pt": float(kinematics.pt(total)),
                "eta": _finite_or_none(eta[None])[0],
                "phi": float(kinematics.phi(total)),
                "e": float(total[0]),
            }
            self._draw_constituents()

    def _draw_constituents(self) -> None:
        """The eta-phi picture: constituents now and at y = 0, in the chosen coordinates, in
        a frame that holds both (the jet at rest is the reference the boost is seen against)."""
        relative = self.coordinates == "relative"
        valid = self._jet_mask.numpy()
        now = self._moved.numpy()[valid]
        rest = self._jet_p4.numpy()[valid]
        eta, phi = _eta_phi(now, relative)
        eta0, phi0 = _eta_phi(rest, relative)
        frame = _frame(np.concatenate([eta, eta0]), np.concatenate([phi, phi0]))
        (e0, e1), (p0, p1) = frame["eta"], frame["phi"]
        inside = np.isfinite(eta) & (e0 <= eta) & (eta <= e1) & (p0 <= phi) & (phi <= p1)
        self.frame = {**frame, "outside": int((~inside).sum())}
        self.original = {
            "eta": _finite_or_none(eta0),
            "phi": _finite_or_none(phi0),
            "pt": kinematics.pt(rest).tolist(),
        }
        self.constituents = {
            "eta": _finite_or_none(eta),
            "phi": _finite_or_none(phi),
            "pt": kinematics.pt(now).tolist(),
            "e": now[:, 0].tolist(),
        }

    # --- events -------------------------------------------------------------------------------

    def _guarded(self, change: dict, compute: Callable[[], None]) -> None:
        """Recompute after a control changed; on failure put the control back (so that what is
        shown always matches the controls) and re-raise."""
        if not self._ready:
            return
        try:
            compute()
        except Exception:
            setattr(self, change["name"], change["old"])
            raise

    @traitlets.observe("index")
    def _on_index(self, change: dict) -> None:
        self._guarded(change, self._load_jet)

    @traitlets.observe("axis")
    def _on_axis(self, change: dict) -> None:
        self._guarded(change, self._load_axis)

    @traitlets.observe("rapidity")
    def _on_rapidity(self, change: dict) -> None:
        self._guarded(change, self._update)

    @traitlets.observe("coordinates")
    def _on_coordinates(self, change: dict) -> None:
        if self._ready:
            self._draw_constituents()

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        """Custom messages from the front end: ``{"type": "next", "label": 0 | 1 | None,
        "step": 1 | -1}`` (the jet navigation buttons)."""
        if isinstance(content, dict) and content.get("type") == "next":
            self.next_jet(content.get("label"), content.get("step", 1))


def _jet_masses(p4: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """``(n_jets,)`` float64 masses of the masked constituent sums, in blocks (a large float32
    data set is never copied whole to float64); rejects NaN or infinite four-momenta."""
    out = np.empty(p4.shape[0])
    for start in range(0, p4.shape[0], _CHUNK):
        block = p4[start : start + _CHUNK].to(torch.float64)
        finite = torch.isfinite(block).all(-1).all(-1)
        if not finite.all():
            bad = (start + torch.nonzero(~finite).flatten()).tolist()
            raise ValueError(f"p4 contains NaN or infinite values in jets {bad[:10]}")
        m = mask[start : start + _CHUNK, :, None].to(torch.float64)
        out[start : start + len(block)] = kinematics.mass((block * m).sum(1)).numpy()
    return out
