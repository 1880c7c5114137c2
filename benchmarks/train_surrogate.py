"""Benchmark: surrogate-gradient BPTT training (eventsnn.gradients.bptt) on one thread.

With no arguments: Yin-Yang 5-200-3 (the task of benchmarks/surrogate_yinyang.py, the
snnTorch baseline: four features and a bias spike latency coded in [0, 30] ms,
tau_m = 20 ms, tau_s = 5 ms, theta = 1 mV, t_end = 60 ms, leaky read-out, cross-entropy
of the voltage maxima, Adam 5e-3, batch 32), fast-sigmoid surrogate (slope 25/mV), dt =
0.5 ms, seed 0, 60 epochs.  Prints one JSON line (its last line):

    {task, surrogate, dt_ms, epochs, epoch_s, test_acc, spikes_per_sample, ...}

epoch_s is the median wall time of one training epoch (all training samples, forward
+ backward + Adam update); epoch_cpu_s its CPU time; compile_s the Numba compilation
time (0 from a warm cache).

    python benchmarks/train_surrogate.py [--task yinyang|digits|mnist1d] [--surrogate S]
        [--dt MS] [--seed N] [--epochs N] [--threads N]

digits is the convolutional network of examples/surrogate_conv.py (its settings but this
script's --epochs, --surrogate and a constant learning rate; needs scikit-learn);
mnist1d a dense 41-256-10 network on MNIST-1D (needs mnist1d).
"""
import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np


def yinyang(dt, seed):
    from eventsnn.datasets import yin_yang_splits
    from eventsnn.encoding import latency
    from eventsnn.gradients import MaxVoltageCE
    from eventsnn.gradients.gridnet import Dense, GridSNN
    s = yin_yang_splits()
    enc = (lambda X: latency(X, t_min=0.0, t_max=30.0, bias_time=0.0))
    net = GridSNN(5, [Dense(200), Dense(3)], dt=dt, t_end=60.0, output="voltage",
                  init=[(1.5, 0.78), (0.93, 0.1)], seed=seed)
    return net, (enc(s["train"][0]), s["train"][1]), (enc(s["test"][0]), s["test"][1]), MaxVoltageCE(), 5e-3


def digits(dt, seed):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
    import surrogate_conv as ex

    from eventsnn.datasets import digits as load
    from eventsnn.gradients.bptt import CountCE
    d = load(test_fraction=0.25, seed=0)
    net = ex.build(dt, seed)
    return (net, (ex.encode(d["train"][0]), d["train"][1]), (ex.encode(d["test"][0]), d["test"][1]),
            CountCE(ex.SCALE), ex.LR)


def mnist1d(dt, seed):
    from eventsnn.datasets import mnist1d as load
    from eventsnn.encoding import latency
    from eventsnn.gradients import MaxVoltageCE
    from eventsnn.gradients.gridnet import Dense, GridSNN
    d = load(seed=0)
    enc = (lambda X: latency(X, t_min=0.0, t_max=30.0, bias_time=0.0))
    net = GridSNN(41, [Dense(256), Dense(10)], dt=dt, t_end=60.0, output="voltage", seed=seed)
    return net, (enc(d["train"][0]), d["train"][1]), (enc(d["test"][0]), d["test"][1]), MaxVoltageCE(), 5e-3


TASKS = {"yinyang": yinyang, "digits": digits, "mnist1d": mnist1d}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=sorted(TASKS), default="yinyang")
    ap.add_argument("--surrogate", default="fast_sigmoid")
    ap.add_argument("--slope", type=float, default=25.0)
    ap.add_argument("--dt", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    import numba
    numba.set_num_threads(a.threads)
    from eventsnn import compile_time
    from eventsnn.gradients import Adam
    from eventsnn.gradients.bptt import Surrogate, evaluate, fit
    net, tr, te, loss, lr = TASKS[a.task](a.dt, a.seed)
    t0 = time.perf_counter()
    hist = fit(net, tr[0], tr[1], loss, epochs=a.epochs, batch_size=32, optimizer=Adam(lr=lr),
               surrogate=Surrogate(a.surrogate, a.slope), seed=a.seed)
    total = time.perf_counter() - t0
    ev = evaluate(net, te[0], te[1], loss)
    # (the first epoch includes compiling on a cold cache: the median leaves it out)
    out = {"task": a.task, "surrogate": a.surrogate, "slope": a.slope, "dt_ms": a.dt, "epochs": a.epochs,
           "seed": a.seed, "threads": numba.get_num_threads(), "cpus": os.cpu_count(),
           "epoch_s": round(float(np.median([m["epoch_s"] for m in hist])), 3) if hist else None,
           "epoch_cpu_s": round(float(np.median([m["cpu_s"] for m in hist])), 3) if hist else None,
           "test_acc": round(ev.accuracy, 4), "spikes_per_sample": round(ev.spikes_per_sample, 2),
           "train_acc_last": round(hist[-1]["accuracy"], 4) if hist else None, "total_s": round(total, 1),
           "compile_s": round(compile_time(), 3), "n_params": net.n_params}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
