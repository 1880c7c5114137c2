"""Yin-Yang (Kriener et al. 2022) with exact EventProp gradients.

A 5-200-3 LIF network (tau_m = 20 ms, tau_s = 5 ms, theta = 1): the four features
(x, y, 1-x, 1-y) are latency coded in [0, 30] ms plus a bias spike at 0 ms; the output
is read out by first-spike times with Wunderlich & Pehle's (2021) cross-entropy
(tau0 = 0.5 ms, tau1 = 6.4 ms, alpha = 3e-3); Adam (lr 5e-3, x0.95 per epoch), batch
32, weight bumping of silent neurons.

    python examples/yinyang.py                 # one seed
    python examples/yinyang.py --seeds 0 1 2 3 4
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

EPOCHS = 40
INIT = [(1.5, 0.78), (0.93, 0.1)]   # (mean, std) of the input->hidden and hidden->output weights (mV)
BUMP = 5e-3                         # weight bumping (mV)
GRAZE = 0.05                        # zero the jump of spikes with I - theta < 0.05 theta


def encode(X):
    return latency(X, t_min=0.0, t_max=30.0, bias_time=0.0)


def train(seed=0, epochs=EPOCHS, verbose=True, n_hidden=200):
    """Train one network; returns a dict with the final and best-validation test
    accuracy, per-epoch history and timings."""
    s = yin_yang_splits()
    tr, va, te = [(encode(X), y) for X, y in (s["train"], s["validation"], s["test"])]
    net = SNN([5, n_hidden, 3], tau_m=20.0, tau_s=5.0, theta=1.0, t_end=100.0, init=INIT, seed=seed)
    best = {"val_accuracy": -1.0}

    def keep_best(ep, m, net_):
        if m["val_accuracy"] > best["val_accuracy"]:
            best.update(val_accuracy=m["val_accuracy"], epoch=ep + 1, params=net_.params.copy())

    t0 = time.perf_counter()
    hist = fit(net, tr[0], tr[1], FirstSpikeCE(tau0=0.5, tau1=6.4, alpha=3e-3), epochs=epochs, batch_size=32,
               optimizer=Adam(lr=5e-3, decay=0.95), seed=seed, bump=BUMP, graze=GRAZE, validation=va,
               callback=keep_best, verbose=verbose)
    wall = time.perf_counter() - t0
    final = evaluate(net, *te).accuracy
    net.set_params(best["params"])
    at_best = evaluate(net, *te).accuracy
    return {"seed": seed, "test_accuracy": final, "test_accuracy_best_val": at_best, "best_val_epoch": best["epoch"],
            "val_accuracy_best": best["val_accuracy"], "epochs": epochs,
            "epoch_s": float(np.median([m["epoch_s"] for m in hist])),
            "epoch_cpu_s": float(np.median([m["cpu_s"] for m in hist])),
            "spikes_per_sample": hist[-1]["spikes_per_sample"], "silent": hist[-1]["silent"],
            "wall_s": wall, "history": hist}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--plot", default="", help="PNG path for the training curves ('' to skip)")
    a = ap.parse_args()
    res = []
    for seed in a.seeds:
        r = train(seed, a.epochs, verbose=not a.quiet)
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
