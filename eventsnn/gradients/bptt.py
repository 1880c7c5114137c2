"""Surrogate-gradient backpropagation through time on the grid network of :mod:`.gridnet`.

Forward pass: the model of :class:`~.gridnet.GridSNN` (see :mod:`.gridnet`).  Backward
pass: the exact derivative of the grid loss with respect to every parameter, except
that the spike nonlinearity s_k = H(Vh_k - theta) gets the derivative
``sigma'(Vh_k - theta)`` of a surrogate (:class:`Surrogate`); refractory steps and the
leaky read-out have no spike nonlinearity.  By default the reset is detached (its s
is a constant in the backward pass, as snnTorch does); ``detach_reset=False`` keeps
dV_k/ds_k = -theta (subtract) or -Vh_k (zero) in the chain.

Surrogates (x = Vh - theta in mV, ``slope`` in 1/mV)
-----------------------------------------------------
* ``fast_sigmoid``: 1 / (1 + slope |x|)^2 (SuperSpike, Zenke & Ganguli 2018; snnTorch's
  ``fast_sigmoid``).
* ``arctan``: (slope/2) / (1 + (pi/2 slope x)^2) (snnTorch's ``atan``).
* ``boxcar``: slope if |x| < 1/(2 slope) else 0 (unit area).
* ``triangle``: slope max(0, 1 - slope |x|) (unit area).
* ``lee``: after Lee et al. 2020 ("Enabling spike-based backpropagation for training
  deep neural network architectures", Front. Neurosci. 14:119), whose approximate
  derivative of a LIF neuron's output with respect to its input is (1 + eps)/theta
  with eps <= 0 a leak correction.  Our per-step reading: (1 + eps)/theta for
  |x| < theta (0 otherwise), with eps = -(potential lost to the leak)/(potential gained
  from input) of that neuron in that sample, clipped to [-1, 0]:
  leak = sum_k (1 - beta) V_{k-1}, gain = sum_k (Vh_k - beta V_{k-1}) over its
  non-refractory steps (eps = 0 when gain <= 0).  ``slope`` is not used.
* ``exact``: 0, the true derivative of H almost everywhere.  Then the gradient is the
  derivative of the (piecewise smooth) grid loss itself; the tests compare it with
  finite differences.

Losses (of one sample; the minibatch loss is the mean)
------------------------------------------------------
* :class:`CountCE` ``(scale)``: -log softmax(scale n)[label], n the output spike
  counts over steps 1..K; prediction argmax n (ties: the first).
* :class:`~.losses.MaxVoltageCE` ``(scale)``: -log softmax(scale max_k V_k)[label] for
  a leaky read-out (``output="voltage"``), max over steps 1..K (the first maximum gets
  the gradient); prediction argmax.
* :class:`~.losses.FirstSpikeCE` ``(tau0, tau1, alpha)``: the exact trainer's loss on
  the grid first-spike times t_n = sum_k t_k s_k prod_{m<k}(1 - s_m) + t_end
  prod_{m<=K}(1 - s_m) (t_end for a silent output).  Differentiating that expression:
  dt_n/ds_m = t_m - t_f for m < f (f = first spike step, t_f = t_end when silent),
  t_f - t_g at m = f (g = the second spike, t_end if none), 0 after f.  Unlike the
  exact gradient, this gives silent outputs a gradient (every s_m of a silent output
  has dt_n/ds_m = t_m - t_end) through the cross-entropy term; the early-spike
  regulariser alpha (e^{t/tau1} - 1) is in the loss but its derivative is dropped for
  a silent label output (alpha/tau1 e^{t_end/tau1}, e^15 at t_end = 100 ms, tau1 =
  6.4 ms, would swamp every other sample's gradient).  Prediction: the earliest
  spiking output (-1 if all are silent).

Predictions are strict: a sample is correct only when its label is the unique best
output (on the grid, ties are common; the exact losses count a tie as correct).
Refractory flags, like detached resets, are constants of the reverse pass.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .._validate import check_memory, integer, real
from . import _grid_kernels as K
from .gridnet import Dense, GridSNN
from .losses import FirstSpikeCE, MaxVoltageCE
from .optim import Adam
from .train import _check_inputs

__all__ = ["Surrogate", "CountCE", "loss_and_grad", "evaluate", "fit", "GridResult", "SURROGATES"]

SURROGATES = ("fast_sigmoid", "arctan", "boxcar", "triangle", "lee", "exact")   # codes as in _grid_kernels


@dataclass(frozen=True)
class Surrogate:
    """A surrogate derivative: ``kind`` in :data:`SURROGATES`, ``slope`` (1/mV, > 0)."""

    kind: str = "fast_sigmoid"
    slope: float = 25.0

    def __post_init__(self):
        if self.kind not in SURROGATES:
            raise ValueError(f"kind={self.kind!r} is not allowed; use one of {SURROGATES}")
        real("slope", self.slope, lo=0.0, lo_open=True)

    @property
    def code(self) -> int:
        return SURROGATES.index(self.kind)


@dataclass(frozen=True)
class CountCE:
    """Cross-entropy of the output spike counts: -log softmax(scale n)[label]."""

    scale: float = 1.0
    readout = "spike"

    def __post_init__(self):
        real("scale", self.scale, lo=0.0, lo_open=True)


# ---------------------------------------------------------------------- driver
class _Tables(NamedTuple):
    """The network as the kernels read it (see :mod:`._grid_kernels`)."""

    LI: np.ndarray
    LF: np.ndarray
    PTR: np.ndarray
    POST: np.ndarray
    WIDX: np.ndarray
    COEF: np.ndarray
    PO: np.ndarray
    EO: np.ndarray
    #: int64 [L + 2]: block offsets of the per-sample rows (layer 0 = input)
    off: np.ndarray


def _tables(net):
    t = getattr(net, "_grid_tables", None)
    if t is not None:
        return t
    K1 = net.K + 1
    L = len(net.layers)
    Q = len(net.projections)
    PO = np.zeros(Q + 1, np.int64)
    EO = np.zeros(Q + 1, np.int64)
    for q, P in enumerate(net.projections):
        PO[q + 1] = PO[q] + P.ptr.size
        EO[q + 1] = EO[q] + P.post.size
    LI = np.zeros((L, 8), np.int64)
    LF = np.zeros((L, 4))
    LI[:, K.I_RECQ] = -1
    for q, P in enumerate(net.projections):
        l = P.post_layer - 1
        if P.recurrent:
            LI[l, K.I_RECQ] = q
            LI[l, K.I_DR] = P.delay
        else:
            LI[l, K.I_FFQ] = q
            LI[l, K.I_D] = P.delay
            LI[l, K.I_DENSE] = net._woff[q] if isinstance(net.layers[l], Dense) else -1
    for l, c in enumerate(net.consts):
        LI[l, K.I_N] = net.sizes[l + 1]
        LI[l, K.I_SPK] = c.spiking
        LI[l, K.I_REFR] = c.refractory
        LF[l] = (c.alpha, c.beta, c.c, c.theta)
    off = np.zeros(L + 2, np.int64)
    off[1:] = np.cumsum([K1 * n for n in net.sizes])
    cat = (lambda xs, dt: np.ascontiguousarray(np.concatenate(xs).astype(dt)))
    t = _Tables(LI, LF, cat([P.ptr for P in net.projections], np.int64),
                cat([P.post for P in net.projections], np.int32), cat([P.widx for P in net.projections], np.int64),
                cat([P.coef for P in net.projections], np.float64), PO, EO, off)
    net._grid_tables = t
    return t


class _Workspace:
    """Per-sample buffers for minibatches of up to ``B`` samples, kept between
    minibatches (fresh large arrays cost page faults, a third of the step time when
    measured); a smaller batch uses the leading rows.  Bytes per sample: (K+1) x
    (9 per input + 17 per neuron), 8 per parameter, and 24 (K+1) per neuron of a
    batch-normalised layer."""

    def __init__(self, net, T, B):
        K1 = net.K + 1
        self.B = B
        self.key = (tuple(T.off), net.n_params, tuple(net.bn_layers))
        self.S = np.zeros((B, T.off[-1]), np.uint8)
        self.Vh = np.zeros((B, T.off[-1] - T.off[1]))
        self.G = np.zeros((B, T.off[-1]))
        self.Gv = np.zeros((B, K1, net.sizes[-1]))
        self.grads = np.zeros((B, net.n_params))
        self.out = np.zeros((B, 4))
        self.cnt = np.zeros((B, len(net.layers)), np.int64)
        self.Z = {lay: np.zeros((B, K1, net.sizes[lay])) for lay in net.bn_layers}
        self.X = {lay: np.zeros((B, K1, net.sizes[lay])) for lay in net.bn_layers}
        self.dX = {lay: np.zeros((B, K1, net.sizes[lay])) for lay in net.bn_layers}

    @staticmethod
    def of(net, T, B):
        ws = getattr(net, "_bptt_ws", None)
        if ws is None or ws.B < B or ws.key != (tuple(T.off), net.n_params, tuple(net.bn_layers)):
            need = B * (T.off[-1] * 17 + 8 * net.n_params)
            check_memory("batch_size", B, need, f"the minibatch buffers ({need} bytes)")
            ws = _Workspace(net, T, B)
            net._bptt_ws = ws
        return ws


_NONE3 = np.zeros((1, 1, 1))
_FUSED = True    # networks without batch norm take the fused kernel (tests switch it off to compare)


def _transposed(net, T):
    """The parameters with every dense projection transposed in place of itself."""
    w = net.params
    wt = w.copy()
    for l in range(len(net.layers)):
        o = T.LI[l, K.I_DENSE]
        if o >= 0:
            n_pre, n = net.sizes[l], net.sizes[l + 1]
            wt[o:o + n_pre * n] = w[o:o + n_pre * n].reshape(n_pre, n).T.ravel()
    return wt


def _run_bn(net, T, ws, B, code, lp, lab, surrogate, detach_reset, training, want_grad, update_running):
    """The batch-norm path: layer by layer over the whole minibatch."""
    K1 = net.K + 1
    w = net.params
    wt = _transposed(net, T)
    zr = net.reset == "zero"
    L = len(net.layers)
    S, Vh, G, Gv = ws.S[:B], ws.Vh[:B], ws.G[:B], ws.Gv[:B]
    out, cnt, grads = ws.out[:B], ws.cnt[:B], ws.grads[:B]
    bn_of = {lay: j for j, lay in enumerate(net.bn_layers)}
    caches = {}
    for l in range(1, L + 1):
        j = bn_of.get(l)
        if j is None:
            K.batch_fwd(l, T.LI, T.LF, K1, T.off, S, Vh, _NONE3, False, T.PTR, T.POST, T.WIDX, T.COEF, T.PO, T.EO,
                        zr, w, cnt)
        else:
            Z, X = ws.Z[l][:B], ws.X[l][:B]
            K.batch_ff(l, T.LI, K1, T.off, S, T.PTR, T.POST, T.WIDX, T.COEF, T.PO, T.EO, w, Z)
            caches[l] = _bn_forward(net, j, Z, X, training, update_running)
            K.batch_fwd(l, T.LI, T.LF, K1, T.off, S, Vh, X, True, T.PTR, T.POST, T.WIDX, T.COEF, T.PO, T.EO,
                        zr, w, cnt)
    K.batch_loss(code, lp, T.LI, K1, T.off, S, Vh, G, Gv, lab, net.dt, net.t_end, want_grad, out)
    if not want_grad:
        return None
    grads[...] = 0.0
    gbn = np.zeros(net.n_params)
    for l in range(L, 0, -1):
        j = bn_of.get(l)
        has_gv = l == L and code == K.L_VMAX
        if j is None:
            K.batch_bwd(l, T.LI, T.LF, K1, T.off, S, Vh, G, Gv, has_gv, out, zr, bool(detach_reset),
                        surrogate.code, surrogate.slope, T.PTR, T.POST, T.WIDX, T.COEF, T.PO, T.EO, w, wt, grads,
                        _NONE3, False)
        else:
            dX = ws.dX[l][:B]
            K.batch_bwd(l, T.LI, T.LF, K1, T.off, S, Vh, G, Gv, has_gv, out, zr, bool(detach_reset),
                        surrogate.code, surrogate.slope, T.PTR, T.POST, T.WIDX, T.COEF, T.PO, T.EO, w, wt, grads,
                        dX, True)
            dZ = _bn_backward(net, j, dX, caches[l], training, gbn)
            if training:
                # batch statistics spread every step's gradient over all steps and
                # samples: below this layer the reverse pass runs over all K steps
                out[:, 3] = net.K
            K.batch_ff_back(l, T.LI, K1, T.off, S, G, out, T.PTR, T.POST, T.WIDX, T.COEF, T.PO, T.EO, w, wt, dZ,
                            grads)
    return gbn


def _bn_view(A, C):
    """(B, K, C, P) view of steps 1..K of A[B, K+1, n] (n = C P, channel-major)."""
    B, K1, n = A.shape
    return A[:, 1:, :].reshape(B, K1 - 1, C, n // C)


def _bn_axes(net):
    return (0, 1, 3) if net.batchnorm == "shared" else (0, 3)


def _bn_forward(net, j, Z, X, training, update_running):
    C = net.bn_channels[j]
    o = net.bn_off[j]
    gamma = net.params[o:o + C]
    beta_ = net.params[o + C:o + 2 * C]
    z = _bn_view(Z, C)
    ax = _bn_axes(net)
    if training:
        mu = z.mean(axis=ax, keepdims=True)
        var = ((z - mu) ** 2).mean(axis=ax, keepdims=True)
        N = z.size // mu.size
        if update_running:
            m = net.bn_momentum
            mu_s = mu.reshape(-1, C)
            var_s = var.reshape(-1, C) * (N / max(N - 1, 1))
            rm, rv = net.running_mean[j], net.running_var[j]
            if net.batchnorm == "shared":
                rm[...] = (1 - m) * rm + m * mu_s
                rv[...] = (1 - m) * rv + m * var_s
            else:
                rm[1:] = (1 - m) * rm[1:] + m * mu_s
                rv[1:] = (1 - m) * rv[1:] + m * var_s
    else:
        rm, rv = net.running_mean[j], net.running_var[j]
        if net.batchnorm == "shared":
            mu = rm.reshape(1, 1, C, 1)
            var = rv.reshape(1, 1, C, 1)
        else:
            mu = rm[1:].reshape(1, -1, C, 1)
            var = rv[1:].reshape(1, -1, C, 1)
    inv = 1.0 / np.sqrt(var + net.bn_eps)
    zhat = (z - mu) * inv
    X[:, 0] = 0.0
    _bn_view(X, C)[...] = gamma.reshape(1, 1, C, 1) * zhat + beta_.reshape(1, 1, C, 1)
    return zhat, inv, gamma


def _bn_backward(net, j, dX, cache, training, grad):
    """dZ from dX (gradients of the summed loss); gamma and beta gradients into grad."""
    zhat, inv, gamma = cache
    C = net.bn_channels[j]
    o = net.bn_off[j]
    ax = _bn_axes(net)
    dx = _bn_view(dX, C)
    grad[o:o + C] += (dx * zhat).sum(axis=(0, 1, 3))
    grad[o + C:o + 2 * C] += dx.sum(axis=(0, 1, 3))
    dzh = dx * gamma.reshape(1, 1, C, 1)
    dZ = np.zeros_like(dX)
    if training:
        N = dx.size // inv.size
        dz = inv / N * (N * dzh - dzh.sum(axis=ax, keepdims=True)
                        - zhat * (dzh * zhat).sum(axis=ax, keepdims=True))
    else:
        dz = dzh * inv
    _bn_view(dZ, C)[...] = dz
    return dZ


def _loss_code(net, loss):
    if loss is None:
        loss = FirstSpikeCE() if net.output == "spike" else MaxVoltageCE()
    if isinstance(loss, FirstSpikeCE):
        code, lp = K.L_FS, loss.params()
    elif isinstance(loss, MaxVoltageCE):
        code, lp = K.L_VMAX, loss.params()
    elif isinstance(loss, CountCE):
        code, lp = K.L_COUNT, np.array([loss.scale, 0.0, 0.0])
    else:
        raise TypeError(f"loss must be FirstSpikeCE, MaxVoltageCE or CountCE, got {type(loss).__name__}")
    if loss.readout != net.output:
        raise ValueError(f"loss {type(loss).__name__} reads out '{loss.readout}' but the network has "
                         f"output={net.output!r}")
    return code, lp


@dataclass(frozen=True)
class GridResult:
    """Result of :func:`loss_and_grad` / :func:`evaluate` on a set of samples.

    Attributes
    ----------
    loss : float
        Mean loss.
    grad : ndarray or None
        d(mean loss)/d params (flat, :attr:`GridSNN.params` layout).
    losses, predictions, correct : ndarray
        Per sample.
    spike_counts : ndarray (n_samples, n_layers)
        Spikes per layer (after the input) and sample.
    spikes : list of ndarray or None
        With ``keep_spikes``: per layer (input first) the rasters [B, K+1, n].
    """

    loss: float
    grad: np.ndarray | None
    losses: np.ndarray
    predictions: np.ndarray
    correct: np.ndarray
    spike_counts: np.ndarray
    spikes: list | None = None

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if self.correct.size else math.nan

    @property
    def spikes_per_sample(self) -> float:
        return float(self.spike_counts.sum(axis=1).mean()) if self.correct.size else math.nan


def _check_clip(clip):
    return math.inf if clip is None else real("clip", clip, lo=0.0, lo_open=True)


def _check(net, inputs, labels, idx, surrogate):
    labels, idx = _check_inputs(net, inputs, labels, idx, GridSNN)
    if surrogate is None:
        surrogate = Surrogate()
    if not isinstance(surrogate, Surrogate):
        raise TypeError(f"surrogate must be an eventsnn.gradients.bptt.Surrogate, got {type(surrogate).__name__}")
    return labels, idx, surrogate


def _batch(net, inputs, labels, idx, loss, surrogate, detach_reset, training, want_grad, keep_spikes,
           update_running=False, clip=math.inf):
    """Forward (and backward) pass of samples idx as one minibatch."""
    code, lp = _loss_code(net, loss)
    T = _tables(net)
    B = idx.size
    K1 = net.K + 1
    ws = _Workspace.of(net, T, max(B, 1))
    if K.bin_inputs(inputs.ptr, inputs.times, inputs.ids, idx, net.dt, net.K, net.sizes[0], ws.S[:B]) > 255:
        raise ValueError("inputs has more than 255 spikes of one input in one grid step; use a smaller dt")
    lab = labels[idx]
    gbn = None
    if net.bn_layers or not _FUSED:
        gbn = _run_bn(net, T, ws, B, code, lp, lab, surrogate, detach_reset, training, want_grad, update_running)
    else:
        K.fused(T.LI, T.LF, K1, T.off, ws.S[:B], ws.Vh[:B], ws.G[:B], ws.Gv[:B], T.PTR, T.POST, T.WIDX, T.COEF,
                T.PO, T.EO, net.reset == "zero", net.params, _transposed(net, T), code, lp, lab, net.dt, net.t_end, want_grad,
                bool(detach_reset), surrogate.code, surrogate.slope, ws.grads[:B], ws.out[:B], ws.cnt[:B])
    out = ws.out[:B]
    grad = None
    if want_grad:
        rows = ws.grads[:B]
        if clip < math.inf:
            nrm = np.sqrt(np.einsum("ij,ij->i", rows, rows))
            big = nrm > clip
            rows[big] *= (clip / nrm[big])[:, None]
        grad = rows.sum(axis=0)     # fixed-order reduction: thread-count independent
        if gbn is not None:
            grad += gbn
        grad /= max(B, 1)
    rasters = None
    if keep_spikes:
        rasters = [ws.S[:B, T.off[l]:T.off[l + 1]].reshape(B, K1, n) & (0xFF if l == 0 else K.SPIKE)
                   for l, n in enumerate(net.sizes)]
    return GridResult(float(out[:, 0].mean()) if B else math.nan, grad, out[:, 0].copy(),
                      out[:, 1].astype(np.int64), out[:, 2] != 0.0, ws.cnt[:B].copy(), rasters)


def loss_and_grad(net, inputs, labels=None, loss=None, *, idx=None, surrogate=None, detach_reset=True,
                  training=True, keep_spikes=False, clip=None):
    """Loss and surrogate gradient of ``net`` on samples ``idx`` of ``inputs``, as one
    minibatch (batch-norm statistics over it when ``training``).

    Parameters
    ----------
    net : GridSNN
    inputs : SpikeInput
    labels : array of int or None
    loss : FirstSpikeCE, MaxVoltageCE or CountCE
        Default: FirstSpikeCE (spiking read-out) or MaxVoltageCE (voltage read-out).
    surrogate : Surrogate or None
        Default ``Surrogate("fast_sigmoid", 25.0)``.
    detach_reset : bool
        Treat the reset's spike as a constant in the backward pass.
    training : bool
        Batch statistics (True) or running estimates (False) in batch norm; the
        running estimates are not updated here.
    keep_spikes : bool
        Return the spike rasters (``GridResult.spikes``).
    clip : float or None
        Scale each sample's weight gradient down to norm ``clip`` when it is larger,
        before averaging (as the exact trainer's ``clip``; batch-norm parameters'
        gradients are the minibatch's and are not clipped).  None: no clipping.

    Returns
    -------
    GridResult
    """
    labels, idx, surrogate = _check(net, inputs, labels, idx, surrogate)
    return _batch(net, inputs, labels, idx, loss, surrogate, detach_reset, training, True, keep_spikes,
                  clip=_check_clip(clip))


def evaluate(net, inputs, labels=None, loss=None, *, idx=None, chunk=128):
    """Loss, predictions and spike counts of ``net`` (batch norm with its running
    estimates), in chunks of ``chunk`` samples."""
    labels, idx, _ = _check(net, inputs, labels, idx, None)
    chunk = integer("chunk", chunk, lo=1)
    parts = [_batch(net, inputs, labels, idx[i:i + chunk], loss, Surrogate(), True, False, False, False)
             for i in range(0, idx.size, chunk)]
    if not parts:
        e = np.zeros(0)
        return GridResult(math.nan, None, e, e.astype(np.int64), e.astype(bool),
                          np.zeros((0, len(net.layers)), np.int64))
    losses = np.concatenate([p.losses for p in parts])
    return GridResult(float(losses.mean()), None, losses, np.concatenate([p.predictions for p in parts]),
                      np.concatenate([p.correct for p in parts]),
                      np.concatenate([p.spike_counts for p in parts]))


def fit(net, inputs, labels, loss=None, *, epochs=10, batch_size=32, optimizer=None, surrogate=None,
        detach_reset=True, clip=None, seed=0, validation=None, test=None, callback=None, verbose=False):
    """Train ``net`` in place with surrogate-gradient BPTT and Adam.

    Minibatches are drawn by a permutation seeded with (``seed``, epoch); every
    minibatch's samples run in parallel (one per thread) and their gradients are
    summed in sample order, so results do not depend on the thread count.

    Parameters
    ----------
    net : GridSNN
    inputs, labels : SpikeInput, array of int
    loss, surrogate, detach_reset, clip : see :func:`loss_and_grad`
    epochs, batch_size : int
    optimizer : Adam or None
        Default ``Adam(lr=5e-3)``; its per-epoch decay is applied after every epoch.
    validation, test : (SpikeInput, labels) or None
        Evaluated after every epoch.
    callback : callable(epoch, metrics, net) or None
    verbose : bool

    Returns
    -------
    list of dict
        Per epoch: loss, accuracy (training minibatches, training mode), epoch_s,
        spikes_per_sample, and val_/test_ accuracy and loss when given.
    """
    labels, _, surrogate = _check(net, inputs, labels, None, surrogate)
    clip = _check_clip(clip)
    epochs = integer("epochs", epochs, lo=0)
    batch_size = integer("batch_size", batch_size, lo=1)
    seed = integer("seed", seed, lo=0)
    if optimizer is None:
        optimizer = Adam(lr=5e-3)
    if not isinstance(optimizer, Adam):
        raise TypeError(f"optimizer must be an eventsnn.gradients.Adam, got {type(optimizer).__name__}")
    _loss_code(net, loss)
    for name, ds in (("validation", validation), ("test", test)):
        if ds is not None:
            if not (isinstance(ds, tuple) and len(ds) == 2):
                raise TypeError(f"{name} must be a (SpikeInput, labels) tuple or None")
            _check(net, ds[0], ds[1], None, None)
    n = inputs.n_samples
    hist = []
    for ep in range(epochs):
        t0 = time.perf_counter()
        c0 = time.process_time()
        perm = np.random.default_rng([seed, ep]).permutation(n)
        tot_l, tot_c, tot_s, m = 0.0, 0, 0.0, 0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            r = _batch(net, inputs, labels, idx, loss, surrogate, detach_reset, True, True, False,
                       update_running=True, clip=clip)
            optimizer.step(net.params, r.grad)
            tot_l += float(r.losses.sum())
            tot_c += int(r.correct.sum())
            tot_s += float(r.spike_counts.sum())
            m += idx.size
        optimizer.end_epoch()
        met = {"epoch": ep + 1, "loss": tot_l / max(m, 1), "accuracy": tot_c / max(m, 1),
               "spikes_per_sample": tot_s / max(m, 1), "epoch_s": time.perf_counter() - t0,
               "cpu_s": time.process_time() - c0}
        for name, ds in (("val", validation), ("test", test)):
            if ds is not None:
                e = evaluate(net, ds[0], ds[1], loss)
                met[f"{name}_accuracy"] = e.accuracy
                met[f"{name}_loss"] = e.loss
        hist.append(met)
        if verbose:
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in met.items()),
                  flush=True)
        if callback is not None:
            callback(ep, met, net)
    return hist
