"""workbench.data.jets: Pythia/FastJet top and QCD jets, the reference HDF5 layout, the loader."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")
pytest.importorskip("tables")

import pandas as pd

from workbench.data.jets import (
    JETS_SIZES,
    JetData,
    JetsConfig,
    _make_shard,
    generate_jets,
    load_jets,
    reference_columns,
    write_reference_h5,
)
from workbench.data.kinematics import eta, mass, pt

# 30 jets of each class in 2 shards each: a few seconds of Pythia
SMALL = JetsConfig(n_signal=30, n_background=30, shard_size=15, seed=3)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return generate_jets(SMALL, directory=tmp_path_factory.mktemp("jets"), progress=False)


@pytest.fixture(scope="module")
def jets(generated) -> JetData:
    return load_jets(generated)


def _fake(n: int = 6, n_const: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """Small valid arrays in the reference layout (real data come from Pythia above)."""
    rng = np.random.default_rng(seed)
    p4 = np.zeros((n, n_const, 4), dtype=np.float32)
    for i in range(n):
        k = int(rng.integers(3, 12))
        p = rng.normal(size=(k, 3)) * 20
        p4[i, :k, 1:] = p
        p4[i, :k, 0] = np.linalg.norm(p, axis=1) + 0.5
    return {"p4": p4, "label": np.arange(n) % 2, "truth": rng.normal(size=(n, 4))}


def test_reference_columns_match_the_public_layout():
    columns = reference_columns()
    assert len(columns) == 806
    assert columns[:5] == ["E_0", "PX_0", "PY_0", "PZ_0", "E_1"]
    assert columns[796:800] == ["E_199", "PX_199", "PY_199", "PZ_199"]
    assert columns[800:] == ["truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"]


def test_file_has_the_reference_layout_and_round_trips(generated, jets):
    frame = pd.read_hdf(generated, key="table")
    assert list(frame.columns) == reference_columns(200)
    assert len(frame) == 60
    assert (frame.dtypes.iloc[:804] == np.float32).all()
    assert frame["is_signal_new"].dtype == np.int64 and frame["ttv"].dtype == np.int64
    assert sorted(frame["is_signal_new"].tolist()) == [0] * 30 + [1] * 30
    # the loader gives the same numbers
    p4 = frame[reference_columns(200)[:800]].to_numpy().reshape(60, 200, 4)
    np.testing.assert_array_equal(jets.p4.numpy(), p4)
    np.testing.assert_array_equal(jets.label.numpy(), frame["is_signal_new"].to_numpy())
    assert jets.p4.dtype == torch.float32 and jets.label.dtype == torch.long
    assert jets.source == (str(generated),)
    # rows are shuffled: the first ten are not all of one class
    assert 0 < int(jets.label[:10].sum()) < 10


def test_jets_pass_the_window_and_constituents_are_sorted_and_padded(jets):
    p4 = jets.p4.double()
    total = p4.sum(1)
    # selection used all constituents; at most 200 are stored, which shifts pT by < 1 GeV
    assert ((pt(total) > 549) & (pt(total) < 651)).all(), pt(total)
    assert (eta(total).abs() < 2.0).all()
    cpt = pt(p4)
    assert (cpt[:, :-1] >= cpt[:, 1:]).all(), "constituents must be sorted by pT, highest first"
    assert torch.equal(jets.mask, p4[..., 0] > 0)
    assert (p4[~jets.mask] == 0).all()
    counts = jets.mask.sum(1)
    assert (jets.mask == (torch.arange(200) < counts[:, None])).all(), "padding at the end"
    assert (counts >= 5).all()
    # truth top only for top jets, near the jet
    top = jets.label == 1
    assert (jets.truth[~top] == 0).all()
    assert ((mass(jets.truth[top].double()) - 172.5).abs() < 30).all()


def test_top_jet_mass_peaks_at_the_top_mass(jets):
    m = mass(jets.p4.double().sum(1))
    top, qcd = m[jets.label == 1].median().item(), m[jets.label == 0].median().item()
    assert 140 < top < 210, top
    assert qcd < top - 40, (qcd, top)


def test_shards_are_deterministic_per_seed(generated):
    """Shard k of a class is a pure function of (settings, seed, k): regenerating it gives the
    identical arrays, another seed gives other jets."""
    on_disk = np.load(generated.parent / "shard-00001.npz")  # the first top shard
    again = _make_shard(SMALL, 1)
    for key in ("p4", "truth", "label", "n_events"):
        np.testing.assert_array_equal(again[key], on_disk[key])
    other = _make_shard(replace(SMALL, seed=4), 1)
    assert not np.array_equal(other["p4"], on_disk["p4"])


def test_interrupted_generation_resumes(generated):
    """Remove a shard and the file: the next call regenerates only that shard, identically."""
    root = generated.parent
    shards = sorted(root.glob("shard-*.npz"))
    assert [s.name for s in shards] == [f"shard-{i:05d}.npz" for i in range(4)]
    before = {s.name: s.stat().st_mtime_ns for s in shards}
    removed = np.load(shards[2])["p4"]
    shards[2].unlink()
    table = pd.read_hdf(generated, key="table")
    generated.unlink()
    again = generate_jets(SMALL, directory=root.parent.parent, progress=False)
    assert again == generated
    after = {s.name: s.stat().st_mtime_ns for s in sorted(root.glob("shard-*.npz"))}
    assert {k: v for k, v in after.items() if k != shards[2].name} == {
        k: v for k, v in before.items() if k != shards[2].name
    }
    np.testing.assert_array_equal(np.load(shards[2])["p4"], removed)
    pd.testing.assert_frame_equal(pd.read_hdf(generated, key="table"), table)


def test_another_size_reuses_the_shards(generated):
    smaller = replace(SMALL, n_signal=15, n_background=15)
    path = generate_jets(smaller, directory=generated.parent.parent.parent, progress=False)
    assert path.parent == generated.parent  # same shards, another file
    assert len(load_jets(path)) == 30


def test_loader_reads_several_files_and_limits(tmp_path):
    a, b = _fake(6, seed=1), _fake(4, seed=2)
    write_reference_h5(a, tmp_path / "a.h5")
    write_reference_h5(b, tmp_path / "b.h5")
    both = load_jets([tmp_path / "a.h5", tmp_path / "b.h5"])
    assert len(both) == 10
    np.testing.assert_array_equal(both.p4[6:].numpy(), b["p4"])
    np.testing.assert_allclose(both.truth[:6].numpy(), a["truth"].astype(np.float32))
    first = load_jets([tmp_path / "a.h5", tmp_path / "b.h5"], n=8, max_constituents=20)
    assert first.p4.shape == (8, 20, 4) and first.source == (
        str(tmp_path / "a.h5"),
        str(tmp_path / "b.h5"),
    )
    train, test = both.split((0.5, 0.5))
    assert len(train) + len(test) == 10
    for c in (0, 1):  # stratified: each class is cut in half
        assert abs(int((train.label == c).sum()) - int((test.label == c).sum())) <= 1


def test_loader_validates_files(tmp_path):
    good = _fake()
    path = write_reference_h5(good, tmp_path / "good.h5")
    frame = pd.read_hdf(path, key="table")

    def write(name: str, f: pd.DataFrame) -> Path:
        f.to_hdf(tmp_path / name, key="table", mode="w")
        return tmp_path / name

    bad = write("missing.h5", frame.drop(columns=["PY_7"]))
    with pytest.raises(ValueError, match=r"missing\.h5.*missing column.*'PY_7'"):
        load_jets(bad)
    bad = write("short.h5", frame.drop(columns=[f"{f}_199" for f in ("E", "PX", "PY", "PZ")]))
    with pytest.raises(ValueError, match=r"short\.h5.*missing column.*i < 199"):
        load_jets(bad)
    assert len(load_jets(bad, max_constituents=199)) == 6
    with pytest.raises(ValueError, match="is_signal_new"):
        load_jets(write("nolabel.h5", frame.drop(columns=["is_signal_new"])))
    nan = frame.copy()
    nan.loc[3, "PX_1"] = np.nan
    with pytest.raises(ValueError, match=r"nan\.h5: row 3 .*'PX_1' is NaN"):
        load_jets(write("nan.h5", nan))
    label = frame.copy()
    label.loc[2, "is_signal_new"] = 5
    with pytest.raises(ValueError, match=r"label\.h5.*0 or 1, row 2"):
        load_jets(write("label.h5", label))
    pad = frame.copy()
    pad.loc[1, "PZ_150"] = 1.0
    with pytest.raises(ValueError, match=r"pad\.h5: row 1, constituent 150"):
        load_jets(write("pad.h5", pad))
    text = frame.copy()
    text["E_0"] = "x"
    with pytest.raises(ValueError, match=r"text\.h5: non-numeric column.*E_0"):
        load_jets(write("text.h5", text))
    frame.to_hdf(tmp_path / "key.h5", key="jets", mode="w")
    with pytest.raises(ValueError, match=r"key\.h5: no key 'table'.*/jets"):
        load_jets(tmp_path / "key.h5")
    (tmp_path / "junk.h5").write_bytes(b"not an hdf5 file" * 10)
    with pytest.raises(ValueError, match=r"junk\.h5: not a readable"):
        load_jets(tmp_path / "junk.h5")
    with pytest.raises(FileNotFoundError, match="nothere"):
        load_jets(tmp_path / "nothere.h5")


def test_writer_rejects_bad_arrays(tmp_path):
    good = _fake()
    with pytest.raises(ValueError, match=r"p4 must have shape \(n, N, 4\)"):
        write_reference_h5({**good, "p4": good["p4"][..., :3]}, tmp_path / "x.h5")
    with pytest.raises(ValueError, match="label must be 0"):
        write_reference_h5({**good, "label": np.full(6, 2)}, tmp_path / "x.h5")
    p4 = good["p4"].copy()
    p4[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        write_reference_h5({**good, "p4": p4}, tmp_path / "x.h5")
    assert not list(tmp_path.iterdir()), "nothing is left behind"


def test_config_validation_and_sizes():
    with pytest.raises(ValueError, match="pt_min"):
        JetsConfig(pt_min=700.0)
    with pytest.raises(ValueError, match="pthat_signal"):
        JetsConfig(pthat_signal=(800.0, 500.0))
    with pytest.raises(ValueError, match="seed"):
        JetsConfig(seed=-1)
    with pytest.raises(ValueError, match="n_signal"):
        JetsConfig(n_signal=0, n_background=0)
    assert JETS_SIZES["quick"].n_signal + JETS_SIZES["quick"].n_background == 20_000
    assert JETS_SIZES["full"].n_signal + JETS_SIZES["full"].n_background >= 200_000
    # the cache key ignores the counts, so sizes share shards
    assert JETS_SIZES["quick"].settings() == replace(JETS_SIZES["full"], processes=1).settings()


def test_missing_extra_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    with pytest.raises(ImportError, match=r"equivariant-workbench\[jets\]"):
        generate_jets(SMALL, directory=tmp_path, progress=False)
