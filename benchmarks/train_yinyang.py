"""Benchmark: EventProp training on Yin-Yang 5-200-3 (the examples/yinyang.py recipe).

Prints one JSON line: epoch_s (median wall time of one training epoch: 5000 samples,
forward + backward + Adam update), epoch_cpu_s (CPU time of that epoch, all threads),
samples_per_s, total wall time, test accuracy, spikes per sample, threads, and the
summed forward/backward operation counts of the last epoch.

    python benchmarks/train_yinyang.py [--epochs 40] [--seed 0] [--threads 2]
"""
import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    import numba
    if a.threads:
        numba.set_num_threads(a.threads)
    import yinyang
    t0 = time.perf_counter()
    r = yinyang.train(seed=a.seed, epochs=a.epochs, verbose=False)
    total = time.perf_counter() - t0
    hist = r["history"]
    out = {"case": "yinyang_5-200-3", "epochs": a.epochs, "seed": a.seed, "threads": numba.get_num_threads(),
           "cpus": os.cpu_count(), "epoch_s": round(r["epoch_s"], 3), "epoch_cpu_s": round(r["epoch_cpu_s"], 3),
           "samples_per_s": round(5000 / r["epoch_s"]), "total_s": round(total, 1),
           "test_acc": r["test_accuracy"], "test_acc_best_val": r["test_accuracy_best_val"],
           "spikes_per_sample": round(r["spikes_per_sample"], 2),
           "first_epoch_ge_97_5": next((m["epoch"] for m in hist if m.get("val_accuracy", 0) >= 0.975), None),
           "counts_last_epoch": hist[-1]["counts"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
