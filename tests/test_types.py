"""The shared type predicates of the configs: ints and finite reals, never bools."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench._types import is_int, is_real


@pytest.mark.parametrize("value", [0, 3, -2, np.int64(5), np.int32(1)])
def test_integers_are_ints(value):
    assert is_int(value)


@pytest.mark.parametrize("value", [True, False, 1.0, np.float64(2.0), "3", None, np.bool_(True)])
def test_bools_floats_and_strings_are_not_ints(value):
    assert not is_int(value)


def test_int_minimum():
    assert is_int(2, 2) and not is_int(1, 2) and is_int(np.int64(7), 0)


@pytest.mark.parametrize("value", [0, 1.5, -3, np.float32(0.25), np.int64(4)])
def test_finite_numbers_are_real(value):
    assert is_real(value)


@pytest.mark.parametrize("value", [True, math.nan, math.inf, -math.inf, np.float64("nan"), 1j, "1"])
def test_bools_nonfinite_complex_and_strings_are_not_real(value):
    assert not is_real(value)
