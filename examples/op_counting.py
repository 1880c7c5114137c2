"""Operation counting: one network run event-driven and clock-driven (dt = 0.1 ms).

Builds the CUBA network (Vogels & Abbott 2005; 4000 LIF neurons with exponential
synaptic currents, 2 % connectivity, self-sustained at about 5.5 Hz), runs it for 1 s
with the exact event engine and with the clock-driven reference engine, and prints the
side-by-side report: synaptic accumulates, neuron updates, queue work, a dense ANN of
the same layers, NeuroBench figures and an energy estimate (45 nm, Horowitz 2014).
When matplotlib is installed, saves a bar chart of operations and energy per engine.

    python examples/op_counting.py [--case cuba] [--n N] [--duration 1000] [--dt 0.1]
                                   [--plot op_counting.png]
"""
import argparse
import time

from eventsnn import counting
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
    t0 = time.perf_counter()
    res = net.run(args.duration)                         # exact, event-driven
    t1 = time.perf_counter()
    clock = ClockEngine(net, args.dt).run(args.duration)  # same network, on a grid; own state
    t2 = time.perf_counter()
    print(f"{args.case}: {net.n_neurons} neurons, {net.n_synapses} synapses, {args.duration} ms")
    for name in net.populations:
        print(f"  {name}: event {res.rates(name):.2f} Hz, clock {clock.rates(name):.2f} Hz")
    print(f"  wall time: event {t1 - t0:.2f} s, clock {t2 - t1:.2f} s (machine may be shared)\n")
    rep = counting.report(counting.record(net, res, clock=clock), dt=args.dt)
    print(rep)
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("\n(matplotlib not installed: no chart)")
            return
        d = rep.as_dict()
        cols = [("event", d["event"]), ("clock", d["clock"]), ("dense ANN", d["ann"])]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        rows = sorted({k for _, c in cols for k, v in c["ops"].items() if "energy_pj" in v})
        bottom = [0.0] * len(cols)
        for r in rows:
            vals = [c["ops"].get(r, {}).get("count", 0) or 0 for _, c in cols]
            ax1.bar([n for n, _ in cols], vals, bottom=bottom, label=r)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax1.set_ylabel("operations")
        ax1.legend(fontsize=7)
        ax2.bar([n for n, _ in cols], [c["energy_pj"]["total"] / 1e6 for _, c in cols], color="gray")
        ax2.set_ylabel("energy estimate (uJ, 45 nm)")
        fig.suptitle(f"{args.case}: {net.n_neurons} neurons, {args.duration:g} ms, clock dt = {args.dt:g} ms")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"\nchart saved to {args.plot}")


if __name__ == "__main__":
    main()
