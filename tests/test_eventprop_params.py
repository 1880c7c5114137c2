"""Issue 21: exact gradients of axonal delays and per-neuron thresholds, and the
refractory period in the forward and adjoint passes.

Checked against central finite differences on 50 random networks (several spikes per
neuron, recurrence, refractory periods), against the event engine (to_network), and
for the bookkeeping around them (layout, bounds, projection, lr_scale, threads)."""
import numpy as np
import pytest

from eventsnn.encoding import SpikeInput
from eventsnn.gradients import (SNN, Adam, CountBounds, FirstSpikeCE, MaxVoltageCE, SpikeTimeMSE, evaluate, fit,
                                loss_and_grad, simulate)

EPS = 1e-6


@pytest.fixture(autouse=True)
def _one_thread():
    """The suite makes thousands of one-sample calls: on one thread each is a plain
    call (a parallel launch per call only adds a barrier, which waits for a time
    slice when the machine is busy)."""
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def _one(times, ids, n_inputs):
    t = np.asarray(times, float)
    i = np.asarray(ids, np.int32)
    o = np.lexsort((i, t))
    return SpikeInput(np.array([0, t.size], np.int64), t[o].copy(), i[o].copy(), n_inputs)


def _case(k):
    """Network k: learned delays and thresholds on every network, synaptic delays for
    even k and axonal for odd k; odd k recurrent; k % 3 != 0 with refractory periods
    (0.5-4 ms, per layer); every fifth a voltage read-out; delays and thresholds differ
    per neuron (per synapse)."""
    rng = np.random.default_rng(7000 + k)
    n_in = int(rng.integers(3, 6))
    n_h = int(rng.integers(4, 8))
    n_out = 3
    rec = k % 2 == 1
    voltage = k % 5 == 4
    t_ref = [float(rng.uniform(0.5, 4.0)), float(rng.uniform(0.5, 4.0))] if k % 3 else 0.0
    tau_m = float(rng.choice([20.0, 10.0, 8.0]))
    tau_s = float(rng.choice([5.0, 10.0, 2.5])) if k % 7 else tau_m
    net = SNN([n_in, n_h, n_out], tau_m=tau_m, tau_s=[tau_s, float(rng.choice([5.0, 3.0]))], theta=1.0,
              output="voltage" if voltage else "spike", recurrent=rec, rec_delay=float(rng.uniform(0.5, 2.0)),
              delay=[0.0, float(rng.uniform(0.2, 2.0))], t_end=40.0, seed=k, t_ref=t_ref, learn_delays=True,
              learn_thresholds=True, delay_mode="synaptic" if k % 2 == 0 else "axonal")
    kap1, kap2 = net.psp_peak(1), net.psp_peak(2)
    net.weights[0][...] = rng.normal(4.0 / kap1 / n_in, 1.0 / kap1, net.weights[0].shape)
    q = 1
    if rec:
        net.weights[1][...] = rng.normal(0.0, 0.15 / kap1, net.weights[1].shape)
        q = 2
    net.weights[q][...] = rng.normal(1.5 / kap2 / n_h * 2.0, 0.8 / kap2, net.weights[q].shape)
    for d in net.delays:
        d += rng.uniform(0.0, 3.0, d.shape)
    net.thresholds[...] = rng.uniform(0.7, 1.3, net.thresholds.shape)
    inp = _one(rng.uniform(0.0, 15.0, n_in), np.arange(n_in), n_in)
    label = np.array([int(rng.integers(0, n_out))])
    if voltage:
        loss = MaxVoltageCE(scale=1.0)
    elif k % 4 == 2:
        loss = SpikeTimeMSE(t_correct=8.0, t_wrong=20.0, scale=5.0)
    else:
        loss = FirstSpikeCE()
    reg = CountBounds(beta=0.5, c_min=0, c_max=1) if k % 2 == 0 else CountBounds(beta=0.5, c_min=10, c_max=10)
    return net, inp, label, loss, reg


def _fd(net, inp, label, loss, reg, per_group=40):
    """Central differences of the parameters whose +-EPS moves change no spike count:
    all of a group, or ``per_group`` of them drawn at random (the suite's time goes
    into these evaluations); returns (result, {group: (checked, skipped)})."""
    r = loss_and_grad(net, inp, label, loss, regularizer=reg, graze=0.0)
    c0 = r.spike_counts
    p0 = net.params.copy()
    out = {g: [0, 0] for g in net.groups}
    pick = np.random.default_rng(net.n_params)
    try:
        for name, sl in net.groups.items():
            idx = np.arange(sl.start, sl.stop)
            if idx.size > per_group:
                idx = np.sort(pick.choice(idx, per_group, replace=False))
            for i in idx:
                net.params[i] = p0[i] + EPS
                e1 = evaluate(net, inp, label, loss, regularizer=reg)
                net.params[i] = p0[i] - EPS
                e2 = evaluate(net, inp, label, loss, regularizer=reg)
                net.params[i] = p0[i]
                if not (np.array_equal(e1.spike_counts, c0) and np.array_equal(e2.spike_counts, c0)):
                    out[name][1] += 1
                    continue
                fd = (e1.loss - e2.loss) / (2 * EPS)
                assert abs(fd - r.grad[i]) <= max(1e-6, 1e-5 * abs(fd)), \
                    f"{name} {i - sl.start}: finite difference {fd!r}, EventProp {r.grad[i]!r}"
                out[name][0] += 1
    finally:
        net.params[:] = p0
    return r, out


@pytest.mark.parametrize("k", range(50))
def test_delay_and_threshold_gradients_match_finite_differences(k):
    net, inp, label, loss, reg = _case(k)
    r, out = _fd(net, inp, label, loss, reg)
    tr = simulate(net, inp)
    hid = tr.neurons[(tr.neurons >= 0) & (tr.neurons < net.sizes[1])]
    # the case is meaningful: hidden neurons fire, some several times; most entries
    # are checked and some delay and threshold derivatives are not zero
    assert hid.size >= 2 and np.bincount(hid).max() >= 2
    for name, (ok, skip) in out.items():
        assert ok >= 0.7 * (ok + skip), (name, ok, skip)
    assert np.any(r.grad[net.groups["delays"]] != 0.0)
    assert np.any(r.grad[net.groups["thresholds"]] != 0.0)


def test_refractory_cases_fire_inside_the_refractory_window():
    """The refractory suite exercises arrivals during the refractory period and spikes
    right after a release (otherwise it could not fail on those branches)."""
    n_inside = 0
    for k in range(50):
        if k % 3 == 0:
            continue
        net, inp, *_ = _case(k)
        tr = simulate(net, inp)
        for l in (1, 2):
            if l == 2 and net.output == "voltage":
                continue
            t, ids = tr.spikes_of(net, l)
            ref = net.t_ref[l - 1]
            for n in np.unique(ids):
                ts = np.sort(t[ids == n])
                assert np.all(np.diff(ts) > ref)      # never inside the window
                n_inside += int(np.sum(np.diff(ts) < ref + 2.0))
    assert n_inside >= 20


def _assert_forward_equals_engine(net, inp, min_spikes):
    """simulate() against the event engine (to_network): same spikes to 1e-9 ms."""
    for d in net.delays[1:]:
        np.maximum(d, 0.1, out=d)   # the engine needs delays > 0 between neurons
    tr = simulate(net, inp)
    enet, _ = net.to_network(inp.times, inp.ids)
    res = enet.run(net.t_end)
    m = tr.neurons >= 0
    o = np.lexsort((tr.neurons[m], tr.times[m]))
    assert m.sum() == len(res.spikes.times) > min_spikes
    np.testing.assert_array_equal(tr.neurons[m][o], res.spikes.ids)
    np.testing.assert_allclose(tr.times[m][o], res.spikes.times, rtol=0, atol=1e-9)


@pytest.mark.parametrize("k", [1, 2, 5, 7, 8])
def test_forward_with_refractory_delays_thresholds_equals_event_engine(k):
    net, inp, *_ = _case(k)
    if net.output != "spike":
        pytest.skip("voltage read-out")
    _assert_forward_equals_engine(net, inp, 5)


def test_threshold_gradient_is_minus_the_adjoint_jump_single_neuron():
    """One neuron, one input: t* solves V(t*) = theta, so dt*/dtheta = 1/V'(t*) and
    dL/dtheta = dL/dt* / V'(t*) for L = t*."""
    net = SNN([1, 1], tau_m=20.0, tau_s=5.0, theta=1.0, t_end=100.0, init=[(10.0, 0.0)], learn_thresholds=True)
    inp = _one([2.0], [0], 1)
    loss = SpikeTimeMSE(t_correct=0.0, t_wrong=0.0, scale=1.0)   # L = t*^2 / 2
    r = loss_and_grad(net, inp, np.array([0]), loss)
    tr = simulate(net, inp)
    tk, ik = tr.times[1], tr.currents[1]
    vdot = (ik - 1.0) / 20.0
    assert r.grad[net.groups["thresholds"]][0] == pytest.approx(tk / vdot, rel=1e-12)


def test_delay_gradient_equals_input_time_gradient():
    """Moving an input projection's delay of input j moves every arrival of j: its
    gradient is the sum of j's input-spike gradients through that projection."""
    net, inp, label, loss, reg = _case(3)
    r = loss_and_grad(net, inp, label, loss, regularizer=reg)
    gd = r.grad[net.groups["delays"]][:net.sizes[0]]
    np.testing.assert_allclose(gd[inp.ids], r.input_grad, rtol=1e-12, atol=0)


def test_synaptic_delays_equal_per_row_match_axonal():
    """Synaptic delays equal along each row are the axonal network: same loss, same
    weight and threshold gradients, and each axonal delay's gradient is the sum of its
    row's synaptic ones."""
    net_a, inp, label, loss, reg = _case(3)
    kw = dict(tau_m=net_a.tau_m, tau_s=net_a.tau_s, recurrent=True, rec_delay=net_a.rec_delay, t_end=40.0,
              t_ref=net_a.t_ref, learn_delays=True, learn_thresholds=True, init=[(0, 0)] * 3)
    net_s = SNN(net_a.sizes, delay_mode="synaptic", **kw)
    for q in range(3):
        net_s.weights[q][...] = net_a.weights[q]
        net_s.delays[q][...] = net_a.delays[q][:, None]
    net_s.thresholds[...] = net_a.thresholds
    ra = loss_and_grad(net_a, inp, label, loss, regularizer=reg)
    rs = loss_and_grad(net_s, inp, label, loss, regularizer=reg)
    assert ra.loss == pytest.approx(rs.loss, rel=1e-13)
    ga, gs = net_a.groups, net_s.groups
    np.testing.assert_allclose(rs.grad[gs["weights"]], ra.grad[ga["weights"]], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(rs.grad[gs["thresholds"]], ra.grad[ga["thresholds"]], rtol=1e-10, atol=1e-13)
    da = ra.grad[ga["delays"]]
    ds = rs.grad[gs["delays"]]
    sums = np.concatenate([ds[net_s._doff[q]:net_s._doff[q + 1]].reshape(net_s.delays[q].shape).sum(axis=1)
                           for q in range(3)])
    np.testing.assert_allclose(sums, da, rtol=1e-9, atol=1e-12)
    assert np.count_nonzero(ds) > np.count_nonzero(da)


def test_layout_bounds_and_projection():
    net = SNN([3, 4, 2], recurrent=True, delay=[0.5, 1.0], rec_delay=2.0, learn_delays=True,
              learn_thresholds=True, theta=[1.0, 2.0], delay_min=0.1, theta_min=0.05)
    g = net.groups
    assert list(g) == ["weights", "delays", "thresholds"]
    assert g["weights"] == slice(0, 3 * 4 + 4 * 4 + 4 * 2)
    assert g["delays"].stop - g["delays"].start == 3 + 4 + 4
    assert net.n_params == g["thresholds"].stop == g["delays"].stop + 6
    np.testing.assert_array_equal(net.params[g["delays"]], [0.5] * 3 + [2.0] * 4 + [1.0] * 4)
    np.testing.assert_array_equal(net.params[g["thresholds"]], [1.0] * 4 + [2.0] * 2)
    assert np.shares_memory(net.delays[1], net.params) and np.shares_memory(net.thresholds, net.params)
    p = net.params.copy()
    p[g["delays"].start] = 0.05
    with pytest.raises(ValueError, match="delay_min"):
        net.set_params(p)
    p = net.params.copy()
    p[g["thresholds"].start] = 0.0
    with pytest.raises(ValueError, match="theta_min"):
        net.set_params(p)
    net.params[g["delays"].start] = -1.0
    net.params[g["thresholds"].stop - 1] = -3.0
    with pytest.raises(ValueError, match="delay"):
        net._check_params()
    net.constrain()
    assert net.params[g["delays"].start] == 0.1 and net.params[g["thresholds"].stop - 1] == 0.05
    sc = net.lr_scale(delays=20.0, thresholds=0.5)
    assert sc[g["weights"]].tolist() == [1.0] * g["weights"].stop
    assert set(sc[g["delays"]]) == {20.0} and set(sc[g["thresholds"]]) == {0.5}
    with pytest.raises(ValueError, match="delay_min"):
        SNN([2, 2], delay=0.0, delay_min=0.5, learn_delays=True)
    with pytest.raises(ValueError, match="t_ref"):
        SNN([2, 2], t_ref=-1.0)
    plain = SNN([3, 4, 2])
    assert list(plain.groups) == ["weights"] and plain.n_params == plain.n_weights == 20


def test_weights_only_unchanged_by_the_new_parameters():
    """Learning delays and thresholds adds entries; the weight gradient and the forward
    pass stay bitwise those of the weights-only network."""
    rng = np.random.default_rng(3)
    kw = dict(recurrent=True, delay=[0.3, 1.0], rec_delay=1.5, t_end=60.0, seed=4, t_ref=[1.0, 0.5])
    a = SNN([4, 12, 3], **kw)
    b = SNN([4, 12, 3], learn_delays=True, learn_thresholds=True, **kw)
    np.testing.assert_array_equal(a.params, b.params[:a.n_params])
    t = rng.uniform(0, 20, (6, 4))
    inp = SpikeInput(np.arange(7, dtype=np.int64) * 4, np.sort(t, axis=1).ravel(), np.tile(np.arange(4), 6), 4)
    inp = SpikeInput(inp.ptr, t.ravel(), np.tile(np.arange(4, dtype=np.int32), 6), 4)
    lab = rng.integers(0, 3, 6)
    ra = loss_and_grad(a, inp, lab)
    rb = loss_and_grad(b, inp, lab)
    assert ra.loss == rb.loss
    np.testing.assert_array_equal(ra.grad, rb.grad[:a.n_params])


def test_training_moves_delays_and_thresholds_within_bounds():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (64, 3))
    y = (X[:, 0] > X[:, 1]).astype(np.int64)
    from eventsnn.encoding import latency
    inp = latency(X, 0.0, 20.0, bias_time=0.0)
    net = SNN([4, 16, 2], t_end=60.0, seed=1, delay=[0.5, 0.5], learn_delays=True, learn_thresholds=True,
              delay_min=0.2, theta_min=0.5, t_ref=1.0)
    p0 = net.params.copy()
    opt = Adam(lr=0.05, lr_scale=net.lr_scale(delays=10.0), weight_decay=1e-2)
    fit(net, inp, y, epochs=3, batch_size=16, optimizer=opt, bump=5e-3)
    d = net.params[net.groups["delays"]]
    th = net.params[net.groups["thresholds"]]
    assert np.any(d != p0[net.groups["delays"]]) and np.any(th != p0[net.groups["thresholds"]])
    assert d.min() >= 0.2 and th.min() >= 0.5
    # weight decay did not pull delays or thresholds towards zero: the loss moved them
    with pytest.raises(ValueError, match="lr_scale has shape"):
        Adam(lr_scale=np.ones(3)).step(net.params, np.zeros(net.n_params))


def test_thread_choice_does_not_change_results():
    import numba
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (96, 3))
    y = (X.sum(1) > 1.5).astype(np.int64)
    from eventsnn.encoding import latency
    inp = latency(X, 0.0, 20.0, bias_time=0.0)
    outs = []
    for threads, nt in (("auto", numba.config.NUMBA_NUM_THREADS), (None, 1), (None, numba.config.NUMBA_NUM_THREADS)):
        net = SNN([4, 16, 2], t_end=60.0, seed=1, learn_delays=True, learn_thresholds=True, t_ref=0.5)
        before = numba.get_num_threads()
        numba.set_num_threads(nt)
        try:
            h = fit(net, inp, y, epochs=2, batch_size=8, threads=threads)
        finally:
            numba.set_num_threads(before)
        outs.append((net.params.copy(), [m["loss"] for m in h]))
    for p, l in outs[1:]:
        np.testing.assert_array_equal(p, outs[0][0])
        assert l == outs[0][1]
    with pytest.raises(ValueError, match="threads"):
        fit(SNN([4, 2]), inp, y, epochs=1, threads=2)


# ---------------------------------------------------------------------------
# delta synapses
# ---------------------------------------------------------------------------

def _delta_case(k):
    """Network k of the delta suite: the hidden layer has delta synapses (spikes happen
    at input arrivals), the output exp synapses (k even) or delta ones too (k odd,
    voltage read-out every third); refractory periods for k % 4 in (1, 2); odd k
    recurrent; synaptic delays for k % 3 == 0."""
    rng = np.random.default_rng(9000 + k)
    n_in = int(rng.integers(4, 7))
    n_h = int(rng.integers(4, 8))
    voltage = k % 3 == 2
    syn = ["delta", "delta" if k % 2 else "exp"]
    net = SNN([n_in, n_h, 3], tau_m=float(rng.choice([20.0, 10.0])), tau_s=5.0, theta=1.0, synapse=syn,
              output="voltage" if voltage else "spike", recurrent=k % 2 == 1, rec_delay=float(rng.uniform(0.5, 2.0)),
              delay=[0.0, float(rng.uniform(0.2, 2.0))], t_end=40.0, seed=k,
              t_ref=[float(rng.uniform(0.5, 3.0)), 0.0] if k % 4 in (1, 2) else 0.0, learn_delays=True,
              learn_thresholds=True, delay_mode="synaptic" if k % 3 == 0 else "axonal")
    k2 = net.psp_peak(2)
    net.weights[0][...] = rng.normal(0.45, 0.3, net.weights[0].shape)
    q = 1
    if k % 2 == 1:
        net.weights[1][...] = rng.normal(0.05, 0.2, net.weights[1].shape)
        q = 2
    net.weights[q][...] = rng.normal(1.5 / k2 / n_h * 2.0, 0.8 / k2, net.weights[q].shape)
    for d in net.delays:
        d += rng.uniform(0.0, 3.0, d.shape)
    # several input spikes per input, distinct times
    t = rng.uniform(0.0, 20.0, 4 * n_in)
    inp = _one(t, np.tile(np.arange(n_in), 4), n_in)
    label = np.array([int(rng.integers(0, 3))])
    loss = MaxVoltageCE(scale=1.0) if voltage else (FirstSpikeCE() if k % 4 else
                                                      SpikeTimeMSE(t_correct=8.0, t_wrong=20.0, scale=5.0))
    reg = CountBounds(beta=0.5, c_min=0, c_max=1)
    return net, inp, label, loss, reg


@pytest.mark.parametrize("k", range(24))
def test_delta_synapse_gradients_match_finite_differences(k):
    net, inp, label, loss, reg = _delta_case(k)
    r, out = _fd(net, inp, label, loss, reg)
    tr = simulate(net, inp)
    hid = tr.neurons[(tr.neurons >= 0) & (tr.neurons < net.sizes[1])]
    assert hid.size >= 2
    for name, (ok, skip) in out.items():
        assert ok >= 0.6 * (ok + skip), (name, ok, skip)
    # spike times of delta neurons move with their inputs' delays, not with weights
    assert np.any(r.grad[net.groups["delays"]] != 0.0)
    np.testing.assert_array_equal(r.grad[net.groups["thresholds"]][:net.sizes[1]], 0.0)


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_delta_forward_equals_event_engine(k):
    net, inp, *_ = _delta_case(k)
    if net.output != "spike":
        pytest.skip("voltage read-out")
    _assert_forward_equals_engine(net, inp, 3)


def test_delta_same_instant_inputs_are_summed_before_the_test():
    """Two inputs at the same instant, +1.5 and -1.0 mV onto theta = 1: the event engine
    sums them (no spike); so must the gradient pass, whatever their queue order."""
    for order in ([0, 1], [1, 0]):
        net = SNN([2, 1], synapse="delta", theta=1.0, t_end=20.0, init=[(0.0, 0.0)])
        net.weights[0][:, 0] = [1.5, -1.0]
        inp = _one([5.0, 5.0], order, 2)
        assert simulate(net, inp).times.size == 2   # the two inputs only
        net.weights[0][:, 0] = [1.5, -0.2]
        assert simulate(net, inp).times.size == 3
