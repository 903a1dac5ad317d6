"""MoleculeViewer, Python side: bonds, the pose, the predicted dipole and the errors (no
browser; tests/browser/test_molecule.py drives the front end)."""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import traitlets

from widgets._assets import widget_esm
from widgets.molecule import (
    ELEMENTS,
    STYLES,
    Frame,
    Layer,
    MoleculeViewer,
    atomic_numbers,
    perceive_bonds,
)

VENDOR = Path(__file__).resolve().parents[1] / "widgets" / "vendor"

WATER = (
    ["O", "H", "H"],
    np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]]),
)
_T = 0.629  # methane: C at the origin, H on alternate cube corners (C-H 1.089 Å)
METHANE = (
    [6, 1, 1, 1, 1],
    np.array([[0, 0, 0], [_T, _T, _T], [-_T, -_T, _T], [-_T, _T, -_T], [_T, -_T, -_T]], float),
)
CHARGES = np.array([-0.8, 0.4, 0.4])


def rotation(alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Y(alpha) X(beta) Y(gamma), written out independently of e3nn."""

    def y(t: float) -> np.ndarray:
        c, s = math.cos(t), math.sin(t)
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])

    def x(t: float) -> np.ndarray:
        c, s = math.cos(t), math.sin(t)
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])

    return y(alpha) @ x(beta) @ y(gamma)


def point_charge_dipole(z: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """An equivariant stand-in model: the dipole of fixed charges by element."""
    q = np.where(z == 8, -0.8, 0.4)
    return q @ (pos - pos.mean(axis=0))


def test_bonds_of_water_and_methane_from_covalent_radii():
    assert perceive_bonds(*WATER).tolist() == [[0, 1], [0, 2]]
    assert perceive_bonds(*METHANE).tolist() == [[0, 1], [0, 2], [0, 3], [0, 4]]  # no H-H
    # stretch one O-H to 1.5 Å: beyond 0.66 + 0.31 + 0.45 = 1.42 Å, no longer bonded
    symbols, pos = WATER
    far = pos.copy()
    far[1] = pos[0] + 1.5 * (pos[1] - pos[0]) / np.linalg.norm(pos[1] - pos[0])
    assert perceive_bonds(symbols, far).tolist() == [[0, 2]]
    assert perceive_bonds(symbols, far, tolerance=0.6).tolist() == [[0, 1], [0, 2]]
    # many atoms: blocks of rows give the same bonds as one N x N comparison
    chain = np.arange(600)[:, None] * np.array([1.5, 0.0, 0.0])
    bonds = perceive_bonds(["C"] * 600, chain)
    assert bonds.tolist() == [[i, i + 1] for i in range(599)]
    with pytest.raises(ValueError, match=r"no covalent radius for Bk \(Z=97, atom 1\)"):
        perceive_bonds([1, 97], np.zeros((2, 3)))


def test_covalent_radii_are_the_ones_ase_uses():
    data = pytest.importorskip("ase.data")
    from widgets.molecule import _COVALENT_RADII

    assert np.allclose(_COVALENT_RADII, data.covalent_radii[1:97], atol=1e-9)
    assert list(ELEMENTS) == data.chemical_symbols[1:119]


def test_atomic_numbers_from_symbols_or_numbers():
    assert atomic_numbers(["C", "Cl", "H"]).tolist() == [6, 17, 1]
    assert atomic_numbers(np.array([8, 1, 1], dtype=np.int32)).tolist() == [8, 1, 1]
    assert atomic_numbers(torch.tensor([92])).tolist() == [92]
    with pytest.raises(ValueError, match=r"unknown element symbol 'Xx' at atom 1"):
        atomic_numbers(["C", "Xx"])
    with pytest.raises(ValueError, match=r"'CL' at atom 0 \(did you mean 'Cl'\?\)"):
        atomic_numbers(["CL"])
    with pytest.raises(ValueError, match=r"atomic number 119 at atom 1 is outside 1..118"):
        atomic_numbers([1, 119])
    with pytest.raises(ValueError, match="dtype float64"):
        atomic_numbers([8.0, 1.0])
    with pytest.raises(ValueError, match="sequence of symbols"):
        atomic_numbers("OHH")


def test_traitlets_hold_the_drawing_data():
    viewer = MoleculeViewer(
        *WATER, dipoles={"true": [0.0, 0.0, 0.4]}, atom_values=CHARGES, title="water"
    )
    assert viewer.symbols == ["O", "H", "H"] and viewer.z.tolist() == [8, 1, 1]
    assert viewer.layers == [
        {
            "name": "molecule",
            "symbols": ["O", "H", "H"],
            "bonds": [[0, 1], [0, 2]],
            "style": "ball_and_stick",
            "opacity": 1.0,
            "color": None,
        }
    ]
    (frame,) = viewer.frames
    assert np.allclose(frame["layers"][0]["pos"], WATER[1])
    assert frame["layers"][0]["values"] == CHARGES.tolist()
    # values of both signs: a diverging map centred on 0; oxygen at the blue end
    assert viewer.colorbar["cmap"] == "RdBu_r"
    assert (viewer.colorbar["vmin"], viewer.colorbar["vmax"]) == (-0.8, 0.8)
    colors = frame["layers"][0]["colors"]
    assert colors[0] == viewer.colorbar["stops"][0] and colors[1] == colors[2]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colors)
    # one arrow from the centroid, scaled so that it ends 1 Å beyond the molecule
    (arrow,) = frame["arrows"]
    centroid = WATER[1].mean(axis=0)
    radius = np.linalg.norm(WATER[1] - centroid, axis=1).max()
    assert arrow["name"] == "true" and arrow["color"] == "#2e7d32"
    assert np.allclose(arrow["start"], centroid)
    assert math.isclose(viewer.dipole_scale * 0.4, radius + 1.0)
    assert np.allclose(arrow["end"], centroid + viewer.dipole_scale * np.array([0, 0, 0.4]))
    assert frame["comparison"] == {}  # no prediction to compare with
    # no values: coloured by element, no colour bar; a fixed scale is kept
    plain = MoleculeViewer(*METHANE, dipoles={"x": [1.0, 0, 0]}, dipole_scale=2.0)
    assert plain.colorbar == {} and plain.frames[0]["layers"][0]["colors"] is None
    assert plain.dipole_scale == 2.0 and plain.frames[0]["arrows"][0]["end"] == [2.0, 0, 0]
    plain.dipole_scale = 0.5  # set by hand: redrawn, and kept through updates
    plain.update(dipoles={"x": [2.0, 0, 0]})
    assert plain.dipole_scale == 0.5 and plain.frames[0]["arrows"][0]["end"] == [1.0, 0, 0]
    positive = MoleculeViewer(*WATER, atom_values=[1.0, 2.0, 3.0], value_label="q")
    assert positive.colorbar["cmap"] == "Viridis" and positive.colorbar["label"] == "q"
    assert (positive.colorbar["vmin"], positive.colorbar["vmax"]) == (1.0, 3.0)


def test_update_pushes_new_data_and_keeps_the_atoms():
    viewer = MoleculeViewer(*WATER, dipoles={"true": [0.0, 0.0, 0.4]}, atom_values=CHARGES)
    structure = viewer.structure_id
    before = viewer.frames[0]["layers"][0]["colors"]
    moved = WATER[1] + np.array([0.0, 0.0, 0.05])
    viewer.update(pos=moved, dipoles={"predicted": [0.1, 0.0, 0.3]}, atom_values=-CHARGES)
    frame = viewer.frames[0]
    assert np.allclose(frame["layers"][0]["pos"], moved) and np.allclose(viewer.pos, moved)
    assert [a["name"] for a in frame["arrows"]] == ["true", "predicted"]  # merged
    after = frame["layers"][0]["colors"]  # signs flipped: oxygen at the red end
    assert after[0] == viewer.colorbar["stops"][-1] and before[0] == viewer.colorbar["stops"][0]
    assert after[1] == after[2] != before[1]
    assert math.isclose(frame["comparison"]["error"], math.hypot(0.1, 0.1))
    assert viewer.structure_id == structure and viewer.bonds.tolist() == [[0, 1], [0, 2]]
    viewer.update(atom_values=CHARGES)  # the rest is kept
    assert np.allclose(viewer.pos, moved) and set(viewer.dipoles) == {"true", "predicted"}

    viewer.alpha = 1.0
    viewer.set_structure(*METHANE)  # another molecule: new centre, re-zoom, pose kept
    assert viewer.structure_id == structure + 1 and viewer.alpha == 1.0
    assert viewer.symbols == ["C", "H", "H", "H", "H"] and len(viewer.bonds) == 4
    assert viewer.dipoles == {} and viewer.atom_values is None and viewer.colorbar == {}
    assert np.allclose(viewer.pos, METHANE[1] @ rotation(1.0, 0, 0).T, atol=1e-12)


def test_pose_rotates_positions_and_dipoles_exactly():
    d = np.array([0.3, -0.2, 0.5])
    symbols, pos = WATER
    shifted = pos + np.array([1.0, 2.0, -3.0])  # the rotation is about the centroid
    viewer = MoleculeViewer(symbols, shifted, dipoles={"true": d})
    viewer.alpha, viewer.beta, viewer.gamma = 0.4, 1.1, 2.3
    r = rotation(0.4, 1.1, 2.3)
    c = shifted.mean(axis=0)
    assert np.allclose(viewer.matrix(), r, atol=1e-14)
    assert np.allclose(viewer.pos, c + (shifted - c) @ r.T, atol=1e-12)
    assert np.allclose(viewer.dipoles["true"], r @ d, atol=1e-12)
    frame = viewer.frames[0]
    assert np.allclose(frame["layers"][0]["pos"], viewer.pos, atol=0)
    assert np.allclose(frame["arrows"][0]["vector"], r @ d, atol=1e-12)
    assert np.allclose(frame["arrows"][0]["start"], c, atol=1e-12)  # the centroid stays put
    # distances and bonds do not change
    distances = np.linalg.norm(shifted - shifted[0], axis=1)
    assert np.allclose(np.linalg.norm(viewer.pos - viewer.pos[0], axis=1), distances, atol=1e-12)
    angles = viewer.randomize(seed=3)
    assert angles == viewer.randomize(seed=3) == (viewer.alpha, viewer.beta, viewer.gamma)
    assert np.allclose(viewer.dipoles["true"], rotation(*angles) @ d, atol=1e-12)


def test_predict_sees_the_rotated_molecule_once_per_pose():
    calls = []

    def predict(z, pos):
        calls.append((z.copy(), pos.copy(), torch.is_grad_enabled()))
        return torch.as_tensor(point_charge_dipole(z, pos))

    d_true = point_charge_dipole(np.array([8, 1, 1]), WATER[1]) + np.array([0.0, 0.05, 0.0])
    viewer = MoleculeViewer(*WATER, dipoles={"true": d_true}, predict=predict)
    assert len(calls) == 1 and calls[0][0].tolist() == [8, 1, 1] and not calls[0][2]
    assert np.allclose(calls[0][1], WATER[1])
    first_angle = viewer.frames[0]["comparison"]["angle_deg"]
    assert first_angle > 1.0
    viewer.randomize(seed=0)  # three angles at once: one prediction
    assert len(calls) == 2
    z, seen, _ = calls[-1]
    assert np.allclose(seen, viewer.pos, atol=0)
    c = WATER[1].mean(axis=0)
    assert np.allclose(seen, c + (WATER[1] - c) @ viewer.matrix().T, atol=1e-12)
    predicted = viewer.dipoles["predicted"]
    assert np.allclose(predicted, point_charge_dipole(z, seen), atol=1e-15)
    assert np.allclose(predicted, viewer.matrix() @ point_charge_dipole(z, WATER[1]), atol=1e-12)
    arrows = {a["name"]: a for a in viewer.frames[0]["arrows"]}
    assert arrows["predicted"]["vector"] == predicted.tolist()
    assert arrows["predicted"]["color"] == "#ef6c00"
    # an equivariant model keeps its angle to the true dipole in every pose
    assert math.isclose(viewer.frames[0]["comparison"]["angle_deg"], first_angle, abs_tol=1e-9)
    viewer.gamma = viewer.gamma  # same pose: no new call
    assert len(calls) == 2
    viewer.update(dipoles={"true": [0.0, 0.0, 1.0]})  # new data: predict again, same pose
    assert len(calls) == 3 and np.allclose(calls[-1][1], seen, atol=0)

    # a model that ignores the pose: its prediction does not follow, the angle moves
    fixed = MoleculeViewer(*WATER, dipoles={"true": d_true}, predict=lambda z, p: d_true)
    fixed.alpha = 1.5
    assert np.allclose(fixed.dipoles["predicted"], d_true)
    assert fixed.frames[0]["comparison"]["angle_deg"] > 10


def test_bad_predictions_are_rejected_before_anything_changes():
    with pytest.raises(ValueError, match=r"output of predict\(z, pos\) must be a \(3,\) vector"):
        MoleculeViewer(*WATER, predict=lambda z, p: np.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        MoleculeViewer(*WATER, predict=lambda z, p: np.full(3, np.nan))
    with pytest.raises(ValueError, match="either predict or a 'predicted' dipole"):
        MoleculeViewer(*WATER, dipoles={"predicted": [0, 0, 1]}, predict=point_charge_dipole)
    viewer = MoleculeViewer(*WATER, predict=point_charge_dipole)
    with pytest.raises(ValueError, match="either predict"):
        viewer.update(dipoles={"predicted": [0, 0, 1]})
    broken = {"on": False}

    def flaky(z, pos):
        if broken["on"]:
            raise RuntimeError("model failed")
        return point_charge_dipole(z, pos)

    viewer = MoleculeViewer(*WATER, predict=flaky)
    broken["on"] = True
    with pytest.raises(RuntimeError, match="model failed"):
        viewer.set_structure(*METHANE)
    assert viewer.symbols == ["O", "H", "H"]  # the old molecule stays


def test_layers_and_frames_are_generic_for_overlays_and_trajectories():
    """What a trajectory or overlay viewer builds on: several layers, several frames."""
    calls = []

    def predict(z, pos):
        calls.append(pos.copy())
        return point_charge_dipole(z, pos)

    viewer = MoleculeViewer(*WATER, predict=predict)
    z = atomic_numbers(WATER[0])
    ghost = Layer(
        "reference", z, perceive_bonds(*WATER), style="stick", opacity=0.3, color="#9e9e9e"
    )
    molecule = Layer("molecule", z, perceive_bonds(*WATER))
    frames = [
        Frame(pos=(WATER[1] + 0.1 * k, WATER[1]), atom_values=(CHARGES * k, None)) for k in range(3)
    ]
    viewer._show([molecule, ghost], frames, new_structure=True)
    assert [layer["name"] for layer in viewer.layers] == ["molecule", "reference"]
    assert viewer.layers[1]["opacity"] == 0.3 and viewer.layers[1]["color"] == "#9e9e9e"
    assert len(viewer.frames) == 3 and viewer.frame == 0
    assert viewer.frames[0]["layers"][1]["colors"] is None
    assert viewer.colorbar["vmax"] == 0.8 * 2  # the colour range spans every frame
    n = len(calls)
    viewer.frame = 2
    assert len(calls) == n + 1 and np.allclose(calls[-1], WATER[1] + 0.2)
    assert [a["name"] for a in viewer.frames[2]["arrows"]] == ["predicted"]
    assert viewer.frames[1]["arrows"] == []  # predictions only for the frame shown
    viewer.atom_style = "sphere"  # the molecule follows the viewer's style, the ghost does not
    assert [layer["style"] for layer in viewer.layers] == ["sphere", "stick"]
    viewer.update(pos=WATER[1] - 1.0, atom_values=CHARGES)  # the frame shown, first layer
    assert np.allclose(viewer.frames[2]["layers"][0]["pos"], WATER[1] - 1.0)
    assert np.allclose(viewer.frames[2]["layers"][1]["pos"], WATER[1])  # the ghost stays
    assert np.allclose(viewer.frames[1]["layers"][0]["pos"], WATER[1] + 0.1)
    with pytest.raises(traitlets.TraitError, match=r"frame must be in \[0, 3\)"):
        viewer.frame = 3
    with pytest.raises(ValueError, match="frame 0 has positions for 1 layers"):
        viewer._show([molecule, ghost], [Frame(pos=(WATER[1],), atom_values=(None,))], True)
    with pytest.raises(ValueError, match=r"layer 'reference': positions of shape \(2, 3\)"):
        viewer._show([molecule, ghost], [Frame((WATER[1], WATER[1][:2]), (None, None))], True)
    with pytest.raises(ValueError, match="opacity"):
        Layer("ghost", z, np.zeros((0, 2), dtype=np.int64), opacity=0.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"pos": np.zeros((3, 2))}, ValueError, r"shape \(N, 3\) = \(3, 3\)"),
        ({"pos": np.zeros((4, 3))}, ValueError, r"one row per atom; got \(4, 3\)"),
        ({"atoms": []}, ValueError, r"N >= 1"),
        ({"pos": np.full((3, 3), np.nan)}, ValueError, "NaN"),
        ({"pos": [["a", "b", "c"]] * 3}, ValueError, "real numbers"),
        ({"atoms": ["O", "H", "Hh"]}, ValueError, "unknown element symbol 'Hh' at atom 2"),
        ({"bonds": [[0, 3]]}, ValueError, r"bond \[0, 3\] \(row 0\).*\[0, 3\)"),
        ({"bonds": [[1, 1]]}, ValueError, "two different atoms"),
        ({"bonds": [[0.0, 1.0]]}, ValueError, r"\(B, 2\) integer array"),
        ({"dipoles": [0, 0, 1]}, ValueError, "dict name"),
        ({"dipoles": {"true": [0, 1]}}, ValueError, r"dipoles\['true'\] must be a \(3,\)"),
        ({"dipoles": {"true": [0, np.inf, 1]}}, ValueError, "NaN or infinite"),
        ({"atom_values": [1.0, 2.0]}, ValueError, r"atom_values must have shape \(N,\) = \(3,\)"),
        ({"atom_values": [1.0, np.nan, 2.0]}, ValueError, "NaN"),
        ({"style": "cartoon"}, ValueError, "style must be one of"),
        ({"cmap": "no-such-map"}, ValueError, "plotly colour scale"),
        ({"value_range": (1.0, 1.0)}, ValueError, "vmin < vmax"),
        ({"value_range": 3}, ValueError, r"\(vmin, vmax\)"),
        ({"predict": 3}, ValueError, "callable"),
        ({"dipole_scale": float("nan")}, ValueError, "finite"),
    ],
)
def test_bad_input_raises_clear_errors(kwargs, error, match):
    args = {"atoms": WATER[0], "pos": WATER[1]} | kwargs
    with pytest.raises(error, match=match):
        MoleculeViewer(**args)


def test_bad_updates_leave_the_viewer_as_it_was():
    viewer = MoleculeViewer(*WATER, atom_values=CHARGES)
    frames = viewer.frames
    with pytest.raises(ValueError, match=r"\(3, 3\), one row per atom"):
        viewer.update(pos=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        viewer.update(atom_values=[0.0, np.nan, 0.0])
    assert viewer.frames == frames
    with pytest.raises(traitlets.TraitError):
        viewer.atom_style = "cartoon"
    assert set(STYLES) == {"ball_and_stick", "stick", "sphere"}


def test_esm_inlines_the_vendored_3dmol_and_nothing_remote():
    esm = widget_esm("molecule.js", ("3dmol",))
    library = (VENDOR / "3Dmol-min.js").read_text("utf-8")
    assert library in esm and esm.startswith("const ThreeDmol = ")
    own = widget_esm("molecule.js", ())
    assert "http://" not in own and "https://" not in own
    assert '"data-wb-widget": "MoleculeViewer"' in own
    # the shipped build is the one recorded in the README, with its licence next to it
    readme = (VENDOR / "README.md").read_text("utf-8")
    digest = hashlib.sha256((VENDOR / "3Dmol-min.js").read_bytes()).hexdigest()
    assert digest in readme and "3dmol@2.5.5" in readme
    assert "BSD-3-Clause" in (VENDOR / "3Dmol-LICENSE").read_text("utf-8")
    assert (VENDOR / "3Dmol-min.js").stat().st_size < 600_000
    assert sorted(p.name for p in VENDOR.glob("3Dmol*")) == [
        "3Dmol-LICENSE",
        "3Dmol-min.js",
        "3Dmol-min.js.LICENSE.txt",
    ]
