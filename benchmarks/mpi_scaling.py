"""Strong scaling of a partitioned run (issue 18): one JSON line from rank 0.

    mpiexec -n K python benchmarks/mpi_scaling.py [--case brunel|sparse-lowrate] [--duration MS]

Without mpiexec (or with -n 1) the run is the single-process one.  ``spike_hash`` is the
sha256 of the (time, id) arrays of every spike in (time, id) order: runs with different
K must print the same.  ``sim_s`` is rank 0's wall time of ``run`` (the ranks finish
together: results are gathered at the end); ``build_s`` includes ``prepare``;
``bytes_sent`` is the spike payload all ranks sent (16 bytes per spike and receiving
rank); ``peak_rss_mb_per_rank`` the peak RSS of every rank (compiler included),
``base_rss_mb_per_rank`` its RSS before the network was built (interpreter, NumPy,
Numba, the loaded kernels) and ``network_rss_mb_per_rank`` the difference: what the
network, its run state and the run added.  A 1 ms
run of a small copy loads the kernels first, so sim_s is the simulation alone.
(On a 2-core machine, run as root: add --oversubscribe for K > 2 and set
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.)
"""
import argparse
import hashlib
import json
import time

from _common import peak_rss_mb

from eventsnn import parallel
from eventsnn.cases import brunel, sparse_lowrate

ap = argparse.ArgumentParser()
ap.add_argument("--case", choices=["brunel", "sparse-lowrate"], default="brunel")
ap.add_argument("--duration", type=float, default=1000.0)
ap.add_argument("--n", type=int, default=None, help="neurons (default: 10^4 Brunel, 10^6 sparse-lowrate)")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()

if a.case == "brunel":
    build, warm = (lambda: brunel(a.n or 10_000, seed=a.seed)), (lambda: brunel(200, seed=a.seed))
else:
    build, warm = (lambda: sparse_lowrate(a.n or 1_000_000, seed=a.seed)), \
        (lambda: sparse_lowrate(2000, seed=a.seed))
comm = parallel.world()
ranks = 1 if comm is None else comm.size
warm().run(1.0)
# the process before the network: interpreter, NumPy, Numba and the loaded kernels
base = round(peak_rss_mb(), 1)
t0 = time.perf_counter()
net = build().prepare()
t1 = time.perf_counter()
res = net.run(a.duration)
t2 = time.perf_counter()
sp = net.spikes
h = hashlib.sha256(sp.times.tobytes() + sp.ids.tobytes()).hexdigest()
rss = [round(peak_rss_mb(), 1)] if comm is None else comm.allgather(round(peak_rss_mb(), 1))
base = [base] if comm is None else comm.allgather(base)
sent = net.exchange_stats["bytes_sent"] if comm is None else sum(comm.allgather(net.exchange_stats["bytes_sent"]))
if comm is None or comm.rank == 0:
    print(json.dumps({"case": a.case, "ranks": ranks, "n_neurons": net.n_neurons, "bio_time_ms": a.duration,
                      "build_s": round(t1 - t0, 3), "sim_s": round(t2 - t1, 3), "spikes": len(sp),
                      "spike_hash": h, "syn_events_per_s": round(res.counts.syn_events / (t2 - t1)),
                      "bytes_sent": int(sent), "windows": net.exchange_stats["windows"],
                      "peak_rss_mb_per_rank": rss, "base_rss_mb_per_rank": base,
                      "network_rss_mb_per_rank": [round(a - b, 1) for a, b in zip(rss, base)]}), flush=True)
