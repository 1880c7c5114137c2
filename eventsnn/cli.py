"""The ``eventsnn`` command: run the built-in networks and print rates and op counts.

    eventsnn run brunel [--n 10000] [--duration 1000] [--seed 1] [--json]
    eventsnn run sparse-lowrate [--n 1000000] ...

Exit codes: 0 ok, 2 bad arguments (one-line message, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

CASES = ("brunel", "sparse-lowrate")


def _arg(convert, ok, expected, allowed):
    """An argparse type: ``convert`` the string, then require ``ok(value)``; errors
    become one-line argparse messages (exit code 2)."""
    def parse(s):
        try:
            v = convert(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {s!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {s!r}")
        return v
    return parse


_positive_int = _arg(int, lambda v: v >= 1, "an integer", ">= 1")
_duration = _arg(float, lambda v: 0 <= v < float("inf"), "a number of ms", "finite and >= 0 ms")
_seed = _arg(int, lambda v: v >= 0, "an integer seed", ">= 0")


def build_parser():
    p = argparse.ArgumentParser(prog="eventsnn", description="Exact event-driven SNN simulation")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a built-in network")
    r.add_argument("case", choices=CASES)
    r.add_argument("--n", type=_positive_int, default=None, help="number of neurons")
    r.add_argument("--duration", type=_duration, default=1000.0, help="biological time (ms)")
    r.add_argument("--seed", type=_seed, default=1)
    r.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run_case(case, n=None, duration=1000.0, seed=1):
    """Build and run a case; returns a dict of results (rates in Hz, counts, timings)."""
    from . import cases
    from .analysis import cv_isi
    t0 = time.perf_counter()
    if case == "brunel":
        net = cases.brunel(n or 10_000, seed=seed)
    else:
        net = cases.sparse_lowrate(n or 1_000_000, seed=seed)
    t1 = time.perf_counter()
    res = net.run(duration)
    t2 = time.perf_counter()
    out = {"case": case, "n_neurons": net.n_neurons, "n_synapses": net.n_synapses,
           "bio_time_ms": duration, "seed": seed, "build_s": round(t1 - t0, 3),
           "sim_s": round(t2 - t1, 3), "spikes": len(res.spikes), "rates_hz": {},
           "cv_isi": {}, "counts": res.counts.as_dict()}
    for name, (off, size) in net.populations.items():
        s = res.spikes_of(name)
        out["rates_hz"][name] = round(res.rates(name), 3)
        out["cv_isi"][name] = round(cv_isi(s.times, s.ids, size), 3)
    out["syn_events_per_s"] = round(res.counts.syn_events / max(t2 - t1, 1e-9))
    return out


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    out = run_case(args.case, args.n, args.duration, args.seed)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{out['case']}: {out['n_neurons']} neurons, {out['n_synapses']} synapses, "
          f"{out['bio_time_ms']} ms (build {out['build_s']} s, simulate {out['sim_s']} s)")
    for name, r in out["rates_hz"].items():
        print(f"  {name:>8}: rate {r:8.3f} Hz   CV(ISI) {out['cv_isi'][name]:.3f}")
    print(f"  spikes {out['spikes']}, recurrent synaptic events {out['counts']['syn_events']} "
          f"({out['syn_events_per_s'] / 1e6:.1f} M/s)")
    print("  counts: " + ", ".join(f"{k}={v}" for k, v in out["counts"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
