"""Shared helper of the benchmark scripts: run a case and print one JSON line."""
import json
import resource
import sys
import time


def peak_rss_mb():
    """Peak resident set size of this process (MiB); ru_maxrss is KiB on Linux."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def compile_s():
    """Seconds this process spent compiling kernels (0 when all came from the cache)."""
    from eventsnn import compile_time
    return round(compile_time(), 3)


def large_paths(net):
    """``net`` made to take the paths that networks with populations over 2**15 neurons
    take (rows loaded ahead, sources not fused): for ``warm`` copies of large cases.
    Results never depend on this switch (tests/test_engine.py)."""
    net._prefetch_pop = 0
    return net


def bench(case, build, duration, warm=None, **extra):
    """Build a network with ``build()``, run it ``duration`` ms and print the JSON line.

    ``warm``, if given, builds a small copy of the case, which is run for 1 ms first, so
    that loading (or, on a cold cache, compiling) the Numba kernels is timed apart, as
    ``jit_s``, and ``sim_s`` measures the simulation alone (as the figures of NEST and
    Brian2 exclude their start-up and compilation).  ``build_s`` includes
    ``Network.prepare`` (the run plan).  Peak RSS includes the compiler's."""
    jit_s = None
    if warm is not None:
        t = time.perf_counter()
        warm().run(1.0)
        jit_s = round(time.perf_counter() - t, 3)
    t0 = time.perf_counter()
    # building includes the run plan (Network.prepare), as NEST's and Brian2's
    # figures exclude theirs from the simulation time
    net = build().prepare()
    t1 = time.perf_counter()
    res = net.run(duration)
    t2 = time.perf_counter()
    mem = net.synapse_bytes()
    c = res.counts
    out = {"case": case, "n_neurons": net.n_neurons, "n_synapses": net.n_synapses,
           "bio_time_ms": duration, "build_s": round(t1 - t0, 3), "sim_s": round(t2 - t1, 3),
           "spikes": c.spikes, "syn_events": c.syn_events,
           "syn_events_per_s": round(c.syn_events / (t2 - t1)),
           "bytes_per_synapse": round(mem["bytes_per_synapse"], 3),
           "peak_rss_mb": round(peak_rss_mb(), 1)}
    rates = {name: round(res.rates(name), 3) for name in net.populations}
    out["rates_hz"] = rates
    out["source_syn_events"] = c.source_syn_events
    out["drive_events"] = c.drive_events
    out["queue_pushes"] = c.queue_pushes
    out["jit_s"] = jit_s
    out["compile_s"] = compile_s()
    out.update(extra)
    print(json.dumps(out))
    sys.stdout.flush()
    return out
