"""Explicit constructors: a CSR from a dense matrix, pair lists or scipy.sparse (see
``eventsnn.connectivity``)."""
from __future__ import annotations

import numpy as np

from .._dtypes import ID, PTR, TIME, WEIGHT
from .._validate import real
from .csr import (CSR, _as_int_array, _as_real_array, _check_size, _explicit_delays, _first_outside,
                  _group_by_row, _is_scalar, _raise_bad_delay, _raise_nonfinite)

# --------------------------------------------------------------------------
# Explicit constructors
# --------------------------------------------------------------------------
def from_dense(W, delays=None):
    """Projection from a dense weight matrix.

    Parameters
    ----------
    W : array_like of real, shape (n_pre, n_post)
        Weights in mV; every nonzero entry becomes a synapse.  Must be finite.
    delays : None, float or array_like of shape (n_pre, n_post), optional
        Delays in ms.  None: no per-synapse delays (``CSR.delays is None``).
        A scalar is broadcast to every synapse (pass None and keep the
        scalar yourself to save the per-synapse storage).  A matrix is read
        at the nonzero positions of ``W`` only; there it must be finite and
        > 0.

    Returns
    -------
    CSR
        Rows sorted by target id.
    """
    A = np.asarray(W)
    if A.dtype.kind not in "iuf":
        raise TypeError(f"W must be a real (integer or floating) array, "
                        f"got dtype {A.dtype}")
    if A.ndim != 2:
        raise ValueError(f"W must be 2-D, got an array of shape {A.shape}")
    n_pre, n_post = A.shape
    _check_size(n_pre, "W.shape[0]")
    _check_size(n_post, "W.shape[1]")
    if A.dtype.kind == "f" and not np.isfinite(A).all():
        r, c = np.argwhere(~np.isfinite(A))[0]
        raise ValueError(f"W must be finite, got {A[r, c]!r} at W[{r}, {c}]")
    D = None
    if delays is not None and not _is_scalar(delays):
        D = np.asarray(delays)
        if D.dtype.kind not in "iuf":
            raise TypeError(f"delays must be a real array, got dtype {D.dtype}")
        if D.shape != A.shape:
            raise ValueError(f"delays must be a scalar or have W's shape "
                             f"{A.shape}, got shape {D.shape}")
    rows, cols = np.nonzero(A)
    nnz = rows.shape[0]
    indptr = np.zeros(n_pre + 1, dtype=PTR)
    np.cumsum(np.count_nonzero(A, axis=1), out=indptr[1:])
    weights = A[rows, cols]
    if weights.dtype != np.float32:
        weights = weights.astype(WEIGHT)
    if D is not None:
        d = D[rows, cols].astype(TIME)
    else:
        d = _explicit_delays(delays, nnz)
    return CSR(indptr, cols.astype(ID), weights, d, n_post=n_post)


def from_lists(pre, post, weight, delay=None, *, n_pre, n_post):
    """Projection from lists of synapses.

    Parameters
    ----------
    pre, post : array_like of int, shape (nnz,)
        Presynaptic ids in ``[0, n_pre)`` and postsynaptic ids in
        ``[0, n_post)``.
    weight : float or array_like of shape (nnz,)
        Weights in mV (finite); float32 arrays stay float32.
    delay : None, float or array_like of shape (nnz,), optional
        Delays in ms (finite, > 0).  None: ``CSR.delays is None``.  A scalar
        is broadcast to every synapse.
    n_pre, n_post : int
        Population sizes (keyword only).

    Returns
    -------
    CSR
        Synapses stably sorted by ``pre`` (a row keeps the input order of its
        synapses); duplicates are kept as multapses.
    """
    n_pre = _check_size(n_pre, "n_pre")
    n_post = _check_size(n_post, "n_post")
    pre = _as_int_array(pre, "pre")
    post = _as_int_array(post, "post")
    nnz = pre.shape[0]
    if post.shape[0] != nnz:
        raise ValueError(f"post must have the length of pre ({nnz}), got length "
                         f"{post.shape[0]}")
    t = _first_outside(pre, 0, n_pre)
    if t >= 0:
        raise ValueError(f"pre must lie in [0, n_pre) = [0, {n_pre}), got "
                         f"{int(pre[t])} at position {t}")
    t = _first_outside(post, 0, n_post)
    if t >= 0:
        raise ValueError(f"post must lie in [0, n_post) = [0, {n_post}), got "
                         f"{int(post[t])} at position {t}")
    if _is_scalar(weight):
        w = real("weight", weight.item() if isinstance(weight, np.ndarray) else weight, finite=False)
        if not np.isfinite(w):
            raise ValueError(f"weight must be finite, got {w!r}")
        w = np.full(nnz, w, dtype=WEIGHT)
    else:
        w = _as_real_array(weight, "weight", keep_float32=True)
        if w.shape[0] != nnz:
            raise ValueError(f"weight must be a scalar or have the length of pre "
                             f"({nnz}), got length {w.shape[0]}")
        _raise_nonfinite(w, "weight")
    d = _explicit_delays(delay, nnz, "delay")
    if d is not None:
        _raise_bad_delay(d, "delay")

    counts = np.zeros(n_pre + 1, dtype=PTR)
    if nnz:
        np.cumsum(np.bincount(pre, minlength=n_pre), out=counts[1:])
    indptr = counts
    out_i = np.empty(nnz, dtype=ID)
    out_w = np.empty(nnz, dtype=w.dtype)
    out_d = np.empty(nnz if d is not None else 0, dtype=TIME)
    _group_by_row(pre, post, w, d if d is not None else out_d, d is not None,
                  indptr, out_i, out_w, out_d)
    return CSR(indptr, out_i, out_w, out_d if d is not None else None,
               n_post=n_post, check="none")


def from_scipy(M, delays=None):
    """Projection from a scipy.sparse matrix or array of weights.

    Parameters
    ----------
    M : scipy.sparse matrix or array, shape (n_pre, n_post)
        Weights in mV.  Every *stored* entry becomes a synapse: explicitly
        stored zeros are kept as zero-weight synapses and duplicate entries
        (e.g. of a COO matrix) as multapses; call ``M.eliminate_zeros()`` /
        ``M.sum_duplicates()`` first if that is not wanted.  (BSR matrices
        store whole blocks, so their zero block entries become synapses.)
    delays : None, float, scipy.sparse or array_like, optional
        Delays in ms.  None: ``CSR.delays is None``; a scalar is broadcast to
        every synapse; a sparse matrix must have the same shape and the same
        stored pattern, in the same order, as ``M``; a 1-D array gives one
        delay per stored entry of ``M`` in M's storage order
        (``M.tocoo()`` order).

    Returns
    -------
    CSR
        Within a row, synapses keep their storage order in ``M``.
    """
    import scipy.sparse as sp
    if not sp.issparse(M):
        raise TypeError(f"M must be a scipy.sparse matrix or array, got "
                        f"{type(M).__name__}")
    if M.dtype.kind not in "iuf":
        raise TypeError(f"M must have a real dtype, got {M.dtype}")
    n_pre, n_post = M.shape
    C = M.tocoo()
    d = None
    if delays is not None:
        if sp.issparse(delays):
            if delays.shape != M.shape:
                raise ValueError(f"delays must have M's shape {M.shape}, got "
                                 f"{delays.shape}")
            if delays.dtype.kind not in "iuf":
                raise TypeError(f"delays must have a real dtype, got {delays.dtype}")
            Dc = delays.tocoo()
            if (Dc.nnz != C.nnz or not np.array_equal(Dc.row, C.row)
                    or not np.array_equal(Dc.col, C.col)):
                raise ValueError("delays must have the same stored pattern as M "
                                 "(same positions in the same order)")
            d = Dc.data
        elif not _is_scalar(delays):
            d = _as_real_array(delays, "delays", keep_float32=False)
            if d.shape[0] != C.nnz:
                raise ValueError(f"delays must have one entry per stored entry of "
                                 f"M ({C.nnz}), got length {d.shape[0]}")
        else:
            d = delays
    w = C.data
    if w.dtype != np.float32:
        w = w.astype(WEIGHT)
    try:
        return from_lists(C.row, C.col, w, d, n_pre=n_pre, n_post=n_post)
    except ValueError as e:
        msg = str(e)
        if msg.startswith("weight"):
            raise ValueError("M: " + msg) from None
        if msg.startswith("delay") and not msg.startswith("delays"):
            raise ValueError("delays: " + msg) from None
        raise
