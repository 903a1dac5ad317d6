"""PointCloudView, Python side: the pose, the probabilities and the errors (no browser)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from widgets import PointCloudView
from widgets._assets import widget_esm
from widgets.pointcloud import total_variation

CLASSES = ["sphere", "rod", "disc", "cube"]


class DistanceClassifier(torch.nn.Module):
    """Invariant under O(3): logits from statistics of the pairwise distances of valid points."""

    def __init__(self, n_classes: int = len(CLASSES)) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, n_classes)

    def forward(self, pos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pairs = (mask[:, :, None] & mask[:, None, :]).to(pos.dtype)
        d = torch.cdist(pos, pos) * pairs
        n = pairs.sum((1, 2))
        mean = d.sum((1, 2)) / n
        features = [mean, (d**2).sum((1, 2)) / n, d.amax((1, 2)), (d**3).sum((1, 2)) / n]
        return self.linear(torch.stack(features, dim=-1))


class CoordinateClassifier(torch.nn.Module):
    """Not invariant: a linear function of the mean of x and of x|x| over the valid points."""

    def __init__(self, n_classes: int = len(CLASSES)) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(6, n_classes)

    def forward(self, pos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        w = mask[..., None].to(pos.dtype)
        mean = (pos * w).sum(1) / w.sum(1)
        odd = (pos * pos.abs() * w).sum(1) / w.sum(1)
        return 3 * self.linear(torch.cat([mean, odd], dim=-1))


def rotation(alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Y(alpha) X(beta) Y(gamma), written out independently of e3nn."""

    def y(t: float) -> np.ndarray:
        c, s = math.cos(t), math.sin(t)
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])

    def x(t: float) -> np.ndarray:
        c, s = math.cos(t), math.sin(t)
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])

    return y(alpha) @ x(beta) @ y(gamma)


@pytest.fixture
def cloud() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(24, 3, generator=g) * torch.tensor([1.5, 0.7, 0.3]) + torch.tensor(
        [0.8, -0.4, 0.5]
    )
    mask = torch.ones(24, dtype=torch.bool)
    mask[-5:] = False  # padding
    pos[-5:] = 0.0
    return pos, mask


@pytest.fixture
def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {"invariant": DistanceClassifier().eval(), "baseline": CoordinateClassifier().eval()}


def _tv(a, b) -> float:
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())


def test_pose_moves_the_points_by_the_o3_matrix(cloud, models):
    pos, mask = cloud
    view = PointCloudView(pos, models, CLASSES, mask=mask, label=2, title="toy")
    valid = pos[mask].double().numpy()
    assert view.label == 2 and view.class_names == CLASSES and view.title == "toy"
    assert view.model_names == ["invariant", "baseline"]
    assert np.allclose(view.points, valid, atol=1e-12) and len(view.points) == 19
    assert np.allclose(view.original_points, valid)
    assert view.extent >= np.linalg.norm(valid, axis=1).max()

    view.alpha, view.beta, view.gamma = 0.4, 1.1, 2.3
    assert np.allclose(view.points, valid @ rotation(0.4, 1.1, 2.3).T, atol=1e-12)
    view.reflect = True  # the inversion x -> -x, composed with the rotation
    assert np.allclose(view.points, -valid @ rotation(0.4, 1.1, 2.3).T, atol=1e-12)
    assert np.allclose(view.matrix().numpy(), -rotation(0.4, 1.1, 2.3))
    # every point stays inside the fixed axis range the browser draws
    assert np.linalg.norm(view.points, axis=1).max() <= view.extent


def test_invariant_model_stays_put_and_the_baseline_moves(cloud, models):
    pos, mask = cloud
    view = PointCloudView(pos, models, CLASSES, mask=mask)
    start = {k: list(v) for k, v in view.probabilities.items()}
    assert view.spread == {"invariant": 0.0, "baseline": 0.0}
    for p in start.values():
        assert math.isclose(sum(p), 1.0, rel_tol=1e-9) and len(p) == len(CLASSES)
    assert view.top == {k: int(np.argmax(v)) for k, v in start.items()}

    spreads = []
    for pose in [(1.0, 0.0, 0.0, False), (1.0, 0.7, 0.0, False), (2.0, 2.5, 4.0, True)]:
        view.alpha, view.beta, view.gamma, view.reflect = pose
        assert np.allclose(view.probabilities["invariant"], start["invariant"], atol=1e-6)
        moved = _tv(view.probabilities["baseline"], start["baseline"])
        assert moved > 1e-3, pose
        spreads.append(view.spread["baseline"])
        assert spreads[-1] >= moved - 1e-15  # spread is the max over the poses seen so far
    assert view.spread["invariant"] < 1e-6
    assert spreads == sorted(spreads) and spreads[-1] > 1e-3

    # back to the original pose: probabilities return, the spread remembers the excursion
    view.alpha = view.beta = view.gamma = 0.0
    view.reflect = False
    assert np.allclose(view.probabilities["baseline"], start["baseline"], atol=1e-12)
    assert view.spread["baseline"] == spreads[-1]


def test_models_run_in_their_own_dtype_without_grad(cloud):
    pos, mask = cloud
    seen = []

    def fn(p, m):
        seen.append((p.dtype, p.shape, m.dtype, m.shape, torch.is_grad_enabled()))
        return torch.zeros(1, len(CLASSES))

    net = DistanceClassifier().double()
    view = PointCloudView(pos.numpy(), {"fn": fn, "net64": net}, CLASSES, mask=mask.numpy())
    assert seen[0] == (torch.float32, (1, 24, 3), torch.bool, (1, 24), False)
    assert view.probabilities["fn"] == [0.25] * 4
    # the float64 model sees float64 positions: invariance to round-off
    view.randomize(seed=1)
    assert np.allclose(view.probabilities["net64"], view._reference["net64"], atol=1e-12, rtol=0)


def test_randomize_and_angle_ranges(cloud, models):
    pos, _ = cloud
    view = PointCloudView(pos, models, CLASSES)
    g = view.randomize(seed=3)
    assert (view.alpha, view.beta, view.gamma, view.reflect) == (
        g.alpha,
        g.beta,
        g.gamma,
        g.inversion,
    )
    assert g == view.randomize(seed=3)  # reproducible
    assert 0 <= view.beta <= math.pi and 0 <= view.alpha < 2 * math.pi
    poses = {view.randomize(seed=s).inversion for s in range(20)}
    assert poses == {True, False}  # both cosets of O(3)
    g = view.element
    assert np.allclose(view.points, pos.double().numpy() @ g.matrix().numpy().T, atol=1e-12)
    view.alpha, view.beta = 7.0, 4.0
    assert math.isclose(view.alpha, 7.0 - 2 * math.pi) and view.beta == math.pi


def test_set_cloud_replaces_the_cloud_live(cloud, models):
    pos, mask = cloud
    view = PointCloudView(pos, models, CLASSES, mask=mask, label=1)
    view.alpha, view.reflect = 1.3, True
    assert view.spread["baseline"] > 0
    other = pos[:10] * 2 + 1
    view.set_cloud(other, label=3)
    assert view.label == 3 and len(view.points) == 10
    assert view.alpha == 1.3 and view.reflect  # the pose is kept...
    assert np.allclose(view.points, other.double().numpy() @ view.matrix().numpy().T)
    assert np.allclose(view.original_points, other.double().numpy())
    assert view.spread["invariant"] < 1e-6
    with torch.no_grad():
        reference = models["baseline"](other[None].float(), torch.ones(1, 10, dtype=torch.bool))
    assert np.allclose(view._reference["baseline"], torch.softmax(reference, -1)[0], atol=1e-6)
    view.set_cloud(other)  # no label given: the class of the new cloud is unknown
    assert view.label == -1


def test_set_cloud_spread_restarts_from_the_new_cloud(cloud, models):
    pos, mask = cloud
    view = PointCloudView(pos, models, CLASSES, mask=mask)
    view.alpha = 2.0
    view.set_cloud(pos * 0.5, mask=mask)
    # measured against the new cloud's original pose, in the current pose
    expected = _tv(view.probabilities["baseline"], view._reference["baseline"])
    assert math.isclose(view.spread["baseline"], expected, abs_tol=1e-15)


def test_total_variation():
    assert total_variation([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert total_variation([1.0, 0.0], [0.0, 1.0]) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pos": torch.zeros(5, 2)}, r"shape \(N, 3\)"),
        ({"pos": torch.zeros(5, 3, 1)}, r"shape \(N, 3\)"),
        ({"pos": torch.zeros(0, 3)}, r"shape \(N, 3\)"),
        ({"pos": torch.full((5, 3), float("nan"))}, "NaN"),
        ({"mask": torch.ones(4, dtype=torch.bool)}, r"mask must have shape \(N,\) = \(5,\)"),
        ({"mask": torch.ones(5)}, "bool"),
        ({"mask": torch.zeros(5, dtype=torch.bool)}, "no points"),
        ({"models": {}}, "non-empty dict"),
        ({"models": {"m": 3}}, "callables"),
        ({"class_names": []}, "must not be empty"),
        ({"class_names": "abcd"}, "sequence of str"),
        ({"label": 4}, r"\[0, 4\)"),
        ({"label": "rod"}, "int class index"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    args = {"pos": torch.randn(5, 3), "models": {"m": CoordinateClassifier()}}
    args["class_names"] = CLASSES
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        PointCloudView(**args)


def test_model_with_the_wrong_number_of_classes_is_rejected(cloud):
    pos, _ = cloud
    with pytest.raises(ValueError, match=r"'three'.*shape \(1, 3\); expected \(1, 4\)"):
        PointCloudView(pos, {"ok": CoordinateClassifier(), "three": DistanceClassifier(3)}, CLASSES)
    with pytest.raises(ValueError, match="not a tensor"):
        PointCloudView(pos, {"list": lambda p, m: [0.0] * 4}, CLASSES)
    view = PointCloudView(pos, {"ok": CoordinateClassifier()}, CLASSES)
    with pytest.raises(ValueError, match=r"shape \(1, 3\)"):  # set_cloud checks as well...
        view._models["ok"] = DistanceClassifier(3)
        view.set_cloud(pos[:5])
    assert len(view.points) == 24  # ...and leaves the old cloud in place


def test_esm_inlines_plotly_and_no_remote_urls():
    esm = widget_esm("pointcloud.js", ("plotly",))
    assert "plotly.js v" in esm[:2000] and "export default" in esm
    own = widget_esm("pointcloud.js", ()).lower()
    assert "http://" not in own and "https://" not in own
    assert '"data-wb-widget": "PointCloudView"' in own.replace("pointcloudview", "PointCloudView")


def test_the_comm_opens_with_the_whole_state(cloud, models, monkeypatch):
    """The front end's first message already holds the cloud in the pose given to the
    constructor and every model's probabilities: nothing it needs comes in a later update
    (which a busy browser still loading the module could miss)."""
    import ipywidgets.widgets.widget as widget_module

    opened = []
    real = widget_module.comm.create_comm

    def create_comm(**kwargs):
        opened.append(kwargs["data"]["state"])
        return real(**kwargs)

    monkeypatch.setattr(widget_module.comm, "create_comm", create_comm)
    pos, mask = cloud
    view = PointCloudView(pos, models, CLASSES, mask=mask, label=2, alpha=0.7, reflect=True)
    (state,) = [s for s in opened if s.get("_model_name") == "AnyModel"]  # not its Layout
    assert state["alpha"] == 0.7 and state["reflect"] and state["label"] == 2
    expected = -(pos[mask].double().numpy() @ rotation(0.7, 0.0, 0.0).T)
    np.testing.assert_allclose(np.array(state["points"]), expected, atol=1e-12)
    assert len(state["original_points"]) == int(mask.sum()) and state["extent"] > 1.0
    assert set(state["probabilities"]) == set(state["top"]) == set(state["spread"]) == set(models)
    # nothing changed after the comm opened: the first message is the widget's whole state
    assert {k: state[k] for k in view.keys if k in state} == {
        k: v for k, v in view.get_state().items() if k in state
    }
