"""The generated shape set (workbench.data.shapes) and the ModelNet10 loader on fake files."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from workbench.data import (
    CLASSES,
    PointClouds,
    ShapesConfig,
    load_modelnet10,
    make_shapes,
    read_off,
    sample_surface,
)
from workbench.data.shapes import _sample_cloud

SMALL = ShapesConfig(n_per_class=6, n_points=(40, 64))


@pytest.fixture(scope="module")
def shapes() -> PointClouds:
    return make_shapes(SMALL)


def _rotation(seed: int) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(seed)))
    q = q * torch.sign(torch.diagonal(r))
    return q * torch.linalg.det(q)  # det +1


def _handedness(x: torch.Tensor, ell: float = 0.3) -> float:
    """Pseudoscalar of a helix about z: mean of (t·ẑ)(t·(ẑ × x)) over the points, with t the
    local tangent (top eigenvector of the Gaussian-weighted neighbour covariance, sign-free).
    The reflection x -> -x flips it; rotations about z keep it."""
    x = x.double()
    w = torch.exp(-(torch.cdist(x, x) ** 2) / ell**2)
    dx = x[None] - x[:, None]
    t = torch.linalg.eigh(torch.einsum("ij,ija,ijb->iab", w, dx, dx)).eigenvectors[..., -1]
    z_cross_x = torch.stack([-x[:, 1], x[:, 0], torch.zeros_like(x[:, 0])], -1)
    return (t[:, 2] * (t * z_cross_x).sum(-1)).mean().item()


# ----------------------------------------------------------------------------- make_shapes


def test_classes_are_unique_and_contain_one_chiral_pair():
    assert len(CLASSES) >= 10 and len(set(CLASSES)) == len(CLASSES)
    assert {"helix_left", "helix_right"} <= set(CLASSES)
    assert sum("left" in c or "right" in c for c in CLASSES) == 2


def test_shapes_dtypes_mask_and_padding(shapes):
    B, N = len(CLASSES) * 6, 64
    assert shapes.pos.shape == (B, N, 3) and shapes.pos.dtype == torch.float32
    assert shapes.mask.shape == (B, N) and shapes.mask.dtype == torch.bool
    assert shapes.label.shape == (B,) and shapes.label.dtype == torch.long
    assert shapes.class_names == CLASSES
    counts = shapes.mask.sum(1)
    assert counts.min() >= 40 and counts.max() <= 64
    # real points first, then padding; padding exactly zero
    assert torch.equal(shapes.mask, torch.arange(N) < counts[:, None])
    assert (shapes.pos[~shapes.mask] == 0).all()
    assert torch.isfinite(shapes.pos).all()
    # centred: the centroid of the real points is the origin
    centroid = shapes.pos.sum(1) / counts[:, None]
    assert centroid.abs().max() < 1e-5
    pos, mask, label = shapes[3]
    assert pos.shape == (N, 3) and mask.shape == (N,) and label.shape == ()
    assert len(shapes) == B


def test_class_balance(shapes):
    assert torch.equal(torch.bincount(shapes.label), torch.full((len(CLASSES),), 6))


def test_deterministic_per_seed(shapes):
    again = make_shapes(SMALL)
    assert torch.equal(again.pos, shapes.pos) and torch.equal(again.mask, shapes.mask)
    other = make_shapes(dataclasses.replace(SMALL, seed=1))
    assert not torch.equal(other.pos, shapes.pos)


def test_a_cloud_does_not_depend_on_the_other_classes(shapes):
    two = make_shapes(dataclasses.replace(SMALL, classes=("torus", "sphere")))
    assert two.class_names == ("torus", "sphere")
    torus = shapes.subset(shapes.label == CLASSES.index("torus"))
    assert torch.equal(two.pos[:6], torus.pos)


def test_scale_and_noise_are_applied():
    config = ShapesConfig(n_per_class=4, n_points=(50, 50), classes=("sphere",), noise=0.0)
    x = make_shapes(dataclasses.replace(config, scale=(2.0, 2.0))).pos.double()
    torch.testing.assert_close(x.pow(2).sum(-1).mean(1).sqrt(), torch.full((4,), 2.0).double())
    clean = make_shapes(config).pos.norm(dim=-1)
    noisy = make_shapes(dataclasses.replace(config, noise=0.05)).pos.norm(dim=-1)
    assert (noisy - clean).abs().mean() > 0.02


def test_generation_is_fast():
    import time

    start = time.perf_counter()
    make_shapes(ShapesConfig(n_per_class=20))
    assert time.perf_counter() - start < 1.0


# ----------------------------------------------------------------------------- chirality


def test_left_helix_is_the_exact_mirror_image_of_the_right():
    for seed in range(3):
        right = _sample_cloud("helix_right", np.random.default_rng(seed), 100, 0.01, (0.8, 1.25))
        left = _sample_cloud("helix_left", np.random.default_rng(seed), 100, 0.01, (0.8, 1.25))
        np.testing.assert_array_equal(left, right * [-1, 1, 1])
        # so every O(3) invariant agrees, e.g. all pairwise distances
        np.testing.assert_allclose(
            torch.pdist(torch.tensor(left)), torch.pdist(torch.tensor(right))
        )


def test_a_pseudoscalar_separates_the_helices_and_an_invariant_does_not():
    data = make_shapes(ShapesConfig(n_per_class=24, classes=("helix_right", "helix_left")))
    chi = torch.tensor([_handedness(data.pos[i][data.mask[i]]) for i in range(len(data))])
    right, left = chi[data.label == 0], chi[data.label == 1]
    assert (right > 0).all() and (left < 0).all()
    # the pseudoscalar is SO(3)-invariant about the axis and flips under a reflection
    x = data.pos[0][data.mask[0]]
    c, s = math.cos(0.7), math.sin(0.7)
    about_z = torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    assert _handedness(x @ about_z.T) == pytest.approx(chi[0].item(), rel=1e-4)
    assert _handedness(-x) == pytest.approx(-chi[0].item(), rel=1e-4)
    # an O(3) invariant, the histogram of pairwise distances, has the same distribution
    hist = torch.stack(
        [
            torch.histc(torch.pdist(p[m]), bins=8, min=0, max=4) / m.sum() ** 2
            for p, m in zip(data.pos, data.mask, strict=True)
        ]
    )
    gap = (hist[data.label == 0].mean(0) - hist[data.label == 1].mean(0)).abs()
    assert gap.max() < 4 * hist.std(0).max() / math.sqrt(24)


# ----------------------------------------------------------------------------- PointClouds


def test_split_is_stratified_disjoint_and_complete(shapes):
    parts = shapes.split((1 / 2, 1 / 3, 1 / 6), seed=3)
    assert [len(p) for p in parts] == [36, 24, 12]
    for part, per_class in zip(parts, (3, 2, 1), strict=True):
        assert (torch.bincount(part.label, minlength=len(CLASSES)) == per_class).all()
    rows = torch.cat([p.pos.flatten(1) for p in parts])
    assert len(torch.unique(rows, dim=0)) == len(shapes)  # disjoint and complete
    again = shapes.split((1 / 2, 1 / 3, 1 / 6), seed=3)
    assert all(torch.equal(a.pos, b.pos) for a, b in zip(parts, again, strict=True))
    assert not torch.equal(shapes.split((0.5, 0.5), seed=4)[0].pos, parts[0].pos)
    train, test = shapes.split((0.7, 0.3))
    assert len(train) + len(test) == len(shapes) and len(set(train.label.tolist())) == 12


def test_subset_and_getitem(shapes):
    sub = shapes.subset([0, 5, 7])
    assert len(sub) == 3 and torch.equal(sub.pos[1], shapes.pos[5])
    assert len(shapes.subset(shapes.label == 2)) == 6
    assert len(shapes.subset(slice(0, 4))) == 4
    with pytest.raises(TypeError, match="subset"):
        shapes[0:2]


def test_transformed_rotates_real_points_and_keeps_padding(shapes):
    R = _rotation(0)
    moved = shapes.transformed(R)
    assert torch.equal(moved.mask, shapes.mask) and torch.equal(moved.label, shapes.label)
    assert (moved.pos[~moved.mask] == 0).all()
    torch.testing.assert_close(moved.pos[shapes.mask], shapes.pos[shapes.mask] @ R.T)
    per_cloud = torch.stack([_rotation(i) for i in range(len(shapes))])
    moved = shapes.transformed(per_cloud)
    torch.testing.assert_close(moved.pos[7, :5], shapes.pos[7, :5] @ per_cloud[7].T)
    assert (moved.pos[~moved.mask] == 0).all()
    with pytest.raises(ValueError, match="shape"):
        shapes.transformed(torch.eye(4))


def test_point_clouds_validate():
    pos, mask = torch.zeros(2, 5, 3), torch.ones(2, 5, dtype=torch.bool)
    label = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="labels"):
        PointClouds(pos, mask, label, ("a",))
    with pytest.raises(TypeError, match="bool"):
        PointClouds(pos, mask.float(), label, ("a", "b"))
    with pytest.raises(ValueError, match="padded"):
        PointClouds(pos + 1, mask & (torch.arange(5) < 3), label, ("a", "b"))
    with pytest.raises(ValueError, match="NaN"):
        PointClouds(pos.fill_(float("nan")), mask, label, ("a", "b"))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"classes": ("sphere", "pyramid")}, "pyramid.*valid classes: sphere"),
        ({"classes": ()}, "non-empty"),
        ({"classes": ("cube", "cube")}, "unique"),
        ({"n_points": (64, 32)}, "n_points"),
        ({"n_points": (2, 8)}, "n_points"),
        ({"n_points": (32.0, 64.0)}, "n_points"),
        ({"scale": (float("nan"), 1.0)}, "scale"),
        ({"scale": (0.0, 1.0)}, "scale"),
        ({"noise": float("nan")}, "noise"),
        ({"noise": -0.1}, "noise"),
        ({"n_per_class": 0}, "n_per_class"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_config_raises(change, match):
    with pytest.raises(ValueError, match=match):
        ShapesConfig(**change)


def test_bad_split_fractions_raise(shapes):
    with pytest.raises(ValueError, match="sum to 1"):
        shapes.split((0.5, 0.2))
    with pytest.raises(ValueError, match="non-negative"):
        shapes.split((1.5, -0.5))


# ----------------------------------------------------------------------------- ModelNet

CUBE_OFF = """OFF
# a unit cube with quad faces
8 6 0
0 0 0
1 0 0
1 1 0
0 1 0
0 0 1
1 0 1
1 1 1
0 1 1
4 0 3 2 1
4 4 5 6 7
4 0 1 5 4
4 2 3 7 6
4 1 2 6 5
4 0 4 7 3
"""

TETRA = "0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n"


def _write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_read_off_triangles_and_glued_header(tmp_path):
    normal = read_off(_write(tmp_path / "a.off", "OFF\n4 4 0\n" + TETRA))
    glued = read_off(_write(tmp_path / "b.off", "OFF4 4 0\n\n" + TETRA))
    for vertices, faces in (normal, glued):
        assert vertices.shape == (4, 3) and vertices.dtype == np.float64
        assert faces.shape == (4, 3) and np.issubdtype(faces.dtype, np.integer)
    np.testing.assert_array_equal(normal[1], glued[1])
    np.testing.assert_array_equal(normal[1][1], [0, 1, 3])


def test_read_off_fan_triangulates_quads_and_skips_comments(tmp_path):
    vertices, faces = read_off(_write(tmp_path / "cube.off", CUBE_OFF))
    assert vertices.shape == (8, 3) and faces.shape == (12, 3)
    np.testing.assert_array_equal(faces[:2], [[0, 3, 2], [0, 2, 1]])
    # the triangles tile the cube: total area 6
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    assert 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() == pytest.approx(6.0)


def test_read_off_ignores_colour_columns(tmp_path):
    text = "OFF\n3 1 0\n0 0 0 255 0 0\n1 0 0 255 0 0\n0 1 0 255 0 0\n3 0 1 2 10 20 30\n"
    vertices, faces = read_off(_write(tmp_path / "c.off", text))
    assert vertices.shape == (3, 3) and faces.tolist() == [[0, 1, 2]]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "header"),
        ("PLY\n4 4 0\n" + TETRA, "header"),
        ("OFF\nfour 4 0\n" + TETRA, "counts"),
        ("OFF\n5 4 0\n" + TETRA, "announces 5 vertices"),
        ("OFF\n4 3 0\n" + TETRA, "announces 4 vertices and 3 faces"),
        ("OFF\n4 1 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 9\n", "index 9 out of range"),
        ("OFF\n4 1 0\n0 0 0\n1 0 0\nnan 1 0\n0 0 1\n3 0 1 2\n", "NaN"),
        ("OFF\n4 1 0\n0 0 0\n1 0 0\n0 1\n0 0 1 0\n3 0 1 2\n", "fewer than 3"),
        ("OFF\n4 1 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n2 0 1\n", "k >= 3"),
    ],
)
def test_read_off_malformed_raises(tmp_path, text, match):
    path = _write(tmp_path / "bad.off", text)
    with pytest.raises(ValueError, match=match) as error:
        read_off(path)
    assert "bad.off" in str(error.value)


def test_sample_surface_is_uniform_by_area(tmp_path):
    vertices, faces = read_off(_write(tmp_path / "cube.off", CUBE_OFF))
    x = sample_surface(vertices, faces, 6000, np.random.default_rng(0))
    assert x.shape == (6000, 3)
    on_face = np.isclose(x, 0) | np.isclose(x, 1)
    assert on_face.any(axis=1).all()  # every point lies on the surface
    per_face = np.array([np.isclose(x[:, k], v).sum() for k in range(3) for v in (0, 1)])
    assert np.abs(per_face / 6000 - 1 / 6).max() < 0.03
    np.testing.assert_array_equal(x, sample_surface(vertices, faces, 6000, 0))
    with pytest.raises(ValueError, match="area"):
        sample_surface(np.zeros((3, 3)), np.array([[0, 1, 2]]), 5)


def test_load_modelnet10_from_a_fake_tree(tmp_path):
    root = tmp_path / "ModelNet10"
    for name in ("bed", "chair"):
        for split in ("train", "test"):
            for i in range(2):
                _write(root / name / split / f"{name}_{i + 1:04d}.off", CUBE_OFF)
    _write(root / "chair" / "train" / "chair_0003.off", "OFF4 4 0\n" + TETRA)
    data = load_modelnet10(tmp_path, "train", n_points=50, progress=False)
    assert data.class_names == ("bed", "chair")
    assert data.pos.shape == (5, 50, 3) and data.mask.all()
    assert data.label.tolist() == [0, 0, 1, 1, 1]
    torch.testing.assert_close(data.pos.mean(1), torch.zeros(5, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(data.pos.norm(dim=-1).amax(1), torch.ones(5))
    again = load_modelnet10(root, "train", n_points=50, progress=False)
    assert torch.equal(again.pos, data.pos)
    few = load_modelnet10(root, "test", n_points=8, progress=False, max_per_class=1)
    assert few.label.tolist() == [0, 1]


def test_load_modelnet10_explains_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"modelnet\.cs\.princeton\.edu"):
        load_modelnet10(tmp_path / "nowhere", progress=False)
    with pytest.raises(FileNotFoundError, match="no class folders"):
        load_modelnet10(tmp_path, progress=False)
    (tmp_path / "sofa" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"\['sofa'\].*<class>/\{train,test\}"):
        load_modelnet10(tmp_path, progress=False)
    with pytest.raises(ValueError, match="split"):
        load_modelnet10(tmp_path, split="val", progress=False)


def test_load_modelnet10_names_a_malformed_file(tmp_path):
    _write(tmp_path / "desk" / "train" / "desk_0001.off", "OFF\n4 4 0\n" + TETRA[:-8])
    with pytest.raises(ValueError, match=r"desk_0001\.off"):
        load_modelnet10(tmp_path, progress=False)
