"""The event queue (eventsnn.engine.queue): order, growth and its no-growth contract, for
the heap and for the FIFO lanes beside it."""
import heapq

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from eventsnn.engine.queue import (lane_last, lane_pop, lane_push,
                                   lane_room, new_queue, next_event, pop, push, queue_length,
                                   reserve, wheel_head, wheel_pop, wheel_push)


def _push_all(Q, items):
    for t, seq, kind, a, b, c in items:
        Q = reserve(Q, 1)
        push(Q, t, seq, kind, a, b, c)
    return Q


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 7.25]),
                          st.integers(0, 3), st.integers(-5, 5)), min_size=1, max_size=300),
       st.integers(1, 5))
def test_pops_in_time_then_sequence_order(raw, every):
    """Interleaved pushes and pops give exactly heapq's order on (time, sequence),
    with the payload intact, through several growths of a small queue."""
    Q = new_queue(1)
    ref = []
    out, want = [], []
    for seq, (t, kind, a) in enumerate(raw):
        item = (t, seq, kind, a, 2 * seq, -t)
        Q = _push_all(Q, [item])
        heapq.heappush(ref, item)
        if seq % every == 0:
            out.append(pop(Q))
            want.append(heapq.heappop(ref))
    while ref:
        out.append(pop(Q))
        want.append(heapq.heappop(ref))
    assert Q.n[0] == 0
    assert [tuple(o) for o in out] == want


def test_reserve_keeps_contents_and_shares_counters():
    Q = new_queue(64)
    Q = _push_all(Q, [(float(k % 7), k, 1, k, k, 0.0) for k in range(64)])
    assert Q.t.shape[0] == 64
    Q2 = reserve(Q, 1)
    assert Q2.t.shape[0] >= 128 and not np.shares_memory(Q2.t, Q.t)
    assert np.shares_memory(Q2.n, Q.n) and np.shares_memory(Q2.next_seq, Q.next_seq)
    for c in range(6):
        np.testing.assert_array_equal(Q2[c][:64], Q[c][:64])
    Q3 = reserve(Q2, 10)     # room already there: the same arrays
    assert all(a is b for a, b in zip(Q3, Q2))


def test_push_without_room_raises_instead_of_overwriting():
    Q = new_queue(64)
    Q = _push_all(Q, [(1.0, k, 0, 0, 0, 0.0) for k in range(64)])
    before = [c.copy() for c in Q[:6]]
    with pytest.raises(RuntimeError, match="room was not reserved"):
        push(Q, 0.5, 99, 0, 0, 0, 0.0)
    assert Q.n[0] == 64
    for c, b in zip(Q[:6], before):
        np.testing.assert_array_equal(c, b)


def _pop_next(Q):
    """The next event of heap and lanes together, as (t, seq, payload)."""
    t, src = next_event(Q)
    if src < 0:
        t, seq, kind, a, b, c = pop(Q)
        return t, seq, a
    return lane_pop(Q, src)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 2), st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0]),
                          st.booleans()), min_size=1, max_size=400))
def test_lanes_and_heap_pop_in_time_then_sequence_order(ops):
    """Events pushed into three lanes (each in non-decreasing time, as the engine pushes
    them) and into the heap, with pops interleaved, come out in exactly heapq's
    (time, sequence) order, through several growths of small lanes."""
    Q = new_queue(1, nlanes=3, lane_capacity=1)
    ref, out, want = [], [], []
    now = 0.0
    for seq, (where, dt, do_pop) in enumerate(ops):
        t = now + dt
        if where >= 0 and t >= lane_last(Q, where):
            Q = reserve(Q, 0, 1)
            lane_push(Q, where, t, seq, 7 * seq)
        else:
            Q = reserve(Q, 1)
            push(Q, t, seq, 0, 7 * seq, 0, 0.0)
        heapq.heappush(ref, (t, seq, 7 * seq))
        if do_pop:
            out.append(_pop_next(Q))
            want.append(heapq.heappop(ref))
            now = max(now, out[-1][0])
        assert queue_length(Q) == len(ref)
    while ref:
        out.append(_pop_next(Q))
        want.append(heapq.heappop(ref))
    assert [tuple(o) for o in out] == want
    assert next_event(Q) == (np.inf, -1)


def test_lane_growth_keeps_fifo_order_across_the_ring_seam():
    """A lane that wrapped around its ring keeps its order when it grows."""
    Q = new_queue(64, nlanes=2, lane_capacity=64)
    for k in range(50):                 # advance the ring position
        lane_push(Q, 1, float(k), k, k)
    for _ in range(50):
        lane_pop(Q, 1)
    for k in range(64):                 # fill across the seam
        lane_push(Q, 1, 100.0 + k, 100 + k, k)
    assert not lane_room(Q, 1)
    Q2 = reserve(Q, 0, 1)
    assert Q2.lane_t.shape[0] > Q.lane_t.shape[0] and Q2.lane_head is Q.lane_head
    assert [lane_pop(Q2, 1)[1] for _ in range(64)] == list(range(100, 164))


def test_lane_push_without_room_raises_instead_of_overwriting():
    Q = new_queue(64, nlanes=1, lane_capacity=64)
    for k in range(64):
        lane_push(Q, 0, 1.0, k, k)
    with pytest.raises(RuntimeError, match="room was not reserved"):
        lane_push(Q, 0, 2.0, 99, 0)
    assert queue_length(Q) == 64 and lane_last(Q, 0) == 1.0


# ----------------------------------------------------------------------- source wheel

def _pop_any(Q):
    """The next event of heap, wheel and lanes together, as (t, seq, payload)."""
    t, src = next_event(Q)
    if src == -2:
        return wheel_pop(Q)
    if src < 0:
        t, seq, kind, a, b, c = pop(Q)
        return t, seq, a
    return lane_pop(Q, src)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 12),
       st.sampled_from([(2.0 ** -3, 4), (0.5, 8), (1.0, 64)]),
       st.lists(st.tuples(st.integers(0, 11), st.sampled_from([0.0, 0.05, 0.125, 0.3, 1.0, 2.5,
                                                                6.0, 40.0]),
                          st.booleans(), st.booleans()), min_size=1, max_size=300))
def test_wheel_heap_and_lanes_pop_in_time_then_sequence_order(nsrc, size, ops):
    """Source spikes on the wheel (at most one pending per source, as the engine keeps
    them; those beyond its horizon go to the heap, as ``_queue_source`` does), other
    events in the heap and in a lane, pops interleaved: exactly heapq's (time, sequence)
    order.  Small wheels with few buckets exercise the horizon, spikes that fall into or
    before the open bucket, and its compaction."""
    width, nb = size
    Q = new_queue(1, nlanes=1, lane_capacity=1, n_sources=nsrc, wheel_width=width,
                  wheel_buckets=nb)
    pending = set()
    ref, out, want = [], [], []
    now = 0.0
    seq = 0
    for s, dt, lane, do_pop in ops:
        t = now + dt
        s %= nsrc
        if s not in pending:
            # a source spike: the wheel, or the heap beyond its horizon
            if not wheel_push(Q, s, t, seq):
                Q = reserve(Q, 1)
                push(Q, t, seq, 2, s, 0, t)
            pending.add(s)
            heapq.heappush(ref, (t, seq, s, "src"))
        elif lane and t >= lane_last(Q, 0):
            Q = reserve(Q, 0, 1)
            lane_push(Q, 0, t, seq, -1)
            heapq.heappush(ref, (t, seq, -1, "lane"))
        else:
            Q = reserve(Q, 1)
            push(Q, t, seq, 1, -1, 0, t)
            heapq.heappush(ref, (t, seq, -1, "heap"))
        seq += 1
        if do_pop:
            got = _pop_any(Q)
            exp = heapq.heappop(ref)
            out.append(tuple(got))
            want.append(exp[:3])
            if exp[3] == "src":
                pending.discard(exp[2])
            now = max(now, got[0])
        assert queue_length(Q) == len(ref)
    while ref:
        got = _pop_any(Q)
        exp = heapq.heappop(ref)
        out.append(tuple(got))
        want.append(exp[:3])
    assert out == want
    assert next_event(Q) == (np.inf, -1) and queue_length(Q) == 0


def test_wheel_opens_buckets_in_time_order_and_reports_its_horizon():
    Q = new_queue(64, n_sources=4, wheel_width=0.5, wheel_buckets=4)   # horizon: 2 ms
    assert wheel_head(Q) == (np.inf, 0)
    assert wheel_push(Q, 0, 1.7, 10) and wheel_push(Q, 1, 0.2, 11) and wheel_push(Q, 2, 1.6, 12)
    assert not wheel_push(Q, 3, 2.0, 13)        # bucket 4: beyond the horizon, unchanged
    assert queue_length(Q) == 3
    assert wheel_head(Q) == (0.2, 11)
    assert tuple(wheel_pop(Q)) == (0.2, 11, 1)
    # bucket 3 (1.5 <= t < 2.0) opens sorted by time: 1.6 before 1.7
    assert wheel_head(Q) == (1.6, 12) and Q.w_state[0] == 3
    # a spike before the open bucket joins its sorted unread part
    assert wheel_push(Q, 1, 0.9, 14)
    assert [tuple(wheel_pop(Q)) for _ in range(3)] == [(0.9, 14, 1), (1.6, 12, 2), (1.7, 10, 0)]
    assert wheel_head(Q) == (np.inf, 0) and queue_length(Q) == 0


def test_no_wheel_sends_every_spike_to_the_heap():
    Q = new_queue(64, n_sources=3)
    assert not wheel_push(Q, 0, 1.0, 0)
    assert queue_length(Q) == 0 and next_event(Q) == (np.inf, -1)


@pytest.mark.parametrize("kw", [dict(wheel_width=0.3), dict(wheel_width=-1.0),
                                dict(wheel_buckets=6), dict(wheel_buckets=0)])
def test_bad_wheel_sizes_are_refused(kw):
    with pytest.raises(ValueError, match="wheel_"):
        new_queue(64, n_sources=2, **kw)


def test_reserve_keeps_the_wheel():
    Q = new_queue(64, n_sources=2, wheel_width=1.0, wheel_buckets=8)
    wheel_push(Q, 1, 3.5, 0)
    Q2 = reserve(Q, 1000)
    assert all(getattr(Q2, f) is getattr(Q, f) for f in Q._fields[13:]) and len(Q2) == len(Q)
    assert wheel_head(Q2) == (3.5, 0)
