"""A layered spiking network for EventProp: input spike times -> LIF layers -> outputs.

Layers are populations of the normalised LIF neuron of :mod:`.eventprop`
(tau_m dV/dt = -V + I, tau_s dI/dt = -I, threshold theta, reset to 0, optional
refractory period); the last layer is either spiking (read out by first-spike times) or
a non-spiking leaky integrator (read out by its voltage maximum).  Projections are
dense weight matrices (mV): feed-forward from every layer to the next, and optionally
recurrent within hidden layers.  Every projection has one axonal delay per
presynaptic neuron (ms; all equal to the projection's delay at construction).

Everything trained lives in one flat float64 vector ``params`` (what the optimiser
updates), in the order of :attr:`SNN.groups`: the weights (``weights[q]`` are
(n_pre, n_post) views), then with ``learn_delays`` the axonal delays (``delays[q]``,
(n_pre,) views), then with ``learn_thresholds`` one threshold per neuron
(``thresholds``).  Parameters that are not learned live in arrays of their own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import boolean, check_memory, integer, real
from ..connectivity import CSR, from_dense
from ..models import LIF, psi_max
from ..network import Network
from .eventprop import Arch

__all__ = ["SNN", "ProjectionSpec"]


@dataclass(frozen=True)
class ProjectionSpec:
    """One projection: ``pre`` layer index (0 = input), ``post`` layer index (>= 1),
    ``delay`` (ms) and ``recurrent`` (pre == post)."""

    pre: int
    post: int
    delay: float
    recurrent: bool


def _per_layer(name, value, n, lo=None, lo_open=False):
    if np.ndim(value) == 0:
        vals = [value] * n
    else:
        vals = list(value)
        if len(vals) != n:
            raise ValueError(f"{name} has {len(vals)} entries; give a scalar or one value per layer ({n})")
    return [real(f"{name}", v, lo=lo, lo_open=lo_open) for v in vals]


def check_flat(params, n):
    """ValueError unless ``params`` is still a finite float64 array of n values, the
    vector the kernels index (reassign it only through ``set_params``)."""
    p = params
    if not (isinstance(p, np.ndarray) and p.dtype == np.float64 and p.shape == (n,) and p.flags.c_contiguous):
        raise ValueError(f"net.params must be a float64 array of shape ({n},); it was "
                         f"replaced by {type(p).__name__} {getattr(p, 'shape', '')}: use set_params")
    if not np.isfinite(p).all():
        raise ValueError(f"net.params contains {float(p[~np.isfinite(p)][0])!r}; parameters must be finite")


def unit_psp_peak(tau_m, tau_s):
    """Peak of the PSP (mV) of a unit weight onto a neuron with these time constants (ms)."""
    g = 1.0 / tau_m
    return g * psi_max(g, 1.0 / tau_s)


def draw_init(init, views, seed):
    """Fill ``views`` (one array per projection) with normal draws, (mean, std) per
    projection from ``init`` (mV), from one generator seeded with ``seed``."""
    init = list(init)
    if len(init) != len(views):
        raise ValueError(f"init has {len(init)} entries; need one (mean, std) per projection ({len(views)})")
    checked = []
    for q, ms in enumerate(init):
        if np.ndim(ms) != 1 or len(ms) != 2:
            raise ValueError(f"init[{q}]={ms!r} is not allowed; give (mean, std) in mV")
        checked.append((real(f"init[{q}][0]", ms[0]), real(f"init[{q}][1]", ms[1], lo=0.0)))
    rng = np.random.default_rng(seed)
    for v, (m, sd) in zip(views, checked):
        v[...] = rng.normal(m, sd, v.shape)


def set_flat(params, p):
    """params[:] = p, after checking that p is a finite real array of params' shape
    (the kernels index params by position: no other shape may get in)."""
    a = np.asarray(p)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"p must be a real array, got dtype {a.dtype}")
    if a.shape != params.shape:
        raise ValueError(f"p has shape {a.shape}; need {params.shape}")
    if not np.isfinite(a).all():
        raise ValueError("p contains non-finite values; parameters must be finite")
    params[:] = a


class SNN:
    """Layered LIF network trained with exact spike-time gradients.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_inputs, n_hidden_1, ..., n_outputs]`` (>= 2 entries, each >= 1).
    tau_m, tau_s : float or sequence
        Membrane and synaptic time constants (ms, > 0), scalar or one per layer after
        the input.  tau_m == tau_s is allowed.
    theta : float or sequence
        Threshold (mV, > 0), scalar or per layer.
    output : "spike" or "voltage"
        Read-out layer: spiking LIF, or non-spiking leaky integrator (no threshold).
    recurrent : bool or sequence of bool
        Recurrent all-to-all projection within each hidden layer (or per hidden layer).
    delay : float or sequence
        Feed-forward delays (ms, >= 0), scalar or one per feed-forward projection.
    rec_delay : float
        Delay of recurrent projections (ms, > 0).
    t_end : float
        End of the simulated window (ms, > 0); later spikes are ignored.
    init : sequence of (mean, std) or None
        Normal weight initialisation per projection (mV), in the order of
        :attr:`projections`; None uses a fan-in scaled default (see :meth:`default_init`).
    seed : int
        Seed of the initialisation.
    t_ref : float or sequence
        Refractory period (ms, >= 0), scalar or per layer: after a spike V stays at 0
        for t_ref while I keeps integrating its inputs.  Ignored by a voltage read-out.
    synapse : "exp" or "delta", or one per layer
        Exponential current synapses (tau_s), or delta synapses: an input of weight w
        makes V jump by w (mV; tau_s is then unused), and inputs arriving during the
        refractory period are discarded (as in NEST's ``iaf_psc_delta_ps``).
    delay_mode : "axonal" or "synaptic"
        One delay per presynaptic neuron and projection (``delays[q]`` has shape
        (n_pre,)), or one per synapse (shape (n_pre, n_post), costs one queue entry
        per synapse and spike instead of one per spike).
    learn_delays : bool
        Make the delays (ms) parameters with exact gradients; they are kept >=
        ``delay_min`` by :meth:`constrain` (called by ``fit`` after every step).
    learn_thresholds : bool
        Make the thresholds (one per neuron, mV) parameters with exact gradients; kept
        >= ``theta_min`` by :meth:`constrain`.
    delay_min, theta_min : float
        Lower bounds of learned delays (ms, >= 0) and thresholds (mV, > 0).
    """

    def __init__(self, sizes, *, tau_m=20.0, tau_s=5.0, theta=1.0, output="spike", recurrent=False,
                 delay=0.0, rec_delay=1.0, t_end=100.0, init=None, seed=0, t_ref=0.0, synapse="exp", delay_mode="axonal",
                 learn_delays=False, learn_thresholds=False, delay_min=0.0, theta_min=1e-3):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a sequence of layer sizes, got {sizes!r}")
        sizes = [integer(f"sizes[{i}]", s, lo=1) for i, s in enumerate(sizes)]
        if len(sizes) < 2:
            raise ValueError(f"sizes={sizes!r} is not allowed; give at least [n_inputs, n_outputs]")
        L = len(sizes) - 1
        self.sizes = sizes
        self.tau_m = _per_layer("tau_m", tau_m, L, lo=0.0, lo_open=True)
        self.tau_s = _per_layer("tau_s", tau_s, L, lo=0.0, lo_open=True)
        self.theta = _per_layer("theta", theta, L, lo=0.0, lo_open=True)
        self.t_ref = _per_layer("t_ref", t_ref, L, lo=0.0)
        syns = [synapse] * L if isinstance(synapse, str) else list(synapse)
        if len(syns) != L or any(x not in ("exp", "delta") for x in syns):
            raise ValueError(f"synapse={synapse!r} is not allowed; use 'exp' or 'delta', or one per layer ({L})")
        self.synapse = syns
        if delay_mode not in ("axonal", "synaptic"):
            raise ValueError(f"delay_mode={delay_mode!r} is not allowed; use 'axonal' or 'synaptic'")
        self.delay_mode = delay_mode
        self.learn_delays = boolean("learn_delays", learn_delays)
        self.learn_thresholds = boolean("learn_thresholds", learn_thresholds)
        self.delay_min = real("delay_min", delay_min, lo=0.0)
        self.theta_min = real("theta_min", theta_min, lo=0.0, lo_open=True)
        if output not in ("spike", "voltage"):
            raise ValueError(f"output={output!r} is not allowed; use 'spike' or 'voltage'")
        self.output = output
        rec = [recurrent] * (L - 1) if np.ndim(recurrent) == 0 else list(recurrent)
        if len(rec) != L - 1:
            raise ValueError(f"recurrent has {len(rec)} entries; give a bool or one per hidden layer ({L - 1})")
        rec = [boolean("recurrent", r) for r in rec]
        ff_d = _per_layer("delay", delay, L, lo=0.0)
        self.rec_delay = real("rec_delay", rec_delay, lo=0.0, lo_open=True)
        self.t_end = real("t_end", t_end, lo=0.0, lo_open=True)
        self.seed = integer("seed", seed, lo=0)
        if self.learn_delays:
            low = [d for d in ff_d + ([self.rec_delay] if any(rec) else []) if d < self.delay_min]
            if low:
                raise ValueError(f"delay {low[0]!r} is below delay_min={self.delay_min!r}; learned delays must "
                                 f"start >= delay_min")
        if self.learn_thresholds and min(self.theta) < self.theta_min:
            raise ValueError(f"theta {min(self.theta)!r} is below theta_min={self.theta_min!r}")
        projs = []
        for l in range(1, L + 1):
            projs.append(ProjectionSpec(l - 1, l, ff_d[l - 1], False))
            if l < L and rec[l - 1]:
                projs.append(ProjectionSpec(l, l, self.rec_delay, True))
        self.projections = projs
        shapes = [(sizes[p.pre], sizes[p.post]) for p in projs]
        # (in Python integers: sizes of 2**40 would overflow int64 before the check)
        n_w = sum(a * b for a, b in shapes)
        check_memory("sizes", sizes, 8 * n_w + 64 * sum(sizes), f"{n_w} weights (8 bytes each)")
        self._woff = np.zeros(len(projs) + 1, np.int64)
        self._woff[1:] = np.cumsum([a * b for a, b in shapes])
        self._doff = np.zeros(len(projs) + 1, np.int64)
        syn = delay_mode == "synaptic"
        dshapes = [(sizes[p.pre], sizes[p.post]) if syn else (sizes[p.pre],) for p in projs]
        self._doff[1:] = np.cumsum([int(np.prod(sh)) for sh in dshapes])
        n_w, n_d, n_n = int(self._woff[-1]), int(self._doff[-1]), sum(sizes[1:])
        groups = {"weights": slice(0, n_w)}
        if self.learn_delays:
            groups["delays"] = slice(n_w, n_w + n_d)
        if self.learn_thresholds:
            end = n_w + (n_d if self.learn_delays else 0)
            groups["thresholds"] = slice(end, end + n_n)
        self.groups = groups
        self.params = np.zeros(self.n_params)
        self.weights = [self.params[self._woff[q]:self._woff[q + 1]].reshape(shapes[q]) for q in range(len(projs))]
        dly = self.params[groups["delays"]] if self.learn_delays else np.zeros(n_d)
        self._dly = dly
        self.delays = [dly[self._doff[q]:self._doff[q + 1]].reshape(dshapes[q]) for q in range(len(projs))]
        for q, p in enumerate(projs):
            self.delays[q][:] = p.delay
        th = self.params[groups["thresholds"]] if self.learn_thresholds else np.zeros(n_n)
        self._th = th
        self.thresholds = th
        th[:] = np.repeat(self.theta, sizes[1:])
        draw_init(self.default_init() if init is None else init, self.weights, self.seed)
        self._build_arch()

    # ------------------------------------------------------------------ helpers
    def psp_peak(self, layer: int) -> float:
        """Peak of the PSP (mV) of a unit weight into ``layer`` (>= 1): 1 for delta synapses."""
        if self.synapse[layer - 1] == "delta":
            return 1.0
        return unit_psp_peak(self.tau_m[layer - 1], self.tau_s[layer - 1])

    def default_init(self):
        """(mean, std) per projection: feed-forward weights with mean 2 theta/(kappa n_pre)
        and std 2 theta/(kappa sqrt(n_pre)), kappa the unit PSP peak (so that about
        two coincident average inputs' worth of drive reach threshold); recurrent
        weights N(0, (theta/(kappa n))^2) (mV)."""
        out = []
        for p in self.projections:
            k = self.psp_peak(p.post)
            th = self.theta[p.post - 1]
            n = self.sizes[p.pre]
            if p.recurrent:
                out.append((0.0, th / (k * n)))
            else:
                out.append((2.0 * th / (k * n), 2.0 * th / (k * math.sqrt(n))))
        return out

    @property
    def n_neurons(self) -> int:
        return sum(self.sizes[1:])

    @property
    def n_params(self) -> int:
        return max(g.stop for g in self.groups.values())

    @property
    def n_weights(self) -> int:
        return int(self._woff[-1])

    def _check_params(self):
        check_flat(self.params, self.n_params)
        self._check_values(self.params)

    def _check_values(self, p):
        """ValueError unless the learned delays and thresholds in ``p`` (flat, params
        layout) are within their bounds."""
        if "delays" in self.groups:
            d = p[self.groups["delays"]]
            if d.size and d.min() < self.delay_min:
                raise ValueError(f"a delay is {float(d.min())!r} ms; learned delays must be >= delay_min="
                                 f"{self.delay_min!r} (use constrain() after an update)")
        if "thresholds" in self.groups:
            t = p[self.groups["thresholds"]]
            if t.min() < self.theta_min:
                raise ValueError(f"a threshold is {float(t.min())!r} mV; learned thresholds must be >= theta_min="
                                 f"{self.theta_min!r} (use constrain() after an update)")

    def constrain(self):
        """Project the learned delays and thresholds onto their bounds (in place)."""
        if "delays" in self.groups:
            d = self.params[self.groups["delays"]]
            np.maximum(d, self.delay_min, out=d)
        if "thresholds" in self.groups:
            t = self.params[self.groups["thresholds"]]
            np.maximum(t, self.theta_min, out=t)

    def lr_scale(self, weights=1.0, delays=1.0, thresholds=1.0):
        """Per-parameter learning-rate factors for ``Adam(lr_scale=...)``: one factor per
        group of :attr:`groups` (e.g. ``delays=20`` makes a delay step of 20 lr ms where
        a weight step is lr mV)."""
        out = np.empty(self.n_params)
        for name, f in (("weights", weights), ("delays", delays), ("thresholds", thresholds)):
            f = real(name, f, lo=0.0)
            if name in self.groups:
                out[self.groups[name]] = f
        return out

    def layer_slice(self, layer: int) -> slice:
        """Global neuron ids of ``layer`` (>= 1) as a slice."""
        layer = integer("layer", layer, lo=1, hi=len(self.sizes) - 1)
        return slice(int(self._arch["pop_off"][layer - 1]), int(self._arch["pop_off"][layer]))

    def _build_arch(self):
        L = len(self.sizes) - 1
        pop_off = np.zeros(L + 1, np.int64)
        pop_off[1:] = np.cumsum(self.sizes[1:])
        pop_g = np.array([1.0 / t for t in self.tau_m])
        pop_s = np.array([1.0 / t for t in self.tau_s])
        pop_ref = np.array(self.t_ref, np.float64)
        pop_spk = np.ones(L, np.int64)
        if self.output == "voltage":
            pop_spk[-1] = 0
            pop_ref[-1] = 0.0
        pop_delta = np.array([x == "delta" for x in self.synapse], np.int64)
        neuron_pop = np.repeat(np.arange(L, dtype=np.int64), self.sizes[1:])
        Q = len(self.projections)
        proj_pre = np.array([p.pre - 1 for p in self.projections], np.int64)   # -1 = input
        proj_post = np.array([p.post - 1 for p in self.projections], np.int64)
        # projections leaving each group: group 0 = input, group p+1 = population p
        by = [[q for q in range(Q) if proj_pre[q] == gidx - 1] for gidx in range(L + 1)]
        out_ptr = np.zeros(L + 2, np.int64)
        out_ptr[1:] = np.cumsum([len(b) for b in by])
        out_q = np.array([q for b in by for q in b], np.int64)
        self._arch = dict(pop_off=pop_off, pop_g=pop_g, pop_s=pop_s, pop_spk=pop_spk, pop_ref=pop_ref,
                          pop_delta=pop_delta,
                          neuron_pop=neuron_pop, proj_pre=proj_pre, proj_post=proj_post,
                          proj_woff=self._woff[:-1].copy(), proj_doff=self._doff[:-1].copy(),
                          proj_syn=np.full(Q, int(self.delay_mode == "synaptic"), np.int64), out_ptr=out_ptr,
                          out_q=out_q)
        syn = self.delay_mode == "synaptic"
        # log entries per spike besides its own: one per arrival event
        self._max_out = max(sum(self.sizes[self.projections[q].post] if syn else 1 for q in b) for b in by)

    def arch(self) -> Arch:
        """The flat arrays the kernels read (``eventprop.Arch``)."""
        return Arch(th=self._th, dly=self._dly, **self._arch)

    def set_params(self, p):
        """Replace all parameters (flat, in :attr:`params` order: mV, ms, mV)."""
        a = np.asarray(p)
        if a.dtype.kind in "iuf" and a.shape == self.params.shape and np.isfinite(a).all():
            self._check_values(a.astype(np.float64))
        set_flat(self.params, p)

    def to_network(self, input_times, input_ids, seed: int = 0):
        """The same network as an :class:`eventsnn.Network` driven by one sample's input
        spikes (for cross-checks with the event engine).  Needs delays > 0 between
        neuron layers and a spiking output layer.  Returns (net, [populations])."""
        if self.output != "spike":
            raise ValueError("to_network needs output='spike' (the engine has no non-spiking read-out)")
        net = Network(seed=seed)
        src = net.spike_source(np.asarray(input_times, float), np.asarray(input_ids, np.int64),
                               n=self.sizes[0])
        pops = []
        for l in range(1, len(self.sizes)):
            th = self.thresholds[self.layer_slice(l)]
            lo = float(th.min())
            ts = 0.0 if self.synapse[l - 1] == "delta" else self.tau_s[l - 1]
            lif = LIF(tau_m=self.tau_m[l - 1], tau_syn_exc=ts, tau_syn_inh=ts, v_rest=0.0, v_th=lo, v_reset=0.0,
                      t_ref=self.t_ref[l - 1])
            pop = net.population(self.sizes[l], lif, name=f"layer{l}")
            if np.any(th != lo):
                # per-neuron thresholds: the engine's threshold offsets (v_th + theta[n])
                pop.set_theta(th - lo)
            pops.append(pop)
        for q, p in enumerate(self.projections):
            pre = src if p.pre == 0 else pops[p.pre - 1]
            d = self.delays[q]
            W = self.weights[q]
            conn = from_dense(W)
            if np.all(d == d.flat[0]):
                net.connect(pre, pops[p.post - 1], conn, delay=float(d.flat[0]))
            else:
                # per-synapse delays in the CSR's (row-major, nonzero) order; an axonal
                # delay is repeated over its row
                dd = d[np.nonzero(W)] if d.ndim == 2 else np.repeat(d, np.diff(conn.indptr))
                conn = CSR(conn.indptr, conn.indices, conn.weights, np.ascontiguousarray(dd), n_post=conn.n_post)
                net.connect(pre, pops[p.post - 1], conn, delay=None)
        return net, pops
