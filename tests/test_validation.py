"""Bad input at the public entry points: LIF, Network building, Projection, run.

Every bad call must raise ValueError/TypeError (RuntimeError for structure changes
after the first run) with a message that names the argument and, where sensible, the
bad value, and must leave the network exactly as it was: same sizes, same sources,
projections and weights, same time, and a later run that is bitwise identical to the
run of an identical network that never saw the bad call.

(Connectivity builders on their own are covered by test_connectivity.py; here a few
CSR cases go through ``Network.connect``.)
"""
import math
from types import SimpleNamespace

import numpy as np
import pytest

import eventsnn as ev

T = 60.0  # ms per reference run
M = ev.LIF(i_bias=22.0)  # v_inf = 22 > v_th = 20: fires on its own


def _build(seed=1):
    """A small valid network with every kind of node; returns handles."""
    net = ev.Network(seed=seed)
    a = net.population(12, M, name="a", v_init=(0.0, 19.0))
    b = net.population(6, ev.LIF(tau_syn_exc=0.0, tau_syn_inh=0.0), name="b", v_init=5.0)
    s = net.spike_source([1.0, 2.5, 4.0, 30.0], [0, 1, 2, 0], n=3, name="s")
    p = net.poisson_source(4, 300.0, name="p")
    net.connect(p, a, ev.fixed_indegree(2), weight=6.0, delay=0.5)
    net.connect(s, b, ev.all_to_all(), weight=12.0, delay=1.0)
    net.connect(a, b, ev.fixed_probability(0.4), weight=4.0, delay=1.5)
    net.connect(a, a, ev.fixed_indegree(3), weight=-2.0, delay=2.0)
    net.connect(b, a, ev.from_lists([0, 1, 5], [3, 4, 11], [1.0, -1.0, 2.0], n_pre=6, n_post=12),
                weight=None, delay=0.8)
    net.record_state([0, 13], [5.0, 20.0])
    other = ev.Network(seed=1)
    other_pop = other.population(12, M, name="a")
    other_src = other.spike_source([1.0], [0], n=3)
    return SimpleNamespace(net=net, a=a, b=b, s=s, p=p, other=other, other_pop=other_pop,
                           other_src=other_src)


def _snapshot(net):
    """Everything a bad call could have changed (public view plus builder lists)."""
    return dict(
        n_neurons=net.n_neurons,
        n_synapses=net.n_synapses,
        n_projections=len(net.projections),
        populations=dict(net.populations),
        sources=[(type(g).__name__, g.name, g.size) for g in net._sources],
        drives=len(net._drives),
        records=len(net._probes),
        names=set(net._names),
        weights=[pr.weights.copy() for pr in net.projections],
        csr=[(pr.csr.indptr.copy(), pr.csr.indices.copy()) for pr in net.projections],
        delays=[pr.delay for pr in net.projections],
        t=net.t,
        prepared=net.plan is not None,
    )


def _assert_same(before, after):
    assert before.keys() == after.keys()
    for k in before:
        x, y = before[k], after[k]
        if k == "weights":
            assert len(x) == len(y)
            for u, v in zip(x, y):
                assert u.tobytes() == v.tobytes()
        elif k == "csr":
            assert len(x) == len(y)
            for (p0, i0), (p1, i1) in zip(x, y):
                assert np.array_equal(p0, p1) and np.array_equal(i0, i1)
        else:
            assert x == y, k


def _same_spikes(s1, s2):
    assert s1.times.dtype == s2.times.dtype
    assert s1.times.tobytes() == s2.times.tobytes()
    assert np.array_equal(s1.ids, s2.ids)


@pytest.fixture(scope="module")
def reference():
    """Spikes and state samples of the untouched network over [0, T]."""
    r = _build().net.run(T)
    assert len(r.spikes.times) > 20  # the comparison below is not vacuous
    return r


def _check_unchanged_and_runs(h, before, reference):
    _assert_same(before, _snapshot(h.net))
    r = h.net.run(T)
    _same_spikes(r.spikes, reference.spikes)
    assert r.states.v.tobytes() == reference.states.v.tobytes()


def _msg_has(exc_info, parts):
    msg = str(exc_info.value)
    for part in parts:
        assert part in msg, f"{part!r} not in message {msg!r}"


# ---------------------------------------------------------------------------
# LIF parameters
# ---------------------------------------------------------------------------
LIF_CASES = [
    ("tau_m=0", dict(tau_m=0.0), ValueError, ["tau_m", "0.0", "> 0"]),
    ("tau_m=-1", dict(tau_m=-1.0), ValueError, ["tau_m", "-1.0", "> 0"]),
    ("tau_m=nan", dict(tau_m=float("nan")), ValueError, ["tau_m", "nan"]),
    ("tau_m=-inf", dict(tau_m=-math.inf), ValueError, ["tau_m", "-inf"]),
    ("tau_m=inf,no tau_in", dict(tau_m=math.inf), ValueError, ["tau_in", "tau_m=inf"]),
    ("tau_syn_exc=-1", dict(tau_syn_exc=-1.0), ValueError, ["tau_syn_exc", "-1.0", ">= 0"]),
    ("tau_syn_inh=-0.5", dict(tau_syn_inh=-0.5), ValueError, ["tau_syn_inh", "-0.5", ">= 0"]),
    ("tau_syn_exc=inf", dict(tau_syn_exc=math.inf), ValueError, ["tau_syn_exc", "inf"]),
    ("t_ref=-0.1", dict(t_ref=-0.1), ValueError, ["t_ref", "-0.1", ">= 0"]),
    ("t_ref=nan", dict(t_ref=float("nan")), ValueError, ["t_ref", "nan"]),
    ("v_reset=v_th", dict(v_reset=20.0, v_th=20.0), ValueError, ["v_reset", "v_th", "20.0", "<"]),
    ("v_reset>v_th", dict(v_reset=25.0), ValueError, ["v_reset", "25.0", "v_th"]),
    ("v_th=nan", dict(v_th=float("nan")), ValueError, ["v_th", "nan"]),
    ("v_rest=inf", dict(v_rest=math.inf), ValueError, ["v_rest", "inf"]),
    ("i_bias=-inf", dict(i_bias=-math.inf), ValueError, ["i_bias", "-inf"]),
    ("tau_in=0", dict(tau_in=0.0), ValueError, ["tau_in", "0.0", "> 0"]),
    ("tau_in=-2,tau_m=inf", dict(tau_m=math.inf, tau_in=-2.0), ValueError, ["tau_in", "-2.0"]),
    ("v_th='a'", dict(v_th="a"), TypeError, ["v_th", "'a'"]),
    ("tau_m=None", dict(tau_m=None), TypeError, ["tau_m", "None"]),
    ("t_ref=True", dict(t_ref=True), TypeError, ["t_ref", "True"]),
    ("tau_syn_exc=[5]", dict(tau_syn_exc=[5.0]), TypeError, ["tau_syn_exc"]),
]


@pytest.mark.parametrize("kw, exc, parts", [c[1:] for c in LIF_CASES], ids=[c[0] for c in LIF_CASES])
def test_lif_rejects(kw, exc, parts):
    with pytest.raises(exc) as ei:
        ev.LIF(**kw)
    _msg_has(ei, parts)


def test_lif_accepts_boundaries():
    ev.LIF(tau_syn_exc=0.0, tau_syn_inh=0.0, t_ref=0.0)
    ev.LIF(tau_m=math.inf, tau_in=10.0)
    ev.LIF(v_reset=19.999, v_th=20.0)
    ev.LIF(tau_m=np.float32(10.0), t_ref=np.int64(1))


def test_lif_is_immutable():
    m = ev.LIF()
    with pytest.raises(AttributeError):
        m.tau_m = -1.0
    assert m.tau_m == 20.0


# ---------------------------------------------------------------------------
# Network building: bad call, then the network is unchanged and runs as before
# ---------------------------------------------------------------------------
def _csr_none(indptr, indices, weights, n_post, delays=None):
    """A CSR that skipped its O(nnz) checks: Network.connect must still catch it."""
    return ev.CSR(np.asarray(indptr), np.asarray(indices), np.asarray(weights, float), delays,
                  n_post=n_post, check="none")


def _mutated_csr(h):
    c = ev.from_lists([0, 1], [0, 1], [1.0, 1.0], n_pre=12, n_post=6)
    c.indices[1] = 6  # out of range after construction
    return h.net.connect(h.a, h.b, c, weight=None, delay=1.0)


_IP12 = np.r_[0, 1, 2, np.full(10, 3)]  # indptr of a (12 -> 6) CSR with 3 synapses

BUILD_CASES = [
    # --- population
    ("population n=0", lambda h: h.net.population(0, M), ValueError, ["n=0", ">= 1"]),
    ("population n=-3", lambda h: h.net.population(-3, M), ValueError, ["n=-3", ">= 1"]),
    ("population n=2.5", lambda h: h.net.population(2.5, M), TypeError, ["n", "2.5", "int"]),
    ("population model str", lambda h: h.net.population(3, "not a model"), TypeError,
     ["model", "LIF", "str"]),
    ("population model None", lambda h: h.net.population(3, None), TypeError, ["model", "LIF"]),
    ("population v_init=v_th", lambda h: h.net.population(3, M, v_init=20.0), ValueError,
     ["v_init", "20.0", "v_th"]),
    ("population v_init array >= v_th", lambda h: h.net.population(3, M, v_init=[0.0, 25.0, 1.0]),
     ValueError, ["v_init", "25.0", "v_th"]),
    ("population v_init nan", lambda h: h.net.population(3, M, v_init=[0.0, np.nan, 1.0]),
     ValueError, ["v_init", "nan", "finite"]),
    ("population v_init tuple high > v_th", lambda h: h.net.population(3, M, v_init=(0.0, 25.0)),
     ValueError, ["v_init", "25.0", "v_th"]),
    ("population v_init tuple low >= high", lambda h: h.net.population(3, M, v_init=(5.0, 1.0)),
     ValueError, ["v_init", "low < high"]),
    ("population v_init tuple nan", lambda h: h.net.population(3, M, v_init=(np.nan, 1.0)),
     ValueError, ["v_init[0]", "nan"]),
    ("population v_init shape", lambda h: h.net.population(3, M, v_init=[0.0, 1.0]), ValueError,
     ["v_init", "(2,)", "(3,)"]),
    ("population v_init str", lambda h: h.net.population(3, M, v_init="low"), TypeError,
     ["v_init", "'low'"]),
    ("population duplicate name", lambda h: h.net.population(3, M, name="a"), ValueError,
     ["name", "'a'"]),
    ("population name int", lambda h: h.net.population(3, M, name=7), TypeError, ["name", "int"]),
    # --- spike_source
    ("spike_source length mismatch", lambda h: h.net.spike_source([1.0, 2.0], [0]), ValueError,
     ["times", "ids", "2", "1"]),
    ("spike_source negative time", lambda h: h.net.spike_source([1.0, -0.5], [0, 1]), ValueError,
     ["times", "-0.5", ">= 0"]),
    ("spike_source nan time", lambda h: h.net.spike_source([np.nan], [0]), ValueError,
     ["times", "nan", "finite"]),
    ("spike_source inf time", lambda h: h.net.spike_source([1.0, np.inf], [0, 0]), ValueError,
     ["times", "inf", "finite"]),
    ("spike_source id >= n", lambda h: h.net.spike_source([1.0, 2.0], [0, 3], n=3), ValueError,
     ["ids", "3", "[0, 3)"]),
    ("spike_source negative id", lambda h: h.net.spike_source([1.0, 2.0], [-1, 0], n=3), ValueError,
     ["ids", "-1", "[0, 3)"]),
    ("spike_source float ids", lambda h: h.net.spike_source([1.0], [0.5]), TypeError,
     ["ids", "integer"]),
    ("spike_source str times", lambda h: h.net.spike_source(["1"], [0]), TypeError, ["times"]),
    ("spike_source n=0", lambda h: h.net.spike_source([], [], n=0), ValueError, ["n=0", ">= 1"]),
    ("spike_source empty no n", lambda h: h.net.spike_source([], []), ValueError, ["n", ">= 1"]),
    # --- poisson_source
    ("poisson_source rate<0", lambda h: h.net.poisson_source(3, -1.0), ValueError,
     ["rate", "-1.0", ">= 0"]),
    ("poisson_source rate nan", lambda h: h.net.poisson_source(3, float("nan")), ValueError,
     ["rate", "nan", "finite"]),
    ("poisson_source rate inf", lambda h: h.net.poisson_source(3, math.inf), ValueError,
     ["rate", "inf", "finite"]),
    ("poisson_source rate 0-d nan", lambda h: h.net.poisson_source(3, np.array(np.nan)), ValueError,
     ["rate", "nan"]),
    ("poisson_source rate array<0", lambda h: h.net.poisson_source(3, [1.0, -2.0, 3.0]), ValueError,
     ["rate", "-2.0", ">= 0"]),
    ("poisson_source rate array nan", lambda h: h.net.poisson_source(3, [1.0, np.nan, 3.0]),
     ValueError, ["rate", "nan"]),
    ("poisson_source rate shape", lambda h: h.net.poisson_source(3, [1.0, 2.0]), ValueError,
     ["rate", "(2,)", "(3,)"]),
    ("poisson_source rate str", lambda h: h.net.poisson_source(3, "fast"), TypeError,
     ["rate", "'fast'"]),
    ("poisson_source n=0", lambda h: h.net.poisson_source(0, 10.0), ValueError, ["n=0", ">= 1"]),
    # --- poisson_drive
    ("poisson_drive rate<0", lambda h: h.net.poisson_drive(h.b, -5.0, 1.0), ValueError,
     ["rate", "-5.0", ">= 0"]),
    ("poisson_drive weight nan", lambda h: h.net.poisson_drive(h.b, 5.0, float("nan")), ValueError,
     ["weight", "nan"]),
    ("poisson_drive weight inf (source path)", lambda h: h.net.poisson_drive(h.a, 5.0, math.inf),
     ValueError, ["weight", "inf"]),
    ("poisson_drive delay<0", lambda h: h.net.poisson_drive(h.a, 5.0, 1.0, delay=-1.0), ValueError,
     ["delay", "-1.0"]),
    ("poisson_drive on a source", lambda h: h.net.poisson_drive(h.s, 5.0, 1.0), TypeError, ["pop"]),
    ("poisson_drive other network", lambda h: h.net.poisson_drive(h.other_pop, 5.0, 1.0),
     ValueError, ["pop", "different Network"]),
    # --- connect: rules
    ("fixed_indegree(-1)", lambda h: h.net.connect(h.a, h.b, ev.fixed_indegree(-1), weight=1.0),
     ValueError, ["k", "-1", ">= 0"]),
    ("fixed_indegree(1.5)", lambda h: h.net.connect(h.a, h.b, ev.fixed_indegree(1.5), weight=1.0),
     TypeError, ["k", "1.5"]),
    ("fixed_indegree k > n_pre no multapses",
     lambda h: h.net.connect(h.b, h.a, ev.fixed_indegree(7, allow_multapses=False), weight=1.0),
     ValueError, ["k=7"]),
    ("fixed_outdegree(-2)", lambda h: h.net.connect(h.a, h.b, ev.fixed_outdegree(-2), weight=1.0),
     ValueError, ["k", "-2"]),
    ("fixed_probability(1.5)",
     lambda h: h.net.connect(h.a, h.b, ev.fixed_probability(1.5), weight=1.0),
     ValueError, ["p", "1.5", "[0, 1]"]),
    ("fixed_probability(nan)",
     lambda h: h.net.connect(h.a, h.b, ev.fixed_probability(float("nan")), weight=1.0),
     ValueError, ["p", "nan"]),
    ("one_to_one size mismatch", lambda h: h.net.connect(h.a, h.b, ev.one_to_one(), weight=1.0),
     ValueError, ["one_to_one", "12", "6"]),
    ("rule str", lambda h: h.net.connect(h.a, h.b, "all", weight=1.0), TypeError, ["rule", "str"]),
    ("rule without weight", lambda h: h.net.connect(h.a, h.b, ev.all_to_all()), ValueError,
     ["weight"]),
    # --- connect: delays
    ("delay=0 from neurons", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0, delay=0.0),
     ValueError, ["delay", "0.0", "> 0"]),
    ("delay=-1", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0, delay=-1.0),
     ValueError, ["delay", "-1.0"]),
    ("delay=-1 from source", lambda h: h.net.connect(h.s, h.b, ev.all_to_all(), weight=1.0, delay=-1.0),
     ValueError, ["delay", "-1.0", ">= 0"]),
    ("delay=nan", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0, delay=float("nan")),
     ValueError, ["delay", "nan", "finite"]),
    ("delay=inf", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0, delay=math.inf),
     ValueError, ["delay", "inf", "finite"]),
    ("delay=None", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0, delay=None),
     ValueError, ["delay"]),
    ("delay str", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0, delay="1"),
     TypeError, ["delay", "'1'"]),
    ("delay array with 0 from neurons",
     lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0, delay=np.r_[np.ones(71), 0.0]),
     ValueError, ["delay", "0.0", "> 0"]),
    ("delay array nan",
     lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0, delay=np.r_[np.nan, np.ones(71)]),
     ValueError, ["delay", "nan"]),
    ("delay array wrong length",
     lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0, delay=np.ones(5)),
     ValueError, ["delay", "72", "5"]),
    # --- connect: weights
    ("weight=nan", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=float("nan")),
     ValueError, ["weight", "nan", "finite"]),
    ("weight=inf", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=math.inf),
     ValueError, ["weight", "inf", "finite"]),
    ("weight array wrong length", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=np.ones(70)),
     ValueError, ["weight", "72", "70"]),
    ("weight array with inf",
     lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=np.r_[np.ones(71), -np.inf]),
     ValueError, ["weight", "-inf"]),
    ("weight callable nan",
     lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=lambda rng, n: np.full(n, np.nan)),
     ValueError, ["weight", "nan"]),
    ("weight str", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight="1"), TypeError,
     ["weight", "'1'"]),
    # --- connect: who is connected
    ("pre from another Network", lambda h: h.net.connect(h.other_pop, h.b, ev.all_to_all(), weight=1.0),
     ValueError, ["pre", "different Network"]),
    ("source from another Network",
     lambda h: h.net.connect(h.other_src, h.b, ev.all_to_all(), weight=1.0),
     ValueError, ["pre", "different Network"]),
    ("post from another Network", lambda h: h.net.connect(h.a, h.other_pop, ev.all_to_all(), weight=1.0),
     ValueError, ["post", "different Network"]),
    ("post is a source", lambda h: h.net.connect(h.a, h.s, ev.all_to_all(), weight=1.0), TypeError,
     ["post", "SpikeSource"]),
    ("post is a poisson source", lambda h: h.net.connect(h.s, h.p, ev.all_to_all(), weight=1.0),
     TypeError, ["post", "PoissonSource"]),
    ("pre is an array", lambda h: h.net.connect(np.arange(3), h.b, ev.all_to_all(), weight=1.0),
     TypeError, ["pre", "ndarray"]),
    # --- connect: ready CSRs
    ("from_lists pre out of range",
     lambda h: h.net.connect(h.a, h.b, ev.from_lists([0, 12], [0, 1], 1.0, n_pre=12, n_post=6)),
     ValueError, ["pre", "12", "[0, 12)"]),
    ("from_lists post out of range",
     lambda h: h.net.connect(h.a, h.b, ev.from_lists([0, 1], [0, 6], 1.0, n_pre=12, n_post=6)),
     ValueError, ["post", "6", "[0, 6)"]),
    ("from_lists weight nan",
     lambda h: h.net.connect(h.a, h.b, ev.from_lists([0, 1], [0, 1], [1.0, np.nan], n_pre=12, n_post=6)),
     ValueError, ["weight", "nan"]),
    ("from_lists shape != pre/post",
     lambda h: h.net.connect(h.a, h.b, ev.from_lists([0, 1], [0, 1], 1.0, n_pre=10, n_post=6)),
     ValueError, ["rule", "(10, 6)", "(12, 6)"]),
    ("CSR with weight",
     lambda h: h.net.connect(h.a, h.b, ev.from_lists([0], [0], 1.0, n_pre=12, n_post=6), weight=1.0),
     ValueError, ["weight", "None"]),
    ("CSR without delays and delay=None",
     lambda h: h.net.connect(h.a, h.b, ev.from_lists([0], [0], 1.0, n_pre=12, n_post=6), delay=None),
     ValueError, ["delay"]),
    ("CSR with delays and a delay",
     lambda h: h.net.connect(h.a, h.b, ev.from_lists([0], [0], 1.0, delay=[2.0], n_pre=12, n_post=6),
                             delay=1.0),
     ValueError, ["delay", "None"]),
    ("CSR delay=0 from neurons",
     lambda h: h.net.connect(h.a, h.b, ev.from_lists([0], [0], 1.0, n_pre=12, n_post=6), delay=0.0),
     ValueError, ["delay", "0.0", "> 0"]),
    ("CSR indptr too short for data",
     lambda h: h.net.connect(h.a, h.b, ev.CSR([0, 1, 2], [0, 1, 2], [1.0, 1.0, 1.0], n_post=6)),
     ValueError, ["indptr[-1]", "3", "2"]),
    ("CSR indptr length != n_pre+1",
     lambda h: h.net.connect(h.a, h.b, ev.CSR([0, 1, 3], [0, 1, 2], [1.0, 1.0, 1.0], n_post=6)),
     ValueError, ["rule", "(2, 6)", "(12, 6)"]),
    ("CSR indptr[0] != 0",
     lambda h: h.net.connect(h.a, h.b, ev.CSR(np.r_[1, _IP12[1:]], [0, 1, 2], [1.0] * 3, n_post=6)),
     ValueError, ["indptr[0]", "1"]),
    ("CSR non-monotone indptr",
     lambda h: h.net.connect(h.a, h.b, ev.CSR(np.r_[0, 2, 1, _IP12[3:]], [0, 1, 2], [1.0] * 3,
                                              n_post=6)),
     ValueError, ["indptr", "non-decreasing", "2", "1"]),
    ("CSR indices >= n_post",
     lambda h: h.net.connect(h.a, h.b, ev.CSR(_IP12, [0, 1, 6], [1.0] * 3, n_post=6)),
     ValueError, ["indices", "6", "[0, 6)"]),
    ("CSR weights nan",
     lambda h: h.net.connect(h.a, h.b, ev.CSR(_IP12, [0, 1, 2], [1.0, np.nan, 1.0], n_post=6)),
     ValueError, ["weights", "nan"]),
    ("CSR delays <= 0",
     lambda h: h.net.connect(h.a, h.b, ev.CSR(_IP12, [0, 1, 2], [1.0] * 3, [1.0, 0.0, 1.0], n_post=6),
                             delay=None),
     ValueError, ["delays", "0.0", "> 0"]),
    ("unchecked CSR non-monotone indptr",
     lambda h: h.net.connect(h.a, h.b, _csr_none(np.r_[0, 2, 1, _IP12[3:]], [0, 1, 2], [1.0] * 3, 6)),
     ValueError, ["indptr", "non-decreasing"]),
    ("unchecked CSR indices >= n_post",
     lambda h: h.net.connect(h.a, h.b, _csr_none(_IP12, [0, 1, 9], [1.0] * 3, 6)),
     ValueError, ["indices", "9", "[0, 6)"]),
    ("unchecked CSR weights inf",
     lambda h: h.net.connect(h.a, h.b, _csr_none(_IP12, [0, 1, 2], [1.0, np.inf, 1.0], 6)),
     ValueError, ["weights", "inf"]),
    ("CSR modified after construction", _mutated_csr, ValueError, ["indices", "6", "[0, 6)"]),
    # --- record_state (the base network already records; these fail before that check)
    ("record_state id >= n_neurons", lambda h: h.net.record_state([0, 18], [1.0]), ValueError,
     ["ids", "18", "[0, 18)"]),
    ("record_state negative id", lambda h: h.net.record_state([-1], [1.0]), ValueError,
     ["ids", "-1", "[0, 18)"]),
    ("record_state float ids", lambda h: h.net.record_state([0.0], [1.0]), TypeError, ["ids"]),
    ("record_state nan time", lambda h: h.net.record_state([0], [1.0, np.nan]), ValueError,
     ["times", "nan"]),
    ("record_state negative time", lambda h: h.net.record_state([0], [-3.0]), ValueError,
     ["times", "-3.0", ">= 0"]),
    ("record_state str times", lambda h: h.net.record_state([0], ["1"]), TypeError, ["times"]),
    ("record_state name twice", lambda h: h.net.record_state([0], [1.0], name="probe0"), ValueError,
     ["name", "probe0", "already"]),
]


@pytest.mark.parametrize("call, exc, parts", [c[1:] for c in BUILD_CASES],
                         ids=[c[0] for c in BUILD_CASES])
def test_build_rejects_and_leaves_network_unchanged(call, exc, parts, reference):
    h = _build()
    before = _snapshot(h.net)
    with pytest.raises(exc) as ei:
        call(h)
    _msg_has(ei, parts)
    _check_unchanged_and_runs(h, before, reference)


def test_enough_cases():
    assert len(LIF_CASES) + len(BUILD_CASES) >= 25


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------
RUN_CASES = [
    ("run(-1)", dict(duration=-1.0), ValueError, ["duration", "-1.0", ">= 0"]),
    ("run(nan)", dict(duration=float("nan")), ValueError, ["duration", "nan", "finite"]),
    ("run(inf)", dict(duration=math.inf), ValueError, ["duration", "inf", "finite"]),
    ("run('10')", dict(duration="10"), TypeError, ["duration", "'10'"]),
    ("run(None)", dict(duration=None), TypeError, ["duration", "None"]),
    ("run(True)", dict(duration=True), TypeError, ["duration", "True"]),
    ("max_events=0", dict(duration=10.0, max_events=0), ValueError, ["max_events", "0", ">= 1"]),
    ("max_events=-5", dict(duration=10.0, max_events=-5), ValueError, ["max_events", "-5"]),
    ("max_events=1.5", dict(duration=10.0, max_events=1.5), TypeError, ["max_events", "1.5"]),
]


@pytest.mark.parametrize("kw, exc, parts", [c[1:] for c in RUN_CASES], ids=[c[0] for c in RUN_CASES])
def test_run_rejects_before_first_run(kw, exc, parts, reference):
    h = _build()
    before = _snapshot(h.net)
    with pytest.raises(exc) as ei:
        h.net.run(**kw)
    _msg_has(ei, parts)
    assert h.net.t == 0.0 and len(h.net.spikes.times) == 0
    _check_unchanged_and_runs(h, before, reference)


@pytest.mark.parametrize("kw, exc, parts", [c[1:] for c in RUN_CASES], ids=[c[0] for c in RUN_CASES])
def test_run_rejects_after_a_run(kw, exc, parts):
    h, ref = _build(), _build()
    h.net.run(T / 2)
    ref.net.run(T / 2)
    t_before = h.net.t
    counts_before = h.net.counts
    with pytest.raises(exc) as ei:
        h.net.run(**kw)
    _msg_has(ei, parts)
    assert h.net.t == t_before == T / 2
    assert h.net.counts == counts_before
    r, rr = h.net.run(T / 2), ref.net.run(T / 2)
    assert h.net.t == ref.net.t
    _same_spikes(r.spikes, rr.spikes)
    _same_spikes(h.net.spikes, ref.net.spikes)


def test_run_zero_duration_is_allowed(reference):
    h = _build()
    r = h.net.run(0.0)
    assert h.net.t == 0.0 and len(r.spikes.times) == 0


def test_run_without_populations():
    net = ev.Network()
    net.spike_source([1.0], [0])
    with pytest.raises(RuntimeError, match="population"):
        net.run(1.0)
    assert net.t == 0.0


# ---------------------------------------------------------------------------
# structure is frozen after the first run
# ---------------------------------------------------------------------------
FROZEN = [
    ("population", lambda h: h.net.population(3, M)),
    ("spike_source", lambda h: h.net.spike_source([1.0], [0])),
    ("poisson_source", lambda h: h.net.poisson_source(2, 10.0)),
    ("poisson_drive", lambda h: h.net.poisson_drive(h.b, 10.0, 1.0)),
    ("connect", lambda h: h.net.connect(h.a, h.b, ev.all_to_all(), weight=1.0)),
    ("connect CSR", lambda h: h.net.connect(h.a, h.b, ev.from_lists([0], [0], 1.0, n_pre=12, n_post=6))),
    ("record_state", lambda h: h.net.record_state([0], [50.0])),
]


@pytest.mark.parametrize("call", [c[1] for c in FROZEN], ids=[c[0] for c in FROZEN])
def test_structure_change_after_run_raises(call):
    h, ref = _build(), _build()
    h.net.run(T / 2)
    ref.net.run(T / 2)
    before = _snapshot(h.net)
    with pytest.raises(RuntimeError) as ei:
        call(h)
    _msg_has(ei, ["after the network has run (or was prepared)"])
    _assert_same(before, _snapshot(h.net))
    _same_spikes(h.net.run(T / 2).spikes, ref.net.run(T / 2).spikes)


# ---------------------------------------------------------------------------
# Projection.set_weights
# ---------------------------------------------------------------------------
def _w_bad(n):
    w = np.ones(n)
    w[n // 2] = np.nan
    return w


SET_WEIGHT_CASES = [
    ("nan", lambda n: _w_bad(n), ValueError, ["w", "nan", "finite"]),
    ("inf", lambda n: np.r_[np.ones(n - 1), np.inf], ValueError, ["w", "inf", "finite"]),
    ("too short", lambda n: np.ones(n - 1), ValueError, ["w", "shape"]),
    ("too long", lambda n: np.ones(n + 1), ValueError, ["w", "shape"]),
    ("2-D", lambda n: np.ones((n, 1)), ValueError, ["w", "shape"]),
    ("scalar", lambda n: 1.0, ValueError, ["w", "shape"]),
    ("strings", lambda n: np.array(["1"] * n), TypeError, ["w", "dtype"]),
    ("complex", lambda n: np.ones(n, complex), TypeError, ["w", "complex"]),
]


@pytest.mark.parametrize("when", ["before run", "after run"])
@pytest.mark.parametrize("make, exc, parts", [c[1:] for c in SET_WEIGHT_CASES],
                         ids=[c[0] for c in SET_WEIGHT_CASES])
def test_set_weights_rejects_and_keeps_weights(make, exc, parts, when):
    h, ref = _build(), _build()
    if when == "after run":
        h.net.run(T / 2)
        ref.net.run(T / 2)
    proj = h.net.projections[2]  # a -> b, fixed_probability
    n = proj.n_synapses
    assert n > 2
    before = _snapshot(h.net)
    with pytest.raises(exc) as ei:
        proj.set_weights(make(n))
    _msg_has(ei, parts)
    if exc is ValueError and parts[-1] == "shape":
        _msg_has(ei, [f"({n},)"])
    _assert_same(before, _snapshot(h.net))
    _same_spikes(h.net.run(T / 2).spikes, ref.net.run(T / 2).spikes)


def test_set_weights_valid_still_works():
    h, ref = _build(), _build()
    w = np.linspace(-1.0, 3.0, h.net.projections[2].n_synapses)
    h.net.projections[2].set_weights(w)
    ref.net.projections[2].set_weights(w.copy())
    assert h.net.projections[2].weights.tobytes() == w.tobytes()
    _same_spikes(h.net.run(T).spikes, ref.net.run(T).spikes)


def test_weights_view_is_read_only():
    h = _build()
    w = h.net.projections[0].weights
    with pytest.raises(ValueError):
        w[0] = np.nan
    assert np.isfinite(h.net.projections[0].weights).all()


# ---------------------------------------------------------------------------
# Network construction and boundaries that must be accepted
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed, exc, parts", [
    (-1, ValueError, ["seed", "-1"]),
    (1.5, TypeError, ["seed", "1.5"]),
    ("1", TypeError, ["seed", "'1'"]),
    (2**63, ValueError, ["seed", "2**63"]),
])
def test_network_seed(seed, exc, parts):
    with pytest.raises(exc) as ei:
        ev.Network(seed=seed)
    _msg_has(ei, parts)


def test_boundary_values_are_accepted():
    net = ev.Network(seed=3)
    a = net.population(4, ev.LIF(t_ref=0.0), v_init=(0.0, 20.0))       # high == v_th is fine
    b = net.population(2, ev.LIF(tau_syn_exc=0.0, tau_syn_inh=0.0), v_init=np.float64(19.5))
    s = net.spike_source([0.0, 0.0], [0, 1], n=2)                      # t = 0 spikes
    p = net.poisson_source(2, 0.0)                                     # rate 0
    net.connect(s, a, ev.all_to_all(), weight=25.0, delay=0.0)         # delay 0 from a source
    net.connect(p, b, ev.one_to_one(), weight=1.0, delay=0.0)
    net.connect(a, b, ev.fixed_probability(0.0), weight=1.0, delay=1e-9)
    net.connect(a, b, ev.fixed_indegree(0), weight=0.0)
    net.poisson_drive(b, 0.0, 1.0)
    net.record_state([], [])
    r = net.run(5.0)
    assert net.t == 5.0 and r.t_stop == 5.0
    assert net.n_neurons == 6 and net.n_synapses == 2 * 4 + 2
