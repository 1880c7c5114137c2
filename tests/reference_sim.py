"""Slow, deliberately simple reference simulator used as a test oracle.

Model (units ms, mV; all neurons share one parameter set)::

    dV/dt     = -(V - v_rest)/tau_m + (I_exc + I_inh + i_bias)/tau_in
    dI_exc/dt = -I_exc/tau_syn_exc
    dI_inh/dt = -I_inh/tau_syn_inh

* The leak term is absent when ``tau_m == inf``; ``tau_in`` defaults to ``tau_m`` and must be finite.
* A delivered spike of weight ``w`` goes to the exc channel if ``w >= 0`` and to the inh channel
  otherwise.  If that channel's ``tau_syn`` is 0 (a "delta" channel) V jumps by ``w`` (and the input is
  discarded while the neuron is refractory); otherwise ``w`` is added to the channel's current (also
  while refractory).
* At ``V >= v_th`` the neuron spikes, V is set to ``v_reset`` and held there for ``t_ref``.
* All inputs reaching a neuron at the same instant are applied before its threshold is tested.
* ``refractory_closed`` decides whether a delta input arriving exactly at ``t_spike + t_ref`` is still
  discarded (True) or applied (False, the default).  The default is what NEST 3.10's
  ``iaf_psc_delta_ps`` does, i.e. the refractory interval is half-open ``[t_spike, t_spike + t_ref)``:
  only ``False`` reproduces all ``delta_seed*.npz`` reference files (with ``True`` 5 of the 6 differ).

How it works (no closed forms on purpose)
-----------------------------------------
* The state of a neuron is ``x = (V, I_exc, I_inh, 1)`` with ``dx/dt = A x``; a delta channel simply
  has an all-zero row/column so its "current" stays 0.  Between events ``x(t0 + h) = expm(A h) x(t0)``
  (``scipy.linalg.expm``).  While refractory, the V row of ``A`` is zero (V is held).
* A global heap of events ordered by time.  All events of one instant are taken together; for each
  neuron, its deliveries of that instant are applied and then the threshold is tested.
* Continuous threshold crossings (exp currents, bias) are found by scanning a neuron's free trajectory
  from its last update up to its next already-known delivery (or T): V is sampled densely (at least
  256 points, spacing at most ``min(tau)/100``), every sampled local maximum near threshold is refined
  with a bounded scalar maximisation (catches most grazing crossings between samples), and the first
  sign change of ``V - v_th`` is polished with ``scipy.optimize.brentq`` (xtol 1e-14).  The crossing is
  pushed as a "candidate spike" event carrying a version number; any later change of the neuron's
  state (input, spike) bumps the version and invalidates it.  Deliveries created later can only arrive
  after the current time, and an arrival before the scanned window's end triggers a new scan, so
  scanning only up to the next known delivery is enough.
* A scan is skipped when a rigorous upper bound shows V cannot reach threshold: since
  ``I_exc >= 0`` decays and ``I_inh <= 0``, ``V(t) <= max(V0, v_rest + tau_m (I_exc0 + i_bias)/tau_in)``
  (finite tau_m) or ``V(t) <= V0 + (I_exc0 tau_syn_exc + max(i_bias, 0) h)/tau_in`` (tau_m = inf).
  Pass ``prune=False`` to switch it off.

Limitations: grazing crossings can be missed when the excursion above threshold falls between
samples and the nearest sampled local maximum is more than ``max(1e-3 mV, 100 * curvature bound *
spacing**2)`` below ``v_th`` (not refined), or when two extrema fall between neighbouring samples;
peaks exceeding ``v_th`` by less than the rounding level of V are at the mercy of rounding.  A
continuous crossing that coincides exactly with a delivery to the same neuron is treated as
simultaneous with it.  Crossing times carry brentq's tolerance (~1e-13 ms at t ~ 200 ms).  It is
slow: a few seconds for networks of a few dozen neurons over 200 ms.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from scipy.optimize import brentq, minimize_scalar



def expm(M):
    """Matrix exponential by scaling and squaring of a Taylor series.

    Same thing as ``scipy.linalg.expm`` (the tests check that they agree); used instead because
    scipy's version calls LAPACK, which with a multithreaded OpenBLAS costs up to milliseconds per
    4x4 matrix.  ``M`` is scaled by 2**-s so that its 1-norm is <= 1/4, the series is summed until
    the terms are below 1e-18 relative, and the result is squared s times.
    """
    M = np.asarray(M, dtype=np.float64)
    nrm = float(np.abs(M).sum(axis=0).max())
    s = 0
    if nrm > 0.25:
        s = int(math.ceil(math.log2(nrm / 0.25)))
    X = M / (2.0 ** s)
    E = np.eye(M.shape[0])
    term = E
    for k in range(1, 40):
        term = (term @ X) / k
        E = E + term
        if np.abs(term).max() <= 1e-18:
            break
    for _ in range(s):
        E = E @ E
    return E


_DELIVERY = 0
_CANDIDATE = 1


class _Model:
    def __init__(self, params):
        p = dict(params)
        self.tau_m = float(p["tau_m"])
        self.tau_se = float(p["tau_syn_exc"])
        self.tau_si = float(p["tau_syn_inh"])
        self.v_rest = float(p["v_rest"])
        self.v_th = float(p["v_th"])
        self.v_reset = float(p["v_reset"])
        self.t_ref = float(p["t_ref"])
        self.i_bias = float(p.get("i_bias", 0.0))
        tau_in = p.get("tau_in", None)
        self.tau_in = self.tau_m if tau_in is None else float(tau_in)
        if not (math.isfinite(self.tau_in) and self.tau_in > 0):
            raise ValueError("tau_in must be finite and > 0")
        if not self.tau_m > 0:
            raise ValueError("tau_m must be > 0 (inf allowed)")
        if self.tau_se < 0 or self.tau_si < 0:
            raise ValueError("tau_syn must be >= 0")
        if not self.v_reset < self.v_th:
            raise ValueError("need v_reset < v_th")
        if self.t_ref < 0:
            raise ValueError("t_ref must be >= 0")
        self.delta_exc = self.tau_se == 0.0
        self.delta_inh = self.tau_si == 0.0

        leak = 0.0 if math.isinf(self.tau_m) else 1.0 / self.tau_m
        A = np.zeros((4, 4))
        A[0, 0] = -leak
        A[0, 3] = leak * self.v_rest + self.i_bias / self.tau_in
        if not self.delta_exc:
            A[0, 1] = 1.0 / self.tau_in
            A[1, 1] = -1.0 / self.tau_se
        if not self.delta_inh:
            A[0, 2] = 1.0 / self.tau_in
            A[2, 2] = -1.0 / self.tau_si
        self.A = A
        A_ref = A.copy()
        A_ref[0, :] = 0.0  # V held during the refractory period
        self.A_ref = A_ref

        taus = [t for t in (self.tau_m, self.tau_se, self.tau_si, self.tau_in) if 0 < t < math.inf]
        self.min_tau = min(taus)

    def prop(self, x, h, refractory=False):
        if h == 0.0:
            return x.copy()
        return expm((self.A_ref if refractory else self.A) * h) @ x


class _Neuron:
    __slots__ = ("t", "x", "ref_end", "version", "pending")

    def __init__(self, v0):
        self.t = 0.0
        self.x = np.array([v0, 0.0, 0.0, 1.0])
        self.ref_end = -math.inf
        self.version = 0
        self.pending = []  # heap of known future delivery times


def _state_at(m, nr, t):
    """State of neuron at time t >= nr.t assuming no events in between (no threshold check)."""
    x = nr.x
    t0 = nr.t
    if t0 < nr.ref_end:
        t1 = min(t, nr.ref_end)
        x = m.prop(x, t1 - t0, refractory=True)
        x[0] = m.v_reset
        t0 = t1
    if t > t0:
        x = m.prop(x, t - t0)
    return x


def _upper_bound(m, x, h):
    V0, ie = x[0], max(x[1], 0.0)
    if math.isinf(m.tau_m):
        return V0 + (ie * m.tau_se + max(m.i_bias, 0.0) * h) / m.tau_in
    return max(V0, m.v_rest + m.tau_m * (ie + m.i_bias) / m.tau_in)


def _sample(m, x, h, n):
    """x(k h/n) for k = 0..n by powers of one propagator (used for bracketing only)."""
    M = expm(m.A * (h / n))
    P = np.empty((n + 1, 4, 4))
    P[0] = np.eye(4)
    k = 1
    Mk = M
    while k <= n:
        cnt = min(k, n + 1 - k)
        P[k:k + cnt] = P[:cnt] @ Mk
        k += cnt
        Mk = Mk @ Mk
    return (P @ x)[:, 0]


def _first_crossing(m, x0, t0, t1, prune=True):
    """Earliest t in (t0, t1] with V(t) = v_th on the free trajectory from (t0, x0), or None."""
    h = t1 - t0
    if h <= 0:
        return None
    if prune and _upper_bound(m, x0, h) < m.v_th:
        return None
    vth = m.v_th

    def f(t):
        return (expm(m.A * (t - t0)) @ x0)[0] - vth

    n = max(256, int(math.ceil(h / (m.min_tau / 100.0))))
    g = _sample(m, x0, h, n) - vth
    s = t0 + h * np.arange(n + 1) / n
    s[-1] = t1

    above = np.nonzero(g[1:] >= 0.0)[0]
    first = int(above[0]) + 1 if len(above) else None
    limit = first if first is not None else n + 1

    # tolerance for "near threshold" local maxima: generous multiple of a curvature bound
    delta = h / n
    ie, ii = abs(x0[1]), abs(x0[2])
    leak = 0.0 if math.isinf(m.tau_m) else 1.0 / m.tau_m
    vmax = float(np.max(np.abs(g + vth - m.v_rest))) + abs(vth - m.v_reset)
    d1 = leak * vmax + (ie + ii + abs(m.i_bias)) / m.tau_in
    d2 = leak * d1 + ((ie / m.tau_se if ie else 0.0) + (ii / m.tau_si if ii else 0.0)) / m.tau_in
    margin = max(1e-3, 100.0 * d2 * delta * delta)

    def polish(a, b):
        fa, fb = f(a), f(b)
        if fa >= 0.0:
            return a
        if fb < 0.0:
            return None
        return brentq(f, a, b, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)

    for k in range(1, limit):
        if k < n:
            is_max = g[k] >= g[k - 1] and g[k] >= g[k + 1]
            a, b = s[k - 1], s[k + 1]
        else:  # window end, rising into it
            is_max = g[k] >= g[k - 1]
            a, b = s[k - 1], s[k]
        if not is_max or g[k] < -margin:
            continue
        res = minimize_scalar(lambda t: -f(t), bounds=(a, b), method="bounded",
                              options={"xatol": 1e-13})
        tm = float(res.x)
        if f(tm) >= 0.0:
            tc = polish(a, tm)
            if tc is not None:
                return tc
    if first is not None:
        tc = polish(s[first - 1], s[first])
        if tc is None:  # sampling/direct evaluation disagree at rounding level
            tc = s[first]
        return tc
    return None


def simulate(n, params, in_times, in_ids, in_pre, in_post, in_w, in_delay,
             rec_pre, rec_post, rec_w, rec_delay, T, v0=None, refractory_closed=False,
             prune=True):
    """Exact (up to root-finding tolerance) event-driven simulation on [0, T].

    params: dict with tau_m, tau_syn_exc, tau_syn_inh, v_rest, v_th, v_reset, t_ref and optional
    i_bias (default 0) and tau_in (default tau_m).
    Returns (times float64 array, ids int64 array) sorted by (time, id).
    """
    m = _Model(params)
    n = int(n)
    T = float(T)
    in_times = np.asarray(in_times, dtype=np.float64).ravel()
    in_ids = np.asarray(in_ids, dtype=np.int64).ravel()
    in_pre = np.asarray(in_pre, dtype=np.int64).ravel()
    in_post = np.asarray(in_post, dtype=np.int64).ravel()
    in_w = np.asarray(in_w, dtype=np.float64).ravel()
    in_delay = np.asarray(in_delay, dtype=np.float64).ravel()
    rec_pre = np.asarray(rec_pre, dtype=np.int64).ravel()
    rec_post = np.asarray(rec_post, dtype=np.int64).ravel()
    rec_w = np.asarray(rec_w, dtype=np.float64).ravel()
    rec_delay = np.asarray(rec_delay, dtype=np.float64).ravel()
    if np.any(in_delay <= 0) or np.any(rec_delay <= 0):
        raise ValueError("delays must be > 0")

    if v0 is None:
        v0 = np.full(n, m.v_rest)
    v0 = np.broadcast_to(np.asarray(v0, dtype=np.float64), (n,))
    neurons = [_Neuron(float(v0[i])) for i in range(n)]

    in_out = {}
    for k in range(len(in_pre)):
        in_out.setdefault(int(in_pre[k]), []).append((int(in_post[k]), float(in_w[k]), float(in_delay[k])))
    rec_out = {}
    for k in range(len(rec_pre)):
        rec_out.setdefault(int(rec_pre[k]), []).append((int(rec_post[k]), float(rec_w[k]), float(rec_delay[k])))

    heap = []
    seq = [0]

    def push_delivery(t, post, w):
        if t <= T:
            heapq.heappush(heap, (t, _DELIVERY, seq[0], post, w))
            heapq.heappush(neurons[post].pending, t)
            seq[0] += 1

    for t, src in zip(in_times, in_ids):
        for post, w, d in in_out.get(int(src), ()):
            push_delivery(float(t) + d, post, w)

    out_t, out_i = [], []

    def spike(i, t):
        nr = neurons[i]
        out_t.append(t)
        out_i.append(i)
        nr.x = nr.x.copy()
        nr.x[0] = m.v_reset
        nr.ref_end = t + m.t_ref
        for post, w, d in rec_out.get(i, ()):
            push_delivery(t + d, post, w)

    def rescan(i):
        nr = neurons[i]
        nr.version += 1
        t_end = nr.pending[0] if nr.pending else T
        t_s = max(nr.t, nr.ref_end)
        if t_s >= t_end:
            return
        x_s = _state_at(m, nr, t_s)
        tc = _first_crossing(m, x_s, t_s, t_end, prune=prune)
        if tc is not None and tc <= T:
            heapq.heappush(heap, (tc, _CANDIDATE, seq[0], i, nr.version))
            seq[0] += 1

    # t = 0: threshold test of the initial state, then look for crossings
    for i in range(n):
        if neurons[i].x[0] >= m.v_th:
            spike(i, 0.0)
    for i in range(n):
        rescan(i)

    while heap and heap[0][0] <= T:
        t = heap[0][0]
        batch = {}
        while heap and heap[0][0] == t:
            _, kind, _, i, payload = heapq.heappop(heap)
            ws, cand = batch.setdefault(i, ([], [False]))
            if kind == _DELIVERY:
                ws.append(payload)
            elif payload == neurons[i].version:
                cand[0] = True
        for i in sorted(batch):
            ws, cand = batch[i]
            if not ws and not cand[0]:
                continue  # stale candidate only
            nr = neurons[i]
            for _ in ws:
                tp = heapq.heappop(nr.pending)
                assert tp == t
            x = _state_at(m, nr, t).copy()
            nr.t = t
            refractory = t < nr.ref_end or (refractory_closed and t == nr.ref_end)
            if cand[0]:
                x[0] = m.v_th  # the crossing found by the scan
            for w in ws:
                if w >= 0:
                    if m.delta_exc:
                        if not refractory:
                            x[0] += w
                    else:
                        x[1] += w
                else:
                    if m.delta_inh:
                        if not refractory:
                            x[0] += w
                    else:
                        x[2] += w
            nr.x = x
            if t >= nr.ref_end and x[0] >= m.v_th:
                spike(i, t)
            rescan(i)

    times = np.asarray(out_t, dtype=np.float64)
    ids = np.asarray(out_i, dtype=np.int64)
    order = np.lexsort((ids, times))
    return times[order], ids[order]


def free_trajectory(params, state0, t):
    """State (V, I_exc, I_inh) reached after time t >= 0 from state0 = (V, I_exc, I_inh) with no
    input, no threshold and no refractoriness (the propagator used by simulate())."""
    m = _Model(params)
    x0 = np.array([state0[0], state0[1], state0[2], 1.0], dtype=np.float64)
    return m.prop(x0, float(t))[:3]


PARAM_KEYS = ("tau_m", "tau_syn_exc", "tau_syn_inh", "v_rest", "v_th", "v_reset", "t_ref")


def simulate_npz(path_or_dict, **kw):
    """Run a NEST reference file (see tests/data/README.md). Extra keywords go to simulate()."""
    if isinstance(path_or_dict, dict):
        d = path_or_dict
    else:
        with np.load(path_or_dict) as z:
            d = {k: z[k] for k in z.files}
    params = {k: float(d[k]) for k in PARAM_KEYS}
    for k in ("i_bias", "tau_in"):
        if k in d:
            params[k] = float(d[k])
    return simulate(int(d["n"]), params, d["in_times"], d["in_ids"], d["in_pre"], d["in_post"],
                    d["in_w"], d["in_delay"], d["rec_pre"], d["rec_post"], d["rec_w"],
                    d["rec_delay"], float(d["T"]), **kw)
