"""SpectraViewer, Python side: the atoms drawn in the cell, the spectra metrics, the picker and
the errors (no browser; tests/browser/test_spectra.py drives the front end)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import traitlets

from widgets import _assets
from widgets.spectra import SpectraViewer, cell_edges, formula, hkl_label, unit_cell_atoms
from workbench.metrics import spectrum_mse, wasserstein_1d

A = 3.6  # Å, roughly fcc Cu
FCC_PRIMITIVE = 0.5 * A * np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
CUBE = A * np.eye(3)
# L1_2 Cu3Au: Au at the corner, Cu at the face centres of the conventional cube
L12 = (
    np.array([79, 29, 29, 29]),
    A * np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]], dtype=float),
    CUBE,
)
COPPER = (np.array([29]), np.zeros((1, 3)), FCC_PRIMITIVE)
GRID = np.linspace(0.0, 10.0, 21)
STEP = GRID[1] - GRID[0]


def gaussian(centre: float, width: float = 1.0) -> np.ndarray:
    g = np.exp(-0.5 * ((GRID - centre) / width) ** 2)
    return g / (g.sum() * STEP)


TRUE = np.stack([gaussian(4.0), gaussian(6.0)])
SHIFTED = np.roll(TRUE, 1, axis=1)  # one grid step up; the last bins are ~0


def make_viewer(**kwargs) -> SpectraViewer:
    structures = [COPPER, L12]
    args = {
        "z": [s[0] for s in structures],
        "pos": [s[1] for s in structures],
        "cell": [s[2] for s in structures],
        "energy": GRID,
        "spectra": {"true": TRUE, "shifted": SHIFTED, "flat": np.full_like(TRUE, 0.1)},
    }
    args.update(kwargs)
    return SpectraViewer(
        args.pop("z"), args.pop("pos"), args.pop("cell"), args.pop("energy"), args.pop("spectra"),
        **args,
    )  # fmt: skip


def test_unit_cell_atoms_wraps_and_adds_boundary_images():
    # one atom at the origin of the fcc primitive cell: drawn at all eight corners
    z, pos, source = unit_cell_atoms(*COPPER)
    assert z.tolist() == [29] * 8 and source.tolist() == [0] * 8
    corners = {tuple(np.round(c, 9)) for c in np.array(np.meshgrid(*[[0, 1]] * 3)).reshape(3, -1).T}
    frac = pos @ np.linalg.inv(FCC_PRIMITIVE)
    assert {tuple(np.round(f, 9)) for f in frac} == corners
    # without images one atom; an atom outside the cell is wrapped in (fractional in [0, 1))
    outside = np.array([[-0.1, 0.3, 1.2]]) @ FCC_PRIMITIVE
    z, pos, _ = unit_cell_atoms(np.array([29]), outside, FCC_PRIMITIVE, boundary_images=False)
    assert np.allclose(pos @ np.linalg.inv(FCC_PRIMITIVE), [[0.9, 0.3, 0.2]])
    # L1_2: 8 corner images of Au, each face-centred Cu twice: 14 atoms, 8 Au
    z, pos, source = unit_cell_atoms(*L12)
    assert len(z) == 14 and (z == 79).sum() == 8 and np.bincount(source).tolist() == [8, 2, 2, 2]
    assert (pos > -1e-9).all() and (pos < A + 1e-9).all()
    # repeated twice along a: 3 x 2 x 2 corner positions of Au, 4 x 2 + 2 x 2 ... counted
    z, pos, _ = unit_cell_atoms(*L12, repeat=(2, 1, 1), boundary_images=False)
    assert len(z) == 8 and (pos[:, 0] < 2 * A).all()
    z, _, _ = unit_cell_atoms(*L12, repeat=(2, 1, 1))
    assert (z == 79).sum() == 12  # corners of a 2 x 1 x 1 box: 3 x 2 x 2
    # an atom a hair below the far face wraps to the origin (no duplicate at both faces)
    z, pos, _ = unit_cell_atoms(np.array([29]), np.array([[A - 1e-9, 0, 0]]), CUBE)
    assert len(z) == 8


def test_cell_edges_are_the_twelve_edges():
    edges = cell_edges(FCC_PRIMITIVE)
    assert edges.shape == (12, 2, 3)
    lengths = np.linalg.norm(edges[:, 1] - edges[:, 0], axis=1)
    assert np.allclose(lengths, A / math.sqrt(2))
    ends = {tuple(np.round(p, 9)) for p in edges.reshape(-1, 3)}
    assert len(ends) == 8  # the eight corners, each on three edges
    assert np.allclose(edges.reshape(-1, 3).sum(0) / 24, FCC_PRIMITIVE.sum(0) / 2)  # centre


def test_metrics_are_the_projects_and_skip_non_distributions():
    negative = TRUE - 0.01
    viewer = make_viewer(spectra={"true": TRUE, "shifted": SHIFTED, "negative": negative})
    for s in range(2):
        viewer.structure = s
        m = viewer.metrics
        assert m["shifted"]["wasserstein"] == float(wasserstein_1d(SHIFTED[s], TRUE[s], GRID)[0])
        assert m["shifted"]["mse"] == spectrum_mse(SHIFTED[s], TRUE[s])
        # moving all weight up one grid step costs one step (up to the tail that roll wraps)
        assert m["shifted"]["wasserstein"] == pytest.approx(STEP, rel=1e-3)
        # a spectrum with negative values has an MSE but no Wasserstein distance
        assert m["negative"]["wasserstein"] is None
        assert m["negative"]["mse"] == pytest.approx(1e-4)
    table = viewer.metrics_table().set_index("model")
    assert math.isnan(table.loc["negative", "wasserstein"])
    assert table.loc["shifted", "mse"] == pytest.approx(np.mean((SHIFTED - TRUE) ** 2))


def test_hkl_labels_and_formula():
    assert hkl_label(1, 1, 1) == "(111)"
    assert hkl_label(2, -1, 0) == "(21\u03040)"
    assert hkl_label(1.0, 0.0, 12.0) == "(1 0 12)"
    assert formula([29, 29, 29, 79]) == "AuCu3" and formula([13]) == "Al"


def test_view_of_the_picked_structure():
    viewer = make_viewer(title="two crystals")
    assert len(viewer) == 2 and viewer.names == ["Cu #0", "AuCu3 #1"]
    assert viewer.spectrum_names == ["true", "shifted", "flat"] and viewer.pattern_names == []
    view = viewer.view
    assert view["index"] == 0 and view["formula"] == "Cu" and view["n_atoms"] == 1
    assert len(view["atoms"]["symbols"]) == 8 and len(view["cell"]["edges"]) == 12
    # nearest-neighbour sticks of the rhombohedral cell: its 12 edges and 6 short diagonals
    assert len(view["atoms"]["bonds"]) == 18
    assert view["spectra"]["true"] == TRUE[0].tolist()
    assert view["metrics"]["shifted"]["wasserstein"] == pytest.approx(STEP)
    assert view["metrics"]["flat"]["mse"] == pytest.approx(np.mean((TRUE[0] - 0.1) ** 2))
    assert set(viewer.metrics) == {"shifted", "flat"}
    # the picker: setting the trait (as the browser does) publishes the other structure
    viewer.structure = 1
    view = viewer.view
    assert view["index"] == 1 and view["name"] == "AuCu3 #1" and view["n_atoms"] == 4
    assert len(view["atoms"]["symbols"]) == 14
    assert view["spectra"]["true"] == TRUE[1].tolist()
    assert np.array_equal(viewer.spectra["shifted"], SHIFTED[1])
    z, pos = viewer.drawn_atoms()
    assert len(z) == 14 and pos.shape == (14, 3)
    assert np.array_equal(viewer.structure_arrays()[0], L12[0])
    # 12 Cu-Au and Cu-Cu nearest neighbours per conventional cube face set: all at A / sqrt 2
    sticks = np.array(view["atoms"]["bonds"])
    lengths = np.linalg.norm(pos[sticks[:, 0]] - pos[sticks[:, 1]], axis=1)
    assert np.allclose(lengths, A / math.sqrt(2))
    with pytest.raises(traitlets.TraitError, match=r"structure must be in \[0, 2\); got 2"):
        viewer.structure = 2
    assert viewer.view["index"] == 1
    table = viewer.metrics_table()
    assert table["model"].tolist() == ["shifted", "flat"]
    assert table["wasserstein"][0] == pytest.approx(STEP, rel=1e-3)  # roll wraps a tail
    # another reference: the metrics are against it
    viewer.reference = "flat"
    assert set(viewer.view["metrics"]) == {"true", "shifted"}
    assert viewer.metrics["true"]["mse"] == pytest.approx(np.mean((TRUE[1] - 0.1) ** 2))
    with pytest.raises(traitlets.TraitError, match="reference must be a key of spectra"):
        viewer.reference = "nope"
    viewer.reference = "true"
    # a new model's spectra, live
    viewer.set_spectra({"half": TRUE / 2})
    assert viewer.spectrum_names[-1] == "half" and "half" in viewer.view["metrics"]
    assert viewer.view["metrics"]["half"]["wasserstein"] == pytest.approx(0.0, abs=1e-12)


def test_patterns_peaks_and_info():
    two_theta = np.linspace(20, 80, 121)
    pattern = np.exp(-0.5 * ((two_theta[None, :] - np.array([[43.3], [50.4]])) / 0.3) ** 2)
    peaks = [
        np.array(
            [[43.3, 1.0, 1, 1, 1, 2.08], [50.4, 0.45, 2, 0, 0, 1.8], [74.1, 0.01, 2, 2, 0, 1.3]]
        ),
        np.array([[50.4, 1.0, 2, -1, 0]]),
    ]
    viewer = make_viewer(
        two_theta=two_theta,
        patterns={"X-ray": pattern, "neutron": 0.5 * pattern},
        peaks={"X-ray": peaks, "neutron": peaks},
        info={"a (Å)": [3.6, 3.7], "note": ["pure", "ordered"], "abc": [np.ones(3), np.zeros(3)]},
        names=["copper", "cu3au"],
        max_peak_labels=5,
        min_peak_label=0.02,
    )
    view = viewer.view
    assert viewer.pattern_names == ["X-ray", "neutron"]
    assert [p["label"] for p in view["peaks"]["X-ray"]] == ["(111)", "(200)", "(220)"]
    # one label per distinct peak (X-ray and neutron share them), above min_peak_label only,
    # on the highest curve there
    assert [p["text"] for p in view["peak_labels"]] == ["(111)", "(200)"]
    assert view["peak_labels"][0]["y"] == pytest.approx(
        pattern[0][np.argmin(abs(two_theta - 43.3))]
    )
    assert view["info"] == [["a (Å)", "3.6"], ["note", "pure"], ["abc", "(1, 1, 1)"]]
    viewer.structure = 1
    assert [p["text"] for p in viewer.view["peak_labels"]] == ["(21\u03040)"]
    assert viewer.view["info"][1] == ["note", "ordered"] and viewer.view["name"] == "cu3au"
    # a weaker peak within min_label_separation of a labelled one gets no label of its own
    close = [np.array([[43.3, 1.0, 1, 1, 1], [43.9, 0.5, 0, 0, 2], [50.4, 0.4, 2, 0, 0]])] * 2
    labels = {
        sep: [
            p["text"]
            for p in make_viewer(
                two_theta=two_theta,
                patterns={"X-ray": pattern},
                peaks={"X-ray": close},
                min_label_separation=sep,
            ).view["peak_labels"]
        ]
        for sep in (0.8, 0.5)
    }
    assert labels == {0.8: ["(111)", "(200)"], 0.5: ["(111)", "(002)", "(200)"]}
    # tensors are fine inputs too
    again = make_viewer(spectra={"true": torch.tensor(TRUE)}, energy=torch.tensor(GRID))
    assert again.view["metrics"] == {}


def test_bad_inputs_name_the_entry_and_the_expected_form():
    with pytest.raises(
        ValueError, match=r"spectra\['shifted'\] must have shape \(S, n\) = \(2, 21\)"
    ):
        make_viewer(spectra={"true": TRUE, "shifted": SHIFTED[:, :-1]})
    nan = TRUE.copy()
    nan[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"spectra\['model'\] contains NaN .* index \(1, 3\)"):
        make_viewer(spectra={"true": TRUE, "model": nan})
    with pytest.raises(ValueError, match="reference='truth' is not a key of spectra"):
        make_viewer(reference="truth")
    with pytest.raises(ValueError, match="energy must be strictly increasing"):
        make_viewer(energy=GRID[::-1])
    with pytest.raises(ValueError, match="z, pos and cell must hold one entry per structure"):
        make_viewer(cell=[FCC_PRIMITIVE])
    with pytest.raises(ValueError, match=r"pos\[1\] must have shape \(4, 3\); got \(3, 3\)"):
        make_viewer(pos=[COPPER[1], L12[1][:3]])
    with pytest.raises(ValueError, match=r"cell\[0\] is singular"):
        make_viewer(cell=[np.diag([A, A, 0.0]), CUBE])
    bad_pos = L12[1].copy()
    bad_pos[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"pos\[1\] contains NaN or infinite values"):
        make_viewer(pos=[COPPER[1], bad_pos])
    with pytest.raises(ValueError, match=r"z\[0\] must be a \(n,\) sequence .* pass \[z\]"):
        SpectraViewer(np.array([29]), [COPPER[1]], [FCC_PRIMITIVE], GRID, {"true": TRUE[:1]})
    with pytest.raises(ValueError, match=r"z\[1\]: unknown element symbol 'Xx'"):
        make_viewer(z=[["Cu"], ["Au", "Cu", "Cu", "Xx"]])
    with pytest.raises(ValueError, match="patterns need their 2θ grid"):
        make_viewer(patterns={"X-ray": np.zeros((2, 5))})
    with pytest.raises(ValueError, match="peaks need patterns"):
        make_viewer(peaks={"X-ray": [[], []]})
    grid = np.linspace(10, 90, 5)
    with pytest.raises(ValueError, match=r"peaks\['nd'\] has no pattern; pattern names are"):
        make_viewer(two_theta=grid, patterns={"xrd": np.zeros((2, 5))}, peaks={"nd": [[], []]})
    with pytest.raises(ValueError, match=r"peaks\['xrd'\]\[0\]: columns 2-4 \(h, k, l\) must be"):
        make_viewer(
            two_theta=grid,
            patterns={"xrd": np.zeros((2, 5))},
            peaks={"xrd": [np.array([[30.0, 1.0, 1.5, 0, 0]]), []]},
        )
    with pytest.raises(ValueError, match=r"peaks\['xrd'\] has 1 peak lists; expected 2"):
        make_viewer(two_theta=grid, patterns={"xrd": np.zeros((2, 5))}, peaks={"xrd": [[]]})
    with pytest.raises(ValueError, match=r"info\['a'\] has 1 values; expected 2"):
        make_viewer(info={"a": [1.0]})
    with pytest.raises(ValueError, match=r"structure must be in \[0, 2\); got 5"):
        make_viewer(structure=5)
    with pytest.raises(ValueError, match=r"repeat must be three ints in 1\.\.5"):
        make_viewer(repeat=(1, 1))
    with pytest.raises(ValueError, match="style must be one of"):
        make_viewer(style="cartoon")
    with pytest.raises(ValueError, match="names must be 2 str"):
        make_viewer(names=["one"])
    with pytest.raises(ValueError, match="spectra must be a non-empty dict"):
        make_viewer(spectra=TRUE)
    viewer = make_viewer()
    with pytest.raises(ValueError, match=r"spectra\['new'\] must have shape"):
        viewer.set_spectra({"new": TRUE[:1]})
    assert viewer.spectrum_names == ["true", "shifted", "flat"]


def test_the_comm_opens_with_the_whole_state(monkeypatch):
    """The browser's first message already holds the picked structure's view: nothing it
    draws comes in a later update (which a busy browser still loading the module could miss)."""
    import ipywidgets.widgets.widget as widget_module

    opened = []
    real = widget_module.comm.create_comm

    def create_comm(**kwargs):
        opened.append(kwargs["data"]["state"])
        return real(**kwargs)

    monkeypatch.setattr(widget_module.comm, "create_comm", create_comm)
    viewer = make_viewer(structure=1, reference="shifted")
    (state,) = [s for s in opened if s.get("_model_name") == "AnyModel"]
    assert state["structure"] == 1 and state["view"]["index"] == 1
    assert state["view"]["name"] == "AuCu3 #1" and set(state["view"]["metrics"]) == {"true", "flat"}
    assert {k: state[k] for k in viewer.keys if k in state} == {
        k: v for k, v in viewer.get_state().items() if k in state
    }


def test_esm_inlines_3dmol_and_plotly_no_cdn():
    esm = SpectraViewer._esm
    # both vendored libraries inlined whole, behind stand-ins that evaluate them on first use
    for name in ("3dmol", "plotly"):
        global_name, load = _assets._LIBRARIES[name]
        assert f"const {global_name} = " in esm and load() in esm
    own = esm.rsplit("function el(", 1)[1]  # _shared.js and spectra.js, after the libraries
    assert "http" not in own and "import " not in own.split("export default")[0]
    assert 'data-wb-widget": "SpectraViewer"' in own


def test_from_crystals_and_from_result(tmp_path):
    pytest.importorskip("phonopy")
    from workbench.data.scattering import CrystalsConfig, PhononConfig, make_crystals

    config = CrystalsConfig(
        elements=("Cu", "Ag"),
        lattices=("fcc",),
        alloy_fraction=0.0,
        strain_fraction=0.5,
        phonon=PhononConfig(min_supercell_length=7.0, mesh_length=20.0),
        n_structures=2,
        shard_size=1,
        seed=2,
    )
    data = make_crystals(config, progress=False, directory=tmp_path)
    predicted = np.roll(data.dos[[1, 0]], 1, axis=1)
    viewer = SpectraViewer.from_crystals(data, {"model": predicted}, index=[1, 0])
    assert viewer.names == [f"{formula(data.structure(i)[0])} fcc #{i}" for i in (1, 0)]
    assert viewer.pattern_names == ["X-ray", "neutron"]
    view = viewer.view
    assert view["spectra"]["true"] == data.dos[1].tolist()
    assert view["spectra"]["model"] == predicted[0].tolist()
    assert [p["two_theta"] for p in view["peaks"]["X-ray"]] == data.peaks(1, "xrd")[
        "two_theta"
    ].tolist()
    strongest = data.peaks(1, "xrd").sort_values("intensity").iloc[-1]
    assert view["peak_labels"][0]["text"] == hkl_label(*strongest[["h", "k", "l"]])
    assert dict(view["info"])["space group"] == str(data.spacegroup[1])
    with pytest.raises(ValueError, match="index 7 is out of range for 2 crystals"):
        SpectraViewer.from_crystals(data, index=[7])
    with pytest.raises(ValueError, match="must not be named 'true'"):
        SpectraViewer.from_crystals(data, {"true": data.dos})
    # from a recipe result: its test crystals, predictions and predicted lattice parameters
    result = SimpleNamespace(
        test=data,
        predictions={"model": predicted[[1, 0]], "other": data.dos * 0.5},
        lattice_predictions=data.lattice_parameters + 0.25,
    )
    viewer = SpectraViewer.from_result(result, models=["model"])
    assert viewer.spectrum_names == ["true", "model"] and len(viewer) == 2
    assert viewer.view["spectra"]["model"] == predicted[1].tolist()
    info = dict(viewer.view["info"])
    a, b, c = data.lattice_parameters[0, :3] + 0.25
    assert info["a, b, c predicted (Å)"] == f"({a:.4g}, {b:.4g}, {c:.4g})"
    viewer = SpectraViewer.from_result(result, index=[1])
    assert viewer.spectrum_names == ["true", "model", "other"] and len(viewer) == 1
    assert viewer.view["spectra"]["other"] == (data.dos[1] * 0.5).tolist()
    with pytest.raises(ValueError, match=r"models \['nope'\] are not in the result"):
        SpectraViewer.from_result(result, models=["nope"])
