"""Plots of runs, weights, plasticity rules, training and operation counts (matplotlib).

Every function draws on ``ax`` (a new figure and axes when None) and returns the Axes,
with labelled axes and units (ms, mV, Hz).  matplotlib is an optional dependency
(``pip install "eventsnn[plot]"``): it is imported when a function draws, never when
eventsnn or this module is imported, and a missing matplotlib raises ImportError then.

Spike data may be given as a :class:`~eventsnn.results.Result` (its populations then
colour and select spikes), a :class:`~eventsnn.results.Spikes` or a (times, ids) tuple.

=========================  ==============================================================
:func:`raster`             spike raster, one colour per population
:func:`population_rate`    population rate (Hz per neuron) in time bins
:func:`isi_hist`           inter-spike intervals (ms)
:func:`cv_hist`            per-neuron coefficient of variation of the intervals
:func:`traces`             sampled states (``StateSamples``: V, currents, threshold offset)
:func:`weight_hist`        weight distribution (mV)
:func:`weight_matrix`      weights as a (presynaptic x postsynaptic) image
:func:`stdp_window`        weight change of one pre/post pair against their time difference
:func:`training_curves`    loss, accuracy and silent fraction per epoch (``gradients.fit``)
:func:`op_counts`          operations of a run, event-driven vs clock-driven vs dense ANN
:func:`subplots`           ``matplotlib.pyplot.subplots``, with the same ImportError
=========================  ==============================================================
"""
from __future__ import annotations

import math

import numpy as np

from .analysis import binned_counts, cv_per_neuron, isi

__all__ = ["raster", "population_rate", "isi_hist", "cv_hist", "traces", "weight_hist",
           "weight_matrix", "stdp_window", "training_curves", "op_counts", "subplots"]

_INSTALL = 'eventsnn.plot needs matplotlib: pip install "eventsnn[plot]"'


# ============================================================================ helpers


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(_INSTALL) from e
    return plt


def subplots(*args, **kwargs):
    """``matplotlib.pyplot.subplots(*args, **kwargs)`` (figure and axes for several
    panels); ImportError naming the ``plot`` extra when matplotlib is missing."""
    return _pyplot().subplots(*args, **kwargs)


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    return ax


def _is_result(data):
    return hasattr(data, "spikes") and hasattr(data, "populations")


def _spike_arrays(data):
    """(times, ids) of a Result, Spikes or (times, ids) tuple."""
    if _is_result(data):
        data = data.spikes
    if hasattr(data, "times") and hasattr(data, "ids"):
        t, i = data.times, data.ids
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        t, i = data
    else:
        raise TypeError(f"data must be an eventsnn Result, Spikes or a (times, ids) tuple, "
                        f"got {type(data).__name__}")
    t = np.asarray(t, dtype=float).ravel()
    i = np.asarray(i).ravel()
    if i.dtype.kind not in "iu":
        raise TypeError(f"spike ids must be integers, got dtype {i.dtype}")
    if t.shape != i.shape:
        raise ValueError(f"{t.size} spike times but {i.size} ids; they must be aligned")
    return t, i.astype(np.int64)


def _pop_names(population):
    """A population argument as a list of names (None stays None)."""
    if population is None:
        return None
    if isinstance(population, str):
        return [population]
    name = getattr(population, "name", None)   # a Population object
    if isinstance(name, str):
        return [name]
    names = list(population)
    if not all(isinstance(p, str) for p in names):
        raise TypeError(f"population must be a name, a list of names or None, got {population!r}")
    return names


def _select(data, population, n=None):
    """Spikes of one population: (times, local ids, neurons, label, (t_start, t_stop) or None).

    ``population`` names a population of a Result (None: every neuron, global ids);
    for Spikes and tuples it must be None and ``n`` gives the number of neurons
    (default: largest id + 1)."""
    t, i = _spike_arrays(data)
    if _is_result(data):
        interval = (float(data.t_start), float(data.t_stop))
        if population is None:
            size = sum(s for _, s in data.populations.values())
            return t, i, (size if n is None else int(n)), "all neurons", interval
        s = data.spikes_of(population)
        name = population if isinstance(population, str) else population.name
        return (np.asarray(s.times, float), np.asarray(s.ids, np.int64), data.populations[name][1], name,
                interval)
    if population is not None:
        raise ValueError(f"population={population!r} needs a Result (its populations); for Spikes or "
                         f"(times, ids), select the spikes first and pass n=")
    if n is None:
        n = int(i.max()) + 1 if i.size else 0
    return t, i, int(n), "all neurons", None


def _colors(colors, names):
    """Colour per population name from None (the property cycle), one colour, a list or
    a dict."""
    if colors is None:
        return {nm: f"C{k % 10}" for k, nm in enumerate(names)}
    if isinstance(colors, str) or (isinstance(colors, tuple) and len(colors) in (3, 4)
                                   and all(isinstance(c, (int, float)) for c in colors)):
        return {nm: colors for nm in names}
    if isinstance(colors, dict):
        missing = [nm for nm in names if nm not in colors]
        if missing:
            raise ValueError(f"colors has no entry for population(s) {missing}")
        return {nm: colors[nm] for nm in names}
    colors = list(colors)
    if len(colors) < len(names):
        raise ValueError(f"colors has {len(colors)} entries for {len(names)} populations")
    return dict(zip(names, colors))


# ============================================================================ spikes


def raster(data, ax=None, populations=None, colors=None, markersize=2.0, per_population=None):
    """Spike raster: one dot per spike at (time, neuron id).

    Parameters
    ----------
    data : Result, Spikes or (times, ids)
        Spike times (ms) and global neuron ids.
    ax : matplotlib Axes, optional
    populations : None, dict, list of names or False
        None: the populations of a Result (none for Spikes); a dict name ->
        (offset, size) of global ids; a list of names: those populations of the Result;
        False: no grouping.  With populations, each is drawn in its own colour (one
        ``Line2D`` per population, spikes outside them are left out) and named in the
        legend.
    colors : None, colour, list or dict name -> colour
        Default: the property cycle (C0, C1, ...); without populations, black.
    markersize : float
        Dot size (points).
    per_population : int, optional
        Draw only the first ``per_population`` neurons of each population, stacked
        without gaps (for large networks); the y axis then counts drawn neurons.

    Returns
    -------
    matplotlib Axes
    """
    t, i = _spike_arrays(data)
    ax = _axes(ax)
    is_res = _is_result(data)
    if populations is None:
        pops = dict(data.populations) if is_res else {}
    elif populations is False:
        pops = {}
    elif isinstance(populations, dict):
        pops = {str(k): (int(v[0]), int(v[1])) for k, v in populations.items()}
    else:
        if not is_res:
            raise ValueError("populations given as names need a Result; pass a dict name -> (offset, size)")
        names = _pop_names(populations)
        unknown = [nm for nm in names if nm not in data.populations]
        if unknown:
            raise ValueError(f"populations {unknown} are not populations of this run; known: "
                             f"{sorted(data.populations)}")
        pops = {nm: data.populations[nm] for nm in names}
    style = dict(linestyle="none", marker=".", markersize=markersize, markeredgewidth=0.0,
                 rasterized=True)
    top = 0
    if not pops:
        if per_population is not None:
            raise ValueError("per_population needs populations")
        ax.plot(t, i, color="k" if colors is None else colors, **style)
        top = int(i.max()) + 1 if i.size else 1
    else:
        cols = _colors(colors, list(pops))
        for name, (off, size) in pops.items():
            shown = size if per_population is None else min(int(per_population), size)
            m = (i >= off) & (i < off + shown)
            # stacked: population k starts where the drawn part of k-1 ended
            y0 = off if per_population is None else top
            ax.plot(t[m], i[m] - off + y0, color=cols[name], label=name, **style)
            top = max(top, y0 + shown)
        ax.legend(loc="upper right", markerscale=max(1.0, 8.0 / markersize), fontsize="small",
                  framealpha=0.9)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron id" if per_population is None
                  else f"neuron (first {int(per_population)} of each population)")
    ax.set_ylim(-0.5, top - 0.5 if top > 0 else 0.5)
    if is_res:
        ax.set_xlim(data.t_start, data.t_stop)
    return ax


def population_rate(data, population=None, bin=1.0, ax=None, *, n=None, t_start=None, t_stop=None,
                    label=None, color=None):
    """Population firing rate (Hz per neuron) in time bins, drawn as steps.

    Parameters
    ----------
    data : PopulationRate-like, Result, Spikes or (times, ids)
        An object with ``times`` (left bin edges, ms) and ``rate`` (Hz per neuron), and
        optionally ``bin`` (ms; else from the spacing of ``times``), is drawn as it is.
        Spikes are binned here: bin k is (k bin, (k+1) bin] ms.
    population : str, list of str or None
        Population name(s) of a Result (one step curve each); None: all neurons.
    bin : float
        Bin width (ms) when binning spikes.
    ax : matplotlib Axes, optional
    n : int, optional
        Number of neurons of bare Spikes / (times, ids) data (required there: silent
        neurons count).
    t_start, t_stop : float, optional
        The interval (ms); default the Result's, or (0, last spike] for bare spikes.
        A bin that sticks out of the interval is divided by the part inside it.
    label, color : optional
        Legend label and colour of a single curve.

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    if hasattr(data, "rate") and hasattr(data, "times") and not _is_result(data):
        left = np.asarray(data.times, dtype=float).ravel()
        rate = np.asarray(data.rate, dtype=float).ravel()
        if left.shape != rate.shape:
            raise ValueError(f"times has {left.size} bins but rate has {rate.size}")
        width = getattr(data, "bin", None)
        if width is None:
            if left.size < 2:
                raise ValueError("cannot infer the bin width from fewer than 2 bins; give data a bin attribute")
            width = float(np.median(np.diff(left)))
        edges = np.append(left, left[-1] + float(width)) if left.size else np.zeros(1)
        # no color= unless given: None would make every curve black instead of cycling
        ax.stairs(rate, edges, label=label or getattr(data, "population", None),
                  **({} if color is None else {"color": color}))
        ax.set_title(f"bins of {float(width):g} ms", fontsize="small")
    else:
        names = _pop_names(population) if _is_result(data) else None
        if population is not None and not _is_result(data):
            _select(data, population)   # raises the error that explains it
        if not _is_result(data) and n is None:
            raise ValueError("n= (number of neurons) is required for Spikes or (times, ids): "
                             "the rate is per neuron and silent neurons count")
        for name in names or [None]:
            times, _, size, lab, interval = _select(data, name, n)
            lo = t_start if t_start is not None else (interval[0] if interval else 0.0)
            hi = t_stop if t_stop is not None else (interval[1] if interval else
                                                     (float(times.max()) if times.size else lo + bin))
            left, counts, width = binned_counts(times, bin, lo, hi)
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = counts / max(size, 1) / (width / 1000.0)   # Hz per neuron (as PopulationRate.rate)
            single = len(names or [None]) == 1
            kw = {"color": color} if (color is not None and single) else {}
            ax.stairs(rate, np.append(left, left[-1] + bin),
                      label=label if (label is not None and single) else lab, **kw)
            ax.set_xlim(lo, hi)
        ax.set_title(f"bins of {float(bin):g} ms", fontsize="small")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz per neuron)")
    ax.set_ylim(bottom=0.0)
    if any(a.get_label() and not a.get_label().startswith("_") for a in ax.patches):
        ax.legend(fontsize="small")
    return ax


def isi_hist(data, population=None, bins=50, ax=None):
    """Histogram of the inter-spike intervals (ms) of every neuron, pooled.

    Parameters
    ----------
    data : Result, Spikes or (times, ids)
    population : str or None
        Population of a Result (None: all neurons).
    bins : int or array
        As for ``numpy.histogram`` (edges in ms).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    times, ids, _, lab, _ = _select(data, population)
    intervals, _ = isi(times, ids)
    ax = _axes(ax)
    ax.hist(intervals, bins, color="0.35")
    ax.set_xlabel("inter-spike interval (ms)")
    ax.set_ylabel("intervals")
    ax.set_title(f"{lab}: {intervals.size:,} intervals", fontsize="small")
    return ax


def cv_hist(data, population=None, bins=30, ax=None, *, n=None, min_spikes=3):
    """Histogram of the per-neuron coefficient of variation of the inter-spike intervals
    (std / mean; 1 for a Poisson process) over neurons with at least ``min_spikes``
    spikes; a vertical line marks the mean (``analysis.cv_isi``).

    Parameters
    ----------
    data : Result, Spikes or (times, ids)
    population : str or None
        Population of a Result (None: all neurons).
    bins : int or array
    ax : matplotlib Axes, optional
    n : int, optional
        Neurons of bare spikes (default: largest id + 1).
    min_spikes : int
        Neurons with fewer spikes are left out (>= 3).

    Returns
    -------
    matplotlib Axes
    """
    times, ids, size, lab, _ = _select(data, population, n)
    _, cv = cv_per_neuron(times, ids, size, min_spikes)
    ax = _axes(ax)
    ax.hist(cv, bins, color="0.35")
    mean = float(cv.mean()) if cv.size else math.nan
    if cv.size:
        ax.axvline(mean, color="C3", lw=1.0)
    ax.set_xlabel("CV of inter-spike intervals")
    ax.set_ylabel("neurons")
    ax.set_title(f"{lab}: mean CV {mean:.3f} over {cv.size:,} neurons (>= {min_spikes} spikes)",
                 fontsize="small")
    return ax


# ============================================================================ states

_VARIABLES = {"v": "membrane potential V", "i_exc": "excitatory current I_exc",
              "i_inh": "inhibitory current I_inh", "theta": "threshold offset theta"}


def traces(samples, variable="v", ids=None, ax=None, *, legend=None):
    """Sampled states of some neurons against time, one line per neuron.

    Parameters
    ----------
    samples : StateSamples or Result
        ``times`` (T,) ms, ``ids`` (K,) global neuron ids and one (T, K) array (mV) per
        variable (``Result.states`` for a Result).  Samples are exact left limits.
    variable : {"v", "i_exc", "i_inh", "theta"}
        ValueError if it was not recorded (None).
    ids : array of int, optional
        Neurons to draw (ids of ``samples.ids``); default all.
    ax : matplotlib Axes, optional
    legend : bool, optional
        Name the neurons in a legend (default: when at most 10 lines).

    Returns
    -------
    matplotlib Axes
    """
    if _is_result(samples):
        samples = samples.states
    if samples is None:
        raise ValueError("no state samples: call net.record_state(ids, times) before running")
    if not hasattr(samples, variable):
        raise ValueError(f"variable={variable!r} is not a sampled variable; choose one of "
                         f"{[v for v in _VARIABLES if hasattr(samples, v)]}")
    vals = getattr(samples, variable)
    if vals is None:
        raise ValueError(f"variable={variable!r} was not recorded in these samples")
    vals = np.asarray(vals, dtype=float)
    t = np.asarray(samples.times, dtype=float)
    sid = np.asarray(samples.ids, dtype=np.int64)
    if vals.shape != (t.size, sid.size):
        raise ValueError(f"{variable} has shape {vals.shape}; need (len(times), len(ids)) = ({t.size}, {sid.size})")
    if ids is None:
        cols = np.arange(sid.size)
    else:
        want = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        missing = want[~np.isin(want, sid)]
        if missing.size:
            raise ValueError(f"ids contains {int(missing[0])}, which was not sampled; sampled ids: {sid.tolist()}")
        # column of each requested id (first occurrence)
        cols = np.array([int(np.flatnonzero(sid == k)[0]) for k in want], dtype=np.int64)
    ax = _axes(ax)
    marker = "." if t.size <= 50 else None
    for c in cols:
        ax.plot(t, vals[:, c], marker=marker, lw=1.0, label=f"neuron {sid[c]}")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{_VARIABLES.get(variable, variable)} (mV)")
    if legend if legend is not None else 0 < cols.size <= 10:
        ax.legend(fontsize="small")
    return ax


# ============================================================================ weights


def _weights_1d(w):
    w = getattr(w, "weights", w)
    return np.asarray(w, dtype=float).ravel()


def weight_hist(w, bins=50, ax=None, *, label=None, **hist_kw):
    """Histogram of synaptic weights (mV).

    Parameters
    ----------
    w : array or Projection
        Weights (mV), or an object with ``.weights`` (``Projection.weights``).
    bins : int or array
        As for ``numpy.histogram`` (edges in mV); give edges to overlay several calls.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label (a legend is drawn when given).
    **hist_kw
        Passed to ``Axes.hist`` (e.g. ``histtype="step"``, ``color``).

    Returns
    -------
    matplotlib Axes
    """
    w = _weights_1d(w)
    ax = _axes(ax)
    hist_kw.setdefault("color", "0.35")
    ax.hist(w, bins, label=label, **hist_kw)
    ax.set_xlabel("weight (mV)")
    ax.set_ylabel("synapses")
    if label is not None:
        ax.legend(fontsize="small")
    return ax


def weight_matrix(w, ax=None, cmap=None, *, max_entries=4_000_000, colorbar=True):
    """Weights as an image: presynaptic neurons down, postsynaptic neurons across.

    Parameters
    ----------
    w : Projection, scipy.sparse matrix or 2-D array
        Shape (n_pre, n_post), mV.  For a Projection or sparse matrix, pairs without a
        synapse are left blank (several synapses between one pair are summed).
    ax : matplotlib Axes, optional
    cmap : str or Colormap, optional
        Default "viridis" when all weights have one sign, else "RdBu_r" centred on 0.
    max_entries : int
        Refuse (ValueError) matrices with more entries: draw a slice instead, e.g.
        ``proj.to_scipy()[:500, :500]``.
    colorbar : bool
        Add a colour bar (weight, mV).

    Returns
    -------
    matplotlib Axes
    """
    if hasattr(w, "to_scipy"):
        w = w.to_scipy()
    if hasattr(w, "tocsr") and hasattr(w, "nnz"):   # scipy.sparse
        S = w.tocsr()
        shape = S.shape
        _check_size(shape, max_entries)
        dense = S.toarray().astype(float)
        # stored entries, also those of weight 0 (a synapse that is there)
        present = np.zeros(shape, bool)
        present[np.repeat(np.arange(shape[0]), np.diff(S.indptr)), S.indices] = True
        M = np.ma.masked_array(dense, ~present)
    else:
        M = np.asarray(w, dtype=float)
        if M.ndim != 2:
            raise ValueError(f"w has shape {M.shape}; need a 2-D (n_pre, n_post) matrix")
        _check_size(M.shape, max_entries)
    ax = _axes(ax)
    vals = M.compressed() if np.ma.isMaskedArray(M) else M.ravel()
    lo = float(vals.min()) if vals.size else 0.0
    hi = float(vals.max()) if vals.size else 1.0
    kw = {}
    if cmap is None:
        if lo < 0.0 < hi:
            # mixed signs: a diverging map with white at 0
            m = max(-lo, hi)
            cmap, kw = "RdBu_r", {"vmin": -m, "vmax": m}
        else:
            cmap = "viridis"
    im = ax.imshow(M, aspect="auto", interpolation="nearest", cmap=cmap, **kw)
    ax.set_xlabel("postsynaptic neuron")
    ax.set_ylabel("presynaptic neuron")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="weight (mV)")
    return ax


def _check_size(shape, max_entries):
    if shape[0] * shape[1] > max_entries:
        raise ValueError(f"the weight matrix has {shape[0]} x {shape[1]} entries, more than "
                         f"max_entries={max_entries}; draw a slice (e.g. proj.to_scipy()[:500, :500]) "
                         f"or raise max_entries")


# ============================================================================ plasticity


def _stdp_dw(rule, dt, w=None):
    """Weight change (mV) of one pre/post pair with t_post - t_pre = dt (ms; t_pre is the
    arrival at the synapse), starting from weight w (mV; None: no weight dependence and
    no clipping, additive rules only), and the title of the curve."""
    from .plasticity import STDP, RewardSTDP, Triplet, Vogels

    dt = np.asarray(dt, dtype=float)
    pot = dt >= 0.0   # simultaneous arrival and post spike: pre-before-post (module docstring)
    name = type(rule).__name__
    mu = 0.0
    if isinstance(rule, (STDP, RewardSTDP)):
        de = np.where(pot, rule.a_plus * np.exp(-np.abs(dt) / rule.tau_plus),
                      -rule.a_minus * np.exp(-np.abs(dt) / rule.tau_minus))
        if isinstance(rule, STDP):
            mu = {"additive": 0.0, "multiplicative": 1.0}.get(rule.weight_dependence, rule.mu)
            what = f"pair STDP, {rule.weight_dependence}"
        else:
            what = "reward-modulated STDP: eligibility change"
    elif isinstance(rule, Triplet):
        # one pair: the slow traces are 0 when read, only the pair terms act
        de = np.where(pot, rule.a2_plus * np.exp(-np.abs(dt) / rule.tau_plus),
                      -rule.a2_minus * np.exp(-np.abs(dt) / rule.tau_minus))
        what = "triplet STDP, one pair (pair terms)"
    elif isinstance(rule, Vogels):
        # symmetric window, minus the constant depression of the presynaptic spike
        de = rule.eta * np.exp(-np.abs(dt) / rule.tau) - rule.eta * rule.alpha
        what = "Vogels inhibitory plasticity"
    else:
        raise TypeError(f"rule must be an eventsnn.plasticity rule (STDP, Triplet, Vogels, RewardSTDP) "
                        f"or a (dt, dw) tuple, got {name}")
    sign = -1.0 if rule.w_max <= 0.0 else 1.0
    e_min, e_max = sorted((sign * rule.w_min, sign * rule.w_max))
    if mu != 0.0 and w is None:
        w = 0.5 * (rule.w_min + rule.w_max)
    if w is not None:
        w = float(w)
        if not rule.w_min <= w <= rule.w_max:
            raise ValueError(f"w={w!r} is outside the rule's bounds [{rule.w_min}, {rule.w_max}] mV")
        e = sign * w
        u = (e - e_min) / (e_max - e_min)
        if mu != 0.0:
            de = de * np.where(pot, (1.0 - u) ** mu, u ** mu)
        if not isinstance(rule, RewardSTDP):
            de = np.clip(e + de, e_min, e_max) - e   # hard bounds
        what += f", evaluated at w = {w:g} mV"
    return sign * de, what


def stdp_window(rule, ax=None, t_range=100.0, *, w=None, n_points=401):
    """STDP window: weight change of one pre/post spike pair against
    Delta t = t_post - t_pre (ms).

    t_pre is the presynaptic spike's arrival at the synapse (emission + delay);
    Delta t = 0 counts as pre-before-post (:mod:`eventsnn.plasticity`).

    Parameters
    ----------
    rule : STDP, Triplet, Vogels, RewardSTDP or (dt, dw)
        A rule of :mod:`eventsnn.plasticity`, or arrays Delta t (ms) and Delta w (mV)
        to draw as they are.  For a pair the triplet rule's slow traces are 0, so only
        its pair terms act; RewardSTDP draws the eligibility change.
    ax : matplotlib Axes, optional
    t_range : float
        Delta t from -t_range to t_range (ms).
    w : float, optional
        Weight (mV) the pair starts from.  Multiplicative and power-law rules are
        evaluated there (default: the middle of [w_min, w_max]); when given, the hard
        bounds clip the change.  None for an additive rule: the bare window.  The
        title says which.
    n_points : int
        Points of the curve.

    Returns
    -------
    matplotlib Axes
    """
    if isinstance(rule, (tuple, list)) and len(rule) == 2:
        dt = np.asarray(rule[0], dtype=float)
        dw = np.asarray(rule[1], dtype=float)
        if dt.shape != dw.shape:
            raise ValueError(f"dt has shape {dt.shape} but dw has {dw.shape}")
        title = None
    else:
        t_range = float(t_range)
        if not (math.isfinite(t_range) and t_range > 0.0):
            raise ValueError(f"t_range={t_range!r} is not allowed; need a finite range > 0 ms")
        # an odd count puts a point at 0, where the window jumps
        dt = np.linspace(-t_range, t_range, int(n_points) | 1)
        dw, title = _stdp_dw(rule, dt, w)
    ax = _axes(ax)
    ax.axhline(0.0, color="0.7", lw=0.8)
    ax.axvline(0.0, color="0.7", lw=0.8)
    ax.plot(dt, dw, color="k", lw=1.5)
    ax.set_xlabel("Δt = t_post − t_pre (ms)")
    reward = type(rule).__name__ == "RewardSTDP"
    ax.set_ylabel("eligibility change Δc (mV)" if reward else "weight change Δw (mV)")
    if title:
        ax.set_title(title, fontsize="small")
    return ax


# ============================================================================ training


def _history_columns(history):
    """history (list of per-epoch dicts, or a dict of lists) as a dict of arrays."""
    if isinstance(history, dict):
        cols = {k: list(v) for k, v in history.items() if np.ndim(v) == 1}
    else:
        history = list(history)
        if not all(isinstance(m, dict) for m in history):
            raise TypeError("history must be a list of per-epoch dicts (as returned by gradients.fit) "
                            "or a dict of per-epoch lists")
        keys = [k for k in (history[0] if history else {})]
        cols = {k: [m.get(k) for m in history] for k in keys}
    n = max((len(v) for v in cols.values()), default=0)
    if n == 0 or "loss" not in cols:
        raise ValueError("history has no epochs with a 'loss' (expected the list returned by gradients.fit)")
    out = {}
    for k, v in cols.items():
        try:
            out[k] = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            continue   # e.g. the per-epoch counts dict
    if "epoch" not in out:
        out["epoch"] = np.arange(1, n + 1, dtype=float)
    return out


def training_curves(history, ax=None):
    """Loss (left axis) and accuracy and silent fraction (right axis, 0-1) per epoch.

    Parameters
    ----------
    history : list of dict
        As returned by :func:`eventsnn.gradients.fit`: per epoch ``loss``,
        ``accuracy`` (training), ``silent`` (fraction of (sample, neuron) pairs
        without a spike) and, when evaluated, ``val_loss``/``val_accuracy``,
        ``test_loss``/``test_accuracy``.  A dict of per-epoch lists works too.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        The loss axes; the accuracy axes is its twin (``ax.figure.axes[-1]``).
    """
    h = _history_columns(history)
    ep = h["epoch"]
    ax = _axes(ax)
    ax2 = ax.twinx()
    styles = {"": "-", "val_": "--", "test_": ":"}
    words = {"": "training", "val_": "validation", "test_": "test"}
    for pre, ls in styles.items():
        if pre + "loss" in h:
            ax.plot(ep, h[pre + "loss"], color="C0", ls=ls, marker=".", label=f"{words[pre]} loss")
        if pre + "accuracy" in h:
            ax2.plot(ep, h[pre + "accuracy"], color="C1", ls=ls, marker=".", label=f"{words[pre]} accuracy")
    if "silent" in h:
        ax2.plot(ep, h["silent"], color="C2", ls="-.", marker=".", label="silent fraction")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # whole epochs
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax2.set_ylabel("accuracy, silent fraction" if "silent" in h else "accuracy")
    ax2.set_ylim(0.0, 1.0)
    hs, ls_ = ax.get_legend_handles_labels()
    hs2, ls2 = ax2.get_legend_handles_labels()
    # one legend for both axes, on the twin so that its lines do not hide it
    ax2.legend(hs + hs2, ls_ + ls2, fontsize="small", loc="best")
    return ax


# ============================================================================ counting

_COLUMNS = (("event", "event-driven"), ("clock", "clock-driven"), ("ann", "dense ANN"))


def _op_rows(col, what):
    """(name, value) of the operations of one report column that can go on a log axis."""
    if what == "count":
        rows = [(k, v.get("count")) for k, v in col["ops"].items()]
    else:
        rows = [(k, v) for k, v in col["energy_pj"].items() if k != "total"]
    return [(k, float(v)) for k, v in rows if v is not None and v > 0]


def _work(col, what):
    if what == "energy":
        return float(col["energy_pj"]["total"])
    # as the report's ratios: operations with a cost (the frame drive factor is an energy row)
    return float(sum(v["count"] for k, v in col["ops"].items()
                     if "energy_pj" in v and k != "drive_frame_factors"))


def op_counts(report, ax=None, *, what="count"):
    """Operations of a run (event-driven) beside a clock-driven simulator and a dense
    ANN of the same layers, one bar per operation, log scale.

    Parameters
    ----------
    report : Report or dict
        ``net.report(res)`` (:class:`eventsnn.counting.Report`) or its ``as_dict()``.
    ax : matplotlib Axes, optional
    what : {"count", "energy"}
        Operation counts (queue pushes and pops included), or the energy estimate of
        each row (pJ, with memory when the energy table has it).  Rows that are
        None or 0 cannot go on a log axis and are left out.  Each tick label gives
        the column's total (operations with a cost, as in the report's ratios, or
        energy).

    Returns
    -------
    matplotlib Axes
    """
    if what not in ("count", "energy"):
        raise ValueError(f"what={what!r} is not allowed; choose 'count' or 'energy'")
    d = report.as_dict() if hasattr(report, "as_dict") else report
    if not isinstance(d, dict) or not all(k in d for k, _ in _COLUMNS):
        raise TypeError("report must be an eventsnn.counting.Report (net.report(res)) or its as_dict()")
    cols = [(d[k], short) for k, short in _COLUMNS]
    rows = [_op_rows(c, what) for c, _ in cols]
    names = list(dict.fromkeys(k for r in rows for k, _ in r))   # first-seen order
    # colours from every operation of the report, so that count and energy charts agree
    palette = list(dict.fromkeys([k for c, _ in cols for k in c["ops"]] + ["memory"]))
    ax = _axes(ax)
    width = 0.8 / max(max(len(r) for r in rows), 1)
    for name in names:
        xs, hs = [], []
        for g, r in enumerate(rows):
            keys = [k for k, _ in r]
            if name in keys:
                pos = keys.index(name)
                # bars of a group side by side, centred on the group
                xs.append(g + (pos - (len(r) - 1) / 2.0) * width)
                hs.append(dict(r)[name])
        ax.bar(xs, hs, width=width * 0.95, color=f"C{palette.index(name) % 10}", label=name.replace("_", " "))
    ax.set_yscale("log")
    unit = "" if what == "count" else " pJ"
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([f"{c.get('title', short)}\n{_work(c, what):.3g}{unit} total" for c, short in cols],
                       fontsize="small")
    ax.set_ylabel("operations" if what == "count" else "energy estimate (pJ)")
    net = d.get("network", {})
    if "duration_ms" in net:
        ax.set_title(f"{net.get('n_neurons', 0):,} neurons, {net['duration_ms']:g} ms", fontsize="small")
    heights = [h for r in rows for _, h in r]
    if heights:
        # headroom above the bars for the legend: the data take the lower 60 % (log axis)
        lo, hi = min(heights) / 3.0, max(heights)
        ax.set_ylim(lo, lo * (hi / lo) ** (1.0 / 0.6))
    ax.legend(fontsize="x-small", ncol=3, loc="upper center")
    return ax
