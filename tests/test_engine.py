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
from eventsnn.cases import brunel, cuba, sparse_lowrate

sys.path.insert(0, os.path.dirname(__file__))
import reference_sim as rs  # noqa: E402

INF = math.inf


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
    r = net.run(100.0)
    if math.isinf(m.tau_m):
        exp = (m.v_th - m.v_rest) * m.tau_in / m.i_bias
    else:
        exp = m.tau_m * math.log((m.v_inf - m.v_rest) / (m.v_inf - m.v_th))
    assert abs(r.spikes.times[0] - exp) <= 1e-9 * max(1.0, exp)


@pytest.mark.parametrize("case", _dc_cases(), ids=lambda c: c[1])
def test_isolated_dc_neuron_keeps_firing(case):
    """Regression (fixed in 97f9be3): the threshold test of the last instant before the end of a
    run must happen inside the event loop, else an isolated DC neuron fires once per run()."""
    m, _ = case
    net = ev.Network(seed=3)
    pop = net.population(1, m, v_init=m.v_reset)
    r = net.run(1000.0)
    T = _dc_isi(m)
    assert len(r.spikes_of(pop)) == int((1000.0 + m.t_ref) // (T + m.t_ref))


def test_bias_neuron_fires_after_last_input():
    """Regression (end-of-run flush): a bias-driven neuron keeps firing after its last input."""
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
    n = draw(st.integers(1, 5))
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
    T = 100.0
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
                rec_w=rec_w, rec_delay=rec_delay, T=T, v0=v0, homog=homog, d_in=d_in, d_rec=d_rec,
                split=float(rng.choice([rng.uniform(0, T), np.round(rng.uniform(0, T) * 16) / 16])))


MAX_EV = 100_000     # random networks can run away (t_ref = 0, self-excitation): skip those


def run_engine(c, v_th=None, split=None):
    p = dict(c["params"])
    if v_th is not None:
        p["v_th"] = v_th
    net = ev.Network(seed=1)
    pop = net.population(c["n"], ev.LIF(**p), v_init=c["v0"])
    src = net.spike_source(c["in_times"], c["in_ids"], n=c["n_in"])
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
    if split is None:
        r = net.run(c["T"], max_events=MAX_EV)
        return r.spikes.times, r.spikes.ids
    net.run(split, max_events=MAX_EV)
    net.run(c["T"] - split, max_events=MAX_EV)
    return net.spikes.times, net.spikes.ids


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
        try:
            alt = run_engine(c, v_th=c["params"]["v_th"] + dv)
        except RuntimeError:
            return True
        if not _agree(base, alt, c["n"], tol=1e-3):
            return True
    return False


STATS = {"examples": 0, "ill_conditioned": 0, "spikes": 0, "runaway": 0}


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(small_networks())
def test_random_networks_match_reference(c):
    try:
        eng = run_engine(c)
    except RuntimeError as e:                       # runaway (max_events)
        assert "max_events" in str(e)
        STATS["runaway"] += 1
        assume(False)
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
    # a run split at a random instant gives bitwise the same spikes
    alt = run_engine(c, split=float(c["split"]))
    assert np.array_equal(alt[0], eng[0]) and np.array_equal(alt[1], eng[1])
    # sorted by (time, id)
    t, i = eng
    assert np.all((np.diff(t) > 0) | ((np.diff(t) == 0) & (np.diff(i) > 0)))


def test_random_networks_were_informative():
    """The property test above ran on networks that spike, and rejected few as ill-conditioned."""
    if STATS["examples"] == 0:
        pytest.skip("run together with test_random_networks_match_reference")
    assert STATS["spikes"] >= 2 * STATS["examples"]
    assert STATS["ill_conditioned"] <= 0.05 * STATS["examples"] + 1


# ============================================================================ split runs, seeds

def _exp_poisson_net(seed, T_rec):
    net = ev.Network(seed=seed)
    m = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=8.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
               t_ref=2.0, i_bias=5.0)
    pop = net.population(60, m, v_init=(0.0, 19.0))
    ps = net.poisson_source(30, 800.0)
    net.connect(ps, pop, ev.fixed_indegree(5), weight=6.0, delay=0.5)
    net.connect(pop, pop, ev.fixed_probability(0.1), weight=lambda rng, n: rng.uniform(-8.0, 5.0, n),
                delay=lambda rng, n: rng.uniform(0.2, 2.0, n))
    net.record_state(np.array([0, 7, 33]), np.linspace(0.0, T_rec, 57)[1:])
    return net, pop


def _delta_drive_net(seed, T_rec):
    net = ev.Network(seed=seed)
    m = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
               t_ref=2.0)
    exc = net.population(160, m, v_init=(0.0, 20.0))
    inh = net.population(40, m, v_init=(0.0, 20.0))
    net.poisson_drive(exc, 18000.0, 0.1)
    net.poisson_drive(inh, 18000.0, 0.1)
    for pre, w in ((exc, 0.2), (inh, -1.0)):
        for post in (exc, inh):
            net.connect(pre, post, ev.fixed_indegree(16 if pre is exc else 4), weight=w, delay=1.5)
    net.record_state(np.array([0, 5, 170]), np.linspace(0.0, T_rec, 41)[1:])
    return net, exc


def _callable_weights_supported():
    try:
        net = ev.Network(seed=0)
        p = net.population(3, ev.LIF())
        net.connect(p, p, ev.all_to_all(), weight=lambda rng, n: rng.uniform(0, 1, n), delay=1.0)
        return True
    except Exception:   # pragma: no cover - the connectivity API decides the callable signature
        return False


def _build(kind, seed, T):
    if kind == "exp_poisson":
        if not _callable_weights_supported():   # pragma: no cover
            pytest.skip("callable weights not supported")
        return _exp_poisson_net(seed, T)
    return _delta_drive_net(seed, T)


@pytest.mark.parametrize("kind", ["exp_poisson", "delta_drive"])
def test_split_run_is_bitwise_identical(kind):
    T = 200.0
    net1, _ = _build(kind, 11, T)
    r = net1.run(T)
    net2, _ = _build(kind, 11, T)
    ra = net2.run(T / 2)
    rb = net2.run(T / 2)
    assert len(r.spikes) > 50
    sp = net2.spikes
    assert np.array_equal(sp.times, r.spikes.times) and np.array_equal(sp.ids, r.spikes.ids)
    assert np.array_equal(np.concatenate([ra.spikes.times, rb.spikes.times]), r.spikes.times)
    assert np.all(ra.spikes.times <= T / 2) and np.all(rb.spikes.times > T / 2)
    for f in ("v", "i_exc", "i_inh"):
        both = np.concatenate([getattr(ra.states, f), getattr(rb.states, f)])
        assert np.array_equal(both, getattr(r.states, f)), f
    assert np.array_equal(np.concatenate([ra.states.times, rb.states.times]), r.states.times)
    assert not np.isnan(r.states.v).any()
    # operation counts of the two halves add up to those of the whole run
    assert ra.counts + rb.counts == r.counts
    assert net2.counts == r.counts
    # three uneven pieces too
    net3, _ = _build(kind, 11, T)
    for d in (33.3, 0.0, 100.0, T - 133.3):
        net3.run(d)
    assert np.array_equal(net3.spikes.times, r.spikes.times)
    assert np.array_equal(net3.spikes.ids, r.spikes.ids)
    assert net3.counts == r.counts


def _wheel_net(seed):
    """Poisson and spike-train sources that are not fused (two delays each), so their
    spikes queue on the source wheel, into an exp-synapse network."""
    net = ev.Network(seed=seed)
    m = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=8.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
               t_ref=2.0, i_bias=5.0)
    pop = net.population(80, m, v_init=(0.0, 19.0))
    ps = net.poisson_source(40, np.linspace(5.0, 900.0, 40))
    rng = np.random.default_rng(seed)
    st_t = np.round(rng.uniform(0.0, 150.0, 300), 1)         # 0.1 ms grid: ties
    sts = net.spike_source(st_t, rng.integers(0, 6, 300), n=6)
    for d in (0.5, 1.25):
        net.connect(ps, pop, ev.fixed_indegree(3), weight=4.0, delay=d)
        net.connect(sts, pop, ev.fixed_indegree(1), weight=5.0, delay=d)
    net.connect(pop, pop, ev.fixed_probability(0.1), weight=lambda rng, n: rng.uniform(-8.0, 5.0, n),
                delay=1.0)
    net.record_state(np.array([0, 9, 41]), np.linspace(0.0, 150.0, 31)[1:])
    return net


@pytest.mark.parametrize("size", [dict(wheel_width=0.0, wheel_buckets=1),
                                  dict(wheel_width=2.0 ** -9, wheel_buckets=64),
                                  dict(wheel_width=4.0, wheel_buckets=1024)])
def test_source_wheel_changes_no_result(size, monkeypatch):
    """Source spikes on the source wheel (engine.queue) or in the heap come out in the
    same (time, sequence) order: no wheel, a tiny wheel whose horizon (1/8 ms) sends most
    spikes to the heap, and a coarse one with many spikes per bucket give bitwise the
    spikes, counts and states of the default; also run in two pieces."""
    import eventsnn.plan as PL
    net0 = _wheel_net(3)
    ref = net0.run(150.0)
    assert len(ref.spikes) > 100 and ref.counts.source_spikes > 500
    assert net0._state.queue.w_width[0] > 0.0          # the default has a wheel
    monkeypatch.setattr(PL, "_wheel_size", lambda *a: dict(size))
    for pieces in ((150.0,), (61.3, 88.7)):
        net = _wheel_net(3)
        rs_ = [net.run(d) for d in pieces]
        assert net._state.queue.w_width[0] == size["wheel_width"]
        sp = net.spikes
        assert np.array_equal(sp.times, ref.spikes.times) and np.array_equal(sp.ids, ref.spikes.ids)
        assert net.counts == ref.counts
        v = np.concatenate([r.states.v for r in rs_])
        assert np.array_equal(v, ref.states.v)


@pytest.mark.parametrize("kind", ["exp_poisson", "delta_drive"])
def test_prepare_changes_no_result_and_fixes_the_structure(kind):
    """``Network.prepare`` builds the run plan ahead of the first run: the same spikes,
    counts (its queue work counted in the first run) and states as without it; calling
    it twice is harmless; afterwards the network can no longer grow."""
    T = 60.0
    net1, _ = _build(kind, 5, T)
    r = net1.run(T)
    net2, _ = _build(kind, 5, T)
    assert net2.prepare() is net2
    net2.prepare()
    assert net2.t == 0.0 and net2.counts == type(net2.counts)()
    with pytest.raises(RuntimeError, match="prepared"):
        net2.population(3, ev.LIF())
    r2 = net2.run(T)
    assert len(r.spikes) > 10
    assert np.array_equal(r2.spikes.times, r.spikes.times) and np.array_equal(r2.spikes.ids, r.spikes.ids)
    assert r2.counts == r.counts
    for f in ("v", "i_exc", "i_inh"):
        assert np.array_equal(getattr(r2.states, f), getattr(r.states, f)), f


@pytest.mark.parametrize("kind", ["exp_poisson", "delta_drive"])
def test_seed_determinism(kind):
    T = 100.0
    a, _ = _build(kind, 5, T)
    b, _ = _build(kind, 5, T)
    c, _ = _build(kind, 6, T)
    ra, rb, rc = a.run(T), b.run(T), c.run(T)
    assert len(ra.spikes) > 20
    assert np.array_equal(ra.spikes.times, rb.spikes.times)
    assert np.array_equal(ra.spikes.ids, rb.spikes.ids)
    assert np.array_equal(ra.states.v, rb.states.v)
    assert ra.counts == rb.counts
    assert not (len(ra.spikes) == len(rc.spikes) and np.array_equal(ra.spikes.times, rc.spikes.times))
    assert not np.array_equal(ra.states.v, rc.states.v)


# ============================================================================ operation counters

def _expected_deliveries(proj, spike_times_of_row, T):
    """Sum over the spikes of each presynaptic row of the synapses whose delivery time is <= T,
    from the projection's scipy matrix (per-synapse delays from delays_to_scipy)."""
    W = proj.to_scipy()
    deg = np.diff(W.indptr)
    if proj.delay is None:
        D = proj.csr.delays_to_scipy()
    total = 0
    for row, times in spike_times_of_row.items():
        times = np.asarray(times)
        if proj.delay is not None:
            total += int(deg[row]) * int(np.sum(times + proj.delay <= T))
        else:
            d = D.data[D.indptr[row]:D.indptr[row + 1]]
            total += int(np.sum(times[:, None] + d[None, :] <= T))
    return total


def _counter_net():
    rng = np.random.default_rng(7)
    net = ev.Network(seed=2)
    m_exp = ev.LIF(tau_m=15.0, tau_syn_exc=4.0, tau_syn_inh=6.0, v_th=15.0, v_reset=5.0, t_ref=2.0)
    m_del = ev.LIF(tau_m=15.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_th=15.0, v_reset=5.0, t_ref=3.0)
    a = net.population(30, m_exp, name="a")
    b = net.population(20, m_del, name="b")
    n_in = 10
    t_in = np.sort(rng.uniform(0.0, 150.0, 400))
    i_in = rng.integers(0, n_in, 400)
    src = net.spike_source(t_in, i_in, n=n_in)
    W = (rng.random((n_in, 30)) < 0.3) * rng.uniform(0.0, 25.0, (n_in, 30))
    p_in_a = net.connect(src, a, ev.from_dense(W), delay=0.7)
    p_in_b = net.connect(src, b, ev.fixed_outdegree(6), weight=9.0, delay=0.0)
    pre = rng.integers(0, 30, 200)
    post = rng.integers(0, 30, 200)
    p_aa = net.connect(a, a, ev.from_lists(pre, post, rng.uniform(-15, 10, 200), rng.uniform(0.1, 4, 200),
                                           n_pre=30, n_post=30), delay=None)
    p_ab = net.connect(a, b, ev.fixed_indegree(5), weight=6.0, delay=1.25)
    M = (rng.random((20, 30)) < 0.2) * rng.uniform(-10, 10, (20, 30))
    import scipy.sparse as sps
    p_ba = net.connect(b, a, ev.from_scipy(sps.csr_matrix(M)), delay=2.0)
    return net, (a, b), (src, t_in, i_in), dict(in_a=p_in_a, in_b=p_in_b, aa=p_aa, ab=p_ab, ba=p_ba)


def test_counters_match_independent_counts():
    T = 150.0
    net, (a, b), (src, t_in, i_in), P = _counter_net()
    r = net.run(T)
    c = r.counts
    sa, sb = r.spikes_of(a), r.spikes_of(b)
    assert len(sa) > 30 and len(sb) > 30
    assert c.spikes == len(r.spikes) == len(sa) + len(sb)
    rows_a = {j: sa.times[sa.ids == j] for j in range(30)}
    rows_b = {j: sb.times[sb.ids == j] for j in range(20)}
    rows_src = {s: t_in[i_in == s] for s in range(10)}
    syn = (_expected_deliveries(P["aa"], rows_a, T) + _expected_deliveries(P["ab"], rows_a, T)
           + _expected_deliveries(P["ba"], rows_b, T))
    assert c.syn_events == syn
    src_syn = _expected_deliveries(P["in_a"], rows_src, T) + _expected_deliveries(P["in_b"], rows_src, T)
    assert c.source_syn_events == src_syn
    assert c.source_spikes == int(np.sum(t_in <= T))
    assert c.drive_events == 0
    assert 0 < c.discarded <= c.syn_events + c.source_syn_events
    assert c.stale_candidates <= c.candidates <= c.queue_pushes
    assert c.threshold_tests >= c.spikes
    # split runs add up
    net2, *_ = _counter_net()
    r1 = net2.run(61.7)
    r2 = net2.run(T - 61.7)
    assert r1.counts + r2.counts == c
    assert np.array_equal(net2.spikes.times, r.spikes.times)


def test_counters_drive_population():
    T = 100.0
    net, exc = _delta_drive_net(3, T)
    r = net.run(T)
    c = r.counts
    assert c.spikes == len(r.spikes)
    # Poisson drive: about rate * T arrivals per neuron, none through the queue
    exp_drive = 200 * 18.0 * T
    assert abs(c.drive_events - exp_drive) < 6 * math.sqrt(exp_drive)
    assert c.source_syn_events == 0 and c.source_spikes == 0
    # every neuron spike is delivered along its out-degree (all delays 1.5 ms)
    times = {}
    for t, i in zip(r.spikes.times, r.spikes.ids):
        times.setdefault(int(i), []).append(t)
    syn = 0
    for pr in net.projections:
        off = pr.pre.offset
        rows = {i - off: v for i, v in times.items() if off <= i < off + pr.pre.size}
        syn += _expected_deliveries(pr, rows, T)
    assert c.syn_events == syn


def test_queue_pops_do_not_exceed_pushes():
    """Regression: the queue pushes made while compiling (first source spikes, initial
    candidates, sample events) were not counted, so pops exceeded pushes."""
    m = ev.LIF(tau_syn_exc=0.0, tau_syn_inh=0.0)
    net = ev.Network(seed=0)
    pop = net.population(1, m)
    src = net.spike_source([1.0], [0], n=1)
    net.connect(src, pop, ev.one_to_one(), weight=1.0, delay=1.0)
    r = net.run(10.0)
    assert r.counts.queue_pops <= r.counts.queue_pushes
    assert net.counts.queue_pops <= net.counts.queue_pushes


# ============================================================================ simultaneous input, refractoriness

DELTA_MODELS = [
    ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=10.0, v_reset=0.0, t_ref=2.0),
    ev.LIF(tau_m=INF, tau_in=5.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=10.0, v_reset=0.0,
           t_ref=2.0),
    ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=10.0, v_reset=0.0, t_ref=2.0,
           i_bias=5.0),
]


def _wiring(layout, net, pop, w_first, w_second):
    """Two inputs of weights w_first, w_second that both reach neuron 0 at t = 5.0 ms."""
    if layout == "one source, two synapses":
        s = net.spike_source([4.0], [0], n=1)
        net.connect(s, pop, ev.from_lists([0, 0], [0, 0], [w_first, w_second], None, n_pre=1, n_post=1),
                    delay=1.0)
    elif layout == "two sources":
        s = net.spike_source([4.0, 4.0], [0, 1], n=2)
        net.connect(s, pop, ev.from_lists([0, 1], [0, 0], [w_first, w_second], None, n_pre=2, n_post=1),
                    delay=1.0)
    elif layout == "two projections":
        s = net.spike_source([4.0], [0], n=1)
        net.connect(s, pop, ev.one_to_one(), weight=w_first, delay=1.0)
        net.connect(s, pop, ev.one_to_one(), weight=w_second, delay=1.0)
    elif layout == "different paths":
        s1 = net.spike_source([3.0], [0], n=1)
        s2 = net.spike_source([4.5], [0], n=1)
        net.connect(s1, pop, ev.one_to_one(), weight=w_first, delay=2.0)
        net.connect(s2, pop, ev.one_to_one(), weight=w_second, delay=0.5)
    elif layout == "per-synapse delays":
        s = net.spike_source([2.0], [0], n=1)
        net.connect(s, pop, ev.from_lists([0, 0, 0], [0, 0, 0], [w_first, 0.0, w_second], [3.0, 1.0, 3.0],
                                          n_pre=1, n_post=1), delay=None)


LAYOUTS = ["one source, two synapses", "two sources", "two projections", "different paths",
           "per-synapse delays"]


@pytest.mark.parametrize("mi", range(len(DELTA_MODELS)))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("first", ["+w", "-w"])
def test_simultaneous_plus_minus_w_gives_no_spike(mi, layout, first):
    m = DELTA_MODELS[mi]
    w = 3.0
    net = ev.Network(seed=0)
    pop = net.population(1, m, v_init=9.5)
    _wiring(layout, net, pop, w if first == "+w" else -w, -w if first == "+w" else w)
    net.record_state([0], [5.0, 5.5])
    r = net.run(5.5)
    if m.i_bias == 0:
        assert len(r.spikes) == 0
        # the two inputs cancel: V is the input-free trajectory
        g = 0.0 if math.isinf(m.tau_m) else 1 / m.tau_m
        assert r.states.v[1, 0] == pytest.approx(9.5 * math.exp(-g * 5.5), rel=1e-13, abs=1e-13)
    else:
        # bias alone crosses at tau_m ln((25-9.5)/(25-10)) = 0.66 ms: spikes only from the bias
        assert np.all(np.abs(r.spikes.times - 5.0) > 1e-6)
    # +w alone does spike at 5.0 (the set-up is meaningful)
    net = ev.Network(seed=0)
    pop = net.population(1, m, v_init=9.5 if m.i_bias == 0 else 0.0)
    s = net.spike_source([4.0], [0], n=1)
    net.connect(s, pop, ev.one_to_one(), weight=w if m.i_bias == 0 else 12.0, delay=1.0)
    assert 5.0 in net.run(5.5).spikes.times


@pytest.mark.parametrize("model", [
    ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=10.0, v_reset=0.0, t_ref=2.0),
    ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=5.0, v_rest=0.0, v_th=10.0, v_reset=0.0, t_ref=2.0),
    ev.LIF(tau_m=INF, tau_in=5.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=10.0, v_reset=0.0,
           t_ref=2.0),
], ids=["frame", "mixed", "non-leaky frame"])
def test_refractory_discards_delta_input(model):
    """Spike at 1.0; a delta input at 2.0 (inside [1, 3)) is discarded, one at exactly 3.0 applied."""
    net = ev.Network(seed=0)
    pop = net.population(1, model)
    s = net.spike_source([0.5, 1.5, 2.5], [0, 1, 2], n=3)
    net.connect(s, pop, ev.from_lists([0, 1, 2], [0, 0, 0], [15.0, 5.0, 4.0], None, n_pre=3, n_post=1),
                delay=0.5)
    net.record_state([0], [1.0, 2.0, 2.5, 3.0, 4.0, 9.0])
    r = net.run(9.0)
    assert list(r.spikes.times) == [1.0]
    assert r.counts.discarded == 1
    g = 0.0 if math.isinf(model.tau_m) else 1 / model.tau_m
    v = r.states.v[:, 0]
    assert v[0] == 0.0                        # left limit at the spike: before the 15 mV jump
    assert v[1] == 0.0 and v[2] == 0.0        # clamped at v_reset; the 5 mV input was discarded
    assert v[3] == 0.0                        # left limit at 3.0: before the applied input
    assert v[4] == pytest.approx(4.0 * math.exp(-g * 1.0), rel=1e-13)
    assert v[5] == pytest.approx(4.0 * math.exp(-g * 6.0), rel=1e-13)


@pytest.mark.parametrize("tse", [0.0, 5.0], ids=["frame", "mixed"])
@pytest.mark.parametrize("path", [
    # regression: this order lost the input (the CAND handler overwrote V after it)
    pytest.param((0.0, 2.0), id="queued-before-candidate"),                   # DELIVER pushed at 0.0
    pytest.param((1.5, 0.5), id="queued-after-candidate"),                    # pushed after the spike at 1
    pytest.param((1.75, 0.25), id="queued-late")])
def test_inhibition_at_exact_crossing_time(tse, path):
    """Non-leaky, bias 1 mV/ms from 0 to v_th = 1, t_ref = 0: crossings at 1, 2, 3, ... exactly.
    A -0.5 mV delta input arriving at exactly t = 2.0 must be applied before the threshold test:
    V(2) = 0.5, so the spikes are 1, 2.5, 3.5, whichever way the input was queued."""
    m = ev.LIF(tau_m=INF, tau_in=1.0, tau_syn_exc=tse, tau_syn_inh=0.0, v_rest=0.0, v_th=1.0,
               v_reset=0.0, t_ref=0.0, i_bias=1.0)
    net = ev.Network(seed=0)
    pop = net.population(1, m)
    s = net.spike_source([path[0]], [0], n=1)
    net.connect(s, pop, ev.one_to_one(), weight=-0.5, delay=path[1])
    r = net.run(4.0)
    p = dict(tau_m=INF, tau_in=1.0, tau_syn_exc=tse, tau_syn_inh=0.0, v_rest=0.0, v_th=1.0, v_reset=0.0,
             t_ref=0.0, i_bias=1.0)
    ref_t, _ = rs.simulate(1, p, [path[0]], [0], [0], [0], [-0.5], [path[1]], [], [], [], [], 4.0)
    assert np.allclose(ref_t, [1.0, 2.5, 3.5], rtol=0, atol=1e-12)
    assert np.allclose(r.spikes.times, [1.0, 2.5, 3.5], rtol=0, atol=1e-12)


# ============================================================================ state recording

def test_record_state_closed_form():
    """Subthreshold superposition: V = v_rest + bias term + sum_i k w_i psi(g, s_i, t - t_i)."""
    tau_m, tau_in, tse, tsi = 20.0, 12.0, 4.0, 9.0
    m = ev.LIF(tau_m=tau_m, tau_syn_exc=tse, tau_syn_inh=tsi, v_rest=-65.0, v_th=-40.0, v_reset=-70.0,
               t_ref=2.0, i_bias=6.0, tau_in=tau_in)
    g, k = 1 / tau_m, 1 / tau_in
    v0 = -60.0
    arr = [(3.0, 7.0), (4.5, -5.0), (11.0, 9.0), (11.0, -2.0), (20.25, 4.0)]   # (arrival, weight)
    net = ev.Network(seed=0)
    pop = net.population(2, m, v_init=np.array([v0, -65.0]))
    s = net.spike_source([a - 1.0 for a, _ in arr], np.arange(len(arr)), n=len(arr))
    net.connect(s, pop, ev.from_lists(np.arange(len(arr)), np.zeros(len(arr), int), [w for _, w in arr],
                                      None, n_pre=len(arr), n_post=2), delay=1.0)
    ts = np.array([0.0, 1.0, 3.0, 3.5, 4.5, 7.0, 11.0, 11.0 + 1e-9, 15.0, 20.25, 30.0, 80.0])
    net.record_state([0, 1], ts)
    r = net.run(80.0)
    assert len(r.spikes) == 0
    vr, ib = -65.0, 6.0

    def expect(t):
        v = vr + (v0 - vr) * math.exp(-g * t) + k * ib * (1 - math.exp(-g * t)) / g
        ie = ii = 0.0
        for ta, w in arr:
            if ta < t:       # left limits: an input at exactly t is not included yet
                s_ = 1 / tse if w >= 0 else 1 / tsi
                v += k * w * (math.exp(-s_ * (t - ta)) - math.exp(-g * (t - ta))) / (g - s_)
                if w >= 0:
                    ie += w * math.exp(-s_ * (t - ta))
                else:
                    ii += w * math.exp(-s_ * (t - ta))
        return v, ie, ii

    assert np.array_equal(r.states.times, ts)
    assert np.array_equal(r.states.ids, [0, 1])
    for j, t in enumerate(ts):
        v, ie, ii = expect(t)
        assert r.states.v[j, 0] == pytest.approx(v, rel=1e-13, abs=1e-12), t
        assert r.states.i_exc[j, 0] == pytest.approx(ie, rel=1e-13, abs=1e-13), t
        assert r.states.i_inh[j, 0] == pytest.approx(ii, rel=1e-13, abs=1e-13), t
        # neuron 1 gets no input: bias only, from v_rest
        vb = vr + k * ib * (1 - math.exp(-g * t)) / g
        assert r.states.v[j, 1] == pytest.approx(vb, rel=1e-13, abs=1e-12)
        assert r.states.i_exc[j, 1] == 0.0 and r.states.i_inh[j, 1] == 0.0


def test_record_state_through_spike_and_refractory_exp():
    """Exp currents keep integrating while V is clamped; V restarts from v_reset at t_s + t_ref."""
    m = ev.LIF(tau_m=10.0, tau_syn_exc=3.0, tau_syn_inh=3.0, v_rest=0.0, v_th=10.0, v_reset=-5.0, t_ref=4.0)
    g, se = 1 / 10.0, 1 / 3.0
    net = ev.Network(seed=0)
    pop = net.population(1, m)
    s = net.spike_source([1.0, 2.0], [0, 1], n=2)
    # a big input (arrives at 2.0) that makes it fire soon after, then one that arrives at 3.0,
    # during the refractory period
    net.connect(s, pop, ev.from_lists([0, 1], [0, 0], [200.0, 20.0], None, n_pre=2, n_post=1), delay=1.0)
    ts = np.array([3.0, 3.5, 6.0, 9.0, 12.0])
    net.record_state([0], ts)
    r = net.run(30.0)
    assert len(r.spikes) == 1
    t_s = r.spikes.times[0]
    assert 2.0 < t_s < 3.0
    # V at the crossing is v_th: 200 k psi(g, se, t_s - 2) = 10
    assert 200.0 * g * (math.exp(-se * (t_s - 2)) - math.exp(-g * (t_s - 2))) / (g - se) == \
        pytest.approx(10.0, rel=1e-12)
    t_end = t_s + 4.0

    def ie(t):
        return 200.0 * math.exp(-se * (t - 2.0)) + (20.0 * math.exp(-se * (t - 3.0)) if t > 3.0 else 0.0)

    for j, t in enumerate(ts):
        assert r.states.i_exc[j, 0] == pytest.approx(ie(t), rel=1e-13)
        assert r.states.i_inh[j, 0] == 0.0
        if t < t_end:
            assert r.states.v[j, 0] == -5.0
        else:
            dt = t - t_end
            i0 = ie(t_end)
            v = -5.0 * math.exp(-g * dt) + g * i0 * (math.exp(-se * dt) - math.exp(-g * dt)) / (g - se)
            assert r.states.v[j, 0] == pytest.approx(v, rel=1e-12)


# ============================================================================ guards

def test_max_events_guard_on_runaway_network():
    m = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_th=20.0, v_reset=10.0, t_ref=0.1)
    net = ev.Network(seed=0)
    pop = net.population(20, m)
    s = net.spike_source([0.0], [0], n=1)
    net.connect(s, pop, ev.all_to_all(), weight=30.0, delay=0.5)
    net.connect(pop, pop, ev.all_to_all(), weight=30.0, delay=0.5)
    with pytest.raises(RuntimeError, match="max_events"):
        net.run(1e7, max_events=20_000)
    assert net.t < 1e7


def _overflow_params():
    out = []
    for tau_s, kind in ((0.0, "delta"), (5.0, "exp"), (20.0, "tau_syn==tau_m")):
        for wk in ("+inf", "-inf", "nan"):
            # regression: the frame representation hid overflow of exp currents (its
            # coefficients are scaled by k/(g - s)), and a fused threshold test reset V = inf
            out.append(pytest.param(tau_s, wk, id=f"{kind}-{wk}"))
    return out


@pytest.mark.parametrize("tau_s,wk", _overflow_params())
def test_overflow_raises_floating_point_error(tau_s, wk):
    """Finite weights of +-1e308 reaching neuron 2 together at 1.5 ms overflow its state to +inf,
    -inf or (both channels) nan: a FloatingPointError naming the neuron and the time, never a
    silently wrong network."""
    ws = {"+inf": [1e308, 1e308], "-inf": [-1e308, -1e308], "nan": [1e308, 1e308, -1e308, -1e308]}[wk]
    m = ev.LIF(tau_syn_exc=tau_s, tau_syn_inh=tau_s)       # tau_m = 20
    net = ev.Network(seed=0)
    pop = net.population(4, m)
    s = net.spike_source([1.0], [0], n=1)
    k = len(ws)
    net.connect(s, pop, ev.from_lists([0] * (k + 1), [1] + [2] * k, [1.0] + ws, None, n_pre=1, n_post=4),
                delay=0.5)
    with pytest.raises(FloatingPointError) as ei:
        net.run(10.0)
    msg = str(ei.value)
    assert "neuron 2" in msg and "1.5" in msg


@pytest.mark.parametrize("tau_s", [5.0, 20.0], ids=["exp", "tau_syn==tau_m"])
def test_overflow_through_an_all_inhibitory_row_is_reported(tau_s):
    """Regression: an all-inhibitory row tests only targets with a pending crossing, and
    inhibition leaves a neuron's ceiling unchanged, so weights of -1e308 overflowing the
    state were never tested.  Such a row now marks targets whose coefficients pass the
    finite-state bound, and the overflow is reported at once."""
    m = ev.LIF(tau_syn_exc=tau_s, tau_syn_inh=tau_s)
    net = ev.Network(seed=0)
    pop = net.population(4, m)
    s = net.spike_source([1.0], [0], n=1)
    net.connect(s, pop, ev.from_lists([0, 0], [2, 2], [-1e308, -1e308], None, n_pre=1, n_post=4),
                delay=0.5)
    with pytest.raises(FloatingPointError) as ei:
        net.run(10.0)
    assert "neuron 2" in str(ei.value) and "1.5" in str(ei.value)


@pytest.mark.parametrize("model", [
    ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=-65.0, v_th=-52.0, v_reset=-61.0, t_ref=0.0),
    ev.LIF(tau_m=INF, tau_in=4.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=-65.0, v_th=-52.0, v_reset=-61.0,
           t_ref=1.0),
    ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=3.0, v_rest=-65.0, v_th=-52.0, v_reset=-61.0, t_ref=1.0),
], ids=["frame", "non-leaky frame", "mixed"])
def test_exact_threshold_from_rest(model):
    """A neuron at rest that receives exactly v_th - v_rest fires (V >= v_th); 1e-13 mV less does not.
    (The pure-Python reference rounds the resting state and misses the first case, so the random
    network property test cannot check it.)"""
    for w, n_exp in ((13.0, 1), (13.0 - 1e-13, 0), (6.5, 1)):
        net = ev.Network(seed=0)
        pop = net.population(1, model)
        s = net.spike_source([5.0, 20.0], [0, 1], n=2)
        ws = [w, w] if w == 6.5 else [w]
        net.connect(s, pop, ev.from_lists([0] * len(ws), [0] * len(ws), ws, None, n_pre=2, n_post=1),
                    delay=2.0)
        r = net.run(30.0)
        assert list(r.spikes.times) == [7.0] * n_exp, w


# ============================================================================ drive-caused spikes

def test_every_drive_arrival_fires_when_it_must():
    """t_ref = 0 and a drive weight that lifts V over threshold from anywhere V can be:
    every external arrival is a spike, at exactly the arrival time, including several
    in one delivery (the delivery loop returns to the kernel for each such spike and
    resumes at the same target).  The arrival times are recomputed here from the
    drive streams' seeds, independently of the engine."""
    from eventsnn.engine.rng import STREAM_DRIVE as _STREAM_DRIVE
    from eventsnn.engine.rng import next_exponential, seed_streams
    seed, n, rate_hz, T = 11, 12, 600.0, 200.0
    net = ev.Network(seed=seed)
    m = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0,
               v_reset=10.0, t_ref=0.0)
    pop = net.population(n, m, v_init=(0.0, 20.0))
    net.poisson_drive(pop, rate_hz, 60.0)
    # inhibition keeps V above -40 mV (decay 20 ms, at most 3 x 0.5 mV per presynaptic
    # spike at <= 2 kHz in total), so 60 mV always crosses 20 mV
    net.connect(pop, pop, ev.fixed_indegree(3), weight=-0.5, delay=0.3)
    res = net.run(T / 2)
    res2 = net.run(T / 2)
    spikes = net.spikes
    rng = seed_streams(seed, _STREAM_DRIVE, n)
    rate = rate_hz / 1000.0
    total = 0
    for k in range(n):
        want = []
        t = 0.0 + next_exponential(rng, k, rate)
        while t <= T:
            want.append(t)
            t = t + next_exponential(rng, k, rate)
        got = spikes.times[spikes.ids == k]
        np.testing.assert_array_equal(got, np.array(want))
        total += len(want)
    assert res.counts.spikes + res2.counts.spikes == total
    assert res.counts.discarded + res2.counts.discarded == 0
    assert net.counts.drive_events == total


@pytest.mark.parametrize("tau_e,tau_i,w", [(5.0, 10.0, 1.5), (5.0, 0.0, 1.5), (0.0, 4.0, -1.5)],
                         ids=["exp-exp", "exp-delta", "delta-exp inhibitory"])
def test_poisson_drive_into_an_exp_channel_is_a_current(tau_e, tau_i, w):
    """Regression: a Poisson drive into a population whose receiving channel (excitatory
    for w >= 0, inhibitory for w < 0) is an exponential current was applied lazily as
    jumps of V, as for delta synapses.  It is a current like any other input: the drive
    is the same as an explicit Poisson source with a one-to-one projection (same seed, so
    the same streams: bitwise the same spikes and states), V is continuous and the
    channel's current is non-zero."""
    m = ev.LIF(tau_m=20.0, tau_syn_exc=tau_e, tau_syn_inh=tau_i, v_rest=0.0, v_th=20.0,
               v_reset=10.0, t_ref=2.0, i_bias=15.0 if w < 0 else 0.0)
    ts = np.linspace(0.05, 100.0, 2000)
    out = []
    for explicit in (False, True):
        net = ev.Network(seed=4)
        pop = net.population(5, m, v_init=(0.0, 15.0))
        if explicit:
            src = net.poisson_source(5, 3000.0, name="pop0_drive0")
            net.connect(src, pop, ev.one_to_one(), weight=w, delay=0.0)
        else:
            net.poisson_drive(pop, 3000.0, w)
            assert not net._drives            # not the lazy (delta) drive
        net.record_state(np.arange(5), ts)
        out.append(net.run(100.0))
    a, b = out
    assert len(a.spikes) > 5 or w < 0
    np.testing.assert_array_equal(a.spikes.times, b.spikes.times)
    np.testing.assert_array_equal(a.states.v, b.states.v)
    cur = a.states.i_exc if w >= 0 else a.states.i_inh
    assert np.abs(cur).max() > 1.0
    # V continuous: between samples 0.05 ms apart it moves by far less than a weight's jump
    free = np.abs(np.diff(a.states.v, axis=0))
    assert np.median(free) < 0.05 * abs(w)


@pytest.mark.parametrize("w_inh", [-5.0, -10.0, -30.0], ids=["delays", "delays-more", "cancels"])
def test_inhibition_moves_or_cancels_a_pending_exp_crossing(w_inh):
    """An all-inhibitory row tests only targets with a pending crossing (TEST_PENDING).
    Neuron 0 has one (an excitatory exp-synapse input at 1 ms makes it cross a few ms
    later); inhibition at 2 ms, before that crossing, moves it later or cancels it.
    Neuron 1 gets the same inhibition with no pending crossing and stays silent.  Spike
    times equal the slow reference simulator's."""
    p = dict(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
             t_ref=2.0, i_bias=0.0)
    net = ev.Network(seed=0)
    pop = net.population(2, ev.LIF(**p), v_init=np.array([12.0, 12.0]))
    exc = net.spike_source([1.0], [0], n=1)
    inh = net.spike_source([2.0], [0], n=1)
    net.connect(exc, pop, ev.from_lists([0], [0], [100.0], n_pre=1, n_post=2), delay=0.5)
    net.connect(inh, pop, ev.all_to_all(), weight=w_inh, delay=0.5)
    r = net.run(60.0)
    ref_t, ref_i = rs.simulate(2, p, [1.0, 2.0], [0, 1], [0, 1, 1], [0, 0, 1], [100.0, w_inh, w_inh],
                               [0.5, 0.5, 0.5], [], [], [], [], 60.0, v0=np.array([12.0, 12.0]))
    assert len(ref_t) == len(r.spikes.times)
    np.testing.assert_allclose(r.spikes.times, ref_t, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(r.spikes.ids, ref_i)
    assert not np.any(r.spikes.ids == 1)
    # without the inhibition neuron 0 crosses after it would have arrived (2.5 ms), so
    # it lands on a pending crossing; with it the first spike is later or absent
    net2 = ev.Network(seed=0)
    pop2 = net2.population(1, ev.LIF(**p), v_init=12.0)
    e2 = net2.spike_source([1.0], [0], n=1)
    net2.connect(e2, pop2, ev.one_to_one(), weight=100.0, delay=0.5)
    free = net2.run(60.0).spikes.times
    assert len(free) == 1 and free[0] > 2.5
    assert len(r.spikes.times) == 0 or r.spikes.times[0] > free[0]


@pytest.mark.parametrize("rel", [1e-6, 1e-9, -1e-9, -1e-6])
def test_row_bound_test_keeps_psps_near_threshold(rel):
    """Excitatory rows into leaky exp-synapse populations test each target in the row
    with the quick-reject bound and leave only the others to the threshold test of the
    instant (TEST_BOUND).  From rest the bound is the PSP peak itself, so a peak within
    1e-9 relative of v_th sits on the bound's margin: a peak above threshold must fire
    (at the reference simulator's time), one below must not.  Neuron 1 gets two inputs
    of 0.6 of that PSP at the same instant (each rejected alone, firing together) and
    neuron 2 the same two inputs 0.25 ms apart."""
    from eventsnn.models import psi_max as _psi_max
    p = dict(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
             t_ref=2.0, i_bias=0.0)
    w = p["v_th"] * (1.0 + rel) / (_psi_max(1.0 / 20.0, 1.0 / 5.0) / 20.0)
    net = ev.Network(seed=0)
    pop = net.population(3, ev.LIF(**p), v_init=0.0)
    times = [1.0, 2.0, 2.0, 2.0, 2.25]
    ids = [0, 1, 2, 3, 4]
    src = net.spike_source(times, ids, n=5)
    pre, post, ws = [0, 1, 2, 3, 4], [0, 1, 1, 2, 2], [w, 0.6 * w, 0.6 * w, 0.6 * w, 0.6 * w]
    net.connect(src, pop, ev.from_lists(pre, post, ws, n_pre=5, n_post=3), delay=0.5)
    r = net.run(60.0)
    ref_t, ref_i = rs.simulate(3, p, times, ids, pre, post, ws, [0.5] * 5, [], [], [], [], 60.0,
                               v0=np.zeros(3))
    assert (0 in r.spikes.ids) == (rel > 0)
    assert 1 in r.spikes.ids and 2 in r.spikes.ids
    np.testing.assert_array_equal(r.spikes.ids, ref_i)
    np.testing.assert_allclose(r.spikes.times, ref_t, rtol=0, atol=1e-9)


def _peak_weight(p, v0, peak):
    """The excitatory weight (mV) whose PSP, added to a neuron at v0 (mV) with no bias,
    makes its trajectory peak at ``peak`` (mV): bisection on the closed-form maximum of
    v(s) = a e^{-g s} + b e^{-se s}."""
    g, se, k = 1.0 / p["tau_m"], 1.0 / p["tau_syn_exc"], 1.0 / p["tau_m"]

    def vmax(w):
        b = k * w / (g - se)
        a = v0 - b
        ts = math.log(-(se * b) / (g * a)) / (se - g)
        return a * math.exp(-g * ts) + b * math.exp(-se * ts) if ts > 0 else v0

    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if vmax(mid) < peak else (lo, mid)
    return hi


@pytest.mark.parametrize("rel", [1e-6, 1e-9, -1e-9, -1e-6])
@pytest.mark.parametrize("inh", [None, "before", "after"])
def test_peak_reject_in_the_row_keeps_crossings_near_threshold(rel, inh):
    """A target whose quick-reject bound (``_below``) reaches v_th is tested in the row
    against the peak of its trajectory without inhibition (``_peak_reject``) and skipped
    when that stays below v_th.  Neurons at v0 = 12 mV (decaying, so the quick bound
    max(V, v_inf) + PSP peak is far too high) get one excitatory input whose trajectory
    peaks within 1e-9 or 1e-6 relative of v_th: above it must fire, below it must not,
    at the slow reference simulator's time; with an inhibitory input at the same instant,
    queued before or after it (which the row rejected first), the reference decides."""
    p = dict(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
             t_ref=2.0, i_bias=0.0)
    v0, t_in = 12.0, 0.5
    w = _peak_weight(p, v0 * math.exp(-t_in / p["tau_m"]), p["v_th"] * (1.0 + rel))
    net = ev.Network(seed=0)
    pop = net.population(1, ev.LIF(**p), v_init=v0)
    if inh is None:
        times, ids, pre, post, ws = [0.0], [0], [0], [0], [w]
    else:
        # sources fire in id order at one instant: the first row is delivered first
        times, ids, pre, post = [0.0, 0.0], [0, 1], [0, 1], [0, 0]
        ws = [w, -1e-7] if inh == "after" else [-1e-7, w]
    src = net.spike_source(times, ids, n=len(ids))
    net.connect(src, pop, ev.from_lists(pre, post, ws, n_pre=len(ids), n_post=1), delay=t_in)
    r = net.run(60.0)
    ref_t, ref_i = rs.simulate(1, p, times, ids, pre, post, ws, [t_in] * len(ids), [], [], [],
                               [], 60.0, v0=np.array([v0]))
    if inh is None:
        assert (len(r.spikes.times) > 0) == (rel > 0)
    np.testing.assert_array_equal(r.spikes.ids, ref_i)
    np.testing.assert_allclose(r.spikes.times, ref_t, rtol=0, atol=1e-9)


def test_ceiling_bounds_every_later_potential():
    """Leaky exp-synapse neurons in the frame representation keep a *ceiling* (in the
    t_last column, unused by frame neurons): an upper bound on V at every later time,
    raised by each excitatory input by its PSP peak, with which excitatory rows skip the
    threshold test of targets that cannot reach v_th.  After runs of a sparse network,
    every neuron without a pending crossing has a ceiling at or above the maximum of its
    own trajectory over the next 300 ms (closed form on a 0.01 ms grid; v_reset while
    refractory), and most ceilings are below threshold, so the cache is in use."""
    from eventsnn.engine.threshold import frame_state_of
    from eventsnn.models import P_G, P_K, P_SE, P_SI, P_VINF, P_VRESET, P_VTH
    net = sparse_lowrate(3000, seed=3)
    s = np.arange(0.0, 300.0, 0.01)
    for T in (37.3, 80.0, 151.0):
        net.run(T - net.t)
        A = net.plan.arrays
        N = net._state.neurons
        ST, P, t = N.block, A.pops.P, net.t
        used = 0
        checked = 0
        for n in range(net.n_neurons):
            p = int(np.searchsorted(A.pops.pop_off, n, side="right") - 1)
            if ST[n, 7] != INF:
                continue            # a pending crossing: the ceiling is not read
            t0 = max(t, ST[n, 4])   # the trajectory is free after the refractory period
            v0, ie0, ii0 = frame_state_of(P, p, n, t0, N)
            g, k, se, si, vinf = P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VINF]
            be, bi = k * ie0 / (g - se), k * ii0 / (g - si)
            v = vinf + (v0 - vinf - be - bi) * np.exp(-g * s) + be * np.exp(-se * s) \
                + bi * np.exp(-si * s)
            vmax = max(v.max(), P[p, P_VRESET] if ST[n, 4] > t else -INF)
            assert ST[n, 3] >= vmax - 1e-12, (T, n, ST[n, 3], vmax)
            checked += 1
            used += ST[n, 3] < P[p, P_VTH]
        assert checked > 2500 and used > 0.5 * checked


# ============================================================================ shared weights

def _per_synapse(net):
    """The same network with one stored weight per synapse instead of shared ones."""
    from eventsnn.connectivity import is_shared
    n = 0
    for pr in net.projections:
        if is_shared(pr.csr.weights):
            pr.csr.weights = np.array(pr.csr.weights)
            n += 1
    return n


@pytest.mark.parametrize("kind", ["sparse_lowrate", "brunel", "cuba"])
def test_shared_weight_equals_per_synapse_weights(kind):
    """A scalar weight is stored once (4 bytes per synapse, the target id, instead of 12):
    the network runs bitwise as with one stored weight per synapse (spikes, counts,
    final state), also with rows loaded ahead, and in the clock engine."""
    from eventsnn.engine.clock import ClockEngine
    make = {"sparse_lowrate": lambda: sparse_lowrate(2000, seed=2), "brunel": lambda: brunel(600, seed=2),
            "cuba": lambda: cuba(800, seed=2)}[kind]
    a, b = make(), make()
    assert _per_synapse(b) == len(b.projections)
    assert 4.0 <= a.synapse_bytes()["bytes_per_synapse"] < 4.01    # (+ 8 bytes per projection)
    assert b.synapse_bytes()["bytes_per_synapse"] == 12.0
    a._prefetch_pop = b._prefetch_pop = 10
    ra, rb = a.run(60.0), b.run(60.0)
    assert len(ra.spikes) > 20
    np.testing.assert_array_equal(ra.spikes.times, rb.spikes.times)
    np.testing.assert_array_equal(ra.spikes.ids, rb.spikes.ids)
    assert ra.counts == rb.counts
    assert np.array_equal(a._state.neurons.block, b._state.neurons.block, equal_nan=True)
    if kind != "sparse_lowrate":
        c, d = make(), make()
        _per_synapse(d)
        ca, cb = ClockEngine(c, 0.1).run(30.0), ClockEngine(d, 0.1).run(30.0)
        np.testing.assert_array_equal(ca.spikes.times, cb.spikes.times)


def test_set_weights_turns_a_shared_weight_into_per_synapse_weights():
    """set_weights on a projection with a shared weight (between runs) stores one weight
    per synapse from then on: the run continues bitwise as in a network that had
    per-synapse weights all along and got the same new weights."""
    out = []
    for per_synapse in (False, True):
        net = sparse_lowrate(2000, seed=5)
        if per_synapse:
            _per_synapse(net)
        net.run(30.0)
        pr = net.projections[0]
        w = pr.weights.copy()
        w[::3] = 1.7
        pr.set_weights(w)
        assert pr.weights.flags.writeable is False and np.array_equal(pr.weights, w)
        net.run(40.0)
        out.append(net.spikes)
    np.testing.assert_array_equal(out[0].times, out[1].times)
    np.testing.assert_array_equal(out[0].ids, out[1].ids)


# ============================================================================ stopping for room

def _t_ref0_drive_net(seed, T_rec):
    """Driven frame neurons with t_ref = 0: a row into them can fire any number of
    its targets, each of which needs room in the queue."""
    net = ev.Network(seed=seed)
    m = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
               t_ref=0.0)
    pop = net.population(80, m, v_init=(0.0, 20.0))
    net.poisson_drive(pop, 15000.0, 0.15)
    net.connect(pop, pop, ev.fixed_indegree(8), weight=-0.4, delay=1.0)
    net.record_state(np.array([1, 40]), np.linspace(0.0, T_rec, 11)[1:])
    return net, pop


ROOM_CASES = {
    "exp_poisson": _exp_poisson_net,            # per-synapse delays, exp rows
    "delta_drive": _delta_drive_net,            # driven delta rows, SWEEP, SAMPLE
    "t_ref0_drive": _t_ref0_drive_net,
    "sparse_lowrate": lambda seed, T: (sparse_lowrate(3000, seed=seed), None),
    "cuba": lambda seed, T: (cuba(800, seed=seed), None),
    "brunel": lambda seed, T: (brunel(1000, seed=seed), None),
}


def _grow_minimally(S, need, nspk):
    """``engine.loop.grow`` that adds only the room asked for to the heap and the spike
    records (lanes double as usual), so that the event loop stops for room again and
    again: in rows, threshold tests, sweeps, samples and at the end of runs."""
    from eventsnn.engine.queue import reserve
    from eventsnn.engine.state import SpikeRecord
    Q = S.queue
    n = int(Q.n[0])
    if n + need > Q.t.shape[0]:
        Q = Q._replace(**{f: np.concatenate([getattr(Q, f)[:n], np.empty(need, getattr(Q, f).dtype)])
                          for f in ("t", "aux", "seq", "kind", "a", "b")})

    def rec(R):
        i = int(R.count[0])
        if i + nspk <= R.t.shape[0]:
            return R
        return SpikeRecord(np.concatenate([R.t[:i], np.empty(nspk)]),
                           np.concatenate([R.n[:i], np.empty(nspk, np.int64)]), R.count)

    return S._replace(queue=reserve(Q, 0, nspk), spikes=rec(S.spikes), src_spikes=rec(S.src_spikes))


@pytest.mark.parametrize("kind", list(ROOM_CASES))
def test_stopping_for_room_anywhere_changes_nothing(kind, monkeypatch):
    """The event loop never allocates: when the queue or a spike record is full it stores
    its position and returns, the driver grows the arrays, and the loop continues where
    it stopped (in a row, a threshold test, a sweep, a sample or the drive at the end of
    a run).  With arrays that grow by only what is asked for (it then stops thousands of
    times), and in uneven pieces, spikes, samples, counts and the final state are
    bitwise those of a run with the usual doubling."""
    import eventsnn.network as NW
    T = 120.0
    ref, _ = ROOM_CASES[kind](4, T)
    r = ref.run(T)
    calls = []

    def grow(S, need, nspk):
        calls.append(need)
        return _grow_minimally(S, need, nspk)

    monkeypatch.setattr(NW, "grow", grow)
    tight, _ = ROOM_CASES[kind](4, T)
    tight.prepare()
    S = tight._state
    # no slack at all to start from
    tight._state = S._replace(spikes=S.spikes._replace(t=S.spikes.t[:0], n=S.spikes.n[:0]))
    for d in (17.3, 0.0, 50.0, T - 67.3):
        tight.run(d)
    assert len(r.spikes) > 20 and len(calls) > 20
    assert np.array_equal(tight.spikes.times, r.spikes.times)
    assert np.array_equal(tight.spikes.ids, r.spikes.ids)
    assert tight.counts == r.counts
    assert np.array_equal(tight._state.neurons.block, ref._state.neurons.block, equal_nan=True)
    if r.states is not None and len(r.states.times):
        a, b = tight._probes[0].samples, ref._probes[0].samples
        assert np.array_equal(a.times, b.times) and np.array_equal(a.v, b.v) and np.array_equal(a.i_exc, b.i_exc)


@pytest.mark.parametrize("kind", ["sparse_lowrate", "exp_poisson", "cuba"])
def test_lane_prefetch_and_unfused_sources_change_nothing(kind):
    """Networks with populations over 2^15 neurons load their lanes' rows ahead and
    deliver source spikes through the lanes instead of fusing them; forced here on small
    networks (``Network._prefetch_pop``), the spikes, counts of deliveries and final
    state are bitwise those of the default run."""
    T = 120.0
    runs = []
    for pf_pop in (None, 10):
        net, _ = ROOM_CASES[kind](6, T)
        net._prefetch_pop = pf_pop
        net.run(T * 0.4)
        net.run(T * 0.6)
        runs.append(net)
    ref = runs[0]
    fused = ref.plan.arrays.sources.lane
    assert len(ref.spikes) > 20
    for net in runs[1:]:
        assert fused.size == 0 or ((fused >= 0).all() and (net.plan.arrays.sources.lane < 0).all())
        np.testing.assert_array_equal(net.spikes.times, ref.spikes.times)
        np.testing.assert_array_equal(net.spikes.ids, ref.spikes.ids)
        # (source_spikes differs: a fused source's spike counts when it arrives, an
        # emitted one when it is emitted, so spikes in flight at the end of a run differ)
        for f in ("spikes", "syn_events", "source_syn_events", "threshold_tests"):
            assert getattr(net.counts, f) == getattr(ref.counts, f), f
        # (the state but the candidates' sequence numbers, which emitted source spikes shift)
        cols = [0, 1, 2, 3, 4, 6, 7]
        assert np.array_equal(net._state.neurons.block[:, cols], ref._state.neurons.block[:, cols],
                              equal_nan=True)


def test_queue_grows_in_the_middle_of_a_threshold_test():
    """One source spike makes 3000 neurons fire at one instant; each spike queues its
    deliveries (one lane event for its two rows of delay 2), more than the queue's
    delay-2 lane holds, so it grows while the threshold tests of that instant are under
    way (the loop returns for room and resumes at the same neuron).  Every neuron fires
    exactly once, at the input time, its deliveries all arrive, and rows loaded ahead give
    the same spikes and counts of deliveries."""
    m = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_th=20.0, v_reset=10.0, t_ref=5.0)
    out = []
    for pf_pop in (None, 0):
        net = ev.Network(seed=0)
        a = net.population(2000, m, v_init=0.0)
        b = net.population(1000, m, v_init=0.0)
        src = net.spike_source([1.0], [0], n=1)
        for post in (a, b):
            net.connect(src, post, ev.all_to_all(), weight=25.0, delay=1.0)
            net.connect(a, post, ev.fixed_indegree(1), weight=0.01, delay=2.0)
            net.connect(b, post, ev.fixed_indegree(1), weight=0.01, delay=2.0)
        net._prefetch_pop = pf_pop
        net.run(0.5)
        cap0 = net._state.queue.lane_t.shape[0]
        r = net.run(10.0)
        assert net._state.queue.lane_t.shape[0] > cap0 >= 2 * 64
        assert len(r.spikes) == 3000 and np.all(r.spikes.times == 2.0)
        assert np.array_equal(np.sort(r.spikes.ids), np.arange(3000))
        assert r.counts.syn_events == 3000 * 2
        out.append(r)
    assert np.array_equal(out[0].spikes.ids, out[1].spikes.ids)
    # (queue operations differ: the source is fused by default, not with pf_pop 0)
    for f in ("spikes", "syn_events", "source_syn_events", "threshold_tests", "state_advances"):
        assert getattr(out[0].counts, f) == getattr(out[1].counts, f), f
