"""One network simulated by several processes (or threads), with the spikes of one
process: the communicators a partitioned run exchanges spikes through.

A partitioned run (``Network.distribute``) cuts every population into contiguous
blocks, one per process (``plan.own_range``); each process keeps the synapses onto its
own neurons (post-side storage: only spikes travel) and simulates its neurons
event-driven on its own queue.  At the end of every emission window (the smallest
delay out of a population, ``engine.loop``) the processes exchange the (time, neuron)
of the window's spikes, and each queues all of them in (time, neuron) order, so every
process applies the same inputs in the same order as one process would: results are
bitwise those of an unpartitioned run.

Communicators here need one collective: ``allgather(x)`` returns the list of every
process's ``x``, in rank order.  ``ThreadGroup`` runs the processes as threads of
this one (tests, and trying a script's partitioned path without MPI); ``world()``
returns the MPI communicator when the script was started by ``mpiexec`` with more than
one process, and None otherwise (mpi4py is imported only then).
"""
from __future__ import annotations

import os
import threading

__all__ = ["ThreadGroup", "world", "run_threads"]

# environment variables by which MPI launchers announce the number of processes
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_SIZE")


class _ThreadComm:
    """Rank ``rank`` of a ``ThreadGroup``."""

    def __init__(self, group: "ThreadGroup", rank: int):
        self.group = group
        self.rank = rank
        self.size = group.size

    def allgather(self, x):
        g = self.group
        g.slots[self.rank] = x
        try:
            g.barrier.wait()
            out = list(g.slots)
            g.barrier.wait()
        except threading.BrokenBarrierError:
            raise RuntimeError(f"rank {self.rank}: another rank of the partitioned run failed or did "
                               f"not reach the exchange within {g.timeout} s") from None
        return out

    def abort(self):
        self.group.barrier.abort()


class ThreadGroup:
    """``size`` ranks that are threads of this process.  ``comm(rank)`` is rank's
    communicator; a rank that fails should call its ``abort()`` so that the others stop
    at their next exchange instead of waiting (``run_threads`` does)."""

    def __init__(self, size: int, timeout: float = 600.0):
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size={size!r}; need an int >= 1")
        self.size = size
        self.timeout = float(timeout)
        self.slots = [None] * size
        self.barrier = threading.Barrier(size, timeout=self.timeout)

    def comm(self, rank: int) -> _ThreadComm:
        if not isinstance(rank, int) or not 0 <= rank < self.size:
            raise ValueError(f"rank={rank!r}; need an int in [0, {self.size})")
        return _ThreadComm(self, rank)


def run_threads(size: int, fn, timeout: float = 600.0) -> list:
    """Call ``fn(comm)`` in ``size`` threads, one per rank of a ``ThreadGroup``, and
    return their results in rank order; the first exception of a rank is raised (after
    every thread has stopped)."""
    group = ThreadGroup(size, timeout)
    out = [None] * size
    err = [None] * size

    def body(r):
        c = group.comm(r)
        try:
            out[r] = fn(c)
        except BaseException as e:      # noqa: BLE001 - handed to the caller below
            err[r] = e
            c.abort()

    threads = [threading.Thread(target=body, args=(r,), daemon=True) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first = next((e for e in err if e is not None and not _is_abort(e)), None)
    if first is None:
        first = next((e for e in err if e is not None), None)
    if first is not None:
        raise first
    return out


def _is_abort(e) -> bool:
    return isinstance(e, RuntimeError) and "another rank of the partitioned run failed" in str(e)


def world():
    """The MPI world communicator if this process was started by an MPI launcher with
    more than one process, else None (mpi4py is not imported then)."""
    size = 1
    for v in _SIZE_VARS:
        if os.environ.get(v, "").isdigit():
            size = max(size, int(os.environ[v]))
    if size <= 1:
        return None
    from mpi4py import MPI      # noqa: PLC0415 - optional extra, only under mpiexec
    _abort_on_error(MPI.COMM_WORLD)
    return MPI.COMM_WORLD


def _abort_on_error(comm):
    """Make an uncaught exception in this process abort every process of ``comm``
    (after printing it): otherwise the others would wait for ever at their next
    exchange.  (MPI collectives have no timeout; ``python -m mpi4py`` does the same.)"""
    import sys      # noqa: PLC0415
    if getattr(sys.excepthook, "_eventsnn_abort", False):
        return
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.write(f"eventsnn: rank {comm.rank} failed; aborting every rank of the run\n")
        sys.stderr.flush()
        comm.Abort(1)
    hook._eventsnn_abort = True
    sys.excepthook = hook
