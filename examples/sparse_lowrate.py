"""A large sparse network: 10**6 exp-synapse LIF neurons, 100 recurrent synapses each,
firing at a few Hz, 1 s of biological time (about a minute on a 2-core laptop).

    python examples/sparse_lowrate.py [--n 1000000] [--duration 1000]
"""
import argparse

import eventsnn as ev
from eventsnn.cases import sparse_lowrate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--duration", type=float, default=1000.0, help="ms")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with ev.Stopwatch() as build:
        net = sparse_lowrate(args.n, seed=args.seed).prepare()
    with ev.Stopwatch() as sim:
        res = net.run(args.duration)
    mem = net.synapse_bytes()
    print(f"{net.n_neurons} neurons, {net.n_synapses} synapses "
          f"({mem['bytes_per_synapse']:.1f} B/synapse), {args.duration} ms")
    print(f"build {build.seconds:.2f} s, compile {build.compile + sim.compile:.2f} s (first run on a "
          f"machine only), simulate {sim.seconds:.2f} s")
    for name in ("exc", "inh"):
        print(f"  {name}: {res.rates(name):.3f} Hz")
    c = res.counts
    print(f"  recurrent synaptic events {c.syn_events} ({c.syn_events / sim.seconds / 1e6:.1f} M/s), "
          f"source events {c.source_syn_events}")
    print(f"  {c}")


if __name__ == "__main__":
    main()
