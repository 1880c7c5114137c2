"""Tests of eventsnn.results: the (time, id) order of a run's spikes."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from eventsnn.results import _spike_order


def _ordered(t, i):
    return np.all((np.diff(t) > 0) | ((np.diff(t) == 0) & (np.diff(i) > 0)))


def test_sorted_spikes_need_no_sort():
    t = np.array([0.5, 1.0, 1.0, 2.0])
    i = np.array([3, 1, 2, 0])
    assert _spike_order(t, i) is None
    assert _spike_order(t[:1], i[:1]) is None
    assert _spike_order(t[:0], i[:0]) is None


def test_ties_in_the_wrong_order_are_sorted_by_id():
    # the engine records the spikes of one instant in the order their tests ran
    t = np.array([0.5, 1.0, 1.0, 1.0, 2.0])
    i = np.array([3, 7, 2, 5, 0])
    o = _spike_order(t, i)
    assert o is not None
    assert np.array_equal(t[o], [0.5, 1.0, 1.0, 1.0, 2.0])
    assert np.array_equal(i[o], [3, 2, 5, 7, 0])


def test_a_late_spike_is_moved_back():
    # a driven neuron's spike found after later spikes were recorded
    t = np.array([1.0, 3.0, 2.0])
    i = np.array([0, 1, 2])
    o = _spike_order(t, i)
    assert np.array_equal(t[o], [1.0, 2.0, 3.0]) and np.array_equal(i[o], [0, 2, 1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 5)), max_size=30))
def test_order_is_the_lexsort(pairs):
    """Whatever the record (times from a small grid, so with many ties; ids repeated),
    the result is (time, id) order, the same as np.lexsort's."""
    t = np.array([p[0] * 0.25 for p in pairs], dtype=np.float64)
    i = np.array([p[1] for p in pairs], dtype=np.int64)
    o = _spike_order(t, i)
    ref = np.lexsort((i, t))
    if o is None:
        assert np.array_equal(t, t[ref]) and np.array_equal(i, i[ref])
        assert len(t) < 2 or _ordered(t, i)
    else:
        assert np.array_equal(t[o], t[ref]) and np.array_equal(i[o], i[ref])
