"""Benchmark: EventProp training on Yin-Yang (the examples/yinyang.py recipes).

Trains one network per seed and prints one JSON line per seed, then a summary JSON
line (always the last line): seeds, test_acc (final-epoch test accuracy per seed),
mean_test_acc, std_test_acc, test_acc_best_val (per seed, at the best validation
epoch), delays (bool: the 4-30-3 delay-learning network), sizes, epochs, epoch_s
(median over seeds of the median wall time of one training epoch: 5000 samples,
forward + backward + Adam), epoch_cpu_s, threads, cpus, and the summed operation
counts of the last epoch of the last seed.

    python benchmarks/train_yinyang.py [--seeds 0-9] [--delays] [--epochs N]
                                       [--threads N] [--fixed-threads]

``--threads`` sets Numba's thread count; training picks one thread or all of them
per minibatch by measured speed unless ``--fixed-threads`` is given.
"""
import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0", help='"0-9", "0,1,2" or "3"')
    ap.add_argument("--seed", type=int, default=None, help="one seed (older spelling of --seeds)")
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--delays", action="store_true", help="the 4-30-3 network with learned synaptic delays")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--fixed-threads", action="store_true", help="always use --threads (no per-batch choice)")
    a = ap.parse_args(argv)
    import numba
    if a.threads:
        numba.set_num_threads(a.threads)
    import yinyang
    seeds = [a.seed] if a.seed is not None else yinyang.parse_seeds(a.seeds)
    rows = []
    t0 = time.perf_counter()
    for seed in seeds:
        r = yinyang.train(seed=seed, epochs=a.epochs, verbose=False, delays=a.delays,
                          threads=None if a.fixed_threads else "auto")
        rows.append(r)
        print(json.dumps({"seed": seed, "test_acc": r["test_accuracy"], "test_acc_best_val": r["test_accuracy_best_val"],
                          "best_val_epoch": r["best_val_epoch"], "epoch_s": round(r["epoch_s"], 3),
                          "delay_ms": r["delay_ms"]}), flush=True)
    acc = np.array([r["test_accuracy"] for r in rows])
    last = rows[-1]
    out = {"case": "yinyang_" + "-".join(map(str, last["sizes"])) + ("_delays" if a.delays else ""),
           "delays": a.delays, "sizes": last["sizes"], "epochs": last["epochs"], "seeds": seeds,
           "test_acc": acc.tolist(), "mean_test_acc": round(float(acc.mean()), 5),
           "std_test_acc": round(float(acc.std()), 5),
           "test_acc_best_val": [r["test_accuracy_best_val"] for r in rows],
           "epoch_s": round(float(np.median([r["epoch_s"] for r in rows])), 3),
           "epoch_cpu_s": round(float(np.median([r["epoch_cpu_s"] for r in rows])), 3),
           "threads": numba.get_num_threads(), "thread_choice": "fixed" if a.fixed_threads else "auto",
           "cpus": os.cpu_count(), "spikes_per_sample": round(last["spikes_per_sample"], 2),
           "total_s": round(time.perf_counter() - t0, 1), "counts_last_epoch": last["history"][-1]["counts"]}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
