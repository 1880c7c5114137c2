"""Array-backed binary min-heap of events, ordered by (time, sequence number).

Ties in time are broken by the sequence number, i.e. by insertion order, so a run
is deterministic.  The heap is a tuple of plain arrays ``Q``::

    Q[0] time (ms)   Q[1] aux time (ms, e.g. the spike time of a delivery)
    Q[2] sequence    Q[3] kind    Q[4] payload a    Q[5] payload b
    Q[6] [number of events held]    Q[7] [next sequence number]

Memory: 48 bytes per queued event.

Why plain arrays and no growth inside ``push``: a heap that grows itself must keep
its columns in a container (typed list) that the caller re-reads on every access,
and every such read and every call that passes the container costs Numba's atomic
reference counting (it was a quarter of the run time of a large network).  Here
``push`` never allocates; whoever pushes reserves room first with ``reserve``, at
points where the number of pushes that can follow is bounded (see
``engine.event.run_kernel``), and ``push`` raises if that contract is broken rather
than write past the end.  ``push`` and ``pop`` are compiled without reference
counting (``_nrt=False``): they only read and write the arrays they are given.
"""
import numpy as np
from numba import njit

QT, QC, QSEQ, QKIND, QA, QB, QN, QSC = range(8)


def new_queue(capacity: int = 1024):
    """An empty queue with room for ``capacity`` events."""
    capacity = max(int(capacity), 64)
    return (np.empty(capacity), np.empty(capacity), np.empty(capacity, np.int64),
            np.empty(capacity, np.int64), np.empty(capacity, np.int64),
            np.empty(capacity, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64))


@njit(cache=True)
def reserve(Q, need):
    """Q itself if it has room for ``need`` more events, else a copy with at least
    twice the capacity (the counters Q[6], Q[7] are shared, not copied)."""
    T, C, SQ, K, A, B, hn, sc = Q
    cap = T.shape[0]
    n = hn[0]
    if n + need <= cap:
        return Q
    new = max(2 * cap, n + need, 64)
    T2 = np.empty(new)
    T2[:n] = T[:n]
    C2 = np.empty(new)
    C2[:n] = C[:n]
    SQ2 = np.empty(new, np.int64)
    SQ2[:n] = SQ[:n]
    K2 = np.empty(new, np.int64)
    K2[:n] = K[:n]
    A2 = np.empty(new, np.int64)
    A2[:n] = A[:n]
    B2 = np.empty(new, np.int64)
    B2[:n] = B[:n]
    return (T2, C2, SQ2, K2, A2, B2, hn, sc)


@njit(cache=True, _nrt=False)
def push(Q, t, seq, kind, a, b, c):
    """Insert an event.  O(log n).  The caller must have reserved room (``reserve``)."""
    T, C, SQ, K, A, B, hn, sc = Q
    i = hn[0]
    if i >= T.shape[0]:
        raise RuntimeError("event queue full: room was not reserved (internal error)")
    hn[0] = i + 1
    # sift the hole up, then drop the new event into it
    while i > 0:
        parent = (i - 1) >> 1
        tp = T[parent]
        if t < tp or (t == tp and seq < SQ[parent]):
            T[i] = tp
            C[i] = C[parent]
            SQ[i] = SQ[parent]
            K[i] = K[parent]
            A[i] = A[parent]
            B[i] = B[parent]
            i = parent
        else:
            break
    T[i] = t
    C[i] = c
    SQ[i] = seq
    K[i] = kind
    A[i] = a
    B[i] = b


@njit(cache=True, _nrt=False)
def pop(Q):
    """Remove the smallest event; returns (t, seq, kind, a, b, c).  O(log n)."""
    T, C, SQ, K, A, B, hn, sc = Q
    out = (T[0], SQ[0], K[0], A[0], B[0], C[0])
    last = hn[0] - 1
    hn[0] = last
    if last > 0:
        # move the last event down from the root through a hole
        t = T[last]
        sq = SQ[last]
        i = 0
        while True:
            l = 2 * i + 1
            if l >= last:
                break
            m = l
            r = l + 1
            if r < last and (T[r] < T[l] or (T[r] == T[l] and SQ[r] < SQ[l])):
                m = r
            if T[m] < t or (T[m] == t and SQ[m] < sq):
                T[i] = T[m]
                C[i] = C[m]
                SQ[i] = SQ[m]
                K[i] = K[m]
                A[i] = A[m]
                B[i] = B[m]
                i = m
            else:
                break
        T[i] = t
        C[i] = C[last]
        SQ[i] = sq
        K[i] = K[last]
        A[i] = A[last]
        B[i] = B[last]
    return out
