"""Operation counting: one network run event-driven and clock-driven (dt = 0.1 ms).

Builds the CUBA network (Vogels & Abbott 2005; 4000 LIF neurons with exponential
synaptic currents, 2 % connectivity, self-sustained at about 5.5 Hz), runs it for 1 s
with the exact event engine and with the clock-driven reference engine, and prints the
side-by-side report: synaptic accumulates, neuron updates, queue work, a dense ANN of
the same layers, NeuroBench figures and an energy estimate (45 nm, Horowitz 2014).
When matplotlib is installed (``pip install "eventsnn[plot]"``), saves bar charts of the
operations and of the energy estimate per engine (``--plot ''`` skips them).

    python examples/op_counting.py [--case cuba] [--n N] [--duration 1000] [--dt 0.1]
                                   [--plot op_counting.png]
"""
import argparse

import eventsnn as ev
from eventsnn import counting, plot
from eventsnn.cli import DEFAULT_N, build_case
from eventsnn.engine.clock import ClockEngine


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="cuba", choices=sorted(DEFAULT_N))
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--duration", type=float, default=1000.0, help="ms")
    ap.add_argument("--dt", type=float, default=0.1, help="clock step (ms)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plot", default="op_counting.png", help="PNG path ('' to skip)")
    args = ap.parse_args()

    net = build_case(args.case, args.n, args.seed).prepare()
    with ev.Stopwatch() as ev_t:
        res = net.run(args.duration)                         # exact, event-driven
    with ev.Stopwatch() as ck_t:
        clock = ClockEngine(net, args.dt).run(args.duration)  # same network, on a grid; own state
    print(f"{args.case}: {net.n_neurons} neurons, {net.n_synapses} synapses, {args.duration} ms")
    for name in net.populations:
        print(f"  {name}: event {res.rates(name):.2f} Hz, clock {clock.rates(name):.2f} Hz")
    print(f"  wall time: event {ev_t.seconds:.2f} s, clock {ck_t.seconds:.2f} s (machine may be shared; "
          f"kernel compilation {ev_t.compile + ck_t.compile:.2f} s apart)\n")
    rep = counting.report(counting.record(net, res, clock=clock), dt=args.dt)
    print(rep)
    if args.plot:
        try:
            fig, (ax1, ax2) = plot.subplots(1, 2, figsize=(12, 4.5))
        except ImportError as e:   # matplotlib is optional
            print(f"\n(no chart: {e})")
            return
        plot.op_counts(rep, ax=ax1)
        plot.op_counts(rep, ax=ax2, what="energy")
        fig.suptitle(f"{args.case}: {net.n_neurons} neurons, {args.duration:g} ms, clock dt = {args.dt:g} ms")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"\nchart saved to {args.plot}")


if __name__ == "__main__":
    main()
