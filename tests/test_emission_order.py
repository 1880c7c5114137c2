"""Issue 18 (first step): a canonical order of same-instant inputs.

Inputs that arrive at a neuron at the same time are summed in the order of their
sequence numbers, i.e. of their spikes' queueing.  Spikes of neurons now wait for the end
of their emission window (``Consts.window_dt``, the smallest delay out of a population)
and are queued there in (time, neuron) order (``emit.emit_window``), so that order no
longer depends on the order of an instant's threshold tests or on when the lazy drive
finds a spike.  That is what a partitioned run needs to sum the same floats in the same
order as one process.  These tests check the order itself (by permuting the order in
which an instant's neurons are tested), the sort, runs split and saved while spikes
wait, and the state check.
"""
import itertools
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventsnn as ev
from eventsnn import connectivity as cx
from eventsnn.engine.emit import sort_window
from eventsnn.engine.state import SpikeRecord
from eventsnn.models import LIF

# a non-leaky integrator with delta synapses: V is v_init plus the sum of its inputs, in
# the order they were applied
INTEGRATOR = LIF(tau_m=np.inf, tau_in=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0,
                 v_th=1000.0, v_reset=0.0, t_ref=0.0)
RELAY = LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0, v_reset=0.0,
            t_ref=2.0)
# weights whose float sums depend on the order of addition
W3 = (0.1, 0.7, 0.3)


def _fan_in(order):
    """A source spike at 1 ms reaches relays A, B, C (in ``order``: the order of the
    source's row, hence of their threshold tests) at 2 ms; all three fire then and reach
    an integrator at 3 ms with weights W3."""
    net = ev.Network(seed=1)
    relays = net.population(3, RELAY, name="relays")
    out = net.population(1, INTEGRATOR, name="out", v_init=0.0)
    src = net.spike_source([1.0], [0], n=1)
    idx = np.array(order, dtype=np.int32)
    net.connect(src, relays, cx.CSR(np.array([0, 3]), idx, np.full(3, 30.0), n_post=3), delay=1.0)
    net.connect(relays, out, cx.CSR(np.array([0, 1, 2, 3]), np.zeros(3, np.int32), np.array(W3), n_post=1),
                delay=1.0)
    net.record_state(out, times=[3.5], variables=("v",))
    return net


def test_the_weights_do_depend_on_the_order():
    """(The test below means something: these sums differ by order.)"""
    sums = {((0.0 + W3[a]) + W3[b]) + W3[c] for a, b, c in itertools.permutations(range(3))}
    assert len(sums) > 1


def test_same_instant_inputs_are_summed_in_neuron_order():
    """Whatever order the relays are tested (and so fire) in, their inputs reach the
    integrator in the order of their ids: its potential is bitwise v_init + w_A + w_B + w_C."""
    want = ((0.0 + W3[0]) + W3[1]) + W3[2]
    for order in itertools.permutations(range(3)):
        net = _fan_in(order)
        res = net.run(5.0)
        assert np.array_equal(res.spikes.ids, [0, 1, 2]) and np.array_equal(res.spikes.times, [2.0] * 3)
        assert res.states.v[0, 0] == want, order


def test_spikes_wait_across_a_run_boundary_and_a_file():
    """Split at 2.5 ms, the relays' spikes (2 ms) wait for the window that ends at 3 ms
    in the state; runs split there, or saved and loaded there, continue bitwise."""
    one = _fan_in((2, 0, 1)).run(5.0)
    net = _fan_in((2, 0, 1))
    a = net.run(2.5)
    assert int(net._state.emitq.count[0]) == 3
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.npz")
        ev.save(net, path)
        net2 = ev.load(path)
    b = net2.run(2.5)
    c = net.run(2.5)
    for r in (b, c):
        assert r.states.v[0, 0] == one.states.v[0, 0]
        assert np.array_equal(np.concatenate([a.spikes.times, r.spikes.times]), one.spikes.times)
    assert b.counts == c.counts


def test_a_state_with_a_foreign_waiting_spike_is_refused():
    from eventsnn.plan import check_state
    net = _fan_in((0, 1, 2))
    net.run(2.5)
    S = net._state
    check_state(net.plan, S)
    S.emitq.n[0] = 3            # the integrator: no synapses out of it
    with pytest.raises(ValueError, match="emitq"):
        check_state(net.plan, S)
    S.emitq.n[0] = 7            # no such neuron
    with pytest.raises(ValueError, match="emitq"):
        check_state(net.plan, S)


def test_sources_and_neurons_do_not_share_a_lane():
    net = _fan_in((0, 1, 2)).prepare()
    assert list(net.plan.arrays.graph.lane_delay) == [1.0, 1.0]


@pytest.mark.parametrize("shape", ["sorted", "ties", "late", "reversed", "random"])
@pytest.mark.parametrize("m", [0, 1, 2, 17, 500])
def test_sort_window(shape, m):
    rng = np.random.default_rng(m)
    t = np.sort(rng.integers(0, 40, m) * 0.25)
    n = rng.integers(0, 50, m)
    if shape == "sorted":
        o = np.lexsort((n, t))
        t, n = t[o], n[o]
    elif shape == "late" and m > 2:
        # a few spikes found late, out of time order
        k = rng.choice(m, max(1, m // 20), replace=False)
        t[k] -= 3.0
    elif shape == "reversed":
        t, n = t[::-1].copy(), n[::-1].copy()
    elif shape == "random":
        p = rng.permutation(m)
        t, n = t[p], n[p]
    # (duplicates of (t, n) cannot happen in the engine; drop them so the order is total)
    key = np.unique(np.stack([t, n]), axis=1) if m else np.zeros((2, 0))
    t, n = key[0], key[1].astype(np.int64)
    p = rng.permutation(len(t)) if shape in ("random", "reversed") else np.arange(len(t))
    t, n = t[p].copy(), n[p].copy()
    if shape == "reversed":
        o = np.lexsort((n, t))[::-1]
        t, n = t[o].copy(), n[o].copy()
    cap = len(t) + 5
    rec = SpikeRecord(np.full(cap, np.nan), np.full(cap, -1, np.int64), np.array([len(t)], np.int64))
    rec.t[:len(t)] = t
    rec.n[:len(t)] = n
    sort_window(rec)
    o = np.lexsort((n, t))
    assert np.array_equal(rec.t[:len(t)], t[o]) and np.array_equal(rec.n[:len(t)], n[o])
    assert int(rec.count[0]) == len(t) and np.isnan(rec.t[len(t):]).all()


# --------------------------------------------------------------- random networks
@st.composite
def tie_networks(draw):
    """Small networks with many simultaneous inputs: source spikes on a coarse grid,
    delays from {0.5, 1, 1.5} ms, delta or exp synapses, some neurons driven; the
    connectivity has no repeated (pre, post) pair, so permuting a row changes only the
    order of the tests, never the order of the additions into one neuron."""
    n = draw(st.integers(3, 12))
    exp = draw(st.booleans())
    driven = draw(st.booleans())
    n_src = draw(st.integers(1, 4))
    k = draw(st.integers(1, 30))
    times = draw(st.lists(st.integers(0, 20), min_size=k, max_size=k))
    ids = draw(st.lists(st.integers(0, n_src - 1), min_size=k, max_size=k))
    dense_src = draw(st.lists(st.booleans(), min_size=n_src * n, max_size=n_src * n))
    dense_rec = draw(st.lists(st.booleans(), min_size=n * n, max_size=n * n))
    w_src = draw(st.lists(st.sampled_from([7.0, 11.0, 13.5, 21.0]), min_size=n_src * n, max_size=n_src * n))
    w_rec = draw(st.lists(st.sampled_from([0.1, 0.3, 0.7, 3.3, 6.1, -2.9]), min_size=n * n, max_size=n * n))
    d_src = draw(st.sampled_from([0.5, 1.0, 1.5]))
    d_rec = draw(st.sampled_from([0.5, 1.0, 1.5]))
    seed = draw(st.integers(0, 2**16))
    return dict(n=n, exp=exp, driven=driven, n_src=n_src, times=[0.5 * x for x in times], ids=ids,
                src=np.array(dense_src).reshape(n_src, n), rec=np.array(dense_rec).reshape(n, n),
                w_src=np.array(w_src).reshape(n_src, n), w_rec=np.array(w_rec).reshape(n, n),
                d_src=d_src, d_rec=d_rec, seed=seed)


def _csr(mask, w, rng):
    """A CSR of the True entries of ``mask``, each row's entries in an order given by
    ``rng`` (None: ascending)."""
    ptr, idx, ws = [0], [], []
    for i in range(mask.shape[0]):
        j = np.nonzero(mask[i])[0]
        if rng is not None:
            j = rng.permutation(j)
        idx.extend(j)
        ws.extend(w[i, j])
        ptr.append(len(idx))
    return cx.CSR(np.array(ptr), np.array(idx, np.int32), np.array(ws, np.float64), n_post=mask.shape[1])


def _tie_net(spec, rng):
    ts = 2.0 if spec["exp"] else 0.0
    model = LIF(tau_m=10.0, tau_syn_exc=ts, tau_syn_inh=ts, v_rest=0.0, v_th=10.0, v_reset=0.0, t_ref=1.0)
    net = ev.Network(seed=spec["seed"])
    pop = net.population(spec["n"], model, name="p")
    src = net.spike_source(spec["times"], spec["ids"], n=spec["n_src"])
    if spec["driven"]:
        net.poisson_drive(pop, 400.0, 2.5)
    net.connect(src, pop, _csr(spec["src"], spec["w_src"], rng), delay=spec["d_src"])
    net.connect(pop, pop, _csr(spec["rec"], spec["w_rec"], rng), delay=spec["d_rec"])
    net.record_state(pop, dt=0.25, variables=("v",) + (("i_exc", "i_inh") if spec["exp"] else ()))
    return net


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tie_networks(), st.integers(0, 2**16), st.sampled_from([None, 3.25, 4.0, 7.6]))
def test_results_do_not_depend_on_the_order_of_tests(spec, perm_seed, split):
    """The same network with every row's targets in another order (so its neurons are
    marked, tested and fire in another order within an instant) gives bitwise the same
    spikes, states and counts; and so does a run split at ``split`` ms."""
    a = _tie_net(spec, None).run(15.0)
    net = _tie_net(spec, np.random.default_rng(perm_seed))
    if split is None:
        parts = [net.run(15.0)]
    else:
        parts = [net.run(split), net.run(15.0 - split)]
    times = np.concatenate([r.spikes.times for r in parts])
    ids = np.concatenate([r.spikes.ids for r in parts])
    assert np.array_equal(times, a.spikes.times) and np.array_equal(ids, a.spikes.ids)
    for var in ("v", "i_exc", "i_inh"):
        x = getattr(a.states, var)
        if x is not None:
            y = np.concatenate([getattr(r.states, var) for r in parts])
            assert np.array_equal(x.view(np.int64), y.view(np.int64)), var
    if split is None:
        assert parts[0].counts == a.counts
