"""Tests of eventsnn.connectivity.conv: convolution / pooling layers as CSR.

Every builder is compared with an independent dense reference: a direct
cross-correlation over the zero-padded input (strided, dilated slices and an
einsum per group and kernel tap), itself checked against scipy.signal.correlate.
"""
import itertools

import numpy as np
import pytest
from scipy import signal

from eventsnn.connectivity import CSR, is_shared
from eventsnn.connectivity.conv import (avg_pool2d, channel_bias, conv1d, conv2d,
                                        conv_output_shape, sum_pool2d)


# --------------------------------------------------------------------------
# independent references
# --------------------------------------------------------------------------
def _pads(padding, kernel, dilation, nd):
    """Per-dimension (low, high) padding from the PyTorch-style argument."""
    if padding == "valid":
        return [(0, 0)] * nd
    if padding == "same":
        return [((d * (k - 1)) // 2, d * (k - 1) - (d * (k - 1)) // 2)
                for k, d in zip(kernel, dilation)]
    if isinstance(padding, int):
        return [(padding, padding)] * nd
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def _tup(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def ref_conv(x, w, stride, padding, dilation, groups):
    """Batched PyTorch-style convolution: x (B, C_in, *sp), w (C_out, C_in/g, *k)."""
    nd = x.ndim - 2
    kernel = w.shape[2:]
    stride, dilation = _tup(stride, nd), _tup(dilation, nd)
    pads = _pads(padding, kernel, dilation, nd)
    xp = np.pad(x, [(0, 0), (0, 0)] + [tuple(p) for p in pads])
    out_sp = [(xp.shape[2 + a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1
              for a in range(nd)]
    C_out, Cg = w.shape[:2]
    Og = C_out // groups
    out = np.zeros((x.shape[0], C_out, *out_sp))
    for tap in itertools.product(*(range(k) for k in kernel)):
        sl = tuple(slice(tap[a] * dilation[a],
                         tap[a] * dilation[a] + stride[a] * (out_sp[a] - 1) + 1, stride[a])
                   for a in range(nd))
        patch = xp[(slice(None), slice(None)) + sl]          # (B, C_in, *out_sp)
        for g in range(groups):
            wt = w[(slice(g * Og, (g + 1) * Og), slice(None)) + tuple(tap)]  # (Og, Cg)
            out[:, g * Og:(g + 1) * Og] += np.einsum(
                "oc,bc...->bo...", wt, patch[:, g * Cg:(g + 1) * Cg])
    return out


def torch_out_size(L, k, s, p, d):
    """The formula of the PyTorch Conv2d documentation (p: symmetric padding)."""
    return int(np.floor((L + 2 * p - d * (k - 1) - 1) / s + 1))


def dense(csr):
    M = np.zeros((csr.n_pre, csr.n_post))
    rows = np.repeat(np.arange(csr.n_pre), np.diff(csr.indptr))
    np.add.at(M, (rows, csr.indices), csr.weights)
    return M


def check_csr(csr, n_pre, n_post):
    assert isinstance(csr, CSR)
    assert csr.indptr.dtype == np.int64 and csr.indices.dtype == np.int32
    assert csr.weights.dtype == np.float64
    assert csr.n_pre == n_pre and csr.n_post == n_post
    assert csr.indptr[0] == 0 and csr.indptr[-1] == csr.nnz
    assert np.all(np.diff(csr.indptr) >= 0)
    if csr.nnz:
        assert csr.indices.min() >= 0 and csr.indices.max() < n_post
    # rows strictly ascending in post id (sorted, no multapses)
    rows = np.repeat(np.arange(n_pre), np.diff(csr.indptr))
    key = rows.astype(np.int64) * n_post + csr.indices
    assert np.all(np.diff(key) > 0)
    # and the validating constructor accepts it
    CSR(csr.indptr, csr.indices, np.array(csr.weights), n_post=n_post)


def jacobian(fn, in_shape):
    """Dense (n_pre, n_post) matrix of a linear map: responses to unit inputs."""
    n = int(np.prod(in_shape))
    eye = np.eye(n).reshape((n,) + tuple(in_shape))
    return fn(eye).reshape(n, -1)


# --------------------------------------------------------------------------
# the reference itself
# --------------------------------------------------------------------------
def test_reference_matches_scipy_correlate():
    rng = np.random.default_rng(1)
    for _ in range(20):
        C, n_out = rng.integers(1, 4, size=2)
        H, W = rng.integers(3, 9, size=2)
        kh, kw = rng.integers(1, 4, size=2)
        x = rng.normal(size=(1, C, H, W))
        w = rng.normal(size=(n_out, C, kh, kw))
        want = np.stack([sum(signal.correlate(x[0, c], w[o, c], mode="valid")
                             for c in range(C)) for o in range(n_out)])
        np.testing.assert_allclose(ref_conv(x, w, 1, 0, 1, 1)[0], want, atol=1e-12)
        # padding 'full' via scipy on an explicitly padded input
        p = int(rng.integers(0, 3))
        xp = np.pad(x[0], [(0, 0), (p, p), (p, p)])
        want = np.stack([sum(signal.correlate(xp[c], w[o, c], mode="valid")
                             for c in range(C)) for o in range(n_out)])
        np.testing.assert_allclose(ref_conv(x, w, 1, p, 1, 1)[0], want, atol=1e-12)


# --------------------------------------------------------------------------
# conv2d / conv1d against the reference
# --------------------------------------------------------------------------
def _random_padding(rng, nd):
    r = rng.integers(0, 6)
    if r == 0:
        return "valid"
    if r == 1:
        return "same"
    if r == 2:
        return int(rng.integers(0, 3))
    if r == 3:
        return tuple(int(v) for v in rng.integers(0, 3, size=nd))
    return tuple((int(a), int(b)) for a, b in rng.integers(0, 3, size=(nd, 2)))


def _random_config(rng, nd):
    while True:
        groups = int(rng.choice([1, 1, 2, 3]))
        C_in = groups * int(rng.integers(1, 3)) if groups > 1 else int(rng.integers(1, 4))
        C_out = groups * int(rng.integers(1, 3))
        sp = tuple(int(v) for v in rng.integers(1, 10, size=nd))
        k = tuple(int(v) for v in rng.integers(1, 5, size=nd))
        stride = tuple(int(v) for v in rng.integers(1, 4, size=nd))
        dilation = tuple(int(v) for v in rng.integers(1, 3, size=nd))
        padding = _random_padding(rng, nd)
        if padding == "same":
            stride = (1,) * nd
        if rng.random() < 0.3:            # scalar arguments too
            stride, dilation = stride[0], dilation[0]
            if nd == 2 and padding != "same":
                stride = int(rng.integers(1, 4))
        pads = _pads(padding, k, _tup(dilation, nd), nd)
        d = _tup(dilation, nd)
        if all(sp[a] + sum(pads[a]) >= d[a] * (k[a] - 1) + 1 for a in range(nd)):
            return C_in, C_out, sp, k, stride, padding, dilation, groups


@pytest.mark.parametrize("nd", [1, 2])
def test_conv_matches_reference(nd):
    rng = np.random.default_rng(2024 + nd)
    build = conv2d if nd == 2 else conv1d
    n_configs = 250 if nd == 2 else 150
    for _ in range(n_configs):
        C_in, C_out, sp, k, stride, padding, dilation, groups = _random_config(rng, nd)
        w = rng.normal(size=(C_out, C_in // groups) + k)
        in_shape = (C_in,) + sp
        csr, out_shape = build(in_shape, w, stride=stride, padding=padding,
                               dilation=dilation, groups=groups)
        cfg = dict(in_shape=in_shape, k=k, stride=stride, padding=padding,
                   dilation=dilation, groups=groups)
        def fn(xb, w=w, cfg=(stride, padding, dilation, groups)):
            return ref_conv(xb, w, *cfg)

        x = rng.normal(size=(3,) + in_shape)
        want = fn(x)
        assert out_shape == want.shape[1:], cfg
        assert all(isinstance(v, int) for v in out_shape)
        check_csr(csr, int(np.prod(in_shape)), int(np.prod(out_shape)))
        got = x.reshape(3, -1) @ dense(csr)
        np.testing.assert_allclose(got, want.reshape(3, -1), rtol=0, atol=1e-12,
                                   err_msg=str(cfg))
        # the structure is exactly the taps inside the input (random weights are
        # nonzero, so the Jacobian's support is the set of synapses)
        J = jacobian(fn, in_shape)
        np.testing.assert_allclose(dense(csr), J, rtol=0, atol=1e-12, err_msg=str(cfg))
        assert csr.nnz == np.count_nonzero(J), cfg


def test_output_shape_pytorch_formula():
    rng = np.random.default_rng(5)
    for _ in range(300):
        H, W = (int(v) for v in rng.integers(1, 20, size=2))
        k, s, p, d = (int(rng.integers(1, 5)), int(rng.integers(1, 4)),
                      int(rng.integers(0, 3)), int(rng.integers(1, 3)))
        oh, ow = torch_out_size(H, k, s, p, d), torch_out_size(W, k, s, p, d)
        if oh < 1 or ow < 1:
            with pytest.raises(ValueError, match="kernel is larger than the padded input"):
                conv_output_shape((1, H, W), k, s, p, d)
            continue
        assert conv_output_shape((2, H, W), k, s, p, d, out_channels=5) == (5, oh, ow)
        assert conv_output_shape((2, H, W), (k, 1), (s, 1), (p, 0), (d, 1)) == (2, oh, W)
        assert conv_output_shape((2, H), k, s, p, d) == (2, oh)
        if s == 1:
            assert conv_output_shape((2, H, W), k, 1, "same", d) == (2, H, W)
        if oh * ow <= 400 and H * W <= 400:
            w = np.ones((1, 1, k, k))
            assert conv2d((1, H, W), w, s, p, d)[1] == (1, oh, ow)


def test_nir_nodes_shapes():
    nir = pytest.importorskip("nir")
    rng = np.random.default_rng(7)
    w = rng.normal(size=(4, 2, 3, 3))
    node = nir.Conv2d(input_shape=(9, 7), weight=w, stride=2, padding=1, dilation=1,
                      groups=1, bias=np.zeros(4))
    csr, shape = conv2d((2, *node.input_shape), node.weight, node.stride, node.padding,
                        node.dilation, node.groups)
    assert shape == tuple(int(v) for v in node.output_type["output"])
    w1 = rng.normal(size=(3, 1, 4))
    node = nir.Conv1d(input_shape=11, weight=w1, stride=3, padding=2, dilation=2,
                      groups=1, bias=np.zeros(3))
    csr, shape = conv1d((1, node.input_shape), node.weight, node.stride, node.padding,
                        node.dilation, node.groups)
    assert shape == tuple(int(v) for v in node.output_type["output"])
    # NIR pooling nodes carry numpy arrays
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))
    _, shape = sum_pool2d((4, 4, 2), pool.kernel_size, pool.stride, pool.padding)
    assert shape == (4, 2, 1)


def test_conv_example_expansion_and_bytes():
    w = np.random.default_rng(0).normal(size=(16, 1, 5, 5))
    csr, shape = conv2d((1, 28, 28), w)
    assert shape == (16, 24, 24)
    assert csr.nnz == 16 * 24 * 24 * 25 == 230400
    assert csr.nnz / w.size == 576
    assert csr.bytes_per_synapse == 12.0
    assert csr.nbytes == 230400 * 12 + 785 * 8


def test_conv_weights_dtypes_and_drop_zeros():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(3, 2, 3, 3))
    w[w < 0] = 0.0
    w[0, 0, 1, 1] = 0.0
    csr, _ = conv2d((2, 6, 5), w, padding=1)
    kept, _ = conv2d((2, 6, 5), w, padding=1, drop_zeros=True)
    assert csr.nnz == conv2d((2, 6, 5), np.ones_like(w), padding=1)[0].nnz
    assert kept.nnz == np.count_nonzero(csr.weights) < csr.nnz
    assert np.all(kept.weights != 0)
    check_csr(kept, 60, 90)
    np.testing.assert_array_equal(dense(kept), dense(csr))
    # float32 / integer kernels give float64 weights with the same values
    c32, _ = conv2d((2, 6, 5), w.astype(np.float32), padding=1)
    assert c32.weights.dtype == np.float64
    np.testing.assert_array_equal(c32.weights, w.astype(np.float32).astype(np.float64)[
        _weight_positions(csr, w)])
    ci, _ = conv2d((2, 6, 5), np.arange(54).reshape(3, 2, 3, 3), padding=1)
    assert ci.weights.dtype == np.float64
    # every-zero kernel with drop_zeros: no synapses, valid CSR
    z, shape = conv2d((2, 6, 5), np.zeros((3, 2, 3, 3)), drop_zeros=True)
    assert z.nnz == 0 and shape == (3, 4, 3)
    check_csr(z, 60, 36)


def _weight_positions(csr, w):
    """Index (into w) of every synapse, recovered by matching values of a
    kernel with distinct entries built on the same geometry."""
    code = np.arange(w.size, dtype=np.float64).reshape(w.shape) + 1.0
    c, _ = conv2d((2, 6, 5), code, padding=1)
    assert np.array_equal(c.indices, csr.indices)
    return np.unravel_index(c.weights.astype(np.int64) - 1, w.shape)


def test_depthwise_and_rows_without_synapses():
    # stride > kernel: some inputs reach no output -> empty rows
    w = np.ones((2, 1, 1, 1))
    csr, shape = conv2d((2, 5, 5), w, stride=2, groups=2)
    assert shape == (2, 3, 3)
    deg = csr.out_degree().reshape(2, 5, 5)
    even = np.arange(5) % 2 == 0
    assert np.array_equal(deg, np.broadcast_to(np.outer(even, even), (2, 5, 5)))
    assert csr.nnz == 18


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------
def _random_pool(rng):
    while True:
        C = int(rng.integers(1, 4))
        H, W = (int(v) for v in rng.integers(1, 10, size=2))
        k = tuple(int(v) for v in rng.integers(1, 5, size=2))
        stride = None if rng.random() < 0.4 else tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding = int(rng.integers(0, 3)) if rng.random() < 0.5 else \
            tuple(int(v) for v in rng.integers(0, 3, size=2))
        p = _pads(padding, k, (1, 1), 2)
        if H + sum(p[0]) >= k[0] and W + sum(p[1]) >= k[1]:
            return C, H, W, k, stride, padding


def test_pooling_matches_reference():
    rng = np.random.default_rng(11)
    for _ in range(150):
        C, H, W, k, stride, padding = _random_pool(rng)
        s = k if stride is None else stride
        ones = np.ones((C, 1) + k)
        x = rng.normal(size=(2, C, H, W))
        want_sum = ref_conv(x, ones, s, padding, 1, C)
        csr, shape = sum_pool2d((C, H, W), k if rng.random() < 0.5 else list(k),
                                stride, padding)
        assert shape == want_sum.shape[1:]
        check_csr(csr, C * H * W, int(np.prod(shape)))
        np.testing.assert_allclose(x.reshape(2, -1) @ dense(csr), want_sum.reshape(2, -1),
                                   rtol=0, atol=1e-12)
        avg, shape2 = avg_pool2d((C, H, W), k, stride, padding)
        assert shape2 == shape
        # count_include_pad=True: the divisor is the window size everywhere
        np.testing.assert_allclose(x.reshape(2, -1) @ dense(avg),
                                   want_sum.reshape(2, -1) / (k[0] * k[1]),
                                   rtol=0, atol=1e-12)
        assert np.array_equal(avg.indices, csr.indices)
        for c, val in ((csr, 1.0), (avg, 1.0 / (k[0] * k[1]))):
            if c.nnz > 1:
                assert is_shared(c.weights)
                assert c.bytes_per_synapse == 4.0
                assert c.nbytes == c.indptr.nbytes + c.indices.nbytes + 8
            assert np.all(c.weights == val)


def test_pooling_example():
    csr, shape = avg_pool2d((1, 4, 4), 2)
    assert shape == (1, 2, 2)
    M = dense(csr)
    img = np.arange(16.0)
    np.testing.assert_allclose(img @ M, [2.5, 4.5, 10.5, 12.5])
    csr, shape = sum_pool2d((1, 3, 3), 2, stride=1, padding=1)
    assert shape == (1, 4, 4)
    np.testing.assert_allclose((np.ones(9) @ dense(csr)).reshape(4, 4),
                               [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_channel_bias():
    b = channel_bias([1.0, -2.0], (2, 2, 3))
    assert b.dtype == np.float64
    np.testing.assert_array_equal(b.reshape(2, 2, 3)[0], 1.0)
    np.testing.assert_array_equal(b.reshape(2, 2, 3)[1], -2.0)
    np.testing.assert_array_equal(channel_bias(0.5, (3, 4)), np.full(12, 0.5))
    with pytest.raises(ValueError, match="bias must have shape"):
        channel_bias([1.0, 2.0], (3, 4))
    with pytest.raises(ValueError, match="bias must be finite"):
        channel_bias([np.nan], (1, 4))
    with pytest.raises(TypeError, match="bias must be real"):
        channel_bias(["a"], (1, 4))


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------
W2 = np.ones((4, 2, 3, 3))

CONV2D_ERRORS = [
    (dict(input_shape=(2, 5)), ValueError, r"input_shape=\(2, 5\).*3 entries"),
    (dict(input_shape=5), TypeError, "input_shape must be a sequence"),
    (dict(input_shape="abc"), TypeError, "input_shape must be"),
    (dict(input_shape=(2, 5.0, 5)), TypeError, "input_shape must hold integers"),
    (dict(input_shape=(2, 0, 5)), ValueError, r"input_shape.*>= 1"),
    (dict(input_shape=(2, -1, 5)), ValueError, r"input_shape.*>= 1"),
    (dict(input_shape=(3, 5, 5)), ValueError, r"weight.shape\[1\] must be C_in / groups = 3, got 2"),
    (dict(input_shape=(2, 70000, 70000)), ValueError, "input_shape.*more than"),
    (dict(stride=0), ValueError, "stride=0 is not allowed; stride must be >= 1"),
    (dict(stride=-1), ValueError, "stride=-1 is not allowed"),
    (dict(stride=(1, 0)), ValueError, r"stride=\(1, 0\) is not allowed"),
    (dict(stride=(1, 1, 1)), ValueError, "stride.*must have 2 entries"),
    (dict(stride=1.5), TypeError, "stride must be an int or a sequence"),
    (dict(stride=True), TypeError, "stride must be"),
    (dict(dilation=0), ValueError, "dilation=0 is not allowed"),
    (dict(padding=-1), ValueError, "padding=-1 is not allowed; padding must be >= 0"),
    (dict(padding=(1, -1)), ValueError, r"padding=\(1, -1\) is not allowed"),
    (dict(padding=((0, 1), (2, -1))), ValueError, "padding=.*is not allowed"),
    (dict(padding=(1, 1, 1)), ValueError, "padding.*got 3 entries"),
    (dict(padding="full"), ValueError, "padding='full' is not allowed.*'same' or 'valid'"),
    (dict(padding="same", stride=2), ValueError, "padding='same' requires stride 1"),
    (dict(padding=1.0), TypeError, "padding must be"),
    (dict(padding=(1.0, 1)), TypeError, "padding must"),
    (dict(padding=((0, 1, 2), 1)), TypeError, "padding must"),
    (dict(groups=0), ValueError, "groups=0 is not allowed; groups must be >= 1"),
    (dict(groups=3), ValueError, "groups=3 is not allowed; groups must divide the number of input"),
    (dict(groups=2), ValueError, r"weight.shape\[1\] must be C_in / groups = 1"),
    (dict(groups=2.0), TypeError, "groups must be an integer"),
    (dict(input_shape=(3, 5, 5), weight=np.ones((4, 1, 3, 3)), groups=3), ValueError,
     "groups must divide the number of output channels"),
    (dict(weight=np.ones((4, 2, 3))), ValueError, r"weight must be 4-D.*shape \(4, 2, 3\)"),
    (dict(weight=np.ones((0, 2, 3, 3))), ValueError, "weight must have every dimension >= 1"),
    (dict(weight=np.full((4, 2, 3, 3), "x")), TypeError, "weight must be a real"),
    (dict(weight=np.ones((4, 2, 3, 3), dtype=complex)), TypeError, "weight must be a real"),
    (dict(weight=np.where(np.arange(72).reshape(4, 2, 3, 3) == 5, np.nan, 1.0)), ValueError,
     r"weight must be finite, got nan at weight\[0, 0, 1, 2\]"),
    (dict(weight=np.full((4, 2, 3, 3), np.inf)), ValueError, "weight must be finite, got inf"),
    (dict(input_shape=(2, 2, 5)), ValueError,
     "kernel is larger than the padded input in spatial dimension 0: kernel size 3"),
    (dict(input_shape=(2, 5, 5), dilation=3), ValueError,
     "kernel is larger than the padded input.*spans 7.*padded input has 5"),
    (dict(drop_zeros=1), TypeError, "drop_zeros must be a bool"),
]


@pytest.mark.parametrize("kwargs,exc,match", CONV2D_ERRORS)
def test_conv2d_errors(kwargs, exc, match):
    args = dict(input_shape=(2, 5, 5), weight=W2)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        conv2d(**args)


def test_padding_rescues_small_input():
    # the same input that is too small unpadded works with enough padding
    csr, shape = conv2d((2, 2, 5), W2, padding=(1, 0))
    assert shape == (4, 2, 3)
    csr, shape = conv2d((2, 2, 5), W2, padding="same")
    assert shape == (4, 2, 5)


CONV1D_ERRORS = [
    (dict(input_shape=(2, 5, 5)), ValueError, "input_shape.*2 entries"),
    (dict(weight=np.ones((4, 2, 3, 3))), ValueError, r"weight must be 3-D"),
    (dict(stride=(1, 1)), ValueError, "stride.*1 entries"),
    (dict(stride=0), ValueError, "stride=0 is not allowed"),
    (dict(padding=-2), ValueError, "padding=-2 is not allowed"),
    (dict(padding="same", stride=3), ValueError, "padding='same' requires stride 1"),
    (dict(input_shape=(2, 2)), ValueError, "kernel is larger than the padded input"),
    (dict(weight=np.array([[[1.0, np.inf, 1.0]]] * 4).repeat(2, axis=1)), ValueError,
     "weight must be finite"),
]


@pytest.mark.parametrize("kwargs,exc,match", CONV1D_ERRORS)
def test_conv1d_errors(kwargs, exc, match):
    args = dict(input_shape=(2, 5), weight=np.ones((4, 2, 3)))
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        conv1d(**args)


POOL_ERRORS = [
    (dict(kernel_size=0), ValueError, "kernel_size=0 is not allowed; kernel_size must be >= 1"),
    (dict(kernel_size=(2, 2, 2)), ValueError, "kernel_size.*2 entries"),
    (dict(kernel_size=2.0), TypeError, "kernel_size must be an int"),
    (dict(stride=0), ValueError, "stride=0 is not allowed"),
    (dict(stride=(2, -1)), ValueError, r"stride=\(2, -1\) is not allowed"),
    (dict(padding=-1), ValueError, "padding=-1 is not allowed"),
    (dict(padding="same"), ValueError, "padding='same' requires stride 1"),
    (dict(kernel_size=6), ValueError, "kernel is larger than the padded input"),
    (dict(input_shape=(2, 5)), ValueError, "input_shape.*3 entries"),
    (dict(input_shape=(0, 5, 5)), ValueError, r"input_shape.*>= 1"),
]


@pytest.mark.parametrize("builder", [sum_pool2d, avg_pool2d])
@pytest.mark.parametrize("kwargs,exc,match", POOL_ERRORS)
def test_pool_errors(builder, kwargs, exc, match):
    args = dict(input_shape=(2, 5, 5), kernel_size=2)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        builder(**args)


def test_output_shape_errors():
    with pytest.raises(TypeError, match="input_shape must be a sequence"):
        conv_output_shape(5, 3)
    with pytest.raises(ValueError, match="out_channels=0 is not allowed"):
        conv_output_shape((1, 5, 5), 3, out_channels=0)
    with pytest.raises(ValueError, match="padding='same' requires stride 1"):
        conv_output_shape((1, 5, 5), 3, stride=2, padding="same")


def test_memory_guard_refuses_before_allocating():
    import eventsnn
    eventsnn.set_memory_limit(10_000)
    try:
        with pytest.raises(MemoryError, match="input_shape=.*conv2d layer"):
            conv2d((2, 30, 30), W2)
        with pytest.raises(MemoryError, match="input_shape=.*sum_pool2d layer"):
            sum_pool2d((2, 60, 60), 2)
        conv2d((2, 5, 5), W2)                 # small layers still fit
    finally:
        eventsnn.set_memory_limit(None)
