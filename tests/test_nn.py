"""workbench.nn layers: e3nn agreement on the same weights, equivariance for every group."""

from __future__ import annotations

import pytest
import torch
from e3nn import o3

from workbench.checks import LieGroupAction, equivariance_report
from workbench.groups import O3, SU, Lorentz, Sp
from workbench.nn import Linear


@pytest.mark.parametrize(
    ("irreps_in", "irreps_out"),
    [
        ("4x0e + 2x1o + 1x2e + 3x1o", "2x0e + 3x1o + 1x1e"),
        ("8x0e", "3x0e"),
        ("1x1o", "1x2e"),  # no path: zeros
    ],
)
def test_linear_equals_e3nn_on_the_same_weights(irreps_in, irreps_out):
    ours, ref = Linear(irreps_in, irreps_out), o3.Linear(irreps_in, irreps_out)
    assert ours.weight.shape == ref.weight.shape
    with torch.no_grad():
        ours.weight.copy_(ref.weight)
    x = torch.randn(5, ours.irreps_in.dim)
    assert torch.allclose(ours(x), ref(x), atol=1e-6)
    report = equivariance_report(ours, irreps_in, irreps_out)
    assert report["passed"].all()


@pytest.mark.parametrize(
    ("group", "irreps_in", "irreps_out", "dtype"),
    [
        (O3(), "2x0e + 3x1o", "1x0e + 2x1o", torch.float64),
        (Lorentz(), "2x(0,0) + 3x(1,1)", "(0,0) + 2x(1,1) + (2,2)", torch.complex128),
        (SU(3), "2x(1,1) + (1,0)", "3x(1,1)", torch.complex128),
        (Sp(4), "2x(1,0) + (2,0)", "(1,0) + 2x(2,0)", torch.complex128),
    ],
    ids=str,
)
def test_linear_is_equivariant_for_any_group(group, irreps_in, irreps_out, dtype):
    layer = Linear(irreps_in, irreps_out, group=group).double()
    action = LieGroupAction(group, **({} if group.compact else {"max_rapidity": 2.0}))
    report = equivariance_report(layer, irreps_in, irreps_out, group=action, dtype=dtype)
    assert report["rel_error"].max() < 1e-12


def test_linear_checks_its_input():
    with pytest.raises(ValueError, match="dimension 7"):
        Linear("1x0e + 2x1o", "1x0e")(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="invalid irreps"):
        Linear("1x1q", "1x0e")
