"""The event queue (eventsnn.engine.queue): order, growth and its no-growth contract."""
import heapq

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from eventsnn.engine.queue import QN, new_queue, pop, push, reserve


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
    assert Q[QN][0] == 0
    assert [tuple(o) for o in out] == want


def test_reserve_keeps_contents_and_shares_counters():
    Q = new_queue(64)
    Q = _push_all(Q, [(float(k % 7), k, 1, k, k, 0.0) for k in range(64)])
    assert Q[0].shape[0] == 64
    Q2 = reserve(Q, 1)
    assert Q2[0].shape[0] >= 128 and not np.shares_memory(Q2[0], Q[0])
    assert np.shares_memory(Q2[QN], Q[QN]) and np.shares_memory(Q2[7], Q[7])
    for c in range(6):
        np.testing.assert_array_equal(Q2[c][:64], Q[c][:64])
    Q3 = reserve(Q2, 10)     # room already there: the same arrays
    assert all(np.shares_memory(a, b) for a, b in zip(Q3, Q2))


def test_push_without_room_raises_instead_of_overwriting():
    Q = new_queue(64)
    Q = _push_all(Q, [(1.0, k, 0, 0, 0, 0.0) for k in range(64)])
    before = [c.copy() for c in Q[:6]]
    with pytest.raises(RuntimeError, match="room was not reserved"):
        push(Q, 0.5, 99, 0, 0, 0, 0.0)
    assert Q[QN][0] == 64
    for c, b in zip(Q[:6], before):
        np.testing.assert_array_equal(c, b)
