"""Brunel (2000) balanced network, model A, simulated exactly for 1 s.

8000 excitatory + 2000 inhibitory LIF neurons with delta synapses, 10**7 synapses,
20 kHz external Poisson drive per neuron.  Prints rates (about 43 Hz), the CV of the
inter-spike intervals and the operation counts; saves a raster when matplotlib is
installed.

    python examples/brunel.py [--n 10000] [--duration 1000] [--seed 1]
"""
import argparse
import time

from eventsnn.analysis import cv_isi
from eventsnn.cases import brunel


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--duration", type=float, default=1000.0, help="ms")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plot", default="brunel_raster.png", help="PNG path ('' to skip)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    net = brunel(args.n, seed=args.seed).prepare()
    t1 = time.perf_counter()
    res = net.run(args.duration)
    t2 = time.perf_counter()
    print(f"Brunel A: {net.n_neurons} neurons, {net.n_synapses} synapses, {args.duration} ms")
    print(f"build {t1 - t0:.2f} s, simulate {t2 - t1:.2f} s")
    for name in ("exc", "inh"):
        s = res.spikes_of(name)
        n = net.populations[name][1]
        print(f"  {name}: {res.rates(name):6.2f} Hz, CV(ISI) {cv_isi(s.times, s.ids, n):.3f}")
    c = res.counts
    print(f"  spikes {c.spikes}, recurrent synaptic events {c.syn_events} "
          f"({c.syn_events / (t2 - t1) / 1e6:.1f} M/s), external arrivals {c.drive_events}")
    print(f"  {c}")
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return
        m = res.spikes.ids < 500
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot(res.spikes.times[m], res.spikes.ids[m], ",k")
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("neuron")
        ax.set_title("Brunel A: first 500 neurons (exact spike times)")
        fig.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"  raster saved to {args.plot}")


if __name__ == "__main__":
    main()
