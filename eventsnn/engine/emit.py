"""Spikes leave a neuron or a source: their deliveries are queued, and sources draw or
read their next spike.

Event kinds (the ``kind`` column of the heap; lane events carry none):

* lane events: the rows of a spike's projections that share one delay (a spike
  enters the queue once per delay group).  Spikes are emitted in time order, so each
  delay's deliveries form a FIFO (``engine.queue``); a spike found late (driven
  neurons) would break a lane's order and takes the heap instead.
* ``DELIVER``: one delay group of one row in the heap: rows with per-synapse delays are
  sorted by delay and the next group is pushed only when the current one is delivered,
  so a row never holds more than one queue entry.
* ``CAND``: a neuron's predicted threshold crossing (``engine.threshold``).
* ``SOURCE``: the next spike of a source beyond the source wheel's horizon (those within
  it wait on the wheel).  ``FUSED``: the spike of a *fused* source, whose projections
  share one delay and reach only small populations: it is queued at its arrival and
  delivered there as a lane event, one queue entry per spike instead of two.
* ``SWEEP``, ``RENORM``, ``SAMPLE``: bookkeeping (``engine.loop``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .hints import prefetch_l2
from .queue import lane_last, lane_push, push, wheel_next_source, wheel_push
from .rng import exp_step, next_exponential
from .state import C_CAND, C_PUSH, COL_CT, COL_TGT

# Event kinds and _ZERO are np.int64, not int: Numba types a global int as a literal
# and compiles a separate copy of a callee (with everything it calls) for each literal
# argument value, which multiplied the cold-start compile time.
DELIVER, CAND, SOURCE, SWEEP, RENORM, SAMPLE = (np.int64(k) for k in range(6))
# a popped lane event (never stored with a kind): payload (group << 32) | row
LANE = np.int64(6)
# a spike of a fused source, in the heap at its arrival time: delivered as a lane event
FUSED = np.int64(7)
# the sequence number of probe k's SAMPLE events is SAMPLE_SEQ + k: below every other
# event's, so the samples of an instant are taken before its inputs (left limits)
SAMPLE_SEQ = np.int64(-(2**62))
# at most this many lanes (distinct homogeneous delays); other delays use the heap
MAX_LANES = 16

_ZERO = np.int64(0)
_ONE = np.int64(1)


@njit(cache=True, _nrt=False)
def qpush_n(Q, cnt, n, t, kind, a, b, c):
    """Push an event with the next sequence number, counted ``n`` times (1, or in a
    partitioned run 0 on the processes that do not count it); returns that number."""
    seq = Q.next_seq[0]
    Q.next_seq[0] = seq + 1
    push(Q, t, seq, kind, a, b, c)
    cnt[C_PUSH] += n
    return seq


@njit(cache=True, _nrt=False)
def qpush(Q, cnt, t, kind, a, b, c):
    """Push an event with the next sequence number, counted once; returns that number."""
    return qpush_n(Q, cnt, _ONE, t, kind, a, b, c)


@njit(cache=True, inline="always")
def row_count(G, pr, row):
    """How many times this process counts the queue work of row ``row`` of projection
    pr: 1, or in a partitioned run 1 on the lowest-ranked process with synapses of it and
    0 on the others (``Graph.row_cnt``)."""
    if G.row_cnt.shape[0] == 0:
        return _ONE
    return np.int64(G.row_cnt[G.row_ptr_off[pr] + row])


@njit(cache=True, inline="always")
def group_of(n, grp_off):
    """Group (population, or source group) of node n by binary search in the group
    offsets (a few entries, in cache): a per-node table is a cache miss in a large
    network.  With the population offsets it gives a neuron's population."""
    lo = 0
    hi = grp_off.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if grp_off[mid] <= n:
            lo = mid
        else:
            hi = mid
    return np.int64(lo)


@njit(cache=True, _nrt=False)
def record_spike(SP, n, t):
    """Append spike (t, n) to a record; the caller has made room."""
    i = SP.count[0]
    if i >= SP.t.shape[0]:
        raise RuntimeError("spike record full: room was not made (internal error)")
    SP.t[i] = t
    SP.n[i] = n
    SP.count[0] = i + 1


@njit(cache=True, _nrt=False, inline="always")
def observe_spike(SP, RC, p, n, t):
    """Record spike (t, n) of population p as the recorders ask (``state.Recording``):
    in the record, in its population's rate bins, neither, or both."""
    if RC.mode[0] == 1:
        record_spike(SP, n, t)
        return
    m = RC.mask[n]
    if ((m & 1) != 0 and RC.win[0] <= t <= RC.win[1]) or (m & 4) != 0:
        record_spike(SP, n, t)
    if (m & 2) != 0:
        r = RC.rate_of[p]
        i = RC.rate_off[r] + np.int64(math.ceil(t / RC.rate_bin[r])) - 1 - RC.rate_base[r]
        if i < RC.rate_off[r] or i >= RC.rate_off[r + 1]:
            raise RuntimeError("rate bins out of range: the run's bins were not made (internal error)")
        RC.rate_cnt[i] += 1


@njit(cache=True, inline="always")
def spike_row(G, pr, node):
    """(row, first synapse, end) of the row of ``node`` in projection pr."""
    row = node - G.proj_pre_off[pr]
    i = G.row_ptr_off[pr] + row
    return row, G.row_ptr[i], G.row_ptr[i + 1]


@njit(cache=True, _nrt=False)
def emit_prefetch(node, g, G):
    """Start loading the row pointers a spike of ``node`` (group g) will read in
    ``emit``: one random cache line per projection, which a neuron's spike overlaps
    with the reset's arithmetic instead of waiting for each in turn."""
    counted = G.row_cnt.shape[0] != 0
    for q in range(G.grp_proj_ptr[g], G.grp_proj_ptr[g + 1]):
        pr = G.grp_proj[q]
        ir = G.row_ptr_off[pr] + node - G.proj_pre_off[pr]
        prefetch_l2(G.row_ptr, ir)
        if counted:
            prefetch_l2(G.row_cnt, ir)


@njit(cache=True, _nrt=False)
def emit(node, g, t, G, Q, cnt):
    """Queue the deliveries of a spike of ``node`` (of group g) at time t (ms): one lane
    event per delay group of projections with a lane, one heap event per other
    projection.

    Every non-empty row takes one sequence number and counts as one queue push, in
    projection order, also those that share a lane event (so the counts do not depend
    on whether a row went to a lane or to the heap): the order of events is then the
    one a heap with one event per row would give (the rows of one lane event are
    consecutive in it, since no other event falls between their sequence numbers at
    their time).  A lane event whose time is before the lane's last event (a spike
    found late) goes to the heap, one event per row, with the same sequence numbers."""
    in_lane = _ZERO    # bit l: this spike has a lane event in lane l
    to_heap = _ZERO    # bit l: lane l was out of order for it; its rows go to the heap
    for q in range(G.grp_proj_ptr[g], G.grp_proj_ptr[g + 1]):
        pr = G.grp_proj[q]
        row, start, end = spike_row(G, pr, node)
        if start == end:
            continue
        ln = G.proj_lane[pr]
        if ln >= 0:
            bit = _ONE << ln
            if (to_heap & bit) == 0:
                if (in_lane & bit) != 0:
                    Q.next_seq[0] += 1      # a row of this spike's lane event
                    cnt[C_PUSH] += row_count(G, pr, row)
                    continue
                ta = t + G.lane_delay[ln]
                if ta >= lane_last(Q, ln):
                    seq = Q.next_seq[0]
                    Q.next_seq[0] = seq + 1
                    lane_push(Q, ln, ta, seq, (np.int64(g) << 32) | row)
                    cnt[C_PUSH] += row_count(G, pr, row)
                    in_lane |= bit
                    continue
                to_heap |= bit
        d = G.proj_delay[pr]
        if d < 0.0:
            d = G.row_d0[G.row_d0_off[pr] + row]
        qpush_n(Q, cnt, row_count(G, pr, row), t + d, DELIVER, (np.int64(pr) << 32) | row, start, t)


@njit(cache=True, _nrt=False, inline="always")
def _before(t, n, i, EB):
    """(t, n) < (EB.t[i], EB.n[i]): the order spikes are queued in."""
    return t < EB.t[i] or (t == EB.t[i] and n < EB.n[i])


@njit(cache=True, _nrt=False)
def _sift(EB, i, m):
    """Restore the max-heap below entry i of EB's first m entries (``sort_window``)."""
    while True:
        c = 2 * i + 1
        if c >= m:
            return
        if c + 1 < m and _before(EB.t[c], EB.n[c], c + 1, EB):
            c += 1
        if not _before(EB.t[i], EB.n[i], c, EB):
            return
        EB.t[i], EB.t[c] = EB.t[c], EB.t[i]
        EB.n[i], EB.n[c] = EB.n[c], EB.n[i]
        i = c


@njit(cache=True, _nrt=False)
def sort_window(EB):
    """Sort the waiting spikes by (time, neuron), in place.  They are found nearly in
    time order (the exceptions: spikes found late by the lazy drive, and the order of
    the tests of an instant), so an insertion sort is linear; when it has moved more
    than a few entries per spike it gives way to a heap sort, which bounds the worst
    case (an instant where many neurons fire in reverse order) by m log m."""
    m = EB.count[0]
    budget = 8 * m + 64
    i = 1
    while i < m:
        t = EB.t[i]
        n = EB.n[i]
        j = i - 1
        while j >= 0 and _before(t, n, j, EB):
            EB.t[j + 1] = EB.t[j]
            EB.n[j + 1] = EB.n[j]
            j -= 1
        EB.t[j + 1] = t
        EB.n[j + 1] = n
        budget -= i - 1 - j
        if budget < 0:
            break
        i += 1
    if i >= m:
        return
    for k in range(m // 2 - 1, -1, -1):
        _sift(EB, k, m)
    for e in range(m - 1, 0, -1):
        EB.t[0], EB.t[e] = EB.t[e], EB.t[0]
        EB.n[0], EB.n[e] = EB.n[e], EB.n[0]
        _sift(EB, 0, e)


@njit(cache=True)
def merge_windows(ts, ns, bounds, EB, k):
    """Replace the first ``k`` waiting spikes of EB by the runs
    ``(ts, ns)[bounds[r]:bounds[r + 1]]`` (each sorted by (time, neuron): the window's
    spikes of every process of a partitioned run) merged in (time, neuron) order, the
    waiting spikes after the k-th kept behind them.  The caller has made room.  A merge
    of K sorted runs is linear; sorting their concatenation was not (the insertion sort
    gives way to the heap sort)."""
    m = ts.shape[0]
    rest = EB.count[0] - k
    EB.t[m:m + rest] = EB.t[k:k + rest].copy()
    EB.n[m:m + rest] = EB.n[k:k + rest].copy()
    K = bounds.shape[0] - 1
    head = bounds[:K].copy()
    bt = 0.0
    bn = np.int64(0)
    for i in range(m):
        best = -1
        for r in range(K):
            if head[r] < bounds[r + 1]:
                h = head[r]
                if best < 0 or ts[h] < bt or (ts[h] == bt and ns[h] < bn):
                    best = r
                    bt = ts[h]
                    bn = ns[h]
        EB.t[i] = bt
        EB.n[i] = bn
        head[best] += 1
    EB.count[0] = m + rest


@njit(cache=True, _nrt=False)
def emit_window(EB, t, G, Q, cnt):
    """Close the emission window that ends at t (ms): queue the deliveries of the
    waiting spikes before t in (time, neuron) order and keep the others (found at t).
    The caller has made room for ``Consts.pmax`` heap events and one lane event per
    lane for every waiting spike.

    Why windows: the deliveries of one instant into one neuron are summed in the order
    of their sequence numbers, i.e. of the spikes' queueing; queued as they are found,
    that order would depend on the order of an instant's tests and on when the lazy
    drive finds a spike.  Queued in (time, neuron) order, it depends on neither (and
    all of a window's deliveries are due at or after its end, the window being no longer
    than the smallest delay)."""
    m = EB.count[0]
    if m == 0:
        return
    sort_window(EB)
    k = 0
    while k < m and EB.t[k] < t:
        if k + 1 < m:
            nn = EB.n[k + 1]
            emit_prefetch(nn, group_of(nn, G.grp_off), G)
        n = EB.n[k]
        emit(n, group_of(n, G.grp_off), EB.t[k], G, Q, cnt)
        k += 1
    for i in range(k, m):
        EB.t[i - k] = EB.t[i]
        EB.n[i - k] = EB.n[i]
    EB.count[0] = m - k


@njit(cache=True, _nrt=False)
def schedule(n, tc, ST, cseq, Q, cnt):
    """Neuron n's next crossing is now at tc (ms; inf: none).

    A queue entry is pushed only when the crossing moved earlier than the entry the
    neuron already has; if it moved later, that earlier entry re-schedules itself
    when it pops.  Superseded entries stay in the heap and are dropped when popped
    (lazy deletion, matched by sequence number), so inhibition costs no queue work.
    """
    ST[n, COL_TGT] = tc
    if tc < ST[n, COL_CT]:
        cseq[n] = qpush(Q, cnt, tc, CAND, n, _ZERO, 0.0)
        ST[n, COL_CT] = tc
        cnt[C_CAND] += 1


@njit(cache=True, _nrt=False)
def wake(n, tw, ST, cseq, Q, cnt):
    """Queue a wake-up of neuron n at tw (ms), earlier than its queued entry, no later
    than its next crossing, which is unknown (``threshold.lazy_crossing``)."""
    ST[n, COL_TGT] = math.nan
    cseq[n] = qpush(Q, cnt, tw, CAND, n, _ZERO, 0.0)
    ST[n, COL_CT] = tw
    cnt[C_CAND] += 1


# ------------------------------------------------------------------------- sources
@njit(cache=True, _nrt=False)
def queue_source(s, ts, SRC, SS, Q, REC, cnt):
    """Queue source s's spike at ts (ms) and record it: at ts to be emitted, or, for a
    fused source, at its arrival time to be delivered; on the source wheel unless it
    lies beyond its horizon.  A spike is recorded when drawn, unless ``record_ahead``
    recorded it before (a fused source draws a spike when the previous one arrives,
    which may be after a run that contains it has ended)."""
    if SRC.record[0] != 0:
        if SS.ahead[s] > 0:
            SS.ahead[s] -= 1
        else:
            record_spike(REC, SRC.off[0] + s, ts)
    # (every process of a partitioned run draws every source: rank 0 counts)
    fused = SRC.lane[s] >= 0
    tq = ts
    if fused:
        tq = ts + SRC.dly[s]
        Q.w_c[s] = ts
    if wheel_push(Q, s, tq, Q.next_seq[0]):
        # on the source wheel (engine.queue), with the sequence number qpush would give,
        # so that events pop in the same order as from the heap
        Q.next_seq[0] += 1
        cnt[C_PUSH] += SRC.share[0]
    else:
        # no wheel, or beyond its horizon
        qpush_n(Q, cnt, SRC.share[0], tq, FUSED if fused else SOURCE, s, _ZERO, ts)


@njit(cache=True, _nrt=False)
def next_source(s, ts, SRC, SS, Q, REC, cnt):
    """Queue the spike after source s's spike at ts (ms): drawn lazily for a Poisson
    source, the next time of a spike train."""
    if SRC.kind[s] == 0:
        k = SS.pos[s] + 1
        SS.pos[s] = k
        if k < SRC.st_ptr[s + 1]:
            queue_source(s, SRC.times[k], SRC, SS, Q, REC, cnt)
    else:
        st, tn = _poisson_next(SS.rng[s], ts, SRC.rate[s])
        SS.rng[s] = st
        queue_source(s, tn, SRC, SS, Q, REC, cnt)


@njit(cache=True, inline="always")
def _poisson_next(st, ts, rate):
    """(stream state after the draw, time in ms) of a Poisson source's spike after the
    one at ts: ``next_exponential``'s arithmetic on a state value instead of the array."""
    st, e = exp_step(st)
    return st, ts + e * (1.0 / rate)


@njit(cache=True, _nrt=False)
def record_ahead(SRC, SS, Q, REC, t_stop, dry):
    """Record the spikes at or before t_stop (ms) of fused sources that are not drawn
    yet, so that a run's record holds every source spike of its interval; returns how
    many (``dry``: count only, change nothing; the caller then makes room).

    A fused source draws its next spike when the last drawn one (at ``Queue.w_c``)
    arrives, up to its delay later, so spikes in the last delay of a run may be drawn
    only in the next run.  They are computed here from a copy of the random stream
    with the arithmetic of ``next_source`` (the same times, bit for bit) and counted in
    ``SourceState.ahead``; ``queue_source`` skips recording them when they are drawn.
    The streams and queue are untouched."""
    if SRC.record[0] == 0:
        return 0
    n = 0
    off = SRC.off[0]
    for s in range(SRC.lane.shape[0]):
        if SRC.lane[s] < 0:
            continue
        if SRC.kind[s] == 0:
            k = SS.pos[s] + SS.ahead[s] + 1
            while k < SRC.st_ptr[s + 1] and SRC.times[k] <= t_stop:
                if not dry:
                    record_spike(REC, off + s, SRC.times[k])
                    SS.ahead[s] += 1
                n += 1
                k += 1
        elif SRC.rate[s] > 0.0:
            # the draws after the last drawn spike, those recorded ahead first (all at or
            # before an earlier t_stop)
            st = SS.rng[s]
            t = Q.w_c[s]
            i = SS.ahead[s]
            while True:
                st, t = _poisson_next(st, t, SRC.rate[s])
                if t > t_stop:
                    break
                if i > 0:
                    i -= 1
                    continue
                if not dry:
                    record_spike(REC, off + s, t)
                    SS.ahead[s] += 1
                n += 1
    return n


@njit(cache=True, _nrt=False)
def fused_lane(s, SRC, G):
    """The lane event (payload, lane) that delivers a spike of fused source s."""
    node = SRC.off[0] + s
    g = group_of(node, G.grp_off)
    return (g << 32) | (node - G.grp_off[g]), np.int64(SRC.lane[s])


@njit(cache=True, _nrt=False)
def prefetch_wheel(Q, SRC, SS, G):
    """Start loading what the source wheel's next spike will read when it pops: its
    source's row pointers (``emit``) and its kind, rate, random stream and fusion entry
    (``next_source``), random lines in arrays of 10^5 sources that each cost a cache
    miss otherwise."""
    s = wheel_next_source(Q)
    if s >= 0:
        node = SRC.off[0] + s
        emit_prefetch(node, group_of(node, G.grp_off), G)
        prefetch_l2(SRC.kind, s)
        prefetch_l2(SRC.rate, s)
        prefetch_l2(SS.rng, s)
        prefetch_l2(SRC.lane, s)


@njit(cache=True)
def init_sources(SRC, SS, Q, REC, cnt, t0):
    """Queue the first spike of every source (spike trains: their first time >= t0)."""
    for s in range(SRC.kind.shape[0]):
        if SRC.kind[s] == 0:
            k = SRC.st_ptr[s]
            if k < SRC.st_ptr[s + 1]:
                SS.pos[s] = k
                queue_source(s, SRC.times[k], SRC, SS, Q, REC, cnt)
        elif SRC.rate[s] > 0.0:
            ts = t0 + next_exponential(SS.rng, s, SRC.rate[s])
            queue_source(s, ts, SRC, SS, Q, REC, cnt)


@njit(cache=True)
def init_drives(drv_next, drv_rng, drv_rate, drv_base, drv_n, t0):
    """First arrival time (ms) of every neuron's external drive stream."""
    for d in range(drv_rate.shape[0]):
        for i in range(drv_n[d]):
            k = drv_base[d] + i
            drv_next[k] = t0 + next_exponential(drv_rng, k, drv_rate[d])
