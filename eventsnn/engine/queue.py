"""Array-backed event queue: a binary min-heap plus FIFO *lanes*, ordered by (time,
sequence number).

Ties in time are broken by the sequence number, i.e. by insertion order, so a run
is deterministic.  The queue is a :class:`Queue` of plain arrays.

Memory: 48 bytes per event in the heap, 24 per event in a lane, 40 per source and 8
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
``engine.loop``), and a push raises if that contract is broken rather
than write past the end.  The pushes and pops are compiled without reference
counting (``_nrt=False``): they only read and write the arrays they are given.
"""
import math
from typing import NamedTuple

import numpy as np
from numba import njit


class Queue(NamedTuple):
    """The event queue: a heap, FIFO lanes and the source wheel."""

    #: float64 [cap]: heap event times (ms)
    t: np.ndarray
    #: float64 [cap]: aux time (ms), e.g. the spike time of a delivery
    aux: np.ndarray
    #: int64 [cap]: sequence numbers
    seq: np.ndarray
    #: int64 [cap]: event kinds (``engine.loop``)
    kind: np.ndarray
    #: int64 [cap]: payload a
    a: np.ndarray
    #: int64 [cap]: payload b
    b: np.ndarray
    #: int64 [1]: events in the heap
    n: np.ndarray
    #: int64 [1]: the next sequence number
    next_seq: np.ndarray
    #: float64 [lanes * lane capacity]: lane event times (ms)
    lane_t: np.ndarray
    #: int64: lane event sequence numbers
    lane_seq: np.ndarray
    #: int64: lane event payloads
    lane_a: np.ndarray
    #: int64 [lanes]: events popped per lane
    lane_head: np.ndarray
    #: int64 [lanes]: events pushed per lane
    lane_tail: np.ndarray
    #: float64 [S]: the source wheel: each source's pending spike time (ms); for a fused
    #: source, the time its spike arrives (``emit.queue_source``)
    w_t: np.ndarray
    #: int64 [S]: its sequence number
    w_seq: np.ndarray
    #: float64 [S]: a fused source's pending spike time (ms), whose arrival ``w_t`` holds
    w_c: np.ndarray
    #: int64 [S]: the next source in its bucket's list
    w_next: np.ndarray
    #: int64 [buckets]: the buckets' list heads
    w_head: np.ndarray
    #: int64 [S]: the open bucket's sources in (time, sequence) order
    w_b: np.ndarray
    #: int64 [4]: open bucket, read position, count, sources in lists
    w_state: np.ndarray
    #: float64 [2]: bucket width w (ms) and 1/w (0: no wheel)
    w_width: np.ndarray
    #: int64 [1]: the capacity of every lane, a power of two, kept apart so that finding
    #: an event's slot needs no integer division (several per event otherwise)
    lane_cap: np.ndarray


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
    return Queue(np.empty(capacity), np.empty(capacity), np.empty(capacity, np.int64),
                 np.empty(capacity, np.int64), np.empty(capacity, np.int64),
                 np.empty(capacity, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64),
                 np.empty(nl), np.empty(nl, np.int64), np.empty(nl, np.int64),
                 np.zeros(int(nlanes), np.int64), np.zeros(int(nlanes), np.int64),
                 np.zeros(ns), np.zeros(ns, np.int64), np.zeros(ns), np.full(ns, -1, np.int64),
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
    twice the capacity (the counters ``n``, ``next_seq``, ``lane_head``, ``lane_tail`` and
    the wheel are shared, not copied)."""
    T, C, SQ, K, A, B, hn = Q.t, Q.aux, Q.seq, Q.kind, Q.a, Q.b, Q.n
    LT, LSQ, LA, lh, lt = Q.lane_t, Q.lane_seq, Q.lane_a, Q.lane_head, Q.lane_tail
    cap = T.shape[0]
    n = hn[0]
    if n + need > cap:
        new = max(2 * cap, n + need, 64)
        T, C, SQ = _grown(T, n, new), _grown(C, n, new), _grown(SQ, n, new)
        K, A, B = _grown(K, n, new), _grown(A, n, new), _grown(B, n, new)
    nl = lh.shape[0]
    lc = Q.lane_cap
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
    return Queue(T, C, SQ, K, A, B, hn, Q.next_seq, LT, LSQ, LA, lh, lt, Q.w_t, Q.w_seq, Q.w_c, Q.w_next,
                 Q.w_head, Q.w_b, Q.w_state, Q.w_width, lc)


@njit(cache=True, _nrt=False)
def push(Q, t, seq, kind, a, b, c):
    """Insert an event into the heap.  O(log n).  The caller must have reserved room
    (``reserve``)."""
    T, C, SQ, K, A, B, hn = Q.t, Q.aux, Q.seq, Q.kind, Q.a, Q.b, Q.n
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
    T, C, SQ, K, A, B, hn = Q.t, Q.aux, Q.seq, Q.kind, Q.a, Q.b, Q.n
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
            # the smaller child, without a branch (which child is a coin flip the
            # predictor misses half the time); T[last] may be read: it holds an event
            r = l + 1
            rl = (r < last) & ((T[r] < T[l]) | ((T[r] == T[l]) & (SQ[r] < SQ[l])))
            m = l + np.int64(rl)
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
    lh = Q.lane_head
    lt = Q.lane_tail
    nl = lh.shape[0]
    if nl == 0:
        return True
    cap = Q.lane_cap[0]
    for q in range(nl):
        if lt[q] - lh[q] + need > cap:
            return False
    return True


@njit(cache=True, _nrt=False)
def lane_slot(Q, q, i):
    """Array index of event number i (a push count) of lane q."""
    cap = Q.lane_cap[0]
    return q * cap + (i & (cap - 1))


@njit(cache=True, _nrt=False)
def lane_last(Q, q):
    """Time (ms) of the last event of lane q, -inf if it is empty."""
    i = Q.lane_tail[q]
    if i == Q.lane_head[q]:
        return -np.inf
    return Q.lane_t[lane_slot(Q, q, i - 1)]


@njit(cache=True, _nrt=False)
def lane_push(Q, q, t, seq, a):
    """Append an event (time ms, sequence, payload) to lane q.  Its (t, seq) must not be
    smaller than the lane's last event's (the caller checks ``lane_last``); the caller
    has made room (``reserve``)."""
    lh = Q.lane_head
    lt = Q.lane_tail
    i = lt[q]
    if i - lh[q] >= Q.lane_cap[0]:
        raise RuntimeError("event lane full: room was not reserved (internal error)")
    k = lane_slot(Q, q, i)
    Q.lane_t[k] = t
    Q.lane_seq[k] = seq
    Q.lane_a[k] = a
    lt[q] = i + 1


@njit(cache=True, _nrt=False)
def next_event(Q):
    """(t, src) of the earliest event by (time, sequence): src -1 for the heap's top,
    -2 for the source wheel's head, else the lane whose head it is; t is inf if nothing
    is queued."""
    t = np.inf
    sq = 0
    src = -1
    if Q.n[0] > 0:
        t = Q.t[0]
        sq = Q.seq[0]
    tw, sqw = wheel_head(Q)
    if tw < t or (tw == t and sqw < sq):
        t = tw
        sq = sqw
        src = -2
    lh = Q.lane_head
    lt = Q.lane_tail
    nl = lh.shape[0]
    if nl > 0:
        LT = Q.lane_t
        LSQ = Q.lane_seq
        cap = Q.lane_cap[0]
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
    lh = Q.lane_head
    i = lh[q]
    k = lane_slot(Q, q, i)
    lh[q] = i + 1
    return Q.lane_t[k], Q.lane_seq[k], Q.lane_a[k]


def queue_length(Q) -> int:
    """Number of events held (heap, lanes and source wheel)."""
    ws = Q.w_state
    return int(Q.n[0]) + int((Q.lane_tail - Q.lane_head).sum()) + int(ws[2] - ws[1] + ws[3])


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
    w = Q.w_width
    if w[0] <= 0.0:
        return False
    WT, WSQ, WNX, WHEAD, WB, WS = Q.w_t, Q.w_seq, Q.w_next, Q.w_head, Q.w_b, Q.w_state
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
    WS = Q.w_state
    WT, WSQ, WB = Q.w_t, Q.w_seq, Q.w_b
    if WS[1] < WS[2]:
        s = WB[WS[1]]
        return WT[s], WSQ[s]
    if WS[3] == 0:
        return np.inf, np.int64(0)
    WNX, WHEAD = Q.w_next, Q.w_head
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
    WS = Q.w_state
    return Q.w_b[WS[1]] if WS[1] < WS[2] else np.int64(-1)


@njit(cache=True, _nrt=False)
def wheel_pop(Q):
    """Remove the wheel's earliest spike, which ``wheel_head`` has found; returns (t,
    seq, source)."""
    WS = Q.w_state
    i = WS[1]
    s = Q.w_b[i]
    WS[1] = i + 1
    return Q.w_t[s], Q.w_seq[s], s
