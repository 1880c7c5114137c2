"""Regression tests of issue 23: inputs that crashed the process, gave silently wrong
results, or were guarded by a guard that did not guard (see also test_fuzz.py)."""
import io
import os
from contextlib import redirect_stderr

import numpy as np
import pytest

import eventsnn as ev
from eventsnn import cli
from eventsnn._validate import set_memory_limit
from eventsnn.gradients import SNN, loss_and_grad
from eventsnn.network import NonFiniteStateError


def _runaway(seed=0):
    """20 neurons all-to-all with 50 mV exp synapses and no refractory period: every
    spike makes every neuron fire again."""
    net = ev.Network(seed=seed)
    m = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=5.0, v_th=20.0, v_reset=10.0, t_ref=0.0, i_bias=25.0)
    pop = net.population(20, m, v_init=(0.0, 19.0))
    net.connect(pop, pop, ev.all_to_all(), weight=50.0, delay=0.5)
    return net


@pytest.mark.parametrize("guard", ["max_spikes", "max_queue", "max_events"])
def test_a_runaway_run_stops_at_its_guard_and_can_continue_exactly(guard):
    """The guard stops the run between instants with a RuntimeError naming the limit
    and the time; the state is kept, and running on with a higher limit gives bitwise
    the spikes of a run that was never stopped."""
    ref = _runaway()
    want = ref.run(12.0)
    assert len(want.spikes) > 4000
    net = _runaway()
    with pytest.raises(RuntimeError, match=guard) as e:
        net.run(12.0, **{guard: 2000})
    assert "raise the limit" in str(e.value)
    assert 0.0 < net.t < 12.0 and len(net.spikes) < len(want.spikes)
    net.run(12.0 - net.t)
    assert net.spikes.times.tobytes() == ref.spikes.times.tobytes()
    assert np.array_equal(net.spikes.ids, ref.spikes.ids)
    assert np.array_equal(net._state.neurons.block, ref._state.neurons.block, equal_nan=True)


def test_run_guards_reject_bad_limits():
    net = _runaway()
    for kw in ({"max_spikes": 0}, {"max_queue": -1}, {"max_spikes": 1.5}, {"max_queue": "many"}):
        with pytest.raises((ValueError, TypeError), match=next(iter(kw))):
            net.run(1.0, **kw)
    assert net.t == 0.0 and net.plan is None


@pytest.mark.parametrize("call, needle", [
    (lambda net: net.population(10 ** 12, ev.LIF()), "n=1000000000000"),
    (lambda net: net.spike_source([1.0], [2 ** 40]), "ids=1099511627776"),
    (lambda net: net.poisson_source(10 ** 13, 5.0), "n=10000000000000"),
])
def test_memory_guard_names_the_argument(call, needle):
    net = ev.Network(seed=0)
    with pytest.raises(MemoryError, match=needle) as e:
        call(net)
    assert "needs about" in str(e.value) and "TB" in str(e.value)
    assert net.n_neurons == 0 and not net._sources


def test_memory_guard_on_connectivity_and_recording():
    net = ev.Network(seed=0)
    a = net.population(10 ** 6, ev.LIF())
    with pytest.raises(MemoryError, match="rule=FixedIndegree") as e:
        net.connect(a, a, ev.fixed_indegree(10 ** 9), weight=0.1, delay=1.0)
    assert "synapses" in str(e.value)
    assert not net.projections
    with pytest.raises(MemoryError, match="len.times."):
        net.record_state(np.arange(10 ** 6), np.linspace(0, 1, 10 ** 6))   # 24 TB of samples
    assert not net._probes


def test_a_memory_limit_can_be_set():
    net = ev.Network(seed=0)
    set_memory_limit(10 ** 6)
    try:
        with pytest.raises(MemoryError, match="the limit is"):
            net.population(100_000, ev.LIF())
        net.population(100, ev.LIF())
    finally:
        set_memory_limit(None)
    net.population(100_000, ev.LIF())
    with pytest.raises(ValueError, match="nbytes"):
        set_memory_limit(0)


def test_connectivity_is_frozen_once_connected():
    """The kernels index with a projection's targets, row pointers and delays: they are
    read-only after connect, so they stay as validated."""
    net = ev.Network(seed=0)
    a = net.population(10, ev.LIF())
    pr = net.connect(a, a, ev.fixed_indegree(3), weight=0.1, delay=lambda g, n: g.uniform(1.0, 2.0, n))
    for arr in (pr.csr.indices, pr.csr.indptr, pr.csr.delays):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 10 ** 9


def _self_loop(delay, tau_m=20.0, t_source=1.0):
    net = ev.Network(seed=0)
    pop = net.population(5, ev.LIF(tau_m=tau_m, tau_syn_exc=0.0, tau_syn_inh=0.0, t_ref=0.0))
    net.connect(net.spike_source([t_source], [0]), pop, ev.all_to_all(), weight=30.0, delay=1.0)
    net.connect(pop, pop, ev.all_to_all(), weight=30.0, delay=delay)
    return net


@pytest.mark.parametrize("delay, tau_m, t_source, duration, what", [
    (1e-308, 20.0, 1.0, 5.0, "delay of projection 1"),          # t + d == t everywhere
    (1e-3, 20.0, 1.0, 2e13, "delay of projection 1"),            # only late: ulp(2e13) = 4e-3
    (1.0, 1e-300, 1.0, 5.0, "renormalised"),                     # frame moves every 1e-298 ms
])
def test_a_run_whose_steps_vanish_in_float64_time_is_refused(delay, tau_m, t_source, duration, what):
    """A delay (or frame interval) shorter than the float64 resolution at the run's end
    would make a spike arrive in the instant that sent it, an instant that never ends
    (found by the fuzzing campaign: memory grew without bound).  The run is refused
    before anything changes: the network is not even prepared."""
    net = _self_loop(delay, tau_m, t_source)
    with pytest.raises(ValueError, match=f"duration={duration!r} is not allowed.*{what}"):
        net.run(duration)
    assert net.plan is None and net.t == 0.0
    net.population(1, ev.LIF())                 # still open to changes
    if delay == 1e-3:
        assert len(net.run(10.0).spikes) > 0     # where float64 time resolves the delay


@pytest.mark.parametrize("how", ["source", "drive"])
def test_a_poisson_rate_beyond_float64_time_is_refused(how):
    """At 1e300 Hz every draw after t ~ 1e-290 ms vanishes: the source spike would be
    drawn again and again in one instant (found by the fuzzing campaign)."""
    net = ev.Network(seed=0)
    pop = net.population(3, ev.LIF())
    if how == "source":
        net.connect(net.poisson_source(2, 1e300), pop, ev.all_to_all(), weight=1.0, delay=1.0)
    else:
        net.poisson_drive(pop, 1e300, 0.1)
    with pytest.raises(ValueError, match="mean interval of"):
        net.run(1.0)
    assert net.plan is None


def test_an_instant_that_outgrows_the_memory_stops_the_network():
    """Inside one instant the run guards cannot stop a run so that it continues exactly;
    an instant that outgrows the memory limit stops the network for good (12000
    synchronous spikes under a 1 MB limit)."""
    net = ev.Network(seed=0)
    pop = net.population(12000, ev.LIF(tau_syn_exc=0.0, tau_syn_inh=0.0))
    net.connect(net.spike_source([1.0], [0]), pop, ev.all_to_all(), weight=100.0, delay=1.0)
    net.connect(pop, pop, ev.fixed_indegree(2), weight=0.1, delay=1.0)
    set_memory_limit(1_000_000)
    try:
        with pytest.raises(RuntimeError, match="inside the instant"):
            net.run(5.0)
    finally:
        set_memory_limit(None)
    with pytest.raises(RuntimeError, match="cannot continue"):
        net.run(1.0)
    with pytest.raises(RuntimeError, match="cannot save"):
        ev.save(net, os.devnull)
    # the same network with the memory it needs runs
    ok = ev.Network(seed=0)
    pop = ok.population(12000, ev.LIF(tau_syn_exc=0.0, tau_syn_inh=0.0))
    ok.connect(ok.spike_source([1.0], [0]), pop, ev.all_to_all(), weight=100.0, delay=1.0)
    assert len(ok.run(5.0).spikes) == 12000


def test_a_non_finite_state_is_a_runtime_error():
    net = ev.Network(seed=0)
    a = net.population(2, ev.LIF(tau_syn_exc=0.0, tau_syn_inh=0.0), v_init=0.0)
    s = net.spike_source([1.0, 1.0], [0, 0], n=1)
    net.connect(s, a, ev.all_to_all(), weight=1e308, delay=1.0)
    with pytest.raises(RuntimeError, match="non-finite") as e:
        net.run(5.0)
    assert isinstance(e.value, (FloatingPointError, NonFiniteStateError))


@pytest.mark.parametrize("w", [1e16, 1e17, 2.0 ** 63])
def test_a_neuron_that_would_fire_twice_in_one_instant_stops_the_run(w):
    """With t_ref = 0 and an input this strong, the next crossing after a reset lies
    closer than float64 time resolves: the neuron would fire again and again at one
    time.  Found by the fuzzing campaign (memory grew without bound; at 1e17 a kernel
    indexed out of bounds and the heap was corrupted)."""
    net = ev.Network(seed=0)
    m = ev.LIF(tau_m=5.0, tau_syn_exc=10.0, tau_syn_inh=0.0, v_th=20.0, v_reset=10.0, t_ref=0.0)
    pop = net.population(8, m)
    net.connect(net.poisson_source(8, 20.0), pop, ev.fixed_indegree(19), weight=w, delay=1.0)
    with pytest.raises(NonFiniteStateError, match="would fire twice"):
        net.run(5.0, max_events=20000)
    with pytest.raises(RuntimeError, match="cannot continue"):
        net.run(1.0)
    with pytest.raises(RuntimeError, match="cannot save"):
        ev.save(net, os.devnull)


def test_lif_rejects_parameters_whose_derived_values_overflow():
    with pytest.raises(ValueError, match="non-finite derived"):
        ev.LIF(i_bias=1e308, tau_in=1e-10)


def test_snn_params_replaced_by_the_user_are_refused():
    net = SNN([2, 3, 2])
    inp = ev.encoding.latency(np.array([[0.2, 0.7]]), t_max=10.0)
    net.params = np.zeros(3)
    with pytest.raises(ValueError, match="set_params"):
        loss_and_grad(net, inp, np.array([0]))
    net = SNN([2, 3, 2])
    net.params[0] = np.nan
    with pytest.raises(ValueError, match="nan"):
        loss_and_grad(net, inp, np.array([0]))


def test_cli_count_on_a_file_that_is_not_a_record(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"plain text, not a zip")
    err = io.StringIO()
    with redirect_stderr(err):
        code = cli.main(["count", str(p)])
    assert code == 2
    msg = err.getvalue()
    assert "not an eventsnn run record" in msg and "pickled" not in msg and "Traceback" not in msg


def test_cli_a_case_too_small_to_build_is_one_line(tmp_path):
    err = io.StringIO()
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        with redirect_stderr(err):
            code = cli.main(["run", "brunel", "--n", "1", "--duration", "1", "--quiet"])
    finally:
        os.chdir(here)
    assert code == 2 and "Traceback" not in err.getvalue()
    assert len([ln for ln in err.getvalue().splitlines() if ln.strip()]) == 1
