"""The engine's inline exponential (eventsnn.engine.fexp): error against math.exp."""
import math

import numpy as np
import pytest
from numba import njit

from eventsnn.engine.fexp import _T_HEAD, _T_TAIL, exp


@njit
def _many(xs, out):
    for i in range(xs.shape[0]):
        out[i] = exp(xs[i])


def _ulps(a, b):
    return np.abs(a.view(np.int64) - b.view(np.int64))


def test_within_one_ulp_of_math_exp_over_the_whole_range():
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.uniform(-707.9, 707.9, 400_000), rng.uniform(-1.0, 1.0, 400_000),
                         rng.uniform(0.0, 200.0, 400_000),        # the frame factors' range
                         rng.uniform(-1e-6, 1e-6, 10_000),
                         np.arange(-700, 701) * math.log(2.0) / 64.0])   # table nodes
    out = np.empty_like(xs)
    _many(xs, out)
    want = np.array([math.exp(x) for x in xs])
    u = _ulps(out, want)
    assert u.max() <= 1
    assert (u == 0).mean() > 0.9


@pytest.mark.parametrize("x", [0.0, -0.0, 708.0, 709.5, 710.0, -708.0, -740.0, -746.0, 1e-320,
                               math.inf, -math.inf])
def test_exact_values_and_the_library_fallback_outside_the_range(x):
    out = np.empty(1)
    _many(np.array([x]), out)
    assert out[0] == math.exp(x) if x < 709.8 else out[0] == math.inf


def test_nan_gives_nan():
    out = np.empty(1)
    _many(np.array([math.nan]), out)
    assert math.isnan(out[0])


def test_table_is_two_to_the_j_over_64_to_double_double_accuracy():
    from decimal import Decimal, getcontext
    getcontext().prec = 50
    for j in range(64):
        v = Decimal(2) ** (Decimal(j) / 64)
        err = abs(Decimal(_T_HEAD[j]) + Decimal(_T_TAIL[j]) - v) / v
        assert err < Decimal(2) ** -100
