"""Tests of eventsnn.connectivity: CSR, connection rules, constructors."""
import numpy as np
import pytest
import scipy.sparse as sp

from eventsnn import connectivity as cn
from eventsnn.connectivity import (CSR, all_to_all, connect, fixed_indegree, is_shared,
                                   fixed_outdegree, fixed_probability,
                                   from_dense, from_lists, from_scipy,
                                   make_delays, make_weights, one_to_one)


def _dense_counts(indptr, indices, n_post):
    """Dense (n_pre, n_post) synapse-count matrix of a structure."""
    n_pre = len(indptr) - 1
    rows = np.repeat(np.arange(n_pre), np.diff(indptr))
    M = np.zeros((n_pre, n_post), dtype=np.int64)
    np.add.at(M, (rows, indices), 1)
    return M


def _check_structure(indptr, indices, n_pre, n_post):
    assert indptr.dtype == np.int64 and indices.dtype == np.int32
    assert indptr.shape == (n_pre + 1,) and indptr[0] == 0
    assert indptr[-1] == len(indices)
    assert np.all(np.diff(indptr) >= 0)
    if len(indices):
        assert indices.min() >= 0 and indices.max() < n_post
    # every row sorted ascending
    for i in range(n_pre):
        row = indices[indptr[i]:indptr[i + 1]]
        assert np.all(np.diff(row) >= 0)


# --------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------
@pytest.mark.parametrize("autapses", [True, False])
@pytest.mark.parametrize("multapses", [True, False])
@pytest.mark.parametrize("k", [0, 3, 40])   # 40 of 49/50: selection sampling
def test_fixed_indegree_exact(k, autapses, multapses):
    n = 50
    ip, ix = fixed_indegree(k, autapses, multapses).build(n, n, 7, True)
    _check_structure(ip, ix, n, n)
    M = _dense_counts(ip, ix, n)
    assert np.all(M.sum(axis=0) == k)
    if not autapses:
        assert np.all(np.diag(M) == 0)
    if not multapses:
        assert M.max(initial=0) <= 1


@pytest.mark.parametrize("autapses", [True, False])
@pytest.mark.parametrize("multapses", [True, False])
@pytest.mark.parametrize("k", [0, 3, 40])
def test_fixed_outdegree_exact(k, autapses, multapses):
    n = 50
    ip, ix = fixed_outdegree(k, autapses, multapses).build(n, n, 7, True)
    _check_structure(ip, ix, n, n)
    M = _dense_counts(ip, ix, n)
    assert np.all(M.sum(axis=1) == k)
    if not autapses:
        assert np.all(np.diag(M) == 0)
    if not multapses:
        assert M.max(initial=0) <= 1


def test_fixed_indegree_different_populations():
    ip, ix = fixed_indegree(5, allow_multapses=False).build(8, 30, 3)
    M = _dense_counts(ip, ix, 30)
    _check_structure(ip, ix, 8, 30)
    assert np.all(M.sum(axis=0) == 5) and M.max() == 1
    # 8 sources only: all 8 chosen when k equals the candidates
    ip, ix = fixed_indegree(8, allow_multapses=False).build(8, 30, 3)
    assert np.all(_dense_counts(ip, ix, 30) == 1)


def test_fixed_indegree_large_multapses_uniform():
    n_pre, n_post, k = 200, 2000, 20
    ip, ix = fixed_indegree(k).build(n_pre, n_post, 11)
    _check_structure(ip, ix, n_pre, n_post)
    assert np.all(np.bincount(ix, minlength=n_post) == k)
    out = np.diff(ip)
    # out-degrees ~ Binomial(n_post*k, 1/n_pre): mean 200, sd ~ 14.1
    assert out.sum() == n_post * k
    assert np.all(np.abs(out - 200) < 8 * 14.1)


@pytest.mark.parametrize("rule", [fixed_indegree(4), fixed_indegree(4, False, False),
                                  fixed_outdegree(4), fixed_outdegree(30, False, False),
                                  fixed_probability(0.1), fixed_probability(0.2, False)])
def test_determinism(rule):
    a = rule.build(60, 60, 42, True)
    b = rule.build(60, 60, 42, True)
    c = rule.build(60, 60, 43, True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not (np.array_equal(a[0], c[0]) and np.array_equal(a[1], c[1]))


@pytest.mark.parametrize("autapses", [True, False])
def test_fixed_probability_mean_degree(autapses):
    n, p = 2000, 0.05
    ip, ix = fixed_probability(p, autapses).build(n, n, 5, True)
    _check_structure(ip, ix, n, n)
    m = n if autapses else n - 1
    pairs = n * m
    mean, sd = pairs * p, np.sqrt(pairs * p * (1 - p))
    assert abs(len(ix) - mean) < 6 * sd
    M = _dense_counts(ip, ix, n)
    assert M.max() <= 1                    # never multapses
    if not autapses:
        assert np.all(np.diag(M) == 0)
    # per-row degree ~ Binomial(m, p): mean 100, sd 9.7
    assert abs(np.diff(ip).mean() - m * p) < 1.0


def test_fixed_probability_edges():
    ip, ix = fixed_probability(0.0).build(5, 7, 0)
    assert np.array_equal(ip, np.zeros(6)) and len(ix) == 0
    ip, ix = fixed_probability(1.0, allow_autapses=False).build(5, 5, 0, True)
    M = _dense_counts(ip, ix, 5)
    assert np.array_equal(M, 1 - np.eye(5, dtype=int))


def test_one_to_one_and_all_to_all():
    ip, ix = one_to_one().build(6, 6, 0)
    assert np.array_equal(_dense_counts(ip, ix, 6), np.eye(6, dtype=int))
    ip, ix = all_to_all().build(3, 4, 0)
    _check_structure(ip, ix, 3, 4)
    assert np.array_equal(_dense_counts(ip, ix, 4), np.ones((3, 4), dtype=int))
    ip, ix = all_to_all(allow_autapses=False).build(4, 4, 0, True)
    assert np.array_equal(_dense_counts(ip, ix, 4), 1 - np.eye(4, dtype=int))
    # autapse exclusion only applies within one population
    ip, ix = all_to_all(allow_autapses=False).build(4, 4, 0, False)
    assert len(ix) == 16


def test_empty_populations():
    for rule in (fixed_indegree(3), fixed_outdegree(3), fixed_probability(0.5),
                 all_to_all(), one_to_one()):
        ip, ix = rule.build(0, 0, 0)
        assert ip.tolist() == [0] and len(ix) == 0
    ip, ix = fixed_indegree(3).build(4, 0, 0)
    assert ip.tolist() == [0] * 5


# --------------------------------------------------------------------------
# CSR
# --------------------------------------------------------------------------
def test_csr_basic_and_bytes():
    ip, ix = fixed_indegree(3).build(10, 12, 1)
    w = np.linspace(-1, 1, len(ix))
    c = CSR(ip, ix, w, n_post=12)
    assert (c.n_pre, c.n_post, c.nnz) == (10, 12, 36)
    assert c.indptr.dtype == np.int64 and c.indices.dtype == np.int32
    assert c.weights.dtype == np.float64 and c.delays is None
    assert c.bytes_per_synapse == 12
    assert c.nbytes == 11 * 8 + 36 * 12
    assert np.array_equal(c.out_degree(), np.diff(ip))
    assert c.out_degree().dtype == np.int64
    c32 = CSR(ip, ix, w.astype(np.float32), n_post=12)
    assert c32.weights.dtype == np.float32 and c32.bytes_per_synapse == 8
    cd = CSR(ip, ix, w, np.full(36, 1.5), n_post=12)
    assert cd.bytes_per_synapse == 20
    assert cd.nbytes == 11 * 8 + 36 * 20


def test_csr_accepts_integral_floats_and_lists():
    c = CSR([0, 1, 2], [1.0, 0.0], [1, 2], n_post=2)
    assert c.indices.tolist() == [1, 0] and c.weights.dtype == np.float64
    c = CSR([0], [], [], n_post=0)
    assert c.nnz == 0 and c.n_pre == 0


def test_sort_by_delay():
    indptr = [0, 5, 5, 8]
    indices = [0, 1, 2, 3, 4, 0, 1, 2]
    weights = [10., 11., 12., 13., 14., 20., 21., 22.]
    delays = [2., 1., 2., 1., 3., 1., 1., 1.]
    c = CSR(indptr, indices, weights, delays, n_post=5).sort_by_delay()
    assert c.indices.tolist() == [1, 3, 0, 2, 4, 0, 1, 2]
    assert c.weights.tolist() == [11., 13., 10., 12., 14., 20., 21., 22.]
    assert c.delays.tolist() == [1., 1., 2., 2., 3., 1., 1., 1.]
    # random: groups contiguous and synapse multiset per row preserved
    rng = np.random.default_rng(0)
    ip, ix = fixed_outdegree(30).build(20, 50, 3)
    d = rng.choice([0.5, 1.0, 1.5], size=len(ix))
    w = rng.normal(size=len(ix))
    s = CSR(ip, ix, w, d, n_post=50).sort_by_delay()
    for i in range(20):
        sl = slice(ip[i], ip[i + 1])
        assert np.all(np.diff(s.delays[sl]) >= 0)
        order = np.argsort(d[sl], kind="stable")
        assert np.array_equal(s.indices[sl], ix[sl][order])
        assert np.array_equal(s.weights[sl], w[sl][order])
    c0 = CSR(ip, ix, w, n_post=50)
    assert c0.sort_by_delay() is c0


# --------------------------------------------------------------------------
# explicit constructors
# --------------------------------------------------------------------------
def test_from_dense_round_trip():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(7, 9)) * (rng.random((7, 9)) < 0.4)
    D = rng.uniform(0.1, 3.0, size=W.shape)
    c = from_dense(W, D)
    assert np.array_equal(c.to_scipy().toarray(), W)
    assert np.array_equal(c.delays_to_scipy().toarray(), np.where(W != 0, D, 0))
    c = from_dense(W, 1.5)
    assert np.all(c.delays == 1.5)
    c = from_dense(W)
    assert c.delays is None
    with pytest.raises(ValueError, match="delays"):
        c.delays_to_scipy()


def test_from_scipy_round_trip_keeps_explicit_zeros_and_duplicates():
    rng = np.random.default_rng(2)
    M = sp.random(20, 30, density=0.2, random_state=3, format="csr")
    for fmt in ("csr", "csc", "coo", "lil", "dok"):
        c = from_scipy(M.asformat(fmt))
        assert np.array_equal(c.to_scipy().toarray(), M.toarray())
    # sparse array type too
    c = from_scipy(sp.csr_array(M))
    assert np.array_equal(c.to_scipy().toarray(), M.toarray())
    # explicit zero and duplicates in COO
    C = sp.coo_matrix(([0.0, 1.0, 2.0, 0.5], ([0, 1, 1, 0], [2, 0, 0, 1])),
                      shape=(2, 3))
    c = from_scipy(C, delays=[1.0, 2.0, 3.0, 4.0])
    assert c.nnz == 4
    assert c.indptr.tolist() == [0, 2, 4]
    assert c.indices.tolist() == [2, 1, 0, 0]
    assert c.weights.tolist() == [0.0, 0.5, 1.0, 2.0]
    assert c.delays.tolist() == [1.0, 4.0, 2.0, 3.0]
    assert np.array_equal(c.to_scipy().toarray(), C.toarray())
    assert c.to_scipy().nnz == 4          # duplicates kept separately
    # delays as a sparse matrix of the same pattern
    Dm = M.copy()
    Dm.data = rng.uniform(0.5, 2.0, size=Dm.nnz)
    c = from_scipy(M, Dm)
    assert np.array_equal(c.delays_to_scipy().toarray(), Dm.toarray())


def test_from_lists_round_trip_and_stable_order():
    pre = [2, 0, 2, 1, 0, 2]
    post = [3, 1, 0, 2, 1, 0]
    w = [1., 2., 3., 4., 5., 6.]
    c = from_lists(pre, post, w, [1., 2., 3., 4., 5., 6.], n_pre=4, n_post=5)
    assert c.indptr.tolist() == [0, 2, 3, 6, 6]
    assert c.indices.tolist() == [1, 1, 2, 3, 0, 0]
    assert c.weights.tolist() == [2., 5., 4., 1., 3., 6.]
    assert c.delays.tolist() == [2., 5., 4., 1., 3., 6.]
    dense = np.zeros((4, 5))
    np.add.at(dense, (pre, post), w)
    assert np.array_equal(c.to_scipy().toarray(), dense)
    c = from_lists(pre, post, 0.5, n_pre=4, n_post=5)
    assert c.delays is None and np.all(c.weights == 0.5)
    c = from_lists(np.array(pre), np.array(post), np.array(w, np.float32),
                   n_pre=4, n_post=5)
    assert c.weights.dtype == np.float32


def test_make_weights_delays_and_connect():
    assert np.array_equal(make_weights(0.3, 4, 0), np.full(4, 0.3))
    assert make_weights(0.3, 4, 0, np.float32).dtype == np.float32
    assert make_delays(1.5, 10, 0) is None
    assert np.array_equal(make_delays([1.0, 2.0], 2, 0), [1.0, 2.0])
    a = make_weights(lambda rng, n: rng.normal(size=n), 5, 9)
    b = make_weights(lambda rng, n: rng.normal(size=n), 5, 9)
    assert np.array_equal(a, b)
    c = connect(fixed_indegree(3), 10, 20, 0.1, 1.0, seed=4)
    assert c.delays is None and c.nnz == 60 and np.all(c.weights == 0.1)
    # a scalar weight is shared: no per-synapse storage, 4 bytes per synapse (targets)
    assert is_shared(c.weights) and c.bytes_per_synapse == 4 and not c.weights.flags.writeable
    assert c.nbytes == c.indptr.nbytes + 4 * 60 + 8
    c = connect(fixed_indegree(3), 10, 20, 0.1,
                lambda rng, n: rng.uniform(1, 2, n), seed=4)
    assert c.delays.shape == (60,) and c.bytes_per_synapse == 12
    c = connect(fixed_indegree(3), 10, 20, lambda rng, n: np.full(n, 0.1),
                lambda rng, n: rng.uniform(1, 2, n), seed=4)
    assert not is_shared(c.weights) and c.bytes_per_synapse == 20


def test_shared_weights():
    from eventsnn.connectivity import shared_weights
    w = shared_weights(0.25, 5)
    assert is_shared(w) and not w.flags.writeable and np.array_equal(w, np.full(5, 0.25))
    assert w.nbytes == 40 and w.base.nbytes == 8          # one value stored
    assert shared_weights(0.25, 3, np.float32).dtype == np.float32
    assert np.array_equal(shared_weights(np.array(2.0), 3), [2.0, 2.0, 2.0])
    # nothing to share: plain arrays
    for nnz in (0, 1):
        w = shared_weights(1.5, nnz)
        assert not is_shared(w) and w.shape == (nnz,) and w.flags.writeable
    assert not is_shared(np.full(4, 0.25))


@pytest.mark.parametrize("args, exc, word", [
    ((float("nan"), 5), ValueError, "weight"),
    ((float("inf"), 5), ValueError, "weight"),
    (("a", 5), TypeError, "weight"),
    ((True, 5), TypeError, "weight"),
    ((1.0, -1), ValueError, "nnz"),
    ((1.0, 2.5), TypeError, "nnz"),
    ((1.0, 3, np.int32), TypeError, "dtype"),
])
def test_shared_weights_bad_input(args, exc, word):
    from eventsnn.connectivity import shared_weights
    with pytest.raises(exc, match=word):
        shared_weights(*args)


# --------------------------------------------------------------------------
# bad input: error type and the argument named in the message
# --------------------------------------------------------------------------
IP, IX, W = [0, 2, 3], [0, 1, 1], [1.0, 2.0, 3.0]

BAD_CSR = [
    (dict(indptr=[], indices=[], weights=[]), ValueError, "indptr"),
    (dict(indptr=[1, 2, 3], indices=IX, weights=W), ValueError, "indptr"),
    (dict(indptr=[0, 3, 2, 3], indices=IX, weights=W), ValueError, "indptr"),
    (dict(indptr=[0, 2, 4], indices=IX, weights=W), ValueError, "indptr"),
    (dict(indptr=IP, indices=[0, 1, 2], weights=W), ValueError, "indices"),
    (dict(indptr=IP, indices=[0, -1, 1], weights=W), ValueError, "indices"),
    (dict(indptr=IP, indices=np.array([0, 2**40, 1]), weights=W), ValueError,
     "indices"),
    (dict(indptr=IP, indices=IX, weights=[1.0, np.nan, 3.0]), ValueError, "weights"),
    (dict(indptr=IP, indices=IX, weights=[1.0, np.inf, 3.0]), ValueError, "weights"),
    (dict(indptr=IP, indices=IX, weights=[1.0, 2.0]), ValueError, "weights"),
    (dict(indptr=IP, indices=IX, weights=W, delays=[1.0, -1.0, 1.0]), ValueError,
     "delays"),
    (dict(indptr=IP, indices=IX, weights=W, delays=[1.0, 0.0, 1.0]), ValueError,
     "delays"),
    (dict(indptr=IP, indices=IX, weights=W, delays=[1.0, np.nan, 1.0]), ValueError,
     "delays"),
    (dict(indptr=IP, indices=IX, weights=W, delays=[1.0, 1.0]), ValueError, "delays"),
    (dict(indptr=IP, indices=[0.5, 1, 1], weights=W), TypeError, "indices"),
    (dict(indptr=IP, indices=IX, weights=np.array(W) + 1j), TypeError, "weights"),
    (dict(indptr=np.array([[0, 2, 3]]), indices=IX, weights=W), ValueError, "indptr"),
]


@pytest.mark.parametrize("kw,exc,name", BAD_CSR)
def test_csr_bad_input(kw, exc, name):
    with pytest.raises(exc, match=name):
        CSR(**kw, n_post=2)


def test_csr_bad_n_post_and_check():
    with pytest.raises(TypeError, match="n_post"):
        CSR(IP, IX, W, n_post=2.0)
    with pytest.raises(ValueError, match="n_post"):
        CSR(IP, IX, W, n_post=-1)
    with pytest.raises(ValueError, match="check"):
        CSR(IP, IX, W, n_post=2, check="some")


@pytest.mark.parametrize("make,exc,name", [
    (lambda: fixed_indegree(-1), ValueError, "k"),
    (lambda: fixed_outdegree(-3), ValueError, "k"),
    (lambda: fixed_indegree(2.5), TypeError, "k"),
    (lambda: fixed_outdegree(2.0), TypeError, "k"),
    (lambda: fixed_indegree(True), TypeError, "k"),
    (lambda: fixed_indegree(3, allow_autapses=1), TypeError, "allow_autapses"),
    (lambda: fixed_probability(-0.1), ValueError, "p"),
    (lambda: fixed_probability(1.5), ValueError, "p"),
    (lambda: fixed_probability(np.nan), ValueError, "p"),
    (lambda: fixed_probability("0.5"), TypeError, "p"),
    (lambda: one_to_one().build(3, 4, 0), ValueError, "n_pre"),
    (lambda: fixed_indegree(5, allow_multapses=False).build(4, 10, 0), ValueError, "k"),
    (lambda: fixed_indegree(4, False, False).build(4, 4, 0, True), ValueError, "k"),
    (lambda: fixed_outdegree(5, allow_multapses=False).build(10, 4, 0), ValueError, "k"),
    (lambda: fixed_indegree(1).build(0, 3, 0), ValueError, "k"),
    (lambda: fixed_indegree(1).build(-1, 3, 0), ValueError, "n_pre"),
    (lambda: fixed_indegree(1).build(3, 3.0, 0), TypeError, "n_post"),
    (lambda: fixed_indegree(1).build(3, 3, -1), ValueError, "seed"),
    (lambda: fixed_indegree(1).build(3, 3, 2**32), ValueError, "seed"),
    (lambda: fixed_indegree(1).build(3, 4, 0, True), ValueError, "same_population"),
    (lambda: from_dense(np.ones(3)), ValueError, "W"),
    (lambda: from_dense([[1.0, np.nan]]), ValueError, "W"),
    (lambda: from_dense([[1.0, 2.0]], [[1.0, 0.0]]), ValueError, "delays"),
    (lambda: from_dense([[1.0, 2.0]], [[1.0]]), ValueError, "delays"),
    (lambda: from_dense([[1.0, 2.0]], -1.0), ValueError, "delays"),
    (lambda: from_scipy(np.ones((2, 2))), TypeError, "M"),
    (lambda: from_scipy(sp.csr_matrix([[np.inf, 1.0]])), ValueError, "M"),
    (lambda: from_scipy(sp.csr_matrix([[2.0, 1.0]]), [1.0]), ValueError, "delays"),
    (lambda: from_scipy(sp.csr_matrix([[2.0, 1.0]]), sp.csr_matrix([[2.0, 0.0]])),
     ValueError, "delays"),
    (lambda: from_lists([0, 3], [0, 0], 1.0, n_pre=3, n_post=1), ValueError, "pre"),
    (lambda: from_lists([0, 1], [0, 5], 1.0, n_pre=3, n_post=1), ValueError, "post"),
    (lambda: from_lists([0, 1], [0], 1.0, n_pre=3, n_post=1), ValueError, "post"),
    (lambda: from_lists([0, 1], [0, 0], [1.0], n_pre=3, n_post=1), ValueError, "weight"),
    (lambda: from_lists([0, 1], [0, 0], np.nan, n_pre=3, n_post=1), ValueError,
     "weight"),
    (lambda: from_lists([0, 1], [0, 0], 1.0, 0.0, n_pre=3, n_post=1), ValueError,
     "delay"),
    (lambda: from_lists([0, 1], [0, 0], 1.0, [1.0, np.inf], n_pre=3, n_post=1),
     ValueError, "delay"),
    (lambda: make_weights(np.inf, 3, 0), ValueError, "weight"),
    (lambda: make_weights([1.0, 2.0], 3, 0), ValueError, "weight"),
    (lambda: make_weights(1.0, 3, 0, np.int32), TypeError, "dtype"),
    (lambda: make_delays(-1.0, 3, 0), ValueError, "delay"),
    (lambda: make_delays([1.0, 0.0, 1.0], 3, 0), ValueError, "delay"),
    (lambda: connect("fixed", 3, 3, 1.0), TypeError, "rule"),
])
def test_bad_input(make, exc, name):
    with pytest.raises(exc, match=rf"\b{name}\b"):
        make()


def test_validation_leaves_no_state():
    """A failing constructor does not modify the caller's arrays."""
    ix = np.array([0, 5, 1], dtype=np.int32)
    w = np.array(W)
    with pytest.raises(ValueError):
        CSR(np.array(IP), ix, w, n_post=2)
    assert ix.tolist() == [0, 5, 1] and w.tolist() == W


def test_module_exports():
    for name in cn.__all__:
        assert hasattr(cn, name)
