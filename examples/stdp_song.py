"""Competitive Hebbian learning through STDP (Song, Miller & Abbott 2000).

1000 independent Poisson inputs (15 Hz) drive one LIF neuron through synapses with
additive all-to-all pair STDP: tau_plus = tau_minus = 20 ms, A+ = 0.01 w_max,
A- = 1.05 A+ (depression 5 % stronger than potentiation), hard bounds [0, w_max],
initial weights uniform in [0, w_max].  STDP makes the synapses compete: over the run
the weight distribution turns from uniform into a U-shaped (bimodal) one with
weights piling up near 0 and near w_max, and the output rate is regulated down from
its initial value.

Neuron.  Song et al. (2000) and Brian2's example use a conductance-based neuron
(Brian2's linearises the driving force, which makes it current-based).  Here it is
eventsnn's current-based LIF with exponential synaptic currents, with Brian2's
time constants and potentials (units: ms, mV)::

    tau_m = 10, tau_syn = 5, v_rest = -74, v_th = -54, v_reset = -60, t_ref = 0

and w_max = 0.52 mV (a weight is the jump of the synaptic current; the peak PSP of
w_max is 0.13 mV).  w_max was chosen so that the output fires at 10-30 Hz at the
start (22 Hz in the first 10 s with seed 1; Brian2's w_max, 0.6 mV in these units,
starts near 60 Hz).  Measured after 100 s (seed 1): 20.5 % of the weights near 0 and
19.1 % near w_max (8.8 % and 8.9 % at the start), output rate 15.5-17.4 Hz per 10 s
after the first 40 s.  Competition is slow at these rates: with Brian2's parameters
the fractions were 33 % and 22 % after 400 s.  Spike times are exact (no time grid);
all inputs reach the neuron after a delay of 0.1 ms.

"Near 0" and "near w_max" mean within 10 % of the range: w < 0.1 w_max and
w > 0.9 w_max (10 % each for the uniform start).

Prints the output rate per 10 s, the two fractions, timings and plasticity counts;
saves ``stdp_song.png`` (the STDP window, weight histograms, output rate over time, a
few weight trajectories) when matplotlib is installed (``pip install "eventsnn[plot]"``;
``--plot ''`` skips it).

    python examples/stdp_song.py [--duration 100000] [--seed 1] [--plot stdp_song.png]
"""
import argparse

import numpy as np

import eventsnn as ev
from eventsnn import plot
from eventsnn.plasticity import STDP

N_IN = 1000
RATE = 15.0        # Hz
W_MAX = 0.52       # mV
LOW, HIGH = 0.1, 0.9


def build(seed=1, learning=True, plastic=True, n_in=N_IN, rate=RATE, w_max=W_MAX):
    """The network: (net, proj).  ``plastic=False`` gives the same network with static
    synapses (for timing comparisons)."""
    net = ev.Network(seed=seed)
    lif = ev.LIF(tau_m=10.0, tau_syn_exc=5.0, tau_syn_inh=5.0, v_rest=-74.0, v_th=-54.0,
                 v_reset=-60.0, t_ref=0.0)
    post = net.population(1, lif, name="post", v_init=-60.0)
    src = net.poisson_source(n_in, rate, name="in")
    # the inputs' spikes (1.5 million in 100 s) are not needed: only the output's and the weights
    net.record_source_spikes(False)
    rule = STDP(a_plus=0.01 * w_max, a_minus=1.05 * 0.01 * w_max, tau_plus=20.0, tau_minus=20.0,
                w_min=0.0, w_max=w_max, interaction="all", weight_dependence="additive")
    proj = net.connect(src, post, ev.all_to_all(), weight=lambda g, n: g.uniform(0.0, w_max, n),
                       delay=0.1, plasticity=rule if plastic else None)
    if plastic and not learning:
        proj.learning = False
    return net, proj


def fractions(w, w_max=W_MAX):
    """(fraction near 0, fraction near w_max)."""
    return float(np.mean(w < LOW * w_max)), float(np.mean(w > HIGH * w_max))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=100_000.0, help="ms")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plot", default="stdp_song.png", help="PNG path ('' to skip)")
    args = ap.parse_args()

    with ev.Stopwatch() as built:
        net, proj = build(args.seed)
        w0 = proj.weights.copy()
    with ev.Stopwatch() as sim:
        # run in 1-s chunks to sample weights (chunked runs equal one long run bitwise)
        chunk = min(1000.0, args.duration)
        traj_ids = np.argsort(w0)[np.linspace(0, N_IN - 1, 8).astype(int)]
        times, traj = [0.0], [w0[traj_ids]]
        while net.t < args.duration:
            net.run(min(chunk, args.duration - net.t))
            times.append(net.t / 1000.0)
            traj.append(proj.weights[traj_ids])

    w = proj.weights.copy()
    sp = net.spikes.times
    bin_ms = min(10_000.0, args.duration)
    edges = np.arange(0.0, args.duration + bin_ms / 2, bin_ms)
    rate = np.histogram(sp, edges)[0] / (bin_ms / 1000.0)
    lo0, hi0 = fractions(w0)
    lo, hi = fractions(w)
    c = net.counts
    print(f"Song, Miller & Abbott (2000): {N_IN} Poisson inputs at {RATE} Hz -> 1 LIF neuron, "
          f"additive STDP, {args.duration / 1000:.0f} s")
    print(f"build {built.seconds:.2f} s, compile {built.compile + sim.compile:.2f} s (first run on a machine "
          f"only), simulate {sim.seconds:.2f} s (wall, including weight sampling)")
    print("output rate per %.0f s (Hz): %s" % (bin_ms / 1000, " ".join(f"{r:.1f}" for r in rate)))
    print(f"weights near 0 (< {LOW:g} w_max): {lo0:.3f} -> {lo:.3f};  "
          f"near w_max (> {HIGH:g} w_max): {hi0:.3f} -> {hi:.3f};  "
          f"mean w/w_max {w0.mean() / W_MAX:.3f} -> {w.mean() / W_MAX:.3f}")
    print(f"spikes {c.spikes}, source spikes {c.source_spikes}, synaptic events {c.source_syn_events}, "
          f"trace updates {c.trace_updates}, weight updates {c.weight_updates}")
    if args.plot:
        try:
            fig, ax = plot.subplots(1, 4, figsize=(17, 3.8))
        except ImportError as e:   # matplotlib is optional
            print(f"no figure ({e})")
            return
        plot.stdp_window(proj.plasticity, ax=ax[0], t_range=100.0)
        bins = np.linspace(0.0, W_MAX, 21)
        plot.weight_hist(w0, bins, ax=ax[1], label="initial", color="0.8")
        plot.weight_hist(w, bins, ax=ax[1], label=f"after {args.duration / 1000:.0f} s", histtype="step",
                         color="k", lw=1.5)
        ax[1].set_title(f"near 0: {lo:.1%}, near w_max: {hi:.1%}", fontsize=9)
        plot.population_rate(net.spikes, bin=bin_ms, n=1, t_start=0.0, t_stop=args.duration, ax=ax[2],
                             label="output neuron", color="k")
        ax[3].plot(np.array(times) * 1000.0, np.array(traj), lw=0.8)
        ax[3].set_xlabel("time (ms)")
        ax[3].set_ylabel("weight (mV, 8 synapses)")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"figure saved to {args.plot}")


if __name__ == "__main__":
    main()
