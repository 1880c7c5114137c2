"""scikit-learn's 8x8 digits, latency coded, trained with exact EventProp gradients.

Pixels (0..16 gray levels scaled to [0, 1]) are latency coded in [0, 20] ms, bright
pixels first, blank pixels silent, plus a bias spike at 0 ms; 65-300-10 LIF network
read out by first-spike times (Wunderlich & Pehle's cross-entropy).  Needs
scikit-learn: ``pip install "eventsnn[digits]"``.

    python examples/digits.py [--seed 0] [--epochs 12] [--plot digits.png]

``--plot`` saves the training curves (loss, accuracy, silent fraction per epoch; needs
matplotlib: ``pip install "eventsnn[plot]"``).
"""
import argparse
import json
import time

from eventsnn import plot
from eventsnn.datasets import digits
from eventsnn.encoding import latency
from eventsnn.gradients import SNN, Adam, FirstSpikeCE, evaluate, fit

INIT = [(0.3, 0.5), (0.5, 0.3)]   # (mean, std) of input->hidden and hidden->output weights (mV)


def encode(X):
    return latency(X, t_min=0.0, t_max=20.0, invert=True, skip_below=1.0 / 16.0, bias_time=0.0)


def train(seed=0, epochs=12, verbose=True, n_hidden=300):
    d = digits(test_fraction=0.25, seed=0)
    Xtr, ytr = d["train"]
    Xte, yte = d["test"]
    tr, te = encode(Xtr), encode(Xte)
    net = SNN([65, n_hidden, 10], tau_m=20.0, tau_s=5.0, theta=1.0, t_end=80.0, init=INIT, seed=seed)
    t0 = time.perf_counter()
    hist = fit(net, tr, ytr, FirstSpikeCE(), epochs=epochs, batch_size=32, optimizer=Adam(lr=5e-3, decay=0.95),
               seed=seed, bump=5e-3, graze=0.05, test=(te, yte), verbose=verbose)
    return {"seed": seed, "test_accuracy": evaluate(net, te, yte).accuracy, "train_accuracy": hist[-1]["accuracy"],
            "epochs": epochs, "wall_s": time.perf_counter() - t0,
            "spikes_per_sample": hist[-1]["spikes_per_sample"], "history": hist}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--plot", default="", help="PNG path for the training curves ('' to skip)")
    a = ap.parse_args()
    r = train(a.seed, a.epochs, verbose=not a.quiet)
    print(json.dumps({k: v for k, v in r.items() if k != "history"}))
    if a.plot:
        try:
            ax = plot.training_curves(r["history"])
        except ImportError as e:   # matplotlib is optional
            print(f"no figure ({e})")
            return
        ax.set_title(f"load_digits, seed {a.seed}: test accuracy {r['test_accuracy']:.1%}", fontsize="small")
        ax.figure.tight_layout()
        ax.figure.savefig(a.plot, dpi=120)
        print(f"figure saved to {a.plot}")


if __name__ == "__main__":
    main()
