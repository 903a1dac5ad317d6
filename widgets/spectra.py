"""SpectraViewer: a crystal in its unit cell (3Dmol.js, vendored) next to its true and
predicted spectra (plotly) and its powder diffraction pattern with the peaks labelled (h k l)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets

from workbench.metrics import spectrum_mse, wasserstein_1d

from ._assets import widget_css, widget_esm
from ._util import as_array
from ._util import index_in as _index
from .molecule import ELEMENTS, STYLES, atomic_numbers

__all__ = [
    "SpectraViewer",
    "cell_edges",
    "formula",
    "hkl_label",
    "unit_cell_atoms",
]

MAX_ATOMS_DRAWN = 2000
"""Atoms (periodic images included) the 3D view draws at most."""

_WRAP_TOLERANCE = 1e-6  # fractional coordinates this close to 1 wrap to 0
_BOUNDARY_TOLERANCE = 1e-3  # fractional coordinates this close to 0 get an image at 1


# --- small pieces with a meaning of their own ------------------------------------------------


def hkl_label(h: int, k: int, l: int) -> str:
    """Miller indices as crystallographers write them: ``(1 1̄ 0)`` -> ``"(11̄0)"``, a negative
    index with a bar (combining overline), spaces only when an index has two digits.

    >>> hkl_label(1, -1, 0)
    '(11̄0)'
    """
    indices = [int(np.rint(v)) for v in (h, k, l)]
    parts = [f"{abs(v)}\u0304" if v < 0 else str(v) for v in indices]
    sep = " " if any(abs(v) >= 10 for v in indices) else ""
    return "(" + sep.join(parts) + ")"


def cell_edges(cell: Any) -> np.ndarray:
    """The 12 edges of the parallelepiped spanned by the rows of ``cell`` from the origin.

    Returns ``(12, 2, 3)``: start and end point of each edge (corners ``i a + j b + k c`` with
    i, j, k in {0, 1}; an edge joins corners that differ in one index).
    """
    cell = np.asarray(cell, dtype=np.float64)
    edges = []
    for axis in range(3):
        others = [d for d in range(3) if d != axis]
        for i in (0, 1):
            for j in (0, 1):
                start = i * cell[others[0]] + j * cell[others[1]]
                edges.append((start, start + cell[axis]))
    return np.array(edges)


def unit_cell_atoms(
    z: np.ndarray,
    pos: np.ndarray,
    cell: np.ndarray,
    repeat: tuple[int, int, int] = (1, 1, 1),
    boundary_images: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The atoms drawn in the cell: every atom wrapped into the cell (fractional coordinates
    in [0, 1)), the cell repeated ``repeat`` times along a, b, c, and, with
    ``boundary_images``, the periodic images on the far faces, edges and corners (an atom at
    the origin of an fcc primitive cell shows at all eight corners).

    Returns ``z`` (M,), ``pos`` (M, 3) Å, and ``source`` (M,) the index of the atom of the
    input each drawn atom is an image of.
    """
    frac = pos @ np.linalg.inv(cell)
    frac = frac - np.floor(frac + _WRAP_TOLERANCE)
    frac[np.abs(frac) < _WRAP_TOLERANCE] = 0.0
    reach = np.array(repeat) + (1 if boundary_images else 0)
    shifts = np.array(
        [(i, j, k) for i in range(reach[0]) for j in range(reach[1]) for k in range(reach[2])],
        dtype=np.float64,
    )
    images = frac[None, :, :] + shifts[:, None, :]  # (T, n, 3)
    # without boundary images every shift keeps the atoms in [0, repeat); with them, the
    # extra shift keeps only the images on the far faces (coordinate ~ repeat)
    inside = (images <= np.array(repeat) + _BOUNDARY_TOLERANCE).all(axis=-1)
    t, atom = np.nonzero(inside)
    out_pos = images[t, atom] @ cell
    return z[atom], out_pos, atom


def _nearest_bonds(pos: np.ndarray, factor: float | None) -> np.ndarray:
    """(B, 2) pairs i < j of drawn atoms closer than ``factor`` times the shortest distance
    between any two drawn atoms (nearest-neighbour sticks; metals have no covalent bonds)."""
    if factor is None or len(pos) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    distance = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    i, j = np.triu_indices(len(pos), k=1)
    d = distance[i, j]
    keep = d < factor * d.min()
    return np.stack([i[keep], j[keep]], axis=1).astype(np.int64)


def formula(z: Any) -> str:
    """Chemical formula with elements in alphabetical order, e.g. ``"AuCu3"``."""
    symbols, counts = np.unique([ELEMENTS[int(v) - 1] for v in z], return_counts=True)
    return "".join(f"{s}{c if c > 1 else ''}" for s, c in zip(symbols, counts, strict=True))


# --- validation ------------------------------------------------------------------------------


def _real(value: Any, name: str, shape: tuple[int | None, ...], expected: str) -> np.ndarray:
    """A finite float64 array of ``shape`` (None: any size on that axis)."""
    array = as_array(value, name)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.ndim != len(shape) or any(
        n is not None and n != m for n, m in zip(shape, array.shape, strict=True)
    ):
        raise ValueError(f"{name} must have shape {expected}; got {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        bad = tuple(int(v) for v in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} contains NaN or infinite values (first at index {bad})")
    return array


def _per_structure(value: Any, name: str) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(
        value, (Sequence, np.ndarray, torch.Tensor)
    ):
        raise ValueError(
            f"{name} must be a sequence with one entry per structure; got {type(value).__name__}"
        )
    return list(value)


def _grid(value: Any, name: str) -> np.ndarray:
    grid = _real(value, name, (None,), "(n_grid,)")
    if len(grid) < 2 or (np.diff(grid) <= 0).any():
        raise ValueError(f"{name} must be strictly increasing with at least 2 points")
    return grid


def _curves(value: Any, name: str, n_structures: int, grid: np.ndarray, grid_name: str):
    """name -> (S, n) finite arrays, one curve per structure on ``grid``."""
    if not isinstance(value, Mapping) or not value:
        raise ValueError(
            f"{name} must be a non-empty dict name -> (S, {len(grid)}) array, e.g. "
            f"{{'true': ..., 'model': ...}}; got {type(value).__name__}"
        )
    out = {}
    for key, curves in value.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{name} keys must be non-empty str; got {key!r}")
        out[key] = _real(
            curves,
            f"{name}[{key!r}]",
            (n_structures, len(grid)),
            f"(S, n) = ({n_structures}, {len(grid)}): one row per structure on {grid_name}",
        )
    return out


def _peak_lists(value: Any, name: str, n_structures: int) -> list[np.ndarray]:
    rows = _per_structure(value, name)
    if len(rows) != n_structures:
        raise ValueError(f"{name} has {len(rows)} peak lists; expected {n_structures}, one each")
    out = []
    for s, peaks in enumerate(rows):
        array = as_array(peaks, f"{name}[{s}]")
        if array.size == 0:
            out.append(np.zeros((0, 5)))
            continue
        array = _real(
            array, f"{name}[{s}]", (None, None), "(P, 5+): columns 2θ, intensity, h, k, l"
        )
        if array.shape[1] < 5:
            raise ValueError(
                f"{name}[{s}] must have shape (P, 5+): columns 2θ, intensity, h, k, l; "
                f"got {array.shape}"
            )
        hkl = array[:, 2:5]
        if not np.allclose(hkl, np.round(hkl)):
            raise ValueError(f"{name}[{s}]: columns 2-4 (h, k, l) must be integers")
        out.append(array[:, :5])
    return out


def _format(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    array = np.asarray(value)
    if array.ndim == 1 and array.dtype.kind in "iuf":
        return "(" + ", ".join(_format(v.item()) for v in array) + ")"
    raise ValueError(f"info values must be str, numbers or 1-D number arrays; got {value!r}")


# --- front-end assets ------------------------------------------------------------------------


# --- the widget ------------------------------------------------------------------------------


class SpectraViewer(anywidget.AnyWidget):
    """Crystals with their spectra: pick a structure and see its unit cell in 3D (3Dmol.js,
    bundled, offline) next to its true and predicted spectra overlaid (plotly), and, for
    diffraction, its powder pattern with the peaks labelled by (h k l).

    The 3D view draws every atom wrapped into the cell (fractional coordinates in [0, 1)),
    with its periodic images on the far faces, edges and corners, the 12 cell edges, and
    sticks between nearest neighbours. The spectrum panel overlays each model's spectrum on
    the ``reference`` one (default "true") and lists, for the structure shown, each model's
    mean squared error and Wasserstein-1 distance to it in the unit of the energy grid
    (:func:`workbench.metrics.spectrum_mse`, :func:`workbench.metrics.wasserstein_1d`; W1 is
    None for a spectrum with a negative value: not a distribution). The picker (drop-down and
    arrows, or the ``structure`` trait from Python) switches everything at once: the kernel
    sends the picked structure's data.

    Args:
        z: S sequences of atomic numbers or element symbols, one ``(n_s,)`` per structure.
        pos: S ``(n_s, 3)`` Cartesian positions in Å.
        cell: S ``(3, 3)`` cells, lattice vectors as rows, Å (an ``(S, 3, 3)`` array or list).
        energy: ``(n_grid,)`` strictly increasing grid of the spectra (e.g. frequency in THz).
        spectra: name -> ``(S, n_grid)``: the reference (``"true"``) and any number of models.
        two_theta: ``(n_points,)`` 2θ grid of the patterns, degrees; needed with ``patterns``.
        patterns: name -> ``(S, n_points)`` powder patterns, e.g. ``{"X-ray": ..., "neutron":
            ...}``, overlaid in the pattern panel.
        peaks: name (a key of ``patterns``) -> S peak lists ``(P_s, 5+)`` with columns 2θ
            (degrees), intensity (strongest 1), h, k, l (extra columns, e.g. d, are ignored).
            The strongest ``max_peak_labels`` peaks above ``min_peak_label`` are labelled.
        names: S labels for the picker; default formula and index, e.g. ``"AuCu3 #2"``.
        info: label -> S values (str, numbers or short number arrays) listed next to the
            picker, e.g. ``{"a true (Å)": a, "a predicted (Å)": a_hat}``.
        reference: the key of ``spectra`` the models are compared with.
        structure: the structure shown first.
        repeat: how many cells to draw along a, b, c.
        boundary_images: draw the images of atoms on the cell's far faces, edges, corners.
        bond_factor: sticks join drawn atoms closer than this times the shortest distance
            between two drawn atoms; None draws no sticks.
        style: one of ``STYLES`` (as :class:`widgets.MoleculeViewer`); the ``atom_style``
            trait afterwards.
        energy_label, spectrum_label: axis titles of the spectrum panel.
        max_peak_labels, min_peak_label: how many peaks, at least how strong, get a label.
        min_label_separation: degrees 2θ between labelled peaks; a weaker peak closer than
            this to a labelled one (or the same peak in another pattern) is not labelled.
        title: heading shown above the viewer.
    """

    _esm = widget_esm("spectra.js", ("3dmol", "plotly"))
    _css = widget_css("spectra.css")

    # set by the picker or from Python
    structure = traitlets.Int(0).tag(sync=True)
    atom_style = traitlets.Enum(STYLES, default_value="ball_and_stick").tag(sync=True)

    # computed here, drawn there
    title = traitlets.Unicode("").tag(sync=True)
    names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    reference = traitlets.Unicode("true").tag(sync=True)
    spectrum_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    pattern_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    energy = traitlets.List(traitlets.Float()).tag(sync=True)
    two_theta = traitlets.List(traitlets.Float()).tag(sync=True)
    energy_label = traitlets.Unicode("").tag(sync=True)
    spectrum_label = traitlets.Unicode("").tag(sync=True)
    view = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        z: Sequence[Any],
        pos: Sequence[Any],
        cell: Any,
        energy: Any,
        spectra: Mapping[str, Any],
        *,
        two_theta: Any = None,
        patterns: Mapping[str, Any] | None = None,
        peaks: Mapping[str, Sequence[Any]] | None = None,
        names: Sequence[str] | None = None,
        info: Mapping[str, Sequence[Any]] | None = None,
        reference: str = "true",
        structure: int = 0,
        repeat: Sequence[int] = (1, 1, 1),
        boundary_images: bool = True,
        bond_factor: float | None = 1.1,
        style: str = "ball_and_stick",
        energy_label: str = "frequency (THz)",
        spectrum_label: str = "phonon DoS (1/THz)",
        max_peak_labels: int = 12,
        min_peak_label: float = 0.02,
        min_label_separation: float = 1.5,
        title: str = "",
        **kwargs: Any,
    ) -> None:
        self._structures = self._check_structures(z, pos, cell)
        n = len(self._structures)
        self._energy = _grid(energy, "energy")
        self._spectra = _curves(spectra, "spectra", n, self._energy, "the energy grid")
        if reference not in self._spectra:
            raise ValueError(
                f"reference={reference!r} is not a key of spectra {sorted(self._spectra)}"
            )
        self._two_theta, self._patterns, self._peaks = self._check_patterns(
            two_theta, patterns, peaks, n
        )
        self._names = self._check_names(names, n)
        self._info = self._check_info(info, n)
        self._repeat = self._check_repeat(repeat)
        if not isinstance(boundary_images, bool):
            raise ValueError(f"boundary_images must be True or False; got {boundary_images!r}")
        self._boundary_images = boundary_images
        if bond_factor is not None and not (
            isinstance(bond_factor, numbers.Real) and 1 <= bond_factor < 3
        ):
            raise ValueError(f"bond_factor must be a number in [1, 3) or None; got {bond_factor!r}")
        self._bond_factor = bond_factor
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}; got {style!r}")
        if isinstance(max_peak_labels, bool) or not isinstance(max_peak_labels, numbers.Integral):
            raise ValueError(f"max_peak_labels must be an int >= 0; got {max_peak_labels!r}")
        if max_peak_labels < 0:
            raise ValueError(f"max_peak_labels must be an int >= 0; got {max_peak_labels!r}")
        if not (isinstance(min_peak_label, numbers.Real) and 0 <= min_peak_label <= 1):
            raise ValueError(f"min_peak_label must be in [0, 1]; got {min_peak_label!r}")
        if not (isinstance(min_label_separation, numbers.Real) and min_label_separation >= 0):
            raise ValueError(
                f"min_label_separation must be degrees >= 0; got {min_label_separation!r}"
            )
        self._label_separation = float(min_label_separation)
        self._max_peak_labels = int(max_peak_labels)
        self._min_peak_label = float(min_peak_label)
        self._reference = reference
        structure = _index(structure, "structure", 0, n)
        super().__init__(  # the first message to the browser holds everything it draws
            structure=structure,
            view=self._view(structure),
            title=title,
            names=self._names,
            reference=reference,
            spectrum_names=list(self._spectra),
            pattern_names=list(self._patterns),
            energy=self._energy.tolist(),
            two_theta=[] if self._two_theta is None else self._two_theta.tolist(),
            energy_label=energy_label,
            spectrum_label=spectrum_label,
            atom_style=style,
            **kwargs,
        )

    # --- convenience constructors ---------------------------------------------------------

    @classmethod
    def from_crystals(
        cls,
        data: Any,
        predictions: Mapping[str, Any] | None = None,
        index: Any = None,
        kinds: Sequence[str] = ("xrd", "nd"),
        info: Mapping[str, Sequence[Any]] | None = None,
        **kwargs: Any,
    ) -> SpectraViewer:
        """A viewer of crystals of a :class:`workbench.data.scattering.CrystalData`: their
        phonon DoS ("true"), the ``predictions`` (name -> ``(len(index), n_bins)``, rows in
        the order of ``index``), their X-ray ("xrd") and neutron ("nd") patterns with the
        peaks labelled, and their space group and conventional lattice parameters.

        ``index``: which crystals (ints), default all. Other keyword arguments go to the
        constructor.
        """
        index = np.arange(len(data)) if index is None else np.asarray(index, dtype=np.int64)
        if index.ndim != 1 or index.size == 0:
            raise ValueError(f"index must be a non-empty 1-D sequence of ints; got {index!r}")
        bad = [int(i) for i in index if not -len(data) <= i < len(data)]
        if bad:
            raise ValueError(f"index {bad[0]} is out of range for {len(data)} crystals")
        structures = [data.structure(int(i)) for i in index]
        spectra = {"true": np.asarray(data.dos)[index]}
        for name, value in (predictions or {}).items():
            if name in spectra:
                raise ValueError(f"predictions must not be named {name!r} (the data's DoS)")
            spectra[name] = value
        titles = {"xrd": "X-ray", "nd": "neutron"}
        unknown = [k for k in kinds if k not in titles]
        if unknown:
            raise ValueError(f"kinds must be a subset of ('xrd', 'nd'); got {tuple(kinds)}")
        patterns = {titles[k]: np.asarray(getattr(data, k))[index] for k in kinds}
        peaks = {titles[k]: [data.peaks(int(i), k).to_numpy() for i in index] for k in kinds}
        lattice = np.asarray(data.lattice)[index]
        parameters = np.asarray(data.lattice_parameters)[index]
        table = {
            "lattice": [str(v) for v in lattice],
            "space group": [int(v) for v in np.asarray(data.spacegroup)[index]],
            "a, b, c (Å)": [p[:3] for p in parameters],
            "α, β, γ (°)": [p[3:] for p in parameters],
            **(info or {}),
        }
        kwargs.setdefault(
            "names",
            [
                f"{formula(z)} {lat} #{int(i)}"
                for (z, _, _), lat, i in zip(structures, lattice, index, strict=True)
            ],
        )
        return cls(
            [s[0] for s in structures],
            [s[1] for s in structures],
            [s[2] for s in structures],
            data.frequencies,
            spectra,
            two_theta=data.two_theta if kinds else None,
            patterns=patterns or None,
            peaks=peaks or None,
            info=table,
            **kwargs,
        )

    @classmethod
    def from_result(
        cls,
        result: Any,
        index: Any = None,
        models: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> SpectraViewer:
        """A viewer of the test crystals of :func:`workbench.experiments.scattering.run`'s
        result: the true DoS and each model's prediction (``models``: which, default all),
        the X-ray and neutron patterns with the peaks labelled, and the inverse model's
        lattice parameters next to the true ones. ``index``: which test crystals, default
        all. Other keyword arguments go to the constructor."""
        test = result.test
        index = np.arange(len(test)) if index is None else np.asarray(index, dtype=np.int64)
        names = list(result.predictions) if models is None else list(models)
        unknown = [m for m in names if m not in result.predictions]
        if unknown:
            raise ValueError(
                f"models {unknown} are not in the result; it has {list(result.predictions)}"
            )
        if index.ndim != 1 or not all(-len(test) <= i < len(test) for i in index):
            raise ValueError(f"index must be ints in [0, {len(test)}); got {index.tolist()}")
        predicted = np.asarray(result.lattice_predictions)[index]
        info = {
            "a, b, c predicted (Å)": [p[:3] for p in predicted],
            "α, β, γ predicted (°)": [p[3:] for p in predicted],
        }
        kwargs.setdefault("title", "test crystals: true and predicted phonon DoS")
        return cls.from_crystals(
            test,
            {m: np.asarray(result.predictions[m])[index] for m in names},
            index=index,
            info=info,
            **kwargs,
        )

    # --- public API -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._structures)

    @property
    def spectra(self) -> dict[str, np.ndarray]:
        """name -> ``(n_grid,)`` spectra of the structure shown."""
        return {name: s[self.structure].copy() for name, s in self._spectra.items()}

    @property
    def metrics(self) -> dict[str, dict[str, float | None]]:
        """model -> {"mse", "wasserstein"} against the reference, for the structure shown."""
        return self._metrics(self.structure)

    def metrics_table(self):
        """pandas DataFrame, one row per model: MSE and Wasserstein-1 distance to the
        reference averaged over all structures (None-valued distances left out)."""
        import pandas as pd

        rows = []
        for name in self._spectra:
            if name == self._reference:
                continue
            per = [self._metrics(s)[name] for s in range(len(self))]
            w = [m["wasserstein"] for m in per if m["wasserstein"] is not None]
            rows.append(
                {
                    "model": name,
                    "mse": float(np.mean([m["mse"] for m in per])),
                    "wasserstein": float(np.mean(w)) if w else float("nan"),
                }
            )
        return pd.DataFrame(rows, columns=["model", "mse", "wasserstein"])

    def structure_arrays(self, index: int | None = None) -> tuple[np.ndarray, ...]:
        """(z (n,), pos (n, 3), cell (3, 3)) of a structure (default: the one shown), as
        given."""
        s = self.structure if index is None else _index(index, "index", 0, len(self))
        return tuple(a.copy() for a in self._structures[s])

    def drawn_atoms(self) -> tuple[np.ndarray, np.ndarray]:
        """(z (M,), pos (M, 3)) of the atoms drawn for the structure shown: wrapped into the
        cell, repeated, with boundary images (:func:`unit_cell_atoms`)."""
        z, pos, _ = self._drawn(self.structure)
        return z, pos

    def set_spectra(self, spectra: Mapping[str, Any]) -> None:
        """Add or replace spectra (name -> ``(S, n_grid)``), e.g. a newly trained model's."""
        new = _curves(spectra, "spectra", len(self), self._energy, "the energy grid")
        self._spectra = {**self._spectra, **new}
        with self.hold_sync():
            self.spectrum_names = list(self._spectra)
            self.view = self._view(self.structure)

    # --- internals ------------------------------------------------------------------------

    @staticmethod
    def _check_structures(z: Any, pos: Any, cell: Any) -> list[tuple[np.ndarray, ...]]:
        zs = _per_structure(z, "z")
        poss = _per_structure(pos, "pos")
        cells = _per_structure(cell, "cell")
        if not zs:
            raise ValueError("need at least one structure; z is empty")
        if not len(zs) == len(poss) == len(cells):
            raise ValueError(
                f"z, pos and cell must hold one entry per structure; got {len(zs)}, "
                f"{len(poss)} and {len(cells)}"
            )
        out = []
        for s, (zi, pi, ci) in enumerate(zip(zs, poss, cells, strict=True)):
            shape = np.shape(as_array(zi, f"z[{s}]"))
            if len(shape) != 1:
                raise ValueError(
                    f"z[{s}] must be a (n,) sequence of atomic numbers or symbols; got shape "
                    f"{shape} (for one structure pass [z], [pos], [cell])"
                )
            try:
                numbers_ = atomic_numbers(zi)
            except ValueError as err:
                raise ValueError(f"z[{s}]: {err}") from err
            positions = _real(pi, f"pos[{s}]", (len(numbers_), 3), f"({len(numbers_)}, 3)")
            lattice = _real(ci, f"cell[{s}]", (3, 3), "(3, 3), lattice vectors as rows")
            volume = abs(float(np.linalg.det(lattice)))
            if volume < 1e-6 * max(float(np.abs(lattice).max()), 1.0) ** 3:
                raise ValueError(f"cell[{s}] is singular (volume {volume:.3g} Å^3): {lattice}")
            out.append((numbers_, positions, lattice))
        return out

    @staticmethod
    def _check_patterns(two_theta: Any, patterns: Any, peaks: Any, n: int):
        if patterns is None:
            if peaks is not None:
                raise ValueError("peaks need patterns: pass patterns={name: (S, n_points)}")
            return None, {}, {}
        if two_theta is None:
            raise ValueError("patterns need their 2θ grid: pass two_theta=(n_points,)")
        grid = _grid(two_theta, "two_theta")
        curves = _curves(patterns, "patterns", n, grid, "the 2θ grid")
        lists = {}
        if peaks is not None:
            if not isinstance(peaks, Mapping):
                raise ValueError(
                    f"peaks must be a dict pattern name -> S peak lists; got {type(peaks).__name__}"
                )
            for name, value in peaks.items():
                if name not in curves:
                    raise ValueError(
                        f"peaks[{name!r}] has no pattern; pattern names are {sorted(curves)}"
                    )
                lists[name] = _peak_lists(value, f"peaks[{name!r}]", n)
        return grid, curves, lists

    def _check_names(self, names: Any, n: int) -> list[str]:
        if names is None:
            return [f"{formula(z)} #{s}" for s, (z, _, _) in enumerate(self._structures)]
        names = _per_structure(names, "names")
        if len(names) != n or not all(isinstance(v, str) for v in names):
            raise ValueError(f"names must be {n} str, one per structure; got {names!r}")
        return list(names)

    @staticmethod
    def _check_info(info: Any, n: int) -> dict[str, list[str]]:
        if info is None:
            return {}
        if not isinstance(info, Mapping):
            raise ValueError(f"info must be a dict label -> S values; got {type(info).__name__}")
        out = {}
        for key, values in info.items():
            values = _per_structure(values, f"info[{key!r}]")
            if len(values) != n:
                raise ValueError(f"info[{key!r}] has {len(values)} values; expected {n}")
            out[str(key)] = [_format(v) for v in values]
        return out

    @staticmethod
    def _check_repeat(repeat: Any) -> tuple[int, int, int]:
        try:
            values = tuple(repeat)
        except TypeError:
            values = ()
        if len(values) != 3 or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and 1 <= v <= 5
            for v in values
        ):
            raise ValueError(f"repeat must be three ints in 1..5; got {repeat!r}")
        return tuple(int(v) for v in values)

    def _drawn(self, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        z, pos, cell = self._structures[s]
        z_drawn, pos_drawn, source = unit_cell_atoms(
            z, pos, cell, self._repeat, self._boundary_images
        )
        if len(z_drawn) > MAX_ATOMS_DRAWN:
            raise ValueError(
                f"structure {s} ({self._names[s]}) would draw {len(z_drawn)} atoms with "
                f"repeat={self._repeat}; at most {MAX_ATOMS_DRAWN}: use a smaller repeat"
            )
        return z_drawn, pos_drawn, source

    def _metrics(self, s: int) -> dict[str, dict[str, float | None]]:
        true = self._spectra[self._reference][s]
        out = {}
        for name, curves in self._spectra.items():
            if name == self._reference:
                continue
            try:
                w1 = float(wasserstein_1d(curves[s], true, self._energy)[0])
            except ValueError:  # a negative value or no weight: not a distribution
                w1 = None
            out[name] = {"mse": spectrum_mse(curves[s][None], true[None]), "wasserstein": w1}
        return out

    def _peak_view(self, s: int) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
        """Every peak (for hover) and the labels: the strongest peaks over all patterns, at
        least ``min_label_separation`` degrees apart, each placed on the highest curve there."""
        peaks, candidates = {}, []
        for name, lists in self._peaks.items():
            rows = lists[s]
            peaks[name] = [
                {
                    "two_theta": float(r[0]),
                    "intensity": float(r[1]),
                    "hkl": [int(v) for v in np.rint(r[2:5])],
                    "label": hkl_label(*r[2:5]),
                }
                for r in rows
            ]
            candidates += [(float(r[1]), float(r[0]), hkl_label(*r[2:5]), name) for r in rows]
        labels: list[dict[str, Any]] = []
        for intensity, x, text, name in sorted(candidates, reverse=True):
            if len(labels) >= self._max_peak_labels or intensity < self._min_peak_label:
                break
            if any(abs(x - other["x"]) < self._label_separation for other in labels):
                continue  # a stronger peak nearby is labelled already (or the same one)
            k = int(np.argmin(np.abs(self._two_theta - x)))
            height = max(float(p[s][k]) for p in self._patterns.values())
            labels.append(
                {"x": x, "y": height, "text": text, "pattern": name, "intensity": intensity}
            )
        return peaks, labels

    def _view(self, s: int) -> dict[str, Any]:
        z, _, cell = self._structures[s]
        z_drawn, pos_drawn, source = self._drawn(s)
        parameters = np.linalg.norm(cell, axis=1)
        peaks, labels = self._peak_view(s) if self._patterns else ({}, [])
        return {
            "index": s,
            "name": self._names[s],
            "formula": formula(z),
            "n_atoms": len(z),
            "atoms": {
                "symbols": [ELEMENTS[v - 1] for v in z_drawn],
                "pos": pos_drawn.tolist(),
                "source": source.tolist(),
                "bonds": _nearest_bonds(pos_drawn, self._bond_factor).tolist(),
            },
            "cell": {
                "edges": cell_edges(cell).tolist(),
                "vectors": cell.tolist(),
                "lengths": parameters.tolist(),
                "volume": abs(float(np.linalg.det(cell))),
            },
            "spectra": {name: curves[s].tolist() for name, curves in self._spectra.items()},
            "metrics": self._metrics(s),
            "patterns": {name: curves[s].tolist() for name, curves in self._patterns.items()},
            "peaks": peaks,
            "peak_labels": labels,
            "info": [[key, values[s]] for key, values in self._info.items()],
        }

    @traitlets.validate("structure")
    def _check_structure(self, proposal: dict) -> int:
        value = proposal["value"]
        if not 0 <= value < len(self._structures):
            raise traitlets.TraitError(
                f"structure must be in [0, {len(self._structures)}); got {value}"
            )
        return value

    @traitlets.validate("reference")
    def _check_reference(self, proposal: dict) -> str:
        if proposal["value"] not in self._spectra:
            raise traitlets.TraitError(
                f"reference must be a key of spectra {list(self._spectra)}; "
                f"got {proposal['value']!r}"
            )
        return proposal["value"]

    @traitlets.observe("reference")
    def _on_reference(self, change: dict) -> None:
        if change["new"] != self._reference:
            self._reference = change["new"]
            self.view = self._view(self.structure)

    @traitlets.observe("structure")
    def _on_structure(self, change: dict) -> None:
        if self.view.get("index") != change["new"]:  # the browser or Python picked another
            self.view = self._view(change["new"])
