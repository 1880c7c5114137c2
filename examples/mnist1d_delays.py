"""MNIST-1D (Greydanus & Kobak 2024) with exact gradients of weights and synaptic delays.

Each signal (40 positions, values in [0, 1]) is read as time: position i is the
instant i * dt_pos ms, and its value picks one of ``levels`` input neurons (the
amplitude bin), which fires once then: 40 input spikes per sample.  A recurrent hidden
layer of LIF neurons with learned synaptic delays (input -> hidden, hidden -> hidden,
hidden -> output) feeds ten leaky read-outs, classified by their voltage maxima
(``MaxVoltageCE``).  Weights and delays are trained together with EventProp (Adam,
delays with a larger step, kept >= 0).

    python examples/mnist1d_delays.py                   # seed 0
    python examples/mnist1d_delays.py --seeds 0 1 2     # the three seeds of the README
    python examples/mnist1d_delays.py --no-delays       # the same network, fixed delays

Needs ``mnist1d`` (``pip install "eventsnn[mnist1d]"``); the data are generated
offline.  Published non-spiking baselines on the same data: logistic regression ~32 %,
MLP ~68 %, CNN ~94 % test accuracy (Greydanus & Kobak).
"""
import argparse
import json
import time

import numpy as np

from eventsnn.datasets import mnist1d
from eventsnn.encoding import SpikeInput
from eventsnn.gradients import SNN, Adam, MaxVoltageCE, evaluate, fit

LEVELS = 16          # amplitude bins = input neurons
DT_POS = 1.0         # ms per signal position
HIDDEN = 64
EPOCHS = 10
T_END = 70.0         # 40 ms of input + time for delayed spikes to arrive


def encode(X, levels=LEVELS, dt_pos=DT_POS):
    """One spike per position: neuron min(floor(x levels), levels - 1) at i * dt_pos."""
    X = np.asarray(X, np.float64)
    n, L = X.shape
    ids = np.minimum((X * levels).astype(np.int64), levels - 1).astype(np.int32)
    times = np.tile(np.arange(L) * dt_pos, n)
    return SpikeInput(np.arange(n + 1, dtype=np.int64) * L, times, ids.ravel(), levels)


def train(seed=0, epochs=EPOCHS, delays=True, hidden=HIDDEN, n_train=None, verbose=True, lr=1e-2,
          delay_lr=30.0, max_delay_init=10.0, scale=1.0):
    d = mnist1d()
    (Xtr, ytr), (Xte, yte) = d["train"], d["test"]
    if n_train:
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    tr, te = encode(Xtr), encode(Xte)
    net = SNN([LEVELS, hidden, 10], tau_m=20.0, tau_s=5.0, theta=1.0, output="voltage", recurrent=True,
              delay=[0.0, 0.0], rec_delay=1.0, t_end=T_END, seed=seed, delay_mode="synaptic",
              learn_delays=delays, init=[(0.0, 0.0)] * 3)
    rng = np.random.default_rng(seed)
    k1, k2 = net.psp_peak(1), net.psp_peak(2)
    # about two spikes per hidden neuron and sample: 40 input spikes reach each neuron
    net.weights[0][...] = rng.normal(0.25 / (k1 * 40), 1.5 / (k1 * np.sqrt(40)), net.weights[0].shape)
    net.weights[1][...] = rng.normal(0.0, 0.2 / (k1 * np.sqrt(hidden)), net.weights[1].shape)
    net.weights[2][...] = rng.normal(0.0, 1.0 / (k2 * np.sqrt(hidden)), net.weights[2].shape)
    for dq in net.delays:   # spread initial delays: the gradient moves them from there
        dq[...] += rng.uniform(0.0, max_delay_init, dq.shape)
    opt = Adam(lr=lr, decay=0.97, lr_scale=net.lr_scale(delays=delay_lr) if delays else None)
    t0 = time.perf_counter()
    hist = fit(net, tr, ytr, MaxVoltageCE(scale=scale), epochs=epochs, batch_size=32, optimizer=opt, seed=seed,
               bump=1e-3, test=(te, yte), verbose=verbose)
    wall = time.perf_counter() - t0
    acc = evaluate(net, te, yte, MaxVoltageCE(scale=scale)).accuracy
    dl = np.concatenate([x.ravel() for x in net.delays])
    return {"seed": seed, "delays": delays, "hidden": hidden, "epochs": epochs, "test_accuracy": acc,
            "best_test_accuracy": max(m["test_accuracy"] for m in hist),
            "train_accuracy": hist[-1]["accuracy"] if hist else None,
            "epoch_s": float(np.median([m["epoch_s"] for m in hist])) if hist else None,
            "delay_ms": {"min": float(dl.min()), "median": float(np.median(dl)), "max": float(dl.max())},
            "spikes_per_sample": hist[-1]["spikes_per_sample"] if hist else None, "wall_s": wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--hidden", type=int, default=HIDDEN)
    ap.add_argument("--no-delays", action="store_true", help="keep the delays fixed (weights only)")
    ap.add_argument("--n-train", type=int, default=None, help="use the first N training signals")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    res = []
    for s in a.seeds:
        r = train(s, a.epochs, not a.no_delays, a.hidden, a.n_train, verbose=not a.quiet)
        res.append(r)
        print(json.dumps(r), flush=True)
    acc = np.array([r["test_accuracy"] for r in res])
    print(json.dumps({"case": "mnist1d_delays", "delays": not a.no_delays, "seeds": a.seeds,
                      "test_acc": acc.tolist(), "mean_test_acc": float(acc.mean())}))


if __name__ == "__main__":
    main()
