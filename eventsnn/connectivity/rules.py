"""Connection rules: seeded, compiled generators of CSR structure (see
``eventsnn.connectivity``)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numba import njit

from .._dtypes import ID, PTR, WEIGHT
from .._validate import boolean, check_memory, integer, real
from .csr import (CSR, _check_seed, _check_size, _check_weight_dtype, _is_scalar,
                  make_delays, make_weights, shared_weights)

_INDEGREE_CHUNK = 1 << 22  # synapses buffered per flush in fixed_indegree

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
                   indices, mark, chunk, lo, hi):
    """One pass of fixed_indegree over the seeded random stream.

    ``fill=False``: ``pos[src] += 1`` for every drawn synapse (degree count).
    ``fill=True``: ``indices[pos[src]] = post; pos[src] += 1``.  Post ids are
    drawn in increasing order and applied in that order for every source, so
    every row comes out sorted.  Draws are buffered ``chunk`` synapses at a
    time (rounded to whole post neurons) and applied by
    :func:`_flush_by_source`.  Only the synapses onto posts ``lo <= j < hi``
    are kept; the others are drawn (the stream is one for all posts) and dropped.
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
        _draw_row(j, m, k, excl_self, multapses, sequential, src_buf[nb:nb + k], mark)
        post_buf[nb:nb + k] = j
        if lo <= j < hi:
            nb += k
    _flush_by_source(src_buf, post_buf, nb, shift, bcount, tmp_src, tmp_post,
                     fill, pos, indices)


@njit(cache=True)
def _draw_row(i, m, k, excl_self, multapses, sequential, out, mark):
    """Draw the k partners of row (or column) i among m candidates into out[0:k]:
    uniformly with replacement (``multapses``), else by selection sampling (Knuth's
    algorithm S, O(m), when k > m / 2: ``sequential``, comes out sorted) or by
    rejection against the stamp array ``mark`` (O(k) expected).  Candidate ids skip i
    when ``excl_self``."""
    if multapses:
        for c in range(k):
            u = np.random.randint(0, m)
            out[c] = u + 1 if (excl_self and u >= i) else u
    elif sequential:
        need = k
        c = 0
        for t in range(m):
            if need == 0:
                break
            if np.random.random() * (m - t) < need:
                need -= 1
                out[c] = t + 1 if (excl_self and t >= i) else t
                c += 1
    else:
        stamp = i + 1
        c = 0
        while c < k:
            u = np.random.randint(0, m)
            tgt = u + 1 if (excl_self and u >= i) else u
            if mark[tgt] != stamp:
                mark[tgt] = stamp
                out[c] = tgt
                c += 1


@njit(cache=True)
def _outdegree_row(i, m, k, excl_self, multapses, sequential, out, mark):
    """Draw row i of fixed_outdegree into out[0:k], sorted."""
    _draw_row(i, m, k, excl_self, multapses, sequential, out, mark)
    if not sequential:
        out[:k].sort()


@njit(cache=True)
def _outdegree_fill(n_pre, n_post, k, excl_self, multapses, seed, indices, mark):
    """Fill the rows of fixed_outdegree (row i = indices[i*k:(i+1)*k]), sorted."""
    np.random.seed(seed)
    m = n_post - 1 if excl_self else n_post
    sequential = (not multapses) and (2 * k > m)
    for i in range(n_pre):
        _outdegree_row(i, m, k, excl_self, multapses, sequential, indices[i * k:(i + 1) * k], mark)


@njit(cache=True)
def _outdegree_part(n_pre, n_post, k, excl_self, multapses, seed, fill, lo, hi, pos,
                    indices, mark):
    """One pass of fixed_outdegree keeping the targets lo <= j < hi: ``fill=False``
    counts them per row (``pos[i]``), ``fill=True`` writes row i from ``pos[i]`` on."""
    np.random.seed(seed)
    m = n_post - 1 if excl_self else n_post
    sequential = (not multapses) and (2 * k > m)
    row = np.empty(k, dtype=np.int32)
    for i in range(n_pre):
        _outdegree_row(i, m, k, excl_self, multapses, sequential, row, mark)
        q = pos[i]
        for c in range(k):
            if lo <= row[c] < hi:
                if fill:
                    indices[q] = row[c]
                q += 1
        pos[i] = q


@njit(cache=True)
def _probability_pass(n_pre, n_post, p, excl_self, seed, fill, counts, indptr,
                      indices, lo, hi):
    """One pass of fixed_probability with geometric skipping (0 < p < 1), keeping
    the targets lo <= j < hi; returns the number of synapses onto every target.

    The gap to the next connected candidate is ``floor(log(U) / log(1 - p))``
    with U uniform on (0, 1], i.e. geometric; work is O(n_pre + nnz).
    """
    np.random.seed(seed)
    m = n_post - 1 if excl_self else n_post
    lq = np.log1p(-p)
    total = 0
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
            total += 1
            tgt = t + 1 if (excl_self and t >= i) else t
            if tgt < lo or tgt >= hi:
                continue
            if fill:
                indices[q] = tgt
                q += 1
            else:
                c += 1
        if not fill:
            counts[i] = c
    return total


@njit(cache=True)
def _all_to_all_fill(n_pre, excl_self, lo, hi, indices):
    """Rows of all_to_all onto the targets lo <= j < hi."""
    q = 0
    for i in range(n_pre):
        for j in range(lo, hi):
            if excl_self and j == i:
                continue
            indices[q] = j
            q += 1



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
        n_pre, n_post, seed, same_population = self.check(n_pre, n_post, seed, same_population)
        nnz = self.expected_nnz(n_pre, n_post)
        check_memory("rule", self, 4 * nnz + 8 * (n_pre + 1),
                     f"about {nnz:.3g} synapses between {n_pre} and {n_post} neurons (4 bytes each)")
        return self._build(n_pre, n_post, seed, same_population)

    def build_part(self, n_pre, n_post, seed=0, same_population=False, *, targets):
        """The part of ``build(n_pre, n_post, seed, same_population)`` onto the targets
        ``lo <= j < hi`` (``targets = (lo, hi)``), every row kept: the synapses one
        process of a partitioned run stores (post-side storage).  Bitwise the rows of
        the whole structure with the other targets left out, built without it (the
        built-in rules draw the whole random stream and keep what falls in the range).

        Returns
        -------
        indptr : ndarray of int64, shape (n_pre + 1,)
        indices : ndarray of int32
            Local target ids (of the whole post population), rows sorted ascending.
        n_total : int
            The synapses of the whole structure (every target).
        """
        n_pre, n_post, seed, same_population = self.check(n_pre, n_post, seed, same_population)
        if not (isinstance(targets, tuple) and len(targets) == 2):
            raise TypeError(f"targets must be a tuple (lo, hi), got {targets!r}")
        lo = integer("targets[0]", targets[0], lo=0, hi=n_post)
        hi = integer("targets[1]", targets[1], lo=lo, hi=n_post)
        nnz = self.expected_nnz(n_pre, n_post) * ((hi - lo) / n_post if n_post else 0.0)
        check_memory("rule", self, 4 * nnz + 8 * (n_pre + 1),
                     f"about {nnz:.3g} synapses onto {hi - lo} of {n_post} neurons (4 bytes each)")
        return self._build_part(n_pre, n_post, seed, same_population, lo, hi)

    def check(self, n_pre, n_post, seed=0, same_population=False):
        """Validate the arguments of ``build`` without building: ValueError/TypeError
        as ``build`` would raise (sizes, seed, impossible degrees).  Returns them
        normalised (n_pre, n_post, seed, same_population)."""
        n_pre = _check_size(n_pre, "n_pre")
        n_post = _check_size(n_post, "n_post")
        seed = _check_seed(seed)
        same_population = boolean("same_population", same_population)
        if same_population and n_pre != n_post:
            raise ValueError(f"same_population=True requires n_pre == n_post, "
                             f"got n_pre={n_pre}, n_post={n_post}")
        self._check(n_pre, n_post, same_population)
        return n_pre, n_post, seed, same_population

    def _check(self, n_pre, n_post, same_population):
        """Rule-specific checks of ``check`` (sizes already validated)."""

    @abstractmethod
    def _build(self, n_pre, n_post, seed, same_population):
        """Rule-specific structure; arguments already validated (see ``build``)."""

    def _build_part(self, n_pre, n_post, seed, same_population, lo, hi):
        """``build_part`` (arguments validated).  This fallback builds the whole
        structure and keeps the part; the built-in rules override it."""
        indptr, indices = self._build(n_pre, n_post, seed, same_population)
        return (*_keep_targets(indptr, indices, lo, hi), int(indices.shape[0]))

    @abstractmethod
    def expected_nnz(self, n_pre, n_post) -> float:
        """The number of synapses the rule makes (its mean for a random count), to
        estimate the memory of a build before it starts."""


def _keep_targets(indptr, indices, lo, hi):
    """(indptr, indices) of the synapses onto lo <= j < hi, every row kept."""
    keep = (indices >= lo) & (indices < hi)
    pos = np.flatnonzero(keep)
    return np.searchsorted(pos, indptr).astype(PTR), indices[pos]


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

    def _check(self, n_pre, n_post, same_population):
        self._draws(n_pre, n_post, same_population)

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

    def _draws(self, n_pre, n_post, same_population):
        return self._candidates(n_pre, n_post, "n_pre", "sources", same_population)

    def _build(self, n_pre, n_post, seed, same_population):
        return self._build_part(n_pre, n_post, seed, same_population, 0, n_post)[:2]

    def _build_part(self, n_pre, n_post, seed, same_population, lo, hi):
        k = self.k
        excl, m = self._draws(n_pre, n_post, same_population)
        mult = self.allow_multapses
        mark = np.zeros(n_pre if not mult else 1, dtype=np.int64)
        counts = np.zeros(n_pre + 1, dtype=PTR)
        dummy = np.empty(0, dtype=ID)
        kk = k if n_post > 0 else 0
        # draw buffer: 4 int32 arrays of `chunk` entries: <= 64 MiB, and for
        # small networks <= the final indices array (chunk <= nnz / 4)
        chunk = max(kk, min(_INDEGREE_CHUNK, ((hi - lo) * kk) // 4))
        if kk > 0:
            _indegree_pass(n_pre, n_post, kk, excl, mult, seed, False, counts[1:],
                           dummy, mark, chunk, lo, hi)
        indptr = np.cumsum(counts, out=counts)
        indices = np.empty(int(indptr[-1]), dtype=ID)
        if kk > 0 and indices.shape[0]:
            pos = indptr[:-1].copy()
            mark[:] = 0
            _indegree_pass(n_pre, n_post, kk, excl, mult, seed, True, pos,
                           indices, mark, chunk, lo, hi)
        return indptr, indices, kk * n_post

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

    def _draws(self, n_pre, n_post, same_population):
        return self._candidates(n_post, n_pre, "n_post", "targets", same_population)

    def _build(self, n_pre, n_post, seed, same_population):
        k = self.k
        excl, m = self._draws(n_pre, n_post, same_population)
        indptr = np.arange(n_pre + 1, dtype=PTR) * k
        indices = np.empty(n_pre * k, dtype=ID)
        if n_pre * k > 0:
            mark = np.zeros(n_post if not self.allow_multapses else 1,
                            dtype=np.int64)
            _outdegree_fill(n_pre, n_post, k, excl, self.allow_multapses, seed,
                            indices, mark)
        return indptr, indices

    def _build_part(self, n_pre, n_post, seed, same_population, lo, hi):
        k = self.k
        excl, m = self._draws(n_pre, n_post, same_population)
        counts = np.zeros(n_pre + 1, dtype=PTR)
        if n_pre * k == 0:
            return counts, np.empty(0, dtype=ID), 0
        mult = self.allow_multapses
        mark = np.zeros(n_post if not mult else 1, dtype=np.int64)
        dummy = np.empty(0, dtype=ID)
        _outdegree_part(n_pre, n_post, k, excl, mult, seed, False, lo, hi, counts[1:], dummy, mark)
        indptr = np.cumsum(counts, out=counts)
        indices = np.empty(int(indptr[-1]), dtype=ID)
        mark[:] = 0
        _outdegree_part(n_pre, n_post, k, excl, mult, seed, True, lo, hi, indptr[:-1].copy(),
                        indices, mark)
        return indptr, indices, n_pre * k

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
        return self._build_part(n_pre, n_post, seed, same_population, 0, n_post)[:2]

    def _build_part(self, n_pre, n_post, seed, same_population, lo, hi):
        p = self.p
        excl = _excl_self(self, same_population)
        if p == 1.0:
            return AllToAll(self.allow_autapses)._build_part(n_pre, n_post, seed,
                                                             same_population, lo, hi)
        if p == 0.0 or n_post == 0 or n_pre == 0:
            return np.zeros(n_pre + 1, dtype=PTR), np.empty(0, dtype=ID), 0
        counts = np.zeros(n_pre + 1, dtype=PTR)
        dummy = np.empty(0, dtype=ID)
        total = _probability_pass(n_pre, n_post, p, excl, seed, False, counts[1:],
                                  counts, dummy, lo, hi)
        indptr = np.cumsum(counts, out=counts)
        indices = np.empty(int(indptr[-1]), dtype=ID)
        _probability_pass(n_pre, n_post, p, excl, seed, True, counts[1:],
                          indptr, indices, lo, hi)
        return indptr, indices, int(total)

    def expected_nnz(self, n_pre, n_post):
        return self.p * float(n_pre) * n_post


@dataclass(frozen=True)
class OneToOne(ConnectionRule):
    """Neuron i connects to neuron i (requires ``n_pre == n_post``)."""

    def _check(self, n_pre, n_post, same_population):
        if n_pre != n_post:
            raise ValueError(f"one_to_one requires n_pre == n_post, got "
                             f"n_pre={n_pre}, n_post={n_post}")

    def _build(self, n_pre, n_post, seed, same_population):
        return np.arange(n_pre + 1, dtype=PTR), np.arange(n_pre, dtype=ID)

    def _build_part(self, n_pre, n_post, seed, same_population, lo, hi):
        indptr = np.clip(np.arange(n_pre + 1, dtype=PTR), lo, hi) - lo
        return indptr, np.arange(lo, hi, dtype=ID), n_pre

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
        return self._build_part(n_pre, n_post, seed, same_population, 0, n_post)[:2]

    def _build_part(self, n_pre, n_post, seed, same_population, lo, hi):
        excl = _excl_self(self, same_population)
        counts = np.zeros(n_pre + 1, dtype=PTR)
        counts[1:] = hi - lo
        if excl:
            # row i lacks its own target i when that lies in the range
            counts[1 + lo:1 + min(hi, n_pre)] -= 1
        indptr = np.cumsum(counts, out=counts)
        indices = np.empty(int(indptr[-1]), dtype=ID)
        _all_to_all_fill(n_pre, excl, lo, hi, indices)
        return indptr, indices, n_pre * max(n_post - 1 if excl else n_post, 0)

    def expected_nnz(self, n_pre, n_post):
        return float(n_pre) * n_post


fixed_indegree = FixedIndegree
fixed_outdegree = FixedOutdegree
fixed_probability = FixedProbability
one_to_one = OneToOne
all_to_all = AllToAll


@dataclass(frozen=True)
class RuleSpec:
    """A projection's synapses as a rule, one weight and a seed: everything that
    decides them, so that they can be built when needed, whole or one process's part
    (``build_part``) without the whole.  Arguments already validated (``check``).

    ``own_weights``: one weight per synapse (a plastic projection's weights change one
    by one) instead of one shared weight."""

    rule: ConnectionRule
    n_pre: int
    n_post: int
    weight: float
    seed: int
    same_population: bool
    own_weights: bool = False

    def build(self, targets=None):
        """(CSR, n_total): the whole CSR (``targets=None``) or its synapses onto
        ``lo <= j < hi``, and the synapses of the whole projection.  The structure
        arrays come back read-only (the kernels index with them)."""
        if targets is None:
            indptr, indices = self.rule.build(self.n_pre, self.n_post, self.seed, self.same_population)
            n_total = int(indices.shape[0])
        else:
            indptr, indices, n_total = self.rule.build_part(self.n_pre, self.n_post, self.seed,
                                                            self.same_population, targets=targets)
        nnz = int(indices.shape[0])
        w = np.full(nnz, self.weight) if self.own_weights else shared_weights(self.weight, nnz)
        for a in (indptr, indices):
            a.flags.writeable = False
        return CSR(indptr, indices, w, None, n_post=self.n_post, check="none"), n_total


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


