"""Synaptic connectivity: the CSR container, connection rules and constructors.

A projection from a presynaptic population of ``n_pre`` neurons to a
postsynaptic population of ``n_post`` neurons is stored as a :class:`CSR`
(compressed sparse rows): row ``i`` holds the outgoing synapses of presynaptic
neuron ``i`` (local ids).  Per synapse it stores the local target id
(``int32``), the weight (mV, ``float64`` or ``float32``) and optionally the
delay (ms, ``float64``); when every synapse of a projection has the same delay
the delay is kept by the caller as one scalar and ``CSR.delays`` is ``None``.

Structure is produced either by a *connection rule* (:func:`fixed_indegree`,
:func:`fixed_outdegree`, :func:`fixed_probability`, :func:`one_to_one`,
:func:`all_to_all`) whose ``build`` method returns ``(indptr, indices)``, or
by an explicit constructor (:func:`from_dense`, :func:`from_scipy`,
:func:`from_lists`) that returns a complete :class:`CSR`.  :func:`connect`
combines a rule with weights and delays.

Random rules are Numba-compiled and seeded: the same ``seed`` gives the same
structure.  They make two passes over the same seeded random stream (the
first counts the synapses of every row, the second regenerates the stream and
fills the rows), so no list of ``(pre, post)`` pairs is ever materialised and
the peak memory of a build is the final ``indices`` array plus O(n_pre +
n_post) work space.

Notes
-----
Building a rule reseeds Numba's global random generator (``np.random.seed``
inside compiled code); it does not touch NumPy's generator.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._validate import boolean, check_memory, integer, real
from ._dtypes import ID, PTR, TIME, WEIGHT

__all__ = [
    "CSR",
    "is_shared",
    "shared_weights",
    "ConnectionRule",
    "FixedIndegree",
    "FixedOutdegree",
    "FixedProbability",
    "OneToOne",
    "AllToAll",
    "fixed_indegree",
    "fixed_outdegree",
    "fixed_probability",
    "one_to_one",
    "all_to_all",
    "from_dense",
    "from_scipy",
    "from_lists",
    "make_weights",
    "make_delays",
    "connect",
]

#: largest population size: ids are stored as int32
MAX_NEURONS = int(np.iinfo(ID).max)
_INDEGREE_CHUNK = 1 << 22  # synapses buffered per flush in fixed_indegree
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
# Numba kernels: connection rules
# --------------------------------------------------------------------------
@njit(cache=True)
def _flush_by_source(src, post, nb, shift, bcount, tmp_src, tmp_post, fill, pos,
                     indices):
    """Apply ``nb`` buffered synapses (src, post) in a cache-friendly order.

    The buffer is first stably bucketed by ``src >> shift`` (a counting sort
    over <= 1024 buckets), so the subsequent updates of ``pos`` and writes to
    ``indices`` sweep memory in increasing order instead of jumping randomly.
    Stability keeps, for every source, the post ids in drawing order.
    """
    bcount[:] = 0
    for t in range(nb):
        bcount[(src[t] >> shift) + 1] += 1
    for b in range(1, bcount.shape[0]):
        bcount[b] += bcount[b - 1]
    for t in range(nb):
        b = src[t] >> shift
        q = bcount[b]
        tmp_src[q] = src[t]
        tmp_post[q] = post[t]
        bcount[b] = q + 1
    for t in range(nb):
        s = tmp_src[t]
        if fill:
            indices[pos[s]] = tmp_post[t]
        pos[s] += 1


@njit(cache=True)
def _indegree_pass(n_pre, n_post, k, excl_self, multapses, seed, fill, pos,
                   indices, mark, chunk):
    """One pass of fixed_indegree over the seeded random stream.

    ``fill=False``: ``pos[src] += 1`` for every drawn synapse (degree count).
    ``fill=True``: ``indices[pos[src]] = post; pos[src] += 1``.  Post ids are
    drawn in increasing order and applied in that order for every source, so
    every row comes out sorted.  Draws are buffered ``chunk`` synapses at a
    time (rounded to whole post neurons) and applied by
    :func:`_flush_by_source`.
    """
    np.random.seed(seed)
    m = n_pre - 1 if excl_self else n_pre
    sequential = (not multapses) and (2 * k > m)
    posts_per_chunk = max(1, chunk // k)
    size = posts_per_chunk * k
    src_buf = np.empty(size, dtype=np.int32)
    post_buf = np.empty(size, dtype=np.int32)
    tmp_src = np.empty(size, dtype=np.int32)
    tmp_post = np.empty(size, dtype=np.int32)
    shift = 0
    while ((n_pre - 1) >> shift) >= 1024:
        shift += 1
    bcount = np.zeros(((n_pre - 1) >> shift) + 2, dtype=np.int64)
    nb = 0
    for j in range(n_post):
        if nb + k > size:
            _flush_by_source(src_buf, post_buf, nb, shift, bcount, tmp_src,
                             tmp_post, fill, pos, indices)
            nb = 0
        if multapses:
            for _ in range(k):
                u = np.random.randint(0, m)
                src_buf[nb] = u + 1 if (excl_self and u >= j) else u
                post_buf[nb] = j
                nb += 1
        elif sequential:
            # selection sampling (Knuth's algorithm S), O(m) per post neuron
            need = k
            for t in range(m):
                if need == 0:
                    break
                if np.random.random() * (m - t) < need:
                    need -= 1
                    src_buf[nb] = t + 1 if (excl_self and t >= j) else t
                    post_buf[nb] = j
                    nb += 1
        else:
            # rejection against a stamp array, O(k) expected per post neuron
            stamp = j + 1
            c = 0
            while c < k:
                u = np.random.randint(0, m)
                src = u + 1 if (excl_self and u >= j) else u
                if mark[src] != stamp:
                    mark[src] = stamp
                    c += 1
                    src_buf[nb] = src
                    post_buf[nb] = j
                    nb += 1
    _flush_by_source(src_buf, post_buf, nb, shift, bcount, tmp_src, tmp_post,
                     fill, pos, indices)


@njit(cache=True)
def _outdegree_fill(n_pre, n_post, k, excl_self, multapses, seed, indices, mark):
    """Fill the rows of fixed_outdegree (row i = indices[i*k:(i+1)*k]), sorted."""
    np.random.seed(seed)
    m = n_post - 1 if excl_self else n_post
    sequential = (not multapses) and (2 * k > m)
    for i in range(n_pre):
        a = i * k
        if multapses:
            for c in range(k):
                u = np.random.randint(0, m)
                indices[a + c] = u + 1 if (excl_self and u >= i) else u
            indices[a:a + k].sort()
        elif sequential:
            need = k
            c = 0
            for t in range(m):
                if need == 0:
                    break
                if np.random.random() * (m - t) < need:
                    need -= 1
                    indices[a + c] = t + 1 if (excl_self and t >= i) else t
                    c += 1
        else:
            stamp = i + 1
            c = 0
            while c < k:
                u = np.random.randint(0, m)
                tgt = u + 1 if (excl_self and u >= i) else u
                if mark[tgt] != stamp:
                    mark[tgt] = stamp
                    indices[a + c] = tgt
                    c += 1
            indices[a:a + k].sort()


@njit(cache=True)
def _probability_pass(n_pre, n_post, p, excl_self, seed, fill, counts, indptr,
                      indices):
    """One pass of fixed_probability with geometric skipping (0 < p < 1).

    The gap to the next connected candidate is ``floor(log(U) / log(1 - p))``
    with U uniform on (0, 1], i.e. geometric; work is O(n_pre + nnz).
    """
    np.random.seed(seed)
    m = n_post - 1 if excl_self else n_post
    lq = np.log1p(-p)
    for i in range(n_pre):
        t = -1
        q = indptr[i] if fill else 0
        c = 0
        while True:
            u = 1.0 - np.random.random()
            s = np.floor(np.log(u) / lq)
            if t + 1.0 + s >= m:
                break
            t += 1 + np.int64(s)
            if fill:
                indices[q] = t + 1 if (excl_self and t >= i) else t
                q += 1
            else:
                c += 1
        if not fill:
            counts[i] = c


@njit(cache=True)
def _all_to_all_fill(n_pre, n_post, excl_self, indices):
    q = 0
    for i in range(n_pre):
        for j in range(n_post):
            if excl_self and j == i:
                continue
            indices[q] = j
            q += 1


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
# Connection rules
# --------------------------------------------------------------------------
class ConnectionRule(ABC):
    """Base class: a rule produces the structure ``(indptr, indices)`` of a projection."""

    def build(self, n_pre, n_post, seed=0, same_population=False):
        """Build the structure of a projection.

        Parameters
        ----------
        n_pre, n_post : int
            Sizes of the presynaptic and postsynaptic populations
            (0 <= n <= 2**31 - 1).
        seed : int
            Seed, 0 <= seed < 2**32; the same seed gives the same structure.
        same_population : bool
            True if pre and post are the same population (then
            ``n_pre == n_post`` is required and autapses ``i -> i`` are
            possible and governed by ``allow_autapses``).

        Returns
        -------
        indptr : ndarray of int64, shape (n_pre + 1,)
        indices : ndarray of int32, shape (nnz,)
            Local target ids; every row sorted ascending.
        """
        n_pre = _check_size(n_pre, "n_pre")
        n_post = _check_size(n_post, "n_post")
        seed = _check_seed(seed)
        same_population = boolean("same_population", same_population)
        if same_population and n_pre != n_post:
            raise ValueError(f"same_population=True requires n_pre == n_post, "
                             f"got n_pre={n_pre}, n_post={n_post}")
        nnz = self.expected_nnz(n_pre, n_post)
        check_memory("rule", self, 4 * nnz + 8 * (n_pre + 1),
                     f"about {nnz:.3g} synapses between {n_pre} and {n_post} neurons (4 bytes each)")
        return self._build(n_pre, n_post, seed, same_population)

    @abstractmethod
    def _build(self, n_pre, n_post, seed, same_population):
        """Rule-specific structure; arguments already validated (see ``build``)."""

    @abstractmethod
    def expected_nnz(self, n_pre, n_post) -> float:
        """The number of synapses the rule makes (its mean for a random count), to
        estimate the memory of a build before it starts."""


def _excl_self(rule, same_population):
    return same_population and not rule.allow_autapses


@dataclass(frozen=True)
class _FixedDegree(ConnectionRule):
    """Shared part of the fixed in-/out-degree rules: k draws per row (or column)."""

    k: int
    allow_autapses: bool = True
    allow_multapses: bool = True

    def __post_init__(self):
        object.__setattr__(self, "k", integer("k", self.k, lo=0))
        boolean("allow_autapses", self.allow_autapses)
        boolean("allow_multapses", self.allow_multapses)

    def _candidates(self, n_cand, n_draws, name, what, same_population):
        """(exclude self, number of candidates) for ``n_draws`` rows of k draws each
        among ``n_cand`` neurons (``name`` = 'n_pre' or 'n_post', ``what`` = 'sources'
        or 'targets'); ValueError if the draws are impossible."""
        k = self.k
        excl = _excl_self(self, same_population)
        m = n_cand - 1 if excl else n_cand
        if n_draws > 0 and k > 0:
            if m <= 0:
                raise ValueError(f"k={k} {what} requested but there are no "
                                 f"candidate {what} ({name}={n_cand}"
                                 f"{', autapses excluded' if excl else ''})")
            if not self.allow_multapses and k > m:
                raise ValueError(f"k={k} exceeds the {m} candidate {what}; "
                                 f"allowed without multapses: k <= {m}")
        return excl, m


@dataclass(frozen=True)
class FixedIndegree(_FixedDegree):
    """Every postsynaptic neuron receives exactly ``k`` synapses.

    Sources are drawn uniformly from the candidates (all presynaptic
    neurons, minus the neuron itself when ``allow_autapses=False`` and pre
    and post are the same population): with replacement when
    ``allow_multapses`` (as in NEST's Brunel example), without replacement
    otherwise (then ``k`` may not exceed the number of candidates).

    Parameters
    ----------
    k : int
        In-degree, >= 0.
    allow_autapses, allow_multapses : bool
    """

    def _build(self, n_pre, n_post, seed, same_population):
        k = self.k
        excl, m = self._candidates(n_pre, n_post, "n_pre", "sources", same_population)
        mult = self.allow_multapses
        mark = np.zeros(n_pre if not mult else 1, dtype=np.int64)
        counts = np.zeros(n_pre + 1, dtype=PTR)
        dummy = np.empty(0, dtype=ID)
        kk = k if n_post > 0 else 0
        # draw buffer: 4 int32 arrays of `chunk` entries: <= 64 MiB, and for
        # small networks <= the final indices array (chunk <= nnz / 4)
        chunk = max(kk, min(_INDEGREE_CHUNK, (n_post * kk) // 4))
        if kk > 0:
            _indegree_pass(n_pre, n_post, kk, excl, mult, seed, False, counts[1:],
                           dummy, mark, chunk)
        indptr = np.cumsum(counts, out=counts)
        indices = np.empty(int(indptr[-1]), dtype=ID)
        if kk > 0:
            pos = indptr[:-1].copy()
            mark[:] = 0
            _indegree_pass(n_pre, n_post, kk, excl, mult, seed, True, pos,
                           indices, mark, chunk)
        return indptr, indices

    def expected_nnz(self, n_pre, n_post):
        return float(self.k) * n_post


@dataclass(frozen=True)
class FixedOutdegree(_FixedDegree):
    """Every presynaptic neuron makes exactly ``k`` synapses.

    Targets are drawn uniformly from the candidates (with replacement when
    ``allow_multapses``, without otherwise, ``k`` <= number of candidates).

    Parameters
    ----------
    k : int
        Out-degree, >= 0.
    allow_autapses, allow_multapses : bool
    """

    def _build(self, n_pre, n_post, seed, same_population):
        k = self.k
        excl, m = self._candidates(n_post, n_pre, "n_post", "targets", same_population)
        indptr = np.arange(n_pre + 1, dtype=PTR) * k
        indices = np.empty(n_pre * k, dtype=ID)
        if n_pre * k > 0:
            mark = np.zeros(n_post if not self.allow_multapses else 1,
                            dtype=np.int64)
            _outdegree_fill(n_pre, n_post, k, excl, self.allow_multapses, seed,
                            indices, mark)
        return indptr, indices

    def expected_nnz(self, n_pre, n_post):
        return float(self.k) * n_pre


@dataclass(frozen=True)
class FixedProbability(ConnectionRule):
    """Each candidate pair is connected independently with probability ``p``.

    Uses geometric skipping, so the work is O(n_pre + nnz), not
    O(n_pre * n_post).  No multapses.

    Parameters
    ----------
    p : float
        Connection probability, 0 <= p <= 1.
    allow_autapses : bool
    """

    p: float
    allow_autapses: bool = True

    def __post_init__(self):
        p = real("p", self.p, finite=False)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p!r}")
        object.__setattr__(self, "p", p)
        boolean("allow_autapses", self.allow_autapses)

    def _build(self, n_pre, n_post, seed, same_population):
        p = self.p
        excl = _excl_self(self, same_population)
        if p == 1.0:
            return AllToAll(self.allow_autapses)._build(n_pre, n_post, seed,
                                                        same_population)
        if p == 0.0 or n_post == 0 or n_pre == 0:
            return np.zeros(n_pre + 1, dtype=PTR), np.empty(0, dtype=ID)
        counts = np.zeros(n_pre + 1, dtype=PTR)
        dummy = np.empty(0, dtype=ID)
        _probability_pass(n_pre, n_post, p, excl, seed, False, counts[1:],
                          counts, dummy)
        indptr = np.cumsum(counts, out=counts)
        indices = np.empty(int(indptr[-1]), dtype=ID)
        _probability_pass(n_pre, n_post, p, excl, seed, True, counts[1:],
                          indptr, indices)
        return indptr, indices

    def expected_nnz(self, n_pre, n_post):
        return self.p * float(n_pre) * n_post


@dataclass(frozen=True)
class OneToOne(ConnectionRule):
    """Neuron i connects to neuron i (requires ``n_pre == n_post``)."""

    def _build(self, n_pre, n_post, seed, same_population):
        if n_pre != n_post:
            raise ValueError(f"one_to_one requires n_pre == n_post, got "
                             f"n_pre={n_pre}, n_post={n_post}")
        return np.arange(n_pre + 1, dtype=PTR), np.arange(n_pre, dtype=ID)

    def expected_nnz(self, n_pre, n_post):
        return float(min(n_pre, n_post))


@dataclass(frozen=True)
class AllToAll(ConnectionRule):
    """Every presynaptic neuron connects to every postsynaptic neuron.

    Parameters
    ----------
    allow_autapses : bool
        If False and pre and post are the same population, ``i -> i`` is
        left out.
    """

    allow_autapses: bool = True

    def __post_init__(self):
        boolean("allow_autapses", self.allow_autapses)

    def _build(self, n_pre, n_post, seed, same_population):
        excl = _excl_self(self, same_population)
        m = n_post - 1 if excl else n_post
        m = max(m, 0)
        indptr = np.arange(n_pre + 1, dtype=PTR) * m
        indices = np.empty(n_pre * m, dtype=ID)
        _all_to_all_fill(n_pre, n_post, excl, indices)
        return indptr, indices

    def expected_nnz(self, n_pre, n_post):
        return float(n_pre) * n_post


fixed_indegree = FixedIndegree
fixed_outdegree = FixedOutdegree
fixed_probability = FixedProbability
one_to_one = OneToOne
all_to_all = AllToAll


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


def connect(rule, n_pre, n_post, weight, delay=None, *, seed=0,
            same_population=False, dtype=WEIGHT):
    """Build a projection from a rule, weights and delays.

    Parameters
    ----------
    rule : ConnectionRule
    n_pre, n_post : int
    weight : float, array_like or callable
        See :func:`make_weights` (mV).  A scalar is one weight shared by all synapses
        (``shared_weights``: no per-synapse storage; ``CSR.weights`` is then a
        read-only view).
    delay : None, float, array_like or callable
        See :func:`make_delays` (ms).  None or a scalar give
        ``CSR.delays is None``: the caller keeps the homogeneous delay.
    seed : int
        Seeds the structure; weights/delays callables get ``seed + 1`` and
        ``seed + 2`` (mod 2**32) so that they are independent of it.
    same_population : bool
    dtype : {numpy.float64, numpy.float32}
        Weight dtype.

    Returns
    -------
    CSR
    """
    if not isinstance(rule, ConnectionRule):
        raise TypeError(f"rule must be a ConnectionRule, got {type(rule).__name__}")
    seed = _check_seed(seed)
    _check_weight_dtype(dtype)
    if delay is not None and _is_scalar(delay) and not callable(delay):
        make_delays(delay, 0)  # validate before the (possibly long) build
    if _is_scalar(weight) and not callable(weight):
        make_weights(weight, 0, dtype=dtype)
    indptr, indices = rule.build(n_pre, n_post, seed, same_population)
    nnz = indices.shape[0]
    if _is_scalar(weight) and not callable(weight):
        w = shared_weights(weight, nnz, dtype)
    else:
        w = make_weights(weight, nnz, (seed + 1) % 2**32, dtype)
    d = None if delay is None else make_delays(delay, nnz, (seed + 2) % 2**32)
    return CSR(indptr, indices, w, d, n_post=n_post, check="none")


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
