"""Unit and property tests of workbench.checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from e3nn import o3
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.checks import (
    O3,
    SO3,
    EquivarianceTest,
    O3Element,
    default_tolerance,
    equivariance_report,
    parse_irreps,
    summarize,
)
from workbench.checks.actions import _default_dtype as default_dtype


@pytest.fixture
def float64_default():
    with default_dtype(torch.float64):
        yield


def _tensor_product(irreps: str) -> o3.FullyConnectedTensorProduct:
    return o3.FullyConnectedTensorProduct(irreps, irreps, "2x0e + 2x1o + 1x1e + 1x2e")


# --- group action ----------------------------------------------------------------------


def test_vector_representation_is_the_rotation_matrix():
    """e3nn orders l = 1 as (x, y, z): D_1o(g) is g's 3x3 matrix, including the inversion."""
    generator = torch.Generator().manual_seed(1)
    for g in O3.sample(6, generator):
        D = O3.matrix("1o", g, torch.float64)
        assert torch.allclose(D, g.matrix(torch.float64), atol=1e-14, rtol=0)


def test_representation_matrices_are_orthogonal_homomorphisms():
    generator = torch.Generator().manual_seed(2)
    g, h = O3.sample(2, generator)
    irreps = "1x0e + 1x0o + 2x1o + 1x1e + 1x2e + 1x3o"
    Dg, Dh = O3.matrix(irreps, g, torch.float64), O3.matrix(irreps, h, torch.float64)
    eye = torch.eye(Dg.shape[0], dtype=torch.float64)
    assert torch.allclose(Dg @ Dg.T, eye, atol=1e-13)
    # D(g) D(h) = D(gh): compose the 3x3 matrices and read the angles back.
    gh = g.matrix(torch.float64) @ h.matrix(torch.float64)
    sign = -1.0 if g.inversion != h.inversion else 1.0
    angles = o3.matrix_to_angles(sign * gh)
    composed = O3Element(*(float(a) for a in angles), inversion=g.inversion != h.inversion)
    assert torch.allclose(Dg @ Dh, O3.matrix(irreps, composed, torch.float64), atol=1e-12)


def test_sampling_is_reproducible_and_covers_both_cosets():
    a = O3.sample(10, torch.Generator().manual_seed(3))
    b = O3.sample(10, torch.Generator().manual_seed(3))
    assert a == b
    assert {g.inversion for g in a} == {True, False}
    assert not any(g.inversion for g in SO3.sample(10, torch.Generator().manual_seed(3)))
    assert all(0 <= g.beta <= math.pi for g in a)


def test_haar_sampling_has_uniform_cos_beta():
    """cos(beta) of Haar-random rotations is uniform on [-1, 1]: mean 0, variance 1/3."""
    cos_beta = np.cos([g.beta for g in SO3.sample(4000, torch.Generator().manual_seed(4))])
    assert abs(cos_beta.mean()) < 0.05 and abs(cos_beta.var() - 1 / 3) < 0.03


# --- the report ------------------------------------------------------------------------


def test_e3nn_tensor_product_passes_in_float32():
    irreps = "3x0e + 2x1o + 1x2e"
    report = equivariance_report(
        _tensor_product(irreps), [irreps, irreps], "2x0e + 2x1o + 1x1e + 1x2e", n_samples=6
    )
    assert isinstance(report, pd.DataFrame) and len(report) == 6
    assert list(report.columns) == [
        "sample",
        "alpha",
        "beta",
        "gamma",
        "inversion",
        "abs_error",
        "rel_error",
        "tolerance",
        "passed",
    ]
    assert report["passed"].all()
    assert report["rel_error"].max() < 1e-5
    assert report.attrs["dtype"] == "float32" and report.attrs["group"] == "O(3)"


def test_e3nn_gate_network_is_exact_in_float64(float64_default):
    from e3nn import nn

    gate = nn.Gate("4x0e", [torch.tanh], "2x0e", [torch.sigmoid], "1x1o + 1x2e")
    tp = o3.FullyConnectedTensorProduct("2x0e + 1x1o + 1x2e", "1x0e + 1x1o", gate.irreps_in)

    def fn(x, y):
        return gate(tp(x, y))

    report = equivariance_report(fn, ["2x0e + 1x1o + 1x2e", "1x0e + 1x1o"], gate.irreps_out)
    assert report.attrs["dtype"] == "float64"
    assert report["rel_error"].max() < 1e-12, report["rel_error"].max()


def test_bias_on_a_vector_output_fails_every_sample():
    linear = o3.Linear("2x0e + 2x1o", "1x0e + 1x1o")
    bias = torch.tensor([0.0, 0.3, -0.2, 0.5])
    report = equivariance_report(lambda x: linear(x) + bias, "2x0e + 2x1o", "1x0e + 1x1o")
    assert not report["passed"].any()
    assert report["rel_error"].min() > 1e-3
    assert summarize(report).startswith("FAIL")


def test_bias_on_a_scalar_output_is_fine():
    linear = o3.Linear("2x0e + 2x1o", "1x0e + 1x1o")
    bias = torch.tensor([0.7, 0.0, 0.0, 0.0])
    report = equivariance_report(lambda x: linear(x) + bias, "2x0e + 2x1o", "1x0e + 1x1o")
    assert report["passed"].all()
    assert summarize(report).startswith("PASS")


def test_parity_distinguishes_o3_from_so3():
    """The cross product of two vectors is a pseudovector (1e): wrong parity fails under O(3)
    only on the samples that contain the inversion, and passes under SO(3)."""

    def cross(a, b):
        return torch.linalg.cross(a, b, dim=-1)

    good = equivariance_report(cross, ["1o", "1o"], "1e", dtype=torch.float64)
    assert good["passed"].all() and good["rel_error"].max() < 1e-14
    wrong = equivariance_report(cross, ["1o", "1o"], "1o", dtype=torch.float64)
    assert (wrong["passed"] == ~wrong["inversion"]).all()
    assert equivariance_report(cross, ["1o", "1o"], "1o", group=SO3)["passed"].all()


def test_invariant_function_and_user_inputs():
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    report = equivariance_report(
        lambda v: v.norm(dim=-1, keepdim=True),
        "1o",
        "0e",
        inputs=x[:, 0],
        n_samples=4,
        dtype=torch.float64,
    )
    assert report["passed"].all()


def test_multiple_outputs():
    def fn(x):
        return x[..., :1], x[..., 1:]

    report = equivariance_report(fn, "1x0e + 1x1o", ["0e", "1o"], dtype=torch.float64)
    assert report["passed"].all() and report.attrs["irreps_out"] == "1x0e ; 1x1o"


def test_explicit_tolerance_and_reproducibility():
    linear = o3.Linear("1x1o", "1x1o")
    a = equivariance_report(linear, "1o", "1o", seed=7, tolerance=1e-30)
    b = equivariance_report(linear, "1o", "1o", seed=7, tolerance=1e-30)
    pd.testing.assert_frame_equal(a, b)
    assert (a["tolerance"] == 1e-30).all()
    assert not a["passed"].all()  # float32 round-off is above 1e-30


def test_equivariance_test_sides_for_a_chosen_element():
    test = EquivarianceTest(lambda x: 2 * x, "1o", "1o", dtype=torch.float64, batch_size=1)
    g = O3Element(0.3, 1.1, -0.4, inversion=True)
    lhs, rhs = test.sides(g)
    assert torch.allclose(lhs[0], rhs[0], atol=1e-15)
    [gx] = test.transform_inputs(g)
    assert torch.allclose(gx, test.inputs[0] @ g.matrix().T, atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(
    muls=st.lists(st.integers(0, 3), min_size=4, max_size=4),
    parities=st.lists(st.sampled_from(["e", "o"]), min_size=4, max_size=4),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_linear_layers_are_equivariant(muls, parities, seed):
    """Any e3nn Linear between random irreps passes at float64 precision."""
    terms = [f"{m}x{l}{p}" for l, (m, p) in enumerate(zip(muls, parities, strict=True)) if m]
    irreps = " + ".join(terms) or "1x0e"
    torch.manual_seed(seed)
    with default_dtype(torch.float64):
        linear = o3.Linear(irreps, irreps)
    report = equivariance_report(linear, irreps, irreps, n_samples=3, seed=seed)
    assert report["rel_error"].max() < 1e-12


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["4x0e + 2x1q", "1x-1e", "banana", ""])
def test_invalid_irreps_string_names_the_value(bad):
    if bad == "":
        # e3nn accepts "" as the empty representation (dimension 0); the report then has
        # nothing to compare and must say so through the shape check.
        with pytest.raises(ValueError, match="shape"):
            equivariance_report(lambda x: x, "1o", bad)
        return
    with pytest.raises(ValueError, match="invalid irreps") as err:
        parse_irreps(bad)
    assert repr(bad) in str(err.value) and "16x0e + 8x1o" in str(err.value)
    with pytest.raises(ValueError, match="invalid irreps"):
        equivariance_report(lambda x: x, bad, "1o")


def test_output_that_does_not_match_irreps_out():
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*irreps_out 1x2e.*\(4, 5\)"):
        equivariance_report(lambda x: x, "1o", "2e")
    with pytest.raises(ValueError, match="returned 1 outputs but irreps_out lists 2"):
        equivariance_report(lambda x: x, "1o", ["1o", "0e"])
    with pytest.raises(TypeError, match="must return torch tensors"):
        equivariance_report(lambda x: x.numpy(), "1o", "1o")


def test_nan_in_output_is_named():
    with pytest.raises(ValueError, match="non-finite values"):
        equivariance_report(lambda x: x / 0.0 * 0.0, "1o", "1o")


def test_wrong_inputs_and_dtypes():
    with pytest.raises(ValueError, match=r"does not match irreps_in 1x1o"):
        equivariance_report(lambda x: x, "1o", "1o", inputs=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="2 input tensors for 1 input irreps"):
        equivariance_report(lambda x: x, "1o", "1o", inputs=[torch.zeros(2, 3)] * 2)
    with pytest.raises(ValueError, match=r"build the module in torch\.float64"):
        equivariance_report(o3.Linear("1o", "1o"), "1o", "1o", dtype=torch.float64)
    with pytest.raises(ValueError, match=r"floating \(or complex\) dtype"):
        equivariance_report(lambda x: x, "1o", "1o", dtype=torch.int64)
    with pytest.raises(TypeError, match="must be callable"):
        equivariance_report("not a function", "1o", "1o")
    with pytest.raises(ValueError, match="n_samples"):
        equivariance_report(lambda x: x, "1o", "1o", n_samples=0)


def test_default_tolerances():
    assert default_tolerance(torch.float64) < default_tolerance(torch.float32) < 1e-4
    with pytest.raises(ValueError, match="no default tolerance"):
        default_tolerance(torch.int32)


@pytest.mark.parametrize("broken", [False, True])
def test_agrees_with_e3nn_equivariance_error(broken, float64_default):
    """Independent reference: e3nn's own check finds errors of the same magnitude."""
    from e3nn.util.test import equivariance_error

    linear = o3.Linear("2x0e + 2x1o + 1x2e", "1x0e + 2x1o")
    bias = torch.tensor([0.0, 0.3, -0.2, 0.5, 0.1, 0.2, 0.3]) if broken else torch.zeros(7)

    def fn(x):
        return linear(x) + bias

    x = torch.randn(8, 13)
    ours = equivariance_report(fn, "2x0e + 2x1o + 1x2e", "1x0e + 2x1o", inputs=x, n_samples=16)
    theirs = equivariance_error(
        fn,
        [x],
        irreps_in=[o3.Irreps("2x0e + 2x1o + 1x2e")],
        irreps_out=[o3.Irreps("1x0e + 2x1o")],
        ntrials=8,
    )
    ours_max = ours["abs_error"].max()
    theirs_max = max(float(e.max()) for e in theirs.values())
    if broken:
        assert 0.2 < ours_max / theirs_max < 5 and not ours["passed"].any()
    else:
        assert ours_max < 1e-13 and theirs_max < 1e-13 and ours["passed"].all()


# --- any workbench.groups.Group --------------------------------------------------------


def test_lorentz_invariant_mass_passes_and_energy_fails():
    from workbench.checks import LieGroupAction
    from workbench.groups import Lorentz

    eta = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))

    def mass2(p):
        return torch.einsum("bi,ij,bj->b", p, eta, p)[:, None]

    action = LieGroupAction(Lorentz(), max_rapidity=3.0)
    report = equivariance_report(mass2, "(1,1)", "(0,0)", group=action, dtype=torch.float64)
    assert report["passed"].all() and report["rel_error"].max() < 1e-12
    assert {"angle", "rapidity"} <= set(report.columns) and report["rapidity"].max() > 1
    energy = equivariance_report(lambda p: p[:, :1], "(1,1)", "(0,0)", group=Lorentz())
    assert not energy["passed"].any()


def test_complex_representations_need_a_complex_dtype():
    from workbench.groups import SU2

    report = equivariance_report(
        lambda x: 3 * x, "1/2 + 1", "1/2 + 1", group=SU2(), dtype=torch.complex128
    )
    assert report["passed"].all()
    with pytest.raises(ValueError, match="complex dtype"):
        equivariance_report(lambda x: x, "1/2", "1/2", group=SU2(), dtype=torch.float64)
