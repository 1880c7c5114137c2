"""Delivery: one row of a projection applied to its targets at time t, for each state
representation, and the threshold tests it leaves for the end of the instant.

A row is entries j0..j1 of a projection (:class:`Row`): targets ``off + idx[j]`` and
weights ``w[j & wm]`` (wm = 0 for one weight shared by the whole projection), read
through raw addresses (``engine.hints``) so that the kernels take no array of arrays.
A delivered target that may now reach threshold is *marked* (``mark``) for the test at
the end of the instant (``engine.threshold``); the mode of a projection says which
targets need it (``test_mode``).

One kernel per representation: ``frame_targets`` (frame populations, with their lazy
Poisson drive applied first; its general body is ``frame_targets_general``) and
``general_targets``.  Specialised copies, each kept because an interleaved A/B showed
what it buys (benchmarks/RESULTS.md), each compared with the general kernel by
tests/test_deliver.py:

* ``delta_targets``: delta channels, at most one drive, no adaptive threshold
  (Brunel's case): the general kernel makes Brunel 30-35 % slower;
* ``undriven_targets``: no drive; it takes only the arrays it reads and adds the
  bound modes that skip most threshold tests: the general kernel makes the 10^6-neuron
  case 1.9x slower;
* ``exc_targets``: ``undriven_targets``' bound loop for excitatory rows into exp
  channels, without its per-target branches: 6-15 % on the 10^6-neuron case.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ..models import (P_C, P_DE, P_DI, P_G, P_HASEXP, P_IBIAS, P_K, P_KE, P_KI,
                      P_PSIE, P_PSII, P_SE, P_SI, P_SPONT, P_VINF, P_VREST, P_VRESET,
                      P_VTH, bound_reject, frame_scale, huge_coef, propagate, refractory)
from .fexp import exp as fexp
from .hints import load_float64, load_int32, prefetch, prefetch_addr, prefetch_l2
from .queue import lane_slot
from .rng import exp_step
from .state import (C_ADV, C_DISCARD, C_DRIVE, C_THRESH, COL_IE, COL_II, COL_REF, COL_TGT,
                    COL_TL, COL_V)

_ZERO = np.int64(0)

# Threshold-test modes of a projection's rows (``test_mode``), np.int64 so that Numba
# does not compile a copy of a kernel per literal value
SWEEP_ONLY, TEST_LATER, TEST_NOW, TEST_NONE, TEST_PENDING, TEST_BOUND, TEST_BOUND_EXC = \
    (np.int64(k) for k in range(7))

# populations with more neurons than this get their next row's target lines
# prefetched while the current row is delivered: their state (64 bytes per neuron) no
# longer fits a core's L2 cache
PREFETCH_POP = 1 << 15


class Row(NamedTuple):
    """Entries j0..j1 of a projection's CSR: targets ``off + idx[j]`` and weights
    ``w[j & wm]`` of the arrays whose data start at addresses ``ia`` and ``wa``."""

    j0: int
    j1: int
    off: int
    ia: int
    wa: int
    wm: int


def test_mode(P, p, sign, undriven):
    """The threshold-test mode of rows of weights of sign ``sign`` (+1 all >= 0, -1 all
    < 0, 0 mixed) into population p (``undriven``: no drive, no adaptive threshold):

    TEST_LATER: mark every target for the test at the end of the instant;
    TEST_NOW: mark only targets that reach threshold (all weights >= 0, no bias drift,
    no exp channel: a target at threshold at the end of the instant was at threshold
    right after the last excitatory row that reached it, which marked it);
    TEST_NONE: no test (all weights < 0 and the population cannot fire without input);
    TEST_PENDING: (all weights < 0) mark only targets with a pending crossing
    (inhibition only lowers a trajectory, so one that never reaches threshold still
    never does, while a pending crossing may move or vanish);
    TEST_BOUND (leaky undriven exp populations): mark targets with a pending crossing
    and those whose ceiling and ``bound_reject`` cannot show to stay under threshold;
    TEST_BOUND_EXC the same for rows of weights >= 0 into an exp excitatory channel."""
    mode = TEST_LATER
    if P[p, P_SPONT] == 0.0 and P[p, P_C] == 0.0 and P[p, P_HASEXP] == 0.0:
        if sign < 0:
            mode = TEST_NONE
        elif sign > 0:
            mode = TEST_NOW
    elif sign < 0:
        mode = TEST_PENDING
    if mode == TEST_LATER and undriven and P[p, P_HASEXP] != 0.0 and P[p, P_G] > 0.0 \
            and P[p, P_SPONT] == 0.0:
        mode = TEST_BOUND
        if sign > 0 and P[p, P_KE] != 0.0:
            mode = TEST_BOUND_EXC
    return mode


# ------------------------------------------------------------------------ marking
@njit(cache=True, inline="always")
def mark(n, dirty, ndirty, isdirty):
    """Put neuron n on the list of this instant's threshold tests (once).  ``isdirty`` is
    a bitmap, one bit per neuron: 125 kB for 10^6 neurons stays in the L2 cache, where
    a byte per neuron would not (a marked target then waited for a memory access)."""
    nu = np.uint64(n)
    w = nu >> np.uint64(6)
    bit = np.uint64(1) << (nu & np.uint64(63))
    x = isdirty[w]
    if (x & bit) == 0:
        isdirty[w] = x | bit
        dirty[np.uint64(ndirty)] = n
        ndirty += 1
    return ndirty


@njit(cache=True, inline="always")
def unmark(n, isdirty):
    """Clear neuron n's bit in the dirty bitmap (see ``mark``)."""
    nu = np.uint64(n)
    w = nu >> np.uint64(6)
    isdirty[w] &= ~(np.uint64(1) << (nu & np.uint64(63)))


# ---------------------------------------------------------------------- prefetching
@njit(cache=True, inline="always")
def _prefetch_targets(ST, isdirty, j0, j1, off, ia, wa, wm):
    """Prefetch the state lines and dirty-bitmap words of the targets of row entries
    j0..j1 (targets and weights at addresses ia and wa), and the weights' lines unless
    they are shared (wm == 0)."""
    for j in range(j0, j1):
        n = off + load_int32(ia, j)
        prefetch(ST, n)
        prefetch(isdirty, n >> 6)
    if wm != 0:
        for j in range(j0, j1 + 7, 8):
            prefetch_addr(wa + 8 * j)


@njit(cache=True, _nrt=False)
def prefetch_row(ST, isdirty, row, targets):
    """Start loading the first lines of a row (its targets and weights) or, with
    ``targets``, the state lines of its first 256 targets.  A prefetch never changes
    results, only timing."""
    j0, j1, off, ia, wa, wm = row
    if targets:
        _prefetch_targets(ST, isdirty, j0, min(j1, j0 + 256), off, ia, wa, wm)
    else:
        prefetch_addr(ia + 4 * j0)
        prefetch_addr(ia + 4 * j0 + 64)
        prefetch_addr(wa + 8 * (j0 & wm))
        prefetch_addr(wa + 8 * (j0 & wm) + 64)


# how far ahead in its lane an event's row pointers and its rows' targets and weights
# are loaded (events); its targets' state lines are loaded when it is next in the lane
_PF_ROWPTR = 6
_PF_ROWS = 3


@njit(cache=True, _nrt=False)
def lane_prefetch(Q, q, G, B, ST):
    """Load ahead what lane q's next events will touch, after its head was popped: the
    row pointers of the event _PF_ROWPTR places ahead, the targets and weights of the
    one _PF_ROWS ahead, and the state lines of the targets of the next one.  Each event
    passes through the three stages as the lane advances, so when it is delivered its
    rows and target states are in cache: the memory latency of a network far larger
    than the cache overlaps the delivery of earlier rows instead of adding to it.  (Only
    for lanes into large populations; a prefetch never changes results.)"""
    nl = G.lane_delay.shape[0]
    h = Q.lane_head[q]
    tl = Q.lane_tail[q]
    for stage in range(3):
        if stage == 0:
            i = h + _PF_ROWPTR
        elif stage == 1:
            i = h + _PF_ROWS
        else:
            i = h
        if i >= tl:
            continue
        a = Q.lane_a[lane_slot(Q, q, i)]
        gl = (a >> 32) * nl + q
        row = a & 0xFFFFFFFF
        for k in range(G.grp_lane_ptr[gl], G.grp_lane_ptr[gl + 1]):
            pr = G.grp_lane_proj[k]
            ir = G.row_ptr_off[pr] + row
            if stage == 0:
                prefetch_l2(G.row_ptr, ir)
                if G.row_cnt.shape[0] != 0:
                    prefetch_l2(G.row_cnt, ir)     # (a partitioned run's row counts)
                continue
            j0 = G.row_ptr[ir]
            j1 = G.row_ptr[ir + 1]
            ia = B.idx_addr[pr]
            if stage == 1:
                for j in range(j0, j1 + 15, 16):
                    prefetch_addr(ia + 4 * j)
                if B.w_mask[pr] != 0:      # (a shared weight is one value)
                    wa = B.w_addr[pr]
                    for j in range(j0, j1 + 7, 8):
                        prefetch_addr(wa + 8 * j)
            else:
                # (into L2, for reading: see hints.prefetch_l2)
                off = G.proj_post_off[pr]
                for j in range(j0, j1):
                    prefetch_l2(ST, off + load_int32(ia, j))


# -------------------------------------------------------------------- frame inputs
@njit(cache=True, inline="always")
def _frame_input(ST, n, wj, t, ke, ki, se, si, fe, fi, g, ainv, tf):
    """Apply an input of weight wj at time t to frame neuron n; False if it was
    discarded (a delta channel while refractory).

    ke/ki: channel coefficients (0 for a delta channel); fe/fi: e^{s (t - tf)} of the
    exp channels; ainv: the frame factor e^{g (t - tf)} (1/a of ``frame_scale``)."""
    kx = ke if wj >= 0.0 else ki
    if wj < 0.0 and ST[n, COL_TGT] == -math.inf:
        ST[n, COL_TGT] = math.inf  # a forced crossing is undone by inhibition at the same instant
    if kx == 0.0:
        # delta channel: V jumps, unless refractory
        if refractory(t, ST[n, COL_REF]):
            return False
        ST[n, COL_V] += wj * ainv
    else:
        # exp channel: the current jumps by w (its coefficient by db); V stays
        # continuous, or, while refractory, keeps V(t_r) = v_reset at the end
        if wj >= 0.0:
            db = kx * wj * fe
            ST[n, COL_IE] += db
            sx = se
        else:
            db = kx * wj * fi
            ST[n, COL_II] += db
            sx = si
        if refractory(t, ST[n, COL_REF]):
            ST[n, COL_V] -= db * fexp((g - sx) * (ST[n, COL_REF] - tf))
        else:
            ST[n, COL_V] -= kx * wj * ainv
    return True


@njit(cache=True, inline="always")
def _wants_test(mode, u, tgt, thr):
    """Does a frame neuron with coefficient u and target crossing tgt need the threshold
    test of this instant, under delivery mode ``mode``?  thr is the threshold in frame
    units; a non-finite u is always tested."""
    if mode == TEST_NOW:
        return not (u < thr)
    if mode == TEST_LATER or not math.isfinite(u):
        return True
    return mode == TEST_PENDING and tgt < math.inf


@njit(cache=True, inline="always")
def _below(ST, n, t, a, b, ee, ei, ce, ci, vinf, vreset, vth, vth_abs, g, se, si, huge):
    """``models.bound_reject`` for frame neuron n at time t, whose state line is in the
    cache now (a = e^{-g (t - tf)}, ee/ei = e^{-s (t - tf)}).

    The test at the end of the instant computes the same bounds with a different
    rounding (a division by 1/a) and after the other inputs of the instant.  Those only
    lower them or change them by rounding: an inhibitory input lowers V and, outside the
    refractory period, moves its coefficient from the inhibitory term to the e^{-g s}
    one, leaving the peak bound's trajectory as it was; an excitatory input tests again.
    So a neuron this rejects is one that test would find no crossing for, which is why
    skipping it changes no spike (3.8 of 4.8 million threshold tests per 200 ms of the
    10^6-neuron case are rejected here)."""
    return bound_reject(ST[n, COL_V] * a, ST[n, COL_IE] * ee, ST[n, COL_II] * ei, b,
                        refractory(t, ST[n, COL_REF]), vinf, vreset, vth, vth_abs, ce, ci, g,
                        se, si, huge)


@njit(cache=True, inline="always")
def _frame_consts(P, p, t, tf):
    """Population p's constants of an input at time t to its frame (origin tf): g, v_inf,
    c, v_th, the frame factor 1/a and offset b (``frame_scale``), the channels' k_x and
    rates, and their factors e^{s (t - tf)} (0 for a delta channel)."""
    g = P[p, P_G]
    vinf = P[p, P_VINF]
    c = P[p, P_C]
    vth = P[p, P_VTH]
    ainv, b = frame_scale(g, vinf, c, tf, t)
    ke = P[p, P_KE]
    ki = P[p, P_KI]
    se = P[p, P_SE]
    si = P[p, P_SI]
    fe = fexp(se * (t - tf)) if ke != 0.0 else 0.0
    fi = fexp(si * (t - tf)) if ki != 0.0 else 0.0
    return g, vinf, c, vth, ainv, b, ke, ki, se, si, fe, fi


# ----------------------------------------------------------------- frame kernels
@njit(cache=True, _nrt=False)
def delta_targets(P, p, t, row, mode, ndirty, SC, ST, tf, poff, DR, DS, cnt):
    """``frame_targets`` for a frame population whose two channels are delta and which
    has at most one external drive stream and no adaptive threshold (Brunel's case),
    with the same arithmetic in the same order, so results are bitwise those of
    ``frame_targets``; returns what it returns.

    Why a separate loop: the general one scans the drive streams per target and
    branches per target on the channel kind; here the drive is one load and one
    compare per target.  (Measured: a two-pass variant, which first applies the
    inputs of targets with no pending drive arrival and no refractoriness without
    branches and then handles the rest in row order, was slower.)
    """
    j0, j1, off, ia, wa, wm = row
    dirty = SC.dirty
    isdirty = SC.isdirty
    drv_next = DS.next
    drv_rng = DS.rng
    g = P[p, P_G]
    vinf = P[p, P_VINF]
    c = P[p, P_C]
    vth = P[p, P_VTH]
    ainv, b = frame_scale(g, vinf, c, tf, t)
    thr = (vth - b) * ainv
    d0 = DR.pop_drv_ptr[p]
    driven = DR.pop_drv_ptr[p + 1] > d0
    # the stream of neuron n is base[d0] + n - poff (poff: the population's first id)
    kb = DR.base[d0] - poff if driven else 0
    # the mean gap: a multiply on the chain of arrival times instead of a divide (the
    # same expression as in next_exponential and the clock engine, so streams agree)
    inv_rate = 1.0 / DR.rate[d0] if driven else 1.0
    wd = DR.w[d0] if driven else 0.0
    is_mark = mode != SWEEP_ONLY
    ndrive = 0
    ndisc = 0
    nadv = 0
    nthr = 0
    j_stop = j1
    n_spk = _ZERO
    t_spk = math.inf
    for j in range(j0, j1):
        # unsigned indices: Numba then drops its negative-index wrap-around code
        n = off + load_int32(ia, j) if is_mark else j
        nu = np.uint64(n)
        if driven:
            # external Poisson arrivals of n up to t, in time order
            k = np.uint64(kb + n)
            tb = drv_next[k]
            crossed = False
            while tb <= t:
                st, e = exp_step(drv_rng[k])
                drv_rng[k] = st
                tn = tb + e * inv_rate
                drv_next[k] = tn
                ndrive += 1
                if refractory(tb, ST[nu, COL_REF]):
                    ndisc += 1
                else:
                    ab, bb = frame_scale(g, vinf, c, tf, tb)
                    ST[nu, COL_V] += wd * ab
                    nadv += 1
                    nthr += 1
                    if ST[nu, COL_V] >= (vth - bb) * ab:
                        crossed = True
                        break
                tb = tn
            if crossed:
                # the caller fires n at tb and calls again from this target
                j_stop = j
                n_spk = np.int64(n)
                t_spk = tb
                break
        if not is_mark:
            continue
        wj = load_float64(wa, j & wm)
        if wj < 0.0 and ST[nu, COL_TGT] == -math.inf:
            ST[nu, COL_TGT] = math.inf  # a forced crossing is undone by inhibition at the same instant
        if refractory(t, ST[nu, COL_REF]):
            ndisc += 1
            continue
        ST[nu, COL_V] += wj * ainv
        if mode == TEST_NOW:
            nthr += 1
        if _wants_test(mode, ST[nu, COL_V], ST[nu, COL_TGT], thr):
            ndirty = mark(n, dirty, ndirty, isdirty)
    if is_mark:
        cnt[C_ADV] += j_stop - j0 + nadv
    else:
        cnt[C_ADV] += nadv
    cnt[C_DRIVE] += ndrive
    cnt[C_DISCARD] += ndisc
    cnt[C_THRESH] += nthr
    return ndirty, j_stop, n_spk, t_spk


@njit(cache=True, _nrt=False)
def exc_targets(P, p, t, row, ndirty, SC, ST, tf, cnt):
    """``undriven_targets`` in mode TEST_BOUND_EXC: a row of weights >= 0 into the exp
    excitatory channel of a leaky undriven frame population, with the same arithmetic
    (so the same results), in a loop without the branches the other modes need.

    A target whose ceiling stays below v_th is skipped without looking at its pending
    crossing: every test that finds a crossing leaves a ceiling >= v_th (a bound on V
    is at least the crossing's v_th), and the ceiling only grows until the next test.
    Nor can its state be huge (see ``undriven_targets``): an excitatory input raises
    the ceiling with its weight, and inhibitory rows test huge states themselves."""
    j0, j1, off, ia, wa, wm = row
    dirty = SC.dirty
    isdirty = SC.isdirty
    g = P[p, P_G]
    vth = P[p, P_VTH]
    ainv, b = frame_scale(g, P[p, P_VINF], P[p, P_C], tf, t)
    ke = P[p, P_KE]
    se = P[p, P_SE]
    fe = fexp(se * (t - tf))
    cwe = P[p, P_K] * P[p, P_PSIE] * (1.0 + 1e-12)
    vth_abs = abs(vth) + abs(b)
    si = P[p, P_SI]
    vreset = P[p, P_VRESET]
    # the constants of the bound test (``_below``), computed when a target first needs
    # it: rows of one or a few targets (Poisson inputs) mostly never do
    have = False
    a = ee = ei = ci = huge = vinf_b = ce = 0.0
    for j in range(j0, j1):
        # the row's target lines are in L2 (``lane_prefetch``); bring them to L1 a few
        # targets ahead, which hides L2's latency behind the arithmetic of this loop
        if j + 8 < j1:
            prefetch(ST, off + load_int32(ia, j + 8))
        n = off + load_int32(ia, j)
        nu = np.uint64(n)
        wj = load_float64(wa, j & wm)
        db = ke * wj * fe
        ST[nu, COL_IE] += db
        if refractory(t, ST[nu, COL_REF]):
            ST[nu, COL_V] -= db * fexp((g - se) * (ST[nu, COL_REF] - tf))
        else:
            ST[nu, COL_V] -= ke * wj * ainv
        m = ST[nu, COL_TL]
        m += wj * cwe + 1e-13 * (abs(m) + vth_abs)
        ST[nu, COL_TL] = m
        if m < vth:
            continue
        if ST[nu, COL_TGT] == math.inf:
            if not have:
                a = 1.0 / ainv
                ee = fexp(-se * (t - tf))
                ei = fexp(-si * (t - tf))
                ki = P[p, P_KI]
                ci = P[p, P_K] * P[p, P_PSII] / ki if ki != 0.0 else 0.0
                huge = huge_coef(ke, ki)
                vinf_b = P[p, P_VREST] + P[p, P_K] * P[p, P_IBIAS] / g
                ce = P[p, P_K] * P[p, P_PSIE] / ke
                have = True
            ok, cl = _below(ST, nu, t, a, b, ee, ei, ce, ci, vinf_b, vreset, vth, vth_abs, g, se,
                            si, huge)
            if ok:
                ST[nu, COL_TL] = cl
                continue
        ndirty = mark(n, dirty, ndirty, isdirty)
    cnt[C_ADV] += j1 - j0
    cnt[C_THRESH] += j1 - j0
    return ndirty


@njit(cache=True, _nrt=False)
def undriven_targets(P, p, t, row, mode, ndirty, SC, ST, tf, cnt, pf, xc):
    """``frame_targets`` (mode != SWEEP_ONLY) for a frame population without an
    external drive: the same arithmetic in the same order, but only the arrays it
    needs are passed.

    With ``pf`` the targets' state lines are prefetched first (rows of lanes into large
    populations had them prefetched by ``lane_prefetch``).  ``xc`` is None for networks
    without exp channels (the bound rejects are then not compiled).

    Huge states: frame coefficients below ``huge`` keep V and the physical currents
    finite.  Inhibitory inputs leave the ceiling unchanged, so with TEST_BOUND and
    TEST_PENDING a target whose coefficients pass ``huge`` is marked for the test of the
    instant, which reports a non-finite state, instead of being skipped.
    """
    j0, j1, off, ia, wa, wm = row
    dirty = SC.dirty
    isdirty = SC.isdirty
    if pf:
        # start loading every target's state line (and dirty flag) before the work: the
        # loop below would otherwise wait for most of these misses one after another
        _prefetch_targets(ST, isdirty, j0, j1, off, ia, wa, wm)
    if xc is not None and mode == TEST_BOUND_EXC:
        return exc_targets(P, p, t, row, ndirty, SC, ST, tf, cnt)
    g, vinf, c, vth, ainv, b, ke, ki, se, si, fe, fi = _frame_consts(P, p, t, tf)
    thr = (vth - b) * ainv
    bound = mode == TEST_BOUND
    if bound:
        # constants of the quick-reject bound of cross_general in frame terms: V(t) =
        # b + U a + x_e + x_i with x = coefficient * e^{-s (t - tf)}, and k I psi_max =
        # x (k psi_max / k_x) for a channel's current I = x / k_x
        a = 1.0 / ainv
        ee = fexp(-se * (t - tf))
        ei = fexp(-si * (t - tf))
        ce = P[p, P_K] * P[p, P_PSIE] / ke if ke != 0.0 else 0.0
        ci = P[p, P_K] * P[p, P_PSII] / ki if ki != 0.0 else 0.0
        vinf_b = P[p, P_VREST] + P[p, P_K] * P[p, P_IBIAS] / g
        vreset = P[p, P_VRESET]
        vth_abs = abs(vth) + abs(b)
        # the most an excitatory input of weight 1 can add to V at any later time (mV
        # per mV): the PSP peak of an exp channel, 1 for a delta one; raised a little
        # so that the rounding of the ceiling's sum never lowers it
        cwe = (P[p, P_K] * P[p, P_PSIE] if ke != 0.0 else 1.0) * (1.0 + 1e-12)
    huge = huge_coef(ke, ki)
    pending = mode == TEST_PENDING and (ke != 0.0 or ki != 0.0)
    ndisc = 0
    nthr = 0
    for j in range(j0, j1):
        if not pf and j + 8 < j1:
            prefetch(ST, off + load_int32(ia, j + 8))     # from L2 to L1 (see exc_targets)
        # unsigned indices: Numba then drops its negative-index wrap-around code
        n = off + load_int32(ia, j)
        nu = np.uint64(n)
        wj = load_float64(wa, j & wm)
        if not _frame_input(ST, nu, wj, t, ke, ki, se, si, fe, fi, g, ainv, tf):
            ndisc += 1
            continue
        if bound:
            nthr += 1
            # the ceiling (an upper bound on V at every later time, in the t_last
            # column, which frame neurons do not use): an excitatory input raises it by
            # at most its PSP peak, an inhibitory one leaves it valid
            m = ST[nu, COL_TL]
            if wj > 0.0:
                m += wj * cwe + 1e-13 * (abs(m) + vth_abs)
                ST[nu, COL_TL] = m
            if ST[nu, COL_TGT] == math.inf:
                # a state whose V or currents overflow is never skipped (the test reports
                # it): coefficients below `huge` keep V and the currents finite
                if m < vth and abs(ST[nu, COL_V]) + abs(ST[nu, COL_IE]) + abs(ST[nu, COL_II]) < huge:
                    continue
                if xc is not None:
                    ok, cl = _below(ST, nu, t, a, b, ee, ei, ce, ci, vinf_b, vreset, vth,
                                    vth_abs, g, se, si, huge)
                    if ok:
                        ST[nu, COL_TL] = cl
                        continue
            ndirty = mark(n, dirty, ndirty, isdirty)
            continue
        if mode == TEST_NOW:
            nthr += 1
        if _wants_test(mode, ST[nu, COL_V], ST[nu, COL_TGT], thr) or (
                pending and not abs(ST[nu, COL_V]) + abs(ST[nu, COL_IE]) + abs(ST[nu, COL_II]) < huge):
            ndirty = mark(n, dirty, ndirty, isdirty)
    cnt[C_ADV] += j1 - j0
    cnt[C_DISCARD] += ndisc
    cnt[C_THRESH] += nthr
    return ndirty


@njit(cache=True, _nrt=False)
def frame_targets(P, p, t, row, mode, ndirty, SC, N, DR, DS, cnt, pop_off):
    """Input to frame neurons at time t.

    mode SWEEP_ONLY: only apply the external drive of neurons j0..j1 of the row up to
    t.  Otherwise deliver the row (``Row``) and mark its targets as the mode says
    (``test_mode``).  ``N`` is the ``Neurons`` record, ``DR``/``DS`` the drives' plan
    and state.

    Returns (ndirty, j, n, t_n): the new number of marked neurons and, if an external
    drive arrival made neuron n cross threshold at t_n < t, the entry j at which the
    loop stopped (the arrival is applied, the later arrivals of n and entry j's input
    are not).  The caller then fires n and calls again from j; j == j1 means the row is
    done.  Why the round trip: firing needs the whole engine state (queue,
    connectivity, spike record); this kernel takes only what it uses.
    """
    if P[p, P_KE] == 0.0 and P[p, P_KI] == 0.0 and DR.pop_drv_ptr[p + 1] - DR.pop_drv_ptr[p] <= 1 \
            and N.adapt[p] == 0:
        return delta_targets(P, p, t, row, mode, ndirty, SC, N.block, N.tf[p], pop_off[p], DR, DS, cnt)
    return frame_targets_general(P, p, t, row, mode, ndirty, SC, N, DR, DS, cnt, pop_off)


@njit(cache=True, _nrt=False)
def frame_targets_general(P, p, t, row, mode, ndirty, SC, N, DR, DS, cnt, pop_off):
    """The general body of ``frame_targets``: any number of drives, exp or delta channels,
    adaptive thresholds (``delta_targets`` is its copy for the delta case)."""
    ST = N.block
    TH = N.theta
    j0, j1, off, ia, wa, wm = row
    dirty = SC.dirty
    isdirty = SC.isdirty
    drv_next = DS.next
    drv_rng = DS.rng
    tf = N.tf[p]
    g, vinf, c, vth, ainv, b, ke, ki, se, si, fe, fi = _frame_consts(P, p, t, tf)
    d0 = DR.pop_drv_ptr[p]
    d1 = DR.pop_drv_ptr[p + 1]
    poff = pop_off[p]
    nsyn = 0
    is_mark = mode != SWEEP_ONLY
    thr = (vth - b) * ainv
    adapt = N.adapt[p] != 0
    # counters live in locals: a store per synapse to cnt would not be kept in a register
    ndrive = 0
    ndisc = 0
    nadv = 0
    nthr = 0
    j_stop = j1
    n_spk = _ZERO
    t_spk = math.inf
    for j in range(j0, j1):
        n = off + load_int32(ia, j) if is_mark else j
        # external Poisson arrivals of n up to t, in time order
        crossed = False
        while d1 > d0:
            best = -1
            tb = t
            for d in range(d0, d1):
                ta = drv_next[DR.base[d] + n - poff]
                if ta <= tb:
                    tb = ta
                    best = d
            if best < 0:
                break
            k = DR.base[best] + n - poff
            st, e = exp_step(drv_rng[k])
            drv_rng[k] = st
            drv_next[k] = tb + e * (1.0 / DR.rate[best])
            ndrive += 1
            if refractory(tb, ST[n, COL_REF]):
                ndisc += 1
                continue
            ab, bb = frame_scale(g, vinf, c, tf, tb)
            ST[n, COL_V] += DR.w[best] * ab
            nadv += 1
            nthr += 1
            if ST[n, COL_V] >= (vth + (TH[n] if adapt else 0.0) - bb) * ab:
                crossed = True
                break
        if crossed:
            # the caller fires n at tb and calls again from this entry
            j_stop = j
            n_spk = np.int64(n)
            t_spk = tb
            break
        if not is_mark:
            continue
        nsyn += 1
        if not _frame_input(ST, n, load_float64(wa, j & wm), t, ke, ki, se, si, fe, fi, g, ainv,
                            tf):
            ndisc += 1
            continue
        # TEST_NOW marks only neurons at or over threshold (or non-finite); the test
        # runs after the whole row, so a multapse later in the row is still applied
        # before the reset, exactly as with TEST_LATER
        if mode == TEST_NOW:
            nthr += 1
        if _wants_test(mode, ST[n, COL_V], ST[n, COL_TGT], thr + TH[n] * ainv if adapt else thr):
            ndirty = mark(n, dirty, ndirty, isdirty)
    cnt[C_ADV] += nsyn + nadv
    cnt[C_DRIVE] += ndrive
    cnt[C_DISCARD] += ndisc
    cnt[C_THRESH] += nthr
    return ndirty, j_stop, n_spk, t_spk


# --------------------------------------------------------------- general neurons
@njit(cache=True, _nrt=False)
def general_targets(P, p, t, row, ndirty, SC, ST, cnt):
    """Deliver a row to general neurons at time t (closed-form advance, then the weight
    goes to the current, or to V for a delta channel); every target is marked."""
    j0, j1, off, ia, wa, wm = row
    dirty = SC.dirty
    isdirty = SC.isdirty
    g = P[p, P_G]
    k = P[p, P_K]
    se = P[p, P_SE]
    si = P[p, P_SI]
    vr = P[p, P_VREST]
    vreset = P[p, P_VRESET]
    ib = P[p, P_IBIAS]
    de = P[p, P_DE] != 0.0
    di = P[p, P_DI] != 0.0
    nadv = 0
    ndisc = 0
    for j in range(j0, j1):
        n = off + load_int32(ia, j)
        t0 = ST[n, COL_TL]
        if t > t0:
            v, ie, ii = propagate(g, k, se, si, vr, vreset, ib, ST[n, COL_V], ST[n, COL_IE],
                                  ST[n, COL_II], t0, ST[n, COL_REF], t)
            ST[n, COL_V] = v
            ST[n, COL_IE] = ie
            ST[n, COL_II] = ii
            ST[n, COL_TL] = t
            nadv += 1
        wj = load_float64(wa, j & wm)
        if wj < 0.0 and ST[n, COL_TGT] == -math.inf:
            ST[n, COL_TGT] = math.inf  # a forced crossing is undone by inhibition at the same instant
        if (de and wj >= 0.0) or (di and wj < 0.0):
            if refractory(t, ST[n, COL_REF]):
                ndisc += 1
                continue
            ST[n, COL_V] += wj
        elif wj >= 0.0:
            ST[n, COL_IE] += wj
        else:
            ST[n, COL_II] += wj
        ndirty = mark(n, dirty, ndirty, isdirty)
    cnt[C_ADV] += nadv
    cnt[C_DISCARD] += ndisc
    return ndirty
