"""Convolution and pooling layers as sparse connectivity (CSR), e.g. for importing
convolutional spiking networks from NIR (``nir.Conv1d``, ``nir.Conv2d``,
``nir.SumPool2d``, ``nir.AvgPool2d``).

Layout convention
-----------------
The neurons of a layer of shape ``(C, H, W)`` are numbered in C order
(channel-major, then row, then column): neuron ``(c, y, x)`` has local id
``(c * H + y) * W + x``, exactly ``np.arange(C * H * W).reshape(C, H, W)``.  This
is PyTorch's flatten of a ``(C, H, W)`` tensor, so a ``nir.Flatten`` (from
``start_dim=0`` of a sample) is the identity on neuron ids.  1-D layers ``(C, L)``
are numbered ``c * L + x``.  Presynaptic ids (CSR rows) are ids in the input
layer, postsynaptic ids (``CSR.indices``) ids in the output layer.

Semantics
---------
PyTorch's cross-correlation: ``out[o, y, x] = sum_{c, i, j} w[o, c - g*Cg, i, j] *
in[c, y*sy + i*dy - py, x*sx + j*dx - px]`` over the input channels ``c`` of the
group ``g = o // (C_out / groups)`` (``Cg = C_in / groups`` channels per group).
A synapse ``in -> out`` with weight ``w[...]`` exists for every kernel tap that
falls inside the (unpadded) input: zero padding contributes nothing, so a padded
position creates no synapse.  The output shape is PyTorch's
``floor((L + p_lo + p_hi - d*(k-1) - 1) / s) + 1`` per spatial dimension.
``padding`` may be an int, one int per spatial dimension (symmetric, as in
PyTorch), one ``(low, high)`` pair per spatial dimension (asymmetric), or the
strings ``'valid'`` (no padding) and ``'same'`` (stride 1 only; total padding
``d*(k-1)`` per dimension, the odd pixel on the high side, as PyTorch).  A bias
(``nir.Conv2d.bias``, one value per output channel) is not a synapse; expand it
to one value per output neuron with :func:`channel_bias`.  With NIR, the number
of input channels is ``weight.shape[1] * groups``.

Memory
------
Kernels are *expanded*, not shared: every (input neuron, output neuron, tap)
triple is its own synapse with its own weight, because eventsnn's CSR stores one
weight per synapse (which also lets plasticity change each copy independently).
A convolution synapse costs 12 bytes (4-byte ``int32`` target + 8-byte
``float64`` weight), plus 8 bytes of ``indptr`` per input neuron.  Pooling
synapses share one weight (``shared_weights``: a stride-0 read-only view), so
they cost 4 bytes (the target only).

Expansion factor, measured: a 16x1x5x5 kernel (400 parameters) on a 1x28x28
input (padding 0, stride 1) gives a 16x24x24 output and 16 * 24*24 * 25 =
230,400 synapses, i.e. 576 synapses per kernel parameter (one per output
position); the CSR holds 2,771,080 bytes (230,400 * 12 + 785 * 8) against 3,200
bytes for the float64 kernel.  In general a convolution has about
``C_out * OH * OW * (C_in / groups) * kH * kW`` synapses (fewer at padded
borders), i.e. ``OH * OW`` times the kernel size.

Construction is vectorised: the spatial pattern of one (input channel, output
channel) pair is built once (a loop over the ``kH * kW`` kernel offsets, then a
sort of ``OH * OW * kH * kW`` entries), and the full CSR is produced from it by
broadcasting over channels, already sorted by row (presynaptic id) and, within a
row, by ascending postsynaptic id.
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np

from .._dtypes import ID, PTR, WEIGHT
from .._validate import boolean, check_memory, integer
from .csr import CSR, MAX_NEURONS, shared_weights

__all__ = ["conv1d", "conv2d", "sum_pool2d", "avg_pool2d", "conv_output_shape",
           "channel_bias"]


# --------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------
def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _int_tuple(name, value, nd, lo, *, allow_scalar=True):
    """A tuple of ``nd`` ints >= lo from an int (broadcast) or a sequence of length nd."""
    if allow_scalar and _is_int(value):
        v = int(value)
        if v < lo:
            raise ValueError(f"{name}={v} is not allowed; {name} must be >= {lo}")
        return (v,) * nd
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        what = f"an int or a sequence of {nd} ints" if allow_scalar else f"a sequence of {nd} ints"
        raise TypeError(f"{name} must be {what}, got {value!r} of type "
                        f"{type(value).__name__}")
    if isinstance(value, np.ndarray) and value.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {value.shape}")
    vals = list(value)
    if len(vals) != nd:
        raise ValueError(f"{name}={_show(value)} is not allowed; {name} must have "
                         f"{nd} entries, got {len(vals)}")
    out = []
    for v in vals:
        if not _is_int(v):
            raise TypeError(f"{name} must hold integers, got {_show(value)} with "
                            f"entry {v!r} of type {type(v).__name__}")
        if int(v) < lo:
            raise ValueError(f"{name}={_show(value)} is not allowed; every entry of "
                             f"{name} must be >= {lo}")
        out.append(int(v))
    return tuple(out)


def _show(value):
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    return repr(value)


def _input_shape(input_shape, nd):
    what = "(C_in, L)" if nd == 1 else "(C_in, H, W)"
    if _is_int(input_shape):
        raise TypeError(f"input_shape must be a sequence {what} of {nd + 1} ints, "
                        f"got {input_shape!r}")
    shape = _int_tuple("input_shape", input_shape, nd + 1, 1, allow_scalar=False)
    n = int(np.prod(shape, dtype=np.int64))
    if n > MAX_NEURONS:
        raise ValueError(f"input_shape={shape} has {n} neurons, more than "
                         f"{MAX_NEURONS} (ids are int32)")
    return shape


def _padding(padding, nd, kernel, stride, dilation):
    """Per-dimension (low, high) zero padding."""
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in range(nd))
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"padding='same' requires stride 1, got stride={stride}")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"padding={padding!r} is not allowed; a string padding must "
                         f"be 'same' or 'valid'")
    if _is_int(padding):
        p = int(padding)
        if p < 0:
            raise ValueError(f"padding={p} is not allowed; padding must be >= 0")
        return tuple((p, p) for _ in range(nd))
    what = (f"an int >= 0, 'same', 'valid', or a sequence of {nd} ints or of {nd} "
            f"(low, high) pairs")
    if isinstance(padding, bytes) or not hasattr(padding, "__len__"):
        raise TypeError(f"padding must be {what}, got {padding!r} of type "
                        f"{type(padding).__name__}")
    entries = list(padding)
    if len(entries) != nd:
        raise ValueError(f"padding={_show(padding)} is not allowed; padding must be "
                         f"{what} (got {len(entries)} entries)")
    pads = []
    for e in entries:
        if _is_int(e):
            pair = (e, e)
        elif hasattr(e, "__len__") and not isinstance(e, (str, bytes)) and len(e) == 2:
            pair = tuple(e)
        else:
            raise TypeError(f"padding must be {what}, got {_show(padding)} with "
                            f"entry {e!r}")
        for v in pair:
            if not _is_int(v):
                raise TypeError(f"padding must hold integers, got {_show(padding)} "
                                f"with entry {v!r} of type {type(v).__name__}")
            if int(v) < 0:
                raise ValueError(f"padding={_show(padding)} is not allowed; padding "
                                 f"must be >= 0")
        pads.append((int(pair[0]), int(pair[1])))
    return tuple(pads)


def _out_size(L, k, s, d, pad, dim):
    eff = d * (k - 1) + 1
    padded = L + pad[0] + pad[1]
    if eff > padded:
        raise ValueError(f"the kernel is larger than the padded input in spatial "
                         f"dimension {dim}: kernel size {k} with dilation {d} spans "
                         f"{eff}, the padded input has {padded} ({L} + padding "
                         f"{pad[0]} + {pad[1]})")
    return (padded - eff) // s + 1


def _weight(weight, nd):
    a = np.asarray(weight)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"weight must be a real (integer or floating) array, got "
                        f"dtype {a.dtype}")
    if a.ndim != nd + 2:
        want = "(C_out, C_in/groups, L_k)" if nd == 1 else "(C_out, C_in/groups, kH, kW)"
        raise ValueError(f"weight must be {nd + 2}-D {want}, got an array of shape "
                         f"{a.shape}")
    if any(n < 1 for n in a.shape):
        raise ValueError(f"weight must have every dimension >= 1, got shape {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        pos = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"weight must be finite, got {float(a[pos])!r} at weight{list(pos)}")
    return a.astype(WEIGHT, copy=False)


# --------------------------------------------------------------------------
# structure
# --------------------------------------------------------------------------
def _geometry(in_spatial, kernel, stride, padding, dilation):
    """Output spatial shape, checking that the kernel fits the padded input."""
    return tuple(_out_size(L, k, s, d, p, dim) for dim, (L, k, s, d, p)
                 in enumerate(zip(in_spatial, kernel, stride, dilation, padding)))


def _spatial_pattern(in_spatial, out_spatial, kernel, stride, padding, dilation):
    """Connections of one input channel to one output channel, sorted by (pre, post).

    Returns ``(indptr, post, koff)``: CSR over the ``prod(in_spatial)`` input
    positions with target output positions ``post`` (int32) and the flat kernel
    offset ``koff`` (int64) of each connection.
    """
    nd = len(in_spatial)
    n_in = int(np.prod(in_spatial))
    n_out = int(np.prod(out_spatial))
    # per dimension and tap: output coordinates whose tap lands inside the input
    taps = []
    for L, n_o, k, s, d, (plo, _) in zip(in_spatial, out_spatial, kernel, stride,
                                         dilation, padding):
        o = np.arange(n_o, dtype=np.int64)
        per_tap = []
        for i in range(k):
            pos = o * s + i * d - plo
            ok = (pos >= 0) & (pos < L)
            per_tap.append((o[ok], pos[ok]))
        taps.append(per_tap)
    pres, posts, koffs = [], [], []
    for kflat, offs in enumerate(itertools.product(*(range(k) for k in kernel))):
        pre = np.zeros(1, dtype=np.int64)
        post = np.zeros(1, dtype=np.int64)
        for dim in range(nd):
            o, p = taps[dim][offs[dim]]
            pre = (pre[:, None] * in_spatial[dim] + p[None, :]).ravel()
            post = (post[:, None] * out_spatial[dim] + o[None, :]).ravel()
        pres.append(pre)
        posts.append(post)
        koffs.append(np.full(pre.shape[0], kflat, dtype=np.int64))
    pre = np.concatenate(pres)
    post = np.concatenate(posts)
    koff = np.concatenate(koffs)
    key = pre * n_out + post            # unique: a (pre, post) pair fixes the tap
    order = np.argsort(key, kind="stable")
    key = key[order]
    indptr = np.searchsorted(key, np.arange(n_in + 1, dtype=np.int64) * n_out)
    return indptr.astype(np.int64), (key % n_out).astype(ID), koff[order]


def _build(in_shape, out_channels, groups, kernel, stride, padding, dilation,
           weight_flat=None, shared=None, drop_zeros=False, name="conv"):
    """CSR of a grouped convolution (per-synapse weights) or a pooling (shared weight).

    ``weight_flat`` is the float64 kernel flattened as (C_out, C_in/groups, K).
    For pooling pass ``shared`` (the shared weight value) and groups = channels.
    """
    C_in = in_shape[0]
    in_spatial = in_shape[1:]
    out_spatial = _geometry(in_spatial, kernel, stride, padding, dilation)
    out_shape = (out_channels,) + out_spatial
    n_pre = int(np.prod(in_shape, dtype=np.int64))
    n_out_sp = int(np.prod(out_spatial, dtype=np.int64))
    n_post = out_channels * n_out_sp
    if n_post > MAX_NEURONS:
        raise ValueError(f"the output shape {out_shape} has {n_post} neurons, more "
                         f"than {MAX_NEURONS} (ids are int32)")
    Cg = C_in // groups
    Og = out_channels // groups
    K = int(np.prod(kernel))

    # upper bound of the synapse count, for the memory guard (before allocating)
    nnz_bound = n_post * Cg * K
    per_syn = 4 if shared is not None else 4 + 8   # int32 target + float64 weight
    check_memory("input_shape", tuple(in_shape), nnz_bound * per_syn,
                 f"the synapses of a {name} layer ({nnz_bound} at most)")

    sp_indptr, sp_post, sp_koff = _spatial_pattern(in_spatial, out_spatial, kernel,
                                                   stride, padding, dilation)
    n_in_sp = sp_indptr.shape[0] - 1
    deg = np.diff(sp_indptr)                         # per input position
    nnz_sp = int(sp_indptr[-1])

    # template for one input channel: row p lists, for each output channel o of the
    # group (ascending), the spatial row p shifted to channel o -> ascending post id
    tlen = Og * nnz_sp
    row_of = np.repeat(np.arange(n_in_sp, dtype=np.int64), Og * deg)
    local = np.arange(tlen, dtype=np.int64) - (Og * sp_indptr[:-1])[row_of]
    L = deg[row_of]
    t_o = local // L                                 # L >= 1 on every entry
    entry = sp_indptr[:-1][row_of] + (local - t_o * L)
    del row_of, local, L
    t_post = (sp_post[entry].astype(np.int64) + t_o * n_out_sp).astype(ID)

    # full CSR: the input channels' rows are consecutive (pre = c * n_in_sp + p)
    g = np.arange(C_in, dtype=np.int64) // Cg
    indices = (t_post[None, :] + (g * Og * n_out_sp).astype(ID)[:, None]).ravel()
    row_deg = np.tile(Og * deg, C_in)
    indptr = np.zeros(n_pre + 1, dtype=PTR)
    np.cumsum(row_deg, out=indptr[1:])
    del row_deg

    if shared is not None:
        weights = shared_weights(shared, indices.shape[0])
        return CSR(indptr, indices, weights, n_post=n_post, check="none"), out_shape

    # weight of entry e of input channel c = g*Cg + cl: weight_flat[g*Og + o[e], cl, koff[e]],
    # i.e. table[c, o[e]*K + koff[e]] with table (C_in, Og*K) built from the kernel
    t_w = t_o * K + sp_koff[entry]
    del t_o, entry
    table = (weight_flat.reshape(groups, Og, Cg, K).transpose(0, 2, 1, 3)
             .reshape(C_in, Og * K))
    weights = np.take(table, t_w, axis=1).ravel()
    if drop_zeros:
        keep = weights != 0.0
        if not keep.all():
            cum = np.zeros(indices.shape[0] + 1, dtype=PTR)
            np.cumsum(keep, out=cum[1:])
            indptr = cum[indptr]
            indices = indices[keep]
            weights = weights[keep]
    return CSR(indptr, indices, weights, n_post=n_post, check="none"), out_shape


def _conv(nd, input_shape, weight, stride, padding, dilation, groups, drop_zeros):
    name = f"conv{nd}d"
    in_shape = _input_shape(input_shape, nd)
    w = _weight(weight, nd)
    groups = integer("groups", groups, lo=1)
    drop_zeros = boolean("drop_zeros", drop_zeros)
    C_in = in_shape[0]
    C_out = w.shape[0]
    if C_in % groups:
        raise ValueError(f"groups={groups} is not allowed; groups must divide the "
                         f"number of input channels input_shape[0] = {C_in}")
    if C_out % groups:
        raise ValueError(f"groups={groups} is not allowed; groups must divide the "
                         f"number of output channels weight.shape[0] = {C_out}")
    if w.shape[1] * groups != C_in:
        raise ValueError(f"weight of shape {w.shape} does not fit input_shape="
                         f"{in_shape} with groups={groups}: weight.shape[1] must be "
                         f"C_in / groups = {C_in // groups}, got {w.shape[1]}")
    kernel = tuple(int(k) for k in w.shape[2:])
    stride = _int_tuple("stride", stride, nd, 1)
    dilation = _int_tuple("dilation", dilation, nd, 1)
    pad = _padding(padding, nd, kernel, stride, dilation)
    wf = w.reshape(C_out, C_in // groups, -1)
    return _build(in_shape, C_out, groups, kernel, stride, pad, dilation,
                  weight_flat=wf, drop_zeros=drop_zeros, name=name)


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------
def conv2d(input_shape, weight, stride=1, padding=0, dilation=1, groups=1, *,
           drop_zeros=False):
    """Connectivity of a 2-D convolution (PyTorch ``conv2d`` semantics).

    Parameters
    ----------
    input_shape : sequence of 3 ints
        ``(C_in, H, W)`` of the presynaptic layer (all >= 1).
    weight : array_like of real, shape (C_out, C_in / groups, kH, kW)
        Kernel; finite.  Each tap inside the input becomes a synapse whose
        weight (mV, float64) is the kernel value.
    stride, dilation : int or (int, int)
        >= 1.
    padding : int, (int, int), ((int, int), (int, int)), 'same' or 'valid'
        Zero padding, >= 0: symmetric per dimension, or (low, high) per
        dimension.  'same' requires stride 1.
    groups : int
        Divides C_in and C_out.
    drop_zeros : bool
        Leave out synapses whose weight is exactly 0 (default False: the
        structure is the kernel's, zero taps included).

    Returns
    -------
    (CSR, tuple)
        The projection (``n_pre = C_in*H*W`` rows, ``n_post = C_out*OH*OW``;
        ids as in the module docstring; rows sorted by ascending post id) and
        the output shape ``(C_out, OH, OW)``.

    Raises
    ------
    TypeError, ValueError
        Naming the argument, the value and what is allowed.
    """
    return _conv(2, input_shape, weight, stride, padding, dilation, groups, drop_zeros)


def conv1d(input_shape, weight, stride=1, padding=0, dilation=1, groups=1, *,
           drop_zeros=False):
    """Connectivity of a 1-D convolution (PyTorch ``conv1d`` semantics).

    As :func:`conv2d` with ``input_shape = (C_in, L)``, ``weight`` of shape
    ``(C_out, C_in / groups, K)``, ``stride``/``dilation`` an int (or a
    1-sequence), ``padding`` an int, ``(int,)``, ``((low, high),)``, 'same' or
    'valid'.  Returns ``(CSR, (C_out, L_out))``.
    """
    return _conv(1, input_shape, weight, stride, padding, dilation, groups, drop_zeros)


def _pool(input_shape, kernel_size, stride, padding, value, name):
    in_shape = _input_shape(input_shape, 2)
    kernel = _int_tuple("kernel_size", kernel_size, 2, 1)
    stride = kernel if stride is None else _int_tuple("stride", stride, 2, 1)
    pad = _padding(padding, 2, kernel, stride, (1, 1))
    w = value(kernel)
    C = in_shape[0]
    return _build(in_shape, C, C, kernel, stride, pad, (1, 1), shared=w, name=name)


def sum_pool2d(input_shape, kernel_size, stride=None, padding=0):
    """Connectivity of a 2-D sum pooling: weight 1.0 from every input in a window.

    Parameters
    ----------
    input_shape : sequence of 3 ints
        ``(C, H, W)``.
    kernel_size : int or (int, int)
        Window ``(kH, kW)``, >= 1.
    stride : int, (int, int) or None
        None (default): ``kernel_size``, as in PyTorch.
    padding : int, (int, int), ((int, int), (int, int)), 'same' or 'valid'
        Zero padding (contributes nothing), >= 0.  PyTorch also requires
        padding <= kernel_size / 2; that is not enforced here (a window lying
        wholly in the padding simply has no synapses).

    Returns
    -------
    (CSR, tuple)
        One weight 1.0 shared by all synapses (``is_shared``: 4 bytes per
        synapse) and the output shape ``(C, OH, OW)`` (floor mode).
    """
    return _pool(input_shape, kernel_size, stride, padding, lambda k: 1.0, "sum_pool2d")


def avg_pool2d(input_shape, kernel_size, stride=None, padding=0):
    """Connectivity of a 2-D average pooling: weight ``1 / (kH * kW)`` per synapse.

    As :func:`sum_pool2d`; the divisor is always the window size, padded
    positions included (PyTorch ``count_include_pad=True``, ``ceil_mode=False``).
    The weight is shared by all synapses (4 bytes per synapse).
    """
    return _pool(input_shape, kernel_size, stride, padding,
                 lambda k: 1.0 / (k[0] * k[1]), "avg_pool2d")


def conv_output_shape(input_shape, kernel_size, stride=1, padding=0, dilation=1,
                      out_channels=None):
    """Output shape of a convolution or pooling without building it.

    ``input_shape`` is ``(C, *spatial)``; ``kernel_size``, ``stride``,
    ``dilation``, ``padding`` as in :func:`conv2d`.  Returns
    ``(out_channels or C, *out_spatial)``.
    """
    if _is_int(input_shape) or not hasattr(input_shape, "__len__") or len(input_shape) < 2:
        raise TypeError(f"input_shape must be a sequence (C, *spatial) of at least "
                        f"2 ints, got {input_shape!r}")
    nd = len(input_shape) - 1
    in_shape = _input_shape(input_shape, nd)
    kernel = _int_tuple("kernel_size", kernel_size, nd, 1)
    stride = _int_tuple("stride", stride, nd, 1)
    dilation = _int_tuple("dilation", dilation, nd, 1)
    pad = _padding(padding, nd, kernel, stride, dilation)
    C = in_shape[0] if out_channels is None else integer("out_channels", out_channels, lo=1)
    return (C,) + _geometry(in_shape[1:], kernel, stride, pad, dilation)


def channel_bias(bias, output_shape):
    """A per-output-channel bias (``nir.Conv2d.bias``) as one value per output neuron.

    Parameters
    ----------
    bias : array_like of real, shape (C_out,) or scalar
    output_shape : sequence of ints ``(C_out, *spatial)``

    Returns
    -------
    ndarray of float64, shape (prod(output_shape),), in the layout of the
    module docstring (``bias[c]`` repeated over the channel's positions).
    """
    if _is_int(output_shape) or not hasattr(output_shape, "__len__") or len(output_shape) < 1:
        raise TypeError(f"output_shape must be a sequence of ints, got {output_shape!r}")
    shape = _int_tuple("output_shape", output_shape, len(output_shape), 1,
                       allow_scalar=False)
    b = np.asarray(bias)
    if b.dtype.kind not in "iuf":
        raise TypeError(f"bias must be real, got dtype {b.dtype}")
    if b.ndim == 0:
        b = np.full(shape[0], float(b))
    if b.shape != (shape[0],):
        raise ValueError(f"bias must have shape (C_out,) = ({shape[0]},), got "
                         f"{b.shape}")
    if not np.isfinite(b).all():
        raise ValueError(f"bias must be finite, got {b.tolist()!r}")
    return np.repeat(b.astype(WEIGHT), int(np.prod(shape[1:], dtype=np.int64)))
