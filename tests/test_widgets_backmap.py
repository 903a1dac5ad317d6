"""BackmapViewer, Python side: layers and frames, the model/sample selector, the readout, the
toggles and the errors (no browser; tests/browser/test_backmap.py drives the front end)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import traitlets

from widgets.backmap import BEAD_COLOR, GHOST_COLOR, BackmapViewer, _esm
from widgets.molecule import Layer

pytest.importorskip("openmm")

F = 4  # frames


@pytest.fixture(scope="module")
def alanine():
    """Alanine dipeptide (22 atoms) with 4 beads: real topology, small perturbations of the
    starting structure as frames, and stand-in "samples" (this tests the widget, no model)."""
    from workbench.data.coarse_graining import cg_mapping, load_structure, map_to_beads

    traj = load_structure("alanine_dipeptide")
    mapping = cg_mapping(traj, 4)
    rng = np.random.default_rng(0)
    reference = traj.pos[0].astype(np.float64) + rng.normal(0, 0.05, (F, 22, 3))
    samples = {
        "cgvae": reference[:, None] + rng.normal(0, 0.2, (F, 3, 22, 3)),
        "linear": reference[:, None] + np.array([0.3, 0.0, 0.0]),
    }
    return {
        "atoms": traj.z,
        "bonds": traj.bonds,
        "assignment": mapping.assignment,
        "reference": reference,
        "beads": map_to_beads(reference, mapping),
        "samples": samples,
    }


def viewer_of(data, **kwargs) -> BackmapViewer:
    return BackmapViewer(
        data["atoms"], data["reference"], data["beads"], data["samples"], data["bonds"], **kwargs
    )


def rmsd(a: np.ndarray, b: np.ndarray) -> float:
    return math.sqrt(((a - b) ** 2).sum() / len(a))


def test_layers_frames_and_readout_show_beads_sample_and_ghost(alanine):
    viewer = viewer_of(alanine, frame_labels=[f"t = {k} ps" for k in range(F)])
    assert [layer["name"] for layer in viewer.layers] == ["generated", "reference", "bead"]
    generated, ghost, beads = viewer.layers
    assert generated["style"] == "ball_and_stick" and generated["opacity"] == 1.0
    assert "radius" not in generated and generated["color"] is None  # colour by element
    assert generated["bonds"] == alanine["bonds"].tolist() == ghost["bonds"]
    assert ghost["opacity"] < 0.5 and ghost["color"] == GHOST_COLOR
    assert beads["color"] == BEAD_COLOR and beads["opacity"] < 0.5 and beads["bonds"] == []
    assert len(beads["symbols"]) == 4
    # radius: half the median distance to the nearest bead, in the first frame
    d = np.linalg.norm(alanine["beads"][0][:, None] - alanine["beads"][0][None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert math.isclose(beads["radius"], 0.5 * np.median(d.min(1)))
    assert 0.6 <= beads["radius"] <= 2.5
    assert len(viewer.frames) == F and viewer.n_frames == F
    for k, frame in enumerate(viewer.frames):
        pos = [np.array(layer["pos"]) for layer in frame["layers"]]
        assert np.allclose(pos[0], alanine["samples"]["cgvae"][k, 0], atol=1e-12)
        assert np.allclose(pos[1], alanine["reference"][k], atol=1e-12)
        assert np.allclose(pos[2], alanine["beads"][k], atol=1e-12)
        assert frame["arrows"] == [] and frame["layers"][0]["colors"] is None
    assert viewer.model_names == ["cgvae", "linear"]
    assert viewer.sample_counts == {"cgvae": 3, "linear": 1}
    assert viewer.selected_model == "cgvae" and viewer.sample == 0 and viewer.frame == 0
    sample, ref = alanine["samples"]["cgvae"][0, 0], alanine["reference"][0]
    heavy = alanine["atoms"] > 1
    assert viewer.readout == {
        "model": "cgvae",
        "sample": 0,
        "frame": 0,
        "label": "t = 0 ps",
        "rmsd": pytest.approx(rmsd(sample, ref), rel=1e-12),
        "heavy_rmsd": pytest.approx(rmsd(sample[heavy], ref[heavy]), rel=1e-12),
    }
    viewer.frame = 2  # the slider: a new readout
    assert viewer.readout["frame"] == 2 and viewer.readout["label"] == "t = 2 ps"
    expected = rmsd(alanine["samples"]["cgvae"][2, 0], alanine["reference"][2])
    assert math.isclose(viewer.readout["rmsd"], expected, rel_tol=1e-12)


def test_selector_changes_the_sample_shown(alanine):
    viewer = viewer_of(alanine)
    samples = alanine["samples"]
    structure = viewer.structure_id
    viewer.frame = 1
    viewer.sample = 2
    shown = np.array(viewer.frames[1]["layers"][0]["pos"])
    assert np.allclose(shown, samples["cgvae"][1, 2], atol=1e-12)
    assert np.allclose(viewer.generated, samples["cgvae"][1, 2], atol=1e-12)
    assert viewer.readout["sample"] == 2 and viewer.frame == 1
    assert math.isclose(
        viewer.readout["rmsd"], rmsd(samples["cgvae"][1, 2], alanine["reference"][1]), rel_tol=1e-12
    )
    # another model with a single sample: the sample index falls back to 0
    viewer.selected_model = "linear"
    assert viewer.sample == 0 and viewer.readout["model"] == "linear"
    assert np.allclose(viewer.generated, samples["linear"][1, 0], atol=1e-12)
    assert math.isclose(viewer.readout["rmsd"], 0.3, rel_tol=1e-12)
    assert math.isclose(viewer.readout["heavy_rmsd"], 0.3, rel_tol=1e-12)
    with pytest.raises(traitlets.TraitError, match=r"sample must be an int in \[0, 1\)"):
        viewer.sample = 1
    with pytest.raises(traitlets.TraitError, match=r"model must be one of \['cgvae', 'linear'\]"):
        viewer.selected_model = "nope"
    # the reference and the beads stay; the camera does not re-zoom
    assert np.allclose(viewer.frames[1]["layers"][1]["pos"], alanine["reference"][1])
    assert viewer.structure_id == structure
    viewer.select("cgvae", sample=1, frame=3)  # all at once
    assert (viewer.selected_model, viewer.sample, viewer.frame) == ("cgvae", 1, 3)
    assert np.allclose(viewer.generated, samples["cgvae"][3, 1], atol=1e-12)
    assert viewer.readout["sample"] == 1 and viewer.readout["frame"] == 3
    with pytest.raises(ValueError, match=r"sample must be an int in \[0, 1\) for model 'linear'"):
        viewer.select("linear", sample=2)
    with pytest.raises(ValueError, match=r"frame must be an int in \[0, 4\)"):
        viewer.select(frame=4)
    assert (viewer.selected_model, viewer.sample, viewer.frame) == ("cgvae", 1, 3)


def test_toggles_hide_layers_and_colour_by_error_or_bead(alanine):
    viewer = viewer_of(alanine, show_beads=False)
    assert viewer.color_modes == ["element", "error"]  # no assignment: no bead colours
    with pytest.raises(traitlets.TraitError, match="needs the assignment"):
        viewer.color_by = "bead"
    assert [layer["name"] for layer in viewer.layers] == ["generated", "reference"]
    viewer.show_reference = False
    assert [layer["name"] for layer in viewer.layers] == ["generated"]
    assert len(viewer.frames[0]["layers"]) == 1
    viewer.show_beads = True
    assert [layer["name"] for layer in viewer.layers] == ["generated", "bead"]
    assert np.allclose(viewer.frames[2]["layers"][1]["pos"], alanine["beads"][2])
    assert viewer.colorbar == {}
    viewer.color_by = "error"
    error = np.linalg.norm(alanine["samples"]["cgvae"][:, 0] - alanine["reference"], axis=-1)
    assert np.allclose(viewer.frames[2]["layers"][0]["values"], error[2], atol=1e-12)
    assert viewer.colorbar["label"] == "|x − x_ref| (Å)"
    assert math.isclose(viewer.colorbar["vmax"], error.max())  # over every frame
    colors = viewer.frames[0]["layers"][0]["colors"]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colors)
    assert viewer.frames[0]["layers"][1]["colors"] is None  # beads keep their colour
    assert viewer.layers[1]["color"] == BEAD_COLOR
    viewer.color_by = "element"
    assert viewer.colorbar == {} and viewer.frames[0]["layers"][0]["colors"] is None


def test_colour_by_bead_shows_the_mapping(alanine):
    viewer = viewer_of(alanine, assignment=alanine["assignment"], color_by="bead")
    assert viewer.color_modes == ["element", "bead", "error"]
    _, ghost, beads = viewer.layers
    assert beads["color"] is None and "radius" in beads and ghost["color"] == GHOST_COLOR
    assert viewer.colorbar["label"] == "bead" and viewer.colorbar["cmap"] == "Turbo"
    assert (viewer.colorbar["vmin"], viewer.colorbar["vmax"]) == (-0.5, 3.5)
    frame = viewer.frames[1]
    atom_colors, bead_colors = frame["layers"][0]["colors"], frame["layers"][2]["colors"]
    assert frame["layers"][1]["colors"] is None
    assert len(set(bead_colors)) == 4  # one colour per bead
    # every atom has the colour of its bead
    assert atom_colors == [bead_colors[b] for b in alanine["assignment"]]
    viewer.color_by = "error"
    assert viewer.layers[2]["color"] == BEAD_COLOR and viewer.colorbar["cmap"] == "Viridis"
    viewer.color_by = "bead"
    viewer.set_data(alanine["atoms"], alanine["reference"], alanine["beads"], alanine["samples"])
    assert viewer.color_by == "element" and viewer.color_modes == ["element", "error"]


def test_the_pose_turns_the_whole_scene(alanine):
    viewer = viewer_of(alanine)
    viewer.alpha, viewer.beta = 0.7, 1.2
    r, c = viewer.matrix(), alanine["samples"]["cgvae"][0, 0].mean(axis=0)
    assert np.allclose(viewer.reference, c + (alanine["reference"][0] - c) @ r.T, atol=1e-12)
    assert np.allclose(viewer.beads, c + (alanine["beads"][0] - c) @ r.T, atol=1e-12)
    frame = viewer.frames[0]
    assert np.allclose(frame["layers"][2]["pos"], viewer.beads, atol=0)
    # RMSD does not depend on the pose
    assert math.isclose(
        viewer.readout["rmsd"],
        rmsd(alanine["samples"]["cgvae"][0, 0], alanine["reference"][0]),
        rel_tol=1e-12,
    )


def test_set_data_replaces_everything_and_keeps_the_selection(alanine):
    viewer = viewer_of(alanine)
    viewer.select("cgvae", sample=2, frame=3)
    structure = viewer.structure_id
    two = {name: torch.as_tensor(s[:2]) for name, s in alanine["samples"].items()}
    viewer.set_data(
        alanine["atoms"], alanine["reference"][:2], alanine["beads"][:2], two, bead_radius=2.0
    )
    assert viewer.n_frames == 2 and viewer.frame == 1 and viewer.sample == 2
    assert viewer.structure_id == structure + 1 and viewer.layers[2]["radius"] == 2.0
    assert viewer.bonds.tolist() == alanine["bonds"].tolist()  # perceived from distances
    viewer.set_data(
        alanine["atoms"],
        alanine["reference"],
        alanine["beads"],
        {"other": alanine["samples"]["linear"]},
    )
    assert viewer.model_names == ["other"] and viewer.selected_model == "other"
    assert viewer.sample == 0
    with pytest.raises(TypeError, match="use set_data"):
        viewer.set_structure(alanine["atoms"], alanine["reference"][0])
    with pytest.raises(TypeError, match="use set_data"):
        viewer.update(pos=alanine["reference"][0])


def test_bad_data_raises_clear_errors_and_changes_nothing(alanine):
    a = alanine
    ref, beads, samples = a["reference"], a["beads"], a["samples"]
    cases = [
        ({"reference": ref[0]}, r"reference must have shape \(F, n_atoms, 3\) = \(F, 22, 3\)"),
        ({"reference": ref[:, :21]}, r"\(F, 22, 3\), F frames; got \(4, 21, 3\)"),
        ({"beads": beads[:3]}, r"beads must have shape \(F, n_beads, 3\) with F = 4.*\(3, 4, 3\)"),
        ({"beads": beads[..., :2]}, r"beads must have shape"),
        ({"samples": {"m": samples["linear"][:, 0]}}, r"x\[:, None\]\); got \(4, 22, 3\)"),
        ({"samples": {"m": samples["cgvae"][:, :, :20]}}, r"samples\['m'\] must have shape"),
        ({"samples": {}}, "non-empty dict.*got an empty dict"),
        ({"samples": samples["cgvae"]}, "non-empty dict.*got ndarray"),
        ({"samples": {"": samples["cgvae"]}}, "non-empty str"),
        ({"samples": {"m": samples["cgvae"] * np.nan}}, "NaN"),
        ({"reference": np.zeros((0, 22, 3))}, "must not be empty"),
        ({"beads": beads.astype(str)}, "real numbers"),
        ({"atoms": a["atoms"][:21]}, r"\(F, 21, 3\)"),
        ({"bonds": [[0, 22]]}, r"bond \[0, 22\]"),
        ({"frame_labels": ["a"]}, "frame_labels must be 4 strings"),
        ({"bead_radius": -1.0}, "bead_radius must be a number of Å > 0"),
        ({"assignment": a["assignment"][:21]}, r"assignment must be \(22,\) ints"),
        (
            {"assignment": a["assignment"] + 1},
            r"assignment\[\d+\] = 4 is not a bead index in \[0, 4\)",
        ),
        ({"color_by": "bead"}, "colouring by bead needs the assignment"),
        ({"selected_model": "nope"}, r"selected_model must be one of \['cgvae', 'linear'\]"),
        ({"sample": 3}, r"sample must be an int in \[0, 3\) for model 'cgvae'"),
    ]
    for change, match in cases:
        args = {
            "atoms": a["atoms"],
            "reference": ref,
            "beads": beads,
            "samples": samples,
            "bonds": a["bonds"],
        } | change
        with pytest.raises(ValueError, match=match):
            BackmapViewer(**args)
    viewer = viewer_of(alanine)
    frames, layers = viewer.frames, viewer.layers
    with pytest.raises(ValueError, match="samples"):
        viewer.set_data(a["atoms"], ref, beads, {"m": samples["cgvae"][:2]})
    assert viewer.frames == frames and viewer.layers == layers
    assert viewer.model_names == ["cgvae", "linear"]


def test_bead_layers_in_the_molecule_viewer():
    """The additive MoleculeViewer feature the beads use: a layer drawn as spheres of a radius."""
    z = np.array([6, 6])
    with pytest.raises(ValueError, match="layer radius must be a finite number"):
        Layer("bead", z, np.zeros((0, 2), dtype=np.int64), radius=0.0)
    with pytest.raises(ValueError, match="layer radius"):
        Layer("bead", z, np.zeros((0, 2), dtype=np.int64), radius=True)
    assert Layer("bead", z, np.zeros((0, 2), dtype=np.int64), radius=1.5).radius == 1.5


def test_esm_is_the_molecule_viewer_plus_the_backmap_controls():
    esm = _esm()
    assert esm.startswith("const ThreeDmol = ")
    assert esm.count("export default") == 1 and "render(context, backmapControls)" in esm
    own = esm[esm.index("// Helpers shared by every widget") :]
    assert "http://" not in own and "https://" not in own
    assert 'dataset.wbWidget = "BackmapViewer"' in own
    for name in ("model", "sample", "color_by"):  # the selectors and the toggles
        assert f'el("select", {{ name: "{name}"' in own
    for name in ("show_reference", "show_beads"):
        assert f'toggle("{name}"' in own


def test_from_result_reads_the_recipe_structures(alanine):
    """The recipe's structures container, filled with the fixture's arrays."""
    from workbench.experiments.backmapping import BackmapStructures

    a = alanine
    structures = BackmapStructures(
        system="alanine_dipeptide",
        n_beads=4,
        reference=a["reference"].astype(np.float32),
        beads=a["beads"].astype(np.float32),
        samples={k: v.astype(np.float32) for k, v in a["samples"].items()},
        time=np.arange(F) * 2.0 + 100.0,
        z=a["atoms"],
        atom_names=tuple(f"A{i}" for i in range(22)),
        residue_names=("ALA",) * 22,
        bonds=a["bonds"],
        assignment=a["assignment"],
    )

    class Result:  # what BackmapViewer reads of a BackmapResult
        def __init__(self, structures):
            self.structures = structures

    result = Result({("alanine_dipeptide", 4): structures, ("alanine_dipeptide", 6): None})
    viewer = BackmapViewer.from_result(result, n_beads=4, color_by="bead")
    assert viewer.title == "alanine dipeptide, N = 4 beads" and viewer.color_by == "bead"
    assert viewer.model_names == ["cgvae", "linear"] and viewer.n_frames == F
    assert viewer.readout["label"] == "t = 100 ps"
    assert np.allclose(viewer.generated, structures.samples["cgvae"][0, 0], atol=1e-6)
    assert viewer.bonds.tolist() == a["bonds"].tolist()
    assert BackmapViewer.from_result(result, title="x").title == "x"  # the first (system, N)
    with pytest.raises(ValueError, match=r"no structures for system='chignolin'"):
        BackmapViewer.from_result(result, system="chignolin")
    with pytest.raises(TypeError, match="from_result needs a BackmapResult"):
        BackmapViewer.from_result(object())
