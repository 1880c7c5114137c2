"""Yin-Yang generator: the published splits, bit for bit; digits loader (optional)."""
import hashlib
import math

import numpy as np
import pytest

from eventsnn.datasets import _yy_class, digits, mnist1d, yin_yang, yin_yang_splits


def _h(X):
    return hashlib.sha256(np.ascontiguousarray(X, dtype="<f8").tobytes()).hexdigest()[:16]


def test_published_splits_hashes():
    s = yin_yang_splits()
    assert _h(s["train"][0]) == "f5a4054d56f2a058"
    assert _h(s["validation"][0]) == "5eac358bdf212276"
    assert _h(s["test"][0]) == "7bab3ed668ed4992"
    assert np.bincount(s["train"][1]).tolist() == [1681, 1702, 1617]
    assert [len(s[k][1]) for k in ("train", "validation", "test")] == [5000, 1000, 1000]


def test_features_and_classes_are_consistent():
    X, y = yin_yang(500, 7)
    assert X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X[:, 2], 1.0 - X[:, 0])
    np.testing.assert_array_equal(X[:, 3], 1.0 - X[:, 1])
    r = np.hypot(X[:, 0] - 0.5, X[:, 1] - 0.5)
    assert (r <= 0.5).all()
    assert all(_yy_class(a, b) == c for (a, b), c in zip(X[:, :2], y))
    # the dots are class 2, the centres of the two dots
    assert _yy_class(0.25, 0.5) == 2 and _yy_class(0.75, 0.5) == 2
    # upper half far from the right dot is yin (1); lower half far from both is yang (0)
    assert _yy_class(0.5, 0.9) == 1 and _yy_class(0.5, 0.1) == 0


def test_deterministic_and_prefix_stable():
    a, ya = yin_yang(50, 3)
    b, yb = yin_yang(100, 3)
    np.testing.assert_array_equal(a, b[:50])
    np.testing.assert_array_equal(ya, yb[:50])


@pytest.mark.parametrize("kw,exc", [({"n": 0, "seed": 1}, ValueError), ({"n": 2.5, "seed": 1}, TypeError),
                                    ({"n": 3, "seed": -1}, ValueError), ({"n": 3, "seed": 2**32}, ValueError)])
def test_bad_input(kw, exc):
    with pytest.raises(exc, match="n=|seed=|n must|seed must"):
        yin_yang(**kw)


def test_digits_optional():
    pytest.importorskip("sklearn")
    d = digits(test_fraction=0.25, seed=0)
    Xtr, ytr = d["train"]
    Xte, yte = d["test"]
    assert Xtr.shape[1] == 64 and len(ytr) + len(yte) == 1797
    assert 0.0 <= Xtr.min() and Xtr.max() <= 1.0
    assert math.isclose(len(yte) / 1797, 0.25, abs_tol=0.01)
    assert set(np.unique(yte)) == set(range(10))
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.5)


def test_mnist1d_optional():
    pytest.importorskip("mnist1d")
    state = np.random.get_state()
    d = mnist1d()
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]
    Xtr, ytr = d["train"]
    Xte, yte = d["test"]
    assert Xtr.shape == (4000, 40) and Xte.shape == (1000, 40)
    assert Xtr.dtype == np.float64 and ytr.dtype == np.int64
    lo = min(Xtr.min(), Xte.min())
    hi = max(Xtr.max(), Xte.max())
    assert lo == 0.0 and hi == 1.0
    assert set(np.unique(ytr)) == set(range(10)) and set(np.unique(yte)) == set(range(10))
    assert np.bincount(np.concatenate([ytr, yte])).tolist() == [500] * 10
    d2 = mnist1d()
    np.testing.assert_array_equal(d2["train"][0], Xtr)
    np.testing.assert_array_equal(d2["test"][1], yte)
    d3 = mnist1d(seed=1)
    assert not np.array_equal(d3["train"][0], Xtr)
    with pytest.raises(ValueError, match="seed"):
        mnist1d(seed=-1)
