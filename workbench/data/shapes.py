"""Generated 3D shape recognition: point clouds sampled from surfaces, no download.

Classes (``CLASSES``), each with random per-cloud parameters (aspect ratios, radii, turns):

- ``sphere``, ``ellipsoid`` (axes 1 > b > c), ``cube`` (a box with sides within 15 %),
  ``cylinder`` (with caps), ``cone`` (with base), ``torus``;
- ``trefoil``: a tube around the trefoil knot;
- ``dumbbell`` (two spheres and a bar), ``table`` (a plate on four legs), ``mug`` (an open
  cylinder with a half-torus handle);
- ``helix_right`` and ``helix_left``: a thin tube around a helix of 2.5 to 3.5 turns.

Chirality. ``helix_left`` is the exact mirror image of ``helix_right``: a left cloud is drawn
by the right-helix recipe (noise and scale included) and then reflected, x -> (-x, y, z), so
the two class distributions satisfy p_left(X) = p_right(P X) with det P = -1. A model that is
invariant under O(3), f(Q X) = f(X) for every orthogonal Q, therefore gives the same output
distribution on both classes and cannot beat chance on that pair, while an SO(3)-invariant
model can separate them through a pseudoscalar such as (x_i × x_j)·x_k. No other class is the
mirror image of another (the trefoil is chiral, but its mirror image is not in the set; the
other shapes have mirror planes), so every other pair is separable from O(3) invariants.

Every cloud is centred (centroid at the origin) in a canonical pose; no rotation is applied,
the experiments do that. Points are approximately uniform by surface area.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ._split import stratified_split, subset_index

__all__ = ["CLASSES", "PointClouds", "ShapesConfig", "make_shapes"]

_Sampler = Callable[[np.random.Generator, int], np.ndarray]


# ----------------------------------------------------------------------------- primitives
# Each primitive returns (n, 3) float64 points, uniform by area unless stated otherwise.


def _unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _sphere_surface(
    rng: np.random.Generator, n: int, radius: float = 1.0, center=(0.0, 0.0, 0.0)
) -> np.ndarray:
    return radius * _unit_vectors(rng, n) + np.asarray(center)


def _ellipsoid_surface(rng: np.random.Generator, n: int, axes: Sequence[float]) -> np.ndarray:
    """x = (a u_1, b u_2, c u_3) for u on S^2, accepted with probability ∝ the area element
    dA/dΩ = |(bc u_1, ac u_2, ab u_3)|, which makes x uniform by area."""
    a, b, c = axes
    weights = np.array([b * c, a * c, a * b])
    out, have = [], 0
    while have < n:
        u = _unit_vectors(rng, 2 * (n - have) + 8)
        keep = rng.uniform(size=len(u)) * weights.max() < np.linalg.norm(u * weights, axis=1)
        out.append(u[keep] * np.asarray(axes))
        have += int(keep.sum())
    return np.concatenate(out)[:n]


def _disk(rng: np.random.Generator, n: int, radius: float, z: float) -> np.ndarray:
    r = radius * np.sqrt(rng.uniform(size=n))
    phi = rng.uniform(0, 2 * np.pi, n)
    return np.stack([r * np.cos(phi), r * np.sin(phi), np.full(n, z)], axis=1)


def _lateral(rng: np.random.Generator, n: int, radius: float, z0: float, z1: float):
    phi = rng.uniform(0, 2 * np.pi, n)
    z = rng.uniform(z0, z1, n)
    return np.stack([radius * np.cos(phi), radius * np.sin(phi), z], axis=1)


def _box_surface(rng: np.random.Generator, n: int, sides: Sequence[float]) -> np.ndarray:
    """Surface of the box [-s_x/2, s_x/2] × [-s_y/2, s_y/2] × [-s_z/2, s_z/2]."""
    s = np.asarray(sides, dtype=float)
    areas = np.repeat([s[1] * s[2], s[0] * s[2], s[0] * s[1]], 2)  # faces ⊥ x, y, z
    face = rng.choice(6, size=n, p=areas / areas.sum())
    x = rng.uniform(-0.5, 0.5, (n, 3)) * s
    axis = face // 2
    x[np.arange(n), axis] = np.where(face % 2 == 0, -0.5, 0.5) * s[axis]
    return x


def _cone_lateral(rng: np.random.Generator, n: int, radius: float, height: float):
    """Lateral surface of a cone with base radius r at z = 0 and apex at z = h; the distance
    from the apex goes as sqrt(u) for uniform area."""
    s = np.sqrt(rng.uniform(size=n))
    phi = rng.uniform(0, 2 * np.pi, n)
    return np.stack([radius * s * np.cos(phi), radius * s * np.sin(phi), height * (1 - s)], 1)


def _torus_surface(
    rng: np.random.Generator,
    n: int,
    major: float,
    minor: float,
    phi_range: tuple[float, float] = (0.0, 2 * np.pi),
) -> np.ndarray:
    """x = ((R + r cos v) cos φ, (R + r cos v) sin φ, r sin v), dA ∝ R + r cos v (rejection)."""
    out, have = [], 0
    while have < n:
        m = 2 * (n - have) + 8
        v = rng.uniform(0, 2 * np.pi, m)
        keep = rng.uniform(size=m) * (major + minor) < major + minor * np.cos(v)
        v = v[keep]
        phi = rng.uniform(*phi_range, len(v))
        rho = major + minor * np.cos(v)
        out.append(np.stack([rho * np.cos(phi), rho * np.sin(phi), minor * np.sin(v)], 1))
        have += len(v)
    return np.concatenate(out)[:n]


def _tube(
    rng: np.random.Generator,
    n: int,
    curve: Callable[[np.ndarray], np.ndarray],
    t_range: tuple[float, float],
    radius: float,
    grid: int = 1024,
) -> np.ndarray:
    """Tube of radius ρ around a curve c(t): t drawn ∝ |c'(t)| (arc length, from a grid), then
    x = c(t) + ρ (cos θ e_1 + sin θ e_2) with e_1, e_2 ⊥ c'(t) and θ uniform. Uniform by area
    up to the curvature factor 1 - ρ κ cos θ, small for a thin tube."""
    t_grid = np.linspace(*t_range, grid)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve(t_grid), axis=0), axis=1))])
    t = np.interp(rng.uniform(0, arc[-1], n), arc, t_grid)
    h = 1e-4 * (t_range[1] - t_range[0])
    tangent = curve(t + h) - curve(t - h)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    helper = np.where(np.abs(tangent[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(tangent, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(tangent, e1)
    theta = rng.uniform(0, 2 * np.pi, (n, 1))
    return curve(t) + radius * (np.cos(theta) * e1 + np.sin(theta) * e2)


def _mixture(rng: np.random.Generator, n: int, parts: Sequence[tuple[float, _Sampler]]):
    """Composite surface: part k gets a multinomial share of the points ∝ its area A_k."""
    areas = np.array([area for area, _ in parts], dtype=float)
    counts = rng.multinomial(n, areas / areas.sum())
    return np.concatenate(
        [sample(rng, int(m)) for (_, sample), m in zip(parts, counts, strict=True)]
    )


# ----------------------------------------------------------------------------- classes
# Each class draws its own shape parameters, then n surface points (size ~ 1, any offset).


def _sphere(rng: np.random.Generator, n: int) -> np.ndarray:
    return _sphere_surface(rng, n)


def _ellipsoid(rng: np.random.Generator, n: int) -> np.ndarray:
    return _ellipsoid_surface(rng, n, (1.0, rng.uniform(0.5, 0.8), rng.uniform(0.25, 0.45)))


def _cube(rng: np.random.Generator, n: int) -> np.ndarray:
    return _box_surface(rng, n, rng.uniform(0.85, 1.15, 3))


def _cylinder(rng: np.random.Generator, n: int) -> np.ndarray:
    r, h = rng.uniform(0.35, 0.6), rng.uniform(1.3, 2.2)
    return _mixture(
        rng,
        n,
        [
            (2 * np.pi * r * h, lambda g, m: _lateral(g, m, r, 0.0, h)),
            (np.pi * r**2, lambda g, m: _disk(g, m, r, 0.0)),
            (np.pi * r**2, lambda g, m: _disk(g, m, r, h)),
        ],
    )


def _cone(rng: np.random.Generator, n: int) -> np.ndarray:
    r, h = rng.uniform(0.5, 0.8), rng.uniform(1.2, 1.8)
    return _mixture(
        rng,
        n,
        [
            (np.pi * r * math.hypot(r, h), lambda g, m: _cone_lateral(g, m, r, h)),
            (np.pi * r**2, lambda g, m: _disk(g, m, r, 0.0)),
        ],
    )


def _torus(rng: np.random.Generator, n: int) -> np.ndarray:
    return _torus_surface(rng, n, 1.0, rng.uniform(0.2, 0.4))


def _trefoil(rng: np.random.Generator, n: int) -> np.ndarray:
    """c(t) = (sin t + 2 sin 2t, cos t - 2 cos 2t, -a sin 3t), t ∈ [0, 2π)."""
    a = rng.uniform(0.8, 1.4)

    def curve(t: np.ndarray) -> np.ndarray:
        return np.stack(
            [np.sin(t) + 2 * np.sin(2 * t), np.cos(t) - 2 * np.cos(2 * t), -a * np.sin(3 * t)], -1
        )

    return _tube(rng, n, curve, (0.0, 2 * np.pi), rng.uniform(0.25, 0.4))


def _helix_right(rng: np.random.Generator, n: int) -> np.ndarray:
    """c(t) = (cos t, sin t, p t / 2π), t ∈ [0, 2π T]: right-handed for pitch p > 0.

    T ~ U(2.5, 3.5) turns, p ~ U(1.2, 2) (pitch angle 11° to 18°), tube radius 0.1 to 0.18:
    steep and thin enough that the handedness survives 100 noisy points."""
    turns, pitch = rng.uniform(2.5, 3.5), rng.uniform(1.2, 2.0)

    def curve(t: np.ndarray) -> np.ndarray:
        return np.stack([np.cos(t), np.sin(t), pitch * t / (2 * np.pi)], -1)

    return _tube(rng, n, curve, (0.0, 2 * np.pi * turns), rng.uniform(0.1, 0.18))


def _dumbbell(rng: np.random.Generator, n: int) -> np.ndarray:
    r1, r2, bar = rng.uniform(0.35, 0.5), rng.uniform(0.35, 0.5), rng.uniform(0.08, 0.14)
    d = rng.uniform(1.6, 2.2)
    z0, z1 = -d / 2 + math.sqrt(r1**2 - bar**2), d / 2 - math.sqrt(r2**2 - bar**2)
    return _mixture(
        rng,
        n,
        [
            (4 * np.pi * r1**2, lambda g, m: _sphere_surface(g, m, r1, (0, 0, -d / 2))),
            (4 * np.pi * r2**2, lambda g, m: _sphere_surface(g, m, r2, (0, 0, d / 2))),
            (2 * np.pi * bar * (z1 - z0), lambda g, m: _lateral(g, m, bar, z0, z1)),
        ],
    )


def _table(rng: np.random.Generator, n: int) -> np.ndarray:
    w, d, t = rng.uniform(1.6, 2.2), rng.uniform(0.9, 1.3), rng.uniform(0.06, 0.1)
    height, leg = rng.uniform(0.9, 1.3), rng.uniform(0.05, 0.08)
    corners = [(sx * (w / 2 - 2 * leg), sy * (d / 2 - 2 * leg)) for sx in (-1, 1) for sy in (-1, 1)]
    top_area = 2 * (w * d + w * t + d * t)
    parts = [
        (top_area, lambda g, m: _box_surface(g, m, (w, d, t)) + np.array([0, 0, height + t / 2]))
    ]
    for cx, cy in corners:
        parts.append(
            (
                2 * np.pi * leg * height,
                lambda g, m, c=(cx, cy, 0): _lateral(g, m, leg, 0, height) + c,
            )
        )
    return _mixture(rng, n, parts)


def _mug(rng: np.random.Generator, n: int) -> np.ndarray:
    """Open cylinder (wall and bottom) with a half torus in the xz-plane as handle."""
    r, h = rng.uniform(0.45, 0.6), rng.uniform(1.0, 1.4)
    handle, grip = rng.uniform(0.3, 0.4) * h, rng.uniform(0.06, 0.1)

    def handle_points(g: np.random.Generator, m: int) -> np.ndarray:
        x = _torus_surface(g, m, handle, grip, (-np.pi / 2, np.pi / 2))
        return x[:, [0, 2, 1]] + [r, 0.0, h / 2]  # torus plane xy -> xz, centred on the wall

    return _mixture(
        rng,
        n,
        [
            (2 * np.pi * r * h, lambda g, m: _lateral(g, m, r, 0.0, h)),
            (np.pi * r**2, lambda g, m: _disk(g, m, r, 0.0)),
            (2 * np.pi**2 * handle * grip, handle_points),
        ],
    )


_SAMPLERS: dict[str, _Sampler] = {
    "sphere": _sphere,
    "ellipsoid": _ellipsoid,
    "cube": _cube,
    "cylinder": _cylinder,
    "cone": _cone,
    "torus": _torus,
    "trefoil": _trefoil,
    "dumbbell": _dumbbell,
    "table": _table,
    "mug": _mug,
    "helix_right": _helix_right,
}
# class -> the class whose recipe it reflects, x -> (-x, y, z)
_MIRROR_OF = {"helix_left": "helix_right"}

CLASSES: tuple[str, ...] = (*_SAMPLERS, *_MIRROR_OF)


def _sample_cloud(
    name: str,
    rng: np.random.Generator,
    n: int,
    noise: float,
    scale: tuple[float, float],
) -> np.ndarray:
    """One cloud of class ``name``: surface points, centred, scaled to RMS radius s ~ U(scale),
    plus N(0, noise²) noise, re-centred, shuffled; mirrored classes reflect x at the end."""
    x = _SAMPLERS[_MIRROR_OF.get(name, name)](rng, n)
    x = x - x.mean(axis=0)
    x *= rng.uniform(*scale) / math.sqrt(np.mean(np.sum(x**2, axis=1)))
    x += noise * rng.standard_normal(x.shape)
    x = (x - x.mean(axis=0))[rng.permutation(n)]
    if name in _MIRROR_OF:
        x[:, 0] = -x[:, 0]
    return x


def _check_classes(classes: Sequence[str]) -> None:
    if isinstance(classes, str) or len(classes) == 0:
        raise ValueError(f"classes must be a non-empty tuple of class names, got {classes!r}")
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise ValueError(f"unknown shape class(es) {unknown}; valid classes: {', '.join(CLASSES)}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must be unique, got {classes!r}")


def _check_range(name: str, value, low: float, integer: bool = False) -> None:
    kind = "integers" if integer else "numbers"
    ok = isinstance(value, tuple | list) and len(value) == 2
    if ok and integer:
        ok = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value)
    if ok and not integer:
        ok = all(isinstance(v, int | float | np.number) and math.isfinite(v) for v in value)
    if not ok or not low <= value[0] <= value[1]:
        raise ValueError(
            f"{name} must be a (min, max) pair of finite {kind} with {low} <= min <= max, "
            f"got {value!r}"
        )


@dataclass(frozen=True)
class ShapesConfig:
    """Size and difficulty of the generated shape set (defaults: the quick size).

    Attributes:
        n_per_class: clouds per class.
        n_points: (min, max) points per cloud, drawn uniformly; clouds are padded to max.
        noise: standard deviation σ of the Gaussian noise added to each coordinate (clouds
            have an RMS radius of about 1).
        scale: (min, max) of the uniform random RMS radius of a cloud.
        classes: which classes, in label order (a subset of ``CLASSES``).
        seed: clouds are a deterministic function of (seed, class name, index).
    """

    n_per_class: int = 100
    n_points: tuple[int, int] = (96, 128)
    noise: float = 0.01
    scale: tuple[float, float] = (0.8, 1.25)
    classes: tuple[str, ...] = CLASSES
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_points", "scale", "classes"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if not isinstance(self.n_per_class, int | np.integer) or self.n_per_class < 1:
            raise ValueError(f"n_per_class must be a positive integer, got {self.n_per_class!r}")
        _check_range("n_points", self.n_points, 4, integer=True)
        if not isinstance(self.noise, int | float | np.floating) or not (
            math.isfinite(self.noise) and self.noise >= 0
        ):
            raise ValueError(f"noise must be a finite number >= 0, got {self.noise!r}")
        _check_range("scale", self.scale, 0.0)
        if self.scale[0] <= 0:
            raise ValueError(f"scale must be positive, got {self.scale!r}")
        _check_classes(self.classes)
        if not isinstance(self.seed, int | np.integer) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")


@dataclass(frozen=True, eq=False)
class PointClouds:
    """A batch of padded point clouds with class labels; works as a torch ``Dataset``.

    Attributes:
        pos: (B, N, 3) float32 positions; padded rows are exactly zero.
        mask: (B, N) bool, True for real points.
        label: (B,) long class index into ``class_names``.
        class_names: names of the classes, in label order.

    ``clouds[i]`` is ``(pos (N, 3), mask (N,), label ())``.
    """

    pos: torch.Tensor
    mask: torch.Tensor
    label: torch.Tensor
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        pos, mask, label = self.pos, self.mask, self.label
        if not isinstance(pos, torch.Tensor) or pos.ndim != 3 or pos.shape[-1] != 3:
            raise ValueError(f"pos must be a (B, N, 3) tensor, got {_describe(pos)}")
        if not pos.is_floating_point():
            raise TypeError(f"pos must be a floating-point tensor, got dtype {pos.dtype}")
        if not isinstance(mask, torch.Tensor) or mask.shape != pos.shape[:2]:
            raise ValueError(f"mask must have shape {tuple(pos.shape[:2])}, got {_describe(mask)}")
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor, got dtype {mask.dtype}")
        if not isinstance(label, torch.Tensor) or label.shape != pos.shape[:1]:
            raise ValueError(f"label must have shape ({len(pos)},), got {_describe(label)}")
        if label.dtype != torch.long:
            raise TypeError(f"label must be a long tensor, got dtype {label.dtype}")
        names = tuple(self.class_names)
        object.__setattr__(self, "class_names", names)
        if len(label) and (label.min() < 0 or label.max() >= len(names)):
            raise ValueError(
                f"labels must lie in [0, {len(names)}) for class_names {names}, got "
                f"[{int(label.min())}, {int(label.max())}]"
            )
        if not torch.isfinite(pos).all():
            raise ValueError("pos contains NaN or infinite values")
        if (pos[~mask] != 0).any():
            raise ValueError("padded positions (mask False) must be zero")

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not isinstance(i, int | np.integer) or isinstance(i, bool):
            raise TypeError(f"index with an integer (use .subset for several), got {i!r}")
        return self.pos[i], self.mask[i], self.label[i]

    def __repr__(self) -> str:
        return (
            f"PointClouds(n={len(self)}, max_points={self.pos.shape[1]}, "
            f"classes={len(self.class_names)})"
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index) -> PointClouds:
        """The clouds at ``index`` (1-D integer indices, a bool mask of length B, or a slice)."""
        index = subset_index(index)
        return PointClouds(self.pos[index], self.mask[index], self.label[index], self.class_names)

    def split(
        self, fractions: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0
    ) -> tuple[PointClouds, ...]:
        """Disjoint random parts with the given fractions, stratified by class: each class is
        shuffled and cut at round(n_c Σ_{j≤k} f_j). Indices in each part stay in order."""
        parts = stratified_split(self.label.numpy(), fractions, seed)
        return tuple(self.subset(part) for part in parts)

    def transformed(self, matrices: torch.Tensor) -> PointClouds:
        """The clouds with x -> R x for every real point, R (3, 3) or one per cloud (B, 3, 3);
        padding stays zero."""
        R = torch.as_tensor(matrices)
        if R.shape not in ((3, 3), (len(self), 3, 3)):
            raise ValueError(
                f"matrices must have shape (3, 3) or ({len(self)}, 3, 3), got {tuple(R.shape)}"
            )
        R = R.to(self.pos.dtype).expand(len(self), 3, 3)
        pos = torch.einsum("bij,bnj->bni", R, self.pos)
        pos = torch.where(self.mask[..., None], pos, torch.zeros((), dtype=pos.dtype))
        return PointClouds(pos, self.mask, self.label, self.class_names)


def _describe(x) -> str:
    shape = getattr(x, "shape", None)
    return f"{type(x).__name__} of shape {tuple(shape)}" if shape is not None else repr(x)


def _class_key(name: str) -> int:
    return zlib.crc32(name.encode())


def make_shapes(config: ShapesConfig = ShapesConfig(), progress: bool = False) -> PointClouds:
    """Generate the shape data set: ``config.n_per_class`` clouds of each class.

    Cloud i of class c is drawn from ``numpy.random.default_rng([seed, crc32(c), i])``, so it
    does not depend on which other classes are included. Its n ~ U{n_min..n_max} points
    fill the first n rows; the rest are zero with mask False.

    Returns:
        PointClouds with pos (B, n_max, 3), mask (B, n_max), label (B,),
        B = n_per_class · len(classes), ordered by class.
    """
    if not isinstance(config, ShapesConfig):
        raise TypeError(f"config must be a ShapesConfig, got {type(config).__name__}")
    n_min, n_max = config.n_points
    total = config.n_per_class * len(config.classes)
    pos = np.zeros((total, n_max, 3), dtype=np.float32)
    mask = np.zeros((total, n_max), dtype=bool)
    label = np.repeat(np.arange(len(config.classes)), config.n_per_class)
    bar = tqdm(total=total, desc="shapes", disable=not progress)
    for c, name in enumerate(config.classes):
        for i in range(config.n_per_class):
            rng = np.random.default_rng([config.seed, _class_key(name), i])
            n = int(rng.integers(n_min, n_max + 1))
            b = c * config.n_per_class + i
            pos[b, :n] = _sample_cloud(name, rng, n, config.noise, config.scale)
            mask[b, :n] = True
            bar.update()
    bar.close()
    return PointClouds(
        torch.from_numpy(pos), torch.from_numpy(mask), torch.from_numpy(label), config.classes
    )
