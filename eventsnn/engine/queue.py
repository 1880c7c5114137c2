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


@njit(cache=True, inline="always")
def _less(F0, I0, i, j):
    ti = F0[i]
    tj = F0[j]
    return ti < tj or (ti == tj and I0[i] < I0[j])


@njit(cache=True)
def _swap(F, I, i, j):
    for c in range(2):
        a = F[c]
        x = a[i]
        a[i] = a[j]
        a[j] = x
    for c in range(4):
        b = I[c]
        y = b[i]
        b[i] = b[j]
        b[j] = y


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
    """Insert an event; grows the columns when full."""
    if n[0] == F[0].shape[0]:
        _grow(F, I)
    i = n[0]
    n[0] = i + 1
    F[0][i] = t
    F[1][i] = c
    I[0][i] = seq
    I[1][i] = kind
    I[2][i] = a
    I[3][i] = b
    F0 = F[0]
    I0 = I[0]
    while i > 0:
        parent = (i - 1) >> 1
        if _less(F0, I0, i, parent):
            _swap(F, I, i, parent)
            i = parent
        else:
            break


@njit(cache=True)
def pop(F, I, n):
    """Remove the smallest event; returns (t, seq, kind, a, b, c)."""
    F0 = F[0]
    I0 = I[0]
    t = F0[0]
    seq = I0[0]
    kind = I[1][0]
    a = I[2][0]
    b = I[3][0]
    c = F[1][0]
    last = n[0] - 1
    n[0] = last
    if last > 0:
        _swap(F, I, 0, last)
        i = 0
        while True:
            l = 2 * i + 1
            if l >= last:
                break
            m = l
            r = l + 1
            if r < last and _less(F0, I0, r, l):
                m = r
            if _less(F0, I0, m, i):
                _swap(F, I, i, m)
                i = m
            else:
                break
    return t, seq, kind, a, b, c
