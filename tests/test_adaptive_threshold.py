"""Adaptive thresholds (LIF.theta_plus, Population.theta / set_theta): analytic spike
trains of DC-driven neurons, exact re-scheduling when thresholds change between runs,
split invariance and bad input."""
import math

import numpy as np
import pytest

import eventsnn as ev

TAU, VR, VRESET, VTH, TREF = 20.0, 0.0, 0.0, 10.0, 2.0


def dc_lif(theta_plus, tau_syn=0.0, i_bias=15.0):
    return ev.LIF(tau_m=TAU, tau_syn_exc=tau_syn, tau_syn_inh=tau_syn, v_rest=VR, v_th=VTH,
                  v_reset=VRESET, t_ref=TREF, i_bias=i_bias, theta_plus=theta_plus)


def analytic_train(theta_plus, t_end, v_inf=15.0, theta0=0.0, v0=0.0):
    """Spike times of a DC-driven LIF whose threshold rises by theta_plus per spike."""
    out = []
    t, v, th = 0.0, v0, theta0
    while True:
        vt = VTH + th
        if vt >= v_inf:
            return np.array(out)
        t = t + TAU * math.log((v_inf - v) / (v_inf - vt))
        if t > t_end:
            return np.array(out)
        out.append(t)
        th += theta_plus
        v = VRESET
        t += TREF


@pytest.mark.parametrize("tau_syn", [0.0, 5.0, 20.0])  # frame no-exp, frame exp, general
def test_dc_train_with_adaptation_matches_closed_form(tau_syn):
    net = ev.Network(seed=0)
    pop = net.population(1, dc_lif(0.5, tau_syn), v_init=0.0)
    res = net.run(400.0)
    ref = analytic_train(0.5, 400.0)
    assert len(ref) > 5
    np.testing.assert_allclose(res.spikes.times, ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(pop.theta, [0.5 * len(ref)], rtol=0, atol=1e-12)


def test_no_adaptation_is_unchanged():
    """theta_plus = 0 gives the periodic train of the plain model."""
    net = ev.Network(seed=0)
    pop = net.population(1, dc_lif(0.0), v_init=0.0)
    res = net.run(200.0)
    np.testing.assert_allclose(res.spikes.times, analytic_train(0.0, 200.0), rtol=0, atol=1e-9)
    assert pop.theta[0] == 0.0


@pytest.mark.parametrize("tau_syn", [0.0, 5.0, 20.0])
def test_set_theta_between_runs_reschedules_exactly(tau_syn):
    """Raising and lowering thresholds between runs: the next spike is the exact
    crossing of the trajectory with the new threshold."""
    net = ev.Network(seed=0)
    pop = net.population(1, dc_lif(0.0, tau_syn), v_init=0.0)
    net.run(5.0)                       # first crossing at 21.97 ms: not yet
    pop.set_theta(3.0)                 # threshold 13 mV
    res = net.run(100.0)
    t1 = TAU * math.log(15.0 / (15.0 - 13.0))
    assert res.spikes.times[0] == pytest.approx(t1, abs=1e-9)
    # lower below the current V: fires at once (V(t) > new threshold), at the call time
    net2 = ev.Network(seed=0)
    pop2 = net2.population(1, dc_lif(0.0, tau_syn), v_init=0.0)
    pop2.set_theta(4.0)
    net2.run(30.0)                     # V(30) = 15 (1 - e^{-1.5}) = 11.65 < 14
    pop2.set_theta(0.0)
    res2 = net2.run(1.0)
    assert res2.spikes.times.tolist() == [30.0]


def test_theta_before_run_and_split_invariance():
    def build():
        net = ev.Network(seed=4)
        pop = net.population(20, dc_lif(0.3, 5.0, i_bias=20.0), v_init=(0.0, 10.0))
        pop.set_theta(np.linspace(0.0, 2.0, 20))
        src = net.poisson_source(10, 200.0)
        net.connect(src, pop, ev.fixed_indegree(3), weight=2.0, delay=1.0)
        return net, pop

    a, pa = build()
    ra = a.run(300.0)
    b, pb = build()
    rb = [b.run(d) for d in (100.0, 0.0, 55.5, 144.5)]
    assert np.array_equal(ra.spikes.times, np.concatenate([r.spikes.times for r in rb]))
    assert np.array_equal(pa.theta, pb.theta)
    np.testing.assert_allclose(pa.theta, np.linspace(0.0, 2.0, 20) +
                               0.3 * np.bincount(ra.spikes.ids, minlength=20), rtol=0, atol=1e-12)


def test_reschedule_pushes_are_counted_in_the_next_run():
    net = ev.Network(seed=0)
    pop = net.population(1, dc_lif(0.0, 5.0), v_init=0.0)
    r1 = net.run(5.0)
    pop.set_theta(1.0)
    r2 = net.run(100.0)
    total = r1.counts + r2.counts
    assert total == net.counts
    assert net.counts.queue_pushes == net.counts.queue_pops + int(net._state.queue.n[0])


@pytest.mark.parametrize("bad, exc", [(-1.0, ValueError), (np.nan, ValueError), (np.inf, ValueError),
                                      ("x", TypeError), (np.zeros(3), ValueError)])
def test_set_theta_bad_input(bad, exc):
    net = ev.Network(seed=0)
    pop = net.population(2, dc_lif(0.1), v_init=0.0)
    net.run(10.0)
    before = pop.theta
    with pytest.raises(exc, match="theta"):
        pop.set_theta(bad)
    assert np.array_equal(pop.theta, before)
    net.run(10.0)


def test_theta_plus_validation():
    with pytest.raises(ValueError, match="theta_plus"):
        dc_lif(-0.1)
    with pytest.raises(TypeError, match="theta_plus"):
        ev.LIF(theta_plus="a")
