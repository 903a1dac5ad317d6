"""BackmapViewer: coarse-grained beads, the all-atom structure a model generated from them and
the true structure as a ghost, frame by frame and sample by sample (3Dmol.js, vendored)."""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import traitlets

from ._assets import widget_css, widget_esm
from ._util import as_array
from .molecule import Frame, Layer, MoleculeViewer, _bonds, atomic_numbers
from .molecule import perceive_bonds as _perceive_bonds

__all__ = ["BEAD_COLOR", "COLOR_MODES", "GHOST_COLOR", "BackmapViewer"]

BEAD_COLOR = "#1e88e5"
"""Colour of the translucent bead spheres."""
GHOST_COLOR = "#9e9e9e"
"""Colour of the reference structure, drawn as a thin translucent ghost."""
BEAD_OPACITY = 0.45
GHOST_OPACITY = 0.35
ERROR_LABEL = "|x − x_ref| (Å)"
COLOR_MODES = ("element", "bead", "error")
"""How the generated atoms are coloured: by element, by the bead they belong to (the mapping;
the bead spheres take the same colours), or by their distance to the reference."""
BEAD_CMAP = "Turbo"

_HERE = Path(__file__).parent
_MOLECULE_EXPORT = "export default { render };"


@functools.cache
def _esm() -> str:
    """MoleculeViewer's module without its export, then backmap.js, which calls its ``render``
    with the backmapping controls (one module: two default exports cannot be concatenated)."""
    molecule = widget_esm("molecule.js", ("3dmol",)).rstrip()
    if not molecule.endswith(_MOLECULE_EXPORT):
        raise RuntimeError(f"widgets/molecule.js must end with {_MOLECULE_EXPORT!r}")
    own = (_HERE / "backmap.js").read_text("utf-8")
    return molecule[: -len(_MOLECULE_EXPORT)] + own


def _coordinates(value: Any, name: str, shape: tuple[int | None, ...], form: str) -> np.ndarray:
    """A float64 array of real, finite numbers of ``shape`` (None: any size) or a ValueError
    that names ``name``, the expected ``form`` and what came."""
    array = as_array(value, name)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        raise ValueError(f"{name} must have shape {form}; got {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"{name} must not be empty; got shape {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    return array


def _auto_bead_radius(beads: np.ndarray) -> float:
    """Half the median distance from a bead to its nearest neighbour (spheres that about
    touch), clipped to [0.6, 2.5] Å; 1.5 Å for a single bead."""
    if len(beads) < 2:
        return 1.5
    distance = np.linalg.norm(beads[:, None] - beads[None], axis=-1)
    np.fill_diagonal(distance, np.inf)
    return float(np.clip(0.5 * np.median(distance.min(axis=1)), 0.6, 2.5))


class BackmapViewer(MoleculeViewer):
    """Backmapping in 3D: coarse-grained (CG) beads as large translucent spheres, the all-atom
    structure a model generated from them, and the reference (true) structure as a thin grey
    ghost; a frame slider over the test frames and selectors of the model and of its sample.

    Backmapping (CGVAE, Wang et al., ICML 2022, arXiv 2201.12176) generates atom positions
    x (n_atoms, 3) given bead positions X = M x (n_beads, 3); one bead stands for several
    atoms, so many x map to the same X and a generative model draws samples of x given X.
    The readout gives, for the shown frame and sample, the RMSD to the reference,
    sqrt(mean_i |x_i - x_ref,i|^2), over all atoms and over the heavy atoms (no alignment:
    the beads fix the frame). ``color_by`` colours the generated atoms by element, by bead
    (with ``assignment``: the mapping, beads in the same colours) or by |x_i - x_ref,i|.

    Args:
        atoms: ``(n_atoms,)`` element symbols or atomic numbers.
        reference: ``(F, n_atoms, 3)`` true positions at F frames, Å.
        beads: ``(F, n_beads, 3)`` bead positions at the same frames, Å.
        samples: model name -> ``(F, S, n_atoms, 3)`` generated positions, S samples per
            frame (S may differ between models; a deterministic model has S = 1).
        bonds: ``(B, 2)`` atom index pairs drawn for the generated and the reference
            structures (the topology, so a badly placed atom shows as a stretched bond); None
            perceives them from the first reference frame.
        assignment: ``(n_atoms,)`` bead index of every atom (the CG mapping), or None; needed
            for ``color_by="bead"``.
        selected_model: the model shown first (default: the first one).
        sample: the sample shown first.
        frame_labels: F strings shown in the readout (e.g. ``"t = 812 ps"``).
        bead_radius: Å; default half the median nearest-bead distance (clipped to 0.6-2.5).
        show_reference, show_beads: show the reference ghost, the beads.
        color_by: one of :data:`COLOR_MODES`.
        style: one of :data:`widgets.molecule.STYLES` for the generated structure.
        title: heading shown above the viewer.

    The pose sliders turn the whole scene (beads, generated and reference alike) about the
    centroid of the first generated frame, as in :class:`widgets.MoleculeViewer`.
    """

    _esm = _esm()
    _css = widget_css("molecule.css") + widget_css("backmap.css")

    model_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected_model = traitlets.Unicode("").tag(sync=True)
    sample = traitlets.Int(0).tag(sync=True)
    sample_counts = traitlets.Dict().tag(sync=True)  # model -> S
    show_reference = traitlets.Bool(True).tag(sync=True)
    show_beads = traitlets.Bool(True).tag(sync=True)
    color_by = traitlets.Enum(COLOR_MODES, default_value="element").tag(sync=True)
    color_modes = traitlets.List(traitlets.Unicode()).tag(sync=True)  # those available
    readout = traitlets.Dict().tag(sync=True)  # model, sample, frame, label, rmsd, heavy_rmsd

    def __init__(
        self,
        atoms: Any,
        reference: Any,
        beads: Any,
        samples: Mapping[str, Any],
        bonds: Any = None,
        assignment: Any = None,
        *,
        selected_model: str | None = None,
        sample: int = 0,
        frame_labels: Sequence[str] | None = None,
        bead_radius: float | None = None,
        show_reference: bool = True,
        show_beads: bool = True,
        color_by: str = "element",
        style: str = "ball_and_stick",
        title: str = "backmapping",
        **kwargs: Any,
    ) -> None:
        self._data: dict[str, Any] | None = None
        self._quiet = False  # True while several traits change: refresh once, afterwards
        data = self._checked(
            atoms, reference, beads, samples, bonds, assignment, frame_labels, bead_radius
        )
        super().__init__(
            data["z"],
            data["reference"][0],
            data["bonds"],
            style=style,
            title=title,
            **kwargs,
        )
        self._load(
            data,
            selected_model,
            sample,
            {
                "show_reference": show_reference,
                "show_beads": show_beads,
                "color_by": color_by,
            },
        )

    @classmethod
    def from_result(
        cls, result: Any, system: str | None = None, n_beads: int | None = None, **kwargs: Any
    ) -> BackmapViewer:
        """The test frames, beads and samples of every model of one (system, N) of a
        backmapping result (:func:`workbench.experiments.backmapping.run`), with the mapping
        for ``color_by="bead"``; None picks the first (system, N) of ``result.structures``.
        ``kwargs`` go to the constructor (and override the title and frame labels)."""
        return cls(**(cls._result_arrays(result, system, n_beads) | kwargs))

    # --- public API -------------------------------------------------------------------------

    @property
    def n_frames(self) -> int:
        """F, the number of frames."""
        return len(self._frames)

    @property
    def reference(self) -> np.ndarray:
        """``(n_atoms, 3)`` reference positions at the shown frame, in the current pose."""
        return self._posed(self._data["reference"][self.frame])

    @property
    def beads(self) -> np.ndarray:
        """``(n_beads, 3)`` bead positions at the shown frame, in the current pose."""
        return self._posed(self._data["beads"][self.frame])

    @property
    def generated(self) -> np.ndarray:
        """``(n_atoms, 3)`` positions of the shown sample at the shown frame, current pose."""
        return self.pos

    def select(
        self, model: str | None = None, sample: int | None = None, frame: int | None = None
    ) -> None:
        """Show another model, sample and/or frame at once (None keeps one as it is; a new
        model without ``sample`` shows its sample 0)."""
        model = self.selected_model if model is None else model
        self._check_model(model)
        if sample is None:
            sample = self.sample if model == self.selected_model else 0
        self._check_sample(model, sample)
        if frame is not None and not (
            isinstance(frame, numbers.Integral) and 0 <= frame < self.n_frames
        ):
            raise ValueError(f"frame must be an int in [0, {self.n_frames}); got {frame!r}")
        with self.hold_sync():
            self._quiet = True
            try:
                self.selected_model, self.sample = model, sample
            finally:
                self._quiet = False
            self._refresh(new_structure=False)
            if frame is not None:
                self.frame = frame

    def set_data(
        self,
        atoms: Any,
        reference: Any,
        beads: Any,
        samples: Mapping[str, Any],
        bonds: Any = None,
        assignment: Any = None,
        *,
        frame_labels: Sequence[str] | None = None,
        bead_radius: float | None = None,
    ) -> None:
        """Show other data (arguments as in the constructor); the selected model and sample
        are kept where they still exist, and the camera re-zooms."""
        data = self._checked(
            atoms, reference, beads, samples, bonds, assignment, frame_labels, bead_radius
        )
        model = self.selected_model if self.selected_model in data["samples"] else None
        toggles = (
            {} if assignment is not None or self.color_by != "bead" else {"color_by": "element"}
        )
        self._load(data, model, self.sample if model else 0, toggles, clamp=True)

    def set_structure(self, *args: Any, **kwargs: Any) -> None:
        """Not for this viewer: its structures come with :meth:`set_data`."""
        raise TypeError("BackmapViewer shows frames of several structures: use set_data(...)")

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Not for this viewer: its structures come with :meth:`set_data`."""
        raise TypeError("BackmapViewer shows frames of several structures: use set_data(...)")

    # --- internals --------------------------------------------------------------------------

    @staticmethod
    def _checked(
        atoms: Any,
        reference: Any,
        beads: Any,
        samples: Any,
        bonds: Any,
        assignment: Any,
        frame_labels: Any,
        bead_radius: Any,
    ) -> dict[str, Any]:
        z = atomic_numbers(atoms)
        n = len(z)
        ref = _coordinates(
            reference, "reference", (None, n, 3), f"(F, n_atoms, 3) = (F, {n}, 3), F frames"
        )
        f = len(ref)
        bead_pos = _coordinates(
            beads, "beads", (f, None, 3), f"(F, n_beads, 3) with F = {f} frames as reference"
        )
        if not isinstance(samples, Mapping) or not samples:
            raise ValueError(
                "samples must be a non-empty dict model name -> (F, S, n_atoms, 3) positions; "
                f"got {'an empty dict' if isinstance(samples, Mapping) else type(samples).__name__}"
            )
        checked = {}
        for name, value in samples.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"samples: model names must be non-empty str; got {name!r}")
            checked[name] = _coordinates(
                value,
                f"samples[{name!r}]",
                (f, None, n, 3),
                f"(F, S, n_atoms, 3) = ({f}, S, {n}, 3), S samples per frame "
                "(add an axis for one sample: x[:, None])",
            )
        if bonds is None:
            bonds = _perceive_bonds(z, ref[0])
        else:
            bonds = _bonds(bonds, n)
        n_beads = bead_pos.shape[1]
        if assignment is not None:
            assignment = as_array(assignment, "assignment")
            if assignment.shape != (n,) or assignment.dtype.kind not in "iu":
                raise ValueError(
                    f"assignment must be ({n},) ints, the bead of every atom; got shape "
                    f"{assignment.shape}, dtype {assignment.dtype}"
                )
            bad = np.flatnonzero((assignment < 0) | (assignment >= n_beads))
            if bad.size:
                raise ValueError(
                    f"assignment[{bad[0]}] = {assignment[bad[0]]} is not a bead index in "
                    f"[0, {n_beads})"
                )
            assignment = assignment.astype(np.int64)
        if frame_labels is not None:
            if isinstance(frame_labels, str) or len(frame_labels) != f:
                raise ValueError(f"frame_labels must be {f} strings, one per frame")
            frame_labels = [str(label) for label in frame_labels]
        if bead_radius is None:
            bead_radius = _auto_bead_radius(bead_pos[0])
        elif not (
            isinstance(bead_radius, numbers.Real) and math.isfinite(bead_radius) and bead_radius > 0
        ):
            raise ValueError(f"bead_radius must be a number of Å > 0 or None; got {bead_radius!r}")
        bead_layer = Layer(
            "bead",
            np.full(n_beads, 6, dtype=np.int64),  # drawn as spheres of a radius: no element
            np.zeros((0, 2), dtype=np.int64),
            opacity=BEAD_OPACITY,
            color=BEAD_COLOR,
            radius=float(bead_radius),
        )
        return {
            "z": z,
            "bonds": bonds,
            "reference": ref,
            "beads": bead_pos,
            "samples": checked,
            "frame_labels": frame_labels,
            "assignment": assignment,
            "layers": {
                "generated": Layer("generated", z, bonds),
                "reference": Layer(
                    "reference",
                    z,
                    bonds,
                    style="ball_and_stick",
                    opacity=GHOST_OPACITY,
                    color=GHOST_COLOR,
                ),
                "beads": bead_layer,
                "coloured beads": replace(bead_layer, color=None),  # coloured by bead index
            },
        }

    def _load(
        self,
        data: dict[str, Any],
        model: str | None,
        sample: int,
        toggles: dict[str, Any],
        clamp: bool = False,
    ) -> None:
        modes = self._color_modes(data)
        if toggles.get("color_by", modes[0]) not in modes:
            raise ValueError(
                f"color_by must be one of {modes}; got {toggles['color_by']!r}"
                + ("" if "bead" in modes else " (colouring by bead needs the assignment)")
            )
        counts = {name: int(s.shape[1]) for name, s in data["samples"].items()}
        model = next(iter(counts)) if model is None else model
        if model not in counts:
            raise ValueError(f"selected_model must be one of {list(counts)}; got {model!r}")
        if clamp:
            sample = min(sample, counts[model] - 1)
        self._check_sample(model, sample, counts)
        old = self._data
        self._data = data
        try:
            with self.hold_sync():
                self._quiet = True
                try:
                    self.model_names = list(counts)
                    self.sample_counts = counts
                    self.color_modes = list(modes)
                    self.selected_model, self.sample = model, sample
                    for name, value in toggles.items():
                        setattr(self, name, value)
                finally:
                    self._quiet = False
                self._refresh(new_structure=True)
        except Exception:
            self._data = old
            raise

    @staticmethod
    def _color_modes(data: dict[str, Any]) -> tuple[str, ...]:
        return tuple(m for m in COLOR_MODES if m != "bead" or data["assignment"] is not None)

    def _check_model(self, model: Any) -> None:
        if model not in self._data["samples"]:
            raise ValueError(f"model must be one of {list(self._data['samples'])}; got {model!r}")

    def _check_sample(self, model: str, sample: Any, counts: Mapping[str, int] | None = None):
        count = (counts or self.sample_counts)[model]
        if not (isinstance(sample, numbers.Integral) and 0 <= sample < count):
            raise ValueError(
                f"sample must be an int in [0, {count}) for model {model!r} ({count} samples "
                f"per frame); got {sample!r}"
            )

    def _refresh(self, new_structure: bool) -> None:
        """Rebuild the layers and frames of the selected model and sample, and the readout."""
        data = self._data
        generated = data["samples"][self.selected_model][:, self.sample]
        shown = [("generated", generated)]
        if self.show_reference:
            shown.append(("reference", data["reference"]))
        by_bead = self.color_by == "bead"
        if self.show_beads:
            shown.append(("coloured beads" if by_bead else "beads", data["beads"]))
        n_frames, n_beads = data["beads"].shape[:2]
        values: dict[str, np.ndarray] = {}  # layer -> (F, n) values colouring it
        self._cmap, self._value_range, self._value_label = None, None, ""
        if self.color_by == "error":
            values["generated"] = np.linalg.norm(generated - data["reference"], axis=-1)
            self._cmap, self._value_label = "Viridis", ERROR_LABEL
        elif by_bead:
            values["generated"] = np.broadcast_to(data["assignment"], generated.shape[:2])
            values["coloured beads"] = np.broadcast_to(np.arange(n_beads), (n_frames, n_beads))
            self._cmap, self._value_label = BEAD_CMAP, "bead"
            self._value_range = (-0.5, n_beads - 0.5)
        frames = [
            Frame(
                pos=tuple(pos[k] for _, pos in shown),
                atom_values=tuple(
                    values[name][k].astype(np.float64) if name in values else None
                    for name, _ in shown
                ),
            )
            for k in range(n_frames)
        ]
        with self.hold_sync():
            self._show([data["layers"][name] for name, _ in shown], frames, new_structure)
            self._update_readout()

    def _update_readout(self) -> None:
        data, frame = self._data, self.frame
        diff = data["samples"][self.selected_model][frame, self.sample] - data["reference"][frame]
        squared = (diff**2).sum(axis=-1)
        heavy = data["z"] > 1
        mixed = heavy.any() and not heavy.all()
        labels = data["frame_labels"]
        self.readout = {
            "model": self.selected_model,
            "sample": int(self.sample),
            "frame": int(frame),
            "label": labels[frame] if labels else "",
            "rmsd": float(np.sqrt(squared.mean())),
            "heavy_rmsd": float(np.sqrt(squared[heavy].mean())) if mixed else None,
        }

    @traitlets.validate("selected_model")
    def _valid_model(self, proposal: dict) -> str:
        if self._data is not None:
            try:
                self._check_model(proposal["value"])
            except ValueError as err:
                raise traitlets.TraitError(str(err)) from None
        return proposal["value"]

    @traitlets.validate("sample")
    def _valid_sample(self, proposal: dict) -> int:
        if self._data is not None and not self._quiet:
            try:
                self._check_sample(self.selected_model, proposal["value"])
            except ValueError as err:
                raise traitlets.TraitError(str(err)) from None
        return proposal["value"]

    @traitlets.validate("color_by")
    def _valid_color_by(self, proposal: dict) -> str:
        value = proposal["value"]
        if self._data is not None and value not in self._color_modes(self._data):
            raise traitlets.TraitError(
                f"color_by={value!r} needs the assignment of atoms to beads (pass assignment=)"
            )
        return value

    @traitlets.observe("selected_model", "sample", "show_reference", "show_beads", "color_by")
    def _on_selection(self, change: dict) -> None:
        if self._data is None or self._quiet:
            return
        if change["name"] == "selected_model" and self.sample >= self.sample_counts[change["new"]]:
            self.sample = 0  # the new model has fewer samples; refreshes in turn
            return
        self._refresh(new_structure=False)

    @traitlets.observe("frame")
    def _on_frame_readout(self, change: dict) -> None:
        if self._data is not None and not self._quiet:
            self._update_readout()

    @staticmethod
    def _result_arrays(result: Any, system: str | None, n_beads: int | None) -> dict[str, Any]:
        """The constructor's arguments from ``result.structures[(system, n_beads)]``."""
        structures = getattr(result, "structures", None)
        if not isinstance(structures, Mapping) or not structures:
            raise TypeError(
                "from_result needs a BackmapResult (workbench.experiments.backmapping.run) with "
                f"structures; got {type(result).__name__}"
            )
        keys = [
            key
            for key in structures
            if (system is None or key[0] == system) and (n_beads is None or key[1] == n_beads)
        ]
        if not keys:
            raise ValueError(
                f"no structures for system={system!r}, n_beads={n_beads!r}; the result has "
                f"{sorted(structures)}"
            )
        s = structures[keys[0]]
        return {
            "atoms": s.z,
            "reference": s.reference,
            "beads": s.beads,
            "samples": s.samples,
            "bonds": s.bonds,
            "assignment": s.assignment,
            "frame_labels": [f"t = {t:g} ps" for t in np.asarray(s.time).tolist()],
            "title": f"{s.system.replace('_', ' ')}, N = {s.n_beads} beads",
        }
