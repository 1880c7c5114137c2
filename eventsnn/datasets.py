"""Small classification data sets for spike-time learning, generated offline.

* :func:`yin_yang` - the Yin-Yang data set of Kriener, Göltz & Petrovici (2022),
  "The Yin-Yang dataset", Proc. NICE 2022, arXiv:2102.08211.  Points of the unit
  square inside a circle of radius 0.5 centred at (0.5, 0.5), classed as yin, yang or
  dot (dots of radius 0.1 at (0.25, 0.5) and (0.75, 0.5)).  The generator reproduces the
  published splits exactly (sha256 regression values in the tests).
* :func:`yin_yang_splits` - the published train (5000, seed 42), validation (1000,
  seed 41) and test (1000, seed 40) sets.
* :func:`digits` - scikit-learn's 8x8 handwritten digits (1797 images, shipped inside
  scikit-learn; an optional extra: ``pip install "eventsnn[digits]"``).
* :func:`mnist1d` - MNIST-1D (Greydanus & Kobak 2024, "Scaling down deep learning with
  MNIST-1D", ICML, arXiv:2011.14439): 5000 one-dimensional signals of length 40 in 10
  classes, generated offline by the ``mnist1d`` package (an optional extra:
  ``pip install "eventsnn[mnist1d]"``).
"""
from __future__ import annotations

import math

import numpy as np

from ._validate import integer

__all__ = ["yin_yang", "yin_yang_splits", "digits", "mnist1d"]

_R_BIG = 0.5     # radius of the big circle (unit square coordinates)
_R_SMALL = 0.1   # radius of the two dots


def _yy_class(x, y):
    """Class of a point inside the big circle: 0 yin, 1 yang, 2 dot.

    The same comparisons as the published generator (the dot test is strict, the yin
    test uses <=), so points on a boundary get the published class."""
    d_right = math.sqrt((x - 1.5 * _R_BIG) ** 2 + (y - _R_BIG) ** 2)
    d_left = math.sqrt((x - 0.5 * _R_BIG) ** 2 + (y - _R_BIG) ** 2)
    if d_right < _R_SMALL or d_left < _R_SMALL:
        return 2
    yin = (d_right <= _R_SMALL
           or (_R_SMALL < d_left <= 0.5 * _R_BIG)
           or (y > _R_BIG and d_right > 0.5 * _R_BIG))
    return 1 if yin else 0


def yin_yang(n: int, seed: int):
    """Generate ``n`` Yin-Yang samples with numpy's legacy ``RandomState(seed)``.

    For every sample the goal class is drawn with ``randint(3)``, then points
    ``rand(2)`` are drawn until one lies inside the big circle and has the goal class
    (rejection sampling keeps the classes balanced).

    Parameters
    ----------
    n : int
        Number of samples, >= 1.
    seed : int
        Seed of the legacy ``np.random.RandomState``, in [0, 2**32).

    Returns
    -------
    X : ndarray, shape (n, 4), float64
        Features (x, y, 1 - x, 1 - y), each in [0, 1] (dimensionless).
    y : ndarray, shape (n,), int64
        Class labels: 0 yin, 1 yang, 2 dot.
    """
    n = integer("n", n, lo=1)
    seed = integer("seed", seed, lo=0, hi=2**32 - 1)
    rng = np.random.RandomState(seed)
    X = np.empty((n, 4), np.float64)
    lab = np.empty(n, np.int64)
    for i in range(n):   # sequential by nature: every draw depends on the previous ones
        goal = rng.randint(3)
        while True:
            x, y = rng.rand(2) * (2.0 * _R_BIG)
            if math.sqrt((x - _R_BIG) ** 2 + (y - _R_BIG) ** 2) > _R_BIG:
                continue
            c = _yy_class(x, y)
            if c == goal:
                break
        X[i] = (x, y, 1.0 - x, 1.0 - y)
        lab[i] = c
    return X, lab


def yin_yang_splits():
    """The published splits: ``{"train": (X, y), "validation": (X, y), "test": (X, y)}``
    with 5000 (seed 42), 1000 (seed 41) and 1000 (seed 40) samples."""
    return {"train": yin_yang(5000, 42), "validation": yin_yang(1000, 41), "test": yin_yang(1000, 40)}


def digits(test_fraction: float = 0.25, seed: int = 0):
    """scikit-learn's 8x8 digits, scaled to [0, 1] and split into train and test sets.

    Needs scikit-learn (``pip install "eventsnn[digits]"``); imported only here.

    Parameters
    ----------
    test_fraction : float
        Fraction of the 1797 images held out for testing, in (0, 1).
    seed : int
        Seed of the stratified shuffle (``np.random.default_rng``), >= 0.

    Returns
    -------
    dict
        ``{"train": (X, y), "test": (X, y)}`` with X of shape (n, 64), float64 pixel
        intensities in [0, 1] (the 0..16 gray levels divided by 16), y int64 in 0..9.
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or \
            not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction={test_fraction!r} is not allowed; it must be a number in (0, 1)")
    seed = integer("seed", seed, lo=0)
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("eventsnn.datasets.digits needs scikit-learn: pip install 'eventsnn[digits]'") from e
    d = load_digits()
    X = d.data.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for c in range(10):   # stratified: the same fraction of every class is held out
        idx = np.nonzero(y == c)[0]
        rng.shuffle(idx)
        test[idx[:int(round(test_fraction * len(idx)))]] = True
    return {"train": (X[~test], y[~test]), "test": (X[test], y[test])}


def mnist1d(seed: int = 42):
    """MNIST-1D, generated offline with the ``mnist1d`` package's generator and its
    default arguments (``make_dataset(get_dataset_args())``: 4000 training and 1000
    test signals of length 40, 10 balanced classes), scaled to [0, 1].

    The package's ``get_dataset()`` downloads a pickle; this function never touches the
    network.  Needs ``mnist1d`` (``pip install "eventsnn[mnist1d]"``); imported only
    here.  The generator seeds Python's and NumPy's global random generators; their
    states are restored afterwards.

    Parameters
    ----------
    seed : int
        Seed of the generator (``args.seed``), in [0, 2**32).  The default 42 is the
        package's own default, the standard MNIST-1D data set.

    Returns
    -------
    dict
        ``{"train": (X, y), "test": (X, y)}`` with X of shape (n, 40), float64 in [0, 1]
        (the generator's standardised signals mapped by one affine map, (x - min) /
        (max - min) with min and max over the whole data set, train and test), y int64
        in 0..9.
    """
    seed = integer("seed", seed, lo=0, hi=2**32 - 1)
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("eventsnn.datasets.mnist1d needs mnist1d: pip install 'eventsnn[mnist1d]'") from e
    import random
    py_state = random.getstate()
    np_state = np.random.get_state()
    try:
        args = get_dataset_args()
        args.seed = seed
        d = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    Xtr = np.asarray(d["x"], np.float64)
    Xte = np.asarray(d["x_test"], np.float64)
    lo = min(Xtr.min(), Xte.min())
    hi = max(Xtr.max(), Xte.max())
    span = hi - lo if hi > lo else 1.0
    return {"train": ((Xtr - lo) / span, np.asarray(d["y"], np.int64)),
            "test": ((Xte - lo) / span, np.asarray(d["y_test"], np.int64))}
