"""Spike-timing-dependent plasticity from local traces, exact in continuous time.

Every rule here is a small frozen parameter record that a projection takes
(``net.connect(..., plasticity=rule)``).  The engine applies it event by event, with
exact (off-grid) spike times:

Traces.  Each presynaptic neuron of a plastic projection has two traces (fast r1 with
tau_plus, slow r2 with tau_x) and each postsynaptic neuron two (fast o1 with
tau_minus, slow o2 with tau_y).  A trace is stored as its value just after its
neuron's last spike and that spike's time; between spikes it decays exactly,
r(t) = r(t_last) exp(-(t - t_last)/tau), and it is evaluated (not stored) whenever a
spike of the other side reads it.  At its own spike a trace jumps: r -> r(t) + 1
(all-to-all interaction) or r -> 1 (nearest-spike interaction).  Pair rules use only
the fast traces.

Updates (Pfister & Gerstner 2006, eq. 3-4; the pair rule is the case A3 = 0):

* at a presynaptic spike *arriving* at the synapse at time t (emission + delay):
  the weight is delivered first, then
  Delta e = -f_minus(e) * o1(t) * (A2_minus + A3_minus * r2(t-)) + c_pre,
  then r1, r2 jump;
* at a postsynaptic spike at time t:
  Delta e = f_plus(e) * r1(t) * (A2_plus + A3_plus * o2(t-)),
  then o1, o2 jump.

Here e = s w is the efficacy, s = -1 for inhibitory projections (w_max <= 0) and +1
otherwise, so potentiation always strengthens a synapse.  Weight dependence (Gütig et
al. 2003): with u = (e - e_min)/(e_max - e_min), f_plus = (1 - u)^mu_plus and f_minus =
u^mu_minus; mu = 0 is additive, mu = 1 multiplicative (soft bounds, van Rossum et al.
2000), 0 < mu < 1 the power law.  After every update the weight is clipped to the hard
bounds [w_min, w_max]; it never leaves them.

Simultaneous spikes.  All presynaptic arrivals at time t are processed before any
postsynaptic spike at t (a postsynaptic spike is decided after all inputs of its
instant, see :mod:`eventsnn.engine.threshold`).  So a pair with t_post == t_pre + delay
counts as pre-before-post (potentiation) and is not also depressed; the result does
not depend on the order in which simultaneous events were queued.

Interactions (Morrison, Diesmann & Gerstner 2008, Biol. Cybern. 98:459):

* ``"all"``: every pre/post pair interacts (traces add up);
* ``"nearest"`` (symmetric nearest-spike): each postsynaptic spike pairs with the last
  presynaptic arrival before it, each presynaptic arrival with the last postsynaptic
  spike before it (traces reset to 1);
* ``"nearest_pre"`` (presynaptic-centred): as ``"nearest"``, but a presynaptic spike
  potentiates only with the *first* postsynaptic spike after it.

Rules:

* :class:`STDP`: pair rule with weight dependence and interaction.
* :class:`Triplet`: Pfister & Gerstner (2006), with the visual-cortex parameter sets of
  their Table 4 (:meth:`Triplet.visual_cortex_all_to_all`,
  :meth:`Triplet.visual_cortex_nearest`).
* :class:`Vogels`: inhibitory homeostatic plasticity (Vogels et al. 2011, Science
  334:1569): Delta e = eta (o1 - alpha) at presynaptic spikes and eta r1 at
  postsynaptic spikes, alpha = 2 rho0 tau.
* :class:`RewardSTDP`: reward-modulated STDP (Izhikevich 2007, Cereb. Cortex 17:2443):
  the pair rule writes into a per-synapse eligibility c instead of the weight,
  dc/dt = -c/tau_c, and de/dt = d(t) c(t) with the reward (dopamine) level d(t) =
  d(t_d) exp(-(t - t_d)/tau_d) that :meth:`Projection.reward` raises.  Between events
  the weight is integrated in closed form:
  Delta e = c d / kappa (1 - exp(-kappa dt)), kappa = 1/tau_c + 1/tau_d.  Because c
  and d keep their sign between events, e is monotone there and clipping at the end
  of the interval is exact.

Delays: a plastic projection must have one homogeneous delay (its presynaptic trace
is then one per presynaptic neuron, updated at the arrival time); the postsynaptic
spike acts at the synapse at its own time (no back-propagation delay), as in Brian2.

Units: times in ms, weights and amplitudes in mV (A2/A3 amplitudes are the weight
change per unit trace), rates in Hz.

Memory: per plastic projection, 4 float64 per presynaptic neuron and per
postsynaptic neuron for traces (32 bytes each), a transpose index of 4 bytes per
synapse (int32 synapse ids, grouped by postsynaptic neuron) plus 8 bytes per
postsynaptic neuron, and a row lookup of 4 bytes per 64 synapses (0.0625 byte per
synapse) that finds a synapse's presynaptic neuron without storing it.  Pair,
triplet and Vogels rules add nothing per synapse; :class:`RewardSTDP` adds 16 bytes
per synapse (eligibility and its time).  During a run, a ring of ``RING`` deferred
potentiations per postsynaptic neuron (24 bytes each: 96 bytes) holds the
postsynaptic spikes that the synapses have not yet applied (``post_update``), and
a buffer of 8 bytes per synapse of the longest plastic row holds the weights of the
row being delivered (``sync_depress_row``).

Deferred potentiation (pair, triplet and Vogels rules).  A postsynaptic spike does
not walk its incoming synapses: it is written into the neuron's ring, and each
synapse applies it at its next presynaptic arrival, before that spike is delivered
(``sync_depress_row``, in row order, in one pass with the depression), or when the
ring is full (``drain``, through the transpose index) or the run ends (``flush``: in
row order when many rings are owed, else through the transpose index).  Each synapse
gets the same operations, on the same values, in the same order as an update at the
spike itself (its presynaptic trace does not change in between), so the weights are
bitwise those of immediate updates, and between runs every ring is empty.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numba import njit

from ._validate import real
from .engine.hints import load_float64, load_int32, prefetch, prefetch_addr, store_float64
from .engine.state import C_TRACE, C_WUPD

__all__ = ["STDP", "Triplet", "Vogels", "RewardSTDP", "PlasticityRule"]

# parameter table columns of one plastic projection
(K_REWARD, K_IPLUS, K_IMINUS, K_IX, K_IY, K_A2P, K_A3P, K_A2M, K_A3M, K_CPRE, K_MUP, K_MUM,
 K_EMIN, K_EMAX, K_SIGN, K_PRERESET, K_POSTRESET, K_CENTRED, K_ITAUC, K_ITAUD,
 K_WMIN, K_WMAX) = range(22)
NPL = 22

# trace record columns: pre (r1, r2, t_last, -), post (o1, o2, t_last, ring count)
T_FAST, T_SLOW, T_LAST = 0, 1, 2
#: post-trace column: how many potentiations wait in the row's ring (``post_update``)
T_RING = 3
#: ring entries per postsynaptic trace row: a full ring is applied through the
#: transpose index at the next spike of that neuron
RING = 4
# ring entry columns: the postsynaptic spike's time (ms), o2 just before it, and the
# time of the spike before it (ms; the presynaptic-centred interaction reads it)
R_T, R_O2, R_TL = 0, 1, 2

BLOCK_SHIFT = 6  # one row-lookup entry per 64 synapses

_INTERACTIONS = ("all", "nearest", "nearest_pre")
_DEPENDENCE = ("additive", "multiplicative", "power")


def _tau(name, v):
    return real(name, v, lo=0.0, lo_open=True)


def _choice(name, v, allowed):
    if not isinstance(v, str) or v not in allowed:
        raise ValueError(f"{name}={v!r} is not allowed; choose one of {list(allowed)}")
    return v


def _bounds(w_min, w_max):
    lo = real("w_min", w_min)
    hi = real("w_max", w_max)
    if not lo < hi:
        raise ValueError(f"w_min={w_min!r}, w_max={w_max!r}: need w_min < w_max (mV)")
    if lo < 0.0 < hi:
        raise ValueError(f"w_min={w_min!r}, w_max={w_max!r}: the bounds must not straddle 0 "
                         f"(a plastic synapse is excitatory, w in [w_min, w_max] with w_min >= 0, "
                         f"or inhibitory, w_max <= 0)")
    return lo, hi


class PlasticityRule(ABC):
    """Base of the rule records; ``table_row()`` gives the engine's parameter row."""

    w_min: float
    w_max: float

    def _base_row(self):
        r = np.zeros(NPL)
        sign = -1.0 if self.w_max <= 0.0 else 1.0
        e = sorted((sign * self.w_min, sign * self.w_max))
        r[K_SIGN] = sign
        r[K_EMIN], r[K_EMAX] = e
        r[K_WMIN], r[K_WMAX] = self.w_min, self.w_max
        return r

    @abstractmethod
    def table_row(self) -> np.ndarray:
        """The rule's row of the engine's plasticity table (``K_*`` columns)."""

    @property
    def is_reward(self) -> bool:
        return False


def _interaction_flags(r, interaction):
    nearest = interaction != "all"
    r[K_PRERESET] = float(nearest)
    r[K_POSTRESET] = float(nearest)
    r[K_CENTRED] = float(interaction == "nearest_pre")


def _mu(weight_dependence, mu):
    m = real("mu", mu, lo=0.0)
    if m > 1.0:
        raise ValueError(f"mu={mu!r} is not allowed; mu must be in [0, 1]")
    if weight_dependence != "power":
        if m != 0.0:
            raise ValueError(f"mu={mu!r} is only used with weight_dependence='power' "
                             f"(got weight_dependence={weight_dependence!r}); leave mu at 0")
        return 0.0 if weight_dependence == "additive" else 1.0
    return m


@dataclass(frozen=True)
class STDP(PlasticityRule):
    """Pair-based STDP (Song, Miller & Abbott 2000; Gütig et al. 2003).

    Parameters
    ----------
    a_plus : float
        Potentiation amplitude (mV per unit presynaptic trace), >= 0.
    a_minus : float
        Depression amplitude (mV per unit postsynaptic trace), >= 0.
    tau_plus, tau_minus : float
        Presynaptic and postsynaptic trace time constants (ms), > 0.
    w_min, w_max : float
        Hard bounds (mV); an inhibitory projection has w_max <= 0.
    interaction : {"all", "nearest", "nearest_pre"}
        Which pre/post pairs interact (module docstring).
    weight_dependence : {"additive", "multiplicative", "power"}
        mu = 0, 1 or ``mu`` (Gütig et al. 2003) for both directions.
    mu : float
        Exponent of the power-law dependence, in [0, 1].
    """

    a_plus: float = 0.01
    a_minus: float = 0.0105
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    w_min: float = 0.0
    w_max: float = 1.0
    interaction: str = "all"
    weight_dependence: str = "additive"
    mu: float = 0.0

    def __post_init__(self):
        real("a_plus", self.a_plus, lo=0.0)
        real("a_minus", self.a_minus, lo=0.0)
        _tau("tau_plus", self.tau_plus)
        _tau("tau_minus", self.tau_minus)
        _bounds(self.w_min, self.w_max)
        _choice("interaction", self.interaction, _INTERACTIONS)
        _choice("weight_dependence", self.weight_dependence, _DEPENDENCE)
        _mu(self.weight_dependence, self.mu)

    def table_row(self):
        r = self._base_row()
        r[K_IPLUS] = 1.0 / self.tau_plus
        r[K_IMINUS] = 1.0 / self.tau_minus
        r[K_IX] = r[K_IPLUS]
        r[K_IY] = r[K_IMINUS]
        r[K_A2P] = self.a_plus
        r[K_A2M] = self.a_minus
        r[K_MUP] = r[K_MUM] = _mu(self.weight_dependence, self.mu)
        _interaction_flags(r, self.interaction)
        return r


@dataclass(frozen=True)
class Triplet(PlasticityRule):
    """Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26:9673), additive.

    Parameters
    ----------
    a2_plus, a3_plus, a2_minus, a3_minus : float
        Pair and triplet amplitudes (mV per unit trace product), >= 0.
    tau_plus, tau_x : float
        Fast and slow presynaptic trace time constants (ms).
    tau_minus, tau_y : float
        Fast and slow postsynaptic trace time constants (ms).
    w_min, w_max : float
        Hard bounds (mV).
    interaction : {"all", "nearest"}
        All-to-all (traces add) or nearest-spike (traces reset to 1).
    """

    a2_plus: float = 5e-10
    a3_plus: float = 6.2e-3
    a2_minus: float = 7e-3
    a3_minus: float = 2.3e-4
    tau_plus: float = 16.8
    tau_minus: float = 33.7
    tau_x: float = 101.0
    tau_y: float = 125.0
    w_min: float = 0.0
    w_max: float = 1.0
    interaction: str = "all"

    def __post_init__(self):
        for n in ("a2_plus", "a3_plus", "a2_minus", "a3_minus"):
            real(n, getattr(self, n), lo=0.0)
        for n in ("tau_plus", "tau_minus", "tau_x", "tau_y"):
            _tau(n, getattr(self, n))
        _bounds(self.w_min, self.w_max)
        _choice("interaction", self.interaction, ("all", "nearest"))

    @classmethod
    def visual_cortex_all_to_all(cls, w_min=0.0, w_max=1.0, scale=1.0):
        """Table 4 of Pfister & Gerstner (2006), visual cortex, all-to-all; amplitudes
        times ``scale`` (mV per unit trace product, > 0)."""
        scale = real("scale", scale, lo=0.0, lo_open=True)
        return cls(5e-10 * scale, 6.2e-3 * scale, 7e-3 * scale, 2.3e-4 * scale,
                   16.8, 33.7, 101.0, 125.0, w_min, w_max, "all")

    @classmethod
    def visual_cortex_nearest(cls, w_min=0.0, w_max=1.0, scale=1.0):
        """Table 4 of Pfister & Gerstner (2006), visual cortex, nearest-spike;
        amplitudes times ``scale`` (> 0)."""
        scale = real("scale", scale, lo=0.0, lo_open=True)
        return cls(8.8e-11 * scale, 5.3e-2 * scale, 6.6e-3 * scale, 3.1e-3 * scale,
                   16.8, 33.7, 714.0, 40.0, w_min, w_max, "nearest")

    def table_row(self):
        r = self._base_row()
        r[K_IPLUS] = 1.0 / self.tau_plus
        r[K_IMINUS] = 1.0 / self.tau_minus
        r[K_IX] = 1.0 / self.tau_x
        r[K_IY] = 1.0 / self.tau_y
        r[K_A2P] = self.a2_plus
        r[K_A3P] = self.a3_plus
        r[K_A2M] = self.a2_minus
        r[K_A3M] = self.a3_minus
        _interaction_flags(r, self.interaction)
        return r


@dataclass(frozen=True)
class Vogels(PlasticityRule):
    """Inhibitory plasticity of Vogels et al. (2011): symmetric window, constant
    depression per presynaptic spike, target postsynaptic rate ``rho0``.

    Parameters
    ----------
    eta : float
        Learning rate (mV per unit trace), > 0.
    rho0 : float
        Target postsynaptic rate (Hz); alpha = 2 rho0 tau.
    tau : float
        Trace time constant (ms).
    w_min, w_max : float
        Hard bounds (mV); inhibitory: w_max <= 0 (the rule then makes w more negative
        when it strengthens the synapse).
    """

    eta: float = 1e-3
    rho0: float = 5.0
    tau: float = 20.0
    w_min: float = -5.0
    w_max: float = 0.0

    def __post_init__(self):
        real("eta", self.eta, lo=0.0, lo_open=True)
        real("rho0", self.rho0, lo=0.0)
        _tau("tau", self.tau)
        _bounds(self.w_min, self.w_max)

    @property
    def alpha(self) -> float:
        """Depression offset 2 rho0 tau (dimensionless; rho0 in 1/ms)."""
        return 2.0 * self.rho0 / 1000.0 * self.tau

    def table_row(self):
        r = self._base_row()
        r[K_IPLUS] = r[K_IMINUS] = r[K_IX] = r[K_IY] = 1.0 / self.tau
        r[K_A2P] = self.eta
        r[K_A2M] = -self.eta  # Delta e = -f (o1) A2m + c_pre = eta o1 - eta alpha
        r[K_CPRE] = -self.eta * self.alpha
        return r


@dataclass(frozen=True)
class RewardSTDP(PlasticityRule):
    """Reward-modulated pair STDP with an eligibility trace (Izhikevich 2007).

    Parameters
    ----------
    a_plus, a_minus : float
        Eligibility increments of the pair rule (mV per unit trace), >= 0.
    tau_plus, tau_minus : float
        Trace time constants (ms).
    tau_c : float
        Eligibility time constant (ms), > 0 (Izhikevich: 1000 ms).
    tau_d : float
        Decay of the reward level (ms), > 0, ``inf`` for a level that stays until it
        is changed (Izhikevich: 200 ms).
    w_min, w_max : float
        Hard bounds (mV).
    interaction : {"all", "nearest", "nearest_pre"}
    """

    a_plus: float = 1.0
    a_minus: float = 1.5
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    tau_c: float = 1000.0
    tau_d: float = 200.0
    w_min: float = 0.0
    w_max: float = 4.0
    interaction: str = "all"

    def __post_init__(self):
        real("a_plus", self.a_plus, lo=0.0)
        real("a_minus", self.a_minus, lo=0.0)
        _tau("tau_plus", self.tau_plus)
        _tau("tau_minus", self.tau_minus)
        _tau("tau_c", self.tau_c)
        real("tau_d", self.tau_d, lo=0.0, lo_open=True, allow_inf=True)
        if math.isinf(self.tau_c):
            raise ValueError("tau_c=inf is not allowed; the eligibility must decay (finite ms)")
        _bounds(self.w_min, self.w_max)
        _choice("interaction", self.interaction, _INTERACTIONS)

    @property
    def is_reward(self) -> bool:
        return True

    def table_row(self):
        r = self._base_row()
        r[K_REWARD] = 1.0
        r[K_IPLUS] = r[K_IX] = 1.0 / self.tau_plus
        r[K_IMINUS] = r[K_IY] = 1.0 / self.tau_minus
        r[K_A2P] = self.a_plus
        r[K_A2M] = self.a_minus
        r[K_ITAUC] = 1.0 / self.tau_c
        r[K_ITAUD] = 0.0 if math.isinf(self.tau_d) else 1.0 / self.tau_d
        _interaction_flags(r, self.interaction)
        return r


# ----------------------------------------------------------------- index building
@njit(cache=True)
def build_transpose(indptr, idx, n_post):
    """Synapse ids grouped by postsynaptic neuron (counting sort, stable: ascending
    synapse id, hence ascending presynaptic row, within each group), their pointers,
    and the row lookup ``blk[b]`` = row of synapse b * 64."""
    nnz = idx.shape[0]
    tptr = np.zeros(n_post + 1, np.int64)
    for s in range(nnz):
        tptr[idx[s] + 1] += 1
    for j in range(n_post):
        tptr[j + 1] += tptr[j]
    fill = tptr[:-1].copy()
    tsyn = np.empty(nnz, np.int32)
    for s in range(nnz):
        j = idx[s]
        tsyn[fill[j]] = s
        fill[j] += 1
    nrow = indptr.shape[0] - 1
    nb = (nnz >> BLOCK_SHIFT) + 2
    blk = np.empty(nb, np.int32)
    r = 0
    for b in range(nb):
        s = b << BLOCK_SHIFT
        if s >= nnz:
            blk[b] = max(nrow - 1, 0)
            continue
        while indptr[r + 1] <= s:
            r += 1
        blk[b] = r
    return tptr, tsyn, blk


@njit(cache=True, inline="always")
def _row_of(row_ptr, r0, blk, b0, s):
    """Presynaptic row of synapse s of a projection whose row pointers start at
    ``row_ptr[r0]`` and row lookup at ``blk[b0]``: binary search between two lookup
    entries (usually zero or one step)."""
    b = b0 + (s >> BLOCK_SHIFT)
    lo = blk[b]
    hi = blk[b + 1]
    while lo < hi:
        mid = (lo + hi + 1) >> 1
        if row_ptr[r0 + mid] <= s:
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit(cache=True, inline="always")
def _incoming(PI, k, q, row_ptr, r0):
    """(synapse id, presynaptic trace row) of entry q of plastic projection k's transpose
    index, whose row pointers start at ``row_ptr[r0]``."""
    s = np.int64(PI.tsyn[PI.tsyn_off[k] + q])
    return s, PI.pre_off[k] + _row_of(row_ptr, r0, PI.blk, PI.blk_off[k], s)


@njit(cache=True, inline="always")
def _prefetch_incoming(PI, k, q0, q1, row_ptr, r0, wa, pre_tr):
    """Start loading the weights (at address ``wa``) and presynaptic trace lines of
    transpose entries q0..q1: random lines (the weights in an array of 8 bytes per
    synapse) that a walk through the transpose index would otherwise wait for in turn."""
    for q in range(q0, q1):
        s, i = _incoming(PI, k, q, row_ptr, r0)
        prefetch_addr(wa + 8 * s)
        prefetch(pre_tr, i)


# ----------------------------------------------------------------- update kernels
@njit(cache=True, inline="always")
def _trace(x, tl, itau, t):
    """Trace value at t from its value x just after its last spike at tl."""
    if x == 0.0:
        return 0.0
    return x * math.exp(-(t - tl) * itau)


@njit(cache=True, inline="always")
def _clip_e(e, emin, emax):
    if e < emin:
        return emin
    if e > emax:
        return emax
    return e


@njit(cache=True, inline="always")
def _fdep(e, emin, emax, mu):
    """Weight dependence u^mu (depression) with u the efficacy's position in its range."""
    if mu == 0.0:
        return 1.0
    u = (e - emin) / (emax - emin)
    u = min(max(u, 0.0), 1.0)
    return u if mu == 1.0 else u ** mu


@njit(cache=True, inline="always")
def _fpot(e, emin, emax, mu):
    """(1 - u)^mu (potentiation)."""
    if mu == 0.0:
        return 1.0
    u = (e - emin) / (emax - emin)
    u = min(max(u, 0.0), 1.0)
    return (1.0 - u) if mu == 1.0 else (1.0 - u) ** mu


@njit(cache=True, inline="always")
def _to_w(e, sign, wmin, wmax):
    """Weight from efficacy, inside [wmin, wmax] exactly (no rounding escape)."""
    w = sign * e
    if w < wmin:
        return wmin
    if w > wmax:
        return wmax
    return w


@njit(cache=True, inline="always")
def _reward_integrate(e, c, tc, t, d, td, itauc, itaud, emin, emax):
    """Efficacy after integrating de/dt = d(t) c(t) from tc to t (closed form, then
    clipped: e is monotone on the interval), and the decayed eligibility."""
    dt = t - tc
    if dt <= 0.0 or c == 0.0:
        return e, c * math.exp(-dt * itauc) if dt > 0.0 else c
    d0 = d * math.exp(-(tc - td) * itaud) if itaud > 0.0 else d
    if d0 != 0.0:
        kappa = itauc + itaud
        e = _clip_e(e - c * d0 * math.expm1(-kappa * dt) / kappa, emin, emax)
    return e, c * math.exp(-dt * itauc)


@njit(cache=True, inline="always")
def _efficacy_bounds(PL, k):
    """(sign, e_min, e_max, w_min, w_max) of plastic projection k."""
    return PL[k, K_SIGN], PL[k, K_EMIN], PL[k, K_EMAX], PL[k, K_WMIN], PL[k, K_WMAX]


@njit(cache=True, inline="always")
def _jump(tr, i, ifast, slow_t, reset, t):
    """Trace record i after its own spike at t: both traces jump by 1 (all-to-all) or
    to 1 (nearest-spike); ``slow_t`` is the slow trace already evaluated at t."""
    if reset:
        tr[i, T_FAST] = 1.0
        tr[i, T_SLOW] = 1.0
    else:
        tr[i, T_FAST] = _trace(tr[i, T_FAST], tr[i, T_LAST], ifast, t) + 1.0
        tr[i, T_SLOW] = slow_t + 1.0
    tr[i, T_LAST] = t


@njit(cache=True, _nrt=False)
def reward_sync_row(PL, k, learn, wa, elig, e0, rw, j0, j1, t):
    """Bring the weights of synapses j0..j1 of reward projection k (weights at address
    ``wa``, eligibilities from ``elig[e0]``) up to time t (before they are delivered).
    Counted with the eligibility update that follows (``reward_pre_update``): one weight update
    per synapse and event."""
    if learn[k] == 0.0:
        return
    sign, emin, emax, wmin, wmax = _efficacy_bounds(PL, k)
    d = rw[k, 0]
    td = rw[k, 1]
    for s in range(j0, j1):
        q = e0 + s
        e, c = _reward_integrate(sign * load_float64(wa, s), elig[q, 0], elig[q, 1], t, d, td,
                                 PL[k, K_ITAUC], PL[k, K_ITAUD], emin, emax)
        store_float64(wa, s, _to_w(e, sign, wmin, wmax))
        elig[q, 0] = c
        elig[q, 1] = t


def reward_sync_all(PL, k, learn, w, elig, rw, t):
    """Bring every synapse of reward projection k up to time t (before the reward level
    changes, or on copies when the weights are read); ``w`` and ``elig`` are that
    projection's arrays (contiguous).  Not counted: it is bookkeeping of the lazy
    integration, not a plasticity event."""
    reward_sync_row(PL, k, learn, w.ctypes.data, elig, 0, rw, 0, w.shape[0], t)


@njit(cache=True, _nrt=False)
def reward_pre_update(PL, k, row, t, ia, TR, PO, e0, j0, j1, cnt, rc):
    """A presynaptic spike of ``row`` of reward-modulated projection k, learning,
    arrives at synapses j0..j1 at time t (after they were delivered): the postsynaptic
    fast traces feed the eligibilities, then the presynaptic traces jump (every other
    plastic row only jumps: ``pre_jump``).  Targets at address ``ia``; ``TR`` the traces
    and eligibilities (``PlasticState``), ``PO`` (pre, post) trace offsets of the
    projection, ``e0`` its first eligibility; ``rc``: how many times this process counts
    the trace update (``engine.emit.row_count``)."""
    pre_tr = TR.pre_tr
    post_tr = TR.post_tr
    elig = TR.elig
    i = PO[0] + row
    o0 = PO[1]
    im = PL[k, K_IMINUS]
    r2t = _trace(pre_tr[i, T_SLOW], pre_tr[i, T_LAST], PL[k, K_IX], t)
    # the targets' trace lines are random in an array of 32 bytes per neuron: start
    # loading them all before the work (as the delivery loops do)
    for s in range(j0, j1):
        prefetch(post_tr, o0 + load_int32(ia, s))
    amp = PL[k, K_A2M] + PL[k, K_A3M] * r2t
    cpre = PL[k, K_CPRE]
    for s in range(j0, j1):
        j = o0 + load_int32(ia, s)
        o1 = _trace(post_tr[j, T_FAST], post_tr[j, T_LAST], im, t)
        # synapse already synced to t by reward_sync_row; the rule feeds c
        elig[e0 + s, 0] += -o1 * amp + cpre
    cnt[C_WUPD] += j1 - j0
    _jump(pre_tr, i, PL[k, K_IPLUS], r2t, PL[k, K_PRERESET] != 0.0, t)
    cnt[C_TRACE] += rc


@njit(cache=True, _nrt=False)
def pre_jump(PL, k, row, t, TR, PO, cnt, rc):
    """The presynaptic traces of ``row`` of plastic projection k jump at its arrival at
    t: after the delivery of every plastic row but a learning reward rule's
    (``reward_pre_update``; pair and triplet rules depress in ``sync_depress_row``)."""
    pre_tr = TR.pre_tr
    i = PO[0] + row
    r2t = _trace(pre_tr[i, T_SLOW], pre_tr[i, T_LAST], PL[k, K_IX], t)
    _jump(pre_tr, i, PL[k, K_IPLUS], r2t, PL[k, K_PRERESET] != 0.0, t)
    cnt[C_TRACE] += rc


@njit(cache=True, inline="always")
def _depress(w, o1, amp, cpre, mu, sign, emin, emax, wmin, wmax):
    """Weight w after a presynaptic arrival that meets the postsynaptic fast trace o1
    (``amp``: the depression amplitude, with the triplet term)."""
    e = sign * w
    e = _clip_e(e - _fdep(e, emin, emax, mu) * o1 * amp + cpre, emin, emax)
    return _to_w(e, sign, wmin, wmax)


@njit(cache=True, inline="always")
def _replay(PL, k, ring, m0, m1, tpre, xf, t_end, w, sign, emin, emax, wmin, wmax):
    """Weight w of one synapse after the potentiations of ring entries m0..m1 that it
    has not had (postsynaptic spikes at or after its last presynaptic arrival ``tpre``,
    whose fast trace is ``xf`` just after it) and that happened before ``t_end``, and
    how many were applied.  Each entry gets the arithmetic an update at the spike itself
    would have done (the presynaptic trace has not changed since), in time order, so
    deferring changes no bit."""
    ip = PL[k, K_IPLUS]
    mu = PL[k, K_MUP]
    a2p = PL[k, K_A2P]
    a3p = PL[k, K_A3P]
    centred = PL[k, K_CENTRED] != 0.0
    n = 0
    for m in range(m0, m1):
        tk = ring[m, R_T]
        if tk >= t_end:
            break
        if tk < tpre:
            continue
        if centred and not (tpre > ring[m, R_TL]):
            continue  # this presynaptic spike already paired with an earlier post spike
        r1 = _trace(xf, tpre, ip, tk)
        e = sign * w
        e = _clip_e(e + _fpot(e, emin, emax, mu) * r1 * (a2p + a3p * ring[m, R_O2]), emin, emax)
        w = _to_w(e, sign, wmin, wmax)
        n += 1
    return w, n


@njit(cache=True, inline="always")
def _owes(post_tr, j, tpre):
    """Whether postsynaptic trace row j has ring entries at or after ``tpre`` (the
    newest entry is its last spike)."""
    return post_tr[j, T_RING] != 0.0 and post_tr[j, T_LAST] >= tpre


@njit(cache=True, inline="always")
def _prefetch_owed(post_tr, ring, ia, o0, j0, j1, tpre):
    """Start loading the trace lines of synapses j0..j1 (targets at address ``ia``),
    then the rings of those that owe potentiations to their last presynaptic spike at
    ``tpre`` (measured: the rings of all, untested, cost 5 % of a plastic network)."""
    for s in range(j0, j1):
        prefetch(post_tr, o0 + load_int32(ia, s))
    for s in range(j0, j1):
        j = o0 + load_int32(ia, s)
        if _owes(post_tr, j, tpre):
            # a ring is 96 bytes: two lines, whichever way it is aligned
            prefetch(ring, j * RING)
            prefetch(ring, j * RING + RING - 1)


@njit(cache=True, _nrt=False)
def sync_depress_row(PL, k, row, t, ia, wa, TR, ring, PO, j0, j1, wbuf, cnt):
    """Before a presynaptic spike of ``row`` of plastic projection k is delivered at t
    to synapses j0..j1 (pair and triplet rules, learning on): the potentiations its
    synapses still owe to postsynaptic spikes before t (``post_update`` leaves them in
    the targets' rings), then the depression by this arrival, in one pass over the
    row, in row order instead of at random through the transpose index.  Each
    synapse's weight brought up to t goes to ``wbuf[s - j0]``, which the delivery then
    reads, and the weight array gets it depressed by this arrival.  Bitwise what the two passes around the delivery
    give: the depression reads only the postsynaptic fast traces at t and the
    presynaptic slow trace before its jump, and the delivery changes neither
    (postsynaptic spikes of the instant are given to the rules after all its inputs,
    and the presynaptic traces jump after the delivery, ``pre_jump``).  Why: one pass
    reads each target's index, trace line and weight once instead of twice, and the
    delivery reads its weights from L1."""
    post_tr = TR.post_tr
    pre_tr = TR.pre_tr
    i = PO[0] + row
    o0 = PO[1]
    tpre = pre_tr[i, T_LAST]
    xf = pre_tr[i, T_FAST]
    r2t = _trace(pre_tr[i, T_SLOW], tpre, PL[k, K_IX], t)
    _prefetch_owed(post_tr, ring, ia, o0, j0, j1, tpre)
    im = PL[k, K_IMINUS]
    amp = PL[k, K_A2M] + PL[k, K_A3M] * r2t
    cpre = PL[k, K_CPRE]
    mu = PL[k, K_MUM]
    sign, emin, emax, wmin, wmax = _efficacy_bounds(PL, k)
    nupd = 0
    for s in range(j0, j1):
        j = o0 + load_int32(ia, s)
        w = load_float64(wa, s)
        if _owes(post_tr, j, tpre):
            c = np.int64(post_tr[j, T_RING])
            w, n = _replay(PL, k, ring, j * RING, j * RING + c, tpre, xf, t, w,
                           sign, emin, emax, wmin, wmax)
            nupd += n
        wbuf[s - j0] = w
        o1 = _trace(post_tr[j, T_FAST], post_tr[j, T_LAST], im, t)
        store_float64(wa, s, _depress(w, o1, amp, cpre, mu, sign, emin, emax, wmin, wmax))
    cnt[C_WUPD] += nupd + (j1 - j0)


@njit(cache=True, _nrt=False)
def drain(PL, PI, k, j, row_ptr, r0, wa, TR, ring, cnt):
    """Apply the potentiations waiting in the ring of postsynaptic neuron j (local id)
    of plastic projection k to every incoming synapse that still owes them (through the
    transpose index), and empty the ring."""
    pre_tr = TR.pre_tr
    jj = PI.post_off[k] + j
    c = np.int64(TR.post_tr[jj, T_RING])
    if c == 0:
        return
    m0 = jj * RING
    t_new = ring[m0 + c - 1, R_T]
    q0 = PI.tptr[PI.tptr_off[k] + j]
    q1 = PI.tptr[PI.tptr_off[k] + j + 1]
    _prefetch_incoming(PI, k, q0, q1, row_ptr, r0, wa, pre_tr)
    sign, emin, emax, wmin, wmax = _efficacy_bounds(PL, k)
    nupd = 0
    for q in range(q0, q1):
        s, i = _incoming(PI, k, q, row_ptr, r0)
        tpre = pre_tr[i, T_LAST]
        if t_new < tpre:
            continue  # its presynaptic spikes since applied them all (sync_depress_row)
        w, n = _replay(PL, k, ring, m0, m0 + c, tpre, pre_tr[i, T_FAST], math.inf,
                       load_float64(wa, s), sign, emin, emax, wmin, wmax)
        if n != 0:
            store_float64(wa, s, w)
            nupd += n
    cnt[C_WUPD] += nupd
    TR.post_tr[jj, T_RING] = 0.0


@njit(cache=True, _nrt=False)
def _sweep(PL, PI, k, row_ptr, r0, ia, wa, TR, ring, cnt):
    """Apply every potentiation waiting in the rings of plastic projection k, walking
    its synapses in row order (every row brought up to t = inf), and empty the
    rings.  Bitwise what ``drain`` of every neuron gives: each synapse replays the same
    ring entries, in time order, from the same presynaptic trace."""
    pre_tr = TR.pre_tr
    post_tr = TR.post_tr
    p0 = PI.pre_off[k]
    o0 = PI.post_off[k]
    sign, emin, emax, wmin, wmax = _efficacy_bounds(PL, k)
    nupd = 0
    for r in range(PI.pre_off[k + 1] - p0):
        j0 = row_ptr[r0 + r]
        j1 = row_ptr[r0 + r + 1]
        tpre = pre_tr[p0 + r, T_LAST]
        xf = pre_tr[p0 + r, T_FAST]
        _prefetch_owed(post_tr, ring, ia, o0, j0, j1, tpre)
        for s in range(j0, j1):
            j = o0 + load_int32(ia, s)
            if _owes(post_tr, j, tpre):
                c = np.int64(post_tr[j, T_RING])
                w, n = _replay(PL, k, ring, j * RING, j * RING + c, tpre, xf, math.inf,
                               load_float64(wa, s), sign, emin, emax, wmin, wmax)
                if n != 0:
                    store_float64(wa, s, w)
                    nupd += n
    cnt[C_WUPD] += nupd
    for j in range(o0, PI.post_off[k + 1]):
        post_tr[j, T_RING] = 0.0


@njit(cache=True, _nrt=False)
def flush(PI, TR, ring, row_ptr, row_ptr_off, w_addr, idx_addr, cnt, sweep=-1):
    """Empty every ring: at the end of a run, so that weights and counts between runs
    are those of updates at every spike.  Per projection, through the transpose index
    (``drain``: ~60 ns per synapse of a neuron with a waiting spike, random weights)
    or in row order (``_sweep``: every synapse, in sequence, a few ns each), whichever
    touches less (``sweep`` -1; 0 or 1 force one way, for the tests): the weights and
    counts come out the same either way."""
    for k in range(PI.PL.shape[0]):
        pr = PI.pl_proj[k]
        o0 = PI.post_off[k]
        owed = 0
        for j in range(PI.post_off[k + 1] - o0):
            if TR.post_tr[o0 + j, T_RING] != 0.0:
                owed += PI.tptr[PI.tptr_off[k] + j + 1] - PI.tptr[PI.tptr_off[k] + j]
        if owed == 0:
            continue
        if sweep == 1 or (sweep < 0 and 16 * owed >= PI.tsyn_off[k + 1] - PI.tsyn_off[k]):
            _sweep(PI.PL, PI, k, row_ptr, row_ptr_off[pr], idx_addr[pr], w_addr[pr], TR, ring,
                   cnt)
            continue
        for j in range(PI.post_off[k + 1] - o0):
            if TR.post_tr[o0 + j, T_RING] != 0.0:
                drain(PI.PL, PI, k, j, row_ptr, row_ptr_off[pr], w_addr[pr], TR, ring, cnt)


@njit(cache=True, _nrt=False)
def _reward_potentiate(PL, PI, k, j, t, o2t, tl, row_ptr, r0, wa, TR, cnt):
    """Reward rules at a spike of postsynaptic neuron j (local id) of projection k at t:
    each incoming synapse's weight is integrated up to t and the pair rule feeds its
    eligibility (``o2t``: o2 just before the spike; ``tl``: the spike before)."""
    pre_tr = TR.pre_tr
    elig = TR.elig
    e0 = PI.elig_off[k]
    amp0 = PL[k, K_A2P] + PL[k, K_A3P] * o2t
    ip = PL[k, K_IPLUS]
    sign, emin, emax, wmin, wmax = _efficacy_bounds(PL, k)
    centred = PL[k, K_CENTRED] != 0.0
    d = TR.rw[k, 0]
    td = TR.rw[k, 1]
    q0 = PI.tptr[PI.tptr_off[k] + j]
    q1 = PI.tptr[PI.tptr_off[k] + j + 1]
    _prefetch_incoming(PI, k, q0, q1, row_ptr, r0, wa, pre_tr)
    nupd = 0
    for q in range(q0, q1):
        s, i = _incoming(PI, k, q, row_ptr, r0)
        tpre = pre_tr[i, T_LAST]
        if centred and not (tpre > tl):
            continue  # this presynaptic spike already paired with an earlier post spike
        r1 = _trace(pre_tr[i, T_FAST], tpre, ip, t)
        nupd += 1
        e, c = _reward_integrate(sign * load_float64(wa, s), elig[e0 + s, 0],
                                 elig[e0 + s, 1], t, d, td, PL[k, K_ITAUC],
                                 PL[k, K_ITAUD], emin, emax)
        store_float64(wa, s, _to_w(e, sign, wmin, wmax))
        elig[e0 + s, 0] = c + r1 * amp0
        elig[e0 + s, 1] = t
    cnt[C_WUPD] += nupd


@njit(cache=True, _nrt=False)
def post_update(PL, PI, k, learn, j, t, row_ptr, r0, wa, TR, ring, cnt):
    """Postsynaptic neuron j (local id) of plastic projection k fires at t: potentiation
    of its incoming synapses, then its traces jump.  The projection's row pointers
    start at ``row_ptr[r0]``, its weights at address ``wa``.

    Pair and triplet rules defer the potentiation: the spike (its time, o2 and the time
    of the spike before) goes into the neuron's ring of ``RING`` entries, and each
    synapse applies it at its next presynaptic arrival (``sync_depress_row``, sequential in the
    row) or when the ring is full or the run ends (``drain``, through the transpose
    index).  Why: applied here, every spike updated ~10^2 random weights and
    presynaptic traces through the transpose index, which took two thirds of a large
    plastic network's time.  Reward rules integrate an eligibility and update here
    (``_reward_potentiate``)."""
    post_tr = TR.post_tr
    jj = PI.post_off[k] + j
    tl = post_tr[jj, T_LAST]
    o2t = _trace(post_tr[jj, T_SLOW], tl, PL[k, K_IY], t)
    if learn[k] != 0.0 and PL[k, K_REWARD] != 0.0:
        _reward_potentiate(PL, PI, k, j, t, o2t, tl, row_ptr, r0, wa, TR, cnt)
    elif learn[k] != 0.0:
        c = np.int64(post_tr[jj, T_RING])
        if c == RING:
            drain(PL, PI, k, j, row_ptr, r0, wa, TR, ring, cnt)
            c = 0
        m = jj * RING + c
        ring[m, R_T] = t
        ring[m, R_O2] = o2t
        ring[m, R_TL] = tl
        post_tr[jj, T_RING] = c + 1
    _jump(post_tr, jj, PL[k, K_IMINUS], o2t, PL[k, K_POSTRESET] != 0.0, t)
    cnt[C_TRACE] += 1
