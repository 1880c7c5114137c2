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
from . import counting, parallel
from . import plasticity as PLM
from ._dtypes import TIME
from ._validate import boolean, check_memory, fmt_bytes, integer, memory_limit, real
from .engine.emit import merge_windows, record_ahead, sort_window
from .engine.loop import (EXCHANGE, MAX_EVENTS, MAX_QUEUE, MAX_SPIKES, NONFINITE, ROOM, TWICE, grow,
                          grow_record, run_loop)
from .engine.queue import reserve
from .engine.rng import STREAM_BUILD, STREAM_INIT
from .engine.state import (F_TCUR, K_EV, K_PHASE, K_POPS, K_XCHG, PlasticRun, cseq_view,
                           neuron_block)
from .engine.threshold import reschedule
from .models import LIF, P_C, P_FRAME, P_G, P_HASEXP, P_VINF, P_VTH
from .plan import _sign, bind, build_plan, count_rows, initial_state, nonempty_rows, synapse_bytes
from .plan import local_synapses as _local_synapses
from .plan import network_digest
from .plan import own_range as _own_range
from .plan import owner as _owner
from .recording import (VARIABLES, RateRecorder, SpikeRecorder, StateProbe, WeightRecorder, buffers,
                        cat_samples, collect, merge_rates, record_filter)
from ._progress import Progress
from .results import OpCounts, Result, Spikes, _spike_order

__all__ = ["Network", "Population", "SpikeSource", "PoissonSource", "Projection", "NonFiniteStateError"]

#: bytes of run state per neuron (engine.state, voltage offset included) plus its builder arrays (initial V,
#: threshold offset): the memory guard's estimate for a population
NEURON_BYTES = 88 + 16
#: bytes per source: random stream, position, spikes recorded ahead, wheel entry (40), rate
#: or pointer
SOURCE_BYTES = 72


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

    def __init__(self, net, size, model, name, offset, v_init, index, bias=None):
        super().__init__(net, size, name)
        self.model = model
        self.offset = offset
        self.v_init = v_init
        self.index = index
        self._theta0 = np.zeros(size)
        # per-neuron bias currents added to model.i_bias (None: none)
        self._bias = bias

    @property
    def i_bias(self) -> np.ndarray:
        """The bias current of every neuron (mV): ``model.i_bias`` plus its own."""
        b = np.full(self.size, self.model.i_bias)
        return b if self._bias is None else b + self._bias

    @property
    def ids(self):
        """Global ids (int64) of the population's neurons."""
        return np.arange(self.offset, self.offset + self.size, dtype=np.int64)

    @property
    def theta(self) -> np.ndarray:
        """Adaptive threshold offsets (mV, a copy): neuron i fires at v_th + theta[i]
        (see ``LIF.theta_plus``).  Collective in a partitioned run (each process holds
        its own neurons')."""
        net = self.net
        st = net._state
        if st is None:
            return self._theta0.copy()
        sl = slice(self.offset, self.offset + self.size)
        if net._comm is not None:
            lo, hi = (int(x) for x in net._plan.arrays.pops.own[self.index])
            sl = slice(lo, hi)
        # (neurons with their own bias hold their threshold shifted by -voff)
        th = st.neurons.theta[sl] + st.neurons.voff[sl]
        # the processes' blocks are consecutive, in rank order
        return th if net._comm is None else np.concatenate(net._comm.allgather(th))

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
        sl = slice(self.offset, self.offset + self.size)
        N.theta[sl] = a - N.voff[sl]
        if a.any():
            N.adapt[self.index] = max(N.adapt[self.index], 1)
        # at most one new candidate per neuron
        st = net._state = st._replace(queue=reserve(st.queue, self.size))
        A = net._plan.arrays
        # (the neurons this process simulates)
        lo, hi = (int(x) for x in A.pops.own[self.index])
        reschedule(A.pops.P, A.pops.pop_off, N, st.queue, st.cnt, lo, hi, net.t)


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
    _csr: cx.CSR | None
    delay: float | None
    index: int
    plasticity: PLM.PlasticityRule | None = None
    _learning: bool = True
    _reward0: float = 0.0
    #: how a rule-made projection is built (``cx.RuleSpec``), while its synapses are
    #: those the rule makes; None once ``set_weights`` changed them, or for a CSR
    _spec: cx.RuleSpec | None = None

    @property
    def csr(self) -> cx.CSR:
        """The synapses (local ids).  A projection made by a rule with one weight and one
        delay is built on first use (its seed fixes it): a partitioned run builds only
        each process's part, and reading ``csr`` there builds the whole on that process."""
        if self._csr is None:
            self._csr = self._spec.build()[0]
        return self._csr

    @property
    def n_synapses(self) -> int:
        """Synapses of the whole projection (known from the plan once there is one, so
        that a partitioned run does not build the whole to count them)."""
        plan = self.pre.net._plan
        return plan.projections[self.index].n_total if plan is not None else self.csr.nnz

    def record_weights(self, times, name: str | None = None) -> WeightRecorder:
        """Copy this projection's weights at ``times`` (ms, >= the network's current
        time): each snapshot holds the weights after every event at its time, in CSR
        order (8 bytes per synapse and snapshot).  A run is split at the snapshot times,
        which changes no result.  May be called at any time, also between runs.

        Returns
        -------
        WeightRecorder
            ``.taken`` (ms) and ``.values`` (snapshots x synapses, mV); each run's
            snapshots are also in ``Result.weights[name]``.
        """
        net = self.pre.net
        t = np.asarray(times)
        if t.dtype.kind not in "iuf":
            raise TypeError(f"times must be real numbers (ms), got dtype {t.dtype}")
        t = np.unique(t.astype(np.float64).ravel())
        if t.size and not (np.isfinite(t).all() and t[0] >= net.t):
            bad = t[~(np.isfinite(t) & (t >= net.t))][0]
            raise ValueError(f"times contains {float(bad)!r}; snapshot times must be finite and >= the "
                             f"network's current time {net.t!r} ms")
        if t.size and net.t > 0 and t[0] == net.t:
            raise ValueError(f"times contains {net.t!r}, the current time, which has run already; "
                             f"read proj.weights now instead")
        names = {r.name for r in net._weight_recs}
        if name is None:
            name = f"weights{len(net._weight_recs)}"
        elif not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if name in names:
            raise ValueError(f"name={name!r} is already used by a weight recorder of this network")
        check_memory("times", t.size, 8 * t.size * self.n_synapses,
                     f"{t.size} snapshots of {self.n_synapses} weights (8 bytes each)")
        rec = WeightRecorder(self, t, name)
        net._weight_recs.append(rec)
        return rec

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
            PLM.reward_sync_all(PI.PL, k, TR.learn, self._own_weights(), self._elig(k, PI, TR), TR.rw,
                                self.pre.net.t)

    def _own_weights(self):
        """The weights the kernels read and write: the projection's own array, or in a
        partitioned run this process's part (the synapses onto its neurons)."""
        net = self.pre.net
        if net._comm is not None and net._plan is not None:
            return net._plan.projections[self.index].csr.weights
        return self.csr.weights

    def _current_weights(self):
        """Weights now, without changing any state: reward-modulated weights are
        integrated into a copy (an observation must not perturb the run).  In a
        partitioned run, gathered from every process (collective)."""
        if self.plasticity is None:
            return self.csr.weights
        pl = self._pl()
        w = self._own_weights()
        if pl is not None and self.plasticity.is_reward:
            k, PI, TR = pl
            w = w.copy()
            PLM.reward_sync_all(PI.PL, k, TR.learn, w, self._elig(k, PI, TR).copy(), TR.rw,
                                self.pre.net.t)
        return self._gather(w)

    def _gather(self, w):
        """Per-synapse values of this process's synapses (``_own_weights`` order) made
        whole from every process's part: ``w`` itself unless the run is partitioned
        (then collective)."""
        net = self.pre.net
        if net._comm is None or net._plan is None:
            return w
        every = net._comm.allgather(np.asarray(w))
        K = int(net._comm.size)
        full = np.empty(self.csr.nnz, dtype=self.csr.weights.dtype)
        for r, part in enumerate(every):
            full[_local_synapses(self.csr, *_own_range(self.post.size, r, K))] = part
        return full

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
        ``post`` (n_post, 2) arrays of (fast, slow) trace values, computed exactly.
        Collective in a partitioned run."""
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
        net = self.pre.net
        if net._comm is not None:
            # postsynaptic traces: each neuron's owner's (the blocks follow in rank order);
            # presynaptic: every process with synapses of a row keeps its neuron's trace, so
            # the one updated last (the lowest rank among equals) holds it
            lo, hi = _own_range(self.post.size, int(net._comm.rank), int(net._comm.size))
            pre_tl = TR.pre_tr[PI.pre_off[k]:PI.pre_off[k + 1], PLM.T_LAST]
            every = net._comm.allgather((out["pre"], pre_tl, out["post"][lo:hi]))
            last = np.argmax(np.stack([x[1] for x in every]), axis=0)
            out = {"pre": np.stack([x[0] for x in every])[last, np.arange(self.pre.size)],
                   "post": np.concatenate([x[2] for x in every])}
        return out

    def set_weights(self, w):
        """Replace all weights (mV) in CSR order; validated before anything changes.  In a
        partitioned run every process must call it with the same weights (each keeps
        those of its own synapses; the whole structure is built on every process)."""
        net = self.pre.net
        part = net._comm is not None and net._plan is not None
        a = np.asarray(w)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"w must be a real array, got dtype {a.dtype}")
        want = (net._plan.projections[self.index].n_total,) if part else self.csr.weights.shape
        if a.shape != want:
            raise ValueError(f"w has shape {a.shape}; this projection needs shape {want}")
        if not np.isfinite(a).all():
            bad = a[~np.isfinite(a)][0]
            raise ValueError(f"w contains {float(bad)!r}; weights must be finite (mV)")
        rule = self.plasticity
        if rule is not None and a.size and (a.min() < rule.w_min or a.max() > rule.w_max):
            bad = a[(a < rule.w_min) | (a > rule.w_max)][0]
            raise ValueError(f"w contains {float(bad)!r}; plastic weights must be in "
                             f"[w_min, w_max] = [{rule.w_min}, {rule.w_max}] mV")
        self._sync()
        csr = self.csr           # (built, if it was not yet, before the rule is dropped)
        self._spec = None        # the rule no longer describes the weights
        _put_weights(csr, a)
        if net._plan is not None:
            # the kernels read the weights through the plan (plastic ones write them); a
            # process of a partitioned run holds those of the synapses onto its neurons
            pc = net._plan.projections[self.index].csr
            if part:
                K, r = int(net._comm.size), int(net._comm.rank)
                _put_weights(pc, a[_local_synapses(csr, *_own_range(self.post.size, r, K))])
            net._plan.kernel["w"][self.index] = pc.weights
            net._state.proj_sign[self.index] = _sign(csr.weights, rule)

    def to_scipy(self):
        """Weights as a scipy.sparse.csr_matrix of shape (len(pre), len(post)), at the
        network's current time.

        Several synapses between the same pair stay separate stored entries."""
        if self._pl() is not None and self.plasticity.is_reward:
            return cx.CSR(self.csr.indptr, self.csr.indices, self._current_weights(), self.csr.delays,
                          n_post=self.csr.n_post).to_scipy()
        return self.csr.to_scipy()


def _put_weights(csr, a):
    """Set a CSR's weights to ``a`` (one shared, read-only weight becomes one per synapse)."""
    if not csr.weights.flags.writeable:
        csr.weights = np.array(a, dtype=np.float64)
    else:
        csr.weights[:] = a


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
        self._spike_recs: list | None = None     # None: every spike of every neuron
        self._probes: list[StateProbe] = []
        self._rate_recs: list[RateRecorder] = []
        self._weight_recs: list[WeightRecorder] = []
        self._record_sources = True
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
        # the communicator of a partitioned run (eventsnn.parallel), decided at prepare
        self._comm = None
        self._comm_set = False
        self._gather = True
        #: partitioned runs: emission windows exchanged and the bytes of spike payload
        #: (16 per spike and receiving process) this process sent, all runs
        self.exchange_stats = {"windows": 0, "bytes_sent": 0}

    # ------------------------------------------------------------------ copying
    def __getstate__(self):
        if self._comm is not None:
            raise TypeError("a partitioned network (Network.distribute) cannot be copied or pickled: "
                            "each process holds only its part")
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
            n = N.block.shape[0]
            cseq = cseq_view(block)
            cseq[:n] = N.cseq[:n]
            self._state = st._replace(neurons=N._replace(block=block,
                                                          cseq=cseq))

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

    def population(self, n: int, model: LIF, name: str | None = None, v_init=None, *,
                   i_bias=None) -> Population:
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
        i_bias : None or array of shape (n,)
            Each neuron's own bias current (mV, added to ``model.i_bias``), e.g. a
            trained layer's biases: exact, 8 bytes per neuron.  Only for leaky neurons
            without refractory period (``tau_m`` finite, ``t_ref = 0``).
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
        bias = None
        if i_bias is not None:
            b = np.asarray(i_bias)
            if b.dtype.kind not in "iuf":
                raise TypeError(f"i_bias must be real numbers (mV), got dtype {b.dtype}")
            b = b.astype(np.float64)
            if b.shape != (n,):
                raise ValueError(f"i_bias has shape {b.shape}; expected ({n},), one per neuron (a shared "
                                 f"bias goes in LIF(i_bias=...))")
            if not np.isfinite(b).all():
                raise ValueError(f"i_bias contains {float(b[~np.isfinite(b)][0])!r}; it must be finite (mV)")
            if model.t_ref != 0.0 or not math.isfinite(model.tau_m):
                raise ValueError(f"i_bias (per neuron) needs leaky neurons without refractory period; this "
                                 f"model has tau_m={model.tau_m!r}, t_ref={model.t_ref!r}")
            bias = b
        pop = Population(self, n, model, name, self._n, v, len(self._pops), bias)
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
            scalar_weight = np.ndim(weight) == 0 and not callable(weight)
            if scalar_delay:
                d = self._check_delay(delay, from_source)
            nnz = rule.expected_nnz(pre.size, post.size)
            per_syn = 4 + (0 if scalar_weight and plasticity is None else 8) + (0 if scalar_delay else 8)
            check_memory("rule", rule, nnz * per_syn + 8 * (pre.size + 1),
                         f"about {nnz:.3g} synapses ({per_syn} bytes each)")
            seed = int(np.random.SeedSequence([self.seed, STREAM_BUILD, len(self._projs)]).generate_state(1)[0])
            if scalar_weight and scalar_delay:
                return self._connect_rule(pre, post, rule, weight, d, seed, dtype, plasticity, nnz)
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

    def _connect_rule(self, pre, post, rule, weight, delay, seed, dtype, plasticity, nnz):
        """A projection made by a rule with one weight and one delay: validated now,
        built when first needed (``RuleSpec``): whole in one process, or only the
        synapses onto its own neurons in each process of a partitioned run."""
        cx.shared_weights(weight, 0, dtype)
        if np.dtype(dtype) != np.float64:
            raise TypeError("the engine needs float64 weights (float32 weights are not supported yet)")
        w = float(np.asarray(weight).item())
        n_pre, n_post, seed, same = rule.check(pre.size, post.size, seed, pre is post)
        if plasticity is not None:
            if nnz >= 2**31:
                raise ValueError(f"a plastic projection may have at most 2**31 - 1 synapses, got about "
                                 f"{nnz:.3g}")
            if nnz and not plasticity.w_min <= w <= plasticity.w_max:
                raise ValueError(f"weight contains {w!r}; with this plasticity rule weights must be "
                                 f"in [w_min, w_max] = [{plasticity.w_min}, {plasticity.w_max}] mV")
        spec = cx.RuleSpec(rule, n_pre, n_post, w, seed, same, own_weights=plasticity is not None)
        proj = Projection(pre, post, None, delay, len(self._projs), plasticity, _spec=spec)
        self._projs.append(proj)
        return proj

    @staticmethod
    def _check_delay(delay, from_source):
        d = real("delay", delay, lo=0.0, lo_open=not from_source)
        return d

    def _neuron_ids(self, target, argname):
        """Global ids (sorted, unique int64) of a Population of this network or an array
        of ids."""
        if isinstance(target, Population):
            self._own(target, argname)
            return target.ids
        if isinstance(target, _Group):
            raise TypeError(f"{argname}={target!r} is a source; sources have no state and their spikes "
                            f"are always in Result.source_spikes")
        i = np.asarray(target)
        if i.dtype.kind not in "iu" and not (i.size == 0 and i.dtype.kind == "f"):
            raise TypeError(f"{argname} must be a Population or integer neuron ids, got dtype {i.dtype}")
        i = i.astype(np.int64).ravel()
        if i.size and (i.min() < 0 or i.max() >= self._n):
            bad = i[(i < 0) | (i >= self._n)][0]
            raise ValueError(f"{argname} contains {bad}; neuron ids must be in [0, {self._n})")
        return i

    def record_spikes(self, target="all", *, start: float = 0.0, stop: float = math.inf):
        """Record the spikes of ``target`` with start <= t <= stop (ms) only.

        Without this call every spike of every neuron is recorded (16 bytes a spike).
        After it, only the union of the recorders' neurons and windows is; the engine
        checks a 1-byte mask per neuron.  ``Result.spikes`` and ``net.spikes`` hold the
        recorded spikes; ``net.report`` (which needs every spike) refuses such a network.

        Parameters
        ----------
        target : "all", Population, array of int, or None
            The neurons (global ids); None records no spikes (and returns None).
        start, stop : float
            The window (ms), 0 <= start <= stop (stop may be inf); both ends included.

        Returns
        -------
        SpikeRecorder or None
            ``.spikes``: its spikes over all runs so far.
        """
        self._check_open("add a spike recorder")
        start = real("start", start, lo=0.0)
        stop = real("stop", stop, lo=0.0, allow_inf=True)
        if not start <= stop:
            raise ValueError(f"start={start!r}, stop={stop!r}: need start <= stop (ms)")
        if target is None:
            if self._spike_recs is None:
                self._spike_recs = []
            return None
        if isinstance(target, str):
            if target != "all":
                raise ValueError(f"target={target!r}; allowed: 'all', a Population, neuron ids or None")
            ids = None
        else:
            ids = np.unique(self._neuron_ids(target, "target"))
        rec = SpikeRecorder(self, ids, start, stop)
        self._spike_recs = (self._spike_recs or []) + [rec]
        return rec

    def record_source_spikes(self, on: bool) -> None:
        """Whether the spikes of spike-train and Poisson sources are recorded (by
        default they are: 16 bytes each, in ``Result.source_spikes``).  Off, they cost
        nothing, but ``net.report`` (which counts their synaptic events per time bin)
        refuses the network.  Worth it for long runs with many Poisson inputs, or a
        drive into a population with plastic inputs, which runs as a source."""
        self._check_open("change the source spike record")
        self._record_sources = boolean("on", on)

    def record_state(self, ids, times=None, *, dt: float | None = None, start: float = 0.0,
                     stop: float = math.inf, variables=("v", "i_exc", "i_inh"), name: str | None = None):
        """Sample the state of neurons ``ids`` at ``times`` or every ``dt`` ms.

        Samples are exact left limits (the state before any input at that instant).
        Several probes may be added (before the first run); each run's samples are in
        ``Result.probes[name]`` (the first probe's also in ``Result.states``), all of
        them in ``probe.samples``.  Memory: 8 bytes per variable, neuron and sample.

        Parameters
        ----------
        ids : Population or array of int
            Global neuron ids.
        times : array of float, optional
            Sample times (ms, >= 0).  Exactly one of ``times`` and ``dt``.
        dt : float, optional
            A regular grid: start, start + dt, start + 2 dt, ... (ms) up to ``stop``,
            continuing over every run (each time computed as start + j dt, never summed).
        start, stop : float
            The grid's first and last allowed times (ms).
        variables : sequence of str
            From "v", "i_exc", "i_inh" (mV) and "theta" (adaptive threshold offset, mV).
        name : str, optional
            Defaults to "probe0", "probe1", ...

        Returns
        -------
        StateProbe
        """
        self._check_open("add a state recorder")
        i = self._neuron_ids(ids, "ids")
        if (times is None) == (dt is None):
            raise ValueError("give exactly one of times (sample times, ms) and dt (a grid step, ms)")
        tt = None
        if times is not None:
            t = np.asarray(times)
            if t.dtype.kind not in "iuf":
                raise TypeError(f"times must be real numbers (ms), got dtype {t.dtype}")
            tt = np.sort(t.astype(np.float64).ravel())
            if tt.size and not (np.isfinite(tt).all() and (tt >= 0).all()):
                bad = tt[~(np.isfinite(tt) & (tt >= 0))][0]
                raise ValueError(f"times contains {float(bad)!r}; sample times must be finite and >= 0 ms")
            check_memory("len(times)", tt.size, 8 * 4 * tt.size * i.size,
                         f"{tt.size} x {i.size} samples of up to 4 variables (8 bytes each)")
            dt_, start_, stop_ = 0.0, 0.0, math.inf
        else:
            dt_ = real("dt", dt, lo=0.0, lo_open=True)
            start_ = real("start", start, lo=0.0)
            stop_ = real("stop", stop, lo=start_, allow_inf=True)
            if start_ + dt_ == start_ or (math.isfinite(stop_) and stop_ + dt_ == stop_):
                raise ValueError(f"dt={dt!r} is below the float64 resolution of the grid's times "
                                 f"(start={start_!r}, stop={stop_!r} ms)")
            if math.isfinite(stop_):
                n = math.floor((stop_ - start_) / dt_) + 1
                check_memory("dt", dt, 8 * 4 * n * i.size, f"{n} x {i.size} samples of up to 4 variables")
        if isinstance(variables, str):
            variables = (variables,)
        try:
            variables = tuple(variables)
        except TypeError:
            raise TypeError(f"variables must be a sequence of names, got {type(variables).__name__}") from None
        bad = [v for v in variables if v not in VARIABLES]
        if bad or not variables or len(set(variables)) != len(variables):
            raise ValueError(f"variables={variables!r}; allowed: a non-empty selection without repeats of "
                             f"{list(VARIABLES)}")
        variables = tuple(v for v in VARIABLES if v in variables)
        if name is None:
            name = f"probe{len(self._probes)}"
        elif not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if name in {pb.name for pb in self._probes}:
            raise ValueError(f"name={name!r} is already used by a state probe of this network")
        pb = StateProbe(self, name, i, tt, dt_, start_, stop_, variables)
        self._probes.append(pb)
        return pb

    def record_rate(self, population, bin: float = 1.0) -> RateRecorder:
        """Count the spikes of ``population`` in time bins (k bin, (k+1) bin] (ms), in
        the engine and without recording them (8 bytes per bin).  One recorder per
        population; each run's bins are in ``Result.rates_binned[name]``, all of them in
        ``recorder.data`` (a PopulationRate: ``times``, ``counts``, ``rate`` in Hz)."""
        self._check_open("add a rate recorder")
        if not isinstance(population, Population):
            raise TypeError(f"population must be a neuron Population of this network, got "
                            f"{type(population).__name__}")
        self._own(population, "population")
        bin = real("bin", bin, lo=0.0, lo_open=True)
        if any(r.population is population for r in self._rate_recs):
            raise ValueError(f"population={population.name!r} has a rate recorder already")
        rec = RateRecorder(self, population, bin)
        self._rate_recs.append(rec)
        return rec

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
            if not self._comm_set:
                # started by mpiexec with several processes: partition over them
                self._set_comm(parallel.world())
            part = (0, 1) if self._comm is None else (int(self._comm.rank), int(self._comm.size))
            if self._comm is not None:
                self._check_same_network()
            plan = build_plan(self, pf_pop=self._prefetch_pop, part=part)
            if self._comm is not None:
                # which process counts each row's queue work: the lowest-ranked with synapses
                G = plan.arrays.graph
                count_rows(plan, self._comm.allgather(np.packbits(nonempty_rows(G.row_ptr, G.row_ptr_off))),
                           part[0])
            self._state = initial_state(plan)
            self._plan = plan
            # the queue work of building (first source spikes, initial candidates,
            # samples) belongs to the first run
            self._cnt_mark = np.zeros_like(self._state.cnt)
        return self

    def distribute(self, comm, *, gather: bool = True) -> "Network":
        """Simulate this network partitioned over the processes of ``comm`` (an MPI
        communicator, or a rank of ``eventsnn.parallel.ThreadGroup``); None: in this
        process alone.  Every process builds the same network (same script, same seed)
        and calls ``run`` with the same durations; each simulates a contiguous block of
        every population and keeps the synapses onto it, and the processes exchange
        their spikes at the end of every emission window.  Results (spikes, counts,
        state samples, weights) are bitwise those of one process and are returned on
        every process; reading ``Projection.weights`` is then collective.

        Without a call, a script started by ``mpiexec -n K`` (K > 1) is partitioned over
        its K processes.  Must be called before the first ``run`` or ``prepare``.

        ``gather=False`` keeps results per process, for runs too large to gather: each
        process's ``Result`` holds the spikes of its own neurons, the samples of its own
        neurons (the others' are NaN), its own rate bins and its own counts (which add
        up to the single-process counts).

        The run guards (``max_events``, ``max_spikes``, ``max_queue``) act per process:
        a process that stops raises, and under MPI an uncaught exception aborts every
        process (``eventsnn.parallel``); the others cannot continue without it.
        ``Projection.traces`` and ``set_weights`` are collective too (every process calls
        them, ``set_weights`` with the same weights); copying and pickling a partitioned
        network are not supported.  docs/scale-out.md has the algorithm.
        """
        if self._plan is not None:
            raise RuntimeError("distribute must be called before the first run or prepare")
        if comm is not None:
            for a in ("rank", "size", "allgather"):
                if not hasattr(comm, a):
                    raise TypeError(f"comm must be an MPI communicator or an eventsnn.parallel rank "
                                    f"(with rank, size, allgather), got {type(comm).__name__}")
        self._gather = boolean("gather", gather)
        self._set_comm(comm)
        return self

    def _set_comm(self, comm):
        self._comm_set = True
        self._comm = comm if comm is not None and int(comm.size) > 1 else None

    def _check_same_network(self):
        """ValueError unless every process built the same network (``network_digest``)."""
        every = self._comm.allgather(network_digest(self))
        bad = [r for r, x in enumerate(every) if x != every[0]]
        if bad:
            raise ValueError(f"the processes of this partitioned run built different networks (ranks "
                             f"{bad} differ from rank 0: seed, sizes, parameters or synapses); every "
                             f"process must build the same network")

    def _kernel(self, args):
        """The compiled event loop for these arguments' types, resolved once per
        network: typing the nested records costs about a millisecond per call in
        Numba's dispatcher, and chunked runs (one per presented sample) call it often."""
        if self._entry is None:
            sig = tuple(run_loop.typeof_pyval(x) for x in args)
            self._entry = run_loop.compile(sig)
        return self._entry

    def run(self, duration: float, *, max_events: int = 10**9, max_spikes: int | None = None,
            max_queue: int | None = None, progress: bool | None = None) -> Result:
        """Simulate ``duration`` ms more; may be called repeatedly (continues exactly).

        Parameters
        ----------
        duration : float
            Biological time to simulate (ms), finite and >= 0.
        max_events, max_spikes, max_queue : int
            Guards against runaway activity: at most this many queue pops, recorded
            spikes (16 bytes each) and queued events (48 bytes each; a spike waiting for
            the end of its emission window counts as one) in this call.  By
            default the spikes may take a quarter and the queue an eighth of the memory
            the machine has available (``eventsnn.set_memory_limit`` changes that).  A
            run that reaches one stops between two instants with a RuntimeError and
            keeps its state: raise the limit and run again to continue exactly.
        progress : bool or None
            Show a progress bar on stderr (the run is then made in slices, which changes
            no result).  None: only when stderr is a terminal and the run takes longer
            than a few seconds.

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
        if max_spikes is not None:
            max_spikes = min(integer("max_spikes", max_spikes, lo=1), 2**62)
        if max_queue is not None:
            max_queue = min(integer("max_queue", max_queue, lo=1), 2**62)
        if progress is not None:
            progress = boolean("progress", progress)
        t0 = self.t
        t_end = t0 + duration
        # weight snapshots split the run at their times (t = 0 too, before a first run:
        # the events at 0 are then done); runs continue exactly, so no result changes
        first = t0 == 0.0 and not self._all_spikes
        cuts = sorted({float(x) for r in self._weight_recs for x in r.times
                       if t0 < x <= t_end or (first and x == 0.0)})
        bar = Progress(t0, t_end, progress)
        parts = []
        weights = {}
        t = t0
        pops = kept = 0         # (the guards count over the whole call, not per slice)
        while True:
            te = bar.next_stop(t, cuts[0] if cuts else t_end)
            r = self._advance(te, max(max_events - pops, 1),
                              None if max_spikes is None else max(max_spikes - kept, 1), max_queue, t0)
            parts.append(r)
            pops += r.counts.queue_pops
            kept += len(r.spikes)
            t = te
            if cuts and te == cuts[0]:
                cuts.pop(0)
                for wr in self._weight_recs:
                    if te in wr.times:
                        wr._take(te)
                        tw, vw = weights.setdefault(wr.name, ([], []))
                        tw.append(te)
                        vw.append(wr._w[-1])
            bar.update(te)
            if te == t_end and not cuts:
                break
        bar.close()
        weights = {k: (np.array(tw), np.array(vw)) for k, (tw, vw) in weights.items()}
        return _merge(parts, t0, weights)

    def _advance(self, t_end: float, max_events: int, max_spikes: int | None, max_queue: int | None,
                 t_first: float) -> Result:
        """Simulate up to the absolute time ``t_end`` (ms): one slice of ``run``."""
        mem = memory_limit() or 2**62
        spikes_mem, queue_mem = max(mem // (4 * 48), 1), max(mem // (8 * 96), 1)
        max_spikes = spikes_mem if max_spikes is None else max_spikes
        max_queue = queue_mem if max_queue is None else max_queue
        duration = t_end - t_first
        fresh = self._plan is None
        self.prepare()
        plan = self._plan
        t0 = self.t
        step, what = plan.min_step
        if step < math.ulp(t_end):
            if fresh:
                # a refused run leaves the network as it was, open to changes
                self._plan = self._state = self._cnt_mark = None
            raise ValueError(f"duration={duration!r} is not allowed: float64 time resolves only "
                             f"{math.ulp(t_end)!r} ms at t={t_end!r} ms, more than {what}, {step!r} ms "
                             f"(a spike would arrive in the instant that sent it); run to an earlier "
                             f"time or make that interval longer")
        try:
            rec = buffers(self, self._state.rec, t0, t_end)
        except MemoryError:
            if fresh:
                self._plan = self._state = self._cnt_mark = None
            raise
        self._state = self._state._replace(rec=rec)
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
        # the rings of deferred potentiations: empty between runs, so made per run
        ring = np.empty((int(A.plastic.post_off[-1]) * PLM.RING, 3)) if plan.has_plastic else None
        wbuf = np.empty(int(A.plastic.longest_row[0])) if plan.has_plastic else None
        while True:
            pls = PlasticRun(A.plastic, st.plastic, ring, wbuf, wbuf.ctypes.data) if plan.has_plastic else None
            args = (A, B, st, float(t_end), np.array([max_events, max_spikes, max_queue], np.int64), info,
                    xc, pls)
            status = self._kernel(args)(*args)
            if status == EXCHANGE:
                st = self._exchange(st, float(info[1]))
                continue
            if status != ROOM:
                break
            # the loop stopped for room: grow the queue and records, continue.  The
            # guards stop a run between instants; one instant that outgrows the memory
            # is stopped inside (none is known since delays must be resolvable, see
            # Plan.min_step), and a run stopped there cannot be continued exactly
            if st.queue.n[0] + st.queue.lane_t.shape[0] + st.emitq.count[0] >= 2 * max(max_queue, queue_mem) or \
                    st.spikes.count[0] >= 2 * max(max_spikes, spikes_mem):
                self._stuck = (f"a run stopped inside the instant t={float(st.cursor.f[F_TCUR])!r} ms, whose "
                               f"events outgrew the memory (eventsnn.set_memory_limit) and twice max_queue="
                               f"{max_queue} or max_spikes={max_spikes}; the network cannot continue")
                raise RuntimeError(self._stuck)
            st = self._state = grow(st, int(info[2]), int(info[3]))
        if plan.has_plastic:
            # however the run ended: the weights and counts of updates at every spike
            PLM.flush(A.plastic, st.plastic, ring, A.graph.row_ptr, A.graph.row_ptr_off, B.w_addr, B.idx_addr,
                      st.cnt)
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
        if self._comm is not None and self._gather:
            # every process's spikes (each records its own neurons')
            every = self._comm.allgather((times, ids))
            times = np.concatenate([x[0] for x in every])
            ids = np.concatenate([x[1] for x in every])
            self._gather_recording(st.rec)
        elif self._comm is not None:
            # results kept per process: only its own neurons' samples mean anything
            n = int(st.rec.n[0])
            st.rec.vals[:n][self._sample_owner(st.rec) != int(self._comm.rank)] = np.nan
        order = _spike_order(times, ids)
        spikes = Spikes(times, ids) if order is None else Spikes(times[order], ids[order])
        spikes = record_filter(self._spike_recs, spikes)
        self._all_spikes.append(spikes)
        stopped = status in (MAX_EVENTS, MAX_SPIKES, MAX_QUEUE)
        t_stop = float(info[1]) if stopped else t_end
        st = self._record_ahead(st, t_stop)
        src_spikes = self._take_source_spikes(t_stop)
        probes, rates = collect(self, st.rec, t0, t_stop)
        if stopped:
            self.t = t_stop
            # the counts of the part that ran count in the next run
            what = {MAX_EVENTS: f"max_events={max_events} queue events",
                    MAX_SPIKES: f"max_spikes={max_spikes} recorded spikes ({fmt_bytes(16 * max_spikes)})",
                    MAX_QUEUE: f"max_queue={max_queue} queued events ({fmt_bytes(48 * max_queue)})"}[status]
            raise RuntimeError(f"run stopped after {what} at t={t_stop!r} ms (runaway activity?); "
                               f"the state is kept: raise the limit and run again to continue")
        self.t = t_end
        delta = st.cnt - cnt_before
        if self._comm is not None and self._gather:
            # (what every process does alike, rank 0 alone counts: the sum is one process's)
            delta = np.sum(self._comm.allgather(delta), axis=0)
        counts = OpCounts.from_array(delta)
        self._cnt_mark = st.cnt.copy()
        self.counts = self.counts + counts
        states = next(iter(probes.values())) if probes else None
        return Result(t0, t_end, spikes, counts, states, self.populations, source_spikes=src_spikes,
                      probes=probes, rates_binned=rates)

    def _exchange(self, st, t):
        """The end of an emission window at t (ms) in a partitioned run: add every other
        process's spikes of the window to this one's waiting spikes (the loop then
        queues them all in (time, neuron) order)."""
        EB = st.emitq
        # this process's spikes of the window, sorted: a prefix of the sorted waiting ones
        sort_window(EB)
        k = int(np.searchsorted(EB.t[:int(EB.count[0])], t))
        every = self._comm.allgather((EB.t[:k].copy(), EB.n[:k].copy()))
        self.exchange_stats["windows"] += 1
        self.exchange_stats["bytes_sent"] += 16 * k * (len(every) - 1)
        m = sum(len(x[0]) for x in every)
        if m > k:
            st = self._state = st._replace(emitq=grow_record(EB, m - k))
            bounds = np.zeros(len(every) + 1, np.int64)
            bounds[1:] = np.cumsum([len(x[0]) for x in every])
            merge_windows(np.concatenate([x[0] for x in every]), np.concatenate([x[1] for x in every]),
                          bounds, st.emitq, k)
        st.cursor.i[K_XCHG] = 1
        return st

    def _gather_recording(self, R):
        """Partitioned runs: every process samples every probed neuron, but only the
        one that simulates a neuron knows its state: take each sampled value from that
        process; add up the rate bins."""
        nvals = int(R.n[0])
        every = self._comm.allgather((R.vals[:nvals].copy(), R.rate_cnt.copy()))
        if nvals:
            owner = self._sample_owner(R)
            vals = R.vals[:nvals]
            for r, (v, _) in enumerate(every):
                m = owner == r
                vals[m] = v[m]
        R.rate_cnt[:] = np.sum([c for _, c in every], axis=0)

    def _sample_owner(self, R):
        """int [values]: the process that simulates the neuron of every sampled value
        (each probe's owners computed once, then laid out sample by sample)."""
        pop_off = self._plan.arrays.pops.pop_off
        per_probe = [np.repeat(_owner(pop_off, pb.ids, int(self._comm.size)), len(pb.variables))
                     for pb in self._probes]
        ev = R.ev[:int(R.n[1]), 0]
        return np.concatenate([per_probe[int(k)] for k in ev]) if len(ev) else np.empty(0, np.int64)

    def _record_ahead(self, st, t_stop):
        """The state after recording the fused sources' spikes up to t_stop that are not
        drawn yet (``engine.emit.record_ahead``)."""
        SRC = self._plan.arrays.sources
        need = record_ahead(SRC, st.sources, st.queue, st.src_spikes, t_stop, True)
        if need:
            st = self._state = st._replace(src_spikes=grow_record(st.src_spikes, need))
            record_ahead(SRC, st.sources, st.queue, st.src_spikes, t_stop, False)
        return st

    def _take_source_spikes(self, t_stop):
        """The source spikes with times <= t_stop not yet reported, sorted by (time,
        node).  Sources record each spike when it is drawn, which may be before the run
        that contains it starts: those wait here for that run.  (Spikes drawn after
        their run ended were recorded ahead: ``_record_ahead``.)"""
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
    def records_every_spike(self) -> bool:
        """True unless ``record_spikes`` limited the spike record (to some neurons or a
        window) or ``record_source_spikes(False)`` turned the sources' record off."""
        r = self._spike_recs
        return self._record_sources and (
            r is None or any(x.ids is None and x.start == 0.0 and x.stop == math.inf for x in r))

    @property
    def n_neurons(self) -> int:
        return self._n

    @property
    def n_synapses(self) -> int:
        return sum(pr.n_synapses for pr in self._projs)

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
        pointers and plasticity structures (:func:`eventsnn.plan.synapse_bytes`).  In a
        partitioned run once prepared: this process's (the synapses onto its neurons)."""
        if self._comm is not None and self._plan is not None:
            return synapse_bytes([pr for pr in self._plan.projections if pr.obj is not None])
        return synapse_bytes(self._projs)


def _merge(parts, t0, weights) -> Result:
    """One Result of the slices of a run (``Network.run``)."""
    if len(parts) == 1 and not weights:
        return parts[0]
    last = parts[-1]
    counts = OpCounts()
    for r in parts:
        counts = counts + r.counts
    probes = {name: cat_samples([r.probes[name] for r in parts]) for name in last.probes}
    rates = {name: merge_rates([r.rates_binned[name] for r in parts]) for name in last.rates_binned}
    states = next(iter(probes.values())) if probes else None
    src = [r.source_spikes for r in parts]
    return Result(t0, last.t_stop, _concat([r.spikes for r in parts]), counts, states, last.populations,
                  source_spikes=_concat(src), probes=probes, rates_binned=rates, weights=weights)


def _concat(runs):
    if not runs:
        return Spikes(np.empty(0), np.empty(0, np.int64))
    return Spikes(np.concatenate([s.times for s in runs]), np.concatenate([s.ids for s in runs]))
