"""ModelNet10 point clouds, for users who have the data set on disk (never downloaded here).

ModelNet (Wu et al., "3D ShapeNets", arXiv 1406.5670) is distributed by Princeton at
http://modelnet.cs.princeton.edu/ as CAD meshes in OFF format, laid out as
``<root>/<class>/{train,test}/<class>_XXXX.off``. Each mesh is turned into a cloud of points
sampled uniformly by area, centred and scaled to unit radius.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .shapes import PointClouds

__all__ = ["MODELNET10_CLASSES", "load_modelnet10", "read_off", "sample_surface"]

log = logging.getLogger(__name__)

MODELNET10_CLASSES: tuple[str, ...] = (
    "bathtub",
    "bed",
    "chair",
    "desk",
    "dresser",
    "monitor",
    "night_stand",
    "sofa",
    "table",
    "toilet",
)

_WHERE = (
    "Download ModelNet10 from http://modelnet.cs.princeton.edu/ (ModelNet10.zip), unzip it "
    "and pass the folder that holds the class folders, laid out as "
    "<root>/<class>/{train,test}/<class>_XXXX.off"
)


def read_off(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a triangle mesh from an OFF file.

    Accepts the ModelNet quirk of counts glued to the header (``OFF1234 5678 0``), comments
    (``#``) and blank lines, and polygons with k > 3 vertices, which are fan-triangulated into
    (v_0, v_{j}, v_{j+1}), j = 1..k-2. Extra numbers after a vertex or face (colours) are
    ignored.

    Returns:
        vertices (V, 3) float64 and faces (F', 3) int64 (F' >= F after triangulation).

    Raises:
        ValueError naming the file and the problem: bad header, counts that do not match the
        file, a face index out of range, or non-finite coordinates.
    """
    path = Path(path)

    def fail(problem: str) -> ValueError:
        return ValueError(f"malformed OFF file {path}: {problem}")

    text = path.read_text(errors="replace")
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines or not lines[0].startswith("OFF"):
        first = lines[0][:40] if lines else "<empty file>"
        raise fail(f"the header must start with 'OFF', got {first!r}")
    rest = lines[0][3:].strip()
    body = lines[1:]
    if not rest:  # counts on their own line (the normal case)
        if not body:
            raise fail("no counts line after the 'OFF' header")
        rest, body = body[0], body[1:]
    try:
        counts = [int(c) for c in rest.split()]
    except ValueError:
        raise fail(f"counts must be integers 'V F E', got {rest!r}") from None
    if len(counts) not in (2, 3) or min(counts) < 0:
        raise fail(f"counts must be non-negative integers 'V F E', got {rest!r}")
    n_vertices, n_faces = counts[:2]
    if len(body) != n_vertices + n_faces:
        raise fail(
            f"the header announces {n_vertices} vertices and {n_faces} faces "
            f"({n_vertices + n_faces} lines), but {len(body)} lines follow"
        )
    vertices = _parse_vertices(body[:n_vertices], fail)
    faces = _parse_faces(body[n_vertices:], fail)
    if len(faces) and (faces.min() < 0 or faces.max() >= n_vertices):
        bad = faces[(faces < 0) | (faces >= n_vertices)][0]
        raise fail(f"face index {bad} out of range for {n_vertices} vertices")
    return vertices, faces


def _table(lines: list[str], dtype) -> np.ndarray | None:
    """The lines as a 2-D array when they all hold the same number of numbers, else None."""
    if not lines:
        return None
    try:
        return np.loadtxt(lines, dtype=dtype, ndmin=2, comments=None)
    except ValueError:
        return None


def _parse_vertices(lines: list[str], fail) -> np.ndarray:
    table = _table(lines, np.float64)
    if table is not None and table.shape[1] >= 3:
        vertices = table[:, :3].copy()  # extra columns: colours or normals
    else:
        rows = [line.split() for line in lines]
        short = [i for i, row in enumerate(rows) if len(row) < 3]
        if short:
            raise fail(f"vertex {short[0]} has fewer than 3 coordinates: {lines[short[0]]!r}")
        try:
            vertices = np.array([row[:3] for row in rows], dtype=np.float64).reshape(-1, 3)
        except ValueError as error:
            raise fail(f"vertex coordinates must be numbers ({error})") from None
    if not np.isfinite(vertices).all():
        row = int(np.flatnonzero(~np.isfinite(vertices).all(axis=1))[0])
        raise fail(f"vertex {row} has a non-finite (NaN or inf) coordinate: {vertices[row]}")
    return vertices


def _parse_faces(lines: list[str], fail) -> np.ndarray:
    table = _table(lines, np.int64)
    if table is not None and table.shape[1] == 4 and (table[:, 0] == 3).all():
        return table[:, 1:].copy()  # fast path: plain triangles
    triangles: list[tuple[int, int, int]] = []
    for i, line in enumerate(lines):
        tokens = line.split()
        try:
            k = int(tokens[0])
            index = [int(t) for t in tokens[1 : k + 1]]
        except ValueError:
            raise fail(f"face {i} must be 'k i_1 ... i_k' with integers, got {line!r}") from None
        if k < 3 or len(index) != k:
            raise fail(f"face {i} must list k >= 3 vertex indices after k, got {line!r}")
        triangles.extend((index[0], index[j], index[j + 1]) for j in range(1, k - 1))
    return np.array(triangles, dtype=np.int64).reshape(-1, 3)


def sample_surface(
    vertices: np.ndarray,
    faces: np.ndarray,
    n: int,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """n points uniform by area on a triangle mesh.

    A triangle (a, b, c) is chosen with probability A_t / Σ A, A_t = |(b - a) × (c - a)| / 2,
    then x = (1 - √u) a + √u (1 - v) b + √u v c with u, v ~ U(0, 1).

    Args:
        vertices: (V, 3) positions; faces: (F, 3) vertex indices; rng: a numpy Generator or
            a seed.

    Returns:
        (n, 3) float64 points.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"vertices must have shape (V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise ValueError(f"faces must have shape (F, 3) with F >= 1, got {faces.shape}")
    if not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    rng = np.random.default_rng(rng)
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    if not np.isfinite(area).all() or area.sum() <= 0:
        raise ValueError("the mesh has zero (or non-finite) surface area")
    t = rng.choice(len(faces), size=n, p=area / area.sum())
    su = np.sqrt(rng.uniform(size=(n, 1)))
    v = rng.uniform(size=(n, 1))
    return (1 - su) * a[t] + su * (1 - v) * b[t] + su * v * c[t]


def _find_classes(root: Path, split: str) -> tuple[Path, list[str]]:
    if not root.is_dir():
        raise FileNotFoundError(f"ModelNet10 folder {root} does not exist. {_WHERE}")

    def class_dirs(folder: Path) -> list[str]:  # folders with a train/ or test/ inside
        return sorted(
            p.name
            for p in folder.iterdir()
            if p.is_dir() and ((p / "train").is_dir() or (p / "test").is_dir())
        )

    if not class_dirs(root) and (root / "ModelNet10").is_dir():
        root = root / "ModelNet10"
    classes = class_dirs(root)
    if not classes:
        raise FileNotFoundError(f"{root} holds no class folders. {_WHERE}")
    empty = [c for c in classes if not any((root / c / split).glob("*.off"))]
    if empty:
        raise FileNotFoundError(
            f"class folder(s) {empty} in {root} have no .off files under '{split}/'. {_WHERE}"
        )
    return root, classes


def load_modelnet10(
    root: str | Path,
    split: str = "train",
    n_points: int = 1024,
    seed: int = 0,
    progress: bool = True,
    max_per_class: int | None = None,
) -> PointClouds:
    """Load ModelNet10 meshes as point clouds of n points each, uniform by surface area.

    Each cloud is centred and scaled to unit radius, x -> (x - x̄) / max_i |x_i - x̄|.
    The classes are the class folders found under ``root`` (sorted); points of file f are
    drawn from ``numpy.random.default_rng([seed, crc32(<class>/<split>/<file>)])``.

    Args:
        root: the folder with ``<class>/{train,test}/*.off`` (or its parent holding
            ``ModelNet10/``).
        split: "train" or "test".
        max_per_class: keep the first files (sorted by name) of each class, for quick runs.

    Returns:
        PointClouds with pos (B, n_points, 3), an all-True mask and labels in class order.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not isinstance(n_points, int | np.integer) or n_points < 1:
        raise ValueError(f"n_points must be a positive integer, got {n_points!r}")
    if max_per_class is not None and (
        not isinstance(max_per_class, int | np.integer) or max_per_class < 1
    ):
        raise ValueError(f"max_per_class must be None or a positive integer, got {max_per_class!r}")
    root, classes = _find_classes(Path(root).expanduser(), split)
    files = []
    for label, name in enumerate(classes):
        found = sorted((root / name / split).glob("*.off"))
        files += [(label, f) for f in found[:max_per_class]]
    log.info(
        "ModelNet10 %s: %d files in %d classes under %s", split, len(files), len(classes), root
    )

    pos = np.empty((len(files), n_points, 3), dtype=np.float32)
    for i, (_, path) in enumerate(tqdm(files, desc=f"ModelNet10 {split}", disable=not progress)):
        key = zlib.crc32(path.relative_to(root).as_posix().encode())
        vertices, faces = read_off(path)
        try:
            x = sample_surface(vertices, faces, n_points, np.random.default_rng([seed, key]))
        except ValueError as error:
            raise ValueError(f"cannot sample {path}: {error}") from None
        x -= x.mean(axis=0)
        radius = np.linalg.norm(x, axis=1).max()
        if radius == 0:
            raise ValueError(f"cannot sample {path}: all sampled points coincide")
        pos[i] = x / radius
    label = torch.tensor([label for label, _ in files], dtype=torch.long)
    mask = torch.ones(pos.shape[:2], dtype=torch.bool)
    return PointClouds(torch.from_numpy(pos), mask, label, tuple(classes))
