"""A layered spiking network for EventProp: input spike times -> LIF layers -> outputs.

Layers are populations of the normalised LIF neuron of :mod:`.eventprop`
(tau_m dV/dt = -V + I, tau_s dI/dt = -I, threshold theta, reset to 0, no refractory
period); the last layer is either spiking (read out by first-spike times) or a
non-spiking leaky integrator (read out by its voltage maximum).  Projections are dense
weight matrices (mV) with one delay each (ms): feed-forward from every layer to the
next, and optionally recurrent within hidden layers.  All weights live in one flat
float64 vector ``params`` (what the optimiser updates); ``weights[q]`` are
(n_pre, n_post) views into it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import boolean, check_memory, integer, real
from ..connectivity import from_dense
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
    """

    def __init__(self, sizes, *, tau_m=20.0, tau_s=5.0, theta=1.0, output="spike", recurrent=False,
                 delay=0.0, rec_delay=1.0, t_end=100.0, init=None, seed=0):
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
        self.params = np.zeros(int(self._woff[-1]))
        self.weights = [self.params[self._woff[q]:self._woff[q + 1]].reshape(shapes[q]) for q in range(len(projs))]
        draw_init(self.default_init() if init is None else init, self.weights, self.seed)
        self._build_arch()

    # ------------------------------------------------------------------ helpers
    def psp_peak(self, layer: int) -> float:
        """Peak of the PSP (mV) of a unit weight into ``layer`` (>= 1)."""
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
        return int(self._woff[-1])

    def _check_params(self):
        check_flat(self.params, self.n_params)

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
        pop_th = np.array(self.theta, np.float64)
        pop_spk = np.ones(L, np.int64)
        if self.output == "voltage":
            pop_spk[-1] = 0
        neuron_pop = np.repeat(np.arange(L, dtype=np.int64), self.sizes[1:])
        Q = len(self.projections)
        proj_pre = np.array([p.pre - 1 for p in self.projections], np.int64)   # -1 = input
        proj_post = np.array([p.post - 1 for p in self.projections], np.int64)
        proj_d = np.array([p.delay for p in self.projections], np.float64)
        # projections leaving each group: group 0 = input, group p+1 = population p
        by = [[q for q in range(Q) if proj_pre[q] == gidx - 1] for gidx in range(L + 1)]
        out_ptr = np.zeros(L + 2, np.int64)
        out_ptr[1:] = np.cumsum([len(b) for b in by])
        out_q = np.array([q for b in by for q in b], np.int64)
        self._arch = dict(pop_off=pop_off, pop_g=pop_g, pop_s=pop_s, pop_th=pop_th, pop_spk=pop_spk,
                          neuron_pop=neuron_pop, proj_pre=proj_pre, proj_post=proj_post, proj_d=proj_d,
                          proj_woff=self._woff[:-1].copy(), out_ptr=out_ptr, out_q=out_q)
        self._max_out = max(len(b) for b in by)

    def arch(self) -> Arch:
        """The flat arrays the kernels read (``eventprop.Arch``)."""
        return Arch(**self._arch)

    def set_params(self, p):
        """Replace all weights (flat, in :attr:`params` order; mV)."""
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
            lif = LIF(tau_m=self.tau_m[l - 1], tau_syn_exc=self.tau_s[l - 1], tau_syn_inh=self.tau_s[l - 1],
                      v_rest=0.0, v_th=self.theta[l - 1], v_reset=0.0, t_ref=0.0)
            pops.append(net.population(self.sizes[l], lif, name=f"layer{l}"))
        for q, p in enumerate(self.projections):
            pre = src if p.pre == 0 else pops[p.pre - 1]
            W = self.weights[q]
            net.connect(pre, pops[p.post - 1], from_dense(W), delay=p.delay)
        return net, pops
