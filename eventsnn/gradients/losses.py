"""Losses on spike times and voltage maxima, and their exact partial derivatives.

Every loss is a function of the recorded spike times (and, for leaky read-outs, the
voltage maxima) of one sample.  The jitted :func:`sample_loss` returns its value and
fills ``dl_dt`` (dL/dt_k for every recorded spike, 1/ms) and ``dl_dv`` (dL/dV_max per
leaky read-out, 1/mV); the adjoint pass (:mod:`.eventprop`) turns them into weight
gradients.  A minibatch loss is the mean over its samples.

Conventions (all losses)
------------------------
* Output time t_n of output neuron n is its *first* spike time (ms).
* A silent output has no spike: in the loss it counts as firing at ``t_end`` (the end
  of the simulated window) and it gets no gradient (there is no spike to move).  The
  loss stays finite; the remedy for a silent label neuron is weight bumping
  (:func:`eventsnn.gradients.fit`), see also :class:`CountBounds`.
* Prediction: the output with the earliest spike (largest voltage maximum for
  :class:`MaxVoltageCE`); ties count as correct (the label is correct when its time
  equals the earliest one).  A silent label neuron is never correct, and a sample
  whose outputs are all silent has prediction -1.

Losses
------
* :class:`FirstSpikeCE` - Wunderlich & Pehle (2021), Sci. Rep. 11:12829, Yin-Yang task:
  ``L = -log softmax(-t/tau0)[label] + alpha (exp(t_label/tau1) - 1)``.
* :class:`MaxVoltageCE` - cross-entropy of the read-outs' voltage maxima (W&P's
  latency-MNIST read-out): ``L = -log softmax(scale * V_max)[label]``.
* :class:`SpikeTimeMSE` - ``L = 1/2 sum_n ((t_n - target_n)/scale)^2`` with target
  ``t_correct`` for the label neuron and ``t_wrong`` for the others (Göltz et al. 2021
  style time targets).
* :class:`CountBounds` - spike-count bounds regulariser, added to any loss.  The spike
  count is piecewise constant in the weights, so its exact gradient is zero almost
  everywhere; we therefore regularise *spike times* selected by the count:
  ``beta/t_end * [sum over neurons with count > c_max of sum_k (t_end - t_k)
  + sum over neurons with 0 < count < c_min of sum_k t_k]``.  Its exact gradient moves
  the spikes of over-active neurons towards the end of the window (out of it) and
  those of under-active ones earlier.  Silent neurons (count 0) are not reachable by
  any exact gradient; weight bumping handles them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .._validate import integer, real

__all__ = ["FirstSpikeCE", "MaxVoltageCE", "SpikeTimeMSE", "CountBounds"]

FS_CE, VMAX_CE, MSE = 0, 1, 2


@dataclass(frozen=True)
class FirstSpikeCE:
    """First-spike-time cross-entropy with W&P's early-spike regulariser.

    Parameters
    ----------
    tau0 : float
        Temperature of the softmax over -t (ms), > 0.
    tau1 : float
        Time scale of the regulariser (ms), > 0.
    alpha : float
        Weight of the regulariser alpha (exp(t_label/tau1) - 1), >= 0.
    """

    tau0: float = 0.5
    tau1: float = 6.4
    alpha: float = 3e-3

    def __post_init__(self):
        object.__setattr__(self, "tau0", real("tau0", self.tau0, lo=0.0, lo_open=True))
        object.__setattr__(self, "tau1", real("tau1", self.tau1, lo=0.0, lo_open=True))
        object.__setattr__(self, "alpha", real("alpha", self.alpha, lo=0.0))

    code = FS_CE
    readout = "spike"

    def params(self):
        return np.array([self.tau0, self.tau1, self.alpha])


@dataclass(frozen=True)
class MaxVoltageCE:
    """Cross-entropy of the leaky read-outs' voltage maxima.

    Parameters
    ----------
    scale : float
        Inverse temperature (1/mV), > 0: logits are ``scale * V_max``.
    """

    scale: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "scale", real("scale", self.scale, lo=0.0, lo_open=True))

    code = VMAX_CE
    readout = "voltage"

    def params(self):
        return np.array([self.scale, 0.0, 0.0])


@dataclass(frozen=True)
class SpikeTimeMSE:
    """Mean squared error of the output first-spike times against class targets.

    Parameters
    ----------
    t_correct, t_wrong : float
        Target times (ms) of the label neuron and of the other outputs.
    scale : float
        Time unit of the error (ms), > 0.
    """

    t_correct: float = 10.0
    t_wrong: float = 20.0
    scale: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "t_correct", real("t_correct", self.t_correct))
        object.__setattr__(self, "t_wrong", real("t_wrong", self.t_wrong))
        object.__setattr__(self, "scale", real("scale", self.scale, lo=0.0, lo_open=True))

    code = MSE
    readout = "spike"

    def params(self):
        return np.array([self.t_correct, self.t_wrong, self.scale])


@dataclass(frozen=True)
class CountBounds:
    """Spike-count bounds regulariser on the spiking hidden (and output) layers.

    Parameters
    ----------
    beta : float
        Strength (dimensionless), >= 0.
    c_min, c_max : int
        Allowed spikes per neuron and sample, 0 <= c_min <= c_max.
    layers : "hidden" or "all"
        Which spiking layers are regularised.
    """

    beta: float = 1e-3
    c_min: int = 0
    c_max: int = 3
    layers: str = "hidden"

    def __post_init__(self):
        object.__setattr__(self, "beta", real("beta", self.beta, lo=0.0))
        object.__setattr__(self, "c_min", integer("c_min", self.c_min, lo=0))
        object.__setattr__(self, "c_max", integer("c_max", self.c_max, lo=0))
        if self.c_max < self.c_min:
            raise ValueError(f"c_max={self.c_max} is not allowed with c_min={self.c_min}; need c_min <= c_max")
        if self.layers not in ("hidden", "all"):
            raise ValueError(f"layers={self.layers!r} is not allowed; use 'hidden' or 'all'")

    def params(self):
        return np.array([self.beta, float(self.c_min), float(self.c_max)])


@njit(cache=True)
def sample_loss(code, lp, reg, reg_pop, t_end, label, sp_t, sp_n, ns, first_sp, vm_v,
                pop_off, neuron_pop, out_pop, dl_dt, dl_dv):
    """Loss of one sample; fills dl_dt[:ns] and dl_dv (zeroed first).

    ``lp``: loss parameters (see the classes); ``reg`` = (beta, c_min, c_max) of
    :class:`CountBounds` applied to populations with ``reg_pop[p] != 0``.
    Returns (loss, prediction, correct)."""
    for k in range(ns):
        dl_dt[k] = 0.0
    for n in range(dl_dv.shape[0]):
        dl_dv[n] = 0.0
    off = pop_off[out_pop]
    no = pop_off[out_pop + 1] - off
    loss = 0.0
    pred = -1
    correct = False
    if code == VMAX_CE:
        sc = lp[0]
        m = -math.inf
        for i in range(no):
            z = sc * vm_v[off + i]
            if z > m:
                m = z
                pred = i
        tot = 0.0
        for i in range(no):
            tot += math.exp(sc * vm_v[off + i] - m)
        loss = m + math.log(tot) - sc * vm_v[off + label]
        for i in range(no):
            pi = math.exp(sc * vm_v[off + i] - m) / tot
            dl_dv[off + i] = sc * (pi - (1.0 if i == label else 0.0))
        correct = sc * vm_v[off + label] >= m
    else:
        tmin = math.inf
        for i in range(no):
            k = first_sp[off + i]
            if k >= 0 and sp_t[k] < tmin:
                tmin = sp_t[k]
                pred = i
        ky = first_sp[off + label]
        correct = ky >= 0 and sp_t[ky] <= tmin
        if code == FS_CE:
            tau0 = lp[0]
            tau1 = lp[1]
            alpha = lp[2]
            ty = sp_t[ky] if ky >= 0 else t_end
            m = min(tmin, t_end)
            tot = 0.0
            for i in range(no):
                k = first_sp[off + i]
                ti = sp_t[k] if k >= 0 else t_end
                tot += math.exp(-(ti - m) / tau0)
            ereg = math.exp(ty / tau1)
            loss = (ty - m) / tau0 + math.log(tot) + alpha * (ereg - 1.0)
            for i in range(no):
                k = first_sp[off + i]
                if k >= 0:
                    pi = math.exp(-(sp_t[k] - m) / tau0) / tot
                    d = -pi / tau0
                    if i == label:
                        d += 1.0 / tau0 + alpha * ereg / tau1
                    dl_dt[k] += d
        else:  # MSE
            tc = lp[0]
            tw = lp[1]
            sc = lp[2]
            for i in range(no):
                k = first_sp[off + i]
                ti = sp_t[k] if k >= 0 else t_end
                tg = tc if i == label else tw
                r = (ti - tg) / sc
                loss += 0.5 * r * r
                if k >= 0:
                    dl_dt[k] += r / sc
    beta = reg[0]
    if beta > 0.0:
        cmin = reg[1]
        cmax = reg[2]
        N = first_sp.shape[0]
        cnt = np.zeros(N)
        for k in range(ns):
            n = sp_n[k]
            if n >= 0:
                cnt[n] += 1.0
        c = beta / t_end
        for k in range(ns):
            n = sp_n[k]
            if n >= 0 and reg_pop[neuron_pop[n]] != 0:
                if cnt[n] > cmax:
                    loss += c * (t_end - sp_t[k])
                    dl_dt[k] -= c
                elif cnt[n] < cmin:
                    loss += c * sp_t[k]
                    dl_dt[k] += c
    return loss, pred, correct
