"""MoleculeViewer: a molecule in 3D (3Dmol.js, vendored), its dipoles as arrows and its atoms
coloured by a per-atom quantity; rotate it from Python and watch a model's prediction follow."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets
from plotly.colors import get_colorscale, sample_colorscale

from workbench.checks import O3Element

from ._angles import EulerAngles
from ._assets import widget_css, widget_esm
from ._util import as_array

__all__ = [
    "BOND_TOLERANCE",
    "ELEMENTS",
    "STYLES",
    "Frame",
    "Layer",
    "MoleculeViewer",
    "atomic_numbers",
    "perceive_bonds",
]

# fmt: off
ELEMENTS = (
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S",
    "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga",
    "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd",
    "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm",
    "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os",
    "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa",
    "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg",
    "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
)
"""Element symbols; ``ELEMENTS[z - 1]`` is the symbol of atomic number ``z``."""

# Covalent radii in Å for Z = 1..96, Cordero et al., Dalton Trans. 2832 (2008) (sp3 carbon,
# low-spin Mn, Fe, Co), the table ASE and Open Babel use.
_COVALENT_RADII = np.array([
    0.31, 0.28, 1.28, 0.96, 0.84, 0.76, 0.71, 0.66, 0.57, 0.58, 1.66, 1.41, 1.21, 1.11, 1.07,
    1.05, 1.02, 1.06, 2.03, 1.76, 1.70, 1.60, 1.53, 1.39, 1.39, 1.32, 1.26, 1.24, 1.32, 1.22,
    1.22, 1.20, 1.19, 1.20, 1.20, 1.16, 2.20, 1.95, 1.90, 1.75, 1.64, 1.54, 1.47, 1.46, 1.42,
    1.39, 1.45, 1.44, 1.42, 1.39, 1.39, 1.38, 1.39, 1.40, 2.44, 2.15, 2.07, 2.04, 2.03, 2.01,
    1.99, 1.98, 1.98, 1.96, 1.94, 1.92, 1.92, 1.89, 1.90, 1.87, 1.87, 1.75, 1.70, 1.62, 1.51,
    1.44, 1.41, 1.36, 1.36, 1.32, 1.45, 1.46, 1.48, 1.40, 1.50, 1.50, 2.60, 2.21, 2.15, 2.06,
    2.00, 1.96, 1.90, 1.87, 1.80, 1.69,
])
# fmt: on

BOND_TOLERANCE = 0.45
"""Å added to the sum of two covalent radii below which two atoms are bonded (as Open Babel
and Jmol do)."""

STYLES = ("ball_and_stick", "stick", "sphere")
"""How atoms are drawn: small spheres on sticks, sticks only, or van der Waals spheres."""

ARROW_COLORS = {"true": "#2e7d32", "predicted": "#ef6c00"}
_PALETTE = ("#1565c0", "#6a1b9a", "#c62828", "#00838f", "#5d4037")
_SYMBOL_TO_Z = {symbol: z for z, symbol in enumerate(ELEMENTS, start=1)}
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")

Predict = Callable[[np.ndarray, np.ndarray], Any]


# --- atoms and bonds ------------------------------------------------------------------------


def atomic_numbers(atoms: Any) -> np.ndarray:
    """``(N,)`` int64 atomic numbers from element symbols (``"C"``, ``"Cl"``) or numbers 1..118.

    >>> atomic_numbers(["O", "H", "H"]).tolist()
    [8, 1, 1]
    """
    if isinstance(atoms, str):
        raise ValueError(f"atoms must be a sequence of symbols or atomic numbers; got {atoms!r}")
    array = as_array(atoms, "atoms")
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"atoms must have shape (N,) with N >= 1; got {array.shape}")
    if array.dtype.kind in "US":
        z = []
        for i, symbol in enumerate(array.tolist()):
            if symbol not in _SYMBOL_TO_Z:
                hint = symbol.capitalize()
                did_you = f" (did you mean {hint!r}?)" if hint in _SYMBOL_TO_Z else ""
                raise ValueError(
                    f"unknown element symbol {symbol!r} at atom {i}{did_you}; "
                    f"expected one of H, He, ..., Og"
                )
            z.append(_SYMBOL_TO_Z[symbol])
        return np.array(z, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise ValueError(
            f"atoms must be element symbols (str) or atomic numbers (int); got dtype {array.dtype}"
        )
    bad = np.flatnonzero((array < 1) | (array > len(ELEMENTS)))
    if bad.size:
        raise ValueError(
            f"atomic number {array[bad[0]]} at atom {bad[0]} is outside 1..{len(ELEMENTS)}"
        )
    return array.astype(np.int64)


def _positions(pos: Any, n: int | None, name: str = "pos") -> np.ndarray:
    array = as_array(pos, name)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] != 3 or (n is not None and array.shape[0] != n):
        expected = "(N, 3)" if n is None else f"(N, 3) = ({n}, 3), one row per atom"
        raise ValueError(f"{name} must have shape {expected}; got {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    return array


def perceive_bonds(z: Any, pos: Any, tolerance: float = BOND_TOLERANCE) -> np.ndarray:
    """Bonds from distances: atoms i < j are bonded when ``|x_i - x_j| < r_i + r_j + tolerance``
    with covalent radii ``r`` (Cordero et al. 2008) in Å.

    Args:
        z: ``(N,)`` atomic numbers or element symbols.
        pos: ``(N, 3)`` positions in Å.
        tolerance: Å added to the sum of radii.

    Returns:
        ``(B, 2)`` int64 index pairs ``(i, j)``, ``i < j``, in lexicographic order.
    """
    z = atomic_numbers(z)
    pos = _positions(pos, len(z))
    missing = np.flatnonzero(z > len(_COVALENT_RADII))
    if missing.size:
        symbol = ELEMENTS[z[missing[0]] - 1]
        raise ValueError(
            f"no covalent radius for {symbol} (Z={z[missing[0]]}, atom {missing[0]}): "
            f"pass bonds explicitly"
        )
    radii = _COVALENT_RADII[z - 1]
    pairs = []
    block = 256  # rows at a time: memory O(block * N)
    for start in range(0, len(z), block):
        rows = slice(start, start + block)
        distance = np.linalg.norm(pos[rows, None, :] - pos[None, :, :], axis=-1)
        limit = radii[rows, None] + radii[None, :] + tolerance
        i, j = np.nonzero(distance < limit)
        i = i + start
        keep = i < j
        pairs.append(np.stack([i[keep], j[keep]], axis=1))
    return np.concatenate(pairs).astype(np.int64).reshape(-1, 2)


def _bonds(bonds: Any, n: int) -> np.ndarray:
    array = as_array(bonds, "bonds")
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != 2 or array.dtype.kind not in "iu":
        raise ValueError(
            f"bonds must be a (B, 2) integer array of atom index pairs; got shape {array.shape}, "
            f"dtype {array.dtype}"
        )
    bad = np.flatnonzero(((array < 0) | (array >= n)).any(axis=1) | (array[:, 0] == array[:, 1]))
    if bad.size:
        raise ValueError(
            f"bond {array[bad[0]].tolist()} (row {bad[0]}) must join two different atoms "
            f"with indices in [0, {n})"
        )
    return np.unique(np.sort(array, axis=1).astype(np.int64), axis=0)


def _vector(value: Any, name: str) -> np.ndarray:
    array = as_array(value, name)
    if array.dtype.kind not in "iuf" or array.shape != (3,):
        raise ValueError(
            f"{name} must be a (3,) vector of real numbers; got shape {array.shape}, "
            f"dtype {array.dtype}"
        )
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite components: {array.tolist()}")
    return array


def _dipoles(dipoles: Any) -> dict[str, np.ndarray]:
    if dipoles is None:
        return {}
    if not isinstance(dipoles, Mapping):
        raise ValueError(
            f"dipoles must be a dict name -> (3,) vector, e.g. {{'true': d}}; "
            f"got {type(dipoles).__name__}"
        )
    out = {}
    for name, vector in dipoles.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"dipole names must be non-empty str; got {name!r}")
        out[name] = _vector(vector, f"dipoles[{name!r}]")
    return out


def _values(values: Any, n: int) -> np.ndarray | None:
    if values is None:
        return None
    array = as_array(values, "atom_values")
    if array.dtype.kind not in "iuf" or array.shape != (n,):
        raise ValueError(
            f"atom_values must have shape (N,) = ({n},), one real number per atom; got shape "
            f"{array.shape}, dtype {array.dtype}"
        )
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError("atom_values contains NaN or infinite values")
    return array


# --- the data model: layers (what is drawn, how) and frames (where) --------------------------


@dataclass(frozen=True, eq=False)
class Layer:
    """One set of atoms drawn in one style: a molecule, or a reference in a ghost style.

    Args:
        name: shown in the legend.
        z: ``(N,)`` int64 atomic numbers.
        bonds: ``(B, 2)`` int64 atom index pairs.
        style: one of :data:`STYLES`, or None for the viewer's ``atom_style``.
        opacity: in (0, 1]; below 1 draws a ghost.
        color: ``"#rrggbb"`` for every atom (a ghost), or None: by element or by value.
        radius: Å; when set, every atom is a sphere of this radius and no bond is drawn
            (coarse-grained beads), whatever the style.
    """

    name: str
    z: np.ndarray
    bonds: np.ndarray
    style: str | None = None
    opacity: float = 1.0
    color: str | None = None
    radius: float | None = None

    def __post_init__(self) -> None:
        if self.style is not None and self.style not in STYLES:
            raise ValueError(f"layer style must be one of {STYLES} or None; got {self.style!r}")
        if not 0 < self.opacity <= 1:
            raise ValueError(f"layer opacity must be in (0, 1]; got {self.opacity}")
        if self.color is not None and not _HEX.match(self.color):
            raise ValueError(f"layer color must be '#rrggbb' or None; got {self.color!r}")
        if self.radius is not None and not (
            isinstance(self.radius, numbers.Real)
            and not isinstance(self.radius, bool)
            and math.isfinite(self.radius)
            and self.radius > 0
        ):
            raise ValueError(
                f"layer radius must be a finite number of Å > 0 or None; got {self.radius!r}"
            )


@dataclass(frozen=True, eq=False)
class Frame:
    """Where every layer's atoms are at one step, in the reference pose (before rotation).

    Args:
        pos: one ``(N_k, 3)`` float64 array per layer, in Å.
        atom_values: one ``(N_k,)`` array or None per layer (colours atoms by value).
        dipoles: name -> ``(3,)`` vector, drawn as arrows from the first layer's centroid.
    """

    pos: tuple[np.ndarray, ...]
    atom_values: tuple[np.ndarray | None, ...]
    dipoles: Mapping[str, np.ndarray] = field(default_factory=dict)


def _hex(rgb: str) -> str:
    """``'rgb(68, 1, 84)'`` (plotly's form) -> ``'#440154'``."""
    r, g, b = (round(float(c)) for c in re.findall(r"[\d.]+", rgb)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _angle_degrees(a: np.ndarray, b: np.ndarray) -> float | None:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return None
    return math.degrees(math.acos(min(1.0, max(-1.0, float(a @ b) / (na * nb)))))


class MoleculeViewer(EulerAngles, anywidget.AnyWidget):
    """A molecule drawn with 3Dmol.js (bundled, works offline): ball-and-stick, the true and
    predicted dipoles as arrows from the centroid, atoms coloured by a per-atom quantity.

    The mouse turns the camera (3Dmol). The sliders (or ``alpha``, ``beta``, ``gamma`` from
    Python) turn the molecule itself, so the kernel knows its pose: with the rotation
    R = R(alpha, beta, gamma) (e3nn's Y-X-Y convention, as :class:`widgets.PointCloudView`),
    every position goes to ``c + R (x - c)`` about the centroid ``c`` of the structure given
    (fixed until :meth:`set_structure`) and every dipole to ``R d``. With ``predict``, the
    "predicted" dipole is ``predict(z, rotated positions)`` at each pose; an equivariant model
    keeps its angle to the true (rotated) dipole whatever the pose.

    Args:
        atoms: ``(N,)`` element symbols or atomic numbers.
        pos: ``(N, 3)`` positions in Å (array or tensor).
        bonds: ``(B, 2)`` atom index pairs; None perceives them from covalent radii
            (:func:`perceive_bonds`).
        dipoles: name -> ``(3,)`` vector, e.g. ``{"true": d, "predicted": d_hat}``.
        atom_values: ``(N,)`` per-atom quantity (e.g. partial charges) colouring the atoms.
        predict: ``predict(z, pos) -> (3,)`` with ``z`` an ``(N,)`` int64 array and ``pos`` the
            ``(N, 3)`` float64 rotated positions; its result is the "predicted" dipole.
        style: one of :data:`STYLES`; the ``atom_style`` trait afterwards.
        cmap: a plotly colour scale name; default "RdBu_r" centred on 0 when the values have
            both signs, else "Viridis".
        value_range: ``(vmin, vmax)`` of the colour map; default from the values.
        value_label: name of the per-atom quantity (colour bar title).
        dipole_scale: Å of arrow per unit of dipole; None chooses one whenever data are given
            (the longest arrow reaches about 1 Å beyond the molecule).
        dipole_unit: unit shown next to the dipoles, e.g. "D".
        title: heading shown above the viewer.

    Internally the data are a list of :class:`Layer` (what is drawn, how) and a list of
    :class:`Frame` (where), with ``frame`` the one shown; this widget shows one layer and one
    frame, and a viewer of trajectories or overlays passes more to :meth:`_show`.
    """

    _esm = widget_esm("molecule.js", ("3dmol",))
    _css = widget_css("molecule.css")

    title = traitlets.Unicode("").tag(sync=True)
    # the drawing style; not ``style``, which ipywidgets keeps for a widget's style model
    atom_style = traitlets.Enum(STYLES, default_value="ball_and_stick").tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    # computed here, drawn there
    layers = traitlets.List(traitlets.Dict()).tag(sync=True)
    frames = traitlets.List(traitlets.Dict()).tag(sync=True)
    colorbar = traitlets.Dict().tag(sync=True)
    dipole_scale = traitlets.Float(1.0).tag(sync=True)
    dipole_unit = traitlets.Unicode("").tag(sync=True)
    structure_id = traitlets.Int(0).tag(sync=True)  # changes when the atoms do: re-zoom

    def __init__(
        self,
        atoms: Any,
        pos: Any,
        bonds: Any = None,
        dipoles: Mapping[str, Any] | None = None,
        atom_values: Any = None,
        *,
        predict: Predict | None = None,
        style: str = "ball_and_stick",
        cmap: str | None = None,
        value_range: tuple[float, float] | None = None,
        value_label: str = "",
        dipole_scale: float | None = None,
        dipole_unit: str = "",
        title: str = "",
        **kwargs: Any,
    ) -> None:
        if predict is not None and not callable(predict):
            raise ValueError(f"predict must be a callable predict(z, pos) -> (3,); got {predict!r}")
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}; got {style!r}")
        if cmap is not None:
            self._check_cmap(cmap)
        if value_range is not None:
            value_range = self._check_range(value_range)
        if dipole_scale is not None and not (
            isinstance(dipole_scale, numbers.Real) and math.isfinite(dipole_scale)
        ):
            raise ValueError(f"dipole_scale must be a finite number or None; got {dipole_scale!r}")
        self._predict = predict
        self._cmap = cmap
        self._value_range = value_range
        self._value_label = value_label
        self._fixed_scale = None if dipole_scale is None else float(dipole_scale)
        self._layers: list[Layer] = []
        self._frames: list[Frame] = []
        self._predicted: dict[int, np.ndarray] = {}  # frame -> prediction at _pose
        self._pose: tuple[float, float, float] | None = None  # the pose last published
        self._center = np.zeros(3)
        self._showing = False
        layer, frame = self._structure(atoms, pos, bonds, dipoles, atom_values)
        super().__init__(title=title, atom_style=style, dipole_unit=dipole_unit, **kwargs)
        self._show([layer], [frame], new_structure=True)

    # --- public API -------------------------------------------------------------------------

    @property
    def z(self) -> np.ndarray:
        """``(N,)`` atomic numbers of the molecule."""
        return self._layers[0].z.copy()

    @property
    def symbols(self) -> list[str]:
        """Element symbols of the molecule."""
        return [ELEMENTS[z - 1] for z in self._layers[0].z]

    @property
    def bonds(self) -> np.ndarray:
        """``(B, 2)`` bonded atom index pairs."""
        return self._layers[0].bonds.copy()

    @property
    def pos(self) -> np.ndarray:
        """``(N, 3)`` positions in the current pose (what is drawn and what ``predict`` sees)."""
        return self._posed(self._frames[self.frame].pos[0])

    @property
    def dipoles(self) -> dict[str, np.ndarray]:
        """name -> ``(3,)`` dipole in the current pose (the rotated ones and the prediction)."""
        return self._arrow_vectors(self.frame)

    @property
    def atom_values(self) -> np.ndarray | None:
        """``(N,)`` per-atom quantity, or None."""
        values = self._frames[self.frame].atom_values[0]
        return None if values is None else values.copy()

    def matrix(self) -> np.ndarray:
        """The (3, 3) float64 rotation of the current pose: ``pos = c + (x - c) @ matrix().T``."""
        return O3Element(self.alpha, self.beta, self.gamma).matrix(torch.float64).numpy()

    def randomize(self, seed: int | None = None) -> tuple[float, float, float]:
        """Jump to a Haar-random rotation (reproducible for a given ``seed``); returns the new
        ``(alpha, beta, gamma)``."""
        u = np.random.default_rng(seed).random(3)
        with self.hold_trait_notifications():
            self.alpha = 2 * math.pi * u[0]
            self.beta = math.acos(1 - 2 * u[1])
            self.gamma = 2 * math.pi * u[2]
        return self.alpha, self.beta, self.gamma

    def set_structure(
        self,
        atoms: Any,
        pos: Any,
        bonds: Any = None,
        dipoles: Mapping[str, Any] | None = None,
        atom_values: Any = None,
    ) -> None:
        """Show another molecule (arguments as in the constructor) in the current pose; the
        rotation centre becomes the new centroid and the camera re-zooms."""
        layer, frame = self._structure(atoms, pos, bonds, dipoles, atom_values)
        self._show([layer], [frame], new_structure=True)

    def update(
        self,
        pos: Any = None,
        dipoles: Mapping[str, Any] | None = None,
        atom_values: Any = None,
    ) -> None:
        """Change the data of the same atoms live; None keeps a piece as it is.

        ``pos`` is given in the reference pose, like the constructor's (the current rotation is
        applied on top; bonds are kept). ``dipoles`` replaces or adds the named vectors.
        """
        layer, old = self._layers[0], self._frames[self.frame]
        n = len(layer.z)
        new_pos = old.pos[0] if pos is None else _positions(pos, n)
        values = old.atom_values[0] if atom_values is None else _values(atom_values, n)
        merged = {**old.dipoles, **self._checked_dipoles(dipoles)}
        frame = Frame(  # other layers (an overlay) stay as they are
            pos=(new_pos, *old.pos[1:]), atom_values=(values, *old.atom_values[1:]), dipoles=merged
        )
        frames = list(self._frames)
        frames[self.frame] = frame
        self._show(self._layers, frames, new_structure=False)

    # --- internals: building, rotating and publishing the data ------------------------------

    def _checked_dipoles(self, dipoles: Any) -> dict[str, np.ndarray]:
        out = _dipoles(dipoles)
        if self._predict is not None and "predicted" in out:
            raise ValueError(
                "dipoles['predicted'] is computed by predict; pass either predict or a "
                "'predicted' dipole, not both"
            )
        return out

    def _structure(
        self, atoms: Any, pos: Any, bonds: Any, dipoles: Any, atom_values: Any
    ) -> tuple[Layer, Frame]:
        z = atomic_numbers(atoms)
        pos = _positions(pos, len(z))
        bonds = perceive_bonds(z, pos) if bonds is None else _bonds(bonds, len(z))
        layer = Layer(name="molecule", z=z, bonds=bonds)
        frame = Frame(
            pos=(pos,),
            atom_values=(_values(atom_values, len(z)),),
            dipoles=self._checked_dipoles(dipoles),
        )
        return layer, frame

    @staticmethod
    def _check_cmap(cmap: str) -> list:
        try:
            return get_colorscale(cmap)
        except Exception as err:  # plotly raises its own PlotlyError
            raise ValueError(f"cmap must be a plotly colour scale name; got {cmap!r}") from err

    @staticmethod
    def _check_range(value_range: Any) -> tuple[float, float]:
        try:
            vmin, vmax = (float(v) for v in value_range)
        except (TypeError, ValueError) as err:
            raise ValueError(f"value_range must be (vmin, vmax); got {value_range!r}") from err
        if not (math.isfinite(vmin) and math.isfinite(vmax) and vmin < vmax):
            raise ValueError(f"value_range must be finite with vmin < vmax; got {value_range!r}")
        return vmin, vmax

    def _show(self, layers: list[Layer], frames: list[Frame], new_structure: bool) -> None:
        """Validate and show ``layers`` at every ``frames[k]``; the first layer is the molecule
        that ``predict`` sees. ``new_structure`` resets the rotation centre and the camera."""
        if not layers or not frames:
            raise ValueError("need at least one layer and one frame")
        for k, frame in enumerate(frames):
            if len(frame.pos) != len(layers) or len(frame.atom_values) != len(layers):
                raise ValueError(
                    f"frame {k} has positions for {len(frame.pos)} layers and values for "
                    f"{len(frame.atom_values)}; expected {len(layers)}, one per layer"
                )
            for layer, pos in zip(layers, frame.pos, strict=True):
                if pos.shape != (len(layer.z), 3):
                    raise ValueError(
                        f"frame {k}, layer {layer.name!r}: positions of shape {pos.shape}; "
                        f"expected ({len(layer.z)}, 3)"
                    )
        old = (self._layers, self._frames, self._center, self._predicted)
        self._layers, self._frames, self._predicted = list(layers), list(frames), {}
        if new_structure:
            self._center = frames[0].pos[0].mean(axis=0)
        frame = min(self.frame, len(frames) - 1)
        try:
            self._arrow_vectors(frame)  # runs predict: fail here, before anything changes
        except Exception:
            self._layers, self._frames, self._center, self._predicted = old
            raise
        self._showing = True
        try:
            with self.hold_sync():
                self.frame = frame
                if new_structure:
                    self.structure_id += 1
                self.dipole_scale = self._scale()
                self.colorbar = self._colorbar()
                self.layers = self._layer_dicts()
                self._publish()
        finally:
            self._showing = False

    def _posed(self, pos: np.ndarray) -> np.ndarray:
        return self._center + (pos - self._center) @ self.matrix().T

    def _arrow_vectors(self, index: int) -> dict[str, np.ndarray]:
        """The dipoles of frame ``index`` in the current pose; the prediction only for the frame
        shown (``predict`` runs once per pose and frame)."""
        rotation = self.matrix()
        out = {name: rotation @ d for name, d in self._frames[index].dipoles.items()}
        if self._pose != self._pose_key():
            self._predicted = {}
        self._pose = self._pose_key()
        if self._predict is not None and index == self.frame:
            if index not in self._predicted:
                pos = self._posed(self._frames[index].pos[0])
                self._predicted[index] = self._call_predict(self._layers[0].z.copy(), pos)
            out["predicted"] = self._predicted[index].copy()
        return out

    def _pose_key(self) -> tuple[float, float, float]:
        return (self.alpha, self.beta, self.gamma)

    def _call_predict(self, z: np.ndarray, pos: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            result = self._predict(z, pos)
        return _vector(result, "the output of predict(z, pos)")

    def _scale(self) -> float:
        if self._fixed_scale is not None:
            return self._fixed_scale
        first = self._frames[0].pos[0]
        radius = max(float(np.linalg.norm(first - first.mean(axis=0), axis=1).max()), 0.5)
        lengths = [
            float(np.linalg.norm(d))
            for k in range(len(self._frames))
            for d in self._arrow_vectors(k).values()
        ]
        longest = max(lengths, default=0.0)
        return (radius + 1.0) / longest if longest > 0 else 1.0

    def _color_range(self) -> tuple[str, float, float] | None:
        values = [v for f in self._frames for v in f.atom_values if v is not None]
        if not values:
            return None
        stacked = np.concatenate(values)
        lo, hi = float(stacked.min()), float(stacked.max())
        diverging = lo < 0 < hi
        cmap = self._cmap or ("RdBu_r" if diverging else "Viridis")
        if self._value_range is not None:
            lo, hi = self._value_range
        elif diverging:
            lo, hi = -max(-lo, hi), max(-lo, hi)
        elif lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        return cmap, lo, hi

    def _colorbar(self) -> dict[str, Any]:
        spec = self._color_range()
        if spec is None:
            return {}
        cmap, lo, hi = spec
        stops = sample_colorscale(get_colorscale(cmap), np.linspace(0, 1, 11).tolist())
        return {
            "label": self._value_label,
            "cmap": cmap,
            "vmin": lo,
            "vmax": hi,
            "stops": [_hex(c) for c in stops],
        }

    @staticmethod
    def _colors(
        values: np.ndarray | None, spec: tuple[str, float, float] | None
    ) -> list[str] | None:
        if values is None or spec is None:
            return None
        cmap, lo, hi = spec
        t = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
        return [_hex(c) for c in sample_colorscale(get_colorscale(cmap), t.tolist())]

    def _layer_dicts(self) -> list[dict[str, Any]]:
        return [
            {
                "name": layer.name,
                "symbols": [ELEMENTS[z - 1] for z in layer.z],
                "bonds": layer.bonds.tolist(),
                "style": layer.style or self.atom_style,
                "opacity": layer.opacity,
                "color": layer.color,
                **({} if layer.radius is None else {"radius": float(layer.radius)}),
            }
            for layer in self._layers
        ]

    def _frame_dict(self, index: int, spec: tuple[str, float, float] | None) -> dict[str, Any]:
        frame = self._frames[index]
        posed = [self._posed(pos) for pos in frame.pos]
        start = posed[0].mean(axis=0)
        scale = self.dipole_scale
        vectors = self._arrow_vectors(index)
        palette = iter(_PALETTE * (1 + len(vectors) // len(_PALETTE)))
        arrows = [
            {
                "name": name,
                "vector": d.tolist(),
                "norm": float(np.linalg.norm(d)),
                "start": start.tolist(),
                "end": (start + scale * d).tolist(),
                "color": ARROW_COLORS.get(name) or next(palette),
            }
            for name, d in vectors.items()
        ]
        comparison = {}
        if "true" in vectors and "predicted" in vectors:
            true, predicted = vectors["true"], vectors["predicted"]
            comparison = {
                "angle_deg": _angle_degrees(true, predicted),
                "error": float(np.linalg.norm(predicted - true)),
            }
        return {
            "layers": [
                {
                    "pos": p.tolist(),
                    "values": None if v is None else v.tolist(),
                    "colors": self._colors(v, spec),
                }
                for p, v in zip(posed, frame.atom_values, strict=True)
            ],
            "arrows": arrows,
            "comparison": comparison,
        }

    def _publish(self) -> None:
        spec = self._color_range()
        self.frames = [self._frame_dict(k, spec) for k in range(len(self._frames))]

    @traitlets.validate("frame")
    def _check_frame(self, proposal: dict) -> int:
        value = proposal["value"]
        if self._frames and not 0 <= value < len(self._frames):
            raise traitlets.TraitError(f"frame must be in [0, {len(self._frames)}); got {value}")
        return value

    @traitlets.observe("alpha", "beta", "gamma")
    def _on_pose(self, change: dict) -> None:
        # several angles set at once notify once each: publish once per pose
        if self._frames and self._pose != self._pose_key():
            self._publish()

    @traitlets.observe("dipole_scale")
    def _on_scale(self, change: dict) -> None:
        if self._frames and not self._showing:  # set by hand: keep it from now on
            self._fixed_scale = float(change["new"])
            self._publish()

    @traitlets.observe("frame")
    def _on_frame(self, change: dict) -> None:
        if self._frames and self._predict is not None and change["new"] not in self._predicted:
            self._publish()

    @traitlets.observe("atom_style")
    def _on_style(self, change: dict) -> None:
        if self._layers:
            self.layers = self._layer_dicts()
