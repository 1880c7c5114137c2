"""The ziggurat Exp(1) sampler of eventsnn.engine.rng (``exp_step``).

Three kinds of evidence: the tables satisfy their defining equations (equal layer areas);
the jitted sampler agrees bit for bit with a slow, obvious pure-Python re-implementation
of Marsaglia & Tsang's exponential ziggurat (written from the paper, below) on every path
(fast, wedge accepted/rejected, tail, repeated tail); and large samples pass distribution
tests against Exp(1) (KS, moments, chi-square on 1000 equal-probability bins and on the
layer edges, tail frequencies).  All seeds are fixed, so the statistical tests are
deterministic; their thresholds (p > 1e-4, 5 standard errors) were not tuned to the seeds.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from scipy import stats

from eventsnn.engine import rng
from eventsnn.engine.rng import exp_step, next_exponential, seed_streams

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
GOLDEN_INV = pow(GOLDEN, -1, 1 << 64)      # k = (s_new - s_old) * GOLDEN_INV counts steps
PAPER_R = 7.69711747013104972
PAPER_V = 3.949659822581572e-3


# ================================================================ slow obvious reference

def ref_mix(z):
    """SplitMix64 output function on Python ints."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def ref_tables(r):
    """Layer edges X[0..256] and F[i] = exp(-X[i]) from the defining equations: every
    layer has area v = exp(-r) (r + 1); X[0] = r + 1 is the base strip's width."""
    v = math.exp(-r) * (r + 1.0)
    x = [r + 1.0, r]
    f = [0.0, math.exp(-r)]
    for i in range(1, 255):
        # layer i spans heights [F[i], F[i+1]) at width X[i]: X[i] (F[i+1] - F[i]) = v
        x.append(-math.log(f[i] + v / x[i]))
        f.append(math.exp(-x[i + 1]))
    x.append(0.0)
    f.append(max(1.0, f[255] + v / x[255]))     # top layer: area v, covering y up to 1
    return x, f


def ref_exp_step(s, tables=None):
    """One Exp(1) draw by the exponential ziggurat, literally: pick a layer and a uniform
    point in it, return x if the point is under exp(-x), else try again; the base strip
    beyond r means "r + a fresh Exp(1)".  Returns (state, e, path) where path counts the
    uniforms consumed and the wedge accepts / rejects and tail steps taken."""
    x_tab, f_tab = tables if tables is not None else ref_tables(rng._ZIG_R)
    path = {"uniforms": 0, "wedge_accept": 0, "wedge_reject": 0, "tail": 0, "top": 0}

    def uniform():
        nonlocal s
        s = (s + GOLDEN) & MASK
        path["uniforms"] += 1
        return ref_mix(s)

    offset = 0.0
    while True:
        z = uniform()
        i = z & 255                                   # bits 0-7: layer
        u = ((z >> 12) + 0.5) / 2.0 ** 52             # bits 12-63: uniform in (0, 1)
        x = u * x_tab[i]
        path["top"] += i == 255
        if x < x_tab[i + 1]:
            return s, offset + x, path                # wholly under the curve
        if i == 0:
            path["tail"] += 1
            offset += x_tab[1]                        # r + Exp(1), memoryless
            continue
        u2 = ((uniform() >> 12) + 0.5) / 2.0 ** 52
        y = f_tab[i] + u2 * (f_tab[i + 1] - f_tab[i])
        if y < math.exp(-x):
            path["wedge_accept"] += 1
            return s, offset + x, path
        path["wedge_reject"] += 1


def ref_sequence(s, n):
    tables = ref_tables(rng._ZIG_R)
    out, states, total = [], [], {}
    for _ in range(n):
        s, e, path = ref_exp_step(s, tables)
        out.append(e)
        states.append(s)
        for k, c in path.items():
            total[k] = total.get(k, 0) + c
    return np.array(out), np.array(states, dtype=np.uint64), total


# ================================================================ jitted test helpers

@njit
def jit_sequence(s, n):
    out = np.empty(n)
    states = np.empty(n, np.uint64)
    for j in range(n):
        s, out[j] = exp_step(s)
        states[j] = s
    return out, states


@njit
def jit_sample(states, n_each):
    """n_each draws from each stream in ``states``, stream-major."""
    out = np.empty(len(states) * n_each)
    k = 0
    for j in range(len(states)):
        s = states[j]
        for _ in range(n_each):
            s, out[k] = exp_step(s)
            k += 1
    return out


@njit
def jit_tail_counts(s, n, thresholds):
    """Counts of draws >= each threshold, without storing the draws."""
    counts = np.zeros(len(thresholds), np.int64)
    for _ in range(n):
        s, e = exp_step(s)
        for j in range(len(thresholds)):
            if e >= thresholds[j]:
                counts[j] += 1
    return counts


@njit
def jit_single_step_count(s, n, golden_inv):
    """How many of n draws consumed exactly one 64-bit output (the fast path)."""
    ones = 0
    for _ in range(n):
        s1, _e = exp_step(s)
        if (s1 - s) * golden_inv == np.uint64(1):
            ones += 1
        s = s1
    return ones


@njit
def jit_tail_only(s, n):
    """n draws of the tail branch alone: ``_exp_slow`` entered at the base strip."""
    out = np.empty(n)
    for j in range(n):
        s, out[j] = rng._exp_slow(s, np.uint64(0), 0.0)
    return out


@njit
def jit_find_state(threshold, start):
    """First state mix(start + j) whose draw is >= threshold."""
    j = start
    while True:
        s = rng._mix(np.uint64(j))
        _, e = exp_step(s)
        if e >= threshold:
            return s
        j += 1


# ================================================================ tables

def test_tables_equal_area_and_monotone():
    x, f, r, v = rng._ZIG_X, rng._ZIG_F, rng._ZIG_R, rng._ZIG_V
    assert x.shape == f.shape == (257,)
    # r is the paper's constant up to 2 ulp (see the comment in rng.py for the ulp shift)
    assert abs(r - PAPER_R) <= 2 * np.spacing(PAPER_R)
    assert v == pytest.approx(PAPER_V, rel=1e-14)
    assert np.all(np.diff(x) < 0) and x[0] == r + 1.0 and x[1] == r and x[256] == 0.0
    assert np.all(np.diff(f[1:]) > 0)
    np.testing.assert_allclose(f[1:256], np.exp(-x[1:256]), rtol=4e-16, atol=0)
    assert f[256] >= 1.0                                    # top layer covers the curve
    areas = np.concatenate([[x[0] * f[1]], x[1:256] * (f[2:] - f[1:256])])
    np.testing.assert_allclose(areas, v, rtol=1e-12, atol=0)
    # base strip: its part beyond r has exactly the tail mass exp(-r)
    assert f[1] * (x[0] - x[1]) == pytest.approx(math.exp(-r), rel=1e-15)
    # whole ziggurat = density (area 1) + wedges; acceptance 1 / (256 v), ~.989 in the paper
    assert 1.0 / (256 * v) == pytest.approx(0.989, abs=5e-4)
    # scaled copies used by the jitted code are exact power-of-two rescalings
    assert np.array_equal(rng._ZIG_W * 2.0 ** 52, x)
    assert np.array_equal(rng._ZIG_DH[1:256] * 2.0 ** 52, f[2:] - f[1:256])


def test_tables_match_reference_construction():
    x, f = ref_tables(rng._ZIG_R)
    assert np.array_equal(np.array(x), rng._ZIG_X)
    assert np.array_equal(np.array(f[1:]), rng._ZIG_F[1:])


# ================================================================ bitwise agreement

@pytest.mark.parametrize("s0", [0, 1, 0x5EED, 0xDEADBEEFCAFEBABE, MASK])
def test_matches_slow_reference_bitwise(s0):
    n = 10_000
    e_ref, s_ref, paths = ref_sequence(s0, n)
    e_jit, s_jit = jit_sequence(np.uint64(s0), n)
    assert np.array_equal(e_jit.view(np.uint64), e_ref.view(np.uint64))
    assert np.array_equal(s_jit, s_ref)
    # the state moved by exactly one Weyl step per uniform consumed
    assert (int(s_jit[-1]) - s0) % (1 << 64) == paths["uniforms"] * GOLDEN % (1 << 64)
    # ~2.2% of draws leave the fast path: 10**4 draws exercise wedges and top layer
    assert paths["wedge_accept"] > 50 and paths["wedge_reject"] > 0 and paths["top"] > 10
    assert np.all(e_jit > 0)


def test_rare_paths_bitwise():
    """States found by search whose draw takes the tail once / twice (e >= r / e >= 2 r:
    accepted points are < r, so floor(e / r) is the number of tail steps)."""
    r = rng._ZIG_R
    # ~1 in 2200 draws for one tail step, ~1 in 4.8e6 for two
    for threshold, n_tail in [(r, 1), (2 * r, 2)]:
        for start in (0, 10**9):
            s = int(jit_find_state(threshold, start))
            s1, e, path = ref_exp_step(s)
            s1_jit, e_jit = exp_step(np.uint64(s))
            assert path["tail"] == n_tail == int(e // r)
            assert e_jit == e and int(s1_jit) == s1
            assert (s1 - s) % (1 << 64) == path["uniforms"] * GOLDEN % (1 << 64)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=MASK))
def test_any_state_matches_reference(s0):
    e_ref, s_ref, _ = ref_sequence(s0, 20)
    e_jit, s_jit = jit_sequence(np.uint64(s0), 20)
    assert np.array_equal(e_jit.view(np.uint64), e_ref.view(np.uint64))
    assert np.array_equal(s_jit, s_ref)


def test_determinism_and_array_version():
    s0 = np.uint64(0xA5A5A5A5)
    a = jit_sequence(s0, 1000)
    b = jit_sequence(s0, 1000)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    # next_exponential: e * (1 / rate) from the same stream, advancing only state[i]
    state = np.array([7, s0, 9], np.uint64)
    rate = 0.37
    got = [next_exponential(state, 1, rate) for _ in range(1000)]
    assert got == list(a[0] * (1.0 / rate))
    assert state[1] == a[1][-1] and state[0] == 7 and state[2] == 9


# ================================================================ distribution

@pytest.mark.parametrize("seed", [1, 2])
def test_ks_and_moments(seed):
    n = 2_000_000
    e = jit_sample(seed_streams(seed, 99, 4), n // 4)
    assert stats.kstest(e, "expon").pvalue > 1e-4
    # Exp(1): mean 1 (sd 1), variance 1 (the sample variance has sd sqrt(8 / n))
    assert abs(e.mean() - 1.0) < 5 / math.sqrt(n)
    assert abs(e.var() - 1.0) < 5 * math.sqrt(8 / n)


def test_chi_square_fine_bins_and_layer_bins():
    n = 2_000_000
    e = jit_sample(seed_streams(3, 99, 4), n // 4)
    # 1000 equal-probability bins
    edges = -np.log1p(-np.arange(1, 1000) / 1000.0)
    counts = np.bincount(np.searchsorted(edges, e, side="right"), minlength=1000)
    assert stats.chisquare(counts).pvalue > 1e-4
    # one bin per layer's x-range [X[i+1], X[i]) (mass exp(-X[i+1]) - exp(-X[i])) plus the
    # tail [r, inf): checks each layer's share, where an error in one layer would show
    bounds = rng._ZIG_X[1:][::-1]                         # 0, X[255], ..., X[1] = r
    counts = np.bincount(np.searchsorted(bounds, e, side="right") - 1, minlength=256)
    probs = np.concatenate([-np.diff(np.exp(-bounds)), [math.exp(-rng._ZIG_R)]])
    assert probs.sum() == pytest.approx(1.0, abs=1e-14)
    assert stats.chisquare(counts, probs * n).pvalue > 1e-4


def test_tail_frequencies():
    """10**8 draws counted in a jitted loop (~0.3 s): P(e >= t) = exp(-t) at the tail
    entry r, at 8 (> r, only reachable through the tail) and at 12."""
    n = 100_000_000
    thr = np.array([rng._ZIG_R, 8.0, 12.0])
    counts = jit_tail_counts(np.uint64(0x7A11), n, thr)
    for c, t in zip(counts, thr):
        p = math.exp(-t)
        assert abs(c - n * p) < 5 * math.sqrt(n * p * (1 - p)), (t, c, n * p)


def test_tail_branch_is_r_plus_exponential():
    """The tail branch alone returns r + Exp(1), Exp(1) drawn by the sampler itself, so
    ~4.5e-4 of these draws take a second tail step."""
    r = rng._ZIG_R
    d = jit_tail_only(np.uint64(0x7E57), 400_000) - r
    assert d.min() >= 0
    assert stats.kstest(d, "expon").pvalue > 1e-4
    n2 = int(np.sum(d >= r))
    p = math.exp(-r)
    assert n2 > 0 and abs(n2 - d.size * p) < 5 * math.sqrt(d.size * p)


def test_fast_path_fraction():
    """One 64-bit output suffices iff the first point is in the part of its layer under
    the curve: probability mean(X[i+1] / X[i]) = 0.978 (the state advance counts it)."""
    n = 2_000_000
    ones = jit_single_step_count(np.uint64(0xFA57), n, np.uint64(GOLDEN_INV))
    x = rng._ZIG_X
    p = float(np.mean(x[1:] / x[:-1]))
    assert p == pytest.approx(0.9778, abs=1e-4)
    assert abs(ones - n * p) < 5 * math.sqrt(n * p * (1 - p))
