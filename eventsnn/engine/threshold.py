"""Threshold tests, candidates and spikes.

Simultaneous inputs.  Inputs are applied to a neuron as they are popped, but its
threshold is tested only when simulated time moves past the instant (``test_marked``
over the neurons the deliveries marked), so all inputs that arrive at the same time
are applied first (NEST's rule).

A neuron whose trajectory will reach threshold without further input gets a
*candidate* event at the exact crossing time (``schedule``); later input can move or
cancel it: superseded candidates are dropped when popped (``candidate``).  Leaky
frame neurons with exp channels may instead get a *wake-up*, no later than their
crossing, which is then left unknown until it pops (``lazy_crossing``, below).

The crossing solvers and bounds are the model's (``eventsnn.models``); this module
reads and writes the neuron block (``engine.state``) around them.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..models import (P_C, P_CE, P_CI, P_FRAME, P_G, P_HASEXP, P_IBIAS, P_K, P_KE, P_KI,
                      P_PSIE, P_PSII, P_SE, P_SI, P_THPLUS, P_TREF, P_VINF, P_VREST, P_VRESET,
                      P_VTH, coef_reject, cross_frame, cross_general, crossing_bound,
                      first_crossing_coef, frame_scale, frame_state, frame_u_for, huge_coef,
                      propagate, refractory)
from .deliver import mark, unmark
from .emit import group_of, observe_spike, record_spike, schedule, wake
from .fexp import exp as fexp
from .state import (C_ADV, C_SPIKES, C_STALE, C_THRESH, COL_CT, COL_IE, COL_II, COL_REF,
                    COL_TGT, COL_TL, COL_V)

# what test_marked leaves to its caller
F_DONE, F_SPIKE, F_SCHEDULE, F_NONFINITE, F_WAKE = (np.int64(k) for k in range(5))

# Lazy crossings (leaky frame neurons with exp channels).  A test there first computes
# a cheap lower bound L on the next crossing (``models.crossing_bound``) and searches
# for the crossing itself only when L is near; otherwise it leaves a *wake-up* in the
# queue at a time no later than L and marks the crossing unknown (COL_TGT = nan).
# Invariant: a neuron whose crossing is unknown has a live queue entry at COL_CT, no
# later than its next crossing.  An inhibitory input keeps it (it only delays the
# crossing), so it needs no test; an excitatory one is tested and keeps the entry if its
# new bound is still no earlier.  When the wake-up pops, the neuron is tested again from
# its state then.  The search is the same exact one; only when it is done changes.
#: a bound nearer than NEAR * tau_m is searched at once (a wake-up would be due soon)
NEAR = 0.05
#: a wake-up goes at this fraction of the way to the bound, so that the excitatory
#: inputs that follow leave it in place while their bounds stay beyond it
WAKE_AT = 0.5


@njit(cache=True, inline="always")
def vth_of(P, p, N, n):
    """Threshold (mV) of neuron n of population p (adaptive offset where enabled)."""
    if N.adapt[p] != 0:
        return P[p, P_VTH] + N.theta[n]
    return P[p, P_VTH]


@njit(cache=True)
def frame_state_of(P, p, n, t, N):
    """(V, I_exc, I_inh) of frame neuron n at time t from its coefficients, ignoring
    refractoriness (``models.frame_state``)."""
    ST = N.block
    return frame_state(P[p, P_G], P[p, P_VINF], P[p, P_C], P[p, P_SE], P[p, P_SI], P[p, P_KE],
                       P[p, P_KI], N.tf[p], t, ST[n, COL_V], ST[n, COL_IE], ST[n, COL_II])


@njit(cache=True)
def state_at(P, p, n, ST, t):
    """(V, I_exc, I_inh) of a general neuron at time t >= its last update, unchanged."""
    return propagate(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VREST], P[p, P_VRESET],
                     P[p, P_IBIAS], ST[n, COL_V], ST[n, COL_IE], ST[n, COL_II], ST[n, COL_TL],
                     ST[n, COL_REF], t)


@njit(cache=True, inline="always")
def _test_frame_exp(P, p, n, t, ST, vth, b, af, ee, ei, huge, tf):
    """The test of frame neuron n with exp channels at time t: (F_SPIKE, inf),
    (F_NONFINITE, inf), or, if it does not fire now, what ``lazy_crossing`` (leaky) or
    the general search (non-leaky, or a state too large for the frame) decides: its next
    crossing tc with F_SCHEDULE if it is earlier than its queued candidate, a wake-up
    with F_WAKE, else F_DONE.  b, af = e^{-g (t - tf)}, ee/ei = e^{-s (t - tf)} and huge
    (``models.huge_coef``) are the population's at t."""
    u = ST[n, COL_V]
    be = ST[n, COL_IE]
    bi = ST[n, COL_II]
    xe = be * ee
    xi = bi * ei
    ua = u * af
    v = b + ua + xe + xi
    sane = abs(ua) + abs(xe) + abs(xi) < huge
    ie = 0.0
    ii = 0.0
    if not sane:
        # the coefficients are scaled by k/(g - s): check the physical state too
        ie = xe / P[p, P_KE] if xe != 0.0 else 0.0
        ii = xi / P[p, P_KI] if xi != 0.0 else 0.0
    if not sane and not (math.isfinite(v) and math.isfinite(ie) and math.isfinite(ii)):
        return F_NONFINITE, math.inf
    if (v >= vth or ST[n, COL_TGT] == -math.inf) and not refractory(t, ST[n, COL_REF]):
        return F_SPIKE, math.inf
    g = P[p, P_G]
    if sane and g > 0.0:
        t0 = t
        if refractory(t, ST[n, COL_REF]):
            # the coefficients at the end of the refractory period
            t0 = ST[n, COL_REF]
            dt = t0 - tf
            ua = u * fexp(-g * dt)
            xe = be * fexp(-P[p, P_SE] * dt) if xe != 0.0 else 0.0
            xi = bi * fexp(-P[p, P_SI] * dt) if xi != 0.0 else 0.0
        return lazy_crossing(P, p, n, t, t0, ST, vth, ua, xe, xi)
    ie = xe / P[p, P_KE] if xe != 0.0 else 0.0
    ii = xi / P[p, P_KI] if xi != 0.0 else 0.0
    tc, ST[n, COL_TL] = cross_general(g, P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VREST], vth,
                                      P[p, P_VRESET], P[p, P_IBIAS], P[p, P_PSIE], P[p, P_PSII],
                                      v, ie, ii, t, ST[n, COL_REF])
    ST[n, COL_TGT] = tc
    return (F_SCHEDULE if tc < ST[n, COL_CT] else F_DONE), tc


@njit(cache=True, inline="always")
def _crossing_after(g, se, si, vinf, vth, ua, xe, xi, t0, lb):
    """The first crossing (ms) of V(t0 + s) = v_inf + ua e^{-g s} + xe e^{-se s} + xi
    e^{-si s}, searched from lb >= t0, before which there is none (a lower bound).

    Starting there is cheaper than from t0, not less exact: near the crossing the
    trajectory usually rises toward it with h >= 0 (see ``models._crossing``), where
    Newton's iteration needs no isolation of h's zeros, while from t0 an inhibitory
    current first makes h negative.  If V(lb) already rounds to vth or above, lb (within
    the bound's margin of the crossing) is the crossing."""
    x = lb - t0
    if not x > 0.0:
        return t0 + first_crossing_coef(vinf - vth, ua, g, xe, se, xi, si)
    a = ua * fexp(-g * x)
    be = xe * fexp(-se * x) if xe != 0.0 else 0.0
    bi = xi * fexp(-si * x) if xi != 0.0 else 0.0
    if (vinf - vth) + a + be + bi >= 0.0:
        return lb
    return lb + first_crossing_coef(vinf - vth, a, g, be, se, bi, si)


@njit(cache=True, inline="always")
def lazy_crossing(P, p, n, t, t0, ST, vth, ua, xe, xi):
    """The test of a leaky frame neuron n with exp channels at time t whose trajectory
    from t0 >= t on (t0 > t: the end of its refractory period) is V(t0 + s) = v_inf + ua
    e^{-g s} + xe e^{-se s} + xi e^{-si s}, once it is known not to fire at t.

    Returns F_DONE (its queue entry stays: no crossing, or one no earlier than the
    entry), F_WAKE with a wake-up time, or F_SCHEDULE with the exact crossing (see
    ``NEAR`` above); sets the crossing (COL_TGT: exact, inf, or nan for unknown) and the
    ceiling (COL_TL) with ``models.coef_reject``."""
    g = P[p, P_G]
    se = P[p, P_SE]
    si = P[p, P_SI]
    vinf = P[p, P_VINF]
    rej = False
    if vinf <= vth:
        # (a neuron whose trajectory tends to v_inf > vth has no ceiling below vth and
        # is never rejected; its population uses no ceilings: test_mode)
        rej, ST[n, COL_TL] = coef_reject(g, se, si, vinf, vth, P[p, P_CE], P[p, P_CI], ua, xe, xi)
    ct = ST[n, COL_CT]
    if not rej:
        lb = t0 + crossing_bound(g, se, si, vinf, vth, ua, xe, xi, ct - t0)
        if lb < math.inf:
            if lb >= ct:
                ST[n, COL_TGT] = math.nan
                return F_DONE, math.inf
            w = t0 + WAKE_AT * (lb - t0)
            if lb - t >= NEAR / g and t < w < ct:
                ST[n, COL_TGT] = math.nan
                return F_WAKE, w
            tc = _crossing_after(g, se, si, vinf, vth, ua, xe, xi, t0, lb)
            ST[n, COL_TGT] = tc
            return (F_SCHEDULE if tc < ct else F_DONE), tc
    ST[n, COL_TGT] = math.inf
    return F_DONE, math.inf


@njit(cache=True, _nrt=False)
def test_marked(P, pop_off, t, SC, j0, ndirty, N, cnt, xc):
    """Threshold tests of the marked neurons dirty[j0:ndirty] at time t, up to the first
    one that must fire, must queue an earlier candidate or has a non-finite state.

    Returns (j, action, tc): that neuron's index in ``dirty`` with F_SPIKE,
    F_SCHEDULE (at tc ms) or F_NONFINITE, which the caller carries out, or (ndirty,
    F_DONE, inf).  Neurons before j are done (unmarked, crossing time updated).
    ``xc`` is None for networks of delta-synapse frame populations only (the exp and
    general tests are then not compiled).
    """
    ST = N.block
    dirty = SC.dirty
    isdirty = SC.isdirty
    pcache = -1
    ainv = 1.0
    af = 1.0
    b = 0.0
    ee = 1.0
    ei = 1.0
    huge = 0.0
    # population of the previous neuron and its id range: runs of marked neurons come
    # from one row, i.e. one population
    p = np.int64(0)
    lo = 0
    hi = 0
    for j in range(j0, ndirty):
        n = dirty[j]
        unmark(n, isdirty)
        if n < lo or n >= hi:
            p = group_of(n, pop_off)
            lo = pop_off[p]
            hi = pop_off[p + 1]
        vth = vth_of(P, p, N, n)
        act = F_DONE
        tc = math.inf
        if P[p, P_FRAME] != 0.0:
            tf = N.tf[p]
            if p != pcache:
                ainv, b = frame_scale(P[p, P_G], P[p, P_VINF], P[p, P_C], tf, t)
                af = 1.0 / ainv
                dtf = t - tf
                ee = fexp(-P[p, P_SE] * dtf)
                ei = fexp(-P[p, P_SI] * dtf)
                # coefficients below this keep V and the currents (coefficient / k_x)
                # finite; only a larger state needs the full check
                huge = huge_coef(P[p, P_KE], P[p, P_KI])
                pcache = p
            u = ST[n, COL_V]
            be = ST[n, COL_IE]
            bi = ST[n, COL_II]
            if not (math.isfinite(u) and math.isfinite(be) and math.isfinite(bi)):
                act = F_NONFINITE
            elif xc is not None and P[p, P_HASEXP] != 0.0:
                act, tc = _test_frame_exp(P, p, n, t, ST, vth, b, af, ee, ei, huge, tf)
            elif u >= (vth - b) * ainv or ST[n, COL_TGT] == -math.inf:
                act = F_SPIKE
            elif P[p, P_C] != 0.0:
                tc = cross_frame(P[p, P_G], P[p, P_VINF], P[p, P_C], vth, u, tf, ST[n, COL_REF])
                ST[n, COL_TGT] = tc
                if tc < ST[n, COL_CT]:
                    act = F_SCHEDULE
        elif xc is not None:
            v = ST[n, COL_V]
            ie = ST[n, COL_IE]
            ii = ST[n, COL_II]
            if not (math.isfinite(v) and math.isfinite(ie) and math.isfinite(ii)):
                act = F_NONFINITE
            elif (v >= vth or ST[n, COL_TGT] == -math.inf) and not refractory(t, ST[n, COL_REF]):
                act = F_SPIKE
            else:
                tc, _ = cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VREST],
                                      vth, P[p, P_VRESET], P[p, P_IBIAS], P[p, P_PSIE], P[p, P_PSII],
                                      v, ie, ii, ST[n, COL_TL], ST[n, COL_REF])
                ST[n, COL_TGT] = tc
                if tc < ST[n, COL_CT]:
                    act = F_SCHEDULE
        if act != F_DONE:
            cnt[C_THRESH] += j + 1 - j0
            return j, act, tc
    cnt[C_THRESH] += ndirty - j0
    return ndirty, F_DONE, math.inf


@njit(cache=True, _nrt=False)
def spike(P, p, n, t, N, G, Q, SP, EB, RC, cnt, xc):
    """Neuron n of population p fires at t (ms): reset, refractory, record, emit, next
    candidate.  The caller has made room for ``Consts.pmax`` queue events and one spike
    (in the record ``SP`` and the emission window ``EB``).
    ``xc`` is None for networks of delta-synapse frame populations only."""
    ST = N.block
    tr = t + P[p, P_TREF]
    ST[n, COL_REF] = tr
    if N.adapt[p] != 0:
        N.theta[n] += P[p, P_THPLUS]
    vth = vth_of(P, p, N, n)
    # the reset in the block's frame (V - voff for neurons with their own bias; those
    # have no refractory period, so no other use of v_reset needs the shift)
    vreset = P[p, P_VRESET] - N.voff[n] if N.adapt[p] == 2 else P[p, P_VRESET]
    cnt[C_SPIKES] += 1
    observe_spike(SP, RC, p, n, t)
    tf = N.tf[p]
    act = F_SCHEDULE            # schedule(tc) below, unless lazy_crossing decides
    if P[p, P_FRAME] != 0.0:
        # V(t_r) = v_reset when the refractory period ends
        ST[n, COL_V] = frame_u_for(P[p, P_G], P[p, P_VINF], P[p, P_C], P[p, P_SE], P[p, P_SI], tf,
                                   tr, vreset, ST[n, COL_IE], ST[n, COL_II])
        if P[p, P_HASEXP] == 0.0:
            tc = cross_frame(P[p, P_G], P[p, P_VINF], P[p, P_C], vth, ST[n, COL_V], tf, tr)
        elif xc is None:
            tc = math.inf       # (no exp channel in such a network)
        elif P[p, P_G] > 0.0:
            # the coefficients at t_r, where V = v_reset
            g = P[p, P_G]
            dt = tr - tf
            be = ST[n, COL_IE] * fexp(-P[p, P_SE] * dt) if ST[n, COL_IE] != 0.0 else 0.0
            bi = ST[n, COL_II] * fexp(-P[p, P_SI] * dt) if ST[n, COL_II] != 0.0 else 0.0
            act, tc = lazy_crossing(P, p, n, t, tr, ST, vth, ST[n, COL_V] * fexp(-g * dt), be, bi)
        else:
            v, ie, ii = frame_state_of(P, p, n, t, N)
            tc, ST[n, COL_TL] = cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI],
                                              P[p, P_VREST], vth, vreset, P[p, P_IBIAS],
                                              P[p, P_PSIE], P[p, P_PSII], v, ie, ii, t, tr)
    elif xc is None:
        tc = math.inf           # (no general population in such a network)
    else:
        ST[n, COL_V] = vreset
        ST[n, COL_TL] = t
        tc, _ = cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VREST], vth,
                              vreset, P[p, P_IBIAS], P[p, P_PSIE], P[p, P_PSII],
                              ST[n, COL_V], ST[n, COL_IE], ST[n, COL_II], t, tr)
    if G.grp_buffer[p] != 0:
        # queued when its emission window closes (emit.emit_window)
        record_spike(EB, n, t)
    # (lazy_crossing's F_DONE has set the crossing and keeps the queued entry)
    if act == F_WAKE:
        wake(n, tc, ST, N.cseq, Q, cnt)
    elif act == F_SCHEDULE:
        schedule(n, tc, ST, N.cseq, Q, cnt)


@njit(cache=True, _nrt=False)
def candidate(n, seq, t, P, pop_off, N, Q, cnt, SC, ndirty, xc):
    """A candidate event of neuron n (queue sequence ``seq``) pops at t; returns the new
    number of marked neurons."""
    ST = N.block
    if seq != N.cseq[n]:
        cnt[C_STALE] += 1
        return ndirty
    ST[n, COL_CT] = math.inf
    N.cseq[n] = -1
    if math.isnan(ST[n, COL_TGT]):
        # a wake-up (``lazy_crossing``): test the neuron from its state at the end of
        # the instant
        return mark(n, SC.dirty, ndirty, SC.isdirty)
    if ST[n, COL_TGT] != t:
        # the trajectory changed since this entry was queued: crossing is later
        if ST[n, COL_TGT] < math.inf:
            schedule(n, ST[n, COL_TGT], ST, N.cseq, Q, cnt)
        return ndirty
    p = group_of(n, pop_off)
    if xc is not None and P[p, P_FRAME] == 0.0:
        v, ie, ii = state_at(P, p, n, ST, t)
        ST[n, COL_V] = v
        ST[n, COL_IE] = ie
        ST[n, COL_II] = ii
        ST[n, COL_TL] = t
        cnt[C_ADV] += 1
    nd = mark(n, SC.dirty, ndirty, SC.isdirty)
    if nd > ndirty:
        # The trajectory reaches v_th exactly now; V recomputed at t may round just
        # below it, so the crossing is marked as forced (TGT = -inf) for the threshold
        # test of this instant.  An inhibitory input at the same instant clears the
        # mark and the test decides on V.
        ST[n, COL_TGT] = -math.inf
        ndirty = nd
    # else: inputs of this instant were applied first; the test decides on V (if
    # rounding leaves V a hair below v_th, the crossing is re-found at once)
    return ndirty


@njit(cache=True)
def init_candidates(P, pop_off, own, N, Q, cnt, xc):
    """Queue the spontaneous (bias-driven) crossing of every neuron that has one (of the
    neurons this process simulates: ``Pops.own``)."""
    ST = N.block
    for n in range(pop_off[pop_off.shape[0] - 1]):
        p = group_of(n, pop_off)
        if n < own[p, 0] or n >= own[p, 1]:
            continue
        vth = vth_of(P, p, N, n)
        if P[p, P_FRAME] != 0.0:
            ST[n, COL_TL] = math.inf
            if P[p, P_HASEXP] == 0.0:
                tc = cross_frame(P[p, P_G], P[p, P_VINF], P[p, P_C], vth, ST[n, COL_V], N.tf[p],
                                 ST[n, COL_REF])
            elif xc is not None:
                v, ie, ii = frame_state_of(P, p, n, 0.0, N)
                tc, ST[n, COL_TL] = cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI],
                                                  P[p, P_VREST], vth, P[p, P_VRESET],
                                                  P[p, P_IBIAS], P[p, P_PSIE], P[p, P_PSII], v,
                                                  ie, ii, 0.0, ST[n, COL_REF])
            else:
                tc = math.inf
        elif xc is not None:
            tc, _ = cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VREST], vth,
                                  P[p, P_VRESET], P[p, P_IBIAS], P[p, P_PSIE], P[p, P_PSII],
                                  ST[n, COL_V], ST[n, COL_IE], ST[n, COL_II], ST[n, COL_TL],
                                  ST[n, COL_REF])
        else:
            tc = math.inf
        schedule(n, tc, ST, N.cseq, Q, cnt)


@njit(cache=True)
def reschedule(P, pop_off, N, Q, cnt, n0, n1, t):
    """The thresholds of neurons n0..n1 changed at time t (between runs): find each
    one's next crossing from its exact state at t.  A neuron already at or above its
    new threshold (and not refractory) fires at t."""
    ST = N.block
    for n in range(n0, n1):
        p = group_of(n, pop_off)
        vth = vth_of(P, p, N, n)
        frame = P[p, P_FRAME] != 0.0
        if frame:
            v, ie, ii = frame_state_of(P, p, n, t, N)
            ST[n, COL_TL] = math.inf
        else:
            v, ie, ii = state_at(P, p, n, ST, t)
        if v >= vth and not refractory(t, ST[n, COL_REF]):
            tc = t
        elif frame and P[p, P_HASEXP] == 0.0:
            tc = cross_frame(P[p, P_G], P[p, P_VINF], P[p, P_C], vth, ST[n, COL_V], N.tf[p],
                             ST[n, COL_REF])
        else:
            tc, ceil = cross_general(P[p, P_G], P[p, P_K], P[p, P_SE], P[p, P_SI], P[p, P_VREST],
                                     vth, P[p, P_VRESET], P[p, P_IBIAS], P[p, P_PSIE], P[p, P_PSII],
                                     v, ie, ii, t, ST[n, COL_REF])
            if frame:
                ST[n, COL_TL] = ceil
        schedule(n, tc, ST, N.cseq, Q, cnt)
