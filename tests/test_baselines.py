"""Non-equivariant baselines: exact invariance to translations, permutations and padding, no
rotation invariance, Haar O(3) augmentation, and a PointNet that learns a toy task."""

from __future__ import annotations

import pytest
import torch

from workbench.checks import equivariance_report
from workbench.models.baselines import (
    DGCNN,
    DGCNNConfig,
    PointNet,
    PointNetConfig,
    augment,
    random_rotations,
)

SMALL = {
    PointNet: PointNetConfig(n_classes=5, hidden=(16, 32), head=(16,)),
    DGCNN: DGCNNConfig(n_classes=5, k=4, hidden=(16, 16), emb=32, head=(16,)),
}
MODELS = pytest.mark.parametrize("model_cls", [PointNet, DGCNN], ids=["pointnet", "dgcnn"])


def _model(model_cls, dtype=torch.float64):
    return model_cls(SMALL[model_cls]).to(dtype).eval()


def _clouds(n_valid, n_points, generator, dtype=torch.float64):
    """Padded clouds: cloud b has n_valid[b] valid points first, then zeros."""
    pos = torch.randn(len(n_valid), n_points, 3, generator=generator, dtype=dtype)
    mask = torch.arange(n_points)[None, :] < torch.tensor(n_valid)[:, None]
    return torch.where(mask[..., None], pos, 0.0), mask


def _rel(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max())


@MODELS
def test_output_shape_with_and_without_mask(model_cls):
    model = _model(model_cls, torch.float32)
    pos, mask = _clouds([7, 12, 3], 12, torch.Generator().manual_seed(0), torch.float32)
    assert model(pos, mask).shape == (3, 5)
    assert torch.equal(model(pos), model(pos, torch.ones_like(mask)))


@MODELS
def test_invariant_to_permutations_of_the_points(model_cls):
    g = torch.Generator().manual_seed(1)
    model = _model(model_cls)
    pos, mask = _clouds([9, 14, 5], 14, g)
    perm = torch.rand(3, 14, generator=g).argsort(dim=1)  # one permutation per cloud
    rows = torch.arange(3)[:, None]
    assert _rel(model(pos[rows, perm], mask[rows, perm]), model(pos, mask)) < 1e-12


@MODELS
def test_invariant_to_translations(model_cls):
    g = torch.Generator().manual_seed(2)
    model = _model(model_cls)
    pos, mask = _clouds([9, 14, 5], 14, g)
    shift = 10 * torch.randn(3, 1, 3, generator=g, dtype=pos.dtype)
    assert _rel(model(pos + shift, mask), model(pos, mask)) < 1e-12


@MODELS
def test_invariant_to_padding_with_garbage(model_cls):
    g = torch.Generator().manual_seed(3)
    model = _model(model_cls)
    pos, mask = _clouds([9, 14, 5], 14, g)
    garbage = 1e3 * torch.randn(3, 6, 3, generator=g, dtype=pos.dtype)
    garbage[0, 0, 0], garbage[1, 2, 1] = float("nan"), float("inf")
    padded = torch.cat([pos, garbage], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(3, 6, dtype=torch.bool)], dim=1)
    perm = torch.rand(3, 20, generator=g).argsort(dim=1)  # interleave padding and points
    rows = torch.arange(3)[:, None]
    padded, padded_mask = padded[rows, perm].requires_grad_(), padded_mask[rows, perm]
    out = model(padded, padded_mask)
    assert _rel(out, model(pos, mask)) < 1e-12
    out.square().sum().backward()  # garbage never reaches a gradient either
    assert torch.isfinite(padded.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert (padded.grad[~padded_mask] == 0).all()


@MODELS
def test_not_rotation_invariant(model_cls):
    """The same check an invariant model passes (irreps_out "0e") fails here: the baselines
    only learn rotation invariance approximately, from augmentation."""
    model, n_points = _model(model_cls), 10
    mask = torch.ones(1, n_points, dtype=torch.bool)

    def logits(x):  # (batch, 3 n_points) -> (batch, n_classes)
        return model(x.reshape(len(x), n_points, 3), mask.expand(len(x), -1))

    report = equivariance_report(logits, f"{n_points}x1o", "5x0e", n_samples=6, dtype=torch.float64)
    assert not report["passed"].any()
    assert report["rel_error"].min() > 1e-3


@pytest.mark.parametrize("reflections", [True, False])
def test_random_rotations_are_haar_orthogonal(reflections):
    g = torch.Generator().manual_seed(4)
    rot = random_rotations(2000, g, reflections=reflections, dtype=torch.float64)
    assert rot.shape == (2000, 3, 3) and rot.dtype == torch.float64
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(rot @ rot.transpose(1, 2), eye.expand(2000, 3, 3), atol=1e-12)
    det = torch.linalg.det(rot)
    assert torch.allclose(det.abs(), torch.ones(2000, dtype=torch.float64), atol=1e-12)
    if reflections:
        assert 0.4 < float((det < 0).double().mean()) < 0.6
    else:
        assert (det > 0).all()
    # Haar: E[R] = 0 (no preferred direction); entries have variance 1/3
    assert rot.mean(dim=0).abs().max() < 0.05
    assert torch.allclose(rot.square().mean(dim=0), torch.full((3, 3), 1 / 3.0).double(), atol=0.05)
    again = random_rotations(2000, torch.Generator().manual_seed(4), reflections, torch.float64)
    assert torch.equal(rot, again)
    assert random_rotations(3).dtype == torch.float32


def test_augment_rotates_each_cloud_rigidly_and_keeps_padding():
    g = torch.Generator().manual_seed(5)
    pos, mask = _clouds([6, 10], 10, g)
    pos[0, 6:] = 7.0
    out = augment(pos, mask, torch.Generator().manual_seed(6))
    assert torch.equal(out[0, 6:], pos[0, 6:])
    for b, n in enumerate([6, 10]):
        a, x = out[b, :n], pos[b, :n]
        assert torch.allclose(a @ a.T, x @ x.T, atol=1e-12)  # R x: same Gram matrix
        rot = torch.linalg.lstsq(x, a).solution.T
        assert torch.allclose(rot @ rot.T, torch.eye(3, dtype=x.dtype), atol=1e-10)
    assert not torch.allclose(out, pos)
    assert torch.equal(out, augment(pos, mask, torch.Generator().manual_seed(6)))


def test_dgcnn_with_fewer_valid_points_than_k():
    model = DGCNN(DGCNNConfig(n_classes=3, k=16, hidden=(8, 8), emb=16, head=())).double()
    model.eval()
    g = torch.Generator().manual_seed(7)
    pos, mask = _clouds([3, 1, 20], 20, g)  # 3 and 1 valid points, k = 16
    out = model(pos, mask)
    assert out.shape == (2 + 1, 3) and torch.isfinite(out).all()
    alone = model(pos[:1, :3], mask[:1, :3])  # fewer points in the whole batch than k
    assert _rel(out[:1], alone) < 1e-12
    pos.requires_grad_()
    model(pos, mask).sum().backward()
    assert torch.isfinite(pos.grad).all()


def _sphere_or_cube(n_clouds, n_points, generator):
    """Toy shapes: points on the unit sphere (label 0) or on the cube [-1, 1]^3 (label 1)."""
    x = torch.randn(n_clouds, n_points, 3, generator=generator)
    labels = torch.arange(n_clouds) % 2
    sphere = x / x.norm(dim=-1, keepdim=True)
    cube = x / x.abs().amax(dim=-1, keepdim=True)
    return torch.where(labels[:, None, None] == 0, sphere, cube), labels


def test_pointnet_learns_sphere_versus_cube():
    """A few dozen Adam steps on randomly rotated and shifted clouds separate the classes
    (robust: >= 0.9 held-out accuracy for 16 of 16 seeds tried)."""
    g = torch.Generator().manual_seed(8)
    model = PointNet(PointNetConfig(n_classes=2, hidden=(16, 32), head=(16,), dropout=0.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    mask = torch.ones(32, 32, dtype=torch.bool)
    for _ in range(50):
        pos, labels = _sphere_or_cube(32, 32, g)
        pos = augment(pos, mask, g) + torch.randn(32, 1, 3, generator=g)
        loss = torch.nn.functional.cross_entropy(model(pos, mask), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    pos, labels = _sphere_or_cube(64, 32, g)
    with torch.no_grad():
        accuracy = (model(augment(pos, None, g)).argmax(dim=1) == labels).double().mean()
    assert accuracy >= 0.85


@pytest.mark.parametrize(
    ("pos", "mask", "message"),
    [
        (torch.zeros(2, 5, 2), torch.ones(2, 5, dtype=torch.bool), r"\(batch, n_points, 3\)"),
        (torch.zeros(5, 3), None, r"\(batch, n_points, 3\)"),
        (torch.zeros(2, 5, 3), torch.ones(2, 4, dtype=torch.bool), "mask has shape"),
        (torch.zeros(2, 5, 3), torch.tensor([[1] * 5, [0] * 5]).bool(), r"clouds \[1\]"),
    ],
    ids=["last-dim", "no-batch", "mask-shape", "all-masked"],
)
@MODELS
def test_bad_input_raises_value_error(model_cls, pos, mask, message):
    with pytest.raises(ValueError, match=message):
        _model(model_cls, torch.float32)(pos, mask)
    with pytest.raises(ValueError, match=message):
        augment(pos, mask)


def test_bad_types_and_configs_raise():
    model = _model(PointNet, torch.float32)
    with pytest.raises(TypeError, match="floating"):
        model(torch.zeros(1, 4, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="bool"):
        model(torch.zeros(1, 4, 3), torch.ones(1, 4))
    with pytest.raises(ValueError, match="n_classes"):
        PointNetConfig(n_classes=0)
    with pytest.raises(ValueError, match="hidden"):
        PointNetConfig(n_classes=2, hidden=())
    with pytest.raises(ValueError, match="dropout"):
        DGCNNConfig(n_classes=2, dropout=1.0)
    with pytest.raises(ValueError, match="k must"):
        DGCNNConfig(n_classes=2, k=0)
    assert PointNetConfig(n_classes=2, hidden=[8, 8]).hidden == (8, 8)
    with pytest.raises(ValueError, match="n must"):
        random_rotations(-1)
