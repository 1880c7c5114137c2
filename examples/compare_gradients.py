"""Exact EventProp gradients against surrogate-gradient BPTT on a time grid.

For every seed one exact-trainer :class:`~eventsnn.gradients.SNN` is built; it is
trained (a) with exact EventProp (:func:`eventsnn.gradients.fit`, weight bumping and
the grazing guard as in ``examples/yinyang.py``) and (b) with surrogate-gradient BPTT
(:func:`eventsnn.gradients.bptt.fit`) on its grid twin
``GridSNN.from_snn(copy of the same initial SNN, dt)`` for every ``dt``: same initial
weights, same data, same epochs, same loss (Wunderlich & Pehle's first-spike
cross-entropy, :class:`~eventsnn.gradients.FirstSpikeCE`), same optimiser (Adam, lr
5e-3, x0.95 per epoch, batch 32) and shuffles.

After training every network is tested twice: on the grid (``bptt.evaluate``; for
the EventProp network on its grid twin at every dt) and in the exact event engine
(``grid.to_snn()`` then ``eventsnn.gradients.evaluate``: the trained network run
exactly).  Reported per (task, method, dt, seed), one JSON line each: test accuracy
(exact and grid; the grid accuracy also with ties counted as correct, the exact
trainer's convention), time per training epoch, spikes per test sample, and the
exact engine's operation counts per test sample.  A summary table (mean and std over
seeds) closes the run.

Tasks
-----
* ``yinyang``: 5-200-3 as ``examples/yinyang.py`` (latency code in [0, 30] ms plus a
  bias spike, t_end = 100 ms, 40 epochs).
* ``digits``: 65-300-10 as ``examples/digits.py`` (t_end = 80 ms, 12 epochs; needs
  scikit-learn).
* ``mnist1d``: MNIST-1D (40 features, generated offline; needs ``mnist1d``), the
  features stretched from [0.25, 0.85] to [0, 1] (clipped; 98 % of the values lie in
  that range) and latency coded in [0, 30] ms plus a bias spike: 41-256-10,
  t_end = 80 ms, 20 epochs.

``--bptt-clip C`` clips each sample's BPTT gradient to norm C (``bptt.fit(clip=C)``,
as the exact trainer's ``clip``).

``--similarity`` instead trains one network with EventProp for ``--sim-epochs``
epochs and compares, on the same minibatches of test samples, the surrogate
gradients (``bptt.loss_and_grad`` on ``GridSNN.from_snn(net, dt)``, training mode)
of several surrogates and steps with the exact gradient: cosine similarity and the
norm ratio ||g_sur|| / ||g_exact||, overall and per projection.

    python examples/compare_gradients.py --task yinyang --seeds 0 1 2 3 4 --dts 1 0.5 0.1
    python examples/compare_gradients.py --task digits --epochs 12 --plot digits_cmp.png
    python examples/compare_gradients.py --similarity --task yinyang --plot similarity.png
    python examples/compare_gradients.py --task yinyang --seeds 0 1 --no-eventprop --bptt-clip 3 --dts 1 0.5
    python examples/compare_gradients.py --quick          # tiny smoke run
    python examples/compare_gradients.py --summarize runs.jsonl --plot runs.png   # table of an --out file

Figures need matplotlib (``pip install "eventsnn[plot]"``).
"""
import argparse
import json
import math
import time

import numpy as np

from eventsnn.encoding import latency
from eventsnn.gradients import (
    SNN,
    Adam,
    FirstSpikeCE,
    bptt,
    evaluate,
    fit,
    loss_and_grad,
)
from eventsnn.gradients.gridnet import GridSNN

SURROGATE = ("fast_sigmoid", 25.0)
SIM_SURROGATES = ("fast_sigmoid", "arctan", "boxcar", "triangle", "lee")
SIM_DTS = (1.0, 0.5, 0.2, 0.1, 0.05)
COUNT_KEYS = ("spikes", "input_spikes", "syn_events", "state_advances", "queue_pushes", "queue_pops",
              "threshold_tests")


# ---------------------------------------------------------------------- tasks
def _yinyang():
    from eventsnn.datasets import yin_yang_splits
    s = yin_yang_splits()
    enc = lambda X: latency(X, t_min=0.0, t_max=30.0, bias_time=0.0) 
    return (enc(s["train"][0]), s["train"][1]), (enc(s["test"][0]), s["test"][1])


def _digits():
    from eventsnn.datasets import digits
    d = digits(test_fraction=0.25, seed=0)
    enc = lambda X: latency(X, t_min=0.0, t_max=20.0, invert=True, skip_below=1.0 / 16.0, 
                            bias_time=0.0)
    return (enc(d["train"][0]), d["train"][1]), (enc(d["test"][0]), d["test"][1])


MNIST1D_RANGE = (0.25, 0.85)


def _mnist1d():
    from eventsnn.datasets import mnist1d
    d = mnist1d()
    lo, hi = MNIST1D_RANGE
    enc = lambda X: latency(np.clip((X - lo) / (hi - lo), 0.0, 1.0), t_min=0.0, t_max=30.0, 
                            bias_time=0.0)
    return (enc(d["train"][0]), d["train"][1]), (enc(d["test"][0]), d["test"][1])


TASKS = {
    "yinyang": {"data": _yinyang, "n_in": 5, "hidden": 200, "n_out": 3, "t_end": 100.0,
                "init": [(1.5, 0.78), (0.93, 0.1)], "loss": FirstSpikeCE(tau0=0.5, tau1=6.4, alpha=3e-3),
                "epochs": 40},
    "digits": {"data": _digits, "n_in": 65, "hidden": 300, "n_out": 10, "t_end": 80.0,
               "init": [(0.3, 0.5), (0.5, 0.3)], "loss": FirstSpikeCE(), "epochs": 12},
    "mnist1d": {"data": _mnist1d, "n_in": 41, "hidden": 256, "n_out": 10, "t_end": 80.0,
                "init": [(0.15, 0.3), (0.2, 0.2)], "loss": FirstSpikeCE(), "epochs": 20},
}
BUMP, GRAZE, LR, DECAY, BATCH = 5e-3, 0.05, 5e-3, 0.95, 32


def load(task, quick=False):
    (tr, ytr), (te, yte) = TASKS[task]["data"]()
    if quick:
        tr, ytr = tr.subset(np.arange(256)), ytr[:256]
        te, yte = te.subset(np.arange(128)), yte[:128]
    return (tr, ytr), (te, yte)


def make_snn(task, seed, hidden=None):
    c = TASKS[task]
    h = c["hidden"] if hidden is None else hidden
    return SNN([c["n_in"], h, c["n_out"]], tau_m=20.0, tau_s=5.0, theta=1.0, t_end=c["t_end"], init=c["init"],
               seed=seed)


# ---------------------------------------------------------------------- measures
def grid_first_steps(grid, te, yte, loss, idx=None, chunk=64):
    """First spike step of every output neuron on the grid (-1: silent), [n, n_out]."""
    idx = np.arange(te.n_samples) if idx is None else np.asarray(idx)
    out = np.full((idx.size, grid.sizes[-1]), -1, np.int64)
    for i in range(0, idx.size, chunk):
        r = bptt.loss_and_grad(grid, te, yte, loss, idx=idx[i:i + chunk], keep_spikes=True)
        S = np.asarray(r.spikes[-1])[:, 1:, :] != 0              # [B, K, n_out], steps 1..K
        out[i:i + chunk] = np.where(S.any(axis=1), S.argmax(axis=1) + 1, -1)
    return out


def grid_test(grid, te, yte, loss):
    """Grid accuracy as ``bptt.evaluate`` counts it, and with ties of the earliest
    output counted as correct (the exact trainer's convention), grid loss and spikes."""
    e = bptt.evaluate(grid, te, yte, loss)
    first = grid_first_steps(grid, te, yte, loss)
    t = np.where(first >= 0, first, np.iinfo(np.int64).max)
    fl = first[np.arange(len(yte)), yte]
    ok = (fl >= 0) & (fl == t.min(axis=1))
    return {"test_accuracy_grid": e.accuracy, "test_accuracy_grid_ties": float(ok.mean()),
            "test_loss_grid": e.loss, "spikes_per_sample_grid": e.spikes_per_sample}


def _hidden_spikes(grid, counts):
    """Mean hidden-layer spikes per sample from GridResult.spike_counts (per layer or
    per neuron)."""
    if counts.shape[1] == len(grid.layers):
        return float(counts[:, 0].mean())
    return float(counts[:, :grid.sizes[1]].sum(axis=1).mean())


def grid_ops(grid, te, spike_counts):
    """Operation counts of the grid forward pass per test sample: neuron updates
    (K steps x neurons) and synaptic events (spikes on the grid x fan-out)."""
    k = np.maximum(np.ceil(te.times / grid.dt - 1e-9), 1)
    inp = float((k <= grid.K).sum()) / max(te.n_samples, 1)
    syn = inp * grid.sizes[1] + _hidden_spikes(grid, spike_counts) * grid.sizes[2]
    return {"neuron_updates": grid.K * sum(grid.sizes[1:]), "syn_events": float(syn)}


def exact_test(snn, te, yte, loss):
    e = evaluate(snn, te, yte, loss)
    n = max(te.n_samples, 1)
    cnt = e.counts.as_dict()
    h = snn.sizes[1]
    return {"test_accuracy_exact": e.accuracy, "test_loss_exact": e.loss,
            "spikes_per_sample_exact": float(e.spike_counts.sum(axis=1).mean()),
            "hidden_spikes_per_sample_exact": float(e.spike_counts[:, :h].sum(axis=1).mean()),
            "silent_output_frac_exact": float((e.spike_counts[:, h:] == 0).mean()),
            "counts_per_sample_exact": {k: cnt[k] / n for k in COUNT_KEYS}}


def _hist_summary(hist):
    return {"epoch_s": float(np.median([m["epoch_s"] for m in hist])) if hist else math.nan,
            "epoch_cpu_s": float(np.median([m["cpu_s"] for m in hist])) if hist else math.nan,
            "train_loss": [round(m["loss"], 5) for m in hist],
            "train_accuracy": [round(m["accuracy"], 5) for m in hist],
            "spikes_per_sample_train": hist[-1]["spikes_per_sample"] if hist else math.nan}


# ---------------------------------------------------------------------- comparison
def _run_eventprop(task, seed, epochs, dts, data, hidden, emit):
    """(a) exact EventProp; tested exactly and on the grid twin at every dt."""
    (tr, ytr), (te, yte) = data
    loss = TASKS[task]["loss"]
    snn = make_snn(task, seed, hidden)
    t0 = time.perf_counter()
    hist = fit(snn, tr, ytr, loss, epochs=epochs, batch_size=BATCH, optimizer=Adam(lr=LR, decay=DECAY), seed=seed,
               bump=BUMP, graze=GRAZE)
    row = {"task": task, "method": "eventprop", "dt": None, "seed": seed, "epochs": epochs,
           "train_s": time.perf_counter() - t0, **_hist_summary(hist),
           "silent_train": hist[-1]["silent"] if hist else math.nan, **exact_test(snn, te, yte, loss)}
    row["grid"] = {}
    for dt in dts:
        g = grid_test(GridSNN.from_snn(snn, dt), te, yte, loss)
        row["grid"][str(dt)] = {k.removeprefix("test_"): v for k, v in g.items()}
    emit(row)
    return row


def _run_bptt(task, seed, epochs, dt, data, surrogate, hidden, emit, clip=None):
    """(b) surrogate BPTT on the grid twin of the same initial network."""
    (tr, ytr), (te, yte) = data
    loss = TASKS[task]["loss"]
    grid = GridSNN.from_snn(make_snn(task, seed, hidden), dt)
    t0 = time.perf_counter()
    hist = bptt.fit(grid, tr, ytr, loss, epochs=epochs, batch_size=BATCH, optimizer=Adam(lr=LR, decay=DECAY),
                    surrogate=surrogate, seed=seed, clip=clip)
    train_s = time.perf_counter() - t0
    g = grid_test(grid, te, yte, loss)
    e = bptt.evaluate(grid, te, yte, loss)
    row = {"task": task, "method": "bptt" if clip is None else f"bptt_clip{clip:g}", "dt": dt, "seed": seed,
           "epochs": epochs, "surrogate": [surrogate.kind, surrogate.slope], "train_s": train_s,
           **_hist_summary(hist),
           **g, "grid_ops_per_sample": grid_ops(grid, te, e.spike_counts),
           **exact_test(grid.to_snn(), te, yte, loss)}
    emit(row)
    return row


def run_seed(task, seed, epochs, dts, data, surrogate, hidden=None, emit=print, eventprop=True, clip=None):
    """Both methods from the same initial network; one result dict per method and dt."""
    rows = [_run_eventprop(task, seed, epochs, dts, data, hidden, emit)] if eventprop else []
    return rows + [_run_bptt(task, seed, epochs, dt, data, surrogate, hidden, emit, clip) for dt in dts]


def _key(r):
    return (r["task"], r["method"], r["dt"], tuple(r.get("surrogate") or ()))


def _ms(rs, f, scale=1.0):
    v = np.array([f(r) for r in rs], float) * scale
    return v.mean(), v.std()


def summary(rows):
    """Mean and std over seeds per (task, method, dt), as text lines."""
    groups = {}
    for r in rows:
        groups.setdefault(_key(r), []).append(r)
    out = [(f"{'task':8s} {'method':10s} {'dt':>5s} {'n':>2s} {'acc exact %':>14s} {'acc grid %':>14s} "
            f"{'grid ties %':>14s} {'epoch_s':>8s} {'cpu_s':>6s} {'spk/smp':>8s} {'syn ev/smp':>10s} "
            f"{'thr tests':>9s}")]
    for k, rs in groups.items():
        ae = _ms(rs, lambda r: r["test_accuracy_exact"], 100)
        if k[1].startswith("bptt"):
            ag = _ms(rs, lambda r: r["test_accuracy_grid"], 100)
            at = _ms(rs, lambda r: r["test_accuracy_grid_ties"], 100)
            ag_s, at_s = f"{ag[0]:6.2f}+-{ag[1]:5.2f}", f"{at[0]:6.2f}+-{at[1]:5.2f}"
        else:
            ag_s = at_s = "-"
        dt = "-" if k[2] is None else f"{k[2]:g}"
        meth = k[1] if not k[3] or tuple(k[3]) == SURROGATE else f"{k[1]}:{k[3][0][:4]}{k[3][1]:g}"
        out.append(f"{k[0]:8s} {meth:10s} {dt:>5s} {len(rs):2d} {ae[0]:6.2f}+-{ae[1]:5.2f} {ag_s:>14s} {at_s:>14s} "
                   f"{_ms(rs, lambda r: r['epoch_s'])[0]:8.2f} {_ms(rs, lambda r: r['epoch_cpu_s'])[0]:6.2f} "
                   f"{_ms(rs, lambda r: r['spikes_per_sample_exact'])[0]:8.1f} "
                   f"{_ms(rs, lambda r: r['counts_per_sample_exact']['syn_events'])[0]:10.1f} "
                   f"{_ms(rs, lambda r: r['counts_per_sample_exact']['threshold_tests'])[0]:9.1f}")
    ep = [r for r in rows if r["method"] == "eventprop"]
    if ep:
        out.append("EventProp-trained networks tested on the grid (accuracy %, ties as correct, mean over seeds):")
        for dt in ep[0]["grid"]:
            a = np.mean([r["grid"][dt]["accuracy_grid"] for r in ep]) * 100
            b = np.mean([r["grid"][dt]["accuracy_grid_ties"] for r in ep]) * 100
            out.append(f"  dt={dt}: {a:.2f} ({b:.2f})")
    return out


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    from eventsnn import plot
    return plot


def plot_comparison(rows, path):
    plot = _pyplot()
    fig, (a1, a2) = plot.subplots(1, 2, figsize=(11, 4))
    groups = {}
    for r in rows:
        groups.setdefault(_key(r), []).append(r)
    labels = []
    for i, (k, rs) in enumerate(groups.items()):
        lab = "EventProp" if k[1] == "eventprop" else f"{k[1].replace('bptt', 'BPTT')} dt={k[2]:g}"
        if k[3] and tuple(k[3]) != SURROGATE:
            lab += f" {k[3][0]} {k[3][1]:g}"
        labels.append(lab)
        ex = np.array([r["test_accuracy_exact"] for r in rs]) * 100
        a1.errorbar(i - 0.1, ex.mean(), ex.std(), fmt="o", color="C0", label="exact engine" if i == 0 else None)
        if k[1].startswith("bptt"):
            gr = np.array([r["test_accuracy_grid"] for r in rs]) * 100
            a1.errorbar(i + 0.1, gr.mean(), gr.std(), fmt="s", color="C1",
                        label="grid" if "grid" not in a1.get_legend_handles_labels()[1] else None)
            gt = np.array([r["test_accuracy_grid_ties"] for r in rs]) * 100
            a1.errorbar(i + 0.2, gt.mean(), gt.std(), fmt="^", color="C2",
                        label="grid, ties correct" if "grid, ties correct" not in a1.get_legend_handles_labels()[1]
                        else None)
        L = np.array([r["train_loss"] for r in rs])
        a2.plot(np.arange(1, L.shape[1] + 1), L.mean(axis=0), label=lab)
    a1.set_xticks(range(len(labels)))
    a1.set_xticklabels(labels, rotation=20, fontsize="small")
    a1.set_ylabel("test accuracy (%)")
    a1.legend(fontsize="small")
    a2.set_xlabel("epoch")
    a2.set_ylabel("training loss (mean over seeds)")
    a2.set_yscale("log")
    a2.legend(fontsize="small")
    fig.suptitle(f"{rows[0]['task']}: {len({r['seed'] for r in rows})} seeds, {rows[0]['epochs']} epochs",
                 fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


# ---------------------------------------------------------------------- similarity
def _cos(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else math.nan


def _metrics(G, E, groups, off):
    """Cosine and norm ratio of the mean gradients of every group of samples (rows of
    the per-sample gradients G (surrogate) and E (exact)): mean and std over groups,
    and per projection (slices ``off``)."""
    cos, ratio, cos_q, ratio_q = [], [], [], []
    for m in groups:
        if not m.any():
            continue
        g, e = G[m].mean(axis=0), E[m].mean(axis=0)
        cos.append(_cos(g, e))
        ne = np.linalg.norm(e)
        ratio.append(float(np.linalg.norm(g) / ne) if ne > 0 else math.nan)
        cos_q.append([_cos(g[off[q]:off[q + 1]], e[off[q]:off[q + 1]]) for q in range(len(off) - 1)])
        ratio_q.append([float(np.linalg.norm(g[off[q]:off[q + 1]]) / max(np.linalg.norm(e[off[q]:off[q + 1]]),
                                                                           1e-300)) for q in range(len(off) - 1)])
    if not cos:
        return {"cosine": math.nan, "cosine_std": math.nan, "norm_ratio": math.nan, "norm_ratio_std": math.nan,
                "cosine_per_projection": [], "norm_ratio_per_projection": []}
    return {"cosine": float(np.mean(cos)), "cosine_std": float(np.std(cos)), "norm_ratio": float(np.mean(ratio)),
            "norm_ratio_std": float(np.std(ratio)), "cosine_per_projection": np.mean(cos_q, axis=0).tolist(),
            "norm_ratio_per_projection": np.mean(ratio_q, axis=0).tolist()}


def similarity(task, data, seed=0, epochs=5, n_batches=4, batch=64, surrogates=SIM_SURROGATES, dts=SIM_DTS,
               slope=25.0, hidden=None, emit=print):
    """Train with EventProp, then compare surrogate and exact gradients on the same
    minibatches of test samples; one dict per (surrogate, dt).

    Every sample's gradient is computed alone (a minibatch gradient is the mean of
    them).  Reported: ``cosine`` and ``norm_ratio`` of the minibatch gradients (mean
    and std over the ``n_batches`` batches), the same over the *clean* samples of each
    batch only (``*_clean``: the label neuron fires both in the exact run and on the
    grid; a silent label neuron has no exact gradient but a huge grid one, from the
    regulariser alpha exp(t_end / tau1)), and the median over clean samples of the
    per-sample cosine."""
    (tr, ytr), (te, yte) = data
    loss = TASKS[task]["loss"]
    snn = make_snn(task, seed, hidden)
    fit(snn, tr, ytr, loss, epochs=epochs, batch_size=BATCH, optimizer=Adam(lr=LR, decay=DECAY), seed=seed,
        bump=BUMP, graze=GRAZE)
    n = min(n_batches * batch, te.n_samples)
    h = snn.sizes[1]
    E = np.zeros((n, snn.n_params))
    lab_exact = np.zeros(n, bool)
    for i in range(n):
        r = loss_and_grad(snn, te, yte, loss, idx=[i])
        E[i] = r.grad
        lab_exact[i] = r.spike_counts[0, h + yte[i]] > 0
    acc = evaluate(snn, te, yte, loss).accuracy
    batches = [np.arange(n) // batch == j for j in range(-(-n // batch))]
    off = snn._woff
    rows = []
    for dt in dts:
        grid = GridSNN.from_snn(snn, dt)
        ge = bptt.evaluate(grid, te, yte, loss, idx=np.arange(n))
        lab_grid = grid_first_steps(grid, te, yte, loss, idx=np.arange(n))[np.arange(n), yte[:n]] >= 0
        clean = lab_exact & lab_grid
        for kind in surrogates:
            sur = bptt.Surrogate(kind, slope)
            G = np.zeros_like(E)
            t0 = time.perf_counter()
            for i in range(n):
                G[i] = bptt.loss_and_grad(grid, te, yte, loss, idx=[i], surrogate=sur, keep_spikes=False).grad
            t_s = (time.perf_counter() - t0) / n
            per = [_cos(G[i], E[i]) for i in np.nonzero(clean)[0]]
            per = [c for c in per if not math.isnan(c)]
            row = {"task": task, "mode": "similarity", "seed": seed, "train_epochs": epochs,
                   "exact_test_accuracy": acc, "surrogate": kind, "slope": None if kind == "lee" else slope,
                   "dt": dt, "batches": len(batches), "batch": batch, **_metrics(G, E, batches, off),
                   **{f"{k}_clean": v for k, v in _metrics(G, E, [m & clean for m in batches], off).items()},
                   "cosine_sample_median_clean": float(np.median(per)) if per else math.nan,
                   "frac_clean": float(clean.mean()), "label_silent_exact": float((~lab_exact).mean()),
                   "label_silent_grid": float((~lab_grid).mean()),
                   "loss_grid": ge.loss, "loss_exact": float(np.mean(
                       evaluate(snn, te, yte, loss, idx=np.arange(n)).losses)),
                   "same_prediction": float(np.mean(ge.predictions == evaluate(snn, te, yte, loss,
                                                                               idx=np.arange(n)).predictions)),
                   "grad_s_per_sample": t_s}
            emit(row)
            rows.append(row)
    return rows


def plot_similarity(rows, path):
    plot = _pyplot()
    fig, (a1, a2) = plot.subplots(1, 2, figsize=(11, 4.2))
    for i, kind in enumerate(dict.fromkeys(r["surrogate"] for r in rows)):
        rs = sorted((r for r in rows if r["surrogate"] == kind), key=lambda r: r["dt"])
        dt = np.array([r["dt"] for r in rs])
        for suf, ls, lab in (("_clean", "-", kind), ("", ":", None)):
            x = dt * (1.03 if suf else 0.97)
            err = suf == "_clean"         # all-sample values are heavy-tailed: no error bars
            a1.errorbar(x, [r["cosine" + suf] for r in rs], [r["cosine_std" + suf] for r in rs] if err else None,
                        marker="o", ms=4 if err else 2, capsize=2, ls=ls, label=lab, color=f"C{i}")
            a2.errorbar(x, [r["norm_ratio" + suf] for r in rs], [r["norm_ratio_std" + suf] for r in rs] if err
                        else None, marker="o", ms=4 if err else 2, capsize=2, ls=ls, color=f"C{i}")
    for a in (a1, a2):
        a.set_xscale("log")
        a.set_xlabel("dt (ms)")
    a1.set_ylabel("cosine(surrogate, exact) of minibatch gradients")
    a1.axhline(0.0, color="0.7", lw=0.8)
    a2.set_ylabel("||g_surrogate|| / ||g_exact||")
    a2.set_yscale("log")
    a2.axhline(1.0, color="0.7", lw=0.8)
    a1.legend(fontsize="small", title="solid: clean samples\ndotted: all samples", title_fontsize="x-small")
    r0 = rows[0]
    fig.suptitle(f"{r0['task']}: EventProp-trained net ({r0['train_epochs']} epochs, test acc "
                 f"{r0['exact_test_accuracy']:.1%}), {r0['batches']} x {r0['batch']} test samples, "
                 f"mean +- std over batches; clean = label neuron fires (exact and grid)", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


# ---------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=sorted(TASKS), default="yinyang")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=None, help="default: the task's (yinyang 40, digits 12, "
                                                             "mnist1d 20)")
    ap.add_argument("--dts", type=float, nargs="+", default=[1.0, 0.5, 0.1])
    ap.add_argument("--hidden", type=int, default=None, help="hidden neurons (default: the task's)")
    ap.add_argument("--surrogate", default=SURROGATE[0], choices=bptt.SURROGATES)
    ap.add_argument("--slope", type=float, default=SURROGATE[1])
    ap.add_argument("--no-eventprop", action="store_true", help="train with BPTT only (e.g. surrogate sweeps)")
    ap.add_argument("--bptt-clip", type=float, default=None,
                    help="clip each sample's BPTT gradient to this norm (bptt.fit(clip=...))")
    ap.add_argument("--similarity", action="store_true", help="gradient similarity sweep instead of training")
    ap.add_argument("--sim-epochs", type=int, default=5)
    ap.add_argument("--sim-dts", type=float, nargs="+", default=list(SIM_DTS))
    ap.add_argument("--sim-surrogates", nargs="+", default=list(SIM_SURROGATES), choices=bptt.SURROGATES)
    ap.add_argument("--sim-batches", type=int, default=4)
    ap.add_argument("--out", default="", help="also append the JSON lines to this file")
    ap.add_argument("--plot", default="", help="PNG path ('' to skip)")
    ap.add_argument("--summarize", default="", help="only print the summary (and --plot) of the JSON lines in "
                                                     "this file (a comparison run's --out)")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (256 training, 128 test samples, 20 "
                                                          "hidden neurons, 1 epoch, dt 1 and 0.5)")
    a = ap.parse_args(argv)
    if a.summarize:
        with open(a.summarize) as f:
            rows = [json.loads(x) for x in f if x.strip()]
        rows = [r for r in rows if r.get("mode") != "similarity"]
        print("\n".join(summary(rows)))
        if a.plot:
            plot_comparison(rows, a.plot)
            print(f"figure saved to {a.plot}")
        return rows
    epochs = TASKS[a.task]["epochs"] if a.epochs is None else a.epochs
    dts, hidden = a.dts, a.hidden
    if a.quick:
        epochs, dts, hidden = (1 if a.epochs is None else a.epochs), [1.0, 0.5], (hidden or 20)
    data = load(a.task, a.quick)

    def emit(row):
        line = json.dumps(row)
        print(line, flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(line + "\n")

    if a.similarity:
        sim_dts = [1.0, 0.5] if a.quick else a.sim_dts
        rows = similarity(a.task, data, seed=a.seeds[0], epochs=(1 if a.quick else a.sim_epochs),
                          n_batches=(1 if a.quick else a.sim_batches), surrogates=a.sim_surrogates,
                          dts=sim_dts, slope=a.slope, hidden=hidden, emit=emit)
        for suf, what in (("", "all samples"), ("_clean", "clean samples")):
            print(f"{'surrogate':13s} " + " ".join(f"{'dt=' + format(d, 'g'):>17s}" for d in sim_dts)
                  + f"   (cosine / norm ratio of minibatch gradients, {what})")
            for kind in a.sim_surrogates:
                rs = {r["dt"]: r for r in rows if r["surrogate"] == kind}
                print(f"{kind:13s} " + " ".join(f"{rs[d]['cosine' + suf]:6.3f} / {rs[d]['norm_ratio' + suf]:8.3g}"
                                                 for d in sim_dts))
        if a.plot:
            try:
                plot_similarity(rows, a.plot)
                print(f"figure saved to {a.plot}")
            except ImportError as e:
                print(f"no figure ({e})")
        return rows
    sur = bptt.Surrogate(a.surrogate, a.slope)
    rows = []
    for seed in a.seeds:
        rows += run_seed(a.task, seed, epochs, dts, data, sur, hidden=hidden, emit=emit, eventprop=not a.no_eventprop,
                         clip=a.bptt_clip)
    print("\n".join(summary(rows)))
    if a.plot:
        try:
            plot_comparison(rows, a.plot)
            print(f"figure saved to {a.plot}")
        except ImportError as e:
            print(f"no figure ({e})")
    return rows


if __name__ == "__main__":
    main()
