r"""Crystal structures for the scattering data: EMT metals, periodic neighbour lists, cells.

**Structures** (:func:`prototype`, :func:`relax`, :func:`apply_strain`): bulk lattices of the
seven metals that ASE's EMT calculator is fitted to (Jacobsen, Stoltze and Nørskov, Surf.
Sci. 366, 394 (1996); its H, C, N, O parameters are "just for fun" and not offered here),
built with ``ase.build.bulk`` as ``"fcc"``, ``"bcc"``, ``"hcp"`` (ideal c/a = sqrt(8/3) before
relaxation) or ``"sc"``, pure or as substitutional binary alloys in a small supercell with
seeded random occupations. The start volume per atom is Vegard's average of the elements'
fcc volumes (``ase.data.reference_states``). Relaxation: BFGS on the atoms and the cell
together (``ase.filters.FrechetCellFilter``, zero pressure) until every force and stress
component is below ``fmax``. A strained cell is the relaxed cell deformed by
:math:`a_i \to (1 + \varepsilon)\, a_i` (symmetric strain :math:`\varepsilon`) with the
positions relaxed again at the fixed strained cell, so the atoms are at a force-free
configuration of a stressed crystal (a phonon calculation needs zero forces, not zero stress).

**Periodic neighbour lists** (:func:`periodic_neighbors`, :func:`edge_vectors`): the directed
edges src -> dst with

.. math:: \mathbf r_e = \mathbf x_\mathrm{dst} - \mathbf x_\mathrm{src} + \mathbf S_e C,
          \qquad |\mathbf r_e| < r_\mathrm{max},

where C (3, 3) holds the lattice vectors as rows and :math:`\mathbf S_e \in \mathbb Z^3` is
the cell shift of the image of dst (ASE's ``neighbor_list("ijS")`` convention with
i = src, j = dst). Every edge comes with its reverse (src and dst swapped, shift negated);
an atom's own periodic images are neighbours, the zero-shift self edge is not. Computed with
scipy's cKDTree over the periodic images of the atoms wrapped into the cell.

Units: Å, eV. Cells are (3, 3) arrays of row lattice vectors.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from ase import Atoms

__all__ = [
    "EMT_ELEMENTS",
    "LATTICES",
    "apply_strain",
    "check_structure",
    "edge_vectors",
    "emt_atoms",
    "lattice_parameters",
    "periodic_neighbors",
    "primitive_cell",
    "prototype",
    "relax",
    "shortest_lattice_vector",
    "single_thread",
    "standard_cell",
]

#: metals with fitted parameters in ASE's EMT calculator (atomic numbers 13, 28, 29, 46, 47,
#: 78, 79)
EMT_ELEMENTS = ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au")
#: lattice prototypes of :func:`prototype`
LATTICES = ("fcc", "bcc", "hcp", "sc")

_EXTRA = "pip install 'equivariant-workbench[scattering]'"
_Z = {"Al": 13, "Ni": 28, "Cu": 29, "Pd": 46, "Ag": 47, "Pt": 78, "Au": 79}
_SYMBOL = {z: s for s, z in _Z.items()}


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{module} is needed for crystal structures: {_EXTRA}") from err


def single_thread() -> contextlib.AbstractContextManager:
    """A context limiting BLAS/OpenMP to one thread (threadpoolctl), or a no-op without it.

    EMT relaxations and phonopy call BLAS on 3x3 to 30x30 matrices; a multithreaded BLAS on a
    busy machine makes them 10-50 times slower (measured: 2.1 s instead of 0.14 s for one
    fcc Cu cell relaxation).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


# ----------------------------------------------------------------------------- checks


def check_structure(z: Any, pos: Any, cell: Any, where: str = "structure") -> tuple:
    """Validate one crystal; returns (z (n,) int64, pos (n, 3) float64, cell (3, 3) float64).

    Raises ValueError naming ``where`` for wrong shapes, NaN/inf, a singular cell, or an
    element EMT has no parameters for (EMT_ELEMENTS).
    """
    z = np.asarray(z)
    pos = np.asarray(pos, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    if z.ndim != 1 or len(z) == 0 or z.dtype.kind not in "iu":
        raise ValueError(f"{where}: z must be a non-empty 1-d int array, got {z.dtype} {z.shape}")
    if pos.shape != (len(z), 3):
        raise ValueError(f"{where}: pos must have shape ({len(z)}, 3), got {pos.shape}")
    if cell.shape != (3, 3):
        raise ValueError(
            f"{where}: cell must have shape (3, 3) (row lattice vectors), got {cell.shape}"
        )
    if not np.isfinite(pos).all():
        bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))[:10].tolist()
        raise ValueError(f"{where}: pos has NaN or inf at atoms {bad}")
    if not np.isfinite(cell).all():
        raise ValueError(f"{where}: cell has NaN or inf: {cell.tolist()}")
    volume = abs(np.linalg.det(cell))
    if volume < 1e-6 * max(np.linalg.norm(cell, axis=1).prod(), 1e-300):
        raise ValueError(
            f"{where}: the cell is singular (volume {volume:.3g} Å^3): {cell.tolist()}"
        )
    unknown = sorted(set(z.tolist()) - set(_SYMBOL))
    if unknown:
        raise ValueError(
            f"{where}: atomic numbers {unknown} have no EMT parameters; expected elements of "
            f"{EMT_ELEMENTS} (atomic numbers {sorted(_SYMBOL)})"
        )
    return z.astype(np.int64), pos, cell


def _check_elements(symbols: Sequence[str], where: str) -> None:
    unknown = [s for s in symbols if s not in _Z]
    if unknown:
        raise ValueError(
            f"{where}: elements {unknown} are not supported by ASE's EMT calculator here; "
            f"expected elements of {EMT_ELEMENTS}"
        )


# ----------------------------------------------------------------------------- structures


def emt_atoms(z: Any, pos: Any, cell: Any) -> Atoms:
    """An ``ase.Atoms`` (periodic in 3-d) with the EMT calculator attached."""
    z, pos, cell = check_structure(z, pos, cell, "emt_atoms")
    ase = _require("ase")
    emt = _require("ase.calculators.emt")
    atoms = ase.Atoms(numbers=z, positions=pos, cell=cell, pbc=True)
    atoms.calc = emt.EMT()
    return atoms


def _fcc_volume(symbol: str) -> float:
    from ase.data import atomic_numbers, reference_states

    state = reference_states[atomic_numbers[symbol]]
    return state["a"] ** 3 / 4.0  # all seven EMT metals are fcc at ambient conditions


def prototype(
    symbols: str | Sequence[str], lattice: str, repeat: Sequence[int] = (1, 1, 1), cubic=False
) -> Atoms:
    """``ase.build.bulk`` cell of ``lattice``, repeated, with the given element per site.

    ``symbols``: one element for a pure crystal, or one per site of the repeated cell (in
    ASE's site order). The lattice constant gives every site the Vegard-average fcc volume
    of the elements present; ``cubic=True`` uses the conventional cubic cell (fcc, bcc, sc).
    """
    if lattice not in LATTICES:
        raise ValueError(f"prototype: lattice={lattice!r}, expected one of {LATTICES}")
    build = _require("ase.build")
    names = [symbols] if isinstance(symbols, str) else list(symbols)
    _check_elements(names, "prototype")
    volume = float(np.mean([_fcc_volume(s) for s in names]))
    if lattice == "fcc":
        kwargs = {"a": (4 * volume) ** (1 / 3)}
    elif lattice == "bcc":
        kwargs = {"a": (2 * volume) ** (1 / 3)}
    elif lattice == "sc":
        kwargs = {"a": volume ** (1 / 3)}
    else:  # hcp, ideal c/a: V = sqrt(3)/4 a^2 c with c = sqrt(8/3) a, so V = a^3 / sqrt(2)
        a = (math.sqrt(2) * volume) ** (1 / 3)
        kwargs = {"a": a, "c": math.sqrt(8 / 3) * a}
    atoms = build.bulk("Cu", lattice, cubic=cubic and lattice != "hcp", **kwargs)
    atoms = atoms.repeat(tuple(int(r) for r in repeat))
    if len(names) == 1:
        names = names * len(atoms)
    if len(names) != len(atoms):
        raise ValueError(
            f"prototype: {len(names)} symbols for the {len(atoms)} sites of {lattice} "
            f"repeated {tuple(repeat)}"
        )
    atoms.set_chemical_symbols(names)
    return atoms


def relax(atoms: Atoms, fmax: float = 1e-4, steps: int = 500, cell: bool = True) -> bool:
    """Relax ``atoms`` in place with EMT and BFGS; True if it converged within ``steps``.

    ``cell=True`` relaxes the cell too (FrechetCellFilter, zero pressure; ``fmax`` then also
    bounds the stress times the volume in eV); ``cell=False`` moves the atoms only.
    """
    emt = _require("ase.calculators.emt")
    filters = _require("ase.filters")
    optimize = _require("ase.optimize")
    if not (isinstance(fmax, (int, float)) and fmax > 0):
        raise ValueError(f"relax: fmax={fmax!r}, expected a force in eV/Å > 0")
    atoms.calc = emt.EMT()
    target = filters.FrechetCellFilter(atoms) if cell else atoms
    with single_thread():
        optimizer = optimize.BFGS(target, logfile=None)
        converged = optimizer.run(fmax=fmax, steps=steps)
    return bool(converged)


def apply_strain(atoms: Atoms, strain: np.ndarray) -> None:
    """Deform the cell in place, a_i -> (1 + strain) a_i, moving the atoms with it."""
    strain = np.asarray(strain, dtype=np.float64)
    if strain.shape != (3, 3) or not np.allclose(strain, strain.T) or not np.isfinite(strain).all():
        raise ValueError(f"apply_strain: strain must be a finite symmetric (3, 3), got {strain}")
    cell = np.asarray(atoms.cell[:]) @ (np.eye(3) + strain)  # rows: (1 + eps) a_i, eps symmetric
    atoms.set_cell(cell, scale_atoms=True)


# ----------------------------------------------------------------------------- cells


def _spglib_cell(z, pos, cell) -> tuple:
    return (cell, pos @ np.linalg.inv(cell), z)


def primitive_cell(z: Any, pos: Any, cell: Any, symprec: float = 1e-5) -> tuple:
    """The primitive cell (z, pos, cell) of a crystal, in the input's orientation.

    spglib's standardised primitive cell without idealisation (atoms are not moved onto
    their ideal sites, the Cartesian frame is kept); the input itself if spglib finds no
    smaller cell. Positions are wrapped into the cell.
    """
    spglib = _require("spglib")
    z, pos, cell = check_structure(z, pos, cell, "primitive_cell")
    out = spglib.standardize_cell(
        _spglib_cell(z, pos, cell), to_primitive=True, no_idealize=True, symprec=symprec
    )
    if out is None or len(out[2]) > len(z):
        frac = pos @ np.linalg.inv(cell)
        return z, (frac - np.floor(frac)) @ cell, cell
    new_cell, frac, numbers = out
    return np.asarray(numbers, dtype=np.int64), np.asarray(frac) @ new_cell, np.asarray(new_cell)


def standard_cell(z: Any, pos: Any, cell: Any, symprec: float = 1e-5) -> tuple:
    """The conventional standard cell (z, pos, cell), in the input's orientation (spglib,
    no idealisation); for fcc Cu the 4-atom cube. Used for (h k l) labels and lattice
    parameters."""
    spglib = _require("spglib")
    z, pos, cell = check_structure(z, pos, cell, "standard_cell")
    out = spglib.standardize_cell(
        _spglib_cell(z, pos, cell), to_primitive=False, no_idealize=True, symprec=symprec
    )
    if out is None:
        return z, pos, cell
    new_cell, frac, numbers = out
    return np.asarray(numbers, dtype=np.int64), np.asarray(frac) @ new_cell, np.asarray(new_cell)


def lattice_parameters(cell: Any) -> np.ndarray:
    """(6,) a, b, c in Å and alpha, beta, gamma in degrees of a (3, 3) cell."""
    cell = np.asarray(cell, dtype=np.float64)
    lengths = np.linalg.norm(cell, axis=1)
    angles = [
        math.degrees(math.acos(np.clip(cell[j] @ cell[k] / (lengths[j] * lengths[k]), -1, 1)))
        for j, k in ((1, 2), (0, 2), (0, 1))
    ]
    return np.concatenate([lengths, angles])


def shortest_lattice_vector(cell: Any) -> float:
    """Length of the shortest nonzero vector of the lattice spanned by ``cell`` (a lattice
    invariant: the same for every basis of the lattice)."""
    cell = np.asarray(cell, dtype=np.float64)
    from ase.geometry import minkowski_reduce

    reduced, _ = minkowski_reduce(cell)
    # a Minkowski-reduced basis contains the shortest vector; search small combinations too
    combos = np.array([c for c in itertools.product((-1, 0, 1), repeat=3) if any(c)])
    return float(np.linalg.norm(combos @ reduced, axis=1).min())


# ----------------------------------------------------------------------------- neighbours


def periodic_neighbors(pos: Any, cell: Any, pbc: Any = True, r_max: float = 5.0) -> tuple:
    """Directed edges within ``r_max`` of a periodic crystal (see the module docstring).

    Args:
        pos: (n, 3) positions (need not lie inside the cell); numpy or torch.
        cell: (3, 3) row lattice vectors, full rank (also along non-periodic directions).
        pbc: bool or 3 bools, periodicity along each lattice vector.
        r_max: cutoff in Å (> 0); pairs with distance < r_max are kept.

    Returns ``(edge_src (E,), edge_dst (E,), cell_shift (E, 3), vectors (E, 3))`` with
    ``vectors = pos[edge_dst] - pos[edge_src] + cell_shift @ cell``, sorted by src, dst, then
    shift. int64/float64 numpy arrays for numpy input; torch tensors for torch input, the
    vectors then computed from ``pos`` and ``cell`` with torch (gradients flow).
    """
    is_torch = isinstance(pos, torch.Tensor)
    x = pos.detach().cpu().double().numpy() if is_torch else np.asarray(pos, dtype=np.float64)
    c = (
        cell.detach().cpu().double().numpy()
        if isinstance(cell, torch.Tensor)
        else np.asarray(cell, dtype=np.float64)
    )
    periodic = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"periodic_neighbors: pos must have shape (n, 3), got {x.shape}")
    if c.shape != (3, 3):
        raise ValueError(f"periodic_neighbors: cell must have shape (3, 3), got {c.shape}")
    if not (np.isfinite(x).all() and np.isfinite(c).all()):
        raise ValueError("periodic_neighbors: pos and cell must be finite (no NaN or inf)")
    if not (isinstance(r_max, (int, float)) and math.isfinite(r_max) and r_max > 0):
        raise ValueError(f"periodic_neighbors: r_max must be a finite number > 0, got {r_max!r}")
    if abs(np.linalg.det(c)) < 1e-9 * max(np.linalg.norm(c, axis=1).prod(), 1e-300):
        raise ValueError(
            f"periodic_neighbors: cell must be full rank (give any spanning vectors along "
            f"non-periodic directions), got {c.tolist()}"
        )
    src, dst, shift = _neighbor_indices(x, c, periodic, float(r_max))
    if is_torch:
        src_t = torch.from_numpy(src).to(pos.device)
        dst_t = torch.from_numpy(dst).to(pos.device)
        shift_t = torch.from_numpy(shift).to(pos.device)
        cell_t = torch.as_tensor(cell, dtype=pos.dtype, device=pos.device)
        return src_t, dst_t, shift_t, edge_vectors(pos, cell_t, src_t, dst_t, shift_t)
    return src, dst, shift, x[dst] - x[src] + shift @ c


def _neighbor_indices(x: np.ndarray, cell: np.ndarray, periodic: np.ndarray, r_max: float):
    from scipy.spatial import cKDTree

    n = len(x)
    inverse = np.linalg.inv(cell)
    frac = x @ inverse
    home = np.where(periodic, np.floor(frac), 0.0).astype(np.int64)  # x = wrapped + home @ cell
    wrapped = (frac - home) @ cell
    # fractional coordinate i of a vector v is v . b_i with b_i = inverse[:, i], so a vector
    # shorter than r_max spans at most r_max |b_i| cells along i
    reach = np.where(periodic, np.ceil(r_max * np.linalg.norm(inverse, axis=0)), 0).astype(int)
    shifts = np.array(list(itertools.product(*(range(-k, k + 1) for k in reach))), dtype=np.int64)
    images = (wrapped[None, :, :] + (shifts @ cell)[:, None, :]).reshape(-1, 3)
    pairs = cKDTree(wrapped).sparse_distance_matrix(cKDTree(images), r_max, output_type="ndarray")
    src = pairs["i"].astype(np.int64)
    dst = pairs["j"] % n
    shift = shifts[pairs["j"] // n] + home[src] - home[dst]
    vectors = x[dst] - x[src] + shift @ cell
    keep = np.linalg.norm(vectors, axis=1) < r_max
    keep &= ~((src == dst) & (shift == 0).all(axis=1))
    src, dst, shift = src[keep], dst[keep], shift[keep]
    order = np.lexsort((shift[:, 2], shift[:, 1], shift[:, 0], dst, src))
    return src[order], dst[order], shift[order]


def edge_vectors(
    pos: torch.Tensor,
    cell: torch.Tensor,
    edge_src: torch.Tensor,
    edge_dst: torch.Tensor,
    cell_shift: torch.Tensor,
    batch: torch.Tensor | None = None,
) -> torch.Tensor:
    """(E, 3) edge vectors pos[dst] - pos[src] + cell_shift @ cell (differentiable).

    ``cell``: (3, 3) for one crystal, or (B, 3, 3) with ``batch`` (N,) the crystal of each
    atom, for a batch from :func:`workbench.data.scattering.collate_crystals`.
    """
    shift = cell_shift.to(pos.dtype)
    if cell.dim() == 2:
        offset = shift @ cell
    else:
        if batch is None:
            raise ValueError(
                "edge_vectors: a (B, 3, 3) cell needs batch (N,) to pick each edge's cell"
            )
        offset = torch.einsum("ei,eij->ej", shift, cell[batch[edge_src]])
    return pos[edge_dst] - pos[edge_src] + offset
