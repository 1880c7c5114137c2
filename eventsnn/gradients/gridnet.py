"""A layered spiking network on a time grid, for surrogate-gradient BPTT (:mod:`.bptt`).

The model is the one of :class:`~.snn.SNN` (current-based LIF, exponential synapses,
threshold theta, weights in mV) advanced on the grid t_k = k dt, k = 0 .. K with
K = t_end / dt, by the exact per-step propagators of the clock engine
(:mod:`eventsnn.engine.clock`): with alpha = e^{-dt/tau_s}, beta = e^{-dt/tau_m} and
c = tau_s/(tau_s - tau_m) (alpha - beta) (c = dt/tau_m beta when tau_s == tau_m), every
neuron of a layer does, for k = 1 .. K (V_0 = I_0 = 0):

    Vh_k = beta V_{k-1} + c I_{k-1}             (held: Vh_k = V_{k-1} while refractory)
    s_k  = 1 if Vh_k >= theta and not refractory else 0      (spiking layers)
    V_k  = Vh_k - theta s_k    (reset="subtract")   or   Vh_k (1 - s_k)   (reset="zero")
    I_k  = alpha I_{k-1} + x_k

with x_k the layer's input at t_k: x_k = z_k (or BN(z_k), see below) plus the recurrent
input, z_k[j] = sum over feed-forward entries (i -> j, coef, p) of coef params[p]
s_pre[k - D, i], D = delay/dt whole steps (feed-forward D >= 0: layers are advanced in
order within a step; recurrent D >= 1).  A neuron that spikes at step k is refractory
for steps k+1 .. k+R (R = ``refractory`` steps).  Input spikes at time t are put on
step max(1, ceil(t/dt - 1e-9)) as the clock engine does, and spikes after t_end are
dropped.  The read-out layer either spikes (``output="spike"``) or is a leaky
integrator with no threshold and no reset (``output="voltage"``: V_k = Vh_k).

So the grid network is the exact engine's network sampled on the grid, up to two
named approximations: spikes and inputs are moved to the next grid point, and
feed-forward delays are whole steps (a delay that is not a multiple of dt is refused).

Layers (``layers``, after the input of shape ``input_shape``)
---------------------------------------------------------------
* :class:`Dense` ``(n, recurrent=False, rec_delay=None)`` - all-to-all from the
  previous layer; ``recurrent`` adds an all-to-all projection within the layer.
* :class:`Conv2d` ``(channels, kernel, stride=1, padding=0, pool=1)`` - 2-D
  convolution (cross-correlation, PyTorch's convention: no kernel flip) of the previous
  layer's (C, H, W) spikes (no bias), followed by
  ``pool`` x ``pool`` average pooling of the *input currents* (folded into the
  projection: coef 1/pool^2), into neurons of shape (channels, H', W').

Parameters (the flat float64 vector ``params``, mV): projections in order (layer 1
feed-forward, layer 1 recurrent if any, layer 2 feed-forward, ...): a dense projection
is an (n_pre, n_post) matrix in row-major order (the layout of :class:`~.snn.SNN`, so
``GridSNN.from_snn(snn).params`` is ``snn.params`` for networks without batch norm);
a convolution is a (channels_out, channels_in, kernel, kernel) array in row-major
order.  Then, for every layer with batch normalisation, gamma (one per channel of a
convolution or per neuron of a dense layer) followed by beta.

Batch normalisation of input currents (Ledinauskas et al. 2020, "Training deep
spiking neural networks", arXiv:2006.04436; ``batchnorm="shared"`` or ``"time"``)
applies to the feed-forward input z of every hidden layer (not the read-out):
x = gamma (z - mu) / sqrt(var + eps) + beta per channel, with mu and var the mean and
(biased) variance over the minibatch and all steps k = 1 .. K ("shared") or over the
minibatch per step ("time"; Kim & Panda 2021's BNTT statistics with shared gamma,
beta), and over the spatial positions of a convolution.  In evaluation the running
estimates (momentum ``bn_momentum``, unbiased variance) are used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .._validate import boolean, check_memory, integer, real
from ..connectivity import from_lists
from ..models import LIF
from ..network import Network
from .snn import SNN, _per_layer, check_flat, draw_init, set_flat, unit_psp_peak

__all__ = ["Dense", "Conv2d", "GridSNN", "Projection", "LayerConst"]

_RESETS = ("subtract", "zero")
_BN = (None, "shared", "time")


@dataclass(frozen=True)
class Dense:
    """All-to-all layer of ``n`` LIF neurons; ``recurrent`` adds an all-to-all
    projection within the layer with delay ``rec_delay`` (ms, a positive multiple of
    dt; default one step)."""

    n: int
    recurrent: bool = False
    rec_delay: float | None = None


@dataclass(frozen=True)
class Conv2d:
    """2-D convolution (``channels`` output channels, square ``kernel``, ``stride``,
    zero ``padding``) followed by ``pool`` x ``pool`` average pooling of the input
    currents (``pool`` = 1: none)."""

    channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    pool: int = 1


class Projection(NamedTuple):
    """A projection as the kernels read it, rows by presynaptic neuron: entry e of row
    i is ``post[e]`` with weight ``coef[e] * params[widx[e]]`` (mV)."""

    #: int64 [n_pre + 1]
    ptr: np.ndarray
    #: int32 [nnz]
    post: np.ndarray
    #: int64 [nnz]: index into params
    widx: np.ndarray
    #: float64 [nnz]
    coef: np.ndarray
    #: layer index of the source (0 = input)
    pre: int
    #: layer index of the target (>= 1)
    post_layer: int
    #: delay in steps
    delay: int
    recurrent: bool


class LayerConst(NamedTuple):
    """Per-layer constants of the update (see the module docstring)."""

    alpha: float
    beta: float
    c: float
    #: mV
    theta: float
    #: 1: spiking, 0: leaky read-out
    spiking: int
    #: steps
    refractory: int


def _propagators(tau_m, tau_s, dt):
    a = math.exp(-dt / tau_s)
    b = math.exp(-dt / tau_m)
    if tau_s == tau_m:
        c = dt / tau_m * b
    else:
        c = tau_s / (tau_s - tau_m) * (a - b)
    return a, b, c


def _steps(name, value, dt, lo):
    """``value`` (ms) in whole steps of dt; ValueError unless it is a multiple."""
    v = real(name, value, lo=0.0)
    k = round(v / dt)
    if abs(k * dt - v) > 1e-9 * max(dt, v):
        raise ValueError(f"{name}={value!r} ms is not a multiple of dt={dt!r} ms; the grid trainer "
                         f"needs whole-step delays")
    if k < lo:
        raise ValueError(f"{name}={value!r} ms is {k} steps of dt={dt!r} ms; need at least {lo}")
    return int(k)


def _dense(n_pre, n_post, off):
    pre = np.repeat(np.arange(n_pre, dtype=np.int64), n_post)
    post = np.tile(np.arange(n_post, dtype=np.int64), n_pre)
    widx = off + np.arange(n_pre * n_post, dtype=np.int64)
    return pre, post, widx, np.ones(pre.size)


def conv_out_shape(in_shape, layer):
    """(channels, H', W') of a :class:`Conv2d` on input (C, H, W)."""
    _, H, W = in_shape
    k, s, p, q = layer.kernel, layer.stride, layer.padding, layer.pool
    ho = (H + 2 * p - k) // s + 1
    wo = (W + 2 * p - k) // s + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"Conv2d(kernel={k}, stride={s}, padding={p}) does not fit input {tuple(in_shape)}")
    if ho % q or wo % q:
        raise ValueError(f"Conv2d pool={q} does not divide the convolution's output {ho}x{wo}")
    return (layer.channels, ho // q, wo // q)


def _conv(in_shape, layer, off):
    """Entries (pre, post, widx, coef) of a convolution with folded average pooling,
    duplicates merged (their coefs summed)."""
    C, H, W = in_shape
    k, s, p, q = layer.kernel, layer.stride, layer.padding, layer.pool
    co_n, PH, PW = conv_out_shape(in_shape, layer)
    co, oy, ox, ci, ky, kx = np.meshgrid(np.arange(co_n), np.arange(PH * q), np.arange(PW * q), np.arange(C),
                                         np.arange(k), np.arange(k), indexing="ij")
    iy = oy * s + ky - p
    ix = ox * s + kx - p
    ok = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)
    co, oy, ox, ci, ky, kx, iy, ix = (a[ok].astype(np.int64) for a in (co, oy, ox, ci, ky, kx, iy, ix))
    pre = (ci * H + iy) * W + ix
    post = (co * PH + oy // q) * PW + ox // q
    widx = off + ((co * C + ci) * k + ky) * k + kx
    key = np.stack([pre, post, widx], axis=1)
    uk, inv = np.unique(key, axis=0, return_inverse=True)
    coef = np.bincount(inv.ravel(), minlength=len(uk)) / float(q * q)
    return uk[:, 0], uk[:, 1], uk[:, 2], coef


def _rows(n_pre, pre, post, widx, coef):
    order = np.lexsort((widx, post, pre))
    ptr = np.zeros(n_pre + 1, np.int64)
    np.cumsum(np.bincount(pre, minlength=n_pre), out=ptr[1:])
    return ptr, post[order].astype(np.int32), widx[order].astype(np.int64), np.ascontiguousarray(coef[order])


class GridSNN:
    """Layered LIF network on a time grid (see the module docstring for the model).

    Parameters
    ----------
    input_shape : int or (C, H, W)
        Number of inputs, or the image shape for convolutional first layers (inputs
        are numbered C-major: (c H + y) W + x).
    layers : sequence of Dense / Conv2d
        Hidden layers and the read-out (last, a :class:`Dense`).
    dt : float
        Grid step (ms, > 0).
    t_end : float
        Simulated window (ms, a multiple of dt).
    tau_m, tau_s, theta : float or sequence
        Per layer (ms, ms, mV), scalar or one per layer.
    output : "spike" or "voltage"
        Read-out: spiking LIF or leaky integrator.
    reset : "zero" or "subtract"
        Reset to 0 (the exact engine's model, needed for export) or by subtraction.
    refractory : float
        Refractory period (ms, a multiple of dt; 0 for none).
    delay : float or sequence
        Feed-forward delays (ms, multiples of dt, >= 0), scalar or per layer.
    batchnorm : None, "shared" or "time"
        Batch normalisation of the hidden layers' feed-forward input currents.
    bn_eps, bn_momentum : float
    init : "default" or sequence of (mean, std)
        Normal initialisation per projection (mV); "default" scales with fan-in as
        :meth:`SNN.default_init` does.
    seed : int
    """

    def __init__(self, input_shape, layers, *, dt, t_end, tau_m=20.0, tau_s=5.0, theta=1.0, output="spike",
                 reset="zero", refractory=0.0, delay=0.0, batchnorm=None, bn_eps=1e-5, bn_momentum=0.1,
                 init="default", seed=0):
        self.dt = real("dt", dt, lo=0.0, lo_open=True)
        self.t_end = real("t_end", t_end, lo=0.0, lo_open=True)
        self.K = _steps("t_end", self.t_end, self.dt, 1)
        if np.ndim(input_shape) == 0:
            input_shape = (integer("input_shape", input_shape, lo=1),)
        else:
            input_shape = tuple(integer(f"input_shape[{i}]", v, lo=1) for i, v in enumerate(input_shape))
            if len(input_shape) not in (1, 3):
                raise ValueError(f"input_shape={input_shape!r} is not allowed; give n or (C, H, W)")
        self.input_shape = input_shape
        layers = list(layers)
        if not layers:
            raise ValueError("layers is empty; give at least the read-out layer")
        for i, l in enumerate(layers):
            if not isinstance(l, (Dense, Conv2d)):
                raise TypeError(f"layers[{i}] must be Dense or Conv2d, got {type(l).__name__}")
        if not isinstance(layers[-1], Dense) or layers[-1].recurrent:
            raise ValueError("the last layer (the read-out) must be a non-recurrent Dense")
        self.layers = layers
        L = len(layers)
        self.tau_m = _per_layer("tau_m", tau_m, L, lo=0.0, lo_open=True)
        self.tau_s = _per_layer("tau_s", tau_s, L, lo=0.0, lo_open=True)
        self.theta = _per_layer("theta", theta, L, lo=0.0, lo_open=True)
        if output not in ("spike", "voltage"):
            raise ValueError(f"output={output!r} is not allowed; use 'spike' or 'voltage'")
        if reset not in _RESETS:
            raise ValueError(f"reset={reset!r} is not allowed; use one of {_RESETS}")
        if batchnorm not in _BN:
            raise ValueError(f"batchnorm={batchnorm!r} is not allowed; use one of {_BN}")
        self.output, self.reset, self.batchnorm = output, reset, batchnorm
        self.refractory = _steps("refractory", refractory, self.dt, 0)
        self.bn_eps = real("bn_eps", bn_eps, lo=0.0, lo_open=True)
        self.bn_momentum = real("bn_momentum", bn_momentum, lo=0.0)
        if self.bn_momentum > 1.0:
            raise ValueError(f"bn_momentum={bn_momentum!r} is not allowed; bn_momentum must be in [0, 1]")
        ff_d = _per_layer("delay", delay, L, lo=0.0)
        self.delay_ms = ff_d
        self.seed = integer("seed", seed, lo=0)

        # shapes and projections
        shapes = [input_shape]
        for i, l in enumerate(layers):
            if isinstance(l, Conv2d):
                if len(shapes[-1]) != 3:
                    raise ValueError(f"layers[{i}] is a Conv2d but its input has shape {shapes[-1]}; "
                                     f"convolutions need a (C, H, W) input")
                for nm in ("channels", "kernel", "stride", "pool"):
                    integer(f"layers[{i}].{nm}", getattr(l, nm), lo=1)
                integer(f"layers[{i}].padding", l.padding, lo=0)
                shapes.append(conv_out_shape(shapes[-1], l))
            else:
                integer(f"layers[{i}].n", l.n, lo=1)
                boolean(f"layers[{i}].recurrent", l.recurrent)
                shapes.append((l.n,))
        self.shapes = shapes
        self.sizes = [int(np.prod(s)) for s in shapes]
        projs, pshapes, off = [], [], 0
        for i, l in enumerate(layers):
            n_pre, n_post = self.sizes[i], self.sizes[i + 1]
            D = _steps(f"delay[{i}]", ff_d[i], self.dt, 0)
            if isinstance(l, Conv2d):
                C = shapes[i][0]
                shp = (l.channels, C, l.kernel, l.kernel)
                ent = _conv(shapes[i], l, off)
            else:
                shp = (n_pre, n_post)
                ent = _dense(n_pre, n_post, off)
            check_memory("layers", layers, 40 * len(ent[0]), f"{len(ent[0])} projection entries")
            projs.append(Projection(*_rows(n_pre, *ent), i, i + 1, D, False))
            pshapes.append(shp)
            off += int(np.prod(shp))
            if isinstance(l, Dense) and l.recurrent:
                rd = self.dt if l.rec_delay is None else l.rec_delay
                Dr = _steps(f"layers[{i}].rec_delay", rd, self.dt, 1)
                projs.append(Projection(*_rows(n_post, *_dense(n_post, n_post, off)), i + 1, i + 1, Dr, True))
                pshapes.append((n_post, n_post))
                off += n_post * n_post
        self.projections = projs
        self.param_shapes = pshapes
        self._woff = np.zeros(len(projs) + 1, np.int64)
        self._woff[1:] = np.cumsum([int(np.prod(s)) for s in pshapes])
        # batch norm: per hidden layer, channels (conv) or neurons (dense)
        self.bn_layers = []
        self.bn_off = []
        self.bn_channels = []
        if batchnorm is not None:
            for i in range(L - 1):
                nch = shapes[i + 1][0]
                self.bn_layers.append(i + 1)
                self.bn_off.append(off)
                self.bn_channels.append(nch)
                off += 2 * nch
        self.params = np.zeros(off)
        self.running_mean = [np.zeros((self.K + 1, c) if batchnorm == "time" else (1, c)) for c in self.bn_channels]
        self.running_var = [np.ones((self.K + 1, c) if batchnorm == "time" else (1, c)) for c in self.bn_channels]
        for j, o in enumerate(self.bn_off):
            self.params[o:o + self.bn_channels[j]] = 1.0     # gamma
        self.consts = []
        for l in range(L):
            a, b, c = _propagators(self.tau_m[l], self.tau_s[l], self.dt)
            spk = 0 if (l == L - 1 and output == "voltage") else 1
            self.consts.append(LayerConst(a, b, c, self.theta[l], spk, self.refractory))
        if init is not None:
            self.initialize(init)

    # ------------------------------------------------------------------ parameters
    @property
    def n_params(self) -> int:
        return self.params.size

    @property
    def n_weights(self) -> int:
        return int(self._woff[-1])

    def weights(self, q: int) -> np.ndarray:
        """View of projection q's parameters in its shape (see :attr:`param_shapes`)."""
        q = integer("q", q, lo=0, hi=len(self.projections) - 1)
        return self.params[self._woff[q]:self._woff[q + 1]].reshape(self.param_shapes[q])

    def fan_in(self, q: int) -> int:
        """Presynaptic entries per postsynaptic neuron (the largest) of projection q."""
        P = self.projections[q]
        return int(np.bincount(P.post, minlength=self.sizes[P.post_layer]).max())

    def psp_peak(self, layer: int) -> float:
        """Peak of the PSP (mV) of a unit weight into ``layer`` (>= 1)."""
        return unit_psp_peak(self.tau_m[layer - 1], self.tau_s[layer - 1])

    def default_init(self):
        """(mean, std) per projection, as :meth:`SNN.default_init` with the fan-in
        (for convolutions: channels_in x kernel^2)."""
        out = []
        for q, P in enumerate(self.projections):
            k = self.psp_peak(P.post_layer)
            th = self.theta[P.post_layer - 1]
            n = self.fan_in(q)
            if P.recurrent:
                out.append((0.0, th / (k * n)))
            else:
                out.append((2.0 * th / (k * n), 2.0 * th / (k * math.sqrt(n))))
        return out

    def initialize(self, init="default"):
        """Draw the weights (seeded by :attr:`seed`); batch-norm gamma = 1, beta = 0."""
        if isinstance(init, str):
            if init != "default":
                raise ValueError(f"init={init!r} is not allowed; use 'default' or a list of (mean, std)")
            init = self.default_init()
        draw_init(init, [self.weights(q) for q in range(len(self.projections))], self.seed)
        for j, o in enumerate(self.bn_off):
            c = self.bn_channels[j]
            self.params[o:o + c] = 1.0
            self.params[o + c:o + 2 * c] = 0.0
            self.running_mean[j][...] = 0.0
            self.running_var[j][...] = 1.0

    def set_params(self, p):
        """Replace all parameters (flat, :attr:`params` layout)."""
        set_flat(self.params, p)

    def _check_params(self):
        check_flat(self.params, self.n_params)

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_snn(cls, snn, dt, *, reset="zero", **kw):
        """The grid version of an exact-trainer :class:`~.snn.SNN` (same layers, time
        constants, thresholds, delays and weights; reset to zero as in the exact
        model).  Keyword arguments go to the constructor (``refractory``,
        ``batchnorm``, ...)."""
        if not isinstance(snn, SNN):
            raise TypeError(f"snn must be an eventsnn.gradients.SNN, got {type(snn).__name__}")
        uniform_d = all(np.all(d == p.delay) for d, p in zip(snn.delays, snn.projections))
        if not uniform_d or any(np.any(snn.thresholds[snn.layer_slice(l)] != snn.theta[l - 1])
                                for l in range(1, len(snn.sizes))):
            raise ValueError("from_snn needs one delay per projection and one threshold per layer (the grid "
                             "model's); this SNN has per-neuron delays or thresholds")
        if any(x != "exp" for x in snn.synapse):
            raise ValueError(f"from_snn needs exponential synapses (got {snn.synapse}); the grid model has no "
                             f"delta synapses")
        if any(snn.t_ref):
            raise ValueError(f"from_snn needs t_ref=0 (got {snn.t_ref}); pass refractory= to the GridSNN instead")
        rec = {p.post for p in snn.projections if p.recurrent}
        layers = [Dense(n, recurrent=(l + 1) in rec, rec_delay=snn.rec_delay if (l + 1) in rec else None)
                  for l, n in enumerate(snn.sizes[1:])]
        ff = [p.delay for p in snn.projections if not p.recurrent]
        g = cls(snn.sizes[0], layers, dt=dt, t_end=snn.t_end, tau_m=snn.tau_m, tau_s=snn.tau_s,
                theta=snn.theta, output=snn.output, reset=reset, delay=ff, init=None, seed=snn.seed, **kw)
        g.params[:snn.n_weights] = snn.params[:snn.n_weights]
        return g

    def to_snn(self):
        """The exact-trainer :class:`~.snn.SNN` with these weights (dense layers, no
        batch norm, reset to zero, no refractory period only)."""
        if any(isinstance(l, Conv2d) for l in self.layers):
            raise ValueError("to_snn needs dense layers; use to_network for convolutional networks")
        if self.batchnorm is not None or self.reset != "zero" or self.refractory:
            raise ValueError("to_snn needs batchnorm=None, reset='zero' and refractory=0 (the SNN model); "
                             "use to_network")
        rec = [l.recurrent for l in self.layers[:-1]]
        rds = {self.dt if l.rec_delay is None else l.rec_delay for l in self.layers if l.recurrent}
        if len(rds) > 1:
            raise ValueError(f"to_snn needs one recurrent delay for all layers (the SNN has one); got {sorted(rds)}")
        rd = rds.pop() if rds else 1.0
        snn = SNN(self.sizes, tau_m=self.tau_m, tau_s=self.tau_s, theta=self.theta, output=self.output,
                  recurrent=rec, delay=self.delay_ms, rec_delay=rd, t_end=self.t_end, init=None, seed=self.seed)
        snn.set_params(self.params[:snn.n_weights])
        return snn

    def folded(self):
        """Per projection, its synaptic weights (mV) as COO (pre, post, weight) with
        batch norm (running statistics, ``"shared"`` only) folded in; and per layer
        the constant per-step input current it adds (mV, zero without batch norm).

        Batch norm turns the feed-forward input z into a z + b per step (a = gamma /
        sqrt(var + eps), b = beta - a mu): the factor a scales the weights and b is a
        current step added to I at every grid point."""
        if self.batchnorm == "time":
            raise ValueError("batchnorm='time' has statistics per step, which the event engine cannot express; "
                             "use batchnorm='shared' to export")
        L = len(self.layers)
        scale = [np.ones(self.sizes[l + 1]) for l in range(L)]
        shift = [np.zeros(self.sizes[l + 1]) for l in range(L)]
        for j, lay in enumerate(self.bn_layers):
            c = self.bn_channels[j]
            o = self.bn_off[j]
            a = self.params[o:o + c] / np.sqrt(self.running_var[j][0] + self.bn_eps)
            b = self.params[o + c:o + 2 * c] - a * self.running_mean[j][0]
            per = self.sizes[lay] // c
            scale[lay - 1] = np.repeat(a, per)
            shift[lay - 1] = np.repeat(b, per)
        out = []
        for P in self.projections:
            pre = np.repeat(np.arange(P.ptr.size - 1), np.diff(P.ptr))
            w = P.coef * self.params[P.widx]
            if not P.recurrent:
                w = w * scale[P.post_layer - 1][P.post]
            out.append((pre, P.post.astype(np.int64), w))
        return out, shift

    def to_network(self, input_times, input_ids, *, seed=0, zero_delay=None):
        """The trained network as an :class:`eventsnn.Network` for the exact event
        engine, driven by one sample's input spikes (times in ms, input ids).
        Returns (net, [populations]).

        Weights are summed per (pre, post) pair; batch norm (``"shared"``) is folded
        into the weights and, for its shift b (mV per step), into a constant bias
        current i_bias = b tau_s / dt (mV), the time average of the grid's per-step
        current kicks: a named approximation (exact in the limit dt -> 0).  The engine
        needs delays > 0 between neuron layers: a zero delay there is refused unless
        ``zero_delay`` (ms, > 0) is given to stand in for it (an approximation, as in
        :func:`eventsnn.from_nir`).
        """
        if self.output != "spike":
            raise ValueError("to_network needs output='spike' (the engine has no non-spiking read-out)")
        if self.reset != "zero":
            raise ValueError("to_network needs reset='zero' (the engine's LIF resets to v_reset)")
        if zero_delay is not None:
            zero_delay = real("zero_delay", zero_delay, lo=0.0, lo_open=True)
        for P in self.projections:
            if P.pre > 0 and P.delay == 0 and zero_delay is None:
                raise ValueError(f"layer {P.pre} -> {P.post_layer} has delay 0; the event engine needs delays > 0 "
                                 f"between neuron layers: train with delay >= dt there, or pass zero_delay")
        proj, shift = self.folded()
        if self.refractory and any(np.any(b != 0.0) for b in shift):
            raise ValueError("to_network cannot export batch norm with a refractory period (the engine's "
                             "per-neuron bias needs t_ref = 0)")
        net = Network(seed=seed)
        src = net.spike_source(np.asarray(input_times, float), np.asarray(input_ids, np.int64), n=self.sizes[0])
        pops = []
        for l in range(len(self.layers)):
            lif = LIF(tau_m=self.tau_m[l], tau_syn_exc=self.tau_s[l], tau_syn_inh=self.tau_s[l], v_rest=0.0,
                      v_th=self.theta[l], v_reset=0.0, t_ref=self.refractory * self.dt)
            ib = shift[l] * self.tau_s[l] / self.dt
            pops.append(net.population(self.sizes[l + 1], lif, name=f"layer{l + 1}",
                                       **({"i_bias": ib} if np.any(ib != 0.0) else {})))
        for q, P in enumerate(self.projections):
            src_pop = (src if P.pre == 0 else pops[P.pre - 1])
            pre, post, w = proj[q]
            n_post = self.sizes[P.post_layer]
            key, inv = np.unique(pre * n_post + post, return_inverse=True)
            w = np.bincount(inv.ravel(), weights=w, minlength=key.size)
            net.connect(src_pop, pops[P.post_layer - 1],
                        from_lists(key // n_post, key % n_post, w, n_pre=self.sizes[P.pre], n_post=n_post),
                        delay=P.delay * self.dt if (P.delay or P.pre == 0) else zero_delay)
        return net, pops
