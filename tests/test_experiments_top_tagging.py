"""The top-tagging recipe end to end at its tiny size (generates ~80 jets with Pythia8)."""

from __future__ import annotations

import numpy as np
import torch

from workbench import experiments
from workbench.data.kinematics import minkowski_dot
from workbench.experiments.top_tagging import MASS_CUT, lorentz_transforms


def test_lorentz_transforms_are_proper_orthochronous():
    lam = lorentz_transforms(16, torch.Generator().manual_seed(0), max_rapidity=1.0)
    g = torch.diag(torch.tensor([1.0, -1, -1, -1], dtype=torch.float64))
    assert torch.allclose(lam.transpose(1, 2) @ g @ lam, g.expand(16, 4, 4), atol=1e-12)
    assert torch.allclose(torch.linalg.det(lam), torch.ones(16, dtype=torch.float64))
    assert (lam[:, 0, 0] >= 1).all() and (lam[:, 0, 0] <= np.cosh(1.0) + 1e-12).all()
    p = torch.randn(16, 4, dtype=torch.float64)
    moved = torch.einsum("bij,bj->bi", lam, p)
    assert torch.allclose(minkowski_dot(moved, moved), minkowski_dot(p, p), atol=1e-12)


def test_top_tagging_recipe_tiny_end_to_end(tmp_path):
    result = experiments.run("top_tagging", size="tiny", progress=False, workdir=tmp_path)
    table = result.table.set_index("model")
    assert list(table.index) == ["Lorentz MACE", "PFN", "ParticleNet", MASS_CUT]
    for column in ("accuracy", "auc", "rej@0.3", "rej@0.5"):
        assert table[column].notna().all()
    assert ((table["auc"] >= 0) & (table["auc"] <= 1)).all()
    # the equivariant tagger does not see a Lorentz transformation of the jets (float32
    # round-off); the non-equivariant networks do
    shift = table["max |Δscore| under Lorentz"]
    assert shift["Lorentz MACE"] < 1e-4
    assert shift["PFN"] > 1e-4 and shift["ParticleNet"] > 1e-4
    n_test = len(result.test)
    for name, scores in result.scores.items():
        assert scores.shape == (n_test,) and np.isfinite(scores).all(), name
    for name in ("Lorentz MACE", "PFN", "ParticleNet"):
        assert len(result.histories[name]) == 2
        assert (tmp_path / name.replace(" ", "_") / "checkpoint.pt").exists()
    assert "Reference" in next(iter(result.extra_tables))
