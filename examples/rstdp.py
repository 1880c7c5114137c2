"""Reward-modulated STDP: reinforcing one synapse out of many (Izhikevich 2007).

Izhikevich (2007, Cereb. Cortex 17:2443, Fig. 1) rewards one synapse of a network
with a dopamine pulse whenever its presynaptic neuron fires and its postsynaptic
neuron fires within 10 ms after it.  The reward comes 1-3 s late, long after the
coincidence; a slowly decaying eligibility trace of every synapse bridges the gap
("distal reward problem").  Every synapse sees the same reward, yet only the
rewarded one grows, because only its eligibility is consistently positive when the
reward arrives; the others' eligibilities are as often negative as positive (and on
average negative, since depression is stronger than potentiation).

Setup here (units: ms, mV, Hz):

* 100 inputs firing Poisson trains at 1 Hz (explicit spike trains drawn with a seeded
  generator, so the script knows every presynaptic spike) project all-to-all onto
  10 current-based LIF neurons (delta synapses; tau_m = 10, v_rest = -70,
  v_th = -54, v_reset = -60, t_ref = 2, i_bias = -2.5) through
  :class:`eventsnn.plasticity.RewardSTDP` synapses: 1000 plastic synapses,
  A+ = 0.1 mV, A- = 0.2 mV, tau_plus = tau_minus = 20 ms, tau_c = 1 s,
  tau_d = 200 ms, bounds [0, 4] mV, initial weights uniform in [0, 1] mV, delay 1 ms.
* Each output neuron also gets its own static Poisson drive (200 Hz of 3.35 mV
  jumps), which makes it fire irregularly at about 2 Hz, as Izhikevich's neurons fire
  at about 1 Hz driven by random thalamic input.  The drive, not the plastic inputs
  (100 x 1 Hz), decides when a neuron fires, so a synapse gains little from causing
  spikes by itself (unrewarded synapses do not run away).
* The rewarded synapse is input 0 -> output 0.  The network runs in steps of at most
  1 s; after each step the script finds the coincidences of the rewarded synapse (an
  arrival of input 0 at output 0 followed by a spike of output 0 within 10 ms; an
  arrival at the spike's own instant counts, as in the engine's pairing rule) and
  schedules a reward at the spike time plus a delay drawn uniformly from [1, 3] s.
  Because that delay is at least one step, every reward is applied exactly at its
  time: the next run stops there and ``proj.reward(0.025)`` raises the reward level
  d (1/ms; the weight changes at the rate d(t) c(t) with c the eligibility).

Differences to Izhikevich's setup: LIF neurons with a Poisson drive instead of a
recurrent network of Izhikevich neurons, no tonic dopamine, A-/A+ = 2 instead of 1.5
(with the tonic dopamine absent, the stronger depression is what keeps the other
synapses down).  With the defaults the rewarded synapse reaches the bound (4 mV)
after roughly 2000-3000 s of biological time while the mean of the other 999 falls
(seeds 1 and 2 measured: 0.50 -> 0.20 mV, the rewarded synapse ranks first).

Prints the rewarded weight and the mean, 99th percentile and maximum of the other
weights every 250 s, and a summary; saves ``rstdp.png`` (weights over time, final
weight histogram) when matplotlib is installed (``pip install "eventsnn[plot]"``;
``--plot ''`` skips it).

    python examples/rstdp.py [--duration 3600000] [--seed 1] [--plot rstdp.png]
"""
import argparse
import time

import numpy as np

import eventsnn as ev
from eventsnn import plot
from eventsnn.plasticity import RewardSTDP

WINDOW = 10.0           # ms: post spike within this time after the pre arrival
REWARD_DELAY = (1000.0, 3000.0)   # ms
DELAY = 1.0             # ms, synaptic delay (plastic projections need one delay)


def poisson_trains(rng, n, rate_hz, duration):
    """Spike times (ms) and ids of n independent Poisson trains on [0, duration)."""
    counts = rng.poisson(rate_hz * duration / 1000.0, n)
    ids = np.repeat(np.arange(n), counts)
    times = rng.uniform(0.0, duration, counts.sum())
    return times, ids


def coincidences(pre_arrivals, post_times):
    """Post spikes that follow an arrival of the rewarded synapse's presynaptic
    neuron within [0, WINDOW] ms (each post spike counted once)."""
    if len(pre_arrivals) == 0 or len(post_times) == 0:
        return post_times[:0]
    k = np.searchsorted(pre_arrivals, post_times, side="right") - 1  # last arrival <= t
    ok = k >= 0
    lag = np.full(len(post_times), np.inf)
    lag[ok] = post_times[ok] - pre_arrivals[k[ok]]
    return post_times[lag <= WINDOW]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=3_600_000.0, help="ms")
    ap.add_argument("--inputs", type=int, default=100)
    ap.add_argument("--outputs", type=int, default=10)
    ap.add_argument("--rate", type=float, default=1.0, help="input rate (Hz)")
    ap.add_argument("--reward", type=float, default=0.025, help="reward pulse (1/ms)")
    ap.add_argument("--a-plus", type=float, default=0.1, help="eligibility increment (mV)")
    ap.add_argument("--a-minus", type=float, default=0.2, help="eligibility decrement (mV)")
    ap.add_argument("--i-bias", type=float, default=-2.5, help="bias current (mV)")
    ap.add_argument("--drive-rate", type=float, default=200.0, help="Poisson drive per output (Hz)")
    ap.add_argument("--drive-w", type=float, default=3.35, help="drive weight (mV)")
    ap.add_argument("--chunk", type=float, default=1000.0,
                    help="run step (ms), at most the shortest reward delay (1000 ms)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plot", default="rstdp.png", help="PNG path ('' to skip)")
    args = ap.parse_args()
    if not 0.0 < args.chunk <= REWARD_DELAY[0]:
        ap.error(f"--chunk must be in (0, {REWARD_DELAY[0]}] ms so that no reward falls inside a step")

    rng = np.random.default_rng(args.seed)
    times, ids = poisson_trains(rng, args.inputs, args.rate, args.duration)
    pre0 = np.sort(times[ids == 0]) + DELAY      # arrivals of the rewarded synapse

    net = ev.Network(seed=args.seed)
    lif = ev.LIF(tau_m=10.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=-70.0, v_th=-54.0,
                 v_reset=-60.0, t_ref=2.0, i_bias=args.i_bias)
    out = net.population(args.outputs, lif, name="out", v_init=(-70.0, -60.0))
    if args.drive_rate > 0:
        net.poisson_drive(out, args.drive_rate, args.drive_w)
    src = net.spike_source(times, ids, n=args.inputs, name="in")
    rule = RewardSTDP(a_plus=args.a_plus, a_minus=args.a_minus, tau_plus=20.0, tau_minus=20.0,
                      tau_c=1000.0, tau_d=200.0, w_min=0.0, w_max=4.0)
    proj = net.connect(src, out, ev.all_to_all(), weight=lambda g, n: g.uniform(0.0, 1.0, n),
                       delay=DELAY, plasticity=rule)
    s0 = 0      # CSR order of all_to_all: synapse (input 0 -> output 0) comes first
    assert proj.csr.indices[s0] == 0 and proj.csr.indptr[1] > s0

    pending = []                  # scheduled reward times (ms), kept sorted
    hist_t, hist_w0, hist_mean, hist_p99 = [], [], [], []
    n_rewards = 0
    n_coinc = 0
    n_spikes = 0
    t_wall = time.perf_counter()
    next_log = 0.0
    while net.t < args.duration:
        t_stop = min(net.t + args.chunk, args.duration, pending[0] if pending else np.inf)
        res = net.run(t_stop - net.t)
        n_spikes += len(res.spikes)
        post0 = res.spikes.times[res.spikes.ids == out.offset]
        hits = coincidences(pre0, post0)
        n_coinc += len(hits)
        for th in hits:
            pending.append(th + rng.uniform(*REWARD_DELAY))
        pending.sort()
        while pending and pending[0] <= net.t:
            # run() stopped exactly at this reward time (no reward is missed or late)
            pending.pop(0)
            proj.reward(args.reward)
            n_rewards += 1
        if net.t >= next_log:
            w = proj.weights
            others = np.delete(w, s0)
            hist_t.append(net.t / 1000.0)
            hist_w0.append(w[s0])
            hist_mean.append(others.mean())
            hist_p99.append(np.percentile(others, 99))
            if int(net.t) % 250_000 < args.chunk:
                print(f"t = {net.t / 1000:6.0f} s  rewarded w = {w[s0]:.3f} mV  others: "
                      f"mean {others.mean():.3f}, 99th pct {hist_p99[-1]:.3f}, max {others.max():.3f} mV"
                      f"  rewards {n_rewards}", flush=True)
            next_log += 1000.0
    wall = time.perf_counter() - t_wall
    w = proj.weights
    others = np.delete(w, s0)
    rank = int((others >= w[s0]).sum()) + 1
    print(f"\n{args.inputs} x {args.outputs} = {w.size} plastic synapses, {args.duration / 1000:.0f} s, "
          f"output rate {n_spikes / args.outputs / (args.duration / 1000):.1f} Hz, "
          f"{n_coinc} coincidences, {n_rewards} rewards, wall {wall:.1f} s")
    print(f"rewarded synapse: {w[s0]:.3f} mV (initial {hist_w0[0]:.3f} mV), rank {rank} of {w.size}")
    print(f"other synapses:   mean {others.mean():.3f} mV (initial {hist_mean[0]:.3f}), "
          f"99th percentile {np.percentile(others, 99):.3f}, max {others.max():.3f} mV")
    print(f"plasticity work: {net.counts.trace_updates} trace updates, "
          f"{net.counts.weight_updates} weight updates")
    if args.plot:
        try:
            fig, ax = plot.subplots(1, 2, figsize=(10, 3.6))
        except ImportError as e:   # matplotlib is optional
            print(f"no figure ({e})")
            return
        ax[0].plot(hist_t, hist_w0, "r", label="rewarded synapse")
        ax[0].plot(hist_t, hist_mean, "k", label="others: mean")
        ax[0].plot(hist_t, hist_p99, "k:", label="others: 99th percentile")
        ax[0].set_xlabel("time (s)")
        ax[0].set_ylabel("weight (mV)")
        ax[0].legend(fontsize=8)
        plot.weight_hist(others, 40, ax=ax[1], color="0.5")
        ax[1].axvline(w[s0], color="r")
        ax[1].set_xlabel("final weight (mV)")
        ax[1].set_title("rewarded synapse in red", fontsize=9)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"figure saved to {args.plot}")


if __name__ == "__main__":
    main()
