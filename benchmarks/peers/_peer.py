"""Shared helpers of the peer scripts (Brian2, NEST): argument parsing and the JSON line.

The peer scripts run in their own virtual environment (see README.md), never import
eventsnn, and print one JSON line with the keys of eventsnn's benchmark scripts that
make sense for the peer (case, simulator, n_neurons, n_synapses, bio_time_ms, build_s,
sim_s, spikes, rates_hz, ...).
"""
import argparse
import json
import os
import resource
import sys
import time

# single thread everywhere (set before NumPy, Brian2 or NEST is imported)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("PYNEST_QUIET", "1")

CACHE = os.environ.get("EVENTSNN_PEERS_CACHE",
                       os.path.join(os.path.expanduser("~"), ".cache", "eventsnn_peers"))


def parser(doc, duration, simulators, **defaults):
    """ArgumentParser with --simulator, --duration, --seed (+ --n when given)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--simulator", choices=simulators, default=simulators[0])
    ap.add_argument("--duration", type=float, default=duration, help="ms")
    ap.add_argument("--seed", type=int, default=1)
    for k, v in defaults.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    return ap


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(out):
    """Print the JSON line (rounding floats) and flush."""
    def rnd(v):
        if isinstance(v, float):
            return round(v, 4)
        if isinstance(v, dict):
            return {k: rnd(x) for k, x in v.items()}
        return v
    out = {k: rnd(v) for k, v in out.items()}
    out.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    print(json.dumps(out))
    sys.stdout.flush()


_PROJECT_DIR = None


def brian2_setup(simulator, case, key):
    """Import Brian2, select the device and return the module.

    ``brian2_standalone``: C++ standalone, no OpenMP (openmp_threads = 0), built
    explicitly (``build_on_run=False``) into a directory under CACHE named after
    ``case`` and ``key`` so that an unchanged project is not recompiled (Brian2
    rewrites only files whose content changed; make rebuilds only those).
    ``brian2_cython``: runtime mode with Cython code generation.
    """
    import brian2 as b2
    b2.prefs.logging.file_log = False
    b2.prefs.logging.console_log_level = "WARNING"
    if simulator == "brian2_standalone":
        global _PROJECT_DIR
        _PROJECT_DIR = os.path.join(CACHE, f"brian2_{case}_{key}")
        b2.set_device("cpp_standalone", build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j2"]
    elif simulator == "brian2_cython":
        b2.prefs.codegen.target = "cython"
    else:
        raise ValueError(simulator)
    return b2


def brian2_seed(b2, seed):
    """Seed Brian2's random numbers (both NumPy's and the generated code's)."""
    b2.seed(seed)


def brian2_run(b2, simulator, net, duration_ms, t_build0, t_build1):
    """Run ``net`` for ``duration_ms`` and return timing fields.

    Standalone: ``net.run`` only records the run; ``device.build(run=False)`` generates
    and compiles the project (compile_s), then ``device.run()`` runs the binary, which
    builds the network (synapse creation, initial values) and simulates.  sim_s is
    Brian2's own measurement of the simulation loop, ``device._last_run_time`` (std::clock()
    around Network::run in the binary: process CPU time, equal to wall time with one
    thread); binary_s is the wall time of the whole binary (network construction +
    simulation + writing results), build_s adds binary_s - sim_s to the Python-side build.
    Cython runtime: a 0-ms run first generates and compiles (or loads from Cython's
    cache) every code object (compile_s); sim_s is the wall time of the real run.
    """
    if simulator == "brian2_standalone":
        net.run(duration_ms * b2.ms, report=None)
        t0 = time.perf_counter()
        b2.device.build(directory=_PROJECT_DIR, run=False, compile=True, with_output=False)
        t1 = time.perf_counter()
        b2.device.run(with_output=False)
        t2 = time.perf_counter()
        sim = float(b2.device._last_run_time)
        return {"build_s": (t_build1 - t_build0) + (t2 - t1 - sim), "sim_s": sim,
                "compile_s": t1 - t0, "binary_s": t2 - t1,
                "sim_s_source": "device._last_run_time"}
    t0 = time.perf_counter()
    net.run(0 * b2.ms)
    t1 = time.perf_counter()
    net.run(duration_ms * b2.ms, report=None)
    t2 = time.perf_counter()
    return {"build_s": t_build1 - t_build0, "sim_s": t2 - t1, "compile_s": t1 - t0,
            "sim_s_source": "wall time of Network.run after a 0-ms run"}


def nest_setup(seed, resolution=0.1):
    """Import NEST quietly, reset the kernel: one thread, ``resolution`` ms, seeded."""
    import nest
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:
        nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"local_num_threads": 1, "resolution": resolution,
                          "rng_seed": seed, "print_time": False})
    return nest


def nest_run(nest, recorded, duration_ms, first_exc=None, n_exc=0):
    """Record the spikes of ``recorded``, prepare, run ``duration_ms`` and clean up.
    Returns (t1, t2, spikes, exc_spikes): perf_counter before and after ``nest.Run``
    (``nest.Prepare`` before t1 counts as set-up), the spike count, and the spikes of
    the ``n_exc`` nodes from global id ``first_exc`` on (0 if not given)."""
    rec = nest.Create("spike_recorder")
    nest.Connect(recorded, rec)
    nest.Prepare()          # NEST's set-up of the run (connection tables, buffers)
    t1 = time.perf_counter()
    nest.Run(duration_ms)
    t2 = time.perf_counter()
    nest.Cleanup()
    exc = 0
    if first_exc is not None:
        senders = rec.get("events", "senders")
        exc = int(((senders >= first_exc) & (senders < first_exc + n_exc)).sum())
    return t1, t2, int(rec.get("n_events")), exc
