"""Start-up cost of the main job: import + JIT (cold: empty Numba cache; warm: cached).

Runs `python examples/brunel.py --n 1000 --duration 1` in a subprocess twice with a
fresh NUMBA_CACHE_DIR (cold, then warm) and prints one JSON line with wall times.
Then times the full main job (10^4 neurons, 1 s) once warm.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
ex = os.path.join(here, "..", "examples", "brunel.py")
env = dict(os.environ)
env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="eventsnn_numba_cache_")
times = {}
for label, args in (("cold_small_s", ["--n", "1000", "--duration", "1"]),
                    ("warm_small_s", ["--n", "1000", "--duration", "1"]),
                    ("warm_main_job_s", [])):
    t0 = time.perf_counter()
    subprocess.run([sys.executable, ex, "--plot", ""] + args, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    times[label] = round(time.perf_counter() - t0, 2)
print(json.dumps({"case": "startup", **times}))
