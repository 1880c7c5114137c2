"""The user-facing network builder: populations, sources, projections, runs.

A :class:`Network` is built in Python (validated objects), compiled once into flat
arrays (the plan) at the first :meth:`Network.run`, and simulated by the jitted event
loop in :mod:`eventsnn.engine.event`.  All run state (neuron states, queue, random
streams, counters, time) lives in plain arrays in ``Network._state``, so a run can be
continued exactly: ``run(T)`` equals ``run(T/2); run(T/2)`` bitwise.

Units: ms, mV, Hz.  Global neuron ids run over the neuron populations in the order
they were created; sources are not neurons and have no global neuron id.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import types
from numba.typed import List

from . import connectivity as cx
from ._dtypes import TIME
from ._validate import boolean, integer, real
from .engine import event as E
from .engine.queue import new_queue, reserve
from .engine.rng import seed_streams
from . import plasticity as PLM
from .models import LIF, P_ADAPT, P_C, P_FRAME, P_G, P_HASEXP, P_SE, P_SI, P_VINF, P_VTH
from .results import OpCounts, Result, Spikes, StateSamples, _spike_order

__all__ = ["Network", "Population", "SpikeSource", "PoissonSource", "Projection"]

_STREAM_SOURCES, _STREAM_DRIVE, _STREAM_BUILD, _STREAM_INIT = 1, 2, 3, 4


def _neuron_state(N, V, npop, theta=None):
    """Neuron state as column views of one (N, 8) float64 array aligned to 64 bytes:
    V, I_exc, I_inh, t_last, refractory end, candidate seq (int64), candidate time,
    target crossing time.  One neuron's state fills exactly one cache line, so a
    synaptic event touches one line instead of eight (64 bytes per neuron).  Returns
    (S, st): the tuple of views the kernels unpack and the array itself."""
    raw = np.zeros(N * 8 + 8)
    off = (-raw.ctypes.data % 64) // 8
    st = raw[off:off + N * 8].reshape(N, 8)
    st[:, 0] = V
    st[:, 4] = -np.inf
    st[:, 5].view(np.int64)[:] = -1
    st[:, 6] = np.inf
    st[:, 7] = np.inf
    th = np.zeros(N) if theta is None else np.ascontiguousarray(theta, dtype=np.float64)
    return (st[:, 0], st[:, 1], st[:, 2], st[:, 3], st[:, 4], st[:, 5].view(np.int64),
            st[:, 6], st[:, 7], np.zeros(npop), th), st


def _sign(w, rule=None):
    """1 if all weights are >= 0, -1 if all are < 0, else 0 (the engine skips or
    fuses threshold tests on such rows).  With a plasticity rule the bounds decide:
    weights never leave them."""
    if rule is not None:
        return 1 if rule.w_min >= 0 else -1
    if w.size == 0 or w.min() >= 0:
        return 1
    if w.max() < 0:
        return -1
    return 0


class _Group:
    """Something with outgoing projections (a neuron population or a source group)."""

    def __init__(self, net, size, name):
        self.net = net
        self.size = size
        self.name = name

    def __len__(self):
        return self.size

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, size={self.size})"


class Population(_Group):
    """A population of identical LIF neurons (global ids ``offset .. offset+size-1``)."""

    def __init__(self, net, size, model, name, offset, v_init, index):
        super().__init__(net, size, name)
        self.model = model
        self.offset = offset
        self.v_init = v_init
        self.index = index
        self._theta0 = np.zeros(size)

    @property
    def ids(self):
        """Global ids (int64) of the population's neurons."""
        return np.arange(self.offset, self.offset + self.size, dtype=np.int64)

    @property
    def theta(self) -> np.ndarray:
        """Adaptive threshold offsets (mV, a copy): neuron i fires at v_th + theta[i]
        (see ``LIF.theta_plus``)."""
        net = self.net
        if not net._compiled:
            return self._theta0.copy()
        return net._plan["S"][9][self.offset:self.offset + self.size].copy()

    def set_theta(self, theta):
        """Set the threshold offsets (mV, >= 0, scalar or one per neuron) at the
        network's current time, e.g. to apply a slow decay between runs.  Pending
        threshold crossings are recomputed exactly from each neuron's state now."""
        a = np.asarray(theta)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"theta must be real numbers (mV), got dtype {a.dtype}")
        try:
            a = np.broadcast_to(a.astype(np.float64), (self.size,))
        except ValueError:
            raise ValueError(f"theta has shape {a.shape}; need a scalar or shape ({self.size},)") from None
        if not (np.isfinite(a).all() and (a >= 0).all()):
            bad = a[~(np.isfinite(a) & (a >= 0))][0]
            raise ValueError(f"theta contains {float(bad)!r}; threshold offsets must be finite and >= 0 (mV)")
        net = self.net
        if not net._compiled:
            self._theta0 = a.copy()
            return
        pl = net._plan
        pl["S"][9][self.offset:self.offset + self.size] = a
        if a.any():
            pl["P"][self.index, P_ADAPT] = 1.0
        # at most one new candidate per neuron
        pl["Q"] = reserve(pl["Q"], self.size)
        E.reschedule(pl["P"], pl["neuron_pop"], pl["S"], pl["Q"], pl["cnt"],
                     self.offset, self.offset + self.size, net.t)


class SpikeSource(_Group):
    """Sources that emit given spike trains (times in ms)."""

    def __init__(self, net, size, name, ptr, times):
        super().__init__(net, size, name)
        self.ptr = ptr
        self.times = times


class PoissonSource(_Group):
    """Independent Poisson sources, one random stream each (rates in Hz)."""

    def __init__(self, net, size, name, rates):
        super().__init__(net, size, name)
        self.rates = rates


@dataclass
class Projection:
    """Synapses from ``pre`` to ``post``: a CSR (local ids) and a delay.

    ``delay`` is the homogeneous delay (ms) or None when ``csr.delays`` holds one delay
    per synapse (rows sorted by delay).
    """

    pre: _Group
    post: Population
    csr: cx.CSR
    delay: float | None
    index: int
    plasticity: PLM.PlasticityRule | None = None
    _learning: bool = True
    _reward0: float = 0.0

    @property
    def n_synapses(self) -> int:
        return self.csr.nnz

    def _pl_index(self):
        """Row of this projection in the compiled plasticity table, or None."""
        net = self.pre.net
        if self.plasticity is None or not net._compiled:
            return None
        return int(net._plan["PLS"][0][self.index])

    def _sync(self):
        """Reward-modulated weights drift between events: integrate them up to now."""
        k = self._pl_index()
        if k is not None and self.plasticity.is_reward:
            PLS = self.pre.net._plan["PLS"]
            PLM.reward_sync_all(PLS[2], k, self.csr.weights, PLS[8][k], PLS[9], self.pre.net.t)

    def _current_weights(self):
        """Weights now, without changing any state: reward-modulated weights are
        integrated into a copy (an observation must not perturb the run)."""
        k = self._pl_index()
        if k is not None and self.plasticity.is_reward:
            PLS = self.pre.net._plan["PLS"]
            w = self.csr.weights.copy()
            PLM.reward_sync_all(PLS[2], k, w, PLS[8][k].copy(), PLS[9], self.pre.net.t)
            return w
        return self.csr.weights

    @property
    def weights(self) -> np.ndarray:
        """Per-synapse weights (mV) at the network's current time, in CSR order
        (read-only; plastic weights change as the network runs)."""
        w = self._current_weights().view()
        w.flags.writeable = False
        return w

    @property
    def learning(self) -> bool:
        """Whether the plasticity rule changes weights (traces are kept up to date
        either way, so learning can be switched on again at any time)."""
        return self._learning

    @learning.setter
    def learning(self, on):
        on = boolean("learning", on)
        if self.plasticity is None:
            raise ValueError("learning: this projection has no plasticity rule")
        k = self._pl_index()
        if k is not None and on != self._learning:
            PLS = self.pre.net._plan["PLS"]
            self._sync()
            if on and self.plasticity.is_reward:
                # eligibility was frozen while learning was off: resume from now
                PLS[8][k][:, 1] = self.pre.net.t
            PLS[2][k, PLM.K_LEARN] = float(on)
        self._learning = on

    def reward(self, amount: float):
        """Add ``amount`` to the reward (dopamine) level of a :class:`RewardSTDP`
        projection at the network's current time (between runs).  The level then
        decays with the rule's tau_d."""
        amount = real("amount", amount)
        if not isinstance(self.plasticity, PLM.RewardSTDP):
            raise ValueError("reward: this projection has no RewardSTDP rule")
        k = self._pl_index()
        if k is None:
            self._reward0 += amount
            return
        self._sync()
        rw = self.pre.net._plan["PLS"][9]
        rw[k, 0] = self._level_now(k) + amount
        rw[k, 1] = self.pre.net.t

    def _level_now(self, k):
        """Reward level d(t) at the network's current time (row k of the table)."""
        PLS = self.pre.net._plan["PLS"]
        d, td = PLS[9][k]
        itaud = PLS[2][k, PLM.K_ITAUD]
        return float(d * math.exp(-(self.pre.net.t - td) * itaud) if itaud > 0 else d)

    def reward_level(self) -> float:
        """The current reward level d(t) of a RewardSTDP projection."""
        if not isinstance(self.plasticity, PLM.RewardSTDP):
            raise ValueError("reward_level: this projection has no RewardSTDP rule")
        k = self._pl_index()
        if k is None:
            return self._reward0
        return self._level_now(k)

    def traces(self) -> dict:
        """Plasticity traces at the network's current time: ``pre`` (n_pre, 2) and
        ``post`` (n_post, 2) arrays of (fast, slow) trace values, computed exactly."""
        if self.plasticity is None:
            raise ValueError("traces: this projection has no plasticity rule")
        k = self._pl_index()
        if k is None:
            return {"pre": np.zeros((self.pre.size, 2)), "post": np.zeros((self.post.size, 2))}
        PLS = self.pre.net._plan["PLS"]
        row = PLS[2][k]
        t = self.pre.net.t
        out = {}
        for name, tr, (i1, i2) in (("pre", PLS[3][k], (PLM.K_IPLUS, PLM.K_IX)),
                                   ("post", PLS[4][k], (PLM.K_IMINUS, PLM.K_IY))):
            dt = t - tr[:, PLM.T_LAST]
            with np.errstate(invalid="ignore"):
                v = np.stack([tr[:, 0] * np.exp(-dt * row[i1]), tr[:, 1] * np.exp(-dt * row[i2])], axis=1)
            v[~np.isfinite(tr[:, PLM.T_LAST])] = 0.0
            out[name] = v
        return out

    def set_weights(self, w):
        """Replace all weights (mV) in CSR order; validated before anything changes."""
        a = np.asarray(w)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"w must be a real array, got dtype {a.dtype}")
        if a.shape != self.csr.weights.shape:
            raise ValueError(f"w has shape {a.shape}; this projection needs shape {self.csr.weights.shape}")
        if not np.isfinite(a).all():
            bad = a[~np.isfinite(a)][0]
            raise ValueError(f"w contains {float(bad)!r}; weights must be finite (mV)")
        rule = self.plasticity
        if rule is not None and a.size and (a.min() < rule.w_min or a.max() > rule.w_max):
            bad = a[(a < rule.w_min) | (a > rule.w_max)][0]
            raise ValueError(f"w contains {float(bad)!r}; plastic weights must be in "
                             f"[w_min, w_max] = [{rule.w_min}, {rule.w_max}] mV")
        self._sync()
        net = self.pre.net
        if not self.csr.weights.flags.writeable:
            # one shared weight (a read-only view) becomes one weight per synapse
            self.csr.weights = np.array(a, dtype=np.float64)
            if net._compiled:
                net._plan["R"][9][self.index] = self.csr.weights
        else:
            self.csr.weights[:] = a
        if net._compiled:
            net._plan["R"][-1][self.index] = _sign(self.csr.weights, rule)

    def to_scipy(self):
        """Weights as a scipy.sparse.csr_matrix of shape (len(pre), len(post)), at the
        network's current time.

        Several synapses between the same pair stay separate stored entries."""
        k = self._pl_index()
        if k is not None and self.plasticity.is_reward:
            return cx.CSR(self.csr.indptr, self.csr.indices, self._current_weights(), self.csr.delays,
                          n_post=self.csr.n_post).to_scipy()
        return self.csr.to_scipy()


def _wheel_size(src_kind, src_rate, st_ptr, st_times, src_lane):
    """Bucket width (ms, a power of two) and count of the source wheel (``engine.queue``):
    about 32 spikes per bucket at the sources' total rate, and a horizon of some 16 mean
    intervals of a source, beyond which a spike goes to the heap.  Performance only: any
    size gives the same results."""
    own = src_lane < 0          # fused sources queue in the heap
    n = int(own.sum())
    if n == 0:
        return dict(wheel_width=0.0, wheel_buckets=1)
    rate = float(src_rate[own & (src_kind == 1)].sum())           # spikes per ms
    trains = np.flatnonzero(own & (src_kind == 0))
    if trains.size and st_times.size:
        cnt = int((st_ptr[trains + 1] - st_ptr[trains]).sum())
        span = float(st_times.max() - st_times.min()) if cnt > 1 else 0.0
        rate += cnt / max(span, 1.0)
    width = 2.0 ** int(np.clip(np.round(np.log2(32.0 / rate)), -12, 6)) if rate > 0 else 1.0
    buckets = 64
    while buckets < n // 2 and buckets < 2 ** 16:
        buckets *= 2
    return dict(wheel_width=width, wheel_buckets=buckets)


class Network:
    """An event-driven network of LIF populations, sources and CSR projections.

    Parameters
    ----------
    seed : int
        Seeds every random stream of the network (connectivity, initial states,
        Poisson sources and drives); the same seed gives bitwise the same run.
    """

    #: run the common steps in the engine's fast loop (``engine.event._fast_events``):
    #: None (default) for networks with a population of more than 2**15 neurons, whose
    #: neuron state does not fit in a core's cache and whose rows' cache misses the
    #: fast loop lets overlap (measured -15 % wall time at 2 * 10**5 neurons, no
    #: change on Brunel's 10**4); True always, False never.  Results are bitwise the
    #: same; the fast loop costs about 4 s of compilation on a cold start, which the
    #: small networks (the main job) do without.
    _fast_path = None

    def _use_fast_loop(self):
        """True or None, the ``fast`` argument of ``engine.event.run_kernel``."""
        if self._fast_path is None:
            big = max((p.size for p in self._pops), default=0) > 2 ** 15
            return True if big else None
        return True if self._fast_path else None

    # populations over this many neurons get their rows loaded ahead through the lanes
    # (and sources into them are not fused); None: engine.event._PREFETCH_POP.  For
    # tests, which reach those paths with small networks; results do not depend on it.
    _prefetch_pop = None

    def _pf_pop(self):
        return E._PREFETCH_POP if self._prefetch_pop is None else int(self._prefetch_pop)

    def __init__(self, seed: int = 0):
        self.seed = integer("seed", seed, lo=0)
        if self.seed >= 2**63:
            raise ValueError(f"seed={seed!r} is not allowed; seed must be < 2**63")
        self._pops: list[Population] = []
        self._sources: list[_Group] = []
        self._projs: list[Projection] = []
        self._drives: list[tuple] = []
        self._records: list[tuple] = []
        self._n = 0
        self._names = set()
        self._compiled = False
        self.t = 0.0
        self.counts = OpCounts()
        self._all_spikes = []

    # ------------------------------------------------------------------ building
    def _check_open(self, what):
        if self._compiled:
            raise RuntimeError(f"cannot {what} after the network has run (or was prepared); "
                               f"build the whole network first")

    def _name(self, name, default):
        if name is None:
            name = f"{default}{len(self._pops) + len(self._sources)}"
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if name in self._names:
            raise ValueError(f"name={name!r} is already used in this network")
        return name

    def _own(self, group, argname):
        if not isinstance(group, _Group):
            raise TypeError(f"{argname} must be a population or source of this network, got {type(group).__name__}")
        if group.net is not self:
            raise ValueError(f"{argname}={group!r} belongs to a different Network")

    def population(self, n: int, model: LIF, name: str | None = None, v_init=None) -> Population:
        """Add ``n`` neurons with parameters ``model``.

        Parameters
        ----------
        n : int
            Number of neurons, >= 1.
        model : LIF
            Shared parameters.
        v_init : None, float, array of shape (n,), or (low, high)
            Initial membrane potential (mV): ``None`` = v_rest; a tuple draws uniformly
            from [low, high) with the network's seed.  Every value must be < v_th.
        """
        self._check_open("add a population")
        n = integer("n", n, lo=1)
        if not isinstance(model, LIF):
            raise TypeError(f"model must be an eventsnn.LIF, got {type(model).__name__}")
        name = self._name(name, "pop")
        if v_init is None:
            v = np.full(n, model.v_rest)
        elif isinstance(v_init, tuple):
            if len(v_init) != 2:
                raise ValueError(f"v_init={v_init!r}: a tuple must be (low, high) in mV")
            lo = real("v_init[0]", v_init[0])
            hi = real("v_init[1]", v_init[1])
            if not lo < hi:
                raise ValueError(f"v_init={v_init!r}: need low < high")
            if hi > model.v_th:
                raise ValueError(f"v_init={v_init!r}: high={hi!r} exceeds v_th={model.v_th!r}; "
                                 f"draws from [low, high) must stay below threshold")
            rng = np.random.default_rng([self.seed, _STREAM_INIT, len(self._pops)])
            v = rng.uniform(lo, hi, n)
        else:
            v = np.asarray(v_init)
            if v.dtype.kind not in "iuf":
                raise TypeError(f"v_init must be None, a real number, a real array or (low, high), "
                                f"got {v_init!r}")
            v = v.astype(float)
            if v.ndim == 0:
                v = np.full(n, float(v))
            if v.shape != (n,):
                raise ValueError(f"v_init has shape {v.shape}; expected a scalar or shape ({n},)")
        if not np.isfinite(v).all():
            bad = v[~np.isfinite(v)][0]
            raise ValueError(f"v_init contains {float(bad)!r}; v_init must be finite (mV)")
        if (v >= model.v_th).any():
            bad = v[v >= model.v_th][0]
            raise ValueError(f"v_init contains {float(bad)!r} >= v_th={model.v_th!r}; initial potentials must be below threshold")
        pop = Population(self, n, model, name, self._n, v, len(self._pops))
        self._pops.append(pop)
        self._names.add(name)
        self._n += n
        return pop

    def spike_source(self, times, ids, n: int | None = None, name: str | None = None) -> SpikeSource:
        """Add sources that emit the given spikes.

        Parameters
        ----------
        times : array of float
            Spike times (ms), >= 0 and finite.
        ids : array of int
            Source index of each spike, in [0, n).
        n : int, optional
            Number of sources; default ``max(ids) + 1``.
        """
        self._check_open("add a source")
        t = np.asarray(times)
        i = np.asarray(ids)
        if t.dtype.kind not in "iuf":
            raise TypeError(f"times must be real numbers, got dtype {t.dtype}")
        if i.dtype.kind not in "iu" and not (i.size == 0 and i.dtype.kind == "f"):
            raise TypeError(f"ids must be integers, got dtype {i.dtype}")
        t = t.astype(TIME).ravel()
        i = i.astype(np.int64).ravel()
        if t.shape != i.shape:
            raise ValueError(f"times and ids must have the same length, got {t.shape[0]} and {i.shape[0]}")
        if t.size and not (np.isfinite(t).all() and (t >= 0).all()):
            bad = t[~(np.isfinite(t) & (t >= 0))][0]
            raise ValueError(f"times contains {float(bad)!r}; spike times must be finite and >= 0 ms")
        if n is None:
            n = int(i.max()) + 1 if i.size else 0
        n = integer("n", n, lo=1)
        if i.size and (i.min() < 0 or i.max() >= n):
            bad = i[(i < 0) | (i >= n)][0]
            raise ValueError(f"ids contains {bad}; ids must be in [0, {n})")
        order = np.lexsort((t, i))
        ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(i, minlength=n), out=ptr[1:])
        name = self._name(name, "spikes")
        src = SpikeSource(self, n, name, ptr, t[order])
        self._sources.append(src)
        self._names.add(name)
        return src

    def poisson_source(self, n: int, rate, name: str | None = None) -> PoissonSource:
        """Add ``n`` independent Poisson sources with ``rate`` (Hz, scalar or per source)."""
        self._check_open("add a source")
        n = integer("n", n, lo=1)
        if isinstance(rate, np.ndarray) and rate.ndim == 0:
            rate = rate[()]
        if isinstance(rate, (int, float, np.number, bool, str)):
            r = np.full(n, real("rate", rate, lo=0.0))
        else:
            r = np.asarray(rate)
            if r.dtype.kind not in "iuf":
                raise TypeError(f"rate must be a real number or a real array (Hz), got dtype {r.dtype}")
            r = r.astype(float)
            if r.shape != (n,):
                raise ValueError(f"rate has shape {r.shape}; expected a scalar or shape ({n},)")
            ok = np.isfinite(r) & (r >= 0)
            if not ok.all():
                bad = r[~ok][0]
                raise ValueError(f"rate contains {float(bad)!r}; rate must be finite and >= 0 Hz for every source")
        name = self._name(name, "poisson")
        src = PoissonSource(self, n, name, r.astype(float))
        self._sources.append(src)
        self._names.add(name)
        return src

    def poisson_drive(self, pop: Population, rate: float, weight: float, delay: float = 0.0):
        """Drive every neuron of ``pop`` with its own Poisson train (``rate`` Hz, ``weight`` mV).

        For delta-synapse populations that cannot fire spontaneously the arrivals are
        applied exactly inside each neuron's update, with no queue work; otherwise a
        :meth:`poisson_source` with a one-to-one projection (``delay`` ms) is created.
        """
        self._check_open("add a drive")
        self._own(pop, "pop")
        if not isinstance(pop, Population):
            raise TypeError("pop must be a neuron Population")
        rate = real("rate", rate, lo=0.0)
        weight = real("weight", weight)
        delay = real("delay", delay, lo=0.0)
        row = pop.model.row()
        spontaneous = (row[P_G] > 0 and row[P_VINF] > row[P_VTH]) or (row[P_G] == 0 and row[P_C] > 0)
        # lazily only into delta synapses (V jumps): the engine applies a lazy arrival as a
        # jump and tests the threshold right after it, which an exp current would not do
        if row[P_FRAME] and row[P_HASEXP] == 0 and not spontaneous:
            self._drives.append((pop, rate, weight))
            return None
        src = self.poisson_source(pop.size, rate, name=f"{pop.name}_drive{len(self._sources)}")
        self.connect(src, pop, cx.one_to_one(), weight=weight, delay=delay)
        return src

    def connect(self, pre, post, rule, weight=None, delay=1.0, *, dtype=np.float64,
                plasticity=None) -> Projection:
        """Connect ``pre`` (population or source) to ``post`` (population).

        Parameters
        ----------
        rule : ConnectionRule or CSR
            A rule from :mod:`eventsnn.connectivity` (``fixed_indegree(k)``, ...) or a
            ready CSR (``from_dense``, ``from_scipy``, ``from_lists``) with weights.
        weight : float, array or callable
            Weights (mV) for a rule (required); must be None for a CSR.
        delay : float, array or callable
            Delay (ms): a scalar is homogeneous (no per-synapse storage), an array gives
            one delay per synapse.  Must be > 0 from neurons, >= 0 from sources.  With a
            CSR that has per-synapse delays, pass ``delay=None``.
        plasticity : PlasticityRule, optional
            An STDP rule from :mod:`eventsnn.plasticity` (``STDP``, ``Triplet``,
            ``Vogels``, ``RewardSTDP``); needs a homogeneous delay and weights inside
            the rule's bounds.
        """
        self._check_open("connect")
        if plasticity is not None and not isinstance(plasticity, PLM.PlasticityRule):
            raise TypeError(f"plasticity must be a rule from eventsnn.plasticity (STDP, Triplet, "
                            f"Vogels, RewardSTDP) or None, got {type(plasticity).__name__}")
        self._own(pre, "pre")
        self._own(post, "post")
        if not isinstance(post, Population):
            raise TypeError(f"post must be a neuron Population, got {type(post).__name__}")
        from_source = not isinstance(pre, Population)
        if isinstance(rule, cx.CSR):
            if weight is not None:
                raise ValueError("weight must be None when rule is a CSR (it carries its weights)")
            if rule.n_pre != pre.size or rule.n_post != post.size:
                raise ValueError(f"rule is a CSR of shape ({rule.n_pre}, {rule.n_post}); "
                                 f"pre/post have sizes ({pre.size}, {post.size})")
            try:
                cx.CSR(rule.indptr, rule.indices, rule.weights, rule.delays, n_post=rule.n_post)
            except (TypeError, ValueError) as e:
                raise type(e)(f"rule is a malformed CSR: {e}") from None
            csr = rule
            if csr.delays is not None:
                if delay is not None:
                    raise ValueError("delay must be None when the CSR has per-synapse delays")
                d = None
            else:
                if delay is None:
                    raise ValueError("delay=None but the CSR has no per-synapse delays; give a delay (ms)")
                d = self._check_delay(delay, from_source)
        elif isinstance(rule, cx.ConnectionRule):
            if weight is None:
                raise ValueError("weight is required with a connection rule (mV)")
            if delay is None:
                raise ValueError("delay must be given (ms)")
            scalar_delay = np.ndim(delay) == 0 and not callable(delay)
            if scalar_delay:
                d = self._check_delay(delay, from_source)
            seed = int(np.random.SeedSequence([self.seed, _STREAM_BUILD, len(self._projs)]).generate_state(1)[0])
            csr = cx.connect(rule, pre.size, post.size, weight, None if scalar_delay else delay,
                             seed=seed, same_population=pre is post, dtype=dtype)
            if not scalar_delay:
                d = None
        else:
            raise TypeError(f"rule must be a connectivity rule or a CSR, got {type(rule).__name__}")
        if csr.weights.dtype != np.float64:
            raise TypeError("the engine needs float64 weights (float32 weights are not supported yet)")
        if d is None:
            if csr.nnz and csr.delays.min() <= 0 and not from_source:
                raise ValueError("delays from neurons must be > 0 ms")
            if plasticity is not None:
                raise ValueError("delay: a plastic projection needs one homogeneous delay (a scalar, ms); "
                                 "per-synapse delays are not supported with plasticity")
            csr = csr.sort_by_delay()
        if plasticity is not None:
            if cx.is_shared(csr.weights):
                # plastic weights change one by one: give each synapse its own
                csr = cx.CSR(csr.indptr, csr.indices, np.array(csr.weights), csr.delays,
                             n_post=csr.n_post, check="none")
            if csr.nnz >= 2**31:
                raise ValueError(f"a plastic projection may have at most 2**31 - 1 synapses, got {csr.nnz}")
            w = csr.weights
            if w.size and (w.min() < plasticity.w_min or w.max() > plasticity.w_max):
                bad = w[(w < plasticity.w_min) | (w > plasticity.w_max)][0]
                raise ValueError(f"weight contains {float(bad)!r}; with this plasticity rule weights must be "
                                 f"in [w_min, w_max] = [{plasticity.w_min}, {plasticity.w_max}] mV")
        proj = Projection(pre, post, csr, d, len(self._projs), plasticity)
        self._projs.append(proj)
        return proj

    @staticmethod
    def _check_delay(delay, from_source):
        d = real("delay", delay, lo=0.0, lo_open=not from_source)
        return d

    def record_state(self, ids, times):
        """Sample V and the currents of neurons ``ids`` (global) at ``times`` (ms).

        Samples are exact left limits (state before any input at that instant).
        """
        self._check_open("add a state recorder")
        i = np.asarray(ids)
        t = np.asarray(times)
        if i.dtype.kind not in "iu" and not (i.size == 0 and i.dtype.kind == "f"):
            raise TypeError(f"ids must be integers, got dtype {i.dtype}")
        if t.dtype.kind not in "iuf":
            raise TypeError(f"times must be real numbers (ms), got dtype {t.dtype}")
        t = t.astype(float).ravel()
        i = i.astype(np.int64).ravel()
        if i.size and (i.min() < 0 or i.max() >= self._n):
            bad = i[(i < 0) | (i >= self._n)][0]
            raise ValueError(f"ids contains {bad}; neuron ids must be in [0, {self._n})")
        if t.size and not (np.isfinite(t).all() and (t >= 0).all()):
            bad = t[~(np.isfinite(t) & (t >= 0))][0]
            raise ValueError(f"times contains {float(bad)!r}; sample times must be finite and >= 0 ms")
        if self._records:
            raise ValueError("record_state may be called once per network")
        self._records.append((i, np.sort(t)))

    # ---------------------------------------------------------------- compiling
    def _compile(self):
        # a lazily applied drive can reveal a spike after later events were processed;
        # plasticity needs every postsynaptic spike in time order, so the drive of a
        # population with plastic inputs becomes a queued Poisson source
        plastic_post = {id(pr.post) for pr in self._projs if pr.plasticity is not None}
        lazy = [d for d in self._drives if id(d[0]) in plastic_post]
        self._drives = [d for d in self._drives if id(d[0]) not in plastic_post]
        for pop, rate, weight in lazy:
            src = self.poisson_source(pop.size, rate, name=f"{pop.name}_drive{len(self._sources)}")
            self.connect(src, pop, cx.one_to_one(), weight=weight, delay=0.0)
        pops, srcs, projs = self._pops, self._sources, self._projs
        N = self._n
        npop = len(pops)
        if npop == 0:
            raise RuntimeError("the network has no neuron population")
        P = np.stack([p.model.row() for p in pops])
        pop_off = np.zeros(npop + 1, np.int64)
        pop_off[1:] = np.cumsum([p.size for p in pops])
        # int64 ids throughout: int32 and int64 arguments would compile two copies of
        # each engine helper (see engine.event)
        neuron_pop = np.repeat(np.arange(npop, dtype=np.int64), [p.size for p in pops])
        S_tot = sum(s.size for s in srcs)
        src_group_off = np.zeros(len(srcs) + 1, np.int64)
        src_group_off[1:] = np.cumsum([s.size for s in srcs])
        groups = list(pops) + list(srcs)
        gidx = {id(g): k for k, g in enumerate(groups)}
        goff = [p.offset for p in pops] + [N + int(o) for o in src_group_off[:-1]]
        node_group = np.repeat(np.arange(len(groups), dtype=np.int32), [g.size for g in groups])
        by_group = [[] for _ in groups]
        for pr in projs:
            by_group[gidx[id(pr.pre)]].append(pr.index)
        grp_proj_ptr = np.zeros(len(groups) + 1, np.int64)
        grp_proj_ptr[1:] = np.cumsum([len(b) for b in by_group])
        grp_proj = np.array([q for b in by_group for q in b], dtype=np.int32)
        proj_pre_off = np.array([goff[gidx[id(pr.pre)]] for pr in projs], dtype=np.int64)
        proj_post_off = np.array([pr.post.offset for pr in projs], dtype=np.int64)
        proj_post_pop = np.array([pr.post.index for pr in projs], dtype=np.int64)
        proj_delay = np.array([-1.0 if pr.delay is None else pr.delay for pr in projs], dtype=np.float64)
        indptr_l = List.empty_list(types.int64[::1])
        idx_l = List.empty_list(types.int32[::1])
        w_l = List.empty_list(types.float64[::1])
        d_l = List.empty_list(types.float64[::1])
        empty = np.empty(0, np.float64)
        for pr in projs:
            indptr_l.append(np.ascontiguousarray(pr.csr.indptr, dtype=np.int64))
            idx_l.append(np.ascontiguousarray(pr.csr.indices, dtype=np.int32))
            # one shared weight: a one-element array (the kernels read weight j & 0)
            w_l.append(cx._kernel_weights(pr.csr.weights)[0])
            d_l.append(empty if pr.csr.delays is None else pr.csr.delays)
        proj_sign = np.array([_sign(pr.csr.weights, pr.plasticity) for pr in projs], dtype=np.int8)
        R = (node_group, grp_proj_ptr, grp_proj, proj_pre_off, proj_post_off, proj_post_pop,
             proj_delay, indptr_l, idx_l, w_l, d_l, proj_sign)
        # what emitting a spike reads, as flat arrays (no typed list, so the kernels
        # that fire neurons run without reference counting): every projection's row
        # pointers in one array (8 bytes per presynaptic node and projection, a copy
        # of the CSR's) and, with per-synapse delays, each row's first delay
        row_ptr_off = np.zeros(len(projs) + 1, np.int64)
        row_ptr_off[1:] = np.cumsum([len(ip) for ip in indptr_l])
        row_ptr = np.concatenate([np.asarray(ip) for ip in indptr_l]) if projs else np.zeros(1, np.int64)
        row_d0_off = np.full(len(projs), -1, np.int64)
        d0_parts, n_d0 = [], 0
        for k, pr in enumerate(projs):
            if pr.csr.delays is not None:
                ip = indptr_l[k]
                first = np.minimum(ip[:-1], max(pr.csr.nnz - 1, 0))
                d0_parts.append(pr.csr.delays[first] if pr.csr.nnz else np.zeros(len(ip) - 1))
                row_d0_off[k] = n_d0
                n_d0 += len(ip) - 1
        row_d0 = np.concatenate(d0_parts) if d0_parts else np.zeros(1)
        # lanes: the deliveries of each homogeneous delay form a FIFO (engine.queue); the
        # projections of a group that share a lane, in projection order, per (group, lane)
        lane_of = {}
        for pr in projs:
            if pr.delay is not None and pr.delay not in lane_of and len(lane_of) < E.MAX_LANES:
                lane_of[pr.delay] = len(lane_of)
        nl = len(lane_of)
        proj_lane = np.array([lane_of.get(pr.delay, -1) if pr.delay is not None else -1
                              for pr in projs], dtype=np.int64)
        lane_delay = np.array(sorted(lane_of, key=lane_of.get), dtype=np.float64)
        grp_lane = [[] for _ in range(len(groups) * nl)]
        for g, b in enumerate(by_group):
            for q in b:
                if proj_lane[q] >= 0:
                    grp_lane[g * nl + proj_lane[q]].append(q)
        grp_lane_ptr = np.zeros(len(grp_lane) + 1, np.int64)
        grp_lane_ptr[1:] = np.cumsum([len(x) for x in grp_lane])
        grp_lane_proj = np.array([q for x in grp_lane for q in x], dtype=np.int32)
        # first node id of every group (and the node count): a group found by binary
        # search in this short array costs no cache miss, unlike node_group[node]
        grp_off = np.array(goff + [N + S_tot], dtype=np.int64)
        RE = (node_group, grp_proj_ptr, grp_proj, proj_pre_off, proj_delay, row_ptr, row_ptr_off,
              row_d0, row_d0_off, proj_lane, lane_delay, grp_lane_ptr, grp_lane_proj, grp_off)
        # sources
        src_kind = np.zeros(S_tot, np.int32)
        src_rate = np.zeros(S_tot, np.float64)
        st_ptr_parts = [np.zeros(1, np.int64)]
        st_times_parts = []
        base = 0
        for s, o in zip(srcs, src_group_off[:-1]):
            sl = slice(int(o), int(o) + s.size)
            if isinstance(s, PoissonSource):
                src_kind[sl] = 1
                src_rate[sl] = s.rates / 1000.0  # Hz -> 1/ms
                st_ptr_parts.append(np.full(s.size, base, np.int64))
            else:
                st_ptr_parts.append(s.ptr[1:] + base)
                st_times_parts.append(s.times)
                base += int(s.ptr[-1])
        st_ptr = np.concatenate(st_ptr_parts)
        st_times = np.concatenate(st_times_parts) if st_times_parts else np.empty(0)
        src_rng = seed_streams(self.seed, _STREAM_SOURCES, S_tot)
        src_pos = np.zeros(S_tot, np.int64)
        # a source whose projections share one delay and reach only small populations is
        # fused (its spikes are queued at their arrival and delivered there, one queue
        # entry each instead of two); sources into large populations go through the
        # lanes, whose rows are loaded ahead
        src_lane = np.full(S_tot, -1, np.int64)
        src_dly = np.zeros(S_tot)
        for s_, o in zip(srcs, src_group_off[:-1]):
            out = [pr for pr in projs if pr.pre is s_]
            ds = {pr.delay for pr in out}
            if (len(ds) == 1 and None not in ds and out[0].delay in lane_of
                    and all(pr.post.size <= self._pf_pop() for pr in out)):
                src_lane[int(o):int(o) + s_.size] = lane_of[out[0].delay]
                src_dly[int(o):int(o) + s_.size] = out[0].delay
        SRC = (np.int64(N), src_kind, src_rate, st_ptr, st_times, src_rng, src_pos, src_lane,
               src_dly)
        # lazy drives, grouped by population
        drives = sorted(self._drives, key=lambda d: d[0].index)
        pop_drv_ptr = np.zeros(npop + 1, np.int64)
        for d in drives:
            pop_drv_ptr[d[0].index + 1] += 1
        pop_drv_ptr = np.cumsum(pop_drv_ptr)
        drv_rate = np.array([d[1] / 1000.0 for d in drives], dtype=np.float64)
        drv_w = np.array([d[2] for d in drives], dtype=np.float64)
        drv_n = np.array([d[0].size for d in drives], dtype=np.int64)
        drv_base = np.zeros(len(drives), np.int64)
        if drives:
            drv_base[1:] = np.cumsum(drv_n)[:-1]
        drv_next = np.full(int(drv_n.sum()), np.inf)
        # one stream per (drive, neuron): the k-th neuron of a drive has stream drv_base+k
        drv_rng = seed_streams(self.seed, _STREAM_DRIVE, int(drv_n.sum()))
        zero_rate = drv_rate <= 0
        drv_rate_safe = np.where(zero_rate, 1.0, drv_rate)
        E.init_drives(drv_next, drv_rng, drv_rate_safe, drv_base, drv_n, 0.0)
        for k in np.nonzero(zero_rate)[0]:
            drv_next[drv_base[k]:drv_base[k] + drv_n[k]] = np.inf
        D = (pop_off, pop_drv_ptr, drv_rate_safe, drv_w, drv_base, drv_next, drv_rng)
        # neuron state
        V = np.empty(N)
        for p in pops:
            r = P[p.index]
            sl = slice(p.offset, p.offset + p.size)
            if r[P_FRAME]:
                V[sl] = p.v_init - r[P_VINF] if r[P_G] > 0 else p.v_init
            else:
                V[sl] = p.v_init
        theta = np.concatenate([p._theta0 for p in pops])
        for p in pops:
            if p._theta0.any():
                P[p.index, P_ADAPT] = 1.0
        S, ST = _neuron_state(N, V, npop, theta)
        # room for what compiling queues: a candidate per neuron, a first spike per
        # source, the samples and two bookkeeping events (the run kernel grows it)
        n_rec = len(self._records[0][1]) if self._records else 0
        Q = new_queue(N + int(SRC[1].shape[0]) + n_rec + 16, nlanes=nl, n_sources=S_tot,
                      **_wheel_size(src_kind, src_rate, st_ptr, st_times, src_lane))
        cnt = np.zeros(E.NCOUNT, np.int64)
        # bookkeeping events
        driven = [d[0] for d in drives]
        sweep_dt = math.inf
        for p in driven:
            for pr in projs:
                if pr.pre is p and pr.csr.nnz:
                    dmin = pr.delay if pr.delay is not None else float(pr.csr.delays.min())
                    sweep_dt = min(sweep_dt, dmin)
        # frame coefficients grow like e^{rate (t - t_f)}: move t_f before they can overflow
        frame_rates = [max(P[p.index, P_G], P[p.index, P_SE], P[p.index, P_SI])
                       for p in pops if P[p.index, P_FRAME]]
        frame_rates = [r for r in frame_rates if r > 0]
        renorm_dt = 100.0 / max(frame_rates) if frame_rates else math.inf
        if sweep_dt < math.inf:
            E._qpush(Q, cnt, sweep_dt, E.SWEEP, 0, 0, 0.0)
        if renorm_dt < math.inf:
            E._qpush(Q, cnt, renorm_dt, E.RENORM, 0, 0, 0.0)
        E.init_sources(SRC, Q, cnt, 0.0)
        # None when every population is a frame population with delta synapses: the
        # kernels then leave out the exp-synapse and general threshold tests (compile time)
        XC = None if all(r[P_FRAME] and not r[P_HASEXP] for r in P) else True
        E.init_candidates(P, neuron_pop, S, Q, cnt, XC)
        if self._records:
            rec_ids, rec_t = self._records[0]
            for k, tk in enumerate(rec_t):
                E.push(Q, float(tk), -(2**62) + k, E.SAMPLE, k, 0, 0.0)
                cnt[E.C_PUSH] += 1
        else:
            rec_ids, rec_t = np.empty(0, np.int64), np.empty(0)
        samp_out = np.full((len(rec_t), len(rec_ids), 3), np.nan)
        SP = (np.empty(1024), np.empty(1024, np.int64), np.zeros(1, np.int64))
        PLS = self._compile_plasticity(projs, npop)
        self._plan = dict(PLS=PLS, XC=XC, P=P, neuron_pop=neuron_pop, R=R, RE=RE, SRC=SRC, D=D, S=S, ST=ST, Q=Q,
                          SP=SP,
                          cnt=cnt,
                          sweep_dt=float(sweep_dt), renorm_dt=float(renorm_dt),
                          rec_ids=rec_ids.astype(np.int64), rec_t=rec_t, samp_out=samp_out,
                          dirty=np.zeros(N, np.int64),
                          isdirty=np.zeros((N + 63) // 64, np.uint64))
        self._compiled = True

    @staticmethod
    def _compile_plasticity(projs, npop):
        """Flat arrays of the plastic projections (rule table, traces, transpose index)."""
        plastic = [pr for pr in projs if pr.plasticity is not None]
        proj_pl = np.full(len(projs), -1, np.int32)
        pl_proj = np.array([pr.index for pr in plastic], dtype=np.int32)
        PL = np.zeros((len(plastic), PLM.NPL))
        pre_tr_l = List.empty_list(types.float64[:, ::1])
        post_tr_l = List.empty_list(types.float64[:, ::1])
        tptr_l = List.empty_list(types.int64[::1])
        tsyn_l = List.empty_list(types.int32[::1])
        blk_l = List.empty_list(types.int32[::1])
        elig_l = List.empty_list(types.float64[:, ::1])
        rw = np.zeros((len(plastic), 2))
        by_pop = [[] for _ in range(npop)]
        for k, pr in enumerate(plastic):
            proj_pl[pr.index] = k
            PL[k] = pr.plasticity.table_row()
            PL[k, PLM.K_LEARN] = float(pr._learning)
            for lst, n in ((pre_tr_l, pr.pre.size), (post_tr_l, pr.post.size)):
                tr = np.zeros((n, 4))
                tr[:, PLM.T_LAST] = -np.inf
                lst.append(tr)
            tptr, tsyn, blk = PLM.build_transpose(np.ascontiguousarray(pr.csr.indptr, np.int64),
                                                  np.ascontiguousarray(pr.csr.indices, np.int32),
                                                  pr.post.size)
            tptr_l.append(tptr)
            tsyn_l.append(tsyn)
            blk_l.append(blk)
            elig_l.append(np.zeros((pr.csr.nnz if pr.plasticity.is_reward else 0, 2)))
            rw[k, 0] = pr._reward0
            by_pop[pr.post.index].append(k)
        pop_pl_ptr = np.zeros(npop + 1, np.int64)
        pop_pl_ptr[1:] = np.cumsum([len(b) for b in by_pop])
        pop_pl = np.array([k for b in by_pop for k in b], dtype=np.int32)
        return (proj_pl, pl_proj, PL, pre_tr_l, post_tr_l, tptr_l, tsyn_l, blk_l, elig_l, rw,
                pop_pl_ptr, pop_pl, np.zeros(1, np.int64))

    # ------------------------------------------------------------------ running
    def prepare(self) -> "Network":
        """Build the run plan now (the flat arrays the kernels read, the initial queue:
        first source spikes and threshold crossings) instead of in the first ``run``.

        Like NEST's ``Prepare`` and Brian2's build step: it fixes the network's
        structure (adding populations, sources, projections or drives afterwards raises
        RuntimeError, as after a run) and changes no result; its queue work is counted in
        the first run.  Calling it again does nothing.  Worth calling to time setup and
        simulation apart: for the 10^6-neuron case it takes 0.4 s.

        Returns
        -------
        Network
            self.
        """
        if not self._compiled:
            self._compile()
            # the queue work of compiling (first source spikes, initial candidates,
            # samples) belongs to the first run
            self._cnt_mark = np.zeros_like(self._plan["cnt"])
        return self

    def run(self, duration: float, *, max_events: int = 10**9) -> Result:
        """Simulate ``duration`` ms more; may be called repeatedly (continues exactly).

        Parameters
        ----------
        duration : float
            Biological time to simulate (ms), finite and >= 0.
        max_events : int
            Guard against runaway activity: at most this many queue pops in this call,
            else RuntimeError.

        Returns
        -------
        Result
            Spikes in (t, t + duration], the counts of this call and state samples.
        """
        duration = real("duration", duration, lo=0.0)
        max_events = integer("max_events", max_events, lo=1)
        self.prepare()
        # work done between runs (threshold changes) belongs to the next run
        cnt_before = self._cnt_mark
        pl = self._plan
        t0 = self.t
        t_end = t0 + duration
        n_sp_before = int(pl["SP"][2][0])
        info = np.zeros(2)
        args = (pl["P"], pl["neuron_pop"], pl["R"], pl["RE"], pl["SRC"], pl["D"], pl["S"], pl["ST"], pl["Q"], pl["SP"],
                pl["cnt"], pl["sweep_dt"], pl["renorm_dt"], pl["rec_ids"], pl["samp_out"], pl["dirty"],
                pl["isdirty"], float(t_end), int(max_events), info,
                pl["PLS"] if pl["PLS"][2].shape[0] > 0 else None, self._use_fast_loop(), pl["XC"],
                int(self._pf_pop()))
        if "entry" not in pl:
            # Typing the nested tuples of arrays and typed lists costs about a
            # millisecond per call in Numba's dispatcher; the argument types never
            # change for a network, so resolve the compiled kernel once (chunked runs,
            # e.g. one run per presented sample, call this thousands of times)
            sig = tuple(E.run_kernel.typeof_pyval(x) for x in args)
            pl["entry"] = E.run_kernel.compile(sig)
        status, pl["Q"], pl["SP"] = pl["entry"](*args)
        if status == E.NONFINITE:
            raise FloatingPointError(f"non-finite state of neuron {int(info[0])} at t={info[1]!r} ms "
                                     f"(check weights and parameters)")
        # spikes of this call, also when it stopped at max_events (the kernel stops
        # only between instants: everything up to info[1] is done and kept)
        spT, spN, spn = pl["SP"]
        times = spT[n_sp_before:spn[0]].copy()
        ids = spN[n_sp_before:spn[0]].copy()
        order = _spike_order(times, ids)
        spikes = Spikes(times, ids) if order is None else Spikes(times[order], ids[order])
        self._all_spikes.append(spikes)
        if status == E.MAX_EVENTS:
            self.t = float(info[1])
            raise RuntimeError(f"run stopped after max_events={max_events} queue events at t={info[1]!r} ms "
                               f"(runaway activity?); raise max_events to continue")
        self.t = t_end
        counts = OpCounts.from_array(pl["cnt"] - cnt_before)
        self._cnt_mark = pl["cnt"].copy()
        self.counts = self.counts + counts
        states = None
        if len(pl["rec_t"]):
            m = (pl["rec_t"] > t0) & (pl["rec_t"] <= t_end) if t0 > 0 else pl["rec_t"] <= t_end
            so = pl["samp_out"][m]
            states = StateSamples(pl["rec_t"][m], pl["rec_ids"], so[..., 0], so[..., 1], so[..., 2])
        return Result(t0, t_end, spikes, counts, states, self.populations)

    # ------------------------------------------------------------------ reading
    @property
    def populations(self) -> dict:
        """name -> (offset, size) of every neuron population."""
        return {p.name: (p.offset, p.size) for p in self._pops}

    @property
    def n_neurons(self) -> int:
        return self._n

    @property
    def n_synapses(self) -> int:
        return sum(pr.csr.nnz for pr in self._projs)

    @property
    def projections(self) -> list:
        return list(self._projs)

    @property
    def spikes(self) -> Spikes:
        """All spikes of all runs so far, sorted by (time, id)."""
        if not self._all_spikes:
            return Spikes(np.empty(0), np.empty(0, np.int64))
        return Spikes(np.concatenate([s.times for s in self._all_spikes]),
                      np.concatenate([s.ids for s in self._all_spikes]))

    def synapse_bytes(self) -> dict:
        """Bytes of connectivity: total, per synapse (targets + weights [+ delays]) and row pointers."""
        syn = sum(pr.csr.indices.nbytes + pr.csr._weight_bytes() +
                  (0 if pr.csr.delays is None else pr.csr.delays.nbytes) for pr in self._projs)
        ptr = sum(pr.csr.indptr.nbytes for pr in self._projs)
        nnz = self.n_synapses
        pl_syn = sum(4 * pr.csr.nnz + 4 * ((pr.csr.nnz >> PLM.BLOCK_SHIFT) + 2) +
                     (16 * pr.csr.nnz if pr.plasticity.is_reward else 0)
                     for pr in self._projs if pr.plasticity is not None)
        pl_neuron = sum(32 * (pr.pre.size + pr.post.size) + 8 * (pr.post.size + 1)
                        for pr in self._projs if pr.plasticity is not None)
        return {"synapse_bytes": syn, "indptr_bytes": ptr,
                "bytes_per_synapse": syn / nnz if nnz else 0.0,
                "plasticity_synapse_bytes": pl_syn, "plasticity_neuron_bytes": pl_neuron}
