"""Where a benchmark spends its time inside the compiled kernels, by source line.

The event loop is one machine function (its kernels are inlined), and ``perf`` sees
JIT code as anonymous memory.  This script runs a benchmark script under
``perf record`` (cpu-clock sampling: it works where hardware counters do not), with
Numba's debug line tables on and an empty kernel cache (so the kernels are compiled
in the process, at the optimisation level of a normal run, and their object code with
its line tables can be read back).  At the end of the run the child writes each
compiled eventsnn kernel's object file and load address; the parent maps every
sample inside them to the innermost source line (``addr2line``, inlined frames
resolved) and prints the lines and the functions with the most samples.

    python benchmarks/jit_profile.py [--top 40] [--freq 2000] SCRIPT [ARGS ...]
    python benchmarks/jit_profile.py plastic_network.py --variant plastic
    python benchmarks/jit_profile.py --keep ... ; python benchmarks/jit_profile.py --analyse DIR x

SCRIPT is a path, or the name of a script in benchmarks/.  The profiled kernels are
compiled with debug line tables into an empty cache, which takes minutes and runs
them slower than the cached build: compare shares, not seconds.

Reading it: a timer sample lands on the instruction that was waiting, or on the one
after it, so a loop's head or the line after a long load often takes the blame for
what precedes it (in CUBA the loop head's room check gets ~25 % of the samples, yet
removing the check changes nothing measurable); trust functions more than lines, and
confirm a suspect by an A/B run.

Needs ``perf`` and ``addr2line`` (binutils).  Compilation happens in the profiled
process and its samples are outside the kernels: they are counted as "not in a
kernel".  Diagnostics only: the timings the script prints are not those of a normal
run (sampling and the line tables cost a few per cent).
"""
import argparse
import collections
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile


def _dump(out_dir):
    """Object files and load addresses of every compiled dispatcher of eventsnn."""
    from numba.core.registry import CPUDispatcher
    meta = []
    for name, mod in list(sys.modules.items()):
        if not name.startswith("eventsnn") or mod is None:
            continue
        for attr, d in list(vars(mod).items()):
            if not isinstance(d, CPUDispatcher):
                continue
            for i, cres in enumerate(d.overloads.values()):
                lib = cres.library
                try:
                    obj = lib._get_compiled_object()
                except Exception:
                    continue
                path = os.path.join(out_dir, f"{name}.{attr}.{i}.o")
                with open(path, "wb") as fh:
                    fh.write(obj)
                fname = cres.fndesc.mangled_name
                meta.append({"kernel": f"{name}.{attr}", "obj": path, "symbol": fname,
                             "addr": lib.get_pointer_to_function(fname)})
    with open(os.path.join(out_dir, "meta.json"), "w") as fh:
        json.dump(meta, fh)


def _inner(out_dir, script, args):
    import warnings
    from numba.core.errors import NumbaDebugInfoWarning
    warnings.simplefilter("ignore", NumbaDebugInfoWarning)
    sys.argv = [script] + list(args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        _dump(out_dir)


def _text_base(obj, symbol):
    """(section, offset of ``symbol`` in it, section size) of an object file."""
    out = subprocess.run(["readelf", "-sW", obj], capture_output=True, text=True, check=True).stdout
    secs = subprocess.run(["readelf", "-SW", obj], capture_output=True, text=True, check=True).stdout
    index = {}
    for line in secs.splitlines():
        line = line.strip()
        if line.startswith("["):
            parts = line[line.index("]") + 1:].split()
            if len(parts) >= 5 and all(c in "0123456789abcdef" for c in parts[4]):
                index[line[1:line.index("]")].strip()] = (parts[0], int(parts[4], 16))
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[7] == symbol and parts[6] in index:
            sec, size = index[parts[6]]
            return sec, int(parts[1], 16), size
    raise RuntimeError(f"{symbol} not found in {obj}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--freq", type=int, default=2000)
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help="keep the samples and objects (path printed)")
    ap.add_argument("--analyse", metavar="DIR", help="only analyse a kept run")
    ap.add_argument("script")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.inner:
        _inner(a.inner, a.script, a.args)
        return
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), a.script)
    if not os.path.exists(a.script) and os.path.exists(here):
        a.script = here          # a benchmark named from another directory
    if not os.path.exists(a.script):
        sys.exit(f"jit_profile: no script {a.script!r} (here or in benchmarks/)")
    for tool in ("perf", "addr2line", "readelf"):
        if shutil.which(tool) is None:
            sys.exit(f"jit_profile: {tool} is needed")
    work = a.analyse or tempfile.mkdtemp(prefix="jitprof")
    data = os.path.join(work, "perf.data")
    if not a.analyse:
        env = dict(os.environ, NUMBA_DEBUGINFO="1", NUMBA_CACHE_DIR=os.path.join(work, "cache"),
                   EVENTSNN_QUIET="1")
        subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(a.freq), "-o", data,
                        sys.executable, os.path.abspath(__file__), "--inner", work, a.script] + a.args,
                       env=env, check=True)
        if a.keep:
            print(json.dumps({"kept": work}), flush=True)
    with open(os.path.join(work, "meta.json")) as fh:
        meta = json.load(fh)
    ranges = []
    for m in meta:
        sec, off, size = _text_base(m["obj"], m["symbol"])
        base = m["addr"] - off
        ranges.append((base, base + size, m, sec))
    ips = subprocess.run(["perf", "script", "-i", data, "-F", "ip"], capture_output=True, text=True,
                         check=True).stdout.split()
    total = len(ips)
    per = collections.defaultdict(list)     # range index -> offsets
    outside = 0
    for s in ips:
        ip = int(s, 16)
        for i, (lo, hi, m, sec) in enumerate(ranges):
            if lo <= ip < hi:
                per[i].append(ip - lo)
                break
        else:
            outside += 1
    lines = collections.Counter()
    funcs = collections.Counter()
    for i, offs in per.items():
        lo, hi, m, sec = ranges[i]
        uniq = sorted(set(offs))
        # -a marks each address; with -i its (function, file:line) pairs follow,
        # innermost first: keep the first pair
        res = subprocess.run(["addr2line", "-e", m["obj"], "-j", sec, "-a", "-i", "-f", "-C"]
                             + [hex(o) for o in uniq], capture_output=True, text=True).stdout.splitlines()
        where = {}
        k = 0
        for line in res:
            if line.startswith("0x"):
                o = int(line, 16)
                k = 0
            elif k < 2:
                where[o] = where.get(o, ()) + (line,)
                k += 1
        for o in offs:
            fn, fl = (where.get(o, ()) + ("?", "?"))[:2]
            fl = fl.split(" (")[0]
            lines[fl.replace(os.getcwd() + "/", "")] += 1
            funcs[fn.split("[")[0][:90]] += 1
    print(json.dumps({"samples": total, "not_in_a_kernel": outside}))
    total = max(total - outside, 1)     # shares below: of the samples in kernels
    print("# functions (innermost inlined frame)")
    for k, v in funcs.most_common(a.top // 2):
        print(f"{100 * v / total:6.2f}%  {k}")
    print("# source lines")
    for k, v in lines.most_common(a.top):
        print(f"{100 * v / total:6.2f}%  {k}")
    if not (a.keep or a.analyse):
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
