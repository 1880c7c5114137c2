"""Brunel (2000) balanced network, model A, simulated exactly for 1 s.

8000 excitatory + 2000 inhibitory LIF neurons with delta synapses, 10**7 synapses,
20 kHz external Poisson drive per neuron.  Prints rates (about 43 Hz), the CV of the
inter-spike intervals and the operation counts; saves a figure (raster, population
rates, inter-spike intervals and their CV) when matplotlib is installed
(``pip install "eventsnn[plot]"``; ``--plot ''`` skips it).

    python examples/brunel.py [--n 10000] [--duration 1000] [--seed 1] [--plot brunel_raster.png]
"""
import argparse

import eventsnn as ev
from eventsnn import plot
from eventsnn.analysis import cv_isi
from eventsnn.cases import brunel


def figure(res, path):
    """Raster of the first 200 neurons of each population, population rates (1-ms
    bins), inter-spike intervals and per-neuron CVs of the excitatory population."""
    fig, ax = plot.subplots(2, 2, figsize=(11, 7))
    plot.raster(res, ax=ax[0, 0], per_population=200)
    ax[0, 0].set_title("Brunel A: exact spike times", fontsize="small")
    plot.population_rate(res, ["exc", "inh"], bin=1.0, ax=ax[0, 1])
    plot.isi_hist(res, "exc", bins=60, ax=ax[1, 0])
    plot.cv_hist(res, "exc", bins=40, ax=ax[1, 1])
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--duration", type=float, default=1000.0, help="ms")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plot", default="brunel_raster.png", help="PNG path ('' to skip)")
    args = ap.parse_args()

    with ev.Stopwatch() as build:
        net = brunel(args.n, seed=args.seed).prepare()
    with ev.Stopwatch() as sim:
        res = net.run(args.duration)
    print(f"Brunel A: {net.n_neurons} neurons, {net.n_synapses} synapses, {args.duration} ms")
    print(f"build {build.seconds:.2f} s, compile {build.compile + sim.compile:.2f} s (first run on a "
          f"machine only), simulate {sim.seconds:.2f} s")
    for name in ("exc", "inh"):
        s = res.spikes_of(name)
        n = net.populations[name][1]
        print(f"  {name}: {res.rates(name):6.2f} Hz, CV(ISI) {cv_isi(s.times, s.ids, n):.3f}")
    c = res.counts
    print(f"  spikes {c.spikes}, recurrent synaptic events {c.syn_events} "
          f"({c.syn_events / sim.seconds / 1e6:.1f} M/s), external arrivals {c.drive_events}")
    print(f"  {c}")
    if args.plot:
        try:
            figure(res, args.plot)
            print(f"  figure saved to {args.plot}")
        except ImportError as e:   # matplotlib is optional
            print(f"  no figure ({e})")


if __name__ == "__main__":
    main()
