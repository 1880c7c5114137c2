"""Issue 18: one network partitioned over K processes gives bitwise the results of one.

The processes are threads of this one here (``eventsnn.parallel.run_threads``), which
runs exactly the partitioned code path of an MPI run (own blocks of every population,
post-side synapses, spikes exchanged at the end of every emission window) with another
transport; tests/test_mpi.py runs the same under ``mpiexec``.

Every counter is partition-independent: each neuron and synapse is simulated by one
process; the queue work and presynaptic trace update of a row are counted by the
lowest-ranked process with synapses of it, and what every process does alike (source
spikes, window ends, samples) by rank 0 (tests/test_partition_memory.py has the one
exception: rows with per-synapse delays).
"""
import os
import pickle
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventsnn as ev
from eventsnn import parallel
from eventsnn.cases import brunel, cuba
from eventsnn.plan import own_range, owner

sys.path.insert(0, os.path.dirname(__file__))
from mpi_script import plastic as _plastic  # noqa: E402
from test_emission_order import _tie_net, tie_networks  # noqa: E402

# every counter is partition-independent (the queue work and presynaptic trace updates
# of a row are counted by one process, what every process does alike by rank 0); but
# rows with per-synapse delays, whose queue work (one event per delay group of each
# process's part) is per process: summed
QUEUE = set()


def _run(build, K, duration, probe=None, weights=()):
    """Spikes, samples, counts and the weights of projections ``weights`` of the network
    ``build()`` run for ``duration`` (a list: several runs) ms on K ranks, as seen by
    every rank."""
    durations = duration if isinstance(duration, list) else [duration]

    def go(comm):
        net = build()
        if comm is not None:
            net.distribute(comm)
        if probe is not None:
            net.record_state(probe, dt=0.5)
        rs = [net.run(d) for d in durations]
        return dict(t=np.concatenate([r.spikes.times for r in rs]), i=np.concatenate([r.spikes.ids for r in rs]),
                    v=None if probe is None else np.concatenate([r.states.v for r in rs]),
                    ie=None if probe is None else np.concatenate([r.states.i_exc for r in rs]),
                    counts=net.counts.as_dict(), src=net.source_spikes,
                    w=[net.projections[k].weights.copy() for k in weights])
    if K == 1:
        return [go(None)]
    return parallel.run_threads(K, go, timeout=120)


def _same(a, b, queue_too=False):
    assert np.array_equal(a["t"], b["t"]) and np.array_equal(a["i"], b["i"])
    for k in ("v", "ie"):
        if a[k] is not None:
            assert np.array_equal(a[k].view(np.int64), b[k].view(np.int64)), k
    for k, x in a["counts"].items():
        if queue_too or k not in QUEUE:
            assert b["counts"][k] == x, k
    assert np.array_equal(a["src"].times, b["src"].times) and np.array_equal(a["src"].ids, b["src"].ids)
    for x, y in zip(a["w"], b["w"]):
        assert np.array_equal(x, y)


def test_own_ranges_cover_every_neuron_once():
    for size in (0, 1, 2, 3, 7, 1000):
        for K in (1, 2, 3, 4, 9):
            blocks = [own_range(size, r, K) for r in range(K)]
            assert blocks[0][0] == 0 and blocks[-1][1] == size
            assert all(b[1] == c[0] for b, c in zip(blocks, blocks[1:]))
            assert max(b[1] - b[0] for b in blocks) - min(b[1] - b[0] for b in blocks) <= 1
            # owner() names, for every neuron, the block it falls in (two populations)
            pop_off = np.array([0, size, 2 * size])
            want = np.concatenate([np.repeat(np.arange(K), [b[1] - b[0] for b in blocks])] * 2)
            assert np.array_equal(owner(pop_off, np.arange(2 * size), K), want)


@pytest.mark.parametrize("K", [2, 3, 4])
def test_brunel_is_bitwise_the_same_on_k_ranks(K):
    """Brunel A (1000 neurons, lazy drive, delta synapses), two runs of 40 and 60 ms."""
    probe = np.array([0, 1, 333, 799, 800, 999])
    one = _run(lambda: brunel(1000, seed=2), 1, [40.0, 60.0], probe)[0]
    assert len(one["t"]) > 1000
    every = _run(lambda: brunel(1000, seed=2), K, [40.0, 60.0], probe)
    for got in every:
        _same(one, got)


@pytest.mark.parametrize("K", [2, 3])
def test_cuba_is_bitwise_the_same_on_k_ranks(K):
    """CUBA (exp synapses, suprathreshold neurons: lazy crossings), 800 neurons."""
    probe = np.array([0, 17, 639, 640, 799])
    one = _run(lambda: cuba(800, seed=3), 1, 100.0, probe)[0]
    assert len(one["t"]) > 100
    for got in _run(lambda: cuba(800, seed=3), K, 100.0, probe):
        _same(one, got)


@pytest.mark.parametrize("K", [2, 3, 4])
def test_stdp_weights_are_bitwise_the_same_on_k_ranks(K):
    one = _run(_plastic, 1, [70.0, 80.0], weights=(1,))[0]
    assert len(one["t"]) > 100 and not np.array_equal(one["w"][0], _plastic().projections[1].weights)
    for got in _run(_plastic, K, [70.0, 80.0], weights=(1,)):
        _same(one, got)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tie_networks(), st.integers(2, 4))
def test_random_networks_with_ties_are_bitwise_the_same(spec, K):
    """Networks with many simultaneous inputs (grid-timed sources, equal delays), delta
    or exp synapses, some lazily driven, on K ranks."""
    def build():
        return _tie_net(spec, None)
    one = _run(build, 1, [6.0, 9.0])[0]
    for got in _run(build, K, [6.0, 9.0]):
        _same(one, got)


def test_ranks_that_built_different_networks_are_refused():
    def go(comm):
        net = brunel(200, seed=2 + comm.rank)
        net.distribute(comm)
        net.run(1.0)
    with pytest.raises(ValueError, match="built different networks"):
        parallel.run_threads(2, go, timeout=60)


def test_a_failing_rank_stops_the_others():
    """Rank 1 fails after its first run; rank 0's second run stops at its first exchange
    with an error instead of waiting for ever."""
    def go(comm):
        net = brunel(200, seed=2)
        net.distribute(comm)
        net.run(5.0)
        if comm.rank == 1:
            raise KeyError("rank 1 broke")
        net.run(5.0)
    with pytest.raises(KeyError, match="rank 1 broke"):
        parallel.run_threads(2, go, timeout=60)


def test_distribute_is_validated():
    net = brunel(100, seed=1)
    with pytest.raises(TypeError, match="comm must be"):
        net.distribute(object())
    with pytest.raises(TypeError, match="gather"):
        net.distribute(None, gather="yes")
    with pytest.raises(ValueError, match="rank"):
        parallel.ThreadGroup(2).comm(2)
    net.distribute(None)
    net.run(1.0)
    with pytest.raises(RuntimeError, match="before the first run"):
        net.distribute(None)
    with pytest.raises(ValueError, match="size"):
        parallel.ThreadGroup(0)


def test_what_a_partitioned_network_cannot_do_yet_is_refused():
    def go(comm):
        import copy
        net = _plastic()
        net.distribute(comm)
        net.run(2.0)
        out = []
        for f in (lambda: copy.deepcopy(net), lambda: pickle.dumps(net)):
            try:
                f()
            except TypeError as e:
                out.append(str(e))
        return out
    for msgs in parallel.run_threads(2, go, timeout=60):
        assert len(msgs) == 2 and all("partitioned" in m for m in msgs)


@pytest.mark.parametrize("K", [2, 3])
def test_save_and_load_shards_continue_bitwise(K, tmp_path):
    """A partitioned run saved mid-run (one shard per rank and a manifest) and loaded by
    as many ranks continues bitwise as one process that never stopped."""
    path = str(tmp_path / "net.npz")
    one = _run(_plastic, 1, [35.0, 45.0], weights=(1,))[0]

    def first(comm):
        net = _plastic()
        net.distribute(comm)
        net.run(35.0)
        ev.save(net, path)

    parallel.run_threads(K, first, timeout=120)
    assert sorted(os.listdir(tmp_path)) == sorted(["net.npz"] + [f"net.rank{r}of{K}.npz" for r in range(K)])

    def second(comm):
        net = ev.load(path, comm=comm)
        net.run(45.0)
        return dict(t=net.spikes.times, i=net.spikes.ids, counts=net.counts.as_dict(),
                    w=net.projections[1].weights.copy(), src=net.source_spikes)

    for got in parallel.run_threads(K, second, timeout=120):
        assert np.array_equal(got["t"], one["t"]) and np.array_equal(got["i"], one["i"])
        assert np.array_equal(got["w"], one["w"][0])
        assert np.array_equal(got["src"].times, one["src"].times)
        assert all(got["counts"][k] == v for k, v in one["counts"].items() if k not in QUEUE)
    # another number of ranks, or a shard alone, is refused
    with pytest.raises(ValueError, match=f"saved by {K} processes and this run has 1"):
        ev.load(path)
    with pytest.raises(ValueError, match="load its manifest"):
        ev.load(str(tmp_path / f"net.rank0of{K}.npz"))


def test_results_kept_per_rank():
    """``distribute(comm, gather=False)``: each rank's Result holds its own neurons'
    spikes and samples (the others' NaN) and its own counts; together they are the
    single-process results."""
    probe = np.array([0, 1, 333, 799, 800, 999])
    one = _run(lambda: brunel(1000, seed=2), 1, [40.0, 60.0], probe)[0]

    def go(comm):
        net = brunel(1000, seed=2)
        net.distribute(comm, gather=False)
        net.record_state(probe, dt=0.5)
        rs = [net.run(40.0), net.run(60.0)]
        return (np.concatenate([r.spikes.times for r in rs]), np.concatenate([r.spikes.ids for r in rs]),
                np.concatenate([r.states.v for r in rs]), net.counts.as_dict())

    parts = parallel.run_threads(2, go, timeout=120)
    t = np.concatenate([p[0] for p in parts])
    i = np.concatenate([p[1] for p in parts])
    o = np.lexsort((i, t))
    assert np.array_equal(t[o], one["t"]) and np.array_equal(i[o], one["i"])
    assert all(len(p[0]) < len(one["t"]) for p in parts)
    v = np.where(np.isnan(parts[0][2]), parts[1][2], parts[0][2])
    assert np.array_equal(np.isnan(parts[0][2]), ~np.isnan(parts[1][2]))
    assert np.array_equal(v.view(np.int64), one["v"].view(np.int64))
    for k, x in one["counts"].items():
        if k not in QUEUE:
            assert sum(p[3][k] for p in parts) == x, k
