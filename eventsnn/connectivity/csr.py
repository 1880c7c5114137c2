"""The CSR container of a projection, its validation, and weights and delays (see
``eventsnn.connectivity``)."""
from __future__ import annotations

import numpy as np
from numba import njit

from .._validate import check_memory, integer, real
from .._dtypes import ID, PTR, TIME, WEIGHT

#: largest population size: ids are stored as int32
MAX_NEURONS = int(np.iinfo(ID).max)
_CHECK_MODES = ("none", "structure", "full")



# --------------------------------------------------------------------------
# Numba kernels: validation
# --------------------------------------------------------------------------
@njit(cache=True)
def _first_decrease(indptr):
    """Index i of the first ``indptr[i+1] < indptr[i]``, or -1."""
    for i in range(indptr.shape[0] - 1):
        if indptr[i + 1] < indptr[i]:
            return i
    return -1


@njit(cache=True)
def _first_outside(a, lo, hi):
    """Index of the first entry of ``a`` outside ``[lo, hi)``, or -1."""
    for t in range(a.shape[0]):
        v = a[t]
        if v < lo or v >= hi:
            return t
    return -1


@njit(cache=True)
def _first_nonfinite(a):
    """Index of the first NaN/inf entry of ``a``, or -1."""
    for t in range(a.shape[0]):
        if not np.isfinite(a[t]):
            return t
    return -1


@njit(cache=True)
def _first_bad_delay(a):
    """Index of the first entry that is not finite and > 0, or -1."""
    for t in range(a.shape[0]):
        v = a[t]
        if not (v > 0.0 and v < np.inf):
            return t
    return -1


# --------------------------------------------------------------------------
# Numba kernels: row operations
# --------------------------------------------------------------------------
@njit(cache=True)
def _sort_rows_by_delay(indptr, indices, weights, delays, out_i, out_w, out_d):
    """Stable per-row sort of the synapses by delay, into the ``out_*`` arrays."""
    for r in range(indptr.shape[0] - 1):
        a = indptr[r]
        b = indptr[r + 1]
        ordered = True
        for t in range(a + 1, b):
            if delays[t] < delays[t - 1]:
                ordered = False
                break
        if ordered:
            for t in range(a, b):
                out_i[t] = indices[t]
                out_w[t] = weights[t]
                out_d[t] = delays[t]
        else:
            order = np.argsort(delays[a:b], kind="mergesort")
            for t in range(b - a):
                s = a + order[t]
                out_i[a + t] = indices[s]
                out_w[a + t] = weights[s]
                out_d[a + t] = delays[s]


@njit(cache=True)
def _group_by_row(pre, post, weight, delay, has_delay, indptr, out_i, out_w, out_d):
    """Stable counting sort of synapse lists by presynaptic id.

    ``indptr`` must already hold the row pointers (cumulative counts).
    """
    n_pre = indptr.shape[0] - 1
    pos = indptr[:n_pre].copy()
    for t in range(pre.shape[0]):
        r = pre[t]
        q = pos[r]
        out_i[q] = post[t]
        out_w[q] = weight[t]
        if has_delay:
            out_d[q] = delay[t]
        pos[r] = q + 1



# --------------------------------------------------------------------------
# Input validation helpers (Python layer, never loops over synapses)
# --------------------------------------------------------------------------
def _check_seed(seed):
    return integer("seed", seed, lo=0, hi=2**32 - 1)


def _check_size(n, name):
    return integer(name, n, lo=0, hi=MAX_NEURONS)


def _as_int_array(x, name):
    """1-D integer array (int32/int64 kept as is, other ints -> int64).

    Floats are accepted only when every value is integral; bool, complex and
    non-numeric input raise TypeError.
    """
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {a.shape}")
    kind = a.dtype.kind
    if kind in "iu":
        if a.dtype == np.int32 or a.dtype == np.int64:
            return a
        return a.astype(np.int64)
    if kind == "f":
        bad = ~np.isfinite(a)
        bad |= a != np.trunc(np.where(bad, 0.0, a))
        bad |= np.abs(np.where(bad, 0.0, a)) >= 2.0**62
        if bad.any():
            t = int(np.argmax(bad))
            raise TypeError(f"{name} must hold integers, got non-integer "
                            f"value {a[t]!r} at position {t}")
        return a.astype(np.int64)
    raise TypeError(f"{name} must be an integer array, got dtype {a.dtype}")


def _as_real_array(x, name, *, keep_float32):
    """1-D float64 array (float32 kept if ``keep_float32``)."""
    a = np.asarray(x)
    kind = a.dtype.kind
    if kind == "f":
        if not (a.dtype == np.float64 or (keep_float32 and a.dtype == np.float32)):
            a = a.astype(np.float64)
    elif kind in "iu":
        a = a.astype(np.float64)
    else:
        raise TypeError(f"{name} must be a real (integer or floating) array, "
                        f"got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {a.shape}")
    return a


def _raise_nonfinite(a, name):
    t = _first_nonfinite(a)
    if t >= 0:
        raise ValueError(f"{name} must be finite, got {a[t]!r} at synapse {t}")


def _raise_bad_delay(a, name):
    t = _first_bad_delay(a)
    if t >= 0:
        raise ValueError(f"{name} must be finite and > 0 ms, got {a[t]!r} "
                         f"at synapse {t}")


def _is_scalar(x):
    return np.ndim(x) == 0 and not hasattr(x, "tocsr")


# --------------------------------------------------------------------------
# CSR
# --------------------------------------------------------------------------
class CSR:
    """Outgoing synapses of one projection, row i = synapses of presynaptic neuron i (local ids).

    Parameters
    ----------
    indptr : array_like of int, shape (n_pre + 1,)
        Row pointers: the synapses of presynaptic neuron ``i`` are
        ``indptr[i]:indptr[i+1]``.  Stored as int64.
    indices : array_like of int, shape (nnz,)
        Local postsynaptic (target) ids, in ``[0, n_post)``.  Stored as int32.
        Rows need not be sorted and may repeat a target (multapses).
    weights : array_like of float, shape (nnz,)
        Synaptic weights in mV, finite.  Stored as float64, or float32 if a
        float32 array is given.
    delays : array_like of float, shape (nnz,), optional
        Per-synapse transmission delays in ms, finite and > 0, stored as
        float64.  ``None`` (default) when the projection has one homogeneous
        delay that the caller stores as a scalar.
    n_post : int
        Size of the postsynaptic population (keyword only).
    check : {"structure", "full", "none"}
        ``"structure"`` (default) validates everything: the O(n_pre)
        row-pointer checks, and single compiled O(nnz) passes (no temporary
        arrays) for the target range, weight finiteness and delay
        positivity/finiteness; these value checks are cheap (well under a
        second for 1e8 synapses) so they always run.  ``"full"`` is accepted
        and currently identical.  ``"none"`` is for trusted input from this
        module's builders: only the O(1) shape and length checks run.

    Attributes
    ----------
    indptr : ndarray of int64
    indices : ndarray of int32
    weights : ndarray of float64 or float32
        mV.
    delays : ndarray of float64 or None
        ms.
    n_pre, n_post : int

    Raises
    ------
    TypeError
        Non-integer ``indptr``/``indices`` (floats are accepted only if every
        value is integral), non-real weights or delays (complex, bool, object),
        non-integer ``n_post`` or unknown type of ``check``.
    ValueError
        Any violated invariant; the message names the argument and the value.

    Notes
    -----
    Arrays already of the stored dtype are not copied: the CSR shares memory
    with the caller's arrays.
    """

    __slots__ = ("indptr", "indices", "weights", "delays", "n_pre", "n_post")

    def __init__(self, indptr, indices, weights, delays=None, *, n_post,
                 check="structure"):
        if not isinstance(check, str) or check not in _CHECK_MODES:
            raise ValueError(f"check must be one of {_CHECK_MODES}, got {check!r}")
        n_post = _check_size(n_post, "n_post")
        indptr = _as_int_array(indptr, "indptr")
        indices = _as_int_array(indices, "indices")
        weights = _as_real_array(weights, "weights", keep_float32=True)
        if delays is not None:
            delays = _as_real_array(delays, "delays", keep_float32=False)

        # O(1) checks, always
        if indptr.shape[0] < 1:
            raise ValueError("indptr must have length n_pre + 1 >= 1, got length 0")
        if indptr.shape[0] - 1 > MAX_NEURONS:
            raise ValueError(f"indptr has length {indptr.shape[0]}, i.e. n_pre > "
                             f"{MAX_NEURONS}; ids are int32")
        nnz = indices.shape[0]
        if int(indptr[0]) != 0:
            raise ValueError(f"indptr[0] must be 0, got {int(indptr[0])}")
        if int(indptr[-1]) != nnz:
            raise ValueError(f"indptr[-1] must equal len(indices) = {nnz}, "
                             f"got {int(indptr[-1])}")
        if weights.shape[0] != nnz:
            raise ValueError(f"weights must have length len(indices) = {nnz}, "
                             f"got length {weights.shape[0]}")
        if delays is not None and delays.shape[0] != nnz:
            raise ValueError(f"delays must have length len(indices) = {nnz}, "
                             f"got length {delays.shape[0]}")

        if check != "none":
            i = _first_decrease(indptr)
            if i >= 0:
                raise ValueError(f"indptr must be non-decreasing, got indptr[{i}] = "
                                 f"{int(indptr[i])} > indptr[{i + 1}] = "
                                 f"{int(indptr[i + 1])}")
            t = _first_outside(indices, 0, n_post)
            if t >= 0:
                raise ValueError(f"indices must lie in [0, n_post) = [0, {n_post}), "
                                 f"got {int(indices[t])} at synapse {t}")
            _raise_nonfinite(weights, "weights")
            if delays is not None:
                _raise_bad_delay(delays, "delays")

        # all checks passed: convert (range already checked, cast is safe)
        self.indptr = indptr.astype(PTR, copy=False)
        self.indices = indices.astype(ID, copy=False)
        self.weights = weights
        self.delays = None if delays is None else delays.astype(TIME, copy=False)
        self.n_pre = int(indptr.shape[0] - 1)
        self.n_post = n_post

    # ------------------------------------------------------------------
    @property
    def nnz(self):
        """Number of synapses."""
        return int(self.indices.shape[0])

    @property
    def nbytes(self):
        """Bytes held by all arrays (indptr, indices, weights, delays)."""
        n = self.indptr.nbytes + self.indices.nbytes + self._weight_bytes()
        if self.delays is not None:
            n += self.delays.nbytes
        return int(n)

    def _weight_bytes(self):
        """Bytes the weights hold: one item for a shared weight."""
        return self.weights.itemsize if is_shared(self.weights) else self.weights.nbytes

    @property
    def bytes_per_synapse(self):
        """Per-synapse storage in bytes, excluding ``indptr``.

        ``(indices + weights + delays).nbytes / nnz``: 12 for float64 weights
        without delays, 8 with float32 weights, 20 with float64 weights and
        delays, 4 with one shared weight (``is_shared``) and no delays.  Computed
        from item sizes, so it is defined for ``nnz == 0``.
        """
        b = self.indices.itemsize + (0 if is_shared(self.weights) else self.weights.itemsize)
        if self.delays is not None:
            b += self.delays.itemsize
        return float(b)

    def out_degree(self):
        """Number of outgoing synapses of every presynaptic neuron (int64 array)."""
        return np.diff(self.indptr)

    def __repr__(self):
        d = "per-synapse" if self.delays is not None else "homogeneous"
        w = f"{self.weights.dtype}" + (" shared" if is_shared(self.weights) else "")
        return (f"CSR(n_pre={self.n_pre}, n_post={self.n_post}, nnz={self.nnz}, "
                f"weights={w}, delays={d})")

    # ------------------------------------------------------------------
    def sort_by_delay(self):
        """Return a CSR whose rows are stably sorted by delay.

        Synapses of equal delay form contiguous groups within a row and keep
        their relative (target) order.  Without per-synapse delays all delays
        are equal and ``self`` is returned unchanged.

        Returns
        -------
        CSR
            A new CSR with new arrays (``indptr`` is shared).
        """
        if self.delays is None:
            return self
        out_i = np.empty_like(self.indices)
        shared = is_shared(self.weights)
        w = np.zeros(self.nnz, self.weights.dtype) if shared else self.weights
        out_w = np.empty_like(w)
        out_d = np.empty_like(self.delays)
        _sort_rows_by_delay(self.indptr, self.indices, w, self.delays,
                            out_i, out_w, out_d)
        return CSR(self.indptr, out_i, self.weights if shared else out_w, out_d,
                   n_post=self.n_post, check="none")

    def to_scipy(self):
        """Weights as a ``scipy.sparse.csr_matrix`` of shape (n_pre, n_post), mV.

        Duplicate synapses (multapses) are kept as separate stored entries,
        in this CSR's order; call ``.sum_duplicates()`` on the result to merge
        them into one summed weight.  Arrays are copied.
        """
        import scipy.sparse as sp
        return sp.csr_matrix((self.weights.copy(), self.indices.copy(),
                              self.indptr.copy()),
                             shape=(self.n_pre, self.n_post))

    def delays_to_scipy(self):
        """Per-synapse delays as a ``scipy.sparse.csr_matrix`` (ms).

        Same structure and duplicate handling as :meth:`to_scipy`
        (summing duplicates of delays is rarely meaningful).

        Raises
        ------
        ValueError
            If ``delays`` is None (homogeneous delay kept by the caller).
        """
        if self.delays is None:
            raise ValueError("delays is None: this CSR has no per-synapse delays "
                             "(the projection's delay is homogeneous)")
        import scipy.sparse as sp
        return sp.csr_matrix((self.delays.copy(), self.indices.copy(),
                              self.indptr.copy()),
                             shape=(self.n_pre, self.n_post))


# --------------------------------------------------------------------------
# Weights and delays
# --------------------------------------------------------------------------
def _spec_array(spec, nnz, seed, name, keep_float32, dtype):
    """Array from an array spec or a callable spec (rng, size) -> array."""
    if callable(spec):
        seed = _check_seed(seed)
        spec = spec(np.random.default_rng(seed), nnz)
    a = _as_real_array(spec, name, keep_float32=keep_float32)
    if a.shape[0] != nnz:
        raise ValueError(f"{name} must have length nnz = {nnz}, got length "
                         f"{a.shape[0]}")
    out = a.astype(dtype, copy=False)
    if isinstance(spec, np.ndarray) and np.shares_memory(out, spec):
        # the network owns its arrays (plasticity and set_weights write into them);
        # never alias the caller's array
        out = out.copy()
    return out


def _check_weight_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float64 or float32, got {dtype!r}") from None
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise TypeError(f"dtype must be float64 or float32, got {dt}")
    return dt


def make_weights(spec, nnz, seed=0, dtype=WEIGHT):
    """Per-synapse weight array (mV).

    Parameters
    ----------
    spec : float, array_like or callable
        A real scalar (broadcast to every synapse), an array of length
        ``nnz`` in CSR synapse order, or a callable ``spec(rng, nnz)``
        returning such an array, called with
        ``numpy.random.default_rng(seed)``.
    nnz : int
        Number of synapses, >= 0.
    seed : int
        Seed for a callable spec, 0 <= seed < 2**32.
    dtype : {numpy.float64, numpy.float32}

    Returns
    -------
    ndarray of shape (nnz,), finite.
    """
    nnz = integer("nnz", nnz, lo=0)
    dt = _check_weight_dtype(dtype)
    check_memory("nnz", nnz, nnz * np.dtype(dt).itemsize, f"{nnz} weights")
    if _is_scalar(spec) and not callable(spec):
        w = real("weight", spec.item() if isinstance(spec, np.ndarray) else spec, finite=False)
        if not np.isfinite(w):
            raise ValueError(f"weight must be finite, got {w!r}")
        return np.full(nnz, w, dtype=dt)
    a = _spec_array(spec, nnz, seed, "weight", dt == np.float32, dt)
    _raise_nonfinite(a, "weight")
    return a


def make_delays(spec, nnz, seed=0):
    """Per-synapse delay array (ms), or None for a homogeneous delay.

    Parameters
    ----------
    spec : float, array_like or callable
        A real scalar: validated (finite, > 0) and ``None`` is returned, so
        that a homogeneous delay costs no per-synapse storage (the caller
        keeps the scalar).  Otherwise an array of length ``nnz`` in CSR
        synapse order, or a callable ``spec(rng, nnz)`` as in
        :func:`make_weights`.
    nnz : int
        Number of synapses, >= 0.
    seed : int
        Seed for a callable spec.

    Returns
    -------
    ndarray of float64, shape (nnz,), or None
    """
    nnz = integer("nnz", nnz, lo=0)
    if _is_scalar(spec) and not callable(spec):
        d = real("delay", spec.item() if isinstance(spec, np.ndarray) else spec, finite=False)
        if not (d > 0.0 and np.isfinite(d)):
            raise ValueError(f"delay must be finite and > 0 ms, got {d!r}")
        return None
    a = _spec_array(spec, nnz, seed, "delay", False, TIME)
    _raise_bad_delay(a, "delay")
    return a


def _explicit_delays(delays, nnz, name="delays"):
    """Delays for the explicit constructors: None, scalar (broadcast) or array."""
    if delays is None:
        return None
    if _is_scalar(delays):
        d = real(name, delays.item() if isinstance(delays, np.ndarray) else delays, finite=False)
        if not (d > 0.0 and np.isfinite(d)):
            raise ValueError(f"{name} must be finite and > 0 ms, got {d!r}")
        return np.full(nnz, d, dtype=TIME)
    a = _as_real_array(delays, name, keep_float32=False)
    if a.shape[0] != nnz:
        raise ValueError(f"{name} must have length {nnz}, got length {a.shape[0]}")
    return a


def is_shared(weights) -> bool:
    """Whether a weight array is one weight shared by all synapses: a read-only view with
    stride 0 (``numpy.broadcast_to``), which costs no per-synapse storage."""
    return weights.ndim == 1 and weights.shape[0] > 1 and weights.strides[0] == 0


def _kernel_weights(weights):
    """(array, mask): the weights as the kernels read them, weight j of a row being
    ``array[j & mask]``.  A shared weight (``is_shared``) is a one-element array with
    mask 0; otherwise the weights themselves (a writable copy of a read-only array)
    with mask -1 (all bits set)."""
    if is_shared(weights):
        return np.array(weights[:1]), 0
    return (weights if weights.flags.writeable else np.array(weights)), -1


def shared_weights(weight, nnz, dtype=WEIGHT):
    """One weight (mV) shared by ``nnz`` synapses: a read-only array of length nnz that
    stores a single value (``is_shared``); a plain array for nnz <= 1."""
    dt = _check_weight_dtype(dtype)
    w = real("weight", weight.item() if isinstance(weight, np.ndarray) else weight, finite=False)
    if not np.isfinite(w):
        raise ValueError(f"weight must be finite, got {w!r}")
    nnz = integer("nnz", nnz, lo=0)
    if nnz <= 1:
        return np.full(nnz, w, dtype=dt)      # (nothing to share)
    return np.broadcast_to(np.array(w, dtype=dt), (nnz,))


