"""Built-in benchmark networks (used by examples/, benchmarks/ and the ``eventsnn`` command)."""
from __future__ import annotations


from ._validate import integer
from .connectivity import fixed_indegree, fixed_probability
from .models import LIF
from .network import Network


def brunel(n: int = 10_000, seed: int = 1, *, g: float = 5.0, eta: float = 2.0, J: float = 0.1,
           delay: float = 1.5, epsilon: float = 0.1) -> Network:
    """Brunel (2000) balanced network, model A (synchronous-irregular regime, ~43 Hz).

    80 % excitatory, 20 % inhibitory LIF neurons (tau_m = 20 ms, v_th = 20 mV,
    v_reset = 10 mV, t_ref = 2 ms, delta synapses, initial V uniform in [0, 20) mV);
    every neuron receives epsilon*N_E excitatory (J mV) and epsilon*N_I inhibitory
    (-g J mV) inputs drawn with replacement, delay 1.5 ms, and independent external
    Poisson input of rate eta * nu_th * C_E (20 kHz for the defaults) with weight J.
    Input arriving during the refractory period is discarded (as in NEST and Brian2).

    Parameters
    ----------
    n : int
        Total neurons (default 10 000: 8000 exc + 2000 inh, 10**7 synapses).
    """
    n = integer("n", n, lo=1)
    n_e = int(round(0.8 * n))
    n_i = n - n_e
    c_e = int(round(epsilon * n_e))
    c_i = int(round(epsilon * n_i))
    if n_i < 1 or c_e < 1:
        raise ValueError(f"n={n} is too small for Brunel's network: it needs at least one inhibitory "
                         f"neuron and epsilon * 0.8 n >= 0.5 excitatory inputs per neuron (n >= 7 for "
                         f"epsilon = 0.1)")
    model = LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=20.0,
                v_reset=10.0, t_ref=2.0)
    nu_th = model.v_th / (J * c_e * model.tau_m)          # 1/ms
    rate_hz = eta * nu_th * c_e * 1000.0                  # per neuron
    net = Network(seed=seed)
    exc = net.population(n_e, model, name="exc", v_init=(0.0, 20.0))
    inh = net.population(n_i, model, name="inh", v_init=(0.0, 20.0))
    for post in (exc, inh):
        net.connect(exc, post, fixed_indegree(c_e), weight=J, delay=delay)
        net.connect(inh, post, fixed_indegree(c_i), weight=-g * J, delay=delay)
        net.poisson_drive(post, rate=rate_hz, weight=J)
    return net


def sparse_lowrate(n: int = 1_000_000, k: int = 100, seed: int = 1, *, n_src: int | None = None,
                   src_rate: float = 10.0) -> Network:
    """A large sparse network of exp-synapse LIF neurons firing at a few Hz.

    ``n`` neurons (80 % exc, 20 % inh), each with ``k`` recurrent inputs (fixed
    in-degree, drawn with replacement; 80 % exc of weight 1.0 mV, 20 % inh of
    -4.0 mV), exponential currents (tau_syn_exc = 5 ms, tau_syn_inh = 10 ms),
    delays 1-2 ms, driven by ``n_src`` Poisson sources (default n/10, 10 Hz each)
    through 20 synapses per neuron of weight 8 mV.
    """
    n = integer("n", n, lo=5)
    model = LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_rest=0.0, v_th=20.0,
                v_reset=10.0, t_ref=2.0, i_bias=8.0)
    n_e = int(round(0.8 * n))
    n_i = n - n_e
    k_e = int(round(0.8 * k))
    k_i = k - k_e
    net = Network(seed=seed)
    exc = net.population(n_e, model, name="exc", v_init=(0.0, 20.0))
    inh = net.population(n_i, model, name="inh", v_init=(0.0, 20.0))
    n_src = max(1, n // 10) if n_src is None else n_src
    src = net.poisson_source(n_src, src_rate, name="input")
    for post in (exc, inh):
        net.connect(exc, post, fixed_indegree(k_e), weight=1.0, delay=1.5)
        net.connect(inh, post, fixed_indegree(k_i), weight=-4.0, delay=1.0)
        net.connect(src, post, fixed_indegree(20), weight=8.0, delay=1.0)
    return net


def cuba(n: int = 4000, seed: int = 1, *, p: float = 0.02, delay: float = 0.1) -> Network:
    """The CUBA network of the Vogels & Abbott (2005) / Brette et al. (2007) benchmarks, as in
    Brian2's example: current-based exponential synapses.

    ``n`` LIF neurons (80 % exc, 20 % inh; tau_m = 20 ms, v_rest = -49 mV, v_th = -50 mV,
    v_reset = -60 mV, t_ref = 5 ms, initial V uniform in [-60, -50) mV), each pair
    connected with probability ``p`` (2 %; Bernoulli, autapses allowed as in Brian2): excitatory
    weight 1.62 mV (tau_syn_exc = 5 ms), inhibitory -9 mV (tau_syn_inh = 10 ms), delay
    ``delay`` ms.  The weights are Brian2's (60 * 0.27 / 10 mV and -20 * 4.5 / 10 mV).
    The resting potential lies above threshold, so the network is self-sustained with no
    external input; with these parameters it fires irregularly at about 5.5 Hz (seed 1,
    1 s: exc 5.5 Hz, inh 5.6 Hz, CV(ISI) 0.52; measured).  Brian2 has no delay; eventsnn
    needs delays > 0 between neurons and uses one grid step of the original (0.1 ms).

    Parameters
    ----------
    n : int
        Total neurons (default 4000: 3200 exc + 800 inh, about 3.2 * 10**5 synapses).
    """
    n = integer("n", n, lo=5)
    model = LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_rest=-49.0, v_th=-50.0,
                v_reset=-60.0, t_ref=5.0)
    n_e = int(round(0.8 * n))
    n_i = n - n_e
    net = Network(seed=seed)
    exc = net.population(n_e, model, name="exc", v_init=(-60.0, -50.0))
    inh = net.population(n_i, model, name="inh", v_init=(-60.0, -50.0))
    for post in (exc, inh):
        net.connect(exc, post, fixed_probability(p), weight=1.62, delay=delay)
        net.connect(inh, post, fixed_probability(p), weight=-9.0, delay=delay)
    return net
