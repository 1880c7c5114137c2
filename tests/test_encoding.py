"""Latency and rate encoders: exact times, layout, determinism, bad input."""
import numpy as np
import pytest

from eventsnn.encoding import SpikeInput, latency, rate


def test_latency_exact_times_with_bias():
    X = np.array([[0.5, 0.1], [1.0, 0.0]])
    s = latency(X, t_min=2.0, t_max=32.0, bias_time=0.0)
    assert isinstance(s, SpikeInput) and s.n_inputs == 3 and s.n_samples == 2
    t0, i0 = s.sample(0)
    np.testing.assert_array_equal(i0, [2, 1, 0])
    np.testing.assert_allclose(t0, [0.0, 2.0 + 0.1 * 30.0, 2.0 + 0.5 * 30.0], rtol=0, atol=1e-15)
    t1, i1 = s.sample(1)
    np.testing.assert_array_equal(i1, [2, 1, 0])          # bias at 0, x=0 at 2 ms, x=1 at 32 ms
    np.testing.assert_array_equal(t1, [0.0, 2.0, 32.0])


def test_latency_invert_and_skip():
    X = np.array([[0.0, 0.25, 1.0]])
    s = latency(X, t_max=10.0, invert=True, skip_below=0.1, bias_time=None)
    assert s.n_inputs == 3
    t, i = s.sample(0)
    np.testing.assert_array_equal(i, [2, 1])
    np.testing.assert_array_equal(t, [0.0, 7.5])


def test_latency_sorted_and_subset():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(20, 6))
    s = latency(X)
    for b in range(20):
        t, i = s.sample(b)
        assert np.all(np.diff(t) >= 0)
        assert sorted(i.tolist()) == list(range(7))
    sub = s.subset([3, 1])
    np.testing.assert_array_equal(sub.sample(0)[0], s.sample(3)[0])
    np.testing.assert_array_equal(sub.sample(1)[1], s.sample(1)[1])


def test_rate_statistics_and_determinism():
    X = np.full((200, 2), 0.5)
    s = rate(X, duration=1000.0, max_rate=40.0, seed=3)
    counts = np.diff(s.ptr)
    # 2 inputs x 20 Hz x 1 s = 40 spikes on average per sample (Poisson)
    assert abs(counts.mean() - 40.0) < 3 * np.sqrt(40.0 / 200) + 0.5
    assert (s.times >= 0).all() and (s.times < 1000.0).all()
    s2 = rate(X[:5], duration=1000.0, max_rate=40.0, seed=3)   # per-sample streams
    np.testing.assert_array_equal(s2.times, s.times[:s.ptr[5]])
    assert len(rate(np.zeros((3, 2)), seed=0).times) == 0


@pytest.mark.parametrize("X,kw,exc,msg", [
    (np.array([[1.5]]), {}, ValueError, "features must lie in"),
    (np.array([[np.nan]]), {}, ValueError, "features must lie in"),
    (np.array(["a"]), {}, TypeError, "X must be a real array"),
    (np.array([0.5]), {}, ValueError, "X must have shape"),
    (np.array([[0.5]]), {"t_min": 5.0, "t_max": 5.0}, ValueError, "t_max"),
    (np.array([[0.5]]), {"bias_time": -1.0}, ValueError, "bias_time"),
])
def test_latency_bad_input(X, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        latency(X, **kw)


def test_rate_bad_input():
    with pytest.raises(ValueError, match="duration"):
        rate(np.array([[0.5]]), duration=0.0)
    with pytest.raises(ValueError, match="max_rate"):
        rate(np.array([[0.5]]), max_rate=-1.0)
