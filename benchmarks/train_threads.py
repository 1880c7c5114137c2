"""Benchmark: EventProp epoch time on one thread, on all threads, and with the
per-minibatch choice (``fit(threads="auto")``), on a quiet machine and with a busy-loop
process on one core.

Runs the Yin-Yang weights-only recipe (examples/yinyang.py) for ``--epochs`` epochs in
a fresh process per setting, interleaved (1, all, auto, 1, all, auto, ...), and prints
one JSON line per run and a summary line (last) with the median epoch time (epochs
after the first) per setting and condition, and auto's ratio to the serial time.

    python benchmarks/train_threads.py [--pairs 2] [--epochs 4] [--busy both|no|yes]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, sys, numba
mode = sys.argv[1]
sys.path.insert(0, sys.argv[3])
if mode == "1":
    numba.set_num_threads(1)
import yinyang
r = yinyang.train(seed=0, epochs=int(sys.argv[2]), verbose=False, threads="auto" if mode == "auto" else None)
print(json.dumps([m["epoch_s"] for m in r["history"]]))
"""


def run(mode, epochs):
    ex = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(epochs), ex], capture_output=True, text=True,
                         check=True, env={**os.environ, "EVENTSNN_QUIET": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--busy", choices=["both", "no", "yes"], default="both")
    a = ap.parse_args(argv)
    import numba
    n = numba.config.NUMBA_NUM_THREADS
    conds = {"both": ["quiet", "busy"], "no": ["quiet"], "yes": ["busy"]}[a.busy]
    summary = {"case": "yinyang_5-200-3_threads", "threads_max": n, "cpus": os.cpu_count(), "epochs": a.epochs}
    run("1", 1)   # compile once, outside the timings
    for cond in conds:
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if cond == "busy" else None
        try:
            times = {"1": [], str(n): [], "auto": []}
            for _ in range(a.pairs):
                for mode in times:
                    ep = run(mode, a.epochs)
                    med = float(np.median(ep[1:])) if len(ep) > 1 else ep[0]
                    times[mode].append(med)
                    print(json.dumps({"condition": cond, "setting": mode, "epoch_s": [round(x, 3) for x in ep],
                                      "median_after_first": round(med, 3)}), flush=True)
        finally:
            if hog is not None:
                hog.kill()
        for mode, v in times.items():
            summary[f"{cond}_{mode}_s"] = round(float(np.median(v)), 3)
            summary[f"{cond}_{mode}_range"] = [round(min(v), 3), round(max(v), 3)]
        summary[f"{cond}_auto_over_serial"] = round(float(np.median(times["auto"]) / np.median(times["1"])), 3)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
