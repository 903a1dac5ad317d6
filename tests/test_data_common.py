"""Shared data utilities: resumable sharded generation and four-momentum kinematics."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

from workbench.data import _shards, kinematics


def _square_shard(index: int, calls_file: str) -> dict[str, np.ndarray]:
    with open(calls_file, "a") as f:
        f.write(f"{index}\n")
    if index == 99:
        raise RuntimeError("boom")
    return {"x": np.full((2,), index, dtype=np.float64), "y": np.array([index**2, index**2 + 1])}


def test_dataset_dir_depends_on_settings(tmp_path):
    a = _shards.dataset_dir("toy", {"n": 1, "seed": 0}, root=tmp_path)
    b = _shards.dataset_dir("toy", {"seed": 0, "n": 1}, root=tmp_path)
    c = _shards.dataset_dir("toy", {"n": 2, "seed": 0}, root=tmp_path)
    assert a == b != c
    assert json.loads((a / "settings.json").read_text()) == {"n": 1, "seed": 0}


def test_run_shards_resumes_without_recomputing(tmp_path):
    calls = tmp_path / "calls.txt"
    make = functools.partial(_square_shard, calls_file=str(calls))
    directory = tmp_path / "data"
    paths = _shards.run_shards(make, range(3), directory, progress=False)
    assert calls.read_text().split() == ["0", "1", "2"]
    # an interruption: the shard that raises leaves the finished ones on disk
    with pytest.raises(RuntimeError, match="boom"):
        _shards.run_shards(make, [3, 99], directory, progress=False)
    assert (directory / "shard-00003.npz").exists()
    calls.write_text("")
    paths = _shards.run_shards(make, range(5), directory, progress=False)
    assert calls.read_text().split() == ["4"]  # only the missing one
    data = _shards.load_shards(paths)
    np.testing.assert_array_equal(data["x"], np.repeat(np.arange(5.0), 2))
    np.testing.assert_array_equal(data["y"][::2], np.arange(5) ** 2)
    assert not list(directory.glob("*.tmp"))


def test_run_shards_in_processes(tmp_path):
    make = functools.partial(_square_shard, calls_file=str(tmp_path / "calls.txt"))
    paths = _shards.run_shards(make, range(4), tmp_path / "d", processes=2, progress=False)
    np.testing.assert_array_equal(_shards.load_shards(paths)["x"][::2], np.arange(4.0))


def test_load_shards_reports_bad_files(tmp_path):
    good = tmp_path / "shard-00000.npz"
    _shards.save_npz_atomic(good, {"x": np.zeros(2)})
    bad = tmp_path / "shard-00001.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"shard-00001\.npz is unreadable"):
        _shards.load_shards([good, bad])
    other = tmp_path / "shard-00002.npz"
    _shards.save_npz_atomic(other, {"z": np.zeros(2)})
    with pytest.raises(ValueError, match="expected \\['x'\\]"):
        _shards.load_shards([good, other])
    with pytest.raises(ValueError, match="distinct"):
        _shards.run_shards(lambda i: {}, [1, 1], tmp_path)


def test_kinematics_closed_forms():
    rng = np.random.default_rng(0)
    p3 = rng.normal(size=(50, 3)) * 100
    m = rng.uniform(0, 10, size=50)
    p = np.concatenate([np.sqrt(m**2 + (p3**2).sum(1))[:, None], p3], axis=1)
    np.testing.assert_allclose(kinematics.mass(p), m, atol=1e-9)
    np.testing.assert_allclose(kinematics.pt(p), np.hypot(p3[:, 0], p3[:, 1]))
    theta = np.arctan2(kinematics.pt(p), p3[:, 2])
    np.testing.assert_allclose(kinematics.eta(p), -np.log(np.tan(theta / 2)), atol=1e-10)
    # a boost along z shifts rapidity by y and keeps pT, phi and every mass
    y = 0.7
    q = kinematics.boost(p, y)
    np.testing.assert_allclose(kinematics.rapidity(q), kinematics.rapidity(p) + y, atol=1e-9)
    np.testing.assert_allclose(kinematics.pt(q), kinematics.pt(p), atol=1e-9)
    np.testing.assert_allclose(kinematics.mass(q.sum(0)), kinematics.mass(p.sum(0)), rtol=1e-12)
    # any axis: Lambda^T g Lambda = g, and boosts along one axis compose additively
    g = np.diag([1.0, -1, -1, -1])
    lam = kinematics.boost_matrix(1.3, (1.0, -2.0, 0.5))
    np.testing.assert_allclose(lam.T @ g @ lam, g, atol=1e-12)
    np.testing.assert_allclose(
        kinematics.boost_matrix(0.4, (0, 1, 1)) @ kinematics.boost_matrix(0.5, (0, 1, 1)),
        kinematics.boost_matrix(0.9, (0, 1, 1)),
        atol=1e-12,
    )
    t = torch.as_tensor(p, dtype=torch.float32)
    np.testing.assert_allclose(kinematics.boost(t, y).numpy(), q, rtol=1e-5, atol=1e-3)
    with pytest.raises(ValueError, match="last axis of size 4"):
        kinematics.pt(p[:, :3])
    with pytest.raises(ValueError, match="non-zero 3-vector"):
        kinematics.boost_matrix(1.0, (0, 0, 0))
