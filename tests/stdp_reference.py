"""A slow, obvious reference for the plasticity rules of :mod:`eventsnn.plasticity`.

Written from the rules' stated semantics (the module docstring of
``eventsnn.plasticity``), not from the engine's kernels:

* One plastic projection at a time.  Its input is the *arrival* time of every
  presynaptic spike at the synapses (emission + delay, per presynaptic neuron) and the
  spike times of every postsynaptic neuron.
* All events are walked in time order; at equal times every presynaptic arrival comes
  before every postsynaptic spike, and control actions (learning on/off, reward, new
  weights: what a user does between runs) come last.
* Traces are not kept as state.  A trace at time t is recomputed from the list of the
  spikes processed so far: for the all-to-all interaction the explicit sum
  ``sum_k exp(-(t - t_k)/tau)``, for nearest-spike interactions ``exp(-(t - t_last)/tau)``
  of the last one (both 0 before the first spike).  "Processed so far" excludes the
  spike being processed, which gives the left limits r2(t-) and o2(t-) of the triplet
  rule.
* Efficacy e = s w with s = -1 for inhibitory projections (w_max <= 0), weight
  dependence (1 - u)^mu_plus / u^mu_minus with u the position of e in its range, hard
  clipping after every update.
* Reward-modulated STDP: the eligibility c of every synapse decays with tau_c and is
  changed by the pair rule; the efficacy follows de/dt = d(t) c(t), where the reward
  level d(t) is the explicit sum of every reward given so far, each decaying with
  tau_d from the time it was given.  On each interval between two consecutive events
  (of any synapse) the integral of d(s) c(s) is computed numerically with
  ``scipy.integrate.quad`` and the efficacy is clipped at the interval's end.  While
  learning is off, neither the efficacy nor the eligibility change (the eligibility is
  frozen, its decay resumes when learning is switched on again).

The reference also counts plasticity work the way :class:`eventsnn.OpCounts` defines
it: one trace update per presynaptic arrival at a row that has synapses and per
postsynaptic spike; one weight update per synapse a pre- or postsynaptic spike changes
while learning is on (a presynaptic-centred rule skips synapses whose last presynaptic
spike has already been paired).

Units: ms, mV.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.integrate import quad

from eventsnn.plasticity import STDP, RewardSTDP, Triplet, Vogels

__all__ = ["RefResult", "rule_terms", "simulate", "trace_value"]

_ARRIVAL, _POST, _CONTROL = 0, 1, 2


@dataclass
class RefResult:
    weights: np.ndarray          # mV, in synapse order
    trace_updates: int
    weight_updates: int
    pre_traces: np.ndarray       # (n_pre, 2): fast, slow at t_end
    post_traces: np.ndarray      # (n_post, 2)
    eligibility: np.ndarray      # (nnz,) at t_end (zeros for rules without one)
    reward_level: float          # d(t_end)
    clipped: int                 # updates whose result the hard bounds cut back


def rule_terms(rule) -> dict:
    """The rule's quantities in one generic vocabulary (read from the record's fields)."""
    if isinstance(rule, STDP):
        mu = {"additive": 0.0, "multiplicative": 1.0, "power": rule.mu}[rule.weight_dependence]
        return dict(kind="pair", tau_r1=rule.tau_plus, tau_r2=rule.tau_plus,
                    tau_o1=rule.tau_minus, tau_o2=rule.tau_minus,
                    a2p=rule.a_plus, a3p=0.0, a2m=rule.a_minus, a3m=0.0, mu_p=mu, mu_m=mu,
                    nearest=rule.interaction != "all", centred=rule.interaction == "nearest_pre")
    if isinstance(rule, Triplet):
        return dict(kind="triplet", tau_r1=rule.tau_plus, tau_r2=rule.tau_x,
                    tau_o1=rule.tau_minus, tau_o2=rule.tau_y,
                    a2p=rule.a2_plus, a3p=rule.a3_plus, a2m=rule.a2_minus, a3m=rule.a3_minus,
                    mu_p=0.0, mu_m=0.0, nearest=rule.interaction == "nearest", centred=False)
    if isinstance(rule, Vogels):
        return dict(kind="vogels", tau_r1=rule.tau, tau_r2=rule.tau, tau_o1=rule.tau,
                    tau_o2=rule.tau, eta=rule.eta,
                    alpha=2.0 * (rule.rho0 / 1000.0) * rule.tau,  # rho0 in 1/ms
                    nearest=False, centred=False)
    if isinstance(rule, RewardSTDP):
        return dict(kind="reward", tau_r1=rule.tau_plus, tau_r2=rule.tau_plus,
                    tau_o1=rule.tau_minus, tau_o2=rule.tau_minus,
                    a2p=rule.a_plus, a2m=rule.a_minus, tau_c=rule.tau_c, tau_d=rule.tau_d,
                    nearest=rule.interaction != "all", centred=rule.interaction == "nearest_pre")
    raise TypeError(f"no reference for {type(rule).__name__}")


def trace_value(spikes, t, tau, nearest):
    """Trace at t from the spikes processed so far: an explicit sum (all-to-all) or the
    last spike alone (nearest)."""
    if not spikes:
        return 0.0
    if nearest:
        return math.exp(-(t - spikes[-1]) / tau)
    return math.fsum(math.exp(-(t - tk) / tau) for tk in spikes)


def _reward_level(rewards, s, tau_d):
    """d(s): every reward (t_r, amount) given so far, decayed from its own time."""
    if math.isinf(tau_d):
        return math.fsum(a for _, a in rewards)
    return math.fsum(a * math.exp(-(s - tr) / tau_d) for tr, a in rewards)


def simulate(rule, pre, post, w0, arrivals, post_spikes, t_end, *, controls=(),
             learning=True, reward0=0.0, n_pre=None, n_post=None) -> RefResult:
    """Apply ``rule`` to synapses ``pre[s] -> post[s]`` with initial weights ``w0``.

    Parameters
    ----------
    arrivals : list of sequences
        ``arrivals[i]``: arrival times (ms) of presynaptic neuron i's spikes at its
        synapses (emission + delay).
    post_spikes : list of sequences
        ``post_spikes[j]``: spike times (ms) of postsynaptic neuron j.
    t_end : float
        Time (ms) at which the weights are read.
    controls : sequence of (t, action, value)
        Between-run actions at time t, after every spike at t, in the given order:
        ``("learning", bool)``, ``("reward", amount)``, ``("set_weights", array)``.
    learning, reward0 :
        Learning switch and reward level before the first event (reward given at t=0).
    """
    P = rule_terms(rule)
    pre = np.asarray(pre, dtype=np.int64)
    post = np.asarray(post, dtype=np.int64)
    nnz = pre.shape[0]
    n_pre = len(arrivals) if n_pre is None else n_pre
    n_post = len(post_spikes) if n_post is None else n_post
    sign = -1.0 if rule.w_max <= 0.0 else 1.0
    e_lo, e_hi = sorted((sign * rule.w_min, sign * rule.w_max))
    e = [sign * float(x) for x in w0]
    c = [0.0] * nnz
    rows = [[s for s in range(nnz) if pre[s] == i] for i in range(n_pre)]
    cols = [[s for s in range(nnz) if post[s] == j] for j in range(n_post)]
    pre_hist = [[] for _ in range(n_pre)]
    post_hist = [[] for _ in range(n_post)]
    rewards = [(0.0, float(reward0))] if reward0 != 0.0 else []
    n_trace = 0
    n_weight = 0
    on = bool(learning)

    n_clipped = 0

    def clip(x):
        nonlocal n_clipped
        y = min(max(x, e_lo), e_hi)
        n_clipped += y != x
        return y

    def u_of(x):
        return min(max((x - e_lo) / (e_hi - e_lo), 0.0), 1.0)

    events = []
    for i, ts in enumerate(arrivals):
        events += [(float(t), _ARRIVAL, i) for t in ts]
    for j, ts in enumerate(post_spikes):
        events += [(float(t), _POST, j) for t in ts]
    events += [(float(t), _CONTROL, (a, v)) for t, a, v in controls]
    events.sort(key=lambda x: (x[0], x[1]))  # stable: controls keep their order
    events.append((float(t_end), _CONTROL, ("end", None)))

    t_now = 0.0

    def advance(t):
        """Reward rule: integrate de/dt = d c over [t_now, t] (learning on) and clip."""
        nonlocal t_now
        if P["kind"] == "reward" and on and t > t_now:
            a = t_now
            tau_c, tau_d = P["tau_c"], P["tau_d"]
            if rewards and any(x != 0.0 for x in c):
                J, _ = quad(lambda s: _reward_level(rewards, s, tau_d) * math.exp(-(s - a) / tau_c),
                            a, t, epsabs=0.0, epsrel=1e-13, limit=200)
                for s in range(nnz):
                    if c[s] != 0.0:
                        e[s] = clip(e[s] + c[s] * J)
            decay = math.exp(-(t - a) / tau_c)
            for s in range(nnz):
                c[s] *= decay
        t_now = max(t_now, t)

    for t, kind, what in events:
        advance(t)
        if kind == _ARRIVAL:
            i = what
            if not rows[i]:
                continue  # no synapse: the spike never reaches this projection
            n_trace += 1
            if on:
                r2 = trace_value(pre_hist[i], t, P["tau_r2"], P["nearest"])
                for s in rows[i]:
                    o1 = trace_value(post_hist[post[s]], t, P["tau_o1"], P["nearest"])
                    if P["kind"] == "vogels":
                        e[s] = clip(e[s] + P["eta"] * (o1 - P["alpha"]))
                    elif P["kind"] == "reward":
                        c[s] -= P["a2m"] * o1
                    else:
                        f = u_of(e[s]) ** P["mu_m"]
                        e[s] = clip(e[s] - f * o1 * (P["a2m"] + P["a3m"] * r2))
                    n_weight += 1
            pre_hist[i].append(t)
        elif kind == _POST:
            j = what
            n_trace += 1
            if on:
                o2 = trace_value(post_hist[j], t, P["tau_o2"], P["nearest"])
                for s in cols[j]:
                    i = pre[s]
                    if P["centred"]:
                        # a presynaptic spike pairs only with the first postsynaptic spike after it
                        if not pre_hist[i] or (post_hist[j] and not pre_hist[i][-1] > post_hist[j][-1]):
                            continue
                    r1 = trace_value(pre_hist[i], t, P["tau_r1"], P["nearest"])
                    if P["kind"] == "vogels":
                        e[s] = clip(e[s] + P["eta"] * r1)
                    elif P["kind"] == "reward":
                        c[s] += P["a2p"] * r1
                    else:
                        f = (1.0 - u_of(e[s])) ** P["mu_p"]
                        e[s] = clip(e[s] + f * r1 * (P["a2p"] + P["a3p"] * o2))
                    n_weight += 1
            post_hist[j].append(t)
        else:
            action, value = what
            if action == "learning":
                on = bool(value)
            elif action == "reward":
                rewards.append((t, float(value)))
            elif action == "set_weights":
                e = [sign * float(x) for x in value]
            elif action != "end":
                raise ValueError(f"unknown control {action!r}")

    w = np.array([min(max(sign * x, rule.w_min), rule.w_max) for x in e])
    pre_tr = np.array([[trace_value(h, t_end, P["tau_r1"], P["nearest"]),
                        trace_value(h, t_end, P["tau_r2"], P["nearest"])] for h in pre_hist])
    post_tr = np.array([[trace_value(h, t_end, P["tau_o1"], P["nearest"]),
                         trace_value(h, t_end, P["tau_o2"], P["nearest"])] for h in post_hist])
    d_end = _reward_level(rewards, t_end, P["tau_d"]) if P["kind"] == "reward" else 0.0
    return RefResult(w, n_trace, n_weight, pre_tr.reshape(n_pre, 2), post_tr.reshape(n_post, 2),
                     np.array(c), d_end, n_clipped)
