"""The ``eventsnn`` command: run the built-in networks, print rates, counters and the
operation-count report; print the report of a saved run.

    eventsnn run brunel [--n 10000] [--duration 1000] [--seed 1] [--dt 0.1] [--clock]
                        [--save run.npz] [--json] [--quiet] [--no-report]
                        [--record all|none|rates] [--bin 1.0] [--plot out.png]
    eventsnn run sparse-lowrate [--n 1000000] ...
    eventsnn run cuba [--n 4000] ...
    eventsnn count run.npz [--dt 0.1] [--mem-pj 10] [--json]
    eventsnn info
    eventsnn --version

``--record none`` keeps no spikes (the rates then come from the counts), ``--record
rates`` counts each population's spikes in bins of ``--bin`` ms instead of keeping them;
both skip the op-count report, whose NeuroBench figures need every spike.  ``--plot``
writes a raster and population-rate figure (needs matplotlib: ``pip install
"eventsnn[plot]"``).  Times are reported apart: build, kernel compilation (first run on a
machine only) and simulation.

``--clock`` also runs the clock-driven reference engine (step ``--dt``) and puts its
measured counts in the report; without it the clock column is the formula.  ``--save``
writes a run record (counts, interval, layer sizes, synapse counts, spikes) that
``eventsnn count`` turns into a report later, for any ``--dt``.

Long runs show a progress bar on stderr when stdout and stderr are terminals (never with
``--quiet`` or when output is piped).  Exit codes: 0 ok, 2 bad arguments or unreadable
input (one-line message, no traceback), 130 interrupted, 141 output pipe closed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

CASES = ("brunel", "sparse-lowrate", "cuba")
DEFAULT_N = {"brunel": 10_000, "sparse-lowrate": 1_000_000, "cuba": 4000}


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
_seed = _arg(int, lambda v: 0 <= v < 2**63, "an integer seed", ">= 0 and < 2**63")
_dt = _arg(float, lambda v: 0 < v < float("inf"), "a number of ms", "finite and > 0 ms")
_pj = _arg(float, lambda v: 0 <= v < float("inf"), "a number of pJ", "finite and >= 0 pJ")


def build_parser():
    from . import __version__
    p = argparse.ArgumentParser(prog="eventsnn", description="Exact event-driven SNN simulation")
    p.add_argument("--version", action="version", version=f"eventsnn {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print the versions of eventsnn, numba, numpy, scipy and the thread count")
    r = sub.add_parser("run", help="run a built-in network and print rates, counters and the op-count report")
    r.add_argument("case", choices=CASES)
    r.add_argument("--n", type=_positive_int, default=None, help="number of neurons")
    r.add_argument("--duration", type=_duration, default=1000.0, help="biological time (ms)")
    r.add_argument("--seed", type=_seed, default=1)
    r.add_argument("--dt", type=_dt, default=0.1,
                   help="clock-driven comparison step and NeuroBench bin (ms, default 0.1)")
    r.add_argument("--clock", action="store_true",
                   help="also run the clock-driven engine and report its measured counts")
    r.add_argument("--mem-pj", type=_pj, default=None, help="add a memory-energy row (pJ per 64-bit access)")
    r.add_argument("--save", metavar="PATH", default=None, help="write the run record (.npz) for `eventsnn count`")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--no-report", action="store_true", help="skip the op-count report (rates and counters only)")
    r.add_argument("--record", choices=("all", "none", "rates"), default="all",
                   help="keep every spike (default), none, or only binned population rates")
    r.add_argument("--bin", type=_dt, default=1.0, help="bin width (ms) of --record rates and of --plot")
    r.add_argument("--plot", metavar="PATH", default=None,
                   help="write a raster and population-rate figure (.png, .pdf, .svg; needs matplotlib)")
    c = sub.add_parser("count", help="print the op-count report of a run saved with `eventsnn run ... --save`")
    c.add_argument("path", help="a .npz written by `eventsnn run ... --save`")
    c.add_argument("--dt", type=_dt, default=0.1,
                   help="clock-driven step (formula; a saved clock run keeps its own) and NeuroBench bin (ms)")
    c.add_argument("--mem-pj", type=_pj, default=None, help="add a memory-energy row (pJ per 64-bit access)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _show_progress(quiet):
    return not quiet and sys.stdout.isatty() and sys.stderr.isatty()


def build_case(case, n=None, seed=1):
    from . import cases
    n = n or DEFAULT_N[case]
    if case == "brunel":
        return cases.brunel(n, seed=seed)
    if case == "cuba":
        return cases.cuba(n, seed=seed)
    return cases.sparse_lowrate(n, seed=seed)


def run_event(net, duration, progress=None):
    """Run the event engine for ``duration`` ms, with a progress bar when ``progress``
    (``Network.run`` cuts the run into slices then, which changes no result)."""
    return net.run(duration, progress=bool(progress))


def run_clock_chunked(net, duration, dt, progress=None, chunks=20):
    """Clock-engine counterpart of :func:`run_event` (chunks of whole steps)."""
    from .engine.clock import ClockEngine
    eng = ClockEngine(net, dt)
    nsteps = eng.steps_for(duration)
    done = 0
    for k in range(1, chunks + 1):
        target = nsteps * k // chunks
        eng.run((target - done) * dt)
        done = target
        if progress is not None:
            progress.update(k / chunks)
    from .results import Result
    return Result(0.0, eng.t, eng.spikes, eng.counts, None, net.populations, dt)


def run_case(case, n=None, duration=1000.0, seed=1, *, dt=0.1, clock=False, report=True, mem_pj=None,
             quiet=True, save=None, record="all", bin=1.0, plot=None):
    """Build and run a case; returns a dict of results (rates in Hz, counts, timings and,
    unless ``report`` is False, the op-count report)."""
    from . import counting
    from ._compile import compile_time
    from .analysis import cv_isi
    show = _show_progress(quiet)
    c0 = compile_time()
    t0 = time.perf_counter()
    net = build_case(case, n, seed)
    if record != "all":
        net.record_spikes(None)
        report = False
    if record == "rates" or plot:
        rate_recs = {p.name: net.record_rate(p, bin=bin) for p in net._pops}
    net.prepare()
    t1 = time.perf_counter()
    c1 = compile_time()
    res = run_event(net, duration, show)
    t2 = time.perf_counter()
    c2 = compile_time()
    sim = (t2 - t1) - (c2 - c1)
    out = {"case": case, "n_neurons": net.n_neurons, "n_synapses": net.n_synapses,
           "bio_time_ms": duration, "seed": seed, "build_s": round((t1 - t0) - (c1 - c0), 3),
           "compile_s": round(c2 - c0, 3), "sim_s": round(sim, 3), "record": record,
           "spikes": res.counts.spikes, "rates_hz": {}, "cv_isi": {}, "counts": res.counts.as_dict()}
    for name, (off, size) in net.populations.items():
        if record == "all":
            s = res.spikes_of(name)
            out["rates_hz"][name] = round(res.rates(name), 3)
            out["cv_isi"][name] = round(cv_isi(s.times, s.ids, size), 3)
        elif record == "rates":
            d = rate_recs[name].data
            out["rates_hz"][name] = round(d.counts.sum() / size / (duration / 1000.0), 3) if duration else 0.0
            out.setdefault("binned_rates_hz", {})[name] = [round(float(x), 3) for x in d.rate]
    if record == "none":
        out["rates_hz"]["all"] = round(res.counts.spikes / net.n_neurons / (duration / 1000.0), 3) if duration else 0.0
    out["syn_events_per_s"] = round(res.counts.syn_events / max(sim, 1e-9))
    if plot:
        _plot(net, res, rate_recs, plot, record)
        out["plot"] = str(plot)
    cres = None
    if clock:
        from ._progress import Progress
        bar = Progress(0.0, 1.0, show, label=f"{case}: clock-driven dt={dt:g} ms")
        t3 = time.perf_counter()
        cres = run_clock_chunked(net, duration, dt, bar)
        bar.close()
        out["clock_sim_s"] = round(time.perf_counter() - t3, 3)
        out["clock_spikes"] = len(cres.spikes)
        out["wall_time_ratio_clock_over_event"] = round(out["clock_sim_s"] / max(out["sim_s"], 1e-9), 3)
    if report or save:
        rec = counting.record(net, res, clock=cres)
        if save:
            counting.save_record(rec, save)
            out["saved"] = str(save)
        if report:
            out["report"] = counting.report(rec, dt=dt, energy=counting.EnergyTable(mem_pj=mem_pj)).as_dict()
    return out


def _plot(net, res, rate_recs, path, record):
    """A raster (if spikes were kept) above the population rates."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError('--plot needs matplotlib: pip install "eventsnn[plot]"') from None
    from . import plot as evplot
    rows = 2 if record == "all" else 1
    fig, axes = plt.subplots(rows, 1, figsize=(8, 3 * rows), sharex=True, squeeze=False)
    if record == "all":
        evplot.raster(res, ax=axes[0, 0])
    ax = axes[-1, 0]
    for name, rr in rate_recs.items():
        evplot.population_rate(rr.data, ax=ax, label=name)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _info():
    import numba
    import numpy
    import scipy

    from . import __version__
    print(f"eventsnn {__version__}")
    print(f"numba    {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads available, "
          f"{numba.get_num_threads()} in use)")
    print(f"numpy    {numpy.__version__}")
    print(f"scipy    {scipy.__version__}")
    print(f"python   {sys.version.split()[0]}")
    print(f"cpus     {os.cpu_count()}")


def _print_run(out):
    print(f"{out['case']}: {out['n_neurons']} neurons, {out['n_synapses']} synapses, "
          f"{out['bio_time_ms']} ms (build {out['build_s']} s, compile {out['compile_s']} s, "
          f"simulate {out['sim_s']} s)")
    if out["compile_s"] > 0:
        print("  (kernels were compiled in this run; they are cached, so the next run skips that)")
    for name, r in out["rates_hz"].items():
        cv = out["cv_isi"].get(name)
        print(f"  {name:>8}: rate {r:8.3f} Hz" + (f"   CV(ISI) {cv:.3f}" if cv is not None else ""))
    print(f"  spikes {out['spikes']}, recurrent synaptic events {out['counts']['syn_events']} "
          f"({out['syn_events_per_s'] / 1e6:.1f} M/s)")
    print("  counts: " + ", ".join(f"{k}={v}" for k, v in out["counts"].items()))
    if "clock_sim_s" in out:
        print(f"  clock-driven engine: {out['clock_spikes']} spikes, simulate {out['clock_sim_s']} s "
              f"({out['wall_time_ratio_clock_over_event']}x the event-driven wall time)")
    if "saved" in out:
        print(f"  run record saved to {out['saved']}")
    if "report" in out:
        from .counting import Report
        print()
        print(Report(out["report"]))


def _fail(msg):
    print(f"eventsnn: error: {msg}", file=sys.stderr)
    return 2


def main(argv=None):
    try:
        return _main(argv)
    except BrokenPipeError:
        # output piped into e.g. `head`, which has exited: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _main(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            _info()
            return 0
        if args.command == "count":
            from . import counting
            try:
                rec = counting.load_record(args.path)
            except ValueError as e:
                return _fail(str(e).splitlines()[0])
            rep = counting.report(rec, dt=args.dt, energy=counting.EnergyTable(mem_pj=args.mem_pj))
            print(rep.to_json() if args.json else rep)
            return 0
        if args.save:
            parent = os.path.dirname(os.path.abspath(args.save))
            if not os.path.isdir(parent):
                return _fail(f"--save: directory {parent!r} does not exist")
            if not args.save.endswith(".npz"):
                return _fail(f"--save: {args.save!r} must end in .npz")
        if args.plot:
            parent = os.path.dirname(os.path.abspath(args.plot))
            if not os.path.isdir(parent):
                return _fail(f"--plot: directory {parent!r} does not exist")
        if args.save and args.record != "all":
            return _fail(f"--save needs every spike; it cannot go with --record {args.record}")
        if args.clock:
            steps = args.duration / args.dt
            if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
                return _fail(f"--duration {args.duration:g} ms is not a whole number of --dt {args.dt:g} ms "
                             f"steps (needed with --clock)")
        out = run_case(args.case, args.n, args.duration, args.seed, dt=args.dt, clock=args.clock,
                       report=not args.no_report, mem_pj=args.mem_pj, quiet=args.quiet, save=args.save,
                       record=args.record, bin=args.bin, plot=args.plot)
    except KeyboardInterrupt:
        print("\neventsnn: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, MemoryError, RuntimeError, OSError) as e:
        # a network or a run refused (e.g. a case too small to build): one line
        return _fail(f"{args.command}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    if args.json:
        print(json.dumps(out))
    else:
        _print_run(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
