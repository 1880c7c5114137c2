"""Issue 17: the mean-driven (suprathreshold) regime, where every input moves a pending
crossing, and the lazy crossings that make it cheap (``threshold.lazy_crossing``).

The engine there replaces most crossing searches by a lower bound on the crossing time
(``models.crossing_bound``) and a wake-up in the queue; a wrong bound would delay or miss
spikes.  These tests check the bound against the exact crossing and an independent dense
scan, and whole networks in this regime against the slow reference simulator.
"""
import math
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import eventsnn as ev
from eventsnn.cases import cuba
from eventsnn.engine.state import COL_TGT
from eventsnn.models import LIF, crossing_bound, first_crossing_coef

sys.path.insert(0, os.path.dirname(__file__))
import reference_sim as rs  # noqa: E402


# ====================================================================== the bound itself

def _v(s, vinf, a, g, be, se, bi, si):
    return vinf + a * np.exp(-g * s) + be * np.exp(-se * s) + bi * np.exp(-si * s)


def _scan_crossing(vinf, vth, a, g, be, se, bi, si, horizon):
    """The first crossing by a dense scan (independent of the engine's search): the first
    sample at or above vth, refined by bisection; inf if none up to ``horizon``."""
    s = np.linspace(0.0, horizon, 200_001)
    above = np.nonzero(_v(s, vinf, a, g, be, se, bi, si) >= vth)[0]
    if len(above) == 0:
        return math.inf
    k = above[0]
    if k == 0:
        return 0.0
    lo, hi = s[k - 1], s[k]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _v(mid, vinf, a, g, be, se, bi, si) >= vth:
            hi = mid
        else:
            lo = mid
    return hi


rates = st.sampled_from([1 / 40, 1 / 20, 1 / 10, 1 / 5, 1 / 2, 1.0])


@st.composite
def trajectories(draw):
    """A leaky frame trajectory V(s) = v_inf + a e^{-g s} + be e^{-se s} + bi e^{-si s}
    below threshold at s = 0, with rates apart as the frame requires, sometimes made to
    graze the threshold: its maximum moved to within 1e-9 mV of vth."""
    g = draw(rates)
    se = draw(rates.filter(lambda s: abs(s - g) >= 0.25 * max(s, g)))
    si = draw(rates.filter(lambda s: abs(s - g) >= 0.25 * max(s, g)))
    vth = -50.0
    vinf = vth + draw(st.floats(-10.0, 10.0))
    ie = draw(st.floats(0.0, 40.0))
    ii = -draw(st.floats(0.0, 60.0))
    k = g
    be = k * ie / (g - se)
    bi = k * ii / (g - si)
    v0 = vth - draw(st.floats(1e-6, 15.0))
    a = v0 - vinf - be - bi
    if draw(st.booleans()):
        # grazing: shift v_inf so that the maximum over [0, 40 tau_m] is vth + eps
        s = np.linspace(0.0, 40.0 / g, 400_001)
        vmax = float(np.max(_v(s, vinf, a, g, be, se, bi, si)))
        eps = draw(st.sampled_from([-1e-9, 0.0, 1e-9, 1e-6]))
        shift = vth + eps - vmax
        vinf += shift
        a -= shift      # keeps V(0)
        assume(vinf + a + be + bi < vth)
    return vinf, vth, a, g, be, se, bi, si


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(trajectories())
def test_bound_never_exceeds_the_crossing(tr):
    vinf, vth, a, g, be, se, bi, si = tr
    lb = crossing_bound(g, se, si, vinf, vth, a, be, bi, math.inf)
    tc = first_crossing_coef(vinf - vth, a, g, be, se, bi, si)
    assert lb >= 0.0
    assert lb <= tc, (lb, tc)
    # against a scan that shares no code with the engine (grazing peaks within 1e-9 mV
    # of vth may be seen either way by the scan: only a clear crossing is required)
    sc = _scan_crossing(vinf, vth, a, g, be, se, bi, si, 40.0 / g)
    if sc < math.inf:
        assert lb <= sc * (1 + 1e-9) + 1e-9


def test_bound_is_tight_in_the_cuba_regime():
    """The bound is worth having: on states of the CUBA network's neurons (v_inf 1 mV above
    threshold, inhibition-dominated) it lies within 10 % of the crossing for most."""
    g, se, si = 1 / 20, 1 / 5, 1 / 10
    vinf, vth = -49.0, -50.0
    rng = np.random.default_rng(3)
    ratios = []
    for _ in range(2000):
        ie = rng.gamma(2, 1.5)
        ii = -rng.gamma(3, 2.7)
        v0 = vth - rng.exponential(3.0)
        be, bi = g * ie / (g - se), g * ii / (g - si)
        a = v0 - vinf - be - bi
        lb = crossing_bound(g, se, si, vinf, vth, a, be, bi, math.inf)
        tc = first_crossing_coef(vinf - vth, a, g, be, se, bi, si)
        assert lb <= tc
        ratios.append(lb / tc)
    assert np.median(ratios) > 0.9


def test_bound_proves_no_crossing():
    """Below threshold for good (v_inf < vth, no excitation): inf."""
    g, se, si = 1 / 20, 1 / 5, 1 / 10
    assert crossing_bound(g, se, si, -55.0, -50.0, -3.0, 0.0, 1.0, math.inf) == math.inf
    # v_inf exactly at threshold: never reached; the bound's rounding margin makes it a
    # late finite time, which is as valid
    assert crossing_bound(g, se, si, -50.0, -50.0, -3.0, 0.0, 0.0, math.inf) > 10.0 / g
    # a pure relaxation toward v_inf > vth: the bound is the closed-form crossing, lowered
    # only by its rounding margin
    lb = crossing_bound(g, se, si, -49.0, -50.0, -11.0, 0.0, 0.0, math.inf)
    assert lb == pytest.approx(20.0 * math.log(11.0), rel=1e-9)
    assert lb <= 20.0 * math.log(11.0)


# ============================================================ networks in the mean-driven regime

@st.composite
def driven_networks(draw):
    """Small networks whose neurons sit above threshold (v_rest or i_bias), with exp and
    delta channels, excitatory and inhibitory inputs and recurrence."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 4))
    n_in = draw(st.integers(1, 3))
    tau_m = float(rng.choice([10.0, 20.0, 30.0]))
    ch = draw(st.sampled_from(["exp", "exp", "exp", "delta_e", "delta_i"]))
    tse = float(rng.choice([2.0, 5.0, 40.0]))
    tsi = float(rng.choice([3.0, 10.0, 60.0]))
    if ch == "delta_e":
        tse = 0.0
    if ch == "delta_i":
        tsi = 0.0
    v_th = -50.0
    above = float(rng.uniform(0.05, 8.0))          # v_inf - v_th (mV)
    if draw(st.booleans()):
        v_rest, i_bias = v_th + above, 0.0
    else:
        v_rest, i_bias = -65.0, (v_th + above + 65.0)
    v_reset = float(rng.uniform(-60.0, -51.0))
    t_ref = float(rng.choice([0.5, 2.0, 5.0]))
    params = dict(tau_m=tau_m, tau_syn_exc=tse, tau_syn_inh=tsi, v_rest=v_rest, v_th=v_th,
                  v_reset=v_reset, t_ref=t_ref, i_bias=i_bias)
    T = 150.0

    def weights(m):
        w = np.where(rng.random(m) < 0.6, rng.uniform(0.2, 3.0, m), -rng.uniform(0.5, 8.0, m))
        # exp channels: a current whose PSP peaks near |w| / 3 mV
        w[(w >= 0) & (tse > 0)] *= tau_m / tse / 3.0 if tse > 0 else 1.0
        w[(w < 0) & (tsi > 0)] *= tau_m / tsi / 3.0 if tsi > 0 else 1.0
        return w

    n_spk = int(rng.integers(10, 60)) * n_in
    in_ids = rng.integers(0, n_in, n_spk)
    in_times = np.sort(rng.uniform(0.0, T, n_spk))
    pairs = [(s, j) for s in range(n_in) for j in range(n) if rng.random() < 0.8]
    pairs += [(int(rng.integers(n_in)), int(rng.integers(n)))]
    in_pre = np.array([p[0] for p in pairs], np.int64)
    in_post = np.array([p[1] for p in pairs], np.int64)
    m_rec = int(rng.integers(0, 2 * n + 1))
    return dict(n=n, n_in=n_in, params=params, in_times=in_times, in_ids=in_ids, in_pre=in_pre,
                in_post=in_post, in_w=weights(len(pairs)), in_delay=rng.uniform(0.1, 3.0, len(pairs)),
                rec_pre=rng.integers(0, n, m_rec), rec_post=rng.integers(0, n, m_rec),
                rec_w=weights(m_rec), rec_delay=rng.uniform(0.1, 3.0, m_rec), T=T,
                v0=rng.uniform(v_reset, v_th - 0.5, n), split=float(rng.uniform(0.0, T)))


def _engine(c, v_th=None, split=None):
    p = dict(c["params"])
    if v_th is not None:
        p["v_th"] = v_th
    net = ev.Network(seed=1)
    pop = net.population(c["n"], LIF(**p), v_init=c["v0"])
    src = net.spike_source(c["in_times"], c["in_ids"], n=c["n_in"])
    net.connect(src, pop, ev.from_lists(c["in_pre"], c["in_post"], c["in_w"], c["in_delay"],
                                        n_pre=c["n_in"], n_post=c["n"]), delay=None)
    if len(c["rec_pre"]):
        net.connect(pop, pop, ev.from_lists(c["rec_pre"], c["rec_post"], c["rec_w"], c["rec_delay"],
                                            n_pre=c["n"], n_post=c["n"]), delay=None)
    if split is None:
        r = net.run(c["T"])
        return r.spikes.times, r.spikes.ids
    net.run(split)
    net.run(c["T"] - split)
    return net.spikes.times, net.spikes.ids


def _agree(a, b, n, tol):
    (ta, ia), (tb, ib) = a, b
    for j in range(n):
        x, y = ta[ia == j], tb[ib == j]
        if len(x) != len(y) or (len(x) and np.max(np.abs(x - y)) > tol):
            return False
    return True


STATS = {"examples": 0, "spikes": 0, "ill": 0}


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(driven_networks())
def test_driven_networks_match_reference(c):
    eng = _engine(c)
    ref = rs.simulate(c["n"], c["params"], c["in_times"], c["in_ids"], c["in_pre"], c["in_post"],
                      c["in_w"], c["in_delay"], c["rec_pre"], c["rec_post"], c["rec_w"],
                      c["rec_delay"], c["T"], v0=c["v0"])
    STATS["examples"] += 1
    STATS["spikes"] += len(ref[0])
    if not _agree(eng, ref, c["n"], 1e-9):
        # a grazing crossing the reference's scan cannot decide: moving v_th by 1e-7 mV
        # changes the engine's answer
        for dv in (-1e-7, 1e-7):
            if not _agree(eng, _engine(c, v_th=c["params"]["v_th"] + dv), c["n"], 1e-3):
                STATS["ill"] += 1
                assume(False)
        raise AssertionError(f"engine {eng} != reference {ref}")
    alt = _engine(c, split=c["split"])
    assert np.array_equal(alt[0], eng[0]) and np.array_equal(alt[1], eng[1])


def test_driven_networks_were_informative():
    if STATS["examples"] == 0:
        pytest.skip("run together with test_driven_networks_match_reference")
    assert STATS["spikes"] >= 10 * STATS["examples"]
    assert STATS["ill"] <= STATS["examples"] // 10


def test_cuba_saved_with_wake_ups_in_flight_resumes_bitwise(tmp_path):
    """Unknown crossings (wake-ups queued) survive save/load and split runs bitwise."""
    ref = cuba(400, seed=2)
    r_ref = ref.run(120.0)
    net = cuba(400, seed=2)
    net.run(37.3)
    ev.save(net, tmp_path / "c.npz")
    again = ev.load(tmp_path / "c.npz")
    again.run(120.0 - 37.3)
    assert np.array_equal(again.spikes.times, r_ref.spikes.times)
    assert np.array_equal(again.spikes.ids, r_ref.spikes.ids)
    assert again.counts == ref.counts
    # the split at 37.3 ms left crossings unknown, with wake-ups queued
    assert np.isnan(ev.load(tmp_path / "c.npz")._state.neurons.block[:, COL_TGT]).any()
