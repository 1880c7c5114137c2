"""The user-facing network builder: populations, sources, projections, runs.

A :class:`Network` is built in Python (validated objects).  Its first run (or
:meth:`Network.prepare`) builds the run plan (:func:`eventsnn.plan.build_plan`: flat
arrays) and the initial run state; :func:`eventsnn.engine.loop.run_loop` simulates it.
All run state (neuron states, queue, random streams, counters, time) lives in plain
arrays (``engine.state.State``), so a run can be continued exactly: ``run(T)`` equals
``run(T/2); run(T/2)`` bitwise, and a network can be copied, pickled or saved
(:func:`eventsnn.save`) at any point between runs.

Units: ms, mV, Hz.  Global neuron ids run over the neuron populations in the order
they were created; sources are not neurons and have no global neuron id.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import connectivity as cx
from . import counting
from . import plasticity as PLM
from ._dtypes import TIME
from ._validate import boolean, check_memory, fmt_bytes, integer, memory_limit, real
from .engine.loop import MAX_EVENTS, MAX_QUEUE, MAX_SPIKES, NONFINITE, ROOM, TWICE, grow, run_loop
from .engine.queue import reserve
from .engine.rng import STREAM_BUILD, STREAM_INIT
from .engine.state import COL_CSEQ, F_TCUR, K_EV, K_PHASE, K_POPS, PlasticRun, neuron_block
from .engine.threshold import reschedule
from .models import LIF, P_C, P_FRAME, P_G, P_HASEXP, P_VINF, P_VTH
from .plan import _sign, bind, build_plan, initial_state, synapse_bytes
from .results import OpCounts, Result, Spikes, StateSamples, _spike_order

__all__ = ["Network", "Population", "SpikeSource", "PoissonSource", "Projection", "NonFiniteStateError"]

#: bytes of run state per neuron (engine.state) plus its builder arrays (initial V,
#: threshold offset): the memory guard's estimate for a population
NEURON_BYTES = 80 + 16
#: bytes per source: random stream, position, wheel entry (32), rate or pointer
SOURCE_BYTES = 56


class NonFiniteStateError(FloatingPointError, RuntimeError):
    """A neuron's state became non-finite (weights or parameters out of any sensible
    range); the run stopped.  A RuntimeError (and, as before, a FloatingPointError)."""


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
        st = self.net._state
        if st is None:
            return self._theta0.copy()
        return st.neurons.theta[self.offset:self.offset + self.size].copy()

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
        if net._state is None:
            self._theta0 = a.copy()
            return
        st = net._state
        N = st.neurons
        N.theta[self.offset:self.offset + self.size] = a
        if a.any():
            N.adapt[self.index] = 1
        # at most one new candidate per neuron
        st = net._state = st._replace(queue=reserve(st.queue, self.size))
        A = net._plan.arrays
        reschedule(A.pops.P, A.pops.pop_off, N, st.queue, st.cnt, self.offset,
                   self.offset + self.size, net.t)


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

    def _pl(self):
        """(k, plastic plan, plastic state): this projection's row in the plasticity
        table, or None before the first run and for a static projection."""
        net = self.pre.net
        if self.plasticity is None or net._state is None:
            return None
        PI = net._plan.arrays.plastic
        return int(PI.proj_pl[self.index]), PI, net._state.plastic

    def _elig(self, k, PI, TR):
        return TR.elig[PI.elig_off[k]:PI.elig_off[k + 1]]

    def _sync(self):
        """Reward-modulated weights drift between events: integrate them up to now."""
        pl = self._pl()
        if pl is not None and self.plasticity.is_reward:
            k, PI, TR = pl
            PLM.reward_sync_all(PI.PL, k, TR.learn, self.csr.weights, self._elig(k, PI, TR), TR.rw,
                                self.pre.net.t)

    def _current_weights(self):
        """Weights now, without changing any state: reward-modulated weights are
        integrated into a copy (an observation must not perturb the run)."""
        pl = self._pl()
        if pl is not None and self.plasticity.is_reward:
            k, PI, TR = pl
            w = self.csr.weights.copy()
            PLM.reward_sync_all(PI.PL, k, TR.learn, w, self._elig(k, PI, TR).copy(), TR.rw,
                                self.pre.net.t)
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
        pl = self._pl()
        if pl is not None and on != self._learning:
            k, PI, TR = pl
            self._sync()
            if on and self.plasticity.is_reward:
                # eligibility was frozen while learning was off: resume from now
                self._elig(k, PI, TR)[:, 1] = self.pre.net.t
            TR.learn[k] = float(on)
        self._learning = on

    def reward(self, amount: float):
        """Add ``amount`` to the reward (dopamine) level of a :class:`RewardSTDP`
        projection at the network's current time (between runs).  The level then
        decays with the rule's tau_d."""
        amount = real("amount", amount)
        if not isinstance(self.plasticity, PLM.RewardSTDP):
            raise ValueError("reward: this projection has no RewardSTDP rule")
        pl = self._pl()
        if pl is None:
            self._reward0 += amount
            return
        k, PI, TR = pl
        self._sync()
        TR.rw[k, 0] = self._level_now(k, PI, TR) + amount
        TR.rw[k, 1] = self.pre.net.t

    def _level_now(self, k, PI, TR):
        """Reward level d(t) at the network's current time (row k of the table)."""
        d, td = TR.rw[k]
        itaud = PI.PL[k, PLM.K_ITAUD]
        return float(d * math.exp(-(self.pre.net.t - td) * itaud) if itaud > 0 else d)

    def reward_level(self) -> float:
        """The current reward level d(t) of a RewardSTDP projection."""
        if not isinstance(self.plasticity, PLM.RewardSTDP):
            raise ValueError("reward_level: this projection has no RewardSTDP rule")
        pl = self._pl()
        if pl is None:
            return self._reward0
        return self._level_now(*pl)

    def traces(self) -> dict:
        """Plasticity traces at the network's current time: ``pre`` (n_pre, 2) and
        ``post`` (n_post, 2) arrays of (fast, slow) trace values, computed exactly."""
        if self.plasticity is None:
            raise ValueError("traces: this projection has no plasticity rule")
        pl = self._pl()
        if pl is None:
            return {"pre": np.zeros((self.pre.size, 2)), "post": np.zeros((self.post.size, 2))}
        k, PI, TR = pl
        row = PI.PL[k]
        t = self.pre.net.t
        out = {}
        for name, tr, (i1, i2) in (("pre", TR.pre_tr[PI.pre_off[k]:PI.pre_off[k + 1]], (PLM.K_IPLUS, PLM.K_IX)),
                                   ("post", TR.post_tr[PI.post_off[k]:PI.post_off[k + 1]],
                                    (PLM.K_IMINUS, PLM.K_IY))):
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
        else:
            self.csr.weights[:] = a
        if net._plan is not None:
            # the kernels read the weights through the plan (plastic ones write them)
            net._plan.kernel["w"][self.index] = self.csr.weights
            net._state.proj_sign[self.index] = _sign(self.csr.weights, rule)

    def to_scipy(self):
        """Weights as a scipy.sparse.csr_matrix of shape (len(pre), len(post)), at the
        network's current time.

        Several synapses between the same pair stay separate stored entries."""
        if self._pl() is not None and self.plasticity.is_reward:
            return cx.CSR(self.csr.indptr, self.csr.indices, self._current_weights(), self.csr.delays,
                          n_post=self.csr.n_post).to_scipy()
        return self.csr.to_scipy()


class Network:
    """An event-driven network of LIF populations, sources and CSR projections.

    Parameters
    ----------
    seed : int
        Seeds every random stream of the network (connectivity, initial states,
        Poisson sources and drives); the same seed gives bitwise the same run.
    """

    # populations over this many neurons get their rows loaded ahead through the lanes
    # (and sources into them are not fused); None: engine.deliver.PREFETCH_POP.  For
    # tests, which reach those paths with small networks; results do not depend on it.
    _prefetch_pop = None

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
        self._plan = None
        self._state = None
        self._entry = None
        self._cnt_mark = None
        self.t = 0.0
        self.counts = OpCounts()
        self._all_spikes = []
        self._all_src_spikes = []
        self._src_pending = Spikes(np.empty(0), np.empty(0, np.int64))
        self._src_seen = 0
        # why the network cannot run on (a run that overflowed inside one instant)
        self._stuck = None

    # ------------------------------------------------------------------ copying
    def __getstate__(self):
        d = self.__dict__.copy()
        d["_entry"] = None          # a compiled kernel: resolved again when needed
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)
        st = self._state
        if st is not None:
            # a copied state holds copies of views: make the neuron block one aligned
            # block again and the candidate column a view of it
            N = st.neurons
            block = neuron_block(N.block.shape[0], 0.0)
            block[:] = N.block
            block[:, COL_CSEQ].view(np.int64)[:] = N.cseq
            self._state = st._replace(neurons=N._replace(block=block,
                                                          cseq=block[:, COL_CSEQ].view(np.int64)))

    # ------------------------------------------------------------------ building
    def _check_open(self, what):
        if self._plan is not None:
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
        check_memory("n", n, n * NEURON_BYTES, f"{n} neurons ({NEURON_BYTES} bytes each)")
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
            rng = np.random.default_rng([self.seed, STREAM_INIT, len(self._pops)])
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
            if i.size and i.max() >= 0:
                check_memory("ids", int(i.max()), 8 * (int(i.max()) + 2),
                             f"the pointers of n = max(ids) + 1 = {int(i.max()) + 1} sources (8 bytes "
                             f"each; give n, or ids numbered from 0)")
            n = int(i.max()) + 1 if i.size else 0
        n = integer("n", n, lo=1)
        check_memory("n", n, 8 * (n + 1) + SOURCE_BYTES * n, f"{n} sources")
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
        check_memory("n", n, (SOURCE_BYTES + 8) * n, f"{n} Poisson sources ({SOURCE_BYTES + 8} bytes each)")
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
            nnz = rule.expected_nnz(pre.size, post.size)
            per_syn = 4 + (0 if np.ndim(weight) == 0 and not callable(weight) else 8) + (0 if scalar_delay else 8)
            check_memory("rule", rule, nnz * per_syn + 8 * (pre.size + 1),
                         f"about {nnz:.3g} synapses ({per_syn} bytes each)")
            seed = int(np.random.SeedSequence([self.seed, STREAM_BUILD, len(self._projs)]).generate_state(1)[0])
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
            if cx.is_shared(csr.weights) or not csr.weights.flags.writeable:
                # plastic weights change one by one (the kernels write them in place):
                # give each synapse its own
                csr = cx.CSR(csr.indptr, csr.indices, np.array(csr.weights), csr.delays,
                             n_post=csr.n_post, check="none")
            if csr.nnz >= 2**31:
                raise ValueError(f"a plastic projection may have at most 2**31 - 1 synapses, got {csr.nnz}")
            w = csr.weights
            if w.size and (w.min() < plasticity.w_min or w.max() > plasticity.w_max):
                bad = w[(w < plasticity.w_min) | (w > plasticity.w_max)][0]
                raise ValueError(f"weight contains {float(bad)!r}; with this plasticity rule weights must be "
                                 f"in [w_min, w_max] = [{plasticity.w_min}, {plasticity.w_max}] mV")
        # the kernels index with these arrays: frozen, so that they stay as validated
        for a in (csr.indptr, csr.indices, csr.delays):
            if a is not None:
                a.flags.writeable = False
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
        check_memory("len(times)", t.size, 24 * t.size * i.size,
                     f"{t.size} x {i.size} samples of (V, I_exc, I_inh) (24 bytes each)")
        self._records.append((i, np.sort(t)))

    # ---------------------------------------------------------------- compiling

    # ------------------------------------------------------------------ running
    @property
    def plan(self):
        """The run plan (:class:`eventsnn.plan.Plan`), built by :meth:`prepare` or the
        first run; None before."""
        return self._plan

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
        if self._plan is None:
            plan = build_plan(self, pf_pop=self._prefetch_pop)
            self._state = initial_state(plan)
            self._plan = plan
            # the queue work of building (first source spikes, initial candidates,
            # samples) belongs to the first run
            self._cnt_mark = np.zeros_like(self._state.cnt)
        return self

    def _kernel(self, args):
        """The compiled event loop for these arguments' types, resolved once per
        network: typing the nested records costs about a millisecond per call in
        Numba's dispatcher, and chunked runs (one per presented sample) call it often."""
        if self._entry is None:
            sig = tuple(run_loop.typeof_pyval(x) for x in args)
            self._entry = run_loop.compile(sig)
        return self._entry

    def run(self, duration: float, *, max_events: int = 10**9, max_spikes: int | None = None,
            max_queue: int | None = None) -> Result:
        """Simulate ``duration`` ms more; may be called repeatedly (continues exactly).

        Parameters
        ----------
        duration : float
            Biological time to simulate (ms), finite and >= 0.
        max_events, max_spikes, max_queue : int
            Guards against runaway activity: at most this many queue pops, recorded
            spikes (16 bytes each) and queued events (48 bytes each) in this call.  By
            default the spikes may take a quarter and the queue an eighth of the memory
            the machine has available (``eventsnn.set_memory_limit`` changes that).  A
            run that reaches one stops between two instants with a RuntimeError and
            keeps its state: raise the limit and run again to continue exactly.

        Returns
        -------
        Result
            Spikes in (t, t + duration], the counts of this call, state samples and the
            spikes of the sources.
        """
        if self._stuck:
            raise RuntimeError(self._stuck)
        duration = real("duration", duration, lo=0.0)
        # (limits beyond 2**62 are no limits: they fit the kernel's int64 either way)
        max_events = min(integer("max_events", max_events, lo=1), 2**62)
        # defaults: the spike record (16 bytes a spike, up to twice that while it grows,
        # and the copy the result keeps) within a quarter of the memory available, the
        # queue (48 bytes an event, twice that while it grows) within an eighth
        mem = memory_limit() or 2**62
        spikes_mem, queue_mem = max(mem // (4 * 48), 1), max(mem // (8 * 96), 1)
        max_spikes = spikes_mem if max_spikes is None else min(integer("max_spikes", max_spikes, lo=1), 2**62)
        max_queue = queue_mem if max_queue is None else min(integer("max_queue", max_queue, lo=1), 2**62)
        fresh = self._plan is None
        self.prepare()
        plan = self._plan
        t0 = self.t
        t_end = t0 + duration
        step, what = plan.min_step
        if step < math.ulp(t_end):
            if fresh:
                # a refused run leaves the network as it was, open to changes
                self._plan = self._state = self._cnt_mark = None
            raise ValueError(f"duration={duration!r} is not allowed: float64 time resolves only "
                             f"{math.ulp(t_end)!r} ms at t={t_end!r} ms, more than {what}, {step!r} ms "
                             f"(a spike would arrive in the instant that sent it); run to an earlier "
                             f"time or make that interval longer")
        A = plan.arrays
        # work done between runs (threshold changes) belongs to the next run
        cnt_before = self._cnt_mark
        st = self._state
        if st.cursor.i[K_EV] == 0 and st.cursor.i[K_PHASE] == 0:
            # the spikes of earlier runs are in self._all_spikes and the postsynaptic
            # rules have seen them: the record starts empty (its memory is kept); the
            # source record keeps only the spikes not yet reported (drawn ahead)
            st.spikes.count[0] = 0
            st.plastic.seen[0] = 0
            RS = st.src_spikes
            k, s0 = int(RS.count[0]), self._src_seen
            RS.t[:k - s0] = RS.t[s0:k]
            RS.n[:k - s0] = RS.n[s0:k]
            RS.count[0] = k - s0
            self._src_seen = 0
        n_sp_before = int(st.spikes.count[0])
        st.cursor.i[K_POPS] = 0
        st.cursor.f[F_TCUR] = -math.inf
        info = np.zeros(4)
        B = bind(plan, st)
        xc = True if plan.xc else None
        while True:
            pls = PlasticRun(A.plastic, st.plastic) if plan.has_plastic else None
            args = (A, B, st, float(t_end), np.array([max_events, max_spikes, max_queue], np.int64), info,
                    xc, pls)
            status = self._kernel(args)(*args)
            if status != ROOM:
                break
            # the loop stopped for room: grow the queue and records, continue.  The
            # guards stop a run between instants; one instant that outgrows the memory
            # is stopped inside (none is known since delays must be resolvable, see
            # Plan.min_step), and a run stopped there cannot be continued exactly
            if st.queue.n[0] + st.queue.lane_t.shape[0] >= 2 * max(max_queue, queue_mem) or \
                    st.spikes.count[0] >= 2 * max(max_spikes, spikes_mem):
                self._stuck = (f"a run stopped inside the instant t={float(st.cursor.f[F_TCUR])!r} ms, whose "
                               f"events outgrew the memory (eventsnn.set_memory_limit) and twice max_queue="
                               f"{max_queue} or max_spikes={max_spikes}; the network cannot continue")
                raise RuntimeError(self._stuck)
            st = self._state = grow(st, int(info[2]), int(info[3]))
        if status in (TWICE, NONFINITE):
            # the instant's threshold tests stopped in their middle: no run can follow
            if status == TWICE:
                why = (f"neuron {int(info[0])} would fire twice at t={float(info[1])!r} ms: with t_ref=0 its "
                       f"next spike lies closer than float64 time resolves (input too strong")
            else:
                why = f"non-finite state of neuron {int(info[0])} at t={float(info[1])!r} ms ("
            self._stuck = why + "; check weights and parameters); the network cannot continue"
            raise NonFiniteStateError(self._stuck)
        # spikes of this call, also when it stopped at max_events (the loop stops only
        # between instants: everything up to info[1] is done and kept)
        SP = st.spikes
        times = SP.t[n_sp_before:SP.count[0]].copy()
        ids = SP.n[n_sp_before:SP.count[0]].copy()
        order = _spike_order(times, ids)
        spikes = Spikes(times, ids) if order is None else Spikes(times[order], ids[order])
        self._all_spikes.append(spikes)
        stopped = status in (MAX_EVENTS, MAX_SPIKES, MAX_QUEUE)
        t_stop = float(info[1]) if stopped else t_end
        src_spikes = self._take_source_spikes(t_stop)
        if stopped:
            self.t = t_stop
            # the counts of the part that ran count in the next run
            what = {MAX_EVENTS: f"max_events={max_events} queue events",
                    MAX_SPIKES: f"max_spikes={max_spikes} recorded spikes ({fmt_bytes(16 * max_spikes)})",
                    MAX_QUEUE: f"max_queue={max_queue} queued events ({fmt_bytes(48 * max_queue)})"}[status]
            raise RuntimeError(f"run stopped after {what} at t={t_stop!r} ms (runaway activity?); "
                               f"the state is kept: raise the limit and run again to continue")
        self.t = t_end
        counts = OpCounts.from_array(st.cnt - cnt_before)
        self._cnt_mark = st.cnt.copy()
        self.counts = self.counts + counts
        states = None
        rec_t = A.samples.times
        if len(rec_t):
            m = (rec_t > t0) & (rec_t <= t_end) if t0 > 0 else rec_t <= t_end
            so = st.samp[m]
            states = StateSamples(rec_t[m], A.samples.ids, so[..., 0], so[..., 1], so[..., 2])
        return Result(t0, t_end, spikes, counts, states, self.populations, source_spikes=src_spikes)

    def _take_source_spikes(self, t_stop):
        """The source spikes with times <= t_stop not yet reported, sorted by (time,
        node).  Sources record each spike when it is drawn, which may be after the run
        that contains it ends: those wait here for the next run."""
        RS = self._state.src_spikes
        k = int(RS.count[0])
        t = np.concatenate([self._src_pending.times, RS.t[self._src_seen:k]])
        n = np.concatenate([self._src_pending.ids, RS.n[self._src_seen:k]])
        self._src_seen = k
        later = t > t_stop
        self._src_pending = Spikes(t[later], n[later])
        t, n = t[~later], n[~later]
        order = _spike_order(t, n)
        out = Spikes(t, n) if order is None else Spikes(t[order], n[order])
        self._all_src_spikes.append(out)
        return out

    def report(self, result: Result | None = None, *, dt: float = 0.1, clock=None, energy=None,
               inferences: int = 1):
        """Operation counts of one run (``result``) or of the whole history (None), set
        beside a clock-driven simulator with step ``dt`` (ms), a dense ANN of the same
        layers, NeuroBench figures and an energy estimate (see :mod:`eventsnn.counting`).

        ``clock``: None (formula), a step (ms) to run the clock engine, or a
        clock-engine Result of the same interval.  ``print(report)`` gives a table;
        ``report.as_dict()`` / ``to_json()`` the data."""
        return counting.report(counting.record(self, result, clock=clock), dt=dt, energy=energy,
                               inferences=inferences)

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
        return _concat(self._all_spikes)

    @property
    def source_spikes(self) -> Spikes:
        """All spikes of all sources so far, sorted by (time, node id); node ids count
        after the neurons (source k of the network is node N + k)."""
        return _concat(self._all_src_spikes)

    def synapse_bytes(self) -> dict:
        """Bytes of connectivity: total, per synapse (targets + weights [+ delays]), row
        pointers and plasticity structures (:func:`eventsnn.plan.synapse_bytes`)."""
        return synapse_bytes(self._projs)


def _concat(runs):
    if not runs:
        return Spikes(np.empty(0), np.empty(0, np.int64))
    return Spikes(np.concatenate([s.times for s in runs]), np.concatenate([s.ids for s in runs]))
