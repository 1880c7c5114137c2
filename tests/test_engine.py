"""Correctness of the event-driven engine (eventsnn.network / eventsnn.engine).

Expected values come from closed forms, from independent counting over the connectivity, or from
the slow reference simulator in tests/reference_sim.py.
"""
import math
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import eventsnn as ev

sys.path.insert(0, os.path.dirname(__file__))
import reference_sim as rs  # noqa: E402

INF = math.inf


def end_tick(net, *t_ends):
    """A spike source (no projections) with one spike at the end of every planned run.

    Work-around for the end-of-run bug (see test_isolated_dc_neuron_keeps_firing): run_kernel
    leaves its loop when the next queued event lies beyond the end of the run (or the queue is
    empty) *before* the threshold test of the inputs of the last instant; the spike found by that
    final test, its next candidate and its deliveries are left unprocessed even when they fall
    inside the run.  An event exactly at the end of the run forces that test to happen in time.
    The tick has no targets, so it changes nothing else (except the pop/push counters)."""
    return net.spike_source(np.array(t_ends, dtype=float), np.zeros(len(t_ends), np.int64), n=1,
                            name="end_tick")


# ============================================================================ DC-driven neurons

def _dc_cases():
    # (model, description); all start at v_reset
    return [
        (ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=3.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
                t_ref=2.0, i_bias=25.0), "leaky exp"),
        (ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
                t_ref=2.0, i_bias=25.0), "leaky delta"),
        (ev.LIF(tau_m=2.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=-70.0, v_th=-50.0,
                v_reset=-65.0, t_ref=0.5, i_bias=30.0, tau_in=1.5), "leaky delta, frame renorm"),
        (ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=4.0, v_rest=0.0, v_th=15.0, v_reset=0.0,
                t_ref=0.0, i_bias=40.0, tau_in=7.0), "leaky mixed, t_ref 0"),
        (ev.LIF(tau_m=INF, tau_in=10.0, tau_syn_exc=5.0, tau_syn_inh=5.0, v_rest=0.0, v_th=20.0,
                v_reset=10.0, t_ref=2.0, i_bias=3.0), "non-leaky exp"),
        (ev.LIF(tau_m=INF, tau_in=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0,
                v_reset=10.0, t_ref=2.0, i_bias=3.0), "non-leaky delta"),
    ]


def _dc_isi(m):
    """Time from v_reset to threshold under the bias alone (closed form)."""
    if math.isinf(m.tau_m):
        return (m.v_th - m.v_reset) * m.tau_in / m.i_bias
    v_inf = m.v_inf
    return m.tau_m * math.log((v_inf - m.v_reset) / (v_inf - m.v_th))


@pytest.mark.parametrize("case", _dc_cases(), ids=lambda c: c[1])
def test_dc_train_closed_form(case):
    """Starting at v_reset, spike k (k = 1, 2, ...) is at k T + (k - 1) t_ref, T the reset-to-
    threshold time; every spike of a 1 s train within 1e-9 ms."""
    m, _ = case
    net = ev.Network(seed=3)
    pop = net.population(1, m, v_init=m.v_reset)
    end_tick(net, 1000.0)
    r = net.run(1000.0)
    T = _dc_isi(m)
    kk = np.arange(1, int((1000.0 + m.t_ref) // (T + m.t_ref)) + 2)
    exp = kk * T + (kk - 1) * m.t_ref
    exp = exp[exp <= 1000.0]
    got = r.spikes_of(pop).times
    assert len(exp) > 20
    assert len(got) == len(exp)
    assert np.max(np.abs(got - exp)) <= 1e-9
    assert r.counts.spikes == len(got)


@pytest.mark.parametrize("case", _dc_cases(), ids=lambda c: c[1])
def test_dc_first_spike_from_rest(case):
    """From v_rest the first spike is at tau_m ln((v_inf - v_rest)/(v_inf - v_th))."""
    m, _ = case
    net = ev.Network(seed=3)
    net.population(1, m)
    end_tick(net, 100.0)
    r = net.run(100.0)
    if math.isinf(m.tau_m):
        exp = (m.v_th - m.v_rest) * m.tau_in / m.i_bias
    else:
        exp = m.tau_m * math.log((m.v_inf - m.v_rest) / (m.v_inf - m.v_th))
    assert abs(r.spikes.times[0] - exp) <= 1e-9 * max(1.0, exp)


@pytest.mark.xfail(strict=True, reason="engine bug: run_kernel breaks out of its loop (next event "
                   "> t_end or empty queue) before the pending threshold test; the spike found by the "
                   "final _flush, its next candidate and its deliveries are not processed although "
                   "they fall inside the run: an isolated DC neuron fires once per run()")
@pytest.mark.parametrize("case", _dc_cases(), ids=lambda c: c[1])
def test_isolated_dc_neuron_keeps_firing(case):
    m, _ = case
    net = ev.Network(seed=3)
    pop = net.population(1, m, v_init=m.v_reset)
    r = net.run(1000.0)
    T = _dc_isi(m)
    assert len(r.spikes_of(pop)) == int((1000.0 + m.t_ref) // (T + m.t_ref))


@pytest.mark.xfail(strict=True, reason="engine bug (end-of-run flush): after the last input has been "
                   "delivered, a bias-driven neuron stops firing")
def test_bias_neuron_fires_after_last_input():
    m = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=5.0, v_th=20.0, v_reset=10.0, t_ref=2.0,
               i_bias=25.0)
    net = ev.Network(seed=0)
    pop = net.population(1, m)
    src = net.spike_source([1.0], [0], n=1)
    net.connect(src, pop, ev.one_to_one(), weight=1.0, delay=1.0)
    r = net.run(200.0)
    assert len(r.spikes_of(pop)) > 5


# ============================================================================ random networks vs reference

@st.composite
def small_networks(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    grid = draw(st.integers(0, 4)) == 0            # dyadic times / delays / weights: exact ties
    n = draw(st.integers(1, 4))
    n_in = draw(st.integers(1, 3))
    leaky = draw(st.integers(0, 4)) > 0
    tau_m = float(rng.choice([5.0, 10.0, 20.0, 30.0])) if leaky else INF
    tau_in = None if (leaky and rng.random() < 0.6) else float(rng.uniform(3.0, 30.0))
    ch = draw(st.sampled_from(["exp", "exp", "delta", "mixed_e", "mixed_i"]))
    tse = float(rng.uniform(0.5, 10.0))
    tsi = float(rng.uniform(0.5, 15.0))
    if leaky and rng.random() < 0.25:
        tse = tau_m                                 # tau_m == tau_syn
    if rng.random() < 0.15:
        tsi = tse                                   # equal synaptic taus
    if ch in ("delta", "mixed_e"):
        tse = 0.0
    if ch in ("delta", "mixed_i"):
        tsi = 0.0
    v_rest = float(rng.choice([0.0, -65.0]))
    v_th = v_rest + float(rng.uniform(10.0, 20.0))
    v_reset = v_rest + float(rng.uniform(-5.0, v_th - v_rest - 3.0))
    t_ref = float(rng.choice([0.0, 0.5, 1.0, 2.0, 3.0]))
    k = 1.0 / (tau_in if tau_in is not None else tau_m)
    if rng.random() < 0.4:
        # bias up to 1.2x what reaches threshold (leaky), or a slow ramp (non-leaky)
        if leaky:
            i_bias = float(rng.uniform(0.3, 1.2)) * (v_th - v_rest) / (k * tau_m)
        else:
            i_bias = float(rng.uniform(0.0, 0.1)) * (v_th - v_rest) / k / 20.0
    else:
        i_bias = 0.0
    if grid:
        v_th = v_rest + float(rng.integers(8, 20))
        v_reset = v_rest + float(rng.integers(-3, int(v_th - v_rest) - 2))
        i_bias = 0.0 if rng.random() < 0.5 else i_bias
    params = dict(tau_m=tau_m, tau_syn_exc=tse, tau_syn_inh=tsi, v_rest=v_rest, v_th=v_th,
                  v_reset=v_reset, t_ref=t_ref, i_bias=i_bias, tau_in=tau_in)
    T = 60.0
    dv = v_th - v_rest

    def weights(m):
        w = rng.uniform(-0.5, 1.0, m) * dv * float(rng.uniform(0.5, 1.5))
        if grid:
            w = np.round(w * 4) / 4
        # exp channels: scale so that a PSP is of the order of w mV
        exp_e = (w >= 0) & (tse > 0)
        exp_i = (w < 0) & (tsi > 0)
        if tse > 0:
            w[exp_e] *= 1.5 / (k * tse)
        if tsi > 0:
            w[exp_i] *= 1.5 / (k * tsi)
        return w

    def delays(m):
        if grid:
            return rng.integers(1, 24, m) * 0.125
        return rng.uniform(0.1, 3.0, m)

    n_spk = int(rng.integers(4, 20)) * n_in
    in_ids = rng.integers(0, n_in, n_spk)
    in_times = rng.integers(0, int(T * 16), n_spk) / 16.0 if grid else rng.uniform(0.0, T, n_spk)
    in_times = np.sort(in_times)
    pairs = [(s, j) for s in range(n_in) for j in range(n) if rng.random() < 0.7]
    pairs += [(int(rng.integers(n_in)), int(rng.integers(n))) for _ in range(int(rng.integers(1, 3)))]
    in_pre = np.array([p[0] for p in pairs], np.int64)
    in_post = np.array([p[1] for p in pairs], np.int64)
    in_w = weights(len(pairs))
    in_delay = delays(len(pairs))
    m_rec = int(rng.integers(0, 2 * n + 1))
    rec_pre = rng.integers(0, n, m_rec)
    rec_post = rng.integers(0, n, m_rec)
    rec_w = weights(m_rec)
    rec_delay = delays(m_rec)
    homog = rng.random() < 0.3                      # one scalar delay per projection
    d_in, d_rec = delays(1)[0], delays(1)[0]
    if homog:
        in_delay[:] = d_in
        rec_delay[:] = d_rec
    if rng.random() < 0.5:
        v0 = rng.uniform(v_reset, v_th - 0.5, n)
    else:
        v0 = None
    return dict(n=n, n_in=n_in, params=params, in_times=in_times, in_ids=in_ids, in_pre=in_pre,
                in_post=in_post, in_w=in_w, in_delay=in_delay, rec_pre=rec_pre, rec_post=rec_post,
                rec_w=rec_w, rec_delay=rec_delay, T=T, v0=v0, homog=homog, d_in=d_in, d_rec=d_rec)


def run_engine(c, v_th=None, sentinel=True):
    p = dict(c["params"])
    if v_th is not None:
        p["v_th"] = v_th
    net = ev.Network(seed=1)
    pop = net.population(c["n"], ev.LIF(**p), v_init=c["v0"])
    src = net.spike_source(c["in_times"], c["in_ids"], n=c["n_in"])
    if sentinel:
        end_tick(net, c["T"])
    n, n_in = c["n"], c["n_in"]
    if c["homog"]:
        net.connect(src, pop, ev.from_lists(c["in_pre"], c["in_post"], c["in_w"], None, n_pre=n_in,
                                            n_post=n), delay=float(c["d_in"]))
        if len(c["rec_pre"]):
            net.connect(pop, pop, ev.from_lists(c["rec_pre"], c["rec_post"], c["rec_w"], None, n_pre=n,
                                                n_post=n), delay=float(c["d_rec"]))
    else:
        net.connect(src, pop, ev.from_lists(c["in_pre"], c["in_post"], c["in_w"], c["in_delay"],
                                            n_pre=n_in, n_post=n), delay=None)
        if len(c["rec_pre"]):
            net.connect(pop, pop, ev.from_lists(c["rec_pre"], c["rec_post"], c["rec_w"], c["rec_delay"],
                                                n_pre=n, n_post=n), delay=None)
    r = net.run(c["T"])
    return r.spikes.times, r.spikes.ids


def run_reference(c):
    return rs.simulate(c["n"], c["params"], c["in_times"], c["in_ids"], c["in_pre"], c["in_post"],
                       c["in_w"], c["in_delay"], c["rec_pre"], c["rec_post"], c["rec_w"],
                       c["rec_delay"], c["T"], v0=c["v0"])


def _per_neuron(t, i, n):
    return [t[i == j] for j in range(n)]


def _agree(a, b, n, tol=1e-9):
    (ta, ia), (tb, ib) = a, b
    pa, pb = _per_neuron(ta, ia, n), _per_neuron(tb, ib, n)
    if any(len(x) != len(y) for x, y in zip(pa, pb)):
        return False
    return all(len(x) == 0 or np.max(np.abs(x - y)) <= tol for x, y in zip(pa, pb))


def _ill_conditioned(c, base):
    """True if moving v_th by +-1e-7 mV changes the engine's spike counts or moves a spike by
    more than 1e-3 ms: a (near-)grazing network where the reference's dense-scan detection and
    brentq tolerance do not give a trustworthy answer."""
    for dv in (-1e-7, 1e-7):
        alt = run_engine(c, v_th=c["params"]["v_th"] + dv)
        if not _agree(base, alt, c["n"], tol=1e-3):
            return True
    return False


STATS = {"examples": 0, "ill_conditioned": 0, "spikes": 0}


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(small_networks())
def test_random_networks_match_reference(c):
    eng = run_engine(c)
    assume(len(eng[0]) <= 40 * c["n"])             # bursts (t_ref = 0, huge currents) are slow in the reference
    ref = run_reference(c)
    STATS["examples"] += 1
    STATS["spikes"] += len(ref[0])
    if not _agree(eng, ref, c["n"]):
        if _ill_conditioned(c, eng):
            STATS["ill_conditioned"] += 1
            assume(False)
        n = c["n"]
        pe, pr = _per_neuron(*eng, n), _per_neuron(*ref, n)
        raise AssertionError(f"engine {[list(x) for x in pe]} != reference {[list(x) for x in pr]}")
    # sorted by (time, id)
    t, i = eng
    assert np.all((np.diff(t) > 0) | ((np.diff(t) == 0) & (np.diff(i) > 0)))


def test_random_networks_were_informative():
    """The property test above ran on networks that spike, and rejected few as ill-conditioned."""
    if STATS["examples"] == 0:
        pytest.skip("run together with test_random_networks_match_reference")
    assert STATS["spikes"] >= 2 * STATS["examples"]
    assert STATS["ill_conditioned"] <= 0.05 * STATS["examples"] + 1
