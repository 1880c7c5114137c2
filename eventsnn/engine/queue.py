"""Array-backed binary min-heap of events, ordered by (time, sequence number).

Ties in time are broken by the sequence number, i.e. by insertion order, so a run
is deterministic.  The heap's columns live in two typed lists so that ``push`` can
grow them in place (the caller's references stay valid)::

    F[0] time (ms)     F[1] aux time (ms, e.g. the spike time of a delivery)
    I[0] sequence      I[1] kind        I[2] payload a      I[3] payload b

``n[0]`` is the number of events held.  Memory: 48 bytes per queued event.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def _grow(F, I):
    cap = F[0].shape[0]
    new = max(2 * cap, 64)
    for c in range(2):
        a = np.empty(new, np.float64)
        a[:cap] = F[c]
        F[c] = a
    for c in range(4):
        b = np.empty(new, np.int64)
        b[:cap] = I[c]
        I[c] = b


@njit(cache=True)
def push(F, I, n, t, seq, kind, a, b, c):
    """Insert an event; grows the columns when full.  O(log n)."""
    if n[0] == F[0].shape[0]:
        _grow(F, I)
    # fetch the columns once: typed-list access is far slower than array access
    T = F[0]
    C = F[1]
    SQ = I[0]
    K = I[1]
    A = I[2]
    B = I[3]
    i = n[0]
    n[0] = i + 1
    # sift the hole up, then drop the new event into it.  The six column moves are
    # written out here and in pop(): a helper taking the arrays would pay atomic
    # reference counting on every call (see engine.event).
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


@njit(cache=True)
def pop(F, I, n):
    """Remove the smallest event; returns (t, seq, kind, a, b, c).  O(log n)."""
    T = F[0]
    C = F[1]
    SQ = I[0]
    K = I[1]
    A = I[2]
    B = I[3]
    out = (T[0], SQ[0], K[0], A[0], B[0], C[0])
    last = n[0] - 1
    n[0] = last
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
