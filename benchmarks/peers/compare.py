"""Side-by-side timing of eventsnn and its peers (Brian2, NEST) on the same network.

    python benchmarks/peers/compare.py CASE [--pairs 3] [--duration MS] [--seed 1]
        [--peers brian2_standalone,brian2_cython,nest,nest_precise]
        [--peer-python /work/peers-venv/bin/python] [--repeat R]

CASE is ``brunel``, ``cuba``, ``song`` or ``plastic``.  eventsnn's benchmark script
(benchmarks/brunel.py, benchmarks/cuba.py, benchmarks/stdp_song.py) runs in this
Python with PYTHONPATH set to the repository root; each peer script (this folder) runs
in the peers' interpreter (``--peer-python``, else $EVENTSNN_PEERS_PYTHON, else
/work/peers-venv/bin/python).  Every run is a fresh subprocess; the runs alternate,
eventsnn before every peer run: for each of ``--pairs`` rounds, A B1 A B2 ... (so each
peer has ``pairs`` runs and eventsnn ``pairs`` x number of peers).  Every run's JSON
line is printed as it arrives (eventsnn's lines get "simulator": "eventsnn"), then one
summary line::

    {"summary": true, "case", "bio_time_ms", "eventsnn_sim_s_median",
     "eventsnn_sim_s_range", "eventsnn_rates_hz",
     PEER: {"sim_s_median", "sim_s_range", "ratio" (peer median / eventsnn median),
            "rates_hz", "max_rel_rate_diff" (max over populations of
            |peer - eventsnn| / eventsnn, medians), "rates_within_5pct", "build_s_median",
            "compile_s_median" (Brian2)}, ...}

For ``song`` eventsnn's figure is the ``sim_s`` of benchmarks/stdp_song.py (its plastic
run; run with --repeat 1) and its rate is ``out_rate_hz``; the peers start from
eventsnn's initial weights (written to a temporary .npy), since the output rate depends
strongly on the drawn weights.  ``plastic`` has no peers: it runs
benchmarks/plastic_network.py once (``--repeat``, default --pairs, interleaved static
and plastic subprocesses) and summarises the ratio plastic / static.

All runs are single-threaded (OMP_NUM_THREADS=1; NEST local_num_threads=1; Brian2
standalone without OpenMP).  sim_s is the simulation alone in every simulator (see
README.md for how each is measured).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)

CASES = {
    # case: (eventsnn script, default duration (ms), {peer: (script, extra args)})
    "brunel": ("brunel.py", 1000.0, {
        "brian2_standalone": ("brunel_brian2.py", ["--simulator", "brian2_standalone"]),
        "brian2_cython": ("brunel_brian2.py", ["--simulator", "brian2_cython"]),
        "nest": ("brunel_nest.py", ["--simulator", "nest"]),
        "nest_precise": ("brunel_nest.py", ["--simulator", "nest_precise"])}),
    "cuba": ("cuba.py", 1000.0, {
        "brian2_standalone": ("cuba_brian2.py", ["--simulator", "brian2_standalone"]),
        "brian2_cython": ("cuba_brian2.py", ["--simulator", "brian2_cython"]),
        "nest": ("cuba_nest.py", ["--simulator", "nest"]),
        "nest_precise": ("cuba_nest.py", ["--simulator", "nest_precise"])}),
    "song": ("stdp_song.py", 100_000.0, {
        "brian2_standalone": ("song_brian2.py", ["--simulator", "brian2_standalone"]),
        "brian2_standalone_fine": ("song_brian2.py", ["--simulator", "brian2_standalone",
                                                      "--dt", "0.01"]),
        "brian2_cython": ("song_brian2.py", ["--simulator", "brian2_cython"]),
        "nest": ("song_nest.py", [])}),
    "plastic": ("plastic_network.py", 1000.0, {}),
}
DEFAULT_PEERS = {"brunel": "brian2_standalone,brian2_cython,nest,nest_precise",
                 "cuba": "brian2_standalone,brian2_cython,nest,nest_precise",
                 "song": "brian2_standalone,brian2_standalone_fine,nest", "plastic": ""}


def env_for(eventsnn):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    if eventsnn:
        env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    else:
        env.pop("PYTHONPATH", None)       # the peers never see eventsnn
        env["PYNEST_QUIET"] = "1"
    return env


def run(cmd, env, cwd, tag, timeout):
    """Run ``cmd``, print each JSON line of its stdout as it arrives (tagged), return the
    parsed lines (or raise RuntimeError with the end of stderr)."""
    lines = []
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=err, text=True)
        timer = threading.Timer(timeout, p.kill)      # a hung run is killed after timeout s
        timer.start()
        for line in p.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            d.setdefault("simulator", tag)
            if tag != "eventsnn":
                d["peer"] = tag
            print(json.dumps(d), flush=True)
            lines.append(d)
        rc = p.wait()
        timer.cancel()
        if rc != 0 or not lines:
            err.seek(0)
            tail = err.read()[-2000:]
            raise RuntimeError(f"{tag}: exit code {rc}: {' '.join(cmd)}\n{tail}")
    return lines


def med(xs):
    return round(statistics.median(xs), 4)


def rng(xs):
    return [round(min(xs), 4), round(max(xs), 4)]


def eventsnn_rates(d):
    if "rates_hz" in d:
        return d["rates_hz"]
    if "out_rate_hz" in d:                 # stdp_song.py
        return {"post": d["out_rate_hz"]}
    return {}


def song_weights(seed, path):
    """Write eventsnn's initial weights of examples/stdp_song.py (seed) to ``path``."""
    code = ("import sys, numpy as np; sys.path.insert(0, sys.argv[1]); "
            "from stdp_song import build; "
            "np.save(sys.argv[3], build(int(sys.argv[2]))[1].weights)")
    subprocess.run([sys.executable, "-c", code, os.path.join(ROOT, "examples"), str(seed), path],
                   env=env_for(True), check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=list(CASES))
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=None, help="ms (default: the case's)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peers", default=None, help="comma-separated (default: all for the case)")
    ap.add_argument("--peer-python", default=os.environ.get("EVENTSNN_PEERS_PYTHON",
                                                            "/work/peers-venv/bin/python"))
    ap.add_argument("--repeat", type=int, default=None,
                    help="plastic: plastic_network.py --repeat (default --pairs)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="s per run")
    a = ap.parse_args()
    script, default_duration, peer_table = CASES[a.case]
    duration = default_duration if a.duration is None else a.duration
    common = ["--duration", repr(duration), "--seed", str(a.seed)]
    ev_cmd = [sys.executable, os.path.join(BENCH, script)] + common

    if a.case == "plastic":
        rep = a.pairs if a.repeat is None else a.repeat
        lines = run(ev_cmd + ["--repeat", str(rep)], env_for(True), BENCH, "eventsnn", a.timeout)
        runs = [d for d in lines if d.get("variant") in ("static", "plastic")]
        st = [d["sim_s"] for d in runs if d["variant"] == "static"]
        pl = [d["sim_s"] for d in runs if d["variant"] == "plastic"]
        summ = {"summary": True, "case": "plastic", "bio_time_ms": duration, "repeat": rep,
                "eventsnn_sim_s_median": med(pl), "eventsnn_sim_s_range": rng(pl),
                "static_sim_s_median": med(st), "static_sim_s_range": rng(st),
                "ratio": round(statistics.median(pl) / statistics.median(st), 3),
                "ratio_best": round(min(pl) / min(st), 3),
                "eventsnn_rates_hz": {"exc": runs[-1]["rate_exc_hz"], "inh": runs[-1]["rate_inh_hz"]}}
        print(json.dumps(summ), flush=True)
        return

    peers = [p for p in (DEFAULT_PEERS[a.case] if a.peers is None else a.peers).split(",") if p]
    for p in peers:
        if p not in peer_table:
            ap.error(f"no peer {p!r} for case {a.case} (choose from {', '.join(peer_table)})")
    if a.case == "song":
        ev_cmd += ["--repeat", "1"]
    peer_extra = []
    tmp = None
    if a.case == "song" and peers:
        tmp = tempfile.NamedTemporaryFile(suffix=".npy", delete=False)
        tmp.close()
        song_weights(a.seed, tmp.name)
        peer_extra = ["--weights", tmp.name]

    ev_runs, peer_runs, errors = [], {p: [] for p in peers}, {}
    try:
        for _ in range(a.pairs):
            for p in peers or [None]:
                ev_runs += run(ev_cmd, env_for(True), BENCH, "eventsnn", a.timeout)[-1:]
                if p is None:
                    continue
                pscript, pargs = peer_table[p]
                cmd = [a.peer_python, os.path.join(HERE, pscript)] + pargs + common + peer_extra
                try:
                    peer_runs[p] += run(cmd, env_for(False), HERE, p, a.timeout)[-1:]
                except (RuntimeError, OSError) as e:
                    errors[p] = str(e)
                    print(str(e), file=sys.stderr, flush=True)
    finally:
        if tmp is not None:
            os.unlink(tmp.name)

    ev_sim = [d["sim_s"] for d in ev_runs]
    ev_rates = eventsnn_rates(ev_runs[-1])
    summ = {"summary": True, "case": a.case, "bio_time_ms": duration, "pairs": a.pairs,
            "seed": a.seed, "eventsnn_sim_s_median": med(ev_sim), "eventsnn_sim_s_range": rng(ev_sim),
            "eventsnn_runs": len(ev_sim), "eventsnn_rates_hz": ev_rates}
    for p in peers:
        rs = peer_runs[p]
        if not rs:
            summ[p] = {"error": errors.get(p, "no run")[:300]}
            continue
        sims = [d["sim_s"] for d in rs]
        rates = {k: med([d["rates_hz"][k] for d in rs]) for k in rs[0]["rates_hz"]}
        diffs = [abs(rates[k] - v) / v for k, v in ev_rates.items() if k in rates and v > 0]
        ent = {"sim_s_median": med(sims), "sim_s_range": rng(sims),
               "ratio": round(statistics.median(sims) / statistics.median(ev_sim), 3),
               "rates_hz": rates,
               "max_rel_rate_diff": round(max(diffs), 4) if diffs else None,
               "rates_within_5pct": bool(diffs) and max(diffs) <= 0.05,
               "build_s_median": med([d["build_s"] for d in rs]), "runs": len(rs)}
        if "compile_s" in rs[0]:
            ent["compile_s_median"] = med([d["compile_s"] for d in rs])
        if p in errors:
            ent["error"] = errors[p][:300]
        summ[p] = ent
    print(json.dumps(summ), flush=True)


if __name__ == "__main__":
    main()
