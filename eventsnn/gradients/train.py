"""Minibatch gradients, evaluation and a fit loop for :class:`~.snn.SNN`.

Samples of a minibatch are independent: :func:`_batch_kernel` runs forward pass, loss
and adjoint pass of every sample in a Numba ``prange`` loop over the CPU cores; each
sample writes its own gradient row and the rows are summed afterwards in a fixed order,
so results are bitwise independent of the number of threads.

Remedies for silent neurons (they get no exact gradient): *weight bumping* (Göltz et
al. 2021, "Fast and energy-efficient neuromorphic deep learning with first-spike
times", Nat. Mach. Intell. 3:823): a silent label neuron has its incoming weights
raised by ``bump`` (mV) per sample, and neurons silent for a whole epoch have theirs
raised by ``bump`` at its end; and the :class:`~.losses.CountBounds` regulariser.  :func:`fit` reports the
fraction of silent neurons per epoch.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from .._validate import boolean, integer, real
from ..encoding import SpikeInput
from .eventprop import (NCOUNT, OK, TOO_MANY_SPIKES, EventPropCounts, backward_kernel, forward_kernel,
                        new_log)
from .losses import CountBounds, FirstSpikeCE, MaxVoltageCE, sample_loss
from .optim import Adam
from .snn import SNN

__all__ = ["loss_and_grad", "evaluate", "fit", "simulate", "Trace", "BatchResult"]


class LossSpec(NamedTuple):
    """The loss as the kernels read it (``losses.sample_loss``)."""

    code: int
    #: float64: the loss's parameters
    params: np.ndarray
    #: float64: the regulariser's parameters
    reg: np.ndarray
    #: int64: the populations it reads
    reg_pop: np.ndarray
    #: the output population
    out_pop: int


class BatchOut(NamedTuple):
    """Per-sample results of ``_batch_kernel`` (row b: sample idx[b])."""

    loss: np.ndarray
    pred: np.ndarray
    correct: np.ndarray
    #: float64 [B or 1, n_params]: each sample's gradient
    grads: np.ndarray
    #: int64 [B, NCOUNT]: each sample's counts
    cnt: np.ndarray
    #: int64 [B, N]: spikes per neuron
    nspk: np.ndarray
    #: float64: dL/dt of every input spike (NaN outside the batch)
    dtin: np.ndarray
    #: int64 [B]: OK or TOO_MANY_SPIKES
    status: np.ndarray


@njit(cache=True, parallel=True)
def _batch_kernel(A, w, inputs, idx, labels, LS, t_end, graze, cap, log_cap, want_grad, clip, goff, O):
    """Forward pass, loss and (``want_grad``) adjoint pass of samples ``idx`` of
    ``inputs`` (ptr, times, ids), one sample per thread; results in ``O``.  ``goff``
    = (d0, d1, t0, t1): the delays' and thresholds' slices of a gradient row (empty
    when they are not learned)."""
    d0, d1, t0, t1 = goff
    in_ptr, in_t, in_id = inputs
    # (unpacked outside the parallel loop: with Numba 0.68, writes through a record's
    # field inside it, O.dtin[i] = x, did not reach the caller's array)
    loss_out, pred_out, corr_out, grads, cnt_out, nspk_out, dtin, status = O
    B = idx.shape[0]
    N = A.neuron_pop.shape[0]
    for b in prange(B):
        s = idx[b]
        lo = in_ptr[s]
        hi = in_ptr[s + 1]
        it = in_t[lo:hi]
        ii = in_id[lo:hi]
        F = new_log(cap, log_cap, N)
        cnt = cnt_out[b]
        cnt[:] = 0
        st, ns, nl = forward_kernel(A, w, it, ii, t_end, F, cnt)
        status[b] = st
        if st != OK:
            continue
        dl_dt = np.empty(ns)
        dl_dv = np.empty(N)
        loss, pred, corr = sample_loss(LS.code, LS.params, LS.reg, LS.reg_pop, t_end, labels[s], F.sp_t,
                                       F.sp_n, ns, F.first_sp, F.vm_v, A.pop_off, A.neuron_pop, LS.out_pop,
                                       dl_dt, dl_dv)
        loss_out[b] = loss
        pred_out[b] = pred
        corr_out[b] = corr
        row = nspk_out[b]
        row[:] = 0
        for k in range(hi - lo, ns):
            row[F.sp_n[k]] += 1
        if want_grad:
            g = grads[b]
            g[:] = 0.0
            err = np.empty(ns)
            backward_kernel(A, w, t_end, graze, F, ns, nl, dl_dt, dl_dv, g, g[d0:d1], g[t0:t1], err, cnt)
            for j in range(hi - lo):
                dtin[lo + j] = err[j]
            if clip < math.inf:
                nrm = 0.0
                for i in range(g.shape[0]):
                    nrm += g[i] * g[i]
                nrm = math.sqrt(nrm)
                if nrm > clip:
                    f = clip / nrm
                    for i in range(g.shape[0]):
                        g[i] *= f


def _check_inputs(net, inputs, labels, idx, kind=SNN):
    """Validated (labels, idx) for ``net`` (an instance of ``kind``: SNN, or the grid
    trainer's GridSNN) and ``inputs``."""
    if not isinstance(net, kind):
        raise TypeError(f"net must be an eventsnn.gradients.{kind.__name__}, got {type(net).__name__}")
    net._check_params()
    if not isinstance(inputs, SpikeInput):
        raise TypeError(f"inputs must be an eventsnn.encoding.SpikeInput, got {type(inputs).__name__}")
    if inputs.n_inputs != net.sizes[0]:
        raise ValueError(f"inputs have n_inputs={inputs.n_inputs}; the network has {net.sizes[0]} inputs")
    return labels_and_idx(inputs.n_samples, net.sizes[-1], labels, idx)


def labels_and_idx(n, n_out, labels, idx):
    """Validated (labels as int64 in [0, n_out), one per sample; sample indices idx in
    [0, n), all samples if None) for a set of ``n`` samples."""
    if labels is None:
        labels = np.zeros(n, np.int64)
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {lab.dtype}")
    if lab.shape != (n,):
        raise ValueError(f"labels has shape {lab.shape}; need ({n},), one per sample")
    if n and (lab.min() < 0 or lab.max() >= n_out):
        bad = lab[(lab < 0) | (lab >= n_out)][0]
        raise ValueError(f"labels contains {bad}; labels must be in [0, {n_out})")
    if idx is None:
        idx = np.arange(n, dtype=np.int64)
    else:
        idx = np.asarray(idx)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"idx must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"idx must index samples in [0, {n}), got {idx.min()}..{idx.max()}")
    return lab.astype(np.int64), idx


def _loss_spec(net, loss, regularizer):
    if loss is None:
        loss = FirstSpikeCE() if net.output == "spike" else MaxVoltageCE()
    if not hasattr(loss, "code") or not hasattr(loss, "params"):
        raise TypeError(f"loss must be one of the losses in eventsnn.gradients.losses, got {type(loss).__name__}")
    if loss.readout != net.output:
        raise ValueError(f"loss {type(loss).__name__} reads out '{loss.readout}' but the network has "
                         f"output={net.output!r}")
    L = len(net.sizes) - 1
    reg_pop = np.zeros(L, np.int64)
    if regularizer is None:
        reg = np.zeros(3)
    else:
        if not isinstance(regularizer, CountBounds):
            raise TypeError(f"regularizer must be a CountBounds or None, got {type(regularizer).__name__}")
        reg = regularizer.params()
        for p in range(L):
            spiking = not (p == L - 1 and net.output == "voltage")
            if spiking and (p < L - 1 or regularizer.layers == "all"):
                reg_pop[p] = 1
    return loss, reg, reg_pop


@dataclass(frozen=True)
class BatchResult:
    """Result of :func:`loss_and_grad` / :func:`evaluate` on a set of samples.

    Attributes
    ----------
    loss : float
        Mean loss over the samples.
    grad : ndarray or None
        d(mean loss)/d params (flat, :attr:`SNN.params` layout; 1/mV).
    grads : list of ndarray or None
        The same, one (n_pre, n_post) array per projection.
    input_grad : ndarray or None
        For every input spike (aligned with ``inputs.times``), dL_b/dt of the loss of
        its own sample b (1/ms); NaN for samples not in the batch.
    losses, predictions, correct : ndarray
        Per sample.
    spike_counts : ndarray (n_samples, n_neurons)
        Spikes per neuron and sample.
    counts : EventPropCounts
        Summed forward and backward operation counts.
    """

    loss: float
    grad: np.ndarray | None
    grads: list | None
    input_grad: np.ndarray | None
    losses: np.ndarray
    predictions: np.ndarray
    correct: np.ndarray
    spike_counts: np.ndarray
    counts: EventPropCounts

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if self.correct.size else math.nan


def _goff(net):
    d = net.groups.get("delays", slice(0, 0))
    t = net.groups.get("thresholds", slice(0, 0))
    return (d.start, d.stop, t.start, t.stop)


class _Threads:
    """Chooses, minibatch by minibatch, between one thread and all of Numba's threads:
    the parallel setting runs when the median of its last ``window`` minibatches (time
    per sample) beats the serial one's by ``margin``; the setting not chosen is
    re-measured every ``probe`` minibatches.  On a shared machine the parallel batch
    can lose badly to the serial one: with another process busy on one of two cores,
    the barrier at the end of every minibatch waits for the starved thread.  Per-batch
    times are noisy (activity differs between samples), hence medians and a margin
    that favours the serial setting.  Results do not depend on the choice (fixed-order
    sums)."""

    def __init__(self, n_max, probe=32, window=7, margin=0.9):
        self.opts = (1, n_max) if n_max > 1 else (1,)
        self.hist = {o: [] for o in self.opts}
        self.probe, self.window, self.margin = probe, window, margin
        self.i = 0

    def best(self):
        if len(self.opts) == 1:
            return 1
        med = {o: float(np.median(h)) for o, h in self.hist.items()}
        return self.opts[1] if med[self.opts[1]] < self.margin * med[1] else 1

    def pick(self):
        short = [o for o in self.opts if len(self.hist[o]) < 3]
        if short:
            return min(short, key=lambda o: len(self.hist[o]))
        self.i += 1
        b = self.best()
        if self.i % self.probe == 0 and len(self.opts) > 1:
            return self.opts[0] if b != self.opts[0] else self.opts[1]
        return b

    def record(self, o, seconds, n):
        if n:
            h = self.hist[o]
            h.append(seconds / n)
            del h[:-self.window]


def _run(net, inputs, labels, idx, loss, regularizer, want_grad, graze, clip=math.inf, max_spikes=10**7,
         threads=None):
    loss, reg, reg_pop = _loss_spec(net, loss, regularizer)
    B = idx.size
    N = net.n_neurons
    nW = net.n_params
    lossv = np.zeros(B)
    pred = np.zeros(B, np.int64)
    corr = np.zeros(B, np.bool_)
    grads = np.zeros((B if want_grad else 1, nW))
    cnt = np.zeros((B, NCOUNT), np.int64)
    nspk = np.zeros((B, N), np.int64)
    dtin = np.full(inputs.times.size if want_grad else 1, np.nan)
    status = np.zeros(B, np.int64)
    per = np.diff(inputs.ptr)[idx] if B else np.zeros(1, np.int64)
    # start from the capacity the last batch needed: a batch that overflows is run
    # again with 4x the capacity, and active networks overflowed every batch
    cap = max(256, 2 * int(per.max()) if per.size else 256, getattr(net, "_cap_hint", 0))
    while True:
        log_cap = cap * (1 + net._max_out)
        args = (net.arch(), net.params, (inputs.ptr, inputs.times, inputs.ids), idx, labels,
                LossSpec(loss.code, loss.params(), reg, reg_pop, len(net.sizes) - 2), net.t_end, graze,
                cap, log_cap, want_grad, clip, _goff(net), BatchOut(lossv, pred, corr, grads, cnt, nspk, dtin, status))
        if threads is None:
            _batch_kernel(*args)
        else:
            nt = threads.pick()
            before = numba.get_num_threads()
            numba.set_num_threads(nt)
            try:
                t0 = time.perf_counter()
                _batch_kernel(*args)
                threads.record(nt, time.perf_counter() - t0, B)
            finally:
                numba.set_num_threads(before)
        if not (status == TOO_MANY_SPIKES).any():
            break
        if cap >= max_spikes:
            raise RuntimeError(f"a sample produced more than max_spikes={max_spikes} spikes "
                               f"(runaway activity?); check weights or shorten t_end")
        cap = min(4 * cap, max_spikes)
    net._cap_hint = cap
    g = None
    gl = None
    if want_grad:
        g = grads.sum(axis=0) / max(B, 1)   # fixed-order reduction: thread-count independent
        gl = [g[net._woff[q]:net._woff[q + 1]].reshape(net.weights[q].shape) for q in range(len(net.weights))]
    return BatchResult(float(lossv.mean()) if B else math.nan, g, gl, dtin if want_grad else None,
                       lossv, pred, corr, nspk, EventPropCounts.from_array(cnt.sum(axis=0)))


def loss_and_grad(net, inputs, labels=None, loss=None, *, idx=None, regularizer=None, graze=1e-3, clip=None):
    """Exact loss and gradient of ``net`` on samples ``idx`` of ``inputs``.

    Parameters
    ----------
    net : SNN
    inputs : SpikeInput
        Input spike trains (ms).
    labels : array of int, shape (n_samples,)
        Class labels (output neuron index); may be None for losses that ignore them.
    loss : FirstSpikeCE, MaxVoltageCE or SpikeTimeMSE
        Default: FirstSpikeCE for spiking, MaxVoltageCE for voltage read-outs.
    idx : array of int or None
        The samples of the batch (default: all).
    regularizer : CountBounds or None
    graze : float
        Spikes with ``I - theta < graze * theta`` at the crossing get a zeroed jump (see
        :mod:`.eventprop`); 0 disables the guard.
    clip : float or None
        If given (> 0), every sample's gradient is scaled down to Euclidean norm
        ``clip`` (1/mV) when it is larger, before averaging (per-sample clipping;
        exact gradients are heavy-tailed: a misclassified sample whose label neuron
        crosses threshold slowly can outweigh a whole batch).  None: no clipping.

    Returns
    -------
    BatchResult
    """
    labels, idx = _check_inputs(net, inputs, labels, idx)
    graze = real("graze", graze, lo=0.0)
    clip = _check_clip(clip)
    return _run(net, inputs, labels, idx, loss, regularizer, True, graze, clip)


def _check_clip(clip):
    if clip is None:
        return math.inf
    return real("clip", clip, lo=0.0, lo_open=True)


def evaluate(net, inputs, labels=None, loss=None, *, idx=None, regularizer=None):
    """Forward passes and losses only (no gradient); see :func:`loss_and_grad`."""
    labels, idx = _check_inputs(net, inputs, labels, idx)
    return _run(net, inputs, labels, idx, loss, regularizer, False, 0.0)


@dataclass(frozen=True)
class Trace:
    """One sample's forward pass.

    ``times`` (ms), ``neurons`` (global id; input spikes have id ``-1 - input``) and
    ``currents`` (I at the spike, mV) of every recorded spike, input spikes first;
    ``vmax``/``tmax`` (mV, ms) of every neuron's voltage maximum (leaky read-outs
    only, else 0/-1); ``counts`` the forward operation counts."""

    times: np.ndarray
    neurons: np.ndarray
    currents: np.ndarray
    vmax: np.ndarray
    tmax: np.ndarray
    counts: EventPropCounts

    def spikes_of(self, net, layer):
        """(times, local ids) of the spikes of ``layer`` (>= 1)."""
        sl = net.layer_slice(layer)
        m = (self.neurons >= sl.start) & (self.neurons < sl.stop)
        return self.times[m], self.neurons[m] - sl.start


def simulate(net, inputs, b=0):
    """Exact forward pass of sample ``b`` of ``inputs``; returns a :class:`Trace`."""
    _check_inputs(net, inputs, None, None)
    b = integer("b", b, lo=0, hi=inputs.n_samples - 1)
    it, ii = inputs.sample(b)
    it = np.ascontiguousarray(it)
    ii = np.ascontiguousarray(ii)
    N = net.n_neurons
    cap = max(256, 2 * it.size)
    while True:
        F = new_log(cap, cap * (1 + net._max_out), N)
        cnt = np.zeros(NCOUNT, np.int64)
        st, ns, nl = forward_kernel(net.arch(), net.params, it, ii, net.t_end, F, cnt)
        if st == OK:
            break
        cap *= 4
        if cap > 10**7:
            raise RuntimeError("more than 1e7 spikes in one sample (runaway activity?)")
    spk = net._arch["pop_spk"][net._arch["neuron_pop"]] != 0
    vm_v = np.where(spk, 0.0, F.vm_v)
    vm_t = np.where(spk, -1.0, F.vm_t)
    return Trace(F.sp_t[:ns].copy(), F.sp_n[:ns].copy(), F.sp_i[:ns].copy(), vm_v, vm_t,
                 EventPropCounts.from_array(cnt))


def _bump(net, silent, bump):
    """Raise every incoming weight of the neurons flagged in ``silent`` by ``bump`` (mV)."""
    off = net._arch["pop_off"]
    for q, p in enumerate(net.projections):
        cols = silent[off[p.post - 1]:off[p.post]]
        if cols.any():
            net.weights[q][:, cols] += bump


def fit(net, inputs, labels, loss=None, *, epochs=10, batch_size=32, optimizer=None, seed=0,
        regularizer=None, bump=0.0, bump_batch=0.0, graze=1e-3, clip=None, validation=None, test=None, callback=None,
        verbose=False, threads="auto"):
    """Train ``net`` in place with minibatch Adam on exact EventProp gradients.

    Parameters
    ----------
    net : SNN
    inputs : SpikeInput
        Training inputs; ``labels`` their classes.
    loss : loss object or None
        See :func:`loss_and_grad`.
    epochs, batch_size : int
        Number of passes and samples per minibatch (the last batch may be smaller).
    optimizer : Adam or None
        Default ``Adam(lr=5e-3, decay=0.95)``; ``end_epoch`` is called after each epoch.
        After every step, learned delays and thresholds are projected onto their
        bounds (``SNN.constrain``); weight decay applies to the weights only.
    seed : int
        Seed of the per-epoch shuffles (``default_rng([seed, epoch])``).
    regularizer : CountBounds or None
    bump : float
        Weight bumping (mV, >= 0; 0 = off): after each minibatch, for every sample of
        the batch whose label neuron stayed silent, the weights into that label neuron
        from the presynaptic neurons that fired in the sample get ``bump`` (so the
        label neuron learns to answer the pattern it missed; bumping all its weights
        made it fire for every pattern and destabilised training); after each epoch, every spiking neuron
        that did not fire in any sample of the epoch (a dead neuron) gets ``bump``
        added to each incoming weight.  (Bumping neurons that are merely silent in
        one minibatch pushed selective hidden neurons up all the time: on Yin-Yang
        activity crept up and accuracy fell late in training.)  This is a heuristic,
        not a gradient: it does not always prevent the network from falling silent
        (one of five Yin-Yang seeds did).
    bump_batch : float
        Weight bumping (mV, >= 0; 0 = off) of every spiking neuron that was silent in
        all samples of a minibatch, after that minibatch (keep it small: selective
        neurons are often silent in a whole batch).
    graze : float
        Grazing-spike guard, see :func:`loss_and_grad`.
    clip : float or None
        Per-sample gradient clipping, see :func:`loss_and_grad`.
    validation, test : (SpikeInput, labels) or None
        Evaluated after every epoch.
    callback : callable or None
        Called as ``callback(epoch, metrics_dict, net)`` after every epoch.
    verbose : bool
        Print one line per epoch.
    threads : "auto" or None
        "auto": every minibatch runs on one thread or on all of Numba's threads
        (``numba.get_num_threads()``), whichever has been faster on the last
        minibatches (the other is re-measured every 32): on a quiet machine it runs
        in parallel, and a busy core no longer makes training slower than serial (within
        a few per cent: the choice is measured); None: always Numba's current setting.
        Results are bitwise the same either way.

    Returns
    -------
    list of dict
        Per epoch: ``loss``, ``accuracy`` (training, during the epoch), ``silent``
        (fraction of (sample, spiking neuron) pairs without a spike), ``silent_label``
        (fraction of samples whose label neuron stayed silent), ``spikes_per_sample``
        (neuron spikes), ``bumped`` (bump events), ``epoch_s`` (wall time of the training
        part), ``cpu_s`` (CPU time of this process in that part, all threads),
        ``counts`` (EventPropCounts as a dict), ``lr``, and ``val_*``/``test_*``
        loss and accuracy when given.
    """
    labels, _ = _check_inputs(net, inputs, labels, None)
    epochs = integer("epochs", epochs, lo=0)
    batch_size = integer("batch_size", batch_size, lo=1)
    seed = integer("seed", seed, lo=0)
    bump = real("bump", bump, lo=0.0)
    bump_batch = real("bump_batch", bump_batch, lo=0.0)
    graze = real("graze", graze, lo=0.0)
    clip = _check_clip(clip)
    verbose = boolean("verbose", verbose)
    if threads not in ("auto", None):
        raise ValueError(f"threads={threads!r} is not allowed; use 'auto' or None")
    chooser = _Threads(numba.get_num_threads()) if threads == "auto" else None
    if optimizer is None:
        optimizer = Adam(lr=5e-3, decay=0.95)
    if not isinstance(optimizer, Adam):
        raise TypeError(f"optimizer must be an eventsnn.gradients.Adam, got {type(optimizer).__name__}")
    loss, _, _ = _loss_spec(net, loss, regularizer)
    evals = {}
    for name, ds in (("val", validation), ("test", test)):
        if ds is not None:
            arg = "validation" if name == "val" else name
            if not (isinstance(ds, tuple) and len(ds) == 2):
                raise TypeError(f"{arg} must be (SpikeInput, labels), got {type(ds).__name__}")
            try:
                evals[name] = (ds[0], _check_inputs(net, ds[0], ds[1], None)[0])
            except (TypeError, ValueError) as e:
                # name the argument (the checks speak of "inputs" and "labels")
                raise type(e)(f"{arg}=(inputs, labels): {e}") from None
    L = len(net.sizes) - 1
    spk_neuron = np.concatenate([np.full(net.sizes[l], not (l == L and net.output == "voltage"))
                                 for l in range(1, L + 1)])
    out_sl = net.layer_slice(L)
    n = inputs.n_samples
    history = []
    for ep in range(epochs):
        t0 = time.perf_counter()
        c0 = time.process_time()
        order = np.random.default_rng([seed, ep]).permutation(n)
        tot_loss = 0.0
        n_corr = 0
        n_silent = 0
        n_silent_label = 0
        n_spikes = 0
        n_bumped = 0
        epoch_spikes = np.zeros(net.n_neurons, np.int64)
        counts = EventPropCounts()
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            r = _run(net, inputs, labels, idx, loss, regularizer, True, graze, clip, threads=chooser)
            optimizer.step(net.params, r.grad, wd_stop=net.n_weights)
            net.constrain()
            tot_loss += float(r.losses.sum())
            n_corr += int(r.correct.sum())
            zero = r.spike_counts == 0
            n_silent += int(zero[:, spk_neuron].sum())
            if net.output == "spike":
                n_silent_label += int(zero[np.arange(idx.size), out_sl.start + labels[idx]].sum())
            n_spikes += int(r.spike_counts.sum())
            counts = counts + r.counts
            epoch_spikes += r.spike_counts.sum(axis=0)
            if bump_batch > 0.0:
                silent = zero.all(axis=0) & spk_neuron
                if silent.any():
                    _bump(net, silent, bump_batch)
                    n_bumped += int(silent.sum())
            if bump > 0.0:
                if net.output == "spike":
                    # a silent label neuron: raise its incoming weights once per sample
                    lab_silent = zero[np.arange(idx.size), out_sl.start + labels[idx]]
                    if lab_silent.any():
                        onehot = np.zeros((int(lab_silent.sum()), net.sizes[-1]))
                        onehot[np.arange(onehot.shape[0]), labels[idx][lab_silent]] = 1.0
                        for q, pr in enumerate(net.projections):
                            if pr.post == L:
                                if pr.pre == 0:
                                    active = np.ones((onehot.shape[0], net.sizes[0]))
                                else:
                                    ps = net.layer_slice(pr.pre)
                                    active = (~zero[lab_silent][:, ps]).astype(np.float64)
                                net.weights[q] += bump * (active.T @ onehot)
                        n_bumped += int(lab_silent.sum())
        if bump > 0.0:
            # neurons that stayed silent for the whole epoch are dead: revive them
            dead = (epoch_spikes == 0) & spk_neuron
            if dead.any():
                _bump(net, dead, bump)
                n_bumped += int(dead.sum())
        optimizer.end_epoch()
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        m = {"epoch": ep + 1, "loss": tot_loss / n, "accuracy": n_corr / n,
             "silent": n_silent / (n * max(int(spk_neuron.sum()), 1)), "silent_label": n_silent_label / n,
             "spikes_per_sample": n_spikes / n, "bumped": n_bumped, "epoch_s": dt, "cpu_s": cpu,
             "lr": optimizer.lr, "counts": counts.as_dict()}
        for name, (X, y) in evals.items():
            e = _run(net, X, y, np.arange(X.n_samples, dtype=np.int64), loss, regularizer, False, 0.0)
            m[f"{name}_loss"] = e.loss
            m[f"{name}_accuracy"] = e.accuracy
        history.append(m)
        if verbose:
            extra = "".join(f" {k}={m[k]:.4f}" for k in m if k.startswith(("val_acc", "test_acc")))
            print(f"epoch {ep + 1:3d} loss={m['loss']:.4f} acc={m['accuracy']:.4f} silent={m['silent']:.3f} "
                  f"silent_label={m['silent_label']:.3f} "
                  f"spikes/sample={m['spikes_per_sample']:.1f} {dt:.2f}s{extra}", flush=True)
        if callback is not None:
            callback(ep, m, net)
    return history
