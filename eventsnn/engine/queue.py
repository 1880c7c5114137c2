"""Array-backed event queue: a binary min-heap plus FIFO *lanes*, ordered by (time,
sequence number).

Ties in time are broken by the sequence number, i.e. by insertion order, so a run
is deterministic.  The queue is a tuple of plain arrays ``Q``::

    Q[0] time (ms)   Q[1] aux time (ms, e.g. the spike time of a delivery)
    Q[2] sequence    Q[3] kind    Q[4] payload a    Q[5] payload b
    Q[6] [number of events in the heap]    Q[7] [next sequence number]
    Q[8] lane time (ms)   Q[9] lane sequence   Q[10] lane payload
    Q[11] events popped per lane   Q[12] events pushed per lane
    Q[13] .. Q[19] the source wheel (below)   Q[20] [lane capacity]

Memory: 48 bytes per event in the heap, 24 per event in a lane, 32 per source and 8
per wheel bucket.

Lanes hold the events that arrive in time order anyway: the deliveries of one
homogeneous delay d, pushed when their spikes are emitted.  Spikes are emitted in
time order (except late-found spikes of driven neurons, which the engine queues in the
heap instead), so the deliveries of one delay form a FIFO.  A lane is a ring buffer
(the ring index of an event is its push count modulo the capacity, a power of two):
pushing and popping is O(1) and touches memory in order, and what comes next is known,
so the engine loads what the next deliveries need before they are due.

The *source wheel* holds the next spike of each source (``wheel_push``), at most one per
source: a timing wheel of buckets of width w (a power of two, in ms, so that the bucket
of a time is exact), each a list threaded through the sources; the earliest non-empty
bucket is gathered and sorted by (time, sequence) when it is reached (``wheel_head``).
Why: the 10^5 Poisson sources of the 10^6-neuron case made the heap 17 levels deep,
mostly with source spikes due far ahead, and a pop and a push of a source spike cost
about 0.8 us (the lower levels are cache misses); in the wheel they cost a list insert
and a share of sorting a small bucket, and the heap keeps only the neurons' candidates.
A spike beyond the wheel's horizon goes to the heap instead.

The next event is the smallest (time, sequence) among the heap's top, the wheel's head
and the lanes' heads.  Sequence numbers are unique, so this is the order a single heap
would give, whichever structure holds an event.

Why plain arrays and no growth inside ``push``: a queue that grows itself must keep
its columns in a container (typed list) that the caller re-reads on every access,
and every such read and every call that passes the container costs Numba's atomic
reference counting (it was a quarter of the run time of a large network).  Here
``push`` and ``lane_push`` never allocate; whoever pushes reserves room first with
``reserve``, at points where the number of pushes that can follow is bounded (see
``engine.event.run_kernel``), and a push raises if that contract is broken rather
than write past the end.  The pushes and pops are compiled without reference
counting (``_nrt=False``): they only read and write the arrays they are given.
"""
import math

import numpy as np
from numba import njit

QT, QC, QSEQ, QKIND, QA, QB, QN, QSC, QLT, QLSQ, QLA, QLHEAD, QLTAIL = range(13)
# the source wheel: per source its pending spike's time (ms), sequence and the next
# source in its bucket's list; the buckets' list heads; the open bucket's sources in
# (time, sequence) order; [open bucket, read position, count, sources in lists]; [w, 1/w]
QWT, QWSQ, QWNX, QWHEAD, QWB, QWS, QWW = range(13, 20)
# the capacity of every lane, a power of two, kept apart so that finding an event's
# slot needs no integer division (several per event otherwise)
QLCAP = 20


def new_queue(capacity: int = 1024, nlanes: int = 0, lane_capacity: int = 256,
              n_sources: int = 0, wheel_width: float = 0.0, wheel_buckets: int = 1):
    """An empty queue with room for ``capacity`` heap events, ``nlanes`` lanes of
    ``lane_capacity`` events each (rounded up to a power of two) and a source wheel for
    ``n_sources`` sources of ``wheel_buckets`` buckets (a power of two) of width
    ``wheel_width`` ms (a power of two; 0: no wheel, sources go to the heap)."""
    capacity = max(int(capacity), 64)
    cap = 64
    while cap < lane_capacity:
        cap *= 2
    nl = int(nlanes) * cap
    nb = int(wheel_buckets)
    if nb < 1 or nb & (nb - 1):
        raise ValueError(f"wheel_buckets={wheel_buckets!r}; need a power of two")
    w = float(wheel_width)
    if w < 0.0 or (w > 0.0 and math.frexp(w)[0] != 0.5):
        raise ValueError(f"wheel_width={wheel_width!r}; need 0 or a power of two (ms)")
    ns = int(n_sources)
    return (np.empty(capacity), np.empty(capacity), np.empty(capacity, np.int64),
            np.empty(capacity, np.int64), np.empty(capacity, np.int64),
            np.empty(capacity, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64),
            np.empty(nl), np.empty(nl, np.int64), np.empty(nl, np.int64),
            np.zeros(int(nlanes), np.int64), np.zeros(int(nlanes), np.int64),
            np.zeros(ns), np.zeros(ns, np.int64), np.full(ns, -1, np.int64),
            np.full(nb, -1, np.int64), np.zeros(ns, np.int64), np.zeros(4, np.int64),
            np.array([w, 1.0 / w if w > 0.0 else 0.0]), np.array([cap], np.int64))


@njit(cache=True)
def _grown(x, n, new):
    """A new array of length ``new`` and x's dtype holding x[:n]."""
    y = np.empty(new, x.dtype)
    y[:n] = x[:n]
    return y


@njit(cache=True, inline="always")
def _move(T, C, SQ, K, A, B, i, j):
    """Copy heap entry j (all columns) to slot i."""
    T[i] = T[j]
    C[i] = C[j]
    SQ[i] = SQ[j]
    K[i] = K[j]
    A[i] = A[j]
    B[i] = B[j]


@njit(cache=True)
def reserve(Q, need, lane_need=0):
    """Q itself if it has room for ``need`` more heap events and ``lane_need`` more
    events in every lane, else a copy in which the part short of room has at least
    twice the capacity (the counters Q[6], Q[7], Q[11], Q[12] are shared, not copied)."""
    T, C, SQ, K, A, B, hn, sc, LT, LSQ, LA, lh, lt = Q[:13]
    cap = T.shape[0]
    n = hn[0]
    if n + need > cap:
        new = max(2 * cap, n + need, 64)
        T, C, SQ = _grown(T, n, new), _grown(C, n, new), _grown(SQ, n, new)
        K, A, B = _grown(K, n, new), _grown(A, n, new), _grown(B, n, new)
    nl = lh.shape[0]
    lc = Q[QLCAP]
    if nl > 0 and not lane_room(Q, lane_need):
        lcap = lc[0]
        most = 0
        for q in range(nl):
            most = max(most, lt[q] - lh[q])
        new = 2 * lcap
        while new < most + lane_need:
            new *= 2
        LT2 = np.empty(nl * new)
        LSQ2 = np.empty(nl * new, np.int64)
        LA2 = np.empty(nl * new, np.int64)
        for q in range(nl):
            for i in range(lh[q], lt[q]):
                k = q * lcap + (i & (lcap - 1))
                k2 = q * new + (i & (new - 1))
                LT2[k2] = LT[k]
                LSQ2[k2] = LSQ[k]
                LA2[k2] = LA[k]
        LT, LSQ, LA = LT2, LSQ2, LA2
        lc = np.array([new], np.int64)
    return (T, C, SQ, K, A, B, hn, sc, LT, LSQ, LA, lh, lt) + Q[13:20] + (lc,)


@njit(cache=True, _nrt=False)
def push(Q, t, seq, kind, a, b, c):
    """Insert an event into the heap.  O(log n).  The caller must have reserved room
    (``reserve``)."""
    T, C, SQ, K, A, B, hn = Q[QT], Q[QC], Q[QSEQ], Q[QKIND], Q[QA], Q[QB], Q[QN]
    i = hn[0]
    if i >= T.shape[0]:
        raise RuntimeError("event queue full: room was not reserved (internal error)")
    hn[0] = i + 1
    # sift the hole up, then drop the new event into it
    while i > 0:
        parent = (i - 1) >> 1
        tp = T[parent]
        if t < tp or (t == tp and seq < SQ[parent]):
            _move(T, C, SQ, K, A, B, i, parent)
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
    """Remove the heap's smallest event; returns (t, seq, kind, a, b, c).  O(log n)."""
    T, C, SQ, K, A, B, hn = Q[QT], Q[QC], Q[QSEQ], Q[QKIND], Q[QA], Q[QB], Q[QN]
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
                _move(T, C, SQ, K, A, B, i, m)
                i = m
            else:
                break
        # the slots written above lie before `last`, which still holds the event
        _move(T, C, SQ, K, A, B, i, last)
    return out


# ----------------------------------------------------------------------------- lanes

@njit(cache=True, _nrt=False)
def lane_room(Q, need):
    """Room for ``need`` more events in every lane?"""
    lh = Q[QLHEAD]
    lt = Q[QLTAIL]
    nl = lh.shape[0]
    if nl == 0:
        return True
    cap = Q[QLCAP][0]
    for q in range(nl):
        if lt[q] - lh[q] + need > cap:
            return False
    return True


@njit(cache=True, _nrt=False)
def lane_slot(Q, q, i):
    """Array index of event number i (a push count) of lane q."""
    cap = Q[QLCAP][0]
    return q * cap + (i & (cap - 1))


@njit(cache=True, _nrt=False)
def lane_last(Q, q):
    """Time (ms) of the last event of lane q, -inf if it is empty."""
    i = Q[QLTAIL][q]
    if i == Q[QLHEAD][q]:
        return -np.inf
    return Q[QLT][lane_slot(Q, q, i - 1)]


@njit(cache=True, _nrt=False)
def lane_push(Q, q, t, seq, a):
    """Append an event (time ms, sequence, payload) to lane q.  Its (t, seq) must not be
    smaller than the lane's last event's (the caller checks ``lane_last``); the caller
    has made room (``reserve``)."""
    lh = Q[QLHEAD]
    lt = Q[QLTAIL]
    i = lt[q]
    if i - lh[q] >= Q[QLCAP][0]:
        raise RuntimeError("event lane full: room was not reserved (internal error)")
    k = lane_slot(Q, q, i)
    Q[QLT][k] = t
    Q[QLSQ][k] = seq
    Q[QLA][k] = a
    lt[q] = i + 1


@njit(cache=True, _nrt=False)
def next_event(Q):
    """(t, src) of the earliest event by (time, sequence): src -1 for the heap's top,
    -2 for the source wheel's head, else the lane whose head it is; t is inf if nothing
    is queued."""
    t = np.inf
    sq = 0
    src = -1
    if Q[QN][0] > 0:
        t = Q[QT][0]
        sq = Q[QSEQ][0]
    tw, sqw = wheel_head(Q)
    if tw < t or (tw == t and sqw < sq):
        t = tw
        sq = sqw
        src = -2
    lh = Q[QLHEAD]
    lt = Q[QLTAIL]
    nl = lh.shape[0]
    if nl > 0:
        LT = Q[QLT]
        LSQ = Q[QLSQ]
        cap = Q[QLCAP][0]
        for q in range(nl):
            i = lh[q]
            if i < lt[q]:
                k = q * cap + (i & (cap - 1))
                tq = LT[k]
                if tq < t or (tq == t and LSQ[k] < sq):
                    t = tq
                    sq = LSQ[k]
                    src = q
    return t, src


@njit(cache=True, _nrt=False)
def lane_pop(Q, q):
    """Remove the head of lane q; returns (t, seq, payload)."""
    lh = Q[QLHEAD]
    i = lh[q]
    k = lane_slot(Q, q, i)
    lh[q] = i + 1
    return Q[QLT][k], Q[QLSQ][k], Q[QLA][k]


def queue_length(Q) -> int:
    """Number of events held (heap, lanes and source wheel)."""
    ws = Q[QWS]
    return int(Q[QN][0]) + int((Q[QLTAIL] - Q[QLHEAD]).sum()) + int(ws[2] - ws[1] + ws[3])


# ----------------------------------------------------------------------- source wheel

@njit(cache=True, _nrt=False)
def _wheel_insert(WT, WSQ, WB, i0, n, s):
    """Insert source s into WB[i0:n], sorted by its spike's (time, sequence), making
    WB[i0:n + 1]."""
    i = n
    while i > i0:
        r = WB[i - 1]
        if WT[r] < WT[s] or (WT[r] == WT[s] and WSQ[r] < WSQ[s]):
            break
        WB[i] = r
        i -= 1
    WB[i] = s


@njit(cache=True, _nrt=False)
def wheel_push(Q, s, t, seq):
    """Put source s's next spike (t ms, sequence seq) on the wheel; False (and nothing
    changed) if t lies beyond the wheel's horizon or there is no wheel: the caller then
    queues it in the heap.  A source has at most one spike pending."""
    w = Q[QWW]
    if w[0] <= 0.0:
        return False
    WT, WSQ, WNX, WHEAD, WB, WS = Q[QWT], Q[QWSQ], Q[QWNX], Q[QWHEAD], Q[QWB], Q[QWS]
    nb = WHEAD.shape[0]
    # exact: w is a power of two
    bb = np.int64(math.floor(t * w[1]))
    b = WS[0]
    if bb - b >= nb:
        return False
    WT[s] = t
    WSQ[s] = seq
    if bb > b:
        k = bb & (nb - 1)
        WNX[s] = WHEAD[k]
        WHEAD[k] = s
        WS[3] += 1
        return True
    # in (or before) the open bucket: insert into its sorted unread part
    i0 = WS[1]
    n = WS[2]
    if n >= WB.shape[0]:
        # compact the unread part to the front (the read part is done)
        for i in range(i0, n):
            WB[i - i0] = WB[i]
        n -= i0
        i0 = 0
        WS[1] = 0
    _wheel_insert(WT, WSQ, WB, i0, n, s)
    WS[2] = n + 1
    return True


@njit(cache=True, _nrt=False)
def wheel_head(Q):
    """(t, seq) of the wheel's earliest spike, (inf, 0) if it holds none.  Opens the next
    non-empty bucket when the open one is used up: its list is gathered and sorted by
    (time, sequence) (insertion sort: a bucket holds a few tens of spikes)."""
    WS = Q[QWS]
    WT, WSQ, WB = Q[QWT], Q[QWSQ], Q[QWB]
    if WS[1] < WS[2]:
        s = WB[WS[1]]
        return WT[s], WSQ[s]
    if WS[3] == 0:
        return np.inf, np.int64(0)
    WNX, WHEAD = Q[QWNX], Q[QWHEAD]
    nb = WHEAD.shape[0]
    b = WS[0] + 1
    while WHEAD[b & (nb - 1)] < 0:
        b += 1
    k = b & (nb - 1)
    s = WHEAD[k]
    WHEAD[k] = -1
    n = 0
    while s >= 0:
        _wheel_insert(WT, WSQ, WB, 0, n, s)
        n += 1
        s = WNX[s]
    WS[0] = b
    WS[1] = 0
    WS[2] = n
    WS[3] -= n
    s = WB[0]
    return WT[s], WSQ[s]


@njit(cache=True, _nrt=False)
def wheel_next_source(Q):
    """The source of the earliest unread spike of the open bucket (after a pop: the
    wheel's next spike), -1 if that bucket is used up (only ``wheel_head`` opens the
    next); for prefetching."""
    WS = Q[QWS]
    return Q[QWB][WS[1]] if WS[1] < WS[2] else np.int64(-1)


@njit(cache=True, _nrt=False)
def wheel_pop(Q):
    """Remove the wheel's earliest spike, which ``wheel_head`` has found; returns (t,
    seq, source)."""
    WS = Q[QWS]
    i = WS[1]
    s = Q[QWB][i]
    WS[1] = i + 1
    return Q[QWT][s], Q[QWSQ][s], s
