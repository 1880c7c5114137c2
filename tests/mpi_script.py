"""Run by tests/test_mpi.py, as ``python mpi_script.py CASE`` or under ``mpiexec -n K``:
prints one JSON line (from rank 0) with hashes of everything a partitioned run must
reproduce bitwise.  The script does not mention MPI: run under mpiexec, eventsnn
partitions the network over the processes by itself."""
import hashlib
import json
import os
import sys

import numpy as np

import eventsnn as ev
from eventsnn.cases import brunel, cuba
from eventsnn.plasticity import STDP


def plastic():
    net = ev.Network(seed=5)
    lif = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_th=20.0, v_reset=10.0, t_ref=2.0)
    exc = net.population(120, lif, name="exc", v_init=(0.0, 20.0))
    src = net.poisson_source(60, 30.0, name="input")
    net.connect(src, exc, ev.fixed_indegree(12), weight=6.0, delay=1.0)
    net.connect(exc, exc, ev.fixed_indegree(15), weight=1.0, delay=1.5, plasticity=STDP(w_max=3.0))
    net.poisson_drive(exc, rate=1200.0, weight=1.0)
    return net


CASES = {"brunel": lambda: brunel(1000, seed=2), "cuba": lambda: cuba(800, seed=3), "plastic": plastic,
         # every rank builds a different network: refused at prepare
         "mismatch": lambda: brunel(200, seed=2 + int(os.environ.get("OMPI_COMM_WORLD_RANK", "0")))}
# per-process work, summed over the processes (tests/test_partition.py)
WORK = set()


def main(case, save=None, resume=None):
    """Run ``case`` for 40 + 60 ms and print the hashes; with ``save``, save after the
    first 40 ms; with ``resume``, load that file instead of building and running 40."""
    if resume is None:
        net = CASES[case]()
        net.record_state(np.arange(0, net.n_neurons, 97), dt=0.5)
        rs = [net.run(40.0)]
        if save is not None:
            ev.save(net, save)
    else:
        net = ev.load(resume)
        rs = []
    rs.append(net.run(60.0))
    fail = os.environ.get("EVENTSNN_TEST_FAIL_RANK")
    if fail is not None and fail == os.environ.get("OMPI_COMM_WORLD_RANK"):
        raise KeyError("this rank broke")
    out = {"case": case, "spikes": len(net.spikes)}
    for key, arrays in (("spike_hash", [net.spikes.times, net.spikes.ids, net.source_spikes.times]),
                        ("weight_hash", [pr.weights for pr in net.projections]),
                        ("sample_hash", [x for r in rs for x in (r.states.v, r.states.i_exc)])):
        h = hashlib.sha256()
        for a in arrays:
            h.update(np.ascontiguousarray(a))
        out[key] = h.hexdigest()
    out["counts"] = {k: v for k, v in net.counts.as_dict().items() if k not in WORK}
    if os.environ.get("OMPI_COMM_WORLD_RANK", "0") == "0":
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    extra = [None if x == "-" else x for x in sys.argv[2:4]]
    main(sys.argv[1], *(extra + [None, None])[:2])
