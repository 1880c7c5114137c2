"""Issue 17 (Song's per-event cost): a fused source's spike is queued on the source
wheel at its arrival time, with the spike time beside it (``Queue.w_c``), instead of in
the heap.  Events still pop in (time, sequence) order, so the wheel's size, or having
none (every arrival in the heap), changes no result: spikes, counts, states and weights
are bitwise the same, also over split runs and across save and load."""
import numpy as np
import pytest

import eventsnn as ev
from eventsnn.plasticity import STDP

T = 150.0


def _fused_net(seed):
    """Poisson and spike-train sources whose projections share one delay into small
    populations (so they are fused), one of them plastic, and a recurrent projection."""
    net = ev.Network(seed=seed)
    m = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=8.0, v_rest=0.0, v_th=20.0, v_reset=10.0,
               t_ref=2.0, i_bias=5.0)
    pop = net.population(80, m, v_init=(0.0, 19.0))
    ps = net.poisson_source(40, np.linspace(5.0, 900.0, 40))
    rng = np.random.default_rng(seed)
    st_t = np.round(rng.uniform(0.0, T, 300), 1)         # 0.1 ms grid: ties
    sts = net.spike_source(st_t, rng.integers(0, 6, 300), n=6)
    net.connect(ps, pop, ev.fixed_indegree(3), weight=4.0, delay=0.5,
                plasticity=STDP(w_max=8.0))
    net.connect(sts, pop, ev.fixed_indegree(1), weight=5.0, delay=0.5)
    net.connect(pop, pop, ev.fixed_probability(0.1), weight=lambda g, n: g.uniform(-8.0, 5.0, n),
                delay=1.0)
    net.record_state(np.array([0, 9, 41]), np.linspace(0.0, T, 31)[1:])
    return net


def _figures(net, rs):
    return {"t": net.spikes.times, "i": net.spikes.ids, "src_t": net.source_spikes.times,
            "src_i": net.source_spikes.ids, "counts": np.array(list(net.counts.as_dict().values())),
            "v": np.concatenate([r.states.v for r in rs if r.states is not None]),
            "w": net.projections[0].weights, "block": net._state.neurons.block}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        # bit for bit (the neuron block holds nan and integer columns)
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), k


def test_fused_sources_queue_their_arrivals_on_the_wheel():
    """The sources are fused, and mid-run the wheel holds their arrivals: each entry's
    time is its spike time (w_c) plus the delay."""
    net = _fused_net(3)
    net.run(40.0)
    SRC = net._plan.arrays.sources
    assert (SRC.lane >= 0).all()
    Q = net._state.queue
    ws = Q.w_state
    on = np.concatenate([Q.w_b[ws[1]:ws[2]], _listed(Q)])
    assert on.size >= 30
    assert np.array_equal(Q.w_t[on], Q.w_c[on] + SRC.dly[on])
    assert (Q.w_c[on] >= 40.0 - 0.5).all()


def _listed(Q):
    out = []
    for h in Q.w_head:
        s = h
        while s >= 0:
            out.append(s)
            s = Q.w_next[s]
    return np.array(out, np.int64)


@pytest.mark.parametrize("size", [dict(wheel_width=0.0, wheel_buckets=1),
                                  dict(wheel_width=2.0 ** -9, wheel_buckets=64),
                                  dict(wheel_width=4.0, wheel_buckets=1024)])
def test_no_wheel_a_tiny_or_a_coarse_one_give_the_same_run(size, monkeypatch):
    """No wheel (every arrival in the heap), a wheel whose 1/8-ms horizon sends most
    arrivals to the heap, and a coarse one with many per bucket: bitwise the run of the
    default wheel, whole or in pieces."""
    import eventsnn.plan as PL
    net0 = _fused_net(3)
    ref = _figures(net0, [net0.run(T)])
    assert len(ref["t"]) > 100 and net0.counts.source_spikes > 500
    assert net0._state.queue.w_width[0] > 0.0
    monkeypatch.setattr(PL, "_wheel_size", lambda *a: dict(size))
    for pieces in ((T,), (61.3, 0.0, 88.7)):
        net = _fused_net(3)
        rs = [net.run(d) for d in pieces]
        assert net._state.queue.w_width[0] == size["wheel_width"]
        _same(_figures(net, rs), ref)


def test_save_and_load_with_arrivals_on_the_wheel(tmp_path):
    """A run saved while fused arrivals wait on the wheel continues bitwise after load."""
    ref = _fused_net(5)
    want = _figures(ref, [ref.run(61.3), ref.run(T - 61.3)])
    net = _fused_net(5)
    r1 = net.run(61.3)
    assert net._state.queue.w_state[3] + net._state.queue.w_state[2] > 0
    ev.save(net, tmp_path / "n.npz")
    back = ev.load(tmp_path / "n.npz")
    _same(_figures(back, [r1, back.run(T - 61.3)]), want)


def test_each_run_reports_every_source_spike_of_its_interval():
    """A fused source draws a spike when the one before it arrives, up to its delay
    later: a run that ends in between still reports the spike (``record_ahead``), and
    the next run does not report it again."""
    whole = _fused_net(7)
    whole.run(T)
    ref = whole.source_spikes
    net = _fused_net(7)
    t0 = 0.0
    ahead = 0
    for d in (20.05, 0.3, 0.0, 41.0, T - 61.35):
        r = net.run(d)
        ahead += int(net._state.sources.ahead.sum())
        sel = (ref.times > t0) & (ref.times <= net.t) if t0 > 0 else ref.times <= net.t
        assert np.array_equal(r.source_spikes.times, ref.times[sel])
        assert np.array_equal(r.source_spikes.ids, ref.ids[sel])
        t0 = net.t
    assert ahead > 0          # some spikes were recorded ahead of their draw
    assert net.counts == whole.counts
