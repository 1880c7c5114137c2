"""Yin-Yang (Kriener et al. 2022) with exact EventProp gradients.

Two recipes:

* weights only (default): a 5-200-3 LIF network (tau_m = 20 ms, tau_s = 5 ms,
  theta = 1); the four features (x, y, 1-x, 1-y) are latency coded in [0, 30] ms plus a
  bias spike at 0 ms; the output is read out by first-spike times with Wunderlich &
  Pehle's (2021) cross-entropy; Adam with a per-epoch learning-rate decay, batch 32,
  weight bumping of silent neurons.  ``RECIPE`` holds every setting.
* ``--delays``: a 4-30-3 network (no bias input) that learns its synaptic delays
  (one per synapse, exact gradients, kept >= 0) together with its weights, as in
  DelGrad (Goeltz et al. 2025).  ``DELAY_RECIPE``.

    python examples/yinyang.py                 # one seed
    python examples/yinyang.py --seeds 0-9     # the README's table
    python examples/yinyang.py --delays --seeds 0-9
    python examples/yinyang.py --plot yinyang.png   # + loss, accuracy, silent fraction per epoch

The figure needs matplotlib (``pip install "eventsnn[plot]"``).
"""
import argparse
import json
import time

import numpy as np

from eventsnn import plot
from eventsnn.datasets import yin_yang_splits
from eventsnn.encoding import latency
from eventsnn.gradients import SNN, Adam, FirstSpikeCE, evaluate, fit

RECIPE = dict(
    hidden=200, bias=True, epochs=40,
    init=[(1.5, 0.78), (0.93, 0.1)],     # (mean, std) of input->hidden, hidden->output weights (mV)
    tau0=0.1, tau1=6.4, alpha=3e-3,      # FirstSpikeCE; W&P's tau0 = 0.5 ms stalls at ~97.5 %
    lr=5e-3, decay=0.95,                 # Adam; lr x decay per epoch
    bump=5e-3,                           # weight bumping (mV)
    graze=0.05,                          # zero the jump of spikes with I - theta < 0.05 theta
    delays=False)
DELAY_RECIPE = dict(
    hidden=30, bias=False, epochs=60,
    init=[(1.875, 0.87), (6.2, 0.26)],   # the 5-200-3 init scaled to 4 inputs and 30 hidden neurons
    tau0=0.05, tau1=6.4, alpha=3e-3,
    lr=5e-3, decay=0.93, bump=5e-3, graze=0.05,
    delays=True, delay_lr=30.0)          # a delay step is 30 lr ms (Adam's step is ~lr per entry)


def encode(X, bias=True):
    return latency(X, t_min=0.0, t_max=30.0, bias_time=0.0 if bias else None)


def parse_seeds(text):
    """"0-9" -> [0..9], "0,3,5" or "0 3 5" -> those."""
    out = []
    for part in str(text).replace(",", " ").split():
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def train(seed=0, epochs=None, verbose=True, n_hidden=None, delays=False, threads="auto", **overrides):
    """Train one network with ``RECIPE`` (``DELAY_RECIPE`` with ``delays``), updated by
    ``overrides``; returns a dict with the final and best-validation test accuracy,
    per-epoch history and timings."""
    rc = dict(DELAY_RECIPE if delays else RECIPE)
    rc.update(overrides)
    if epochs is not None:
        rc["epochs"] = epochs
    if n_hidden is not None:
        rc["hidden"] = n_hidden
    s = yin_yang_splits()
    tr, va, te = [(encode(X, rc["bias"]), y) for X, y in (s["train"], s["validation"], s["test"])]
    n_in = 5 if rc["bias"] else 4
    net = SNN([n_in, rc["hidden"], 3], tau_m=20.0, tau_s=5.0, theta=1.0, t_end=100.0, init=rc["init"], seed=seed,
              delay_mode="synaptic" if rc["delays"] else "axonal", learn_delays=rc["delays"])
    opt = Adam(lr=rc["lr"], decay=rc["decay"],
               lr_scale=net.lr_scale(delays=rc["delay_lr"]) if rc["delays"] else None)
    loss = FirstSpikeCE(tau0=rc["tau0"], tau1=rc["tau1"], alpha=rc["alpha"])
    best = {"val_accuracy": -1.0}

    def keep_best(ep, m, net_):
        if m["val_accuracy"] > best["val_accuracy"]:
            best.update(val_accuracy=m["val_accuracy"], epoch=ep + 1, params=net_.params.copy())

    t0 = time.perf_counter()
    hist = fit(net, tr[0], tr[1], loss, epochs=rc["epochs"], batch_size=32, optimizer=opt, seed=seed,
               bump=rc["bump"], graze=rc["graze"], validation=va, callback=keep_best, verbose=verbose,
               threads=threads)
    wall = time.perf_counter() - t0
    final = evaluate(net, *te, loss).accuracy
    d = net.params[net.groups["delays"]] if rc["delays"] else np.zeros(1)
    net.set_params(best["params"])
    at_best = evaluate(net, *te, loss).accuracy
    return {"seed": seed, "test_accuracy": final, "test_accuracy_best_val": at_best, "best_val_epoch": best["epoch"],
            "val_accuracy_best": best["val_accuracy"], "epochs": rc["epochs"], "sizes": net.sizes,
            "delays": rc["delays"], "delay_ms": [float(d.min()), float(np.median(d)), float(d.max())],
            "epoch_s": float(np.median([m["epoch_s"] for m in hist])),
            "epoch_cpu_s": float(np.median([m["cpu_s"] for m in hist])),
            "spikes_per_sample": hist[-1]["spikes_per_sample"], "silent": hist[-1]["silent"],
            "wall_s": wall, "history": hist}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", nargs="+", default=["0"], help='seeds: "0-9", "0 1 2" or "0,1,2"')
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--delays", action="store_true", help="the 4-30-3 network with learned synaptic delays")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--plot", default="", help="PNG path for the training curves ('' to skip)")
    a = ap.parse_args()
    res = []
    for seed in parse_seeds(" ".join(a.seeds)):
        r = train(seed, a.epochs, verbose=not a.quiet, delays=a.delays)
        res.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "history"}), flush=True)
    acc = np.array([r["test_accuracy"] for r in res])
    print(f"test accuracy per seed: {np.round(acc * 100, 2).tolist()} %; mean {acc.mean() * 100:.2f} % "
          f"(std {acc.std() * 100:.2f}) over {len(acc)} seeds")
    if a.plot:
        try:
            fig, axes = plot.subplots(1, len(res), figsize=(5.5 * len(res), 4), squeeze=False)
        except ImportError as e:   # matplotlib is optional
            print(f"no figure ({e})")
            return
        for r, ax in zip(res, axes[0]):
            plot.training_curves(r["history"], ax=ax)
            ax.set_title(f"seed {r['seed']}: test accuracy {r['test_accuracy']:.1%}", fontsize="small")
        fig.tight_layout()
        fig.savefig(a.plot, dpi=120)
        print(f"figure saved to {a.plot}")


if __name__ == "__main__":
    main()
