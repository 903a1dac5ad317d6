"""JetViewer, Python side: boosts, invariant masses, tagger scores and errors (no browser).

The jets are synthetic (three-prong "top" jets with m ~ 173 GeV, one-prong "QCD" jets), made
here; the taggers are two toys: one Lorentz invariant by construction, one on raw energies.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from widgets._assets import widget_esm
from widgets.jets import N_CURVE, JetViewer, mass_figure, mass_histogram, roc_figure
from workbench.data import kinematics
from workbench.metrics import background_rejection

METRIC = (1.0, -1.0, -1.0, -1.0)


def make_jets(n_jets: int = 12, n_max: int = 40, seed: int = 0):
    """Massless constituents around a jet axis: odd jets are 'top' (three prongs on a circle
    of radius ~ 173 GeV / pT), even ones 'QCD' (one wider prong). float32, zero padded."""
    rng = np.random.default_rng(seed)
    p4 = np.zeros((n_jets, n_max, 4), np.float32)
    mask = np.zeros((n_jets, n_max), bool)
    labels = np.arange(n_jets) % 2
    for i in range(n_jets):
        pt_jet, eta_jet, phi_jet = rng.uniform(450, 650), rng.uniform(-1.5, 1.5), rng.uniform(-2, 2)
        if labels[i]:
            theta = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(3) / 3
            r = rng.normal(173, 12) / pt_jet
            axes = np.stack([r * np.cos(theta), r * np.sin(theta)], -1)
            share, width, counts = rng.dirichlet([6, 6, 6]), 0.04, rng.integers(8, 13, 3)
        else:
            axes, share, width, counts = np.zeros((1, 2)), np.ones(1), 0.1, rng.integers(15, 35, 1)
        rows = []
        for (d_eta, d_phi), z, k in zip(axes, share, counts, strict=True):
            pt = pt_jet * z * rng.dirichlet(np.full(k, 0.8))
            eta = eta_jet + d_eta + rng.normal(0, width, k)
            phi = phi_jet + d_phi + rng.normal(0, width, k)
            rows.append(np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi),
                                  pt * np.sinh(eta)], -1))  # fmt: skip
        rows = np.concatenate(rows)[:n_max]
        p4[i, : len(rows)] = rows
        mask[i, : len(rows)] = True
    return p4, mask, labels


def invariant_tagger(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Lorentz invariant: the jet mass and the largest pair mass, from the p_i . p_j."""
    p = p4 * mask[..., None].to(p4.dtype)
    dots = torch.einsum("bia,bja,a->bij", p, p, torch.tensor(METRIC, dtype=p4.dtype))
    m_jet = dots.sum((1, 2)).clamp_min(0).sqrt()
    m_pair = (2 * dots).clamp_min(0).sqrt().amax((1, 2))
    return (m_jet - 120) / 25 + (m_pair - 80) / 40


def energy_tagger(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Not invariant: the total energy of the constituents."""
    return ((p4[..., 0] * mask).sum(1) - 900) / 300


def pt_tagger(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Invariant under boosts along z only: the scalar sum of the constituents' pT."""
    return ((torch.hypot(p4[..., 1], p4[..., 2]) * mask).sum(1) - 550) / 50


class InvariantModule(torch.nn.Module):
    """``invariant_tagger`` with a float32 parameter: called in float32 by the viewer."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.scale * invariant_tagger(p4, mask)


@pytest.fixture(scope="module")
def jets():
    return make_jets()


@pytest.fixture
def viewer(jets):
    p4, mask, labels = jets
    models = {"invariant": invariant_tagger, "baseline": energy_tagger}
    return JetViewer(p4, mask, labels, models, title="toy")


def _jet(jets, i: int) -> np.ndarray:
    p4, mask, _ = jets
    return p4[i][mask[i]].astype(np.float64)


def _mass(p: np.ndarray) -> float:
    """Written out independently of workbench.data.kinematics."""
    e, px, py, pz = p.sum(0)
    return math.sqrt(e * e - px * px - py * py - pz * pz)


def test_jet_masses_and_the_histogram(jets, viewer):
    labels = jets[2]
    expected = [_mass(_jet(jets, i)) for i in range(len(labels))]
    assert np.allclose(viewer.masses, expected, rtol=1e-12)
    top, qcd = viewer.masses[labels == 1], viewer.masses[labels == 0]
    assert 140 < top.min() and top.max() < 220 and qcd.max() < 110  # the toy jets are sane
    hist = viewer.mass_hist
    assert sum(hist["counts"]["top"]) == 6 and sum(hist["counts"]["QCD"]) == 6
    assert hist["edges"][0] == 0 and hist["edges"][-1] > viewer.masses.max()
    # the line is drawn at the selected jet's mass
    assert viewer.mass == pytest.approx(expected[0], rel=1e-12) == viewer.reference_mass
    assert mass_histogram([10.0, 170.0, 180.0], [0, 1, 1], n_bins=2) == {
        "edges": [0.0, 91.8, 183.6],
        "counts": {"QCD": [1, 0], "top": [0, 2]},
    }


def test_boost_along_z_shifts_eta_and_keeps_pt(jets, viewer):
    p = _jet(jets, 0)
    y = 1.3
    viewer.rapidity = y
    ch, sh = math.cosh(y), math.sinh(y)
    expected = p.copy()  # E' = E cosh y + pz sinh y, pz' = pz cosh y + E sinh y
    expected[:, 0] = p[:, 0] * ch + p[:, 3] * sh
    expected[:, 3] = p[:, 3] * ch + p[:, 0] * sh
    assert np.allclose(viewer.boosted(), expected, rtol=1e-12, atol=1e-9)
    now, rest = viewer.constituents, viewer.original
    # massless constituents: eta = rapidity, shifted by exactly y; pT and phi unchanged
    assert np.allclose(now["eta"], np.asarray(rest["eta"]) + y, atol=1e-5)
    assert np.allclose(now["phi"], rest["phi"], atol=1e-12)
    assert np.allclose(now["pt"], rest["pt"], rtol=1e-12)
    assert np.allclose(now["e"], expected[:, 0], rtol=1e-12)
    assert len(now["eta"]) == viewer.n_constituents == int(jets[1][0].sum())
    assert viewer.jet["pt"] == pytest.approx(np.hypot(*p[:, 1:3].sum(0)), rel=1e-12)
    # relative coordinates (delta y, delta phi) do not see a boost along z
    viewer.coordinates = "relative"
    moved = viewer.constituents
    viewer.rapidity = 0.0
    assert np.allclose(moved["eta"], viewer.constituents["eta"], atol=1e-9)
    assert np.allclose(moved["phi"], viewer.constituents["phi"], atol=1e-9)
    assert abs(np.average(moved["eta"], weights=moved["pt"])) < 0.5  # centred on the jet


def test_transverse_and_jet_axis_boosts(jets, viewer):
    p = _jet(jets, 1)
    viewer.index, viewer.coordinates = 1, "relative"
    rest = viewer.constituents
    viewer.axis, viewer.rapidity = "x", 0.8
    assert viewer.axis_vector == [1.0, 0.0, 0.0]
    assert np.allclose(viewer.boosted()[:, 2:], p[:, 2:], rtol=1e-12)  # py, pz untouched
    moved = viewer.constituents  # a transverse boost reshapes the jet in (delta eta, delta phi)
    assert np.abs(np.subtract(moved["phi"], rest["phi"])).max() > 1e-2
    viewer.axis = "jet"
    n = p[:, 1:].sum(0) / np.linalg.norm(p[:, 1:].sum(0))
    assert np.allclose(viewer.direction, n) and np.allclose(viewer.axis_vector, n)
    assert np.allclose(viewer.boost_matrix(), kinematics.boost_matrix(0.8, n))
    jet = viewer.boosted().sum(0)
    assert np.allclose(jet[1:] / np.linalg.norm(jet[1:]), n, atol=1e-12)  # still along n...
    assert np.linalg.norm(jet[1:]) > np.linalg.norm(p[:, 1:].sum(0))  # ...and faster
    for axis in ("x", "y", "z", "jet"):
        viewer.axis = axis
        for y in (-2.0, -0.7, 1.9):
            viewer.rapidity = y
            assert viewer.mass == pytest.approx(viewer.reference_mass, rel=1e-10), (axis, y)
            assert viewer.frame["outside"] == 0
    # the frame holds the jet at rest and boosted: along z, it grows with the slide in eta
    viewer.axis, viewer.rapidity, viewer.coordinates = "z", 0.0, "absolute"
    at_rest = viewer.frame
    viewer.rapidity = 1.5
    eta = np.asarray(viewer.constituents["eta"])
    assert at_rest["eta"][1] < eta.min() and viewer.frame["eta"][1] > eta.max()
    assert viewer.frame["eta"][0] < min(viewer.original["eta"]) and viewer.frame["outside"] == 0


def test_invariant_tagger_stays_put_and_the_baseline_moves(jets, viewer):
    start = dict(viewer.scores)
    assert viewer.reference_scores == start and viewer.spread == {"invariant": 0, "baseline": 0}
    with torch.no_grad():
        p4, mask = torch.as_tensor(jets[0][:1]).double(), torch.as_tensor(jets[1][:1])
        logit = invariant_tagger(p4, mask)
    assert start["invariant"] == pytest.approx(float(torch.sigmoid(logit)), abs=1e-12)
    spreads = []
    for axis, y in [("z", 0.5), ("z", -1.5), ("x", 1.0), ("jet", -2.0), ("y", 2.0)]:
        viewer.axis, viewer.rapidity = axis, y
        assert abs(viewer.scores["invariant"] - start["invariant"]) < 1e-9, (axis, y)
        moved = abs(viewer.scores["baseline"] - start["baseline"])
        assert moved > 1e-2, (axis, y)
        spreads.append(viewer.spread["baseline"])
        assert spreads[-1] >= moved  # the largest change seen so far
    assert spreads == sorted(spreads)
    assert viewer.spread["invariant"] < 1e-9
    # the curve over the slider's range: flat for the invariant tagger, not for the baseline
    curve = viewer.score_curve
    assert len(curve["rapidity"]) == N_CURVE and curve["rapidity"][N_CURVE // 2] == 0.0
    assert np.ptp(curve["scores"]["invariant"]) < 1e-9 and np.ptp(curve["scores"]["baseline"]) > 0.1
    assert curve["scores"]["baseline"][N_CURVE // 2] == start["baseline"]
    assert curve["scores"]["baseline"][-1] == pytest.approx(viewer.scores["baseline"], abs=1e-12)
    viewer.rapidity = 0.0  # back at rest: the score returns, the spread remembers
    assert viewer.scores == start and viewer.spread["baseline"] == spreads[-1]


def test_the_axis_matters_for_a_tagger_invariant_along_z_only(jets):
    viewer = JetViewer(*jets, models={"pt": pt_tagger}, axis="z", rapidity=1.5)
    assert viewer.spread["pt"] < 1e-9  # sum of pT: blind to boosts along the beam...
    viewer.axis = "x"
    assert viewer.spread["pt"] > 1e-2  # ...not to transverse ones


def test_models_run_in_their_own_dtype_without_grad(jets):
    seen = []

    def spy(p4, mask):
        seen.append((p4.dtype, tuple(p4.shape), mask.dtype, tuple(mask.shape)))
        assert not torch.is_grad_enabled()
        return torch.zeros(p4.shape[0])

    net = InvariantModule()
    viewer = JetViewer(*jets, models={"spy": spy, "net32": net}, axis="jet")
    assert seen[0] == (torch.float64, (1, 40, 4), torch.bool, (1, 40))  # the jet at rest
    assert seen[1] == (torch.float64, (N_CURVE, 40, 4), torch.bool, (N_CURVE, 40))  # the curve
    assert viewer.scores["spy"] == 0.5
    # a float32 network sees float32 momenta: invariant up to float32 round-off
    for y in (-2.0, 2.0):
        viewer.rapidity = y
    assert 0 < viewer.spread["net32"] < 1e-4
    double = JetViewer(*jets, models={"net64": InvariantModule().double()}, axis="jet", rapidity=2)
    assert double.spread["net64"] < 1e-9


def test_jet_navigation(jets, viewer):
    labels = jets[2]
    viewer.axis, viewer.rapidity = "x", 1.0
    assert viewer.spread["baseline"] > 0
    assert viewer.next_jet(label=1) == 1 and viewer.label == 1
    assert viewer.next_jet(label=1) == 3
    assert viewer.next_jet() == 4 and viewer.next_jet(step=-1) == 3
    viewer.index = len(labels) - 1
    assert viewer.next_jet(label=0) == 0  # cyclic
    assert viewer.next_jet(step=-1) == len(labels) - 1
    viewer._on_message(viewer, {"type": "next", "label": 1, "step": 1}, [])  # the page's buttons
    assert viewer.index == 1
    # the boost is kept; the spread starts again from the new jet at rest
    assert (viewer.axis, viewer.rapidity) == ("x", 1.0)
    expected = abs(viewer.scores["baseline"] - viewer.reference_scores["baseline"])
    assert viewer.spread["baseline"] == pytest.approx(expected, abs=1e-15)
    assert viewer.mass == pytest.approx(viewer.masses[1], rel=1e-10)
    assert viewer.label_counts == [6, 6]
    only_qcd = JetViewer(jets[0][::2], jets[1][::2], jets[2][::2])
    with pytest.raises(ValueError, match=r"no top jet \(label 1\) among the 6 jets"):
        only_qcd.next_jet(label=1)
    with pytest.raises(ValueError, match="step must be 1 or -1"):
        only_qcd.next_jet(step=2)


def test_no_models_and_a_constituent_along_the_beam():
    p4 = np.array([[[50.0, 0, 0, 50], [100, 60, 0, 80], [0, 0, 0, 0]]])  # 1st along +z
    viewer = JetViewer(p4, np.array([[True, True, False]]), [0])
    assert viewer.scores == {} and viewer.score_curve["scores"] == {} and viewer.model_names == []
    assert viewer.constituents["eta"][0] is None and viewer.constituents["eta"][1] is not None
    assert viewer.frame["outside"] == 1  # not drawn, and said so
    viewer.axis, viewer.rapidity = "x", 0.5  # a transverse boost gives it pT
    assert viewer.constituents["eta"][0] is not None
    assert viewer.mass == pytest.approx(_mass(p4[0, :2]), rel=1e-12)


def test_a_failing_model_leaves_the_viewer_consistent(jets):
    def picky(p4, mask):
        if (mask.sum(1) > 30).any():
            raise RuntimeError("too many constituents")
        return torch.zeros(p4.shape[0], dtype=p4.dtype)

    counts = jets[1].sum(1)
    ok, bad = int(np.argmax(counts <= 30)), int(np.argmax(counts > 30))
    viewer = JetViewer(*jets, models={"picky": picky}, index=ok)
    with pytest.raises(RuntimeError, match="too many"):
        viewer.index = bad
    assert viewer.index == ok and viewer.n_constituents == counts[ok]
    back_to_back = np.array([[[10.0, 0, 0, 10], [10, 0, 0, -10]]])
    with pytest.raises(ValueError, match="zero 3-momentum"):
        JetViewer(back_to_back, np.ones((1, 2), bool), [0], axis="jet")
    viewer = JetViewer(back_to_back, np.ones((1, 2), bool), [0])
    with pytest.raises(ValueError, match="zero 3-momentum"):
        viewer.axis = "jet"
    assert viewer.axis == "z" and viewer.axis_vector == [0.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p4": np.zeros((3, 5))}, r"shape \(n_jets, N, 4\)"),
        ({"p4": np.zeros((3, 5, 3))}, r"shape \(n_jets, N, 4\).*\(3, 5, 3\)"),
        ({"p4": np.zeros((0, 5, 4))}, r"shape \(n_jets, N, 4\)"),
        ({"p4": np.ones((3, 5, 4), bool)}, "real numbers"),
        ({"nan": 2}, r"NaN or infinite values in jets \[2\]"),
        ({"mask": np.ones((3, 4), bool)}, r"mask must have shape \(n_jets, N\) = \(3, 5\)"),
        ({"mask": np.ones((3, 5))}, "bool"),
        ({"mask": np.eye(3, 5, dtype=bool) & [True, True, False, False, False]}, r"jets \[2\]"),
        ({"labels": [0, 1]}, r"labels must have shape \(n_jets,\) = \(3,\)"),
        ({"labels": [0, 1, 2]}, r"0 \(QCD\) or 1 \(top\); got \[2.0\] at jets \[2\]"),
        ({"models": [invariant_tagger]}, "must be a dict"),
        ({"models": {"m": 3}}, "callables"),
        ({"index": 3}, r"index must be in \[0, 3\); got 3"),
        ({"index": 1.0}, "index must be an int"),
        ({"axis": "w"}, r"axis must be one of \['x', 'y', 'z', 'jet'\]; got 'w'"),
        ({"rapidity": 2.5}, r"rapidity must be in \[-2.0, 2.0\]; got 2.5"),
        ({"rapidity": float("nan")}, "rapidity must be in"),
        ({"max_rapidity": 0}, "max_rapidity must be a positive finite number"),
        ({"models": {"m": lambda p, m: p[..., 0]}}, r"'m'.*shape \(1, 5\).*expected \(1,\)"),
        ({"models": {"m": lambda p, m: [0.0]}}, "not a tensor"),
        ({"models": {"m": lambda p, m: p[:, 0, 0] / 0}}, "non-finite logits"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    p4, mask, labels = make_jets(3, n_max=5, seed=1)
    args = {"p4": p4, "mask": mask, "labels": labels}
    if "nan" in kwargs:
        args["p4"][kwargs.pop("nan"), -1, 2] = np.nan  # even in the padding
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        JetViewer(**args)


def test_bad_control_values_are_rejected_and_leave_the_view(viewer):
    scores = dict(viewer.scores)
    for name, value, match in [
        ("index", -1, r"\[0, 12\)"),
        ("axis", "t", "axis must be one of"),
        ("rapidity", -7.0, r"\[-2.0, 2.0\]"),
        ("coordinates", "polar", "coordinates must be one of"),
    ]:
        with pytest.raises(ValueError, match=match):
            setattr(viewer, name, value)
    assert (viewer.index, viewer.axis, viewer.rapidity) == (0, "z", 0.0)
    assert viewer.coordinates == "absolute" and viewer.scores == scores


def test_esm_inlines_plotly_and_no_remote_urls():
    esm = widget_esm("jets.js", ("plotly",))
    assert "plotly.js v" in esm[:2000] and "export default" in esm
    own = widget_esm("jets.js", ())
    assert "http://" not in own.lower() and "https://" not in own.lower()
    assert '"data-wb-widget": "JetViewer"' in own


# --- figures ---------------------------------------------------------------------------------


def test_roc_figure_draws_rejection_against_signal_efficiency():
    labels = [1, 0, 1, 0]
    # cuts score >= 0.9, 0.8, 0.3, 0.1: (eps_S, eps_B) = (.5, 0), (.5, .5), (1, .5), (1, 1)
    fig = roc_figure({"tagger": [0.9, 0.8, 0.3, 0.1], "mass": [-5.0, -1.0, -2.0, -9.0]}, labels)
    tagger, mass, random = fig.data
    assert tagger.name == "tagger (AUC 0.750)" and mass.name == "mass (AUC 0.500)"
    # the eps_B = 0 point has an unbounded rejection: it is left out of the log axis
    assert tagger.x.tolist() == [0.5, 1.0, 1.0] and tagger.y.tolist() == [2.0, 2.0, 1.0]
    assert mass.x.tolist() == [0.0, 0.5, 1.0, 1.0] and mass.y.tolist() == [2.0, 2.0, 2.0, 1.0]
    assert random.name == "random guess"
    assert np.allclose(random.y, 1 / np.asarray(random.x))
    assert fig.layout.yaxis.type == "log"
    assert "1/ε_B" in fig.layout.yaxis.title.text and "ε_S" in fig.layout.xaxis.title.text
    assert [shape.x0 for shape in fig.layout.shapes] == [0.3, 0.5]


def test_roc_figure_of_real_scores_matches_the_metrics():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = {"good": labels + rng.normal(0, 0.7, 500), "bad": rng.normal(0, 1, 500)}
    fig = roc_figure(scores, torch.as_tensor(labels), signal_efficiencies=())
    assert not fig.layout.shapes
    good = fig.data[0]
    # 1/eps_B at eps_S = 0.3, read off the drawn curve, is the metric's background rejection
    drawn = np.interp(0.3, good.x, 1 / np.asarray(good.y))
    assert 1 / drawn == pytest.approx(background_rejection(scores["good"], labels, 0.3))
    assert float(np.min(good.y)) >= 1.0 and float(np.max(good.y)) > 5.0


@pytest.mark.parametrize(
    ("scores", "labels", "error", "match"),
    [
        ({}, [0, 1], ValueError, "non-empty dict"),
        ([0.1, 0.2], [0, 1], ValueError, "non-empty dict"),
        ({"pfn": [0.1, 0.2, 0.3]}, [0, 1], ValueError, r"scores\['pfn'\]: .*3 entries"),
        ({"pfn": [0.1, float("nan")]}, [0, 1], ValueError, r"scores\['pfn'\]: .*non-finite"),
        ({"pfn": [0.1, 0.2]}, [1, 1], ValueError, r"scores\['pfn'\]: .*only class 1"),
        ({"pfn": ["a", "b"]}, [0, 1], TypeError, r"scores\['pfn'\]: .*real numbers"),
    ],
)
def test_roc_figure_rejects_bad_input(scores, labels, error, match):
    with pytest.raises(error, match=match):
        roc_figure(scores, labels)


def test_mass_figure_normalises_each_class_and_marks_the_top_and_w(jets):
    labels = jets[2]
    masses = [_mass(_jet(jets, i)) for i in range(len(labels))]
    fig = mass_figure(masses, labels, n_bins=12)
    qcd, top = fig.data
    assert qcd.name == "QCD (6 jets)" and top.name == "top (6 jets)"
    hist = mass_histogram(masses, labels, n_bins=12)
    width = hist["edges"][1] - hist["edges"][0]
    for bars, name in ((qcd, "QCD"), (top, "top")):
        assert list(bars.customdata) == hist["counts"][name]
        assert float(np.sum(bars.y) * width) == pytest.approx(1.0)
    assert sorted(shape.x0 for shape in fig.layout.shapes) == [80.4, 173.0]
    # the toy top jets sit near the top mark, the QCD jets below the W's
    assert float(np.average(top.x, weights=top.y)) == pytest.approx(173, abs=25)
    assert float(np.average(qcd.x, weights=qcd.y)) < 80.4


@pytest.mark.parametrize(
    ("masses", "labels", "match"),
    [
        ([], [], "equal length"),
        ([1.0, 2.0], [0], "equal length"),
        ([1.0, float("nan")], [0, 1], "finite"),
        ([1.0, -2.0], [0, 1], ">= 0"),
        ([1.0, 2.0], [0, 2], "0 \\(QCD\\) or 1 \\(top\\)"),
    ],
)
def test_mass_figure_rejects_bad_input(masses, labels, match):
    with pytest.raises(ValueError, match=match):
        mass_figure(masses, labels)


def test_the_comm_opens_with_the_whole_state(jets, monkeypatch):
    """The front end's first message already holds the selected jet: nothing it needs comes
    in a later update (which a busy browser still loading the module could miss)."""
    import ipywidgets.widgets.widget as widget_module

    opened = []
    real = widget_module.comm.create_comm

    def create_comm(**kwargs):
        opened.append(kwargs["data"]["state"])
        return real(**kwargs)

    monkeypatch.setattr(widget_module.comm, "create_comm", create_comm)
    p4, mask, labels = jets
    viewer = JetViewer(p4, mask, labels, {"invariant": invariant_tagger}, index=3)
    (state,) = [s for s in opened if s.get("_model_name") == "AnyModel"]  # not its Layout
    assert state["index"] == 3 and state["label"] == int(labels[3]) == viewer.label
    assert state["jet"] == viewer.jet and set(state["jet"]) == {"pt", "eta", "phi", "e"}
    assert state["mass"] == viewer.mass > 0 and state["constituents"] == viewer.constituents
    assert state["scores"] == viewer.scores and set(state["scores"]) == {"invariant"}
    assert len(state["score_curve"]["rapidity"]) == N_CURVE
