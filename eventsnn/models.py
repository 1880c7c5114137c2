"""Current-based leaky integrate-and-fire neurons: parameters and exact kernels.

Model (units: ms, mV)::

    dV/dt      = -(V - v_rest)/tau_m + (I_exc + I_inh + i_bias)/tau_in
    dI_exc/dt  = -I_exc/tau_syn_exc
    dI_inh/dt  = -I_inh/tau_syn_inh

``tau_in`` defaults to ``tau_m``, which gives the form used in the exact-gradient
literature, ``tau_m dV/dt = -(V - v_rest) + I`` (Wunderlich & Pehle 2021; Göltz et
al. 2021).  ``tau_m = inf`` removes the leak (perfect integrator; ``tau_in`` must then
be given).  ``tau_syn = 0`` makes a channel a *delta* synapse: a spike of weight w
makes V jump by w (mV) and input arriving during the refractory period is discarded,
as in NEST's ``iaf_psc_delta_ps``.  Otherwise w is added to the channel's current
(also while refractory, as in ``iaf_psc_exp_ps``).  Non-negative weights go to the
excitatory channel, negative ones to the inhibitory channel.

On ``V >= v_th`` the neuron spikes, ``V := v_reset`` and V is clamped there for
``t_ref`` ms while the currents keep decaying.

Closed form.  With g = 1/tau_m (0 if tau_m = inf), k = 1/tau_in, s = 1/tau_syn and the
state (V0, I_exc0, I_inh0) at the start of an interval of length t::

    V(t) = v_rest + (V0 - v_rest) e^{-g t}
           + k [ i_bias psi(g, 0, t) + I_exc0 psi(g, s_exc, t) + I_inh0 psi(g, s_inh, t) ]

    psi(g, s, t) = (e^{-s t} - e^{-g t}) / (g - s)      (= t e^{-g t} when g == s)

``psi`` is evaluated as ``e^{-min(g,s) t} * (-expm1(-|g-s| t)) / |g-s|``, which has no
cancellation as g -> s and never overflows (Rotter & Diesmann 1999 give the
propagator-matrix view of the same solution; the tau_m == tau_syn case is its limit).

Threshold crossing.  Let f = V - v_th.  Differentiating the ODE gives
``f' = -g f + h`` with ``h(t) = c + k I_exc0 e^{-s_exc t} + k I_inh0 e^{-s_inh t}``
and ``c = k i_bias - g (v_th - v_rest)``.  At an up-crossing f = 0 and f' >= 0, hence
h >= 0: crossings can only occur where h >= 0.  On an interval where h >= 0, f is
strictly increasing while it is negative (f' = -g f + h > 0), so there is a crossing
in [a, b] iff f(b) >= 0.  h is a constant plus at most two exponentials, so h' has at
most one zero, found in closed form, and h has at most two zeros, each isolated on a
monotone piece.  This decides the existence of a crossing exactly (up to the rounding
of f at one point) and brackets the first one, which a safeguarded Newton iteration
then polishes to the last bit.  In the common case (h >= 0 at the start and on a
single interval) the Newton iteration runs first without the bracket: each step's f and
f' give h = f' + g f, so an iterate that leaves the interval is seen, and the isolation
is done only then; a crossing on the interval costs about half as much.  A trajectory that only grazes the threshold is decided
by the sign of f at the end of its h >= 0 interval, where f is within a factor of
e^{-g (b - t_peak)} of its peak, so peaks 1e-9 mV above or below threshold are never
misclassified.  (This argument is the classical one for sums of exponentials used by
Brette 2007, "Exact simulation of integrate-and-fire models with exponential currents",
Neural Comput. 19:2604, made general for two synaptic time constants and bias.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from numba import njit

from ._validate import real
from .engine.fexp import exp as fexp

__all__ = ["LIF"]

# ---------------------------------------------------------------------------
# Parameter record
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LIF:
    """Parameters of a current-based LIF population (shared by all its neurons).

    Parameters
    ----------
    tau_m : float
        Membrane time constant (ms), > 0; ``inf`` for a non-leaky integrator.
    tau_syn_exc : float
        Excitatory synaptic time constant (ms), >= 0; 0 means delta synapses.
    tau_syn_inh : float
        Inhibitory synaptic time constant (ms), >= 0; 0 means delta synapses.
    v_rest : float
        Resting potential (mV).
    v_th : float
        Firing threshold (mV), > v_reset.
    v_reset : float
        Reset potential (mV), < v_th.
    t_ref : float
        Absolute refractory period (ms), >= 0.
    i_bias : float
        Constant bias current (mV, in the units of I_exc/I_inh).
    tau_in : float or None
        Input time constant (ms) that scales the currents into dV/dt; ``None`` means
        ``tau_m`` (the classical form).  Must be given (finite, > 0) when tau_m = inf.
    theta_plus : float
        Adaptive threshold (mV, >= 0): each spike raises that neuron's threshold by
        ``theta_plus`` (Diehl & Cook 2015).  The offset does not decay during a run
        (a slow decay, e.g. their tau_theta = 1e7 ms, is applied between runs with
        ``Population.set_theta``); the threshold of neuron n is ``v_th + theta[n]``.
    """

    tau_m: float = 20.0
    tau_syn_exc: float = 5.0
    tau_syn_inh: float = 5.0
    v_rest: float = 0.0
    v_th: float = 20.0
    v_reset: float = 10.0
    t_ref: float = 2.0
    i_bias: float = 0.0
    tau_in: float | None = None
    theta_plus: float = 0.0

    def __post_init__(self):
        vals = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "tau_in" and v is None:
                continue
            vals[f.name] = real(f.name, v, allow_inf=(f.name == "tau_m"))
            object.__setattr__(self, f.name, vals[f.name])
        if not self.tau_m > 0:
            raise ValueError(f"tau_m={self.tau_m!r} is not allowed; tau_m must be > 0 (ms) or inf")
        for name in ("tau_syn_exc", "tau_syn_inh"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; {name} must be >= 0 (ms, 0 = delta synapse)")
        if self.theta_plus < 0:
            raise ValueError(f"theta_plus={self.theta_plus!r} is not allowed; theta_plus must be >= 0 (mV)")
        if self.t_ref < 0:
            raise ValueError(f"t_ref={self.t_ref!r} is not allowed; t_ref must be >= 0 (ms)")
        if not self.v_reset < self.v_th:
            raise ValueError(f"v_reset={self.v_reset!r} is not allowed with v_th={self.v_th!r}; v_reset must be < v_th (mV)")
        if self.tau_in is None:
            if math.isinf(self.tau_m):
                raise ValueError("tau_in=None is not allowed with tau_m=inf; give a finite tau_in > 0 (ms) for a non-leaky neuron")
        elif not self.tau_in > 0:
            raise ValueError(f"tau_in={self.tau_in!r} is not allowed; tau_in must be > 0 (ms)")
        with np.errstate(all="ignore"):
            r = self.row()
        if not np.isfinite(r).all():
            # e.g. an i_bias so large that v_inf = v_rest + i_bias tau_m / tau_in overflows
            raise ValueError(f"the parameters {self!r} give a non-finite derived quantity (v_inf, the bias "
                             f"drift k * i_bias or a PSP peak); use magnitudes below about 1e300")

    @property
    def delta_exc(self) -> bool:
        """True if excitatory input makes V jump (tau_syn_exc == 0)."""
        return self.tau_syn_exc == 0.0

    @property
    def delta_inh(self) -> bool:
        """True if inhibitory input makes V jump (tau_syn_inh == 0)."""
        return self.tau_syn_inh == 0.0

    @property
    def v_inf(self) -> float:
        """Asymptotic potential without synaptic input (mV); inf/-inf/nan if non-leaky."""
        if math.isinf(self.tau_m):
            return math.copysign(math.inf, self.i_bias) if self.i_bias != 0 else math.nan
        return self.v_rest + self.i_bias * self.tau_m / self._tau_in

    @property
    def _tau_in(self) -> float:
        return self.tau_m if self.tau_in is None else self.tau_in

    def row(self) -> np.ndarray:
        """The flat float64 parameter row the kernels read (see the ``P_*`` indices)."""
        r = np.zeros(NPARAM, dtype=np.float64)
        r[P_G] = 0.0 if math.isinf(self.tau_m) else 1.0 / self.tau_m
        r[P_K] = 1.0 / self._tau_in
        r[P_SE] = 0.0 if self.delta_exc else 1.0 / self.tau_syn_exc
        r[P_SI] = 0.0 if self.delta_inh else 1.0 / self.tau_syn_inh
        r[P_VREST] = self.v_rest
        r[P_VTH] = self.v_th
        r[P_VRESET] = self.v_reset
        r[P_TREF] = self.t_ref
        r[P_IBIAS] = self.i_bias
        r[P_DE] = 1.0 if self.delta_exc else 0.0
        r[P_DI] = 1.0 if self.delta_inh else 0.0
        # The "frame" representation (delta-only populations) stores U with
        # V = b(t) + U * exp(-g (t - t_f)); b = v_inf for a leaky neuron and
        # b = k i_bias (t - t_f) for a non-leaky one.
        if r[P_G] > 0:
            r[P_VINF] = self.v_rest + r[P_K] * self.i_bias / r[P_G]
        else:
            r[P_VINF] = 0.0
        r[P_C] = r[P_K] * self.i_bias
        # Frame representation (see the end of this module): V = b(t) + A e^{-g t'} + B_e e^{-s_e t'}
        # + B_i e^{-s_i t'}.  The coefficient of an input to an exp channel is
        # k/(g - s); to bound cancellation (factor <= 4) the frame is used only when
        # every exp channel has |g - s| >= max(g, s)/4.  Other populations keep the
        # general closed form, which is exact for any g, s (psi uses expm1).
        sep = True
        for sx in (r[P_SE], r[P_SI]):
            if sx > 0 and abs(r[P_G] - sx) < 0.25 * max(r[P_G], sx):
                sep = False
        r[P_FRAME] = 1.0 if sep else 0.0
        r[P_KE] = r[P_K] / (r[P_G] - r[P_SE]) if (sep and r[P_SE] > 0) else 0.0
        r[P_KI] = r[P_K] / (r[P_G] - r[P_SI]) if (sep and r[P_SI] > 0) else 0.0
        r[P_HASEXP] = 1.0 if (r[P_SE] > 0 or r[P_SI] > 0) else 0.0
        # peak of the unit-current PSP kernel psi(g, s, t) over t > 0, per channel (ms):
        # V(t) <= max(V0, v_inf) + k I_exc psi_max_exc, the engine's quick reject
        r[P_PSIE] = psi_max(r[P_G], r[P_SE])
        r[P_PSII] = psi_max(r[P_G], r[P_SI])
        # the same peaks per unit of a frame neuron's channel coefficient (k psi_max / k_x)
        r[P_CE] = r[P_K] * r[P_PSIE] / r[P_KE] if r[P_KE] != 0.0 else 0.0
        r[P_CI] = r[P_K] * r[P_PSII] / r[P_KI] if r[P_KI] != 0.0 else 0.0
        # can V cross the threshold with no input at all (bias drive)?
        if r[P_G] > 0:
            r[P_SPONT] = 1.0 if r[P_VINF] > self.v_th else 0.0
        else:
            r[P_SPONT] = 1.0 if r[P_C] > 0 else 0.0
        # adaptive threshold: the kernels add theta[n] to v_th only where P_ADAPT is
        # set, so populations without adaptation pay no extra memory access
        r[P_THPLUS] = self.theta_plus
        r[P_ADAPT] = 1.0 if self.theta_plus > 0 else 0.0
        return r


# Column indices of the parameter table (one row per population).
P_G, P_K, P_SE, P_SI, P_VREST, P_VTH, P_VRESET, P_TREF, P_IBIAS, P_DE, P_DI, P_VINF, P_C, P_FRAME, \
    P_SPONT, P_PSIE, P_PSII, P_KE, P_KI, P_HASEXP, P_THPLUS, P_ADAPT, P_CE, P_CI = range(24)
NPARAM = 24


# ---------------------------------------------------------------------------
# Closed-form propagation (general representation: V, I_exc, I_inh at t_last)
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def psi(g, s, t):
    """(e^{-s t} - e^{-g t}) / (g - s) for t >= 0 without cancellation (ms)."""
    d = g - s
    if d == 0.0:
        return t * math.exp(-g * t)
    if d > 0.0:
        return math.exp(-s * t) * (-math.expm1(-d * t)) / d
    return math.exp(-g * t) * (-math.expm1(d * t)) / (-d)


@njit(cache=True)
def psi_max(g, s):
    """max over t > 0 of psi(g, s, t) (ms), the peak of the PSP of a unit current of
    rate s: at t* = ln(s/g)/(s - g), 1/(e g) if g == s, 1/s for a non-leaky neuron (g =
    0) and 0 for a delta channel (s = 0)."""
    if s == 0.0:
        return 0.0
    if g == 0.0:
        return 1.0 / s
    if g == s:
        return math.exp(-1.0) / g
    return psi(g, s, math.log(s / g) / (s - g))


@njit(cache=True, inline="always")
def bias_kernel(g, t):
    """(1 - e^{-g t}) / g, = t for g == 0 (ms)."""
    if g == 0.0:
        return t
    return -math.expm1(-g * t) / g


# The kernels below take scalar parameters only: a Numba call that passes arrays pays
# an atomic reference-count increment and decrement per array, which dominated the
# per-synapse cost when these took the parameter table.


@njit(cache=True)
def v_at(g, k, se, si, vr, ib, v0, ie0, ii0, t):
    """Membrane potential (mV) after t ms from state (v0, ie0, ii0), no reset.

    g = 1/tau_m, k = 1/tau_in, se/si = 1/tau_syn (1/ms), vr = v_rest (mV),
    ib = i_bias (mV)."""
    v = vr + (v0 - vr) * math.exp(-g * t) + k * ib * bias_kernel(g, t)
    if ie0 != 0.0:
        v += k * ie0 * psi(g, se, t)
    if ii0 != 0.0:
        v += k * ii0 * psi(g, si, t)
    return v


@njit(cache=True)
def dv_at(g, k, vr, ib, v, ie, ii):
    """dV/dt (mV/ms) at a state (v, ie, ii)."""
    return -g * (v - vr) + k * (ib + ie + ii)


@njit(cache=True, inline="always")
def _decay(i0, s, t):
    if i0 == 0.0:
        return 0.0
    return i0 * math.exp(-s * t)


@njit(cache=True)
def _h(c, d1, s1, d2, s2, t):
    return c + d1 * fexp(-s1 * t) + d2 * fexp(-s2 * t)


@njit(cache=True)
def _h_zero(c, d1, s1, d2, s2, lo, hi, neg_lo):
    """Zero of h on [lo, hi], where h is monotone with a sign change (h(lo) < 0 iff
    neg_lo): Newton steps kept inside the shrinking bracket, else bisection.  Stops when
    a step or the bracket is below 1e-14 relative (the zero only delimits an interval;
    see first_crossing)."""
    x = 0.5 * (lo + hi)
    for _ in range(100):
        e1 = fexp(-s1 * x)
        e2 = fexp(-s2 * x)
        hx = c + d1 * e1 + d2 * e2
        if hx == 0.0:
            return x
        if (hx < 0.0) == neg_lo:
            lo = x
        else:
            hi = x
        if hi - lo <= 1e-14 * hi:
            return 0.5 * (lo + hi)
        dh = -s1 * d1 * e1 - s2 * d2 * e2
        xn = x - hx / dh if dh != 0.0 else 0.5 * (lo + hi)
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - x) <= 1e-14 * xn:
            return xn
        x = xn
    return 0.5 * (lo + hi)


@njit(cache=True)
def _zero_toward_c(c, d1, s1, d2, s2, lo, hlo):
    """Zero of h on (lo, inf), where h is monotone from h(lo) = hlo toward its limit c:
    inf if h keeps its sign.  The bracket is found by doubling."""
    if c == 0.0 or (hlo < 0.0) == (c < 0.0):
        return math.inf
    hi = lo + 1.0
    for _ in range(2000):
        if (_h(c, d1, s1, d2, s2, hi) < 0.0) == (c < 0.0):
            break
        hi = lo + 2.0 * (hi - lo)
    return _h_zero(c, d1, s1, d2, s2, lo, hi, hlo < 0.0)


class Traj(NamedTuple):
    """A free trajectory whose threshold crossing is sought, in one of two forms (see
    ``_f``): the state form (g, k, se, si, vr, vth, ib: rates in 1/ms, potentials in mV;
    v0, ie0, ii0 the state at t = 0) or the coefficient form (c0, a, be, bi in mV, with
    g, se, si).  The fields of the form not in use are 0."""

    g: float
    k: float
    se: float
    si: float
    vr: float
    vth: float
    ib: float
    v0: float
    ie0: float
    ii0: float
    c0: float
    a: float
    be: float
    bi: float


@njit(cache=True)
def _f(cf, T, t):
    """(f, f') = (V - v_th, dV/dt) at t ms after the start of trajectory T, in one of two
    forms: the closed form with psi (cf False; exact for any rates) or, with cf, the
    coefficient form V(t) = v_th + c0 + a e^{-g t} + be e^{-se t} + bi e^{-si t}, three
    inline exponentials and no expm1 (for rates apart, where its cancellation is
    bounded; see ``first_crossing_coef``)."""
    g, k, se, si, vr, vth, ib, v0, ie0, ii0, c0, a, be, bi = T
    if cf:
        if t == 0.0:
            # every e^{-s 0} is 1, which fexp returns exactly: the same values without
            # the three exponentials (Newton from 0 starts here, once per test)
            return c0 + a + be + bi, -g * a - se * be - si * bi
        e = fexp(-g * t)
        f = c0 + a * e
        d = -g * a * e
        if be != 0.0:
            e = fexp(-se * t)
            f += be * e
            d -= se * be * e
        if bi != 0.0:
            e = fexp(-si * t)
            f += bi * e
            d -= si * bi * e
        return f, d
    v = v_at(g, k, se, si, vr, ib, v0, ie0, ii0, t)
    return v - vth, dv_at(g, k, vr, ib, v, _decay(ie0, se, t), _decay(ii0, si, t))


@njit(cache=True)
def _f_root(cf, T, lo, hi):
    """The t in (lo, hi] with V(t) = v_th, given V(lo) < v_th <= V(hi) and V increasing
    while below threshold on [lo, hi] (f evaluated as ``_f`` does).

    Safeguarded Newton from lo, where V rises (f' = h - g f > 0 with h >= 0 > f), so
    the first step goes into the bracket: every evaluation shrinks the bracket [lo, hi]
    (V(lo) < v_th <= V(hi)); a step that leaves it is replaced by bisection.  It stops
    when the Newton correction is below 1e-14 relative (quadratic convergence: the error
    is then far below 1e-13 ms) or the bracket is that tight, and returns the corrected
    point."""
    return _newton(cf, T, lo, hi, False, lo)


@njit(cache=True)
def _newton_from_zero(cf, T):
    """The first crossing by ``_f_root``'s iteration from 0 without a bracket, or -1 if
    it cannot be decided so (the caller then isolates the zeros of h).

    Valid when h(0) >= 0 and the set where h >= 0 is one interval [0, z0] (z0 may be
    inf).  Every evaluation gives h too (h = f' + g f).  An iterate with f < 0 and
    h >= 0 lies in [0, z0], where f increases while negative, so f < 0 on [0, x]; an
    iterate with f >= 0 and h >= 0 closes a bracket whose only sign change is the
    first crossing (up-crossings need h >= 0).  An iterate beyond z0 (h < 0) gives
    up.  Inside [0, z0] the iterates are those ``_f_root`` makes on the bracket [0, z0]
    (Newton from the left stays below the root where V is concave, as on a PSP's
    rise), so the root is the same, without the 5-7 Newton steps that locate z0."""
    return _newton(cf, T, 0.0, math.inf, True, _guess(cf, T, 0.0))


@njit(cache=True)
def _newton(cf, T, lo, hi, free, x0):
    """The iteration of ``_f_root`` (free False: hi is a bracket) and of
    ``_newton_from_zero`` (free True: hi may be inf, and an iterate where h < 0, or a
    step it cannot take, gives up with -1), from x0 in [lo, hi] (f(lo) < 0).  With
    free, h >= 0 on [lo, x0] is the caller's premise."""
    g = T.g
    x = x0
    for _ in range(100):
        fx, d = _f(cf, T, x)
        # (h >= 0 at the start is the caller's premise: a rounding of h there is no exit)
        if free and x != x0 and d + g * fx < 0.0:
            return -1.0
        if fx >= 0.0:
            hi = x
        else:
            lo = x
        if hi < math.inf and hi - lo <= 1e-14 * hi:
            return hi
        if d > 0.0:
            step = fx / d
            xn = x - step
            if lo < xn <= hi:
                if abs(step) <= 1e-14 * xn:
                    return xn
                x = xn
                continue
        if hi == math.inf:
            return -1.0
        x = 0.5 * (lo + hi)
    return -1.0 if free else hi


@njit(cache=True)
def _guess(cf, T, lo):
    """A starting point >= lo for Newton's iteration toward a crossing of a coefficient
    trajectory (cf) whose asymptote lies above threshold (c0 > 0): two steps of the
    fixed-point iteration s = ln(-(a + be e^{-(se - g) s} + bi e^{-(si - g) s}) / c0) / g
    of f(s) = 0 written as e^{-g s} (a + ...) = -c0, which converges where the e^{-g s}
    term dominates (a trajectory relaxing toward v_inf > v_th).  Only a starting point:
    the iteration that follows decides and polishes the crossing (from far to the left
    Newton's steps on e^{-g s} gain little each, 8-10 of them).  lo if it does not
    apply."""
    if not cf or not T.c0 > 0.0:
        return lo
    g = T.g
    x = lo
    for _ in range(2):
        phi = T.a
        if T.be != 0.0:
            phi += T.be * fexp(-(T.se - g) * x)
        if T.bi != 0.0:
            phi += T.bi * fexp(-(T.si - g) * x)
        if not -phi > T.c0:
            break
        x = max(x, math.log(-phi / T.c0) / g)
    return x


@njit(cache=True)
def first_crossing(g, k, se, si, vr, vth, ib, v0, ie0, ii0):
    """Time (ms, > 0) of the first threshold crossing from state (v0 < v_th, ie0, ii0)
    with no further input, or inf if V never reaches v_th.  See the module docstring.

    Parameters are scalars: g = 1/tau_m, k = 1/tau_in, se/si = 1/tau_syn (1/ms; 0 for
    a delta channel, whose current is always 0), vr = v_rest, vth = v_th, ib = i_bias."""
    return _crossing(False, Traj(g, k, se, si, vr, vth, ib, v0, ie0, ii0, 0.0, 0.0, 0.0, 0.0),
                     k * ib - g * (vth - vr), k * ie0, k * ii0)


@njit(cache=True)
def first_crossing_coef(c0, a, g, be, se, bi, si):
    """``first_crossing`` for a trajectory given by its coefficients: V(t) - v_th = c0 +
    a e^{-g t} + be e^{-se t} + bi e^{-si t} (mV), with g > 0 and c0 + a + be + bi < 0.

    This is the frame representation's own form (see ``frame_state``): no conversion to
    (V, I_exc, I_inh), and each evaluation costs three inline exponentials instead of
    the closed form's seven calls of exp and expm1.  Only for rates apart (the engine
    uses it where |g - s| >= max(g, s)/4): the terms then cancel by at most a factor of
    a few, so f keeps nearly full relative precision.  The decision logic is
    ``first_crossing``'s, with h = f' + g f = g c0 + (g - se) be e^{-se t} + (g - si)
    bi e^{-si t}."""
    return _crossing(True, Traj(g, 0.0, se, si, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, c0, a, be, bi),
                     g * c0, (g - se) * be, (g - si) * bi)


@njit(cache=True)
def _crossing(cf, T, c, d1, d2):
    """The body of ``first_crossing`` and ``first_crossing_coef``: h(t) = c + d1 e^{-se t}
    + d2 e^{-si t} and f evaluated by ``_f`` in the form cf selects."""
    s1 = T.se
    s2 = T.si
    # Quick reject: h(t) <= c + max(d1, 0) + max(d2, 0) for all t > 0.
    if c + max(d1, 0.0) + max(d2, 0.0) <= 0.0:
        return math.inf
    # Merge equal rates; order so that s1 < s2 when both present.
    if d1 == 0.0:
        d1, s1, d2, s2 = d2, s2, 0.0, 0.0
    if d2 != 0.0 and s2 == s1:
        d1 += d2
        d2 = 0.0
    if d2 != 0.0 and s2 < s1:
        d1, s1, d2, s2 = d2, s2, d1, s1
    if d2 == 0.0:
        s2 = 0.0
    h0 = c + d1 + d2
    # The common case first: h >= 0 at 0 and on a single interval [0, z0] (h has no
    # minimum below 0 after which it turns positive again, which needs d1 < 0 < d2 and
    # c >= 0).  Newton on f from 0 then needs no zero of h (see _newton_from_zero).
    one = h0 >= 0.0 and (c < 0.0 or not (d1 < 0.0 < d2))
    if h0 >= 0.0 and not one and s1 * d1 != 0.0:
        # d1 < 0 < d2, c >= 0: h falls to a minimum at tm (if tm > 0) and rises toward c;
        # if that minimum is >= 0, h >= 0 on [0, inf), a single interval as well
        arg = -(s2 * d2) / (s1 * d1)
        tm = math.log(arg) / (s2 - s1) if arg > 0.0 else 0.0
        one = not (tm > 0.0) or _h(c, d1, s1, d2, s2, tm) >= 0.0
    if one:
        r = _newton_from_zero(cf, T)
        if r >= 0.0:
            return r
    # Breakpoints: the zeros of h on (0, inf), at most one on each piece where h is
    # monotone, (0, tc) and (tc, inf) (h tends to c).  They are found only as the walk
    # below needs them: usually the first interval where h >= 0 holds the crossing.
    tc = math.inf
    # (a product that underflows to 0 means a term far below rounding: no extremum)
    if d1 != 0.0 and d2 != 0.0 and s1 * d1 != 0.0:
        arg = -(s2 * d2) / (s1 * d1)
        if arg > 0.0:
            tcc = math.log(arg) / (s2 - s1)
            if tcc > 0.0:
                tc = tcc
    if tc < math.inf:
        htc = _h(c, d1, s1, d2, s2, tc)
        if (h0 < 0.0) != (htc < 0.0):
            z0 = _h_zero(c, d1, s1, d2, s2, 0.0, tc, h0 < 0.0)
            z1 = -1.0           # on (tc, inf): found if needed
        else:
            z0 = _zero_toward_c(c, d1, s1, d2, s2, tc, htc)
            z1 = math.inf
    else:
        htc = h0
        z0 = _zero_toward_c(c, d1, s1, d2, s2, 0.0, h0)
        z1 = math.inf
    # Walk the intervals [lo_b, b] where h >= 0 in order: 0..z0, then z1..inf.
    if h0 >= 0.0:
        r = _interval(cf, T, c, d1, s1, d2, s2, 0.0, z0)
        if r >= 0.0:
            return r
    if z0 == math.inf:
        return math.inf
    if z1 < 0.0:
        z1 = _zero_toward_c(c, d1, s1, d2, s2, tc, htc)
    # between z0 and z1 h has the sign opposite to h0's, after z1 h0's sign again
    lo_b = z1 if h0 >= 0.0 else z0
    b = math.inf if h0 >= 0.0 else z1
    if lo_b == math.inf:
        return math.inf
    r = _interval(cf, T, c, d1, s1, d2, s2, lo_b, b)
    return r if r >= 0.0 else math.inf


@njit(cache=True)
def _interval(cf, T, c, d1, s1, d2, s2, lo_b, b):
    """The crossing in an interval [lo_b, b] where h >= 0, or -1 if there is none: f
    increases while negative there, so there is one iff f(b) >= 0 (b finite), or iff f
    reaches 0 somewhere (b = inf: bracketed by doubling)."""
    if b < math.inf:
        if _f(cf, T, b)[0] >= 0.0:
            return _f_root(cf, T, lo_b, b)
        return -1.0
    if c > 0.0:
        # f -> c/g > 0: the crossing exists, and h >= 0 on the whole of [lo_b, inf), so
        # Newton's iteration from lo_b needs no bracket (see _newton_from_zero); it
        # gives up (-1) only if it does not converge, and the doubling below decides
        r = _newton(cf, T, lo_b, math.inf, True, _guess(cf, T, lo_b))
        if r >= 0.0:
            return r
    hi = lo_b + 1.0
    for _ in range(2100):
        if _f(cf, T, hi)[0] >= 0.0:
            return _f_root(cf, T, lo_b, hi)
        if c <= 0.0 and hi * min(s1 if d1 != 0.0 else math.inf, s2 if d2 != 0.0 else math.inf) > 800.0:
            # currents have vanished and no drive remains: f -> c/g <= 0
            return -1.0
        hi = lo_b + 2.0 * (hi - lo_b)
        if hi > 1e300:
            return -1.0
    return -1.0


# ---------------------------------------------------------------------------
# Propagation and threshold tests as the engine uses them, for both state
# representations.  The engine (``eventsnn.engine``) stores a neuron's state and
# decides when to call these; the arithmetic is here, in one place.
#
# *general*: (V, I_exc, I_inh) at the time of the last update, advanced with ``v_at``.
# *frame* (every exp channel with |g - s| >= max(g, s)/4): V(t) = b(t) + U e^{-g (t -
# t_f)} + B_e e^{-s_e (t - t_f)} + B_i e^{-s_i (t - t_f)} with a population-wide origin
# t_f; U is constant between inputs, B_x = k_x * I_x(t_f) with k_x = k/(g - s_x) (0 for a
# delta channel), b = v_inf (leaky) or c (t - t_f) (non-leaky, c = k i_bias).
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def refractory(t, ref_until):
    """Is a neuron refractory until ``ref_until`` (ms) still refractory at t?

    The interval is half-open, [t_spike, t_spike + t_ref): a delta input that arrives
    exactly when it ends is applied.  NEST's iaf_psc_delta_ps does the same; the
    reference files in tests/data contain such exact ties and only this choice matches.
    """
    return t < ref_until


@njit(cache=True, inline="always")
def frame_scale(g, vinf, c, tf, t):
    """(1/a, b) of a frame at time t (ms), V = b + a U: a = e^{-g (t - tf)} and b = v_inf
    for a leaky neuron; a = 1 and b = c (t - tf) (bias drift) for a non-leaky one."""
    if g > 0.0:
        return fexp(g * (t - tf)), vinf
    return 1.0, c * (t - tf)


@njit(cache=True)
def cross_frame(g, vinf, c, vth, u, tf, ref):
    """Next bias-driven crossing (ms) of a delta-synapse frame neuron with frame value u
    (mV), or inf: the first t >= ref with b(t) + a(t) u = v_th."""
    if g > 0.0:
        dv = vth - vinf
        if dv >= 0.0 or u >= 0.0:
            return math.inf
        # v_inf + u e^{-g (t - tf)} = v_th
        return max(tf + math.log(u / dv) / g, ref)
    if c <= 0.0:
        return math.inf
    return max(tf + (vth - u) / c, ref)


@njit(cache=True, inline="always")
def decay2(ie, ii, se, si, dt):
    """Both synaptic currents (mV) after dt ms of free decay."""
    if ie != 0.0:
        ie *= math.exp(-se * dt)
    if ii != 0.0:
        ii *= math.exp(-si * dt)
    return ie, ii


@njit(cache=True)
def propagate(g, k, se, si, vr, vreset, ib, v, ie, ii, t0, ref, t):
    """State (V, I_exc, I_inh) at t >= t0 (ms) of a general neuron whose state at t0 is
    (v, ie, ii) and which is refractory until ``ref`` (V clamped to v_reset)."""
    if t <= t0:
        return v, ie, ii
    if ref >= t:
        ie, ii = decay2(ie, ii, se, si, t - t0)
        return vreset, ie, ii
    if ref > t0:
        ie, ii = decay2(ie, ii, se, si, ref - t0)
        t0 = ref
        v = vreset
    dt = t - t0
    v = v_at(g, k, se, si, vr, ib, v, ie, ii, dt)
    ie, ii = decay2(ie, ii, se, si, dt)
    return v, ie, ii


@njit(cache=True, inline="always")
def peak_reject(g, se, vinf, v0, a, b, vth, ceil):
    """The tighter reject of the threshold tests: is F(s) = v_inf + a e^{-g s} + b
    e^{-se s} (mV; F(0) = v0), the trajectory without its inhibitory part and so an
    upper bound on V, below vth at every s >= 0?  Its maximum lies at F(0), at the zero
    of F' (closed form) or at v_inf.  Rejects only with a rounding margin, so that a true
    crossing is never dropped; returns (rejected, ceil lowered to that maximum plus its
    margin)."""
    fmax = max(v0, vinf)
    arg = -(se * b) / (g * a) if g * a != 0.0 else -1.0
    if arg > 0.0:
        ts = math.log(arg) / (se - g)
        if ts > 0.0:
            fmax = max(fmax, vinf + a * fexp(-g * ts) + b * fexp(-se * ts))
    marg = 1e-12 * (abs(vth) + abs(vinf) + abs(a) + abs(b))
    return fmax < vth - marg, min(ceil, fmax + 100.0 * marg)


@njit(cache=True)
def cross_general(g, k, se, si, vr, vth, vreset, ib, pse, psi_, v, ie, ii, t0, ref):
    """(tc, ceil): the absolute time (ms) of the next crossing of a general neuron (inf
    if none) and its *ceiling*, an upper bound (mV) on V(s) for every s >= t0 without
    further input (inf if none was computed).

    pse/psi_ are the peaks of the unit PSP kernels (ms).  Quick reject first: for a
    leaky neuron V(t) <= max(V0, v_inf) + k (I_exc^+ pse + I_inh^+ psi_) for all t, so
    a neuron whose bound stays below threshold needs no root search.  The ceiling is
    the smaller of this bound and the tighter one below, each raised by a margin of
    1e-10 of the magnitudes it was computed from, which covers their rounding."""
    ceil = math.inf
    if g > 0.0:
        vinf = vr + k * ib / g
        pe = k * max(ie, 0.0) * pse
        pi = k * max(ii, 0.0) * psi_
        bound = max(v, vreset if ref > t0 else v, vinf) + (pe + pi)
        ceil = bound + 1e-10 * (abs(v) + abs(vinf) + abs(vreset) + pe + pi)
        if bound < vth:
            return math.inf, ceil
    if ref > t0:
        ie, ii = decay2(ie, ii, se, si, ref - t0)
        t0 = ref
        v = vreset
    if g > 0.0 and se > 0.0 and se != g and ie > 0.0 and ii <= 0.0:
        # Tighter reject.  Inhibition only lowers V, so V(t) <= F(t) = v_inf
        # + a e^{-g t} + b e^{-s_e t} (the trajectory without I_inh), whose maximum is
        # at F(0), at the zero of F' (closed form) or at v_inf.  Reject only with a
        # rounding margin, so that a true crossing is never dropped.
        vinf = vr + k * ib / g
        b = k * ie / (g - se)
        rej, ceil = peak_reject(g, se, vinf, v, v - vinf - b, b, vth, ceil)
        if rej:
            return math.inf, ceil
    return t0 + first_crossing(g, k, se, si, vr, vth, ib, v, ie, ii), ceil


@njit(cache=True, inline="always")
def coef_reject(g, se, si, vinf, vth, ce, ci, a, be, bi):
    """The rejects of ``cross_general`` for a leaky frame neuron, in the frame's own
    coefficients: (rejected, ceil) for the trajectory V(t0 + s) = v_inf + a e^{-g s} + be
    e^{-se s} + bi e^{-si s} (ms, mV), t0 the test time or, while refractory, the end of
    the refractory period.  ce/ci are k psi_max / k_x (``P_CE``, ``P_CI``): the PSP peak
    per unit of a channel's coefficient; (g - s) times a coefficient is k I, so its sign
    is the current's.  The engine's crossing itself is ``first_crossing_coef``."""
    v0 = vinf + a + be + bi
    pe = max(be * ce, 0.0)
    pi = max(bi * ci, 0.0)
    bound = max(v0, vinf) + (pe + pi)
    ceil = bound + 1e-10 * (abs(v0) + abs(vinf) + pe + pi)
    if bound < vth:
        return True, ceil
    if (g - se) * be > 0.0 and (g - si) * bi <= 0.0:
        # Tighter reject: without its inhibitory part bi (e^{-si s} - e^{-g s}) <= 0 the
        # trajectory is F(s) = v_inf + (a + bi) e^{-g s} + be e^{-se s}, whose maximum is
        # at F(0), at the zero of F' or at v_inf (see cross_general).
        return peak_reject(g, se, vinf, v0, a + bi, be, vth, ceil)
    return False, ceil


@njit(cache=True, inline="always")
def _bound_terms(g, s0, c, s, A, C):
    """Add a channel term c e^{-s x} (mV) to the bound A e^{-g x} + C that holds for x >=
    s0 (see ``crossing_bound``)."""
    if c > 0.0:
        if s0 == 0.0:
            if s >= g:
                A += c
            else:
                C += c
        elif s >= g:
            A += c * fexp(-(s - g) * s0)
        else:
            C += c * fexp(-s * s0)
    return A, C


@njit(cache=True)
def crossing_bound(g, se, si, vinf, vth, a, be, bi, enough):
    """A lower bound (ms, >= 0; inf: there is none) on the time of the first threshold
    crossing of V(s) = v_inf + a e^{-g s} + be e^{-se s} + bi e^{-si s} (mV, g > 0),
    i.e. on the first s >= 0 with V(s) >= vth.  About a tenth of the cost of the
    crossing itself (``first_crossing_coef``): at most three logarithms and six
    exponentials, no iteration to convergence.

    Proof.  Suppose no crossing lies in [0, s0) (true for s0 = 0).  For x >= s0 each
    channel term is bounded by a term of one of two kinds: c e^{-s x} <= 0 if c <= 0;
    c e^{-s x} = c e^{-(s - g) x} e^{-g x} <= c e^{-(s - g) s0} e^{-g x} if c > 0 and s
    >= g; c e^{-s x} <= c e^{-s s0} if c > 0 and s < g.  So V(x) <= U(x) = v_inf + C + A
    e^{-g x} on [s0, inf), with A = a plus the terms of the second kind and C >= 0 the
    sum of the third.  U is monotone: if A >= 0 it decreases, and if U(s0) < vth no
    crossing lies in [s0, inf) (none at all: inf).  If A < 0 it increases toward v_inf +
    C: if v_inf + C <= vth there is no crossing (inf); otherwise U < vth exactly for x <
    x* = ln(-A / (v_inf + C - vth)) / g, so no crossing lies in [s0, x*) and the
    argument repeats from s0 = x*, with terms of the second and third kind now
    smaller (the bound tightens where a fast inhibitory coefficient bi > 0 decays:
    tau_syn < tau_m).  At most three passes are made, fewer once the bound reaches
    ``enough`` (ms; the caller needs no more).

    Rounding.  U is raised by m = 1e-12 (|v_inf| + |vth| + |a| + |be| + |bi|) (its
    asymptote and, where A < 0, A), far above the rounding of its few terms (fexp is
    within 1 ulp), and x* is lowered by a relative 1e-12 for the logarithm's; so the
    computed bound is below the crossing of the exact U, hence of V.
    """
    m = 1e-12 * (abs(vinf) + abs(vth) + abs(a) + abs(be) + abs(bi))
    s0 = 0.0
    for _ in range(3):
        A, C = _bound_terms(g, s0, be, se, a, 0.0)
        A, C = _bound_terms(g, s0, bi, si, A, C)
        top = vinf + C + m - vth        # the asymptote of U above vth
        if A >= 0.0:
            if top + A * fexp(-g * s0) < 0.0:
                return math.inf
            return s0
        if top <= 0.0:
            return math.inf
        na = -A - m
        if na <= top:
            return s0
        x = math.log(na / top) / g * (1.0 - 1e-12)
        if not (s0 < x < math.inf):
            return s0
        s0 = x
        if s0 >= enough:
            break
    return s0


@njit(cache=True, inline="always")
def huge_coef(ke, ki):
    """Frame coefficients below this keep V and the physical currents (coefficient /
    k_x times a factor <= 1) finite; ke/ki are the channels' k_x (0 for delta)."""
    return 1e290 * min(1.0, abs(ke) if ke != 0.0 else 1.0, abs(ki) if ki != 0.0 else 1.0)


@njit(cache=True, inline="always")
def bound_reject(ua, xe, xi, b, refr, vinf, vreset, vth, vth_abs, ce, ci, g, se, si, huge):
    """Is a leaky exp-synapse frame neuron whose trajectory from now on is V(s) = b + ua
    e^{-g s} + xe e^{-se s} + xi e^{-si s} (mV; refractory: ``refr``) certainly unable to
    reach vth?  Returns (rejected, ceiling), the ceiling an upper bound (mV) on V.

    Two of the rejects of ``coef_reject``, as the engine's delivery rows apply them while
    the target's state is in the cache:

    * the quick bound of ``cross_general``, V(s) <= max(V(0), v_inf, v_reset if
      refractory) + k (I_exc^+ psi_max_exc + I_inh^+ psi_max_inh), from the coefficients
      (ce/ci = k psi_max / k_x), with a margin of 1e-10 of the terms' magnitudes;
    * if that fails, outside the refractory period: the peak of the trajectory without
      its inhibitory part (``peak_reject``).

    A non-finite state, or coefficients of ``huge`` or more (whose physical currents only
    the full test checks), is never rejected."""
    v = b + ua + xe + xi
    lo = max(v, vinf)
    if refr:
        lo = max(lo, vreset)
    bnd = lo + max(xe * ce, 0.0) + max(xi * ci, 0.0)
    ceil = bnd + 1e-10 * (abs(ua) + abs(xe) + abs(xi) + vth_abs)
    if not math.isfinite(v):
        return False, ceil
    if ceil < vth:
        return True, ceil
    if (not refr and (g - se) * xe > 0.0 and (g - si) * xi <= 0.0
            and abs(ua) + abs(xe) + abs(xi) < huge):
        return peak_reject(g, se, vinf, v, ua + xi, xe, vth, ceil)
    return False, ceil


@njit(cache=True, inline="always")
def frame_state(g, vinf, c, se, si, ke, ki, tf, t, u, be, bi):
    """(V, I_exc, I_inh) (mV) at time t of a frame neuron with coefficients (u, be, bi)
    and origin tf, ignoring refractoriness (V is the free trajectory's value)."""
    ainv, b = frame_scale(g, vinf, c, tf, t)
    dt = t - tf
    v = b + u / ainv
    ie = 0.0
    ii = 0.0
    if be != 0.0:
        x = be * fexp(-se * dt)
        v += x
        ie = x / ke
    if bi != 0.0:
        x = bi * fexp(-si * dt)
        v += x
        ii = x / ki
    return v, ie, ii


@njit(cache=True, inline="always")
def frame_u_for(g, vinf, c, se, si, tf, t, v, be, bi):
    """The U coefficient (mV) that makes a frame neuron with channel coefficients (be,
    bi) and origin tf have V(t) = v (its currents unchanged)."""
    ainv, b = frame_scale(g, vinf, c, tf, t)
    dt = t - tf
    rest = v - b
    if be != 0.0:
        rest -= be * fexp(-se * dt)
    if bi != 0.0:
        rest -= bi * fexp(-si * dt)
    return rest * ainv
