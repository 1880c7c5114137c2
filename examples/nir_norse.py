"""Norse -> NIR -> eventsnn: a spiking MLP trained clock-driven, run exactly.

The Norse counterpart of examples/nir_snntorch.py: trains a 64-128-10 network of
Norse ``LIFBoxCell`` neurons (current-free LIF, dt = 1 ms) on scikit-learn's 8x8
digits (rate-coded spikes, T steps), exports it with ``norse.torch.utils.export_nir.to_nir``,
writes it with ``nir.write``, reads it with ``eventsnn.from_nir`` (one network per test
sample) and compares accuracy, predicted classes, spikes step by step and operation
counts; NeuroBench's synaptic operations when ``neurobench`` is installed.

Needs, besides eventsnn (``pip install -e .`` in the checkout):

    pip install torch norse nir scikit-learn         # required
    pip install neurobench                           # optional

    python examples/nir_norse.py [--epochs 20] [--samples 0] [--seed 0] [--quick]

What Norse 1.1.0 (PyPI) exports, and how it is read:

* ``LIFBoxCell`` -> NIR ``LIF`` with r = 1, v_leak, v_threshold and
  ``tau = dt * (1 / tau_mem_inv)`` (norse issue #411, fixed after 1.1.0 to
  tau = 1 / tau_mem_inv): every tau is dt = 1e-3 times too small.  All times of the
  graph are off by the same factor, so the graph is exact in a time unit of
  1e-3 s x 1e-3 s: ``from_nir(g, x, dt=1e-6, time_scale=1e6)`` reads it right
  (tau_m = 10 ms, a spike moves V by W dt / tau = 0.1 W, as Norse's
  ``v += dt tau_mem_inv (x - v)``).  A graph from a fixed Norse (tau >= dt) is read
  with ``dt=1e-3`` (Norse's step) and the default time_scale.  The script detects which.
* ``Linear`` -> ``Affine`` with a zero bias (ignored by from_nir).
* No Flatten or pooling nodes (exported as None, so the graph cannot be written) and a
  Conv2d without bias fails (``module.bias.detach()``), hence an MLP here.
* The sample data must have no batch dimension (``to_nir`` has no ``ignore_dims``; with
  a batch the Input node gets shape (1, 64) and ``nir.read`` refuses the graph).
* Parameters must be per-neuron tensors (0-d ones give the LIF node shape ()).

Norse decays by 1 - dt tau_mem_inv = 0.9 per step and adds 0.1 x in the same step;
eventsnn decays by exp(-0.1) = 0.9048 per ms.  ``--matched`` also runs the graph with
tau = -dt / ln(0.9) (and r so that a spike still adds 0.1 W): then only float32 vs
float64 rounding and the strict (Norse) vs non-strict (eventsnn) threshold remain.
"""
import argparse
import json
import math
import os
import tempfile
import time

import numpy as np

DT = 1e-3            # s: Norse's step
DT_MS = DT * 1000.0
TAU_INV = 100.0      # 1/s: tau_mem = 10 ms, 1 - dt/tau = 0.9
P_MAX = 0.5
LAYERS = ["1", "3"]


def load():
    from eventsnn.datasets import digits
    d = digits(test_fraction=0.25, seed=0)
    return d["train"], d["test"]


def encode(X, T, rng):
    return (rng.random((X.shape[0], T, X.shape[1])) < X[:, None, :] * P_MAX).astype(np.float32)


def test_spikes(X, T, seed):
    return np.stack([encode(X[i:i + 1], T, np.random.default_rng([seed, 1, i]))[0] for i in range(len(X))])


def build(torch, nt):
    from norse.torch.functional.lif_box import LIFBoxParameters

    def cell(n):
        return nt.LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.full((n,), TAU_INV), v_leak=torch.zeros(n),
                                              v_th=torch.ones(n), v_reset=torch.zeros(n)), dt=DT)
    net = nt.SequentialState(torch.nn.Linear(64, 128, bias=False), cell(128),
                             torch.nn.Linear(128, 10, bias=False), cell(10))
    with torch.no_grad():                  # a spike moves V by 0.1 W: start with larger weights
        net[0].weight.mul_(20.0)
        net[2].weight.mul_(60.0)
    return net


def forward(net, x, rasters=False):
    """x (B, T, 64) -> output counts (B, 10) [and name -> (B, T, n) bool rasters]."""
    import torch
    T = x.shape[1]
    states = [None] * len(net)
    rec = {n: [] for n in LAYERS}
    count = 0
    for t in range(T):
        h = x[:, t]
        for j, m in enumerate(net):
            if isinstance(m, torch.nn.Linear):
                h = m(h)
            else:
                h, states[j] = m(h, states[j])
                if rasters:
                    rec[str(j)].append(h.detach().numpy() > 0)
        count = count + h
    if rasters:
        return count, {n: np.stack(v, axis=1) for n, v in rec.items()}
    return count


def train(net, Xtr, ytr, T, epochs, seed, torch, log, lr=5e-2):
    F = torch.nn.functional
    rng = np.random.default_rng([seed, 0])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    batch = 32
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs * math.ceil(len(ytr) / batch)))
    t0 = time.perf_counter()
    for ep in range(epochs):
        perm = rng.permutation(len(ytr))
        tot, correct = 0.0, 0
        for b in range(0, len(perm), batch):
            idx = perm[b:b + batch]
            x = torch.tensor(encode(Xtr[idx], T, rng))
            y = torch.tensor(ytr[idx])
            c = forward(net, x)
            loss = F.cross_entropy(c * (20.0 / T), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
            correct += int((c.argmax(1) == y).sum())
        log({"what": "epoch", "epoch": ep + 1, "loss": tot / len(ytr), "train_accuracy": correct / len(ytr),
             "wall_s": time.perf_counter() - t0})
    return time.perf_counter() - t0


def read_options(g):
    """from_nir options for a Norse graph: Norse 1.1.0 writes tau = dt / tau_mem_inv."""
    taus = [float(np.min(v.tau)) for v in g.nodes.values() if type(v).__name__ == "LIF"]
    if min(taus) < DT:
        return {"dt": DT * DT, "time_scale": 1000.0 / DT}, "norse<=1.1.0 tau = dt/tau_mem_inv: time unit dt s"
    return {"dt": DT}, "tau = 1/tau_mem_inv (s)"


def matched_graph(g, nir, opts):
    """tau -> -dt/ln(1 - dt/tau), r -> (dt/tau) tau'/dt: decay per step as in Norse, same jump."""
    dtg = opts["dt"]                       # the step in graph units
    nodes = dict(g.nodes)
    for k, v in g.nodes.items():
        if type(v).__name__ == "LIF":
            tau = np.asarray(v.tau, np.float64)
            a = dtg / tau * np.asarray(v.r, np.float64)     # Norse: dt tau_mem_inv (r = 1)
            t2 = -dtg / np.log(1.0 - dtg / tau)
            nodes[k] = nir.LIF(tau=t2, r=a * t2 / dtg, v_leak=np.asarray(v.v_leak),
                               v_threshold=np.asarray(v.v_threshold), v_reset=np.asarray(v.v_reset))
    return nir.NIRGraph(nodes=nodes, edges=list(g.edges))


def run_eventsnn(g, spikes, T, opts, from_nir, ev):
    n = len(spikes)
    counts = np.zeros((n, 10), np.int64)
    rasters = {}
    tot = {"syn_events": 0, "source_syn_events": 0, "state_advances": 0, "threshold_tests": 0}
    nbs = {"Effective_ACs": 0, "Effective_MACs": 0, "Dense": 0}
    rp = {"event": 0.0, "clock": 0.0, "ann": 0.0}
    wall = 0.0
    for i in range(n):
        t0 = time.perf_counter()
        net = from_nir(g, {"input": spikes[i].astype(np.int64)}, **opts)
        with ev.Stopwatch() as sw:
            res = net.run(T * DT_MS)
        wall += time.perf_counter() - t0 - sw.compile
        rep = net.report(res, dt=DT_MS).as_dict()
        for k in LAYERS:
            s = res.spikes_of(k)
            if k not in rasters:
                rasters[k] = np.zeros((n, T, net.populations[k][1]), bool)
            rasters[k][i, np.clip(np.rint(s.times / DT_MS).astype(np.int64), 0, T - 1), s.ids] = True
        counts[i] = np.bincount(res.spikes_of(net.nir_outputs["output"][0]).ids, minlength=10)
        for k in tot:
            tot[k] += rep["event"]["counts"][k]
        for k in nbs:
            nbs[k] += rep["neurobench"][k]
        for k in rp:
            rp[k] += rep[k]["energy_pj"]["total"]
    return {"counts": counts, "rasters": rasters, "ops_per_sample": {k: v / n for k, v in tot.items()},
            "neurobench_per_sample": {k: v / n for k, v in nbs.items()},
            "energy_nj_per_sample": {k: v / n / 1e3 for k, v in rp.items()},
            "n_synapses": int(net.n_synapses), "wall_s": wall, "taus_ms": [p.model.tau_m for p in net._pops]}


def neurobench_synops(net, spikes, y, torch):
    try:
        from neurobench.benchmarks import Benchmark
        from neurobench.metrics.static import ConnectionSparsity, Footprint
        from neurobench.metrics.workload import (
            ClassificationAccuracy,
            SynapticOperations,
        )
        from neurobench.models import TorchModel
        from neurobench.processors.postprocessors import ChooseMaxCount
    except ImportError as e:
        return {"skipped": f"neurobench not importable: {e}"}

    class Runner(torch.nn.Module):       # (B, T, 64) -> (B, T, 10) spikes
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            states = [None] * len(self.net)
            out = []
            for t in range(x.shape[1]):
                h = x[:, t]
                for j, m in enumerate(self.net):
                    h = m(h) if isinstance(m, torch.nn.Linear) else m(h, states[j])
                    if isinstance(h, tuple):
                        h, states[j] = h
                out.append(h)
            return torch.stack(out, 1)

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(spikes), torch.tensor(y)),
                                         batch_size=64)
    bench = Benchmark(TorchModel(Runner(net)), loader, [], [ChooseMaxCount()],
                      [[Footprint, ConnectionSparsity], [ClassificationAccuracy, SynapticOperations]])
    r = bench.run(quiet=True)
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in r.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--samples", type=int, default=0, help="test samples (0: all 450)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=40, help="time steps of dt = 1 ms")
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 epochs, 40 test samples")
    ap.add_argument("--matched", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--neurobench", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--nir", default="")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if a.quick:
        a.epochs, a.samples = 2, (a.samples or 40)

    import eventsnn as ev
    import nir
    import norse.torch as nt
    import torch
    from eventsnn.nir_io import from_nir
    from norse.torch.utils.export_nir import to_nir

    def log(d):
        print(json.dumps(d, default=float), flush=True)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    (Xtr, ytr), (Xte, yte) = load()
    T = a.steps
    log({"what": "config", "epochs": a.epochs, "seed": a.seed, "steps": T, "dt_s": DT, "tau_mem_inv": TAU_INV})
    net = build(torch, nt)
    train_s = train(net, Xtr, ytr, T, a.epochs, a.seed, torch, log)
    n = len(yte) if a.samples <= 0 else min(a.samples, len(yte))
    Xs, ys = Xte[:n], yte[:n]
    spikes = test_spikes(Xs, T, a.seed)
    t0 = time.perf_counter()
    with torch.no_grad():
        c_st, r_st = forward(net, torch.tensor(spikes), rasters=True)
    st_s = time.perf_counter() - t0
    c_st = c_st.numpy().astype(np.int64)

    g = to_nir(net, torch.zeros(64))          # no batch dimension (see the docstring)
    path = a.nir or os.path.join(tempfile.mkdtemp(prefix="nir_norse_"), "digits_mlp.nir")
    nir.write(path, g)
    g = nir.read(path)
    opts, why = read_options(g)
    log({"what": "nir_nodes", "path": path, "nodes": {k: type(v).__name__ for k, v in g.nodes.items()},
         "lif_tau": sorted({float(np.asarray(v.tau).flat[0]) for v in g.nodes.values() if type(v).__name__ == "LIF"}),
         "from_nir_options": opts, "reading": why})
    runs = {"exported": run_eventsnn(g, spikes, T, opts, from_nir, ev)}
    if a.matched:
        runs["matched"] = run_eventsnn(matched_graph(g, nir, opts), spikes, T, opts, from_nir, ev)

    p_st = c_st.argmax(1)
    out = {"what": "accuracy", "samples": n, "norse": float(np.mean(p_st == ys)), "train_s": train_s,
           "norse_test_s": st_s}
    for k, r in runs.items():
        p = r["counts"].argmax(1)
        out[f"eventsnn_{k}"] = float(np.mean(p == ys))
        out[f"agreement_{k}"] = float(np.mean(p == p_st))
        out[f"identical_output_counts_{k}"] = float(np.mean(np.all(r["counts"] == c_st, axis=1)))
    log(out)
    spk = {"what": "spikes_per_sample", "input": float(spikes.sum() / n),
           "norse": {L: float(r_st[L].sum() / n) for L in LAYERS}}
    for k, r in runs.items():
        spk[f"eventsnn_{k}"] = {L: float(r["rasters"][L].sum() / n) for L in LAYERS}
        spk[f"jaccard_{k}"] = {L: float(np.sum(r_st[L] & r["rasters"][L]) / np.sum(r_st[L] | r["rasters"][L]))
                               if np.any(r_st[L] | r["rasters"][L]) else 1.0 for L in LAYERS}
    log(spk)
    for k, r in runs.items():
        log({"what": f"eventsnn_ops_{k}", **{x: r[x] for x in ("ops_per_sample", "neurobench_per_sample",
                                                             "energy_nj_per_sample", "n_synapses", "wall_s",
                                                             "taus_ms")}})
    nb = neurobench_synops(net, spikes, ys, torch) if a.neurobench else {"skipped": "--no-neurobench"}
    log({"what": "neurobench_norse", **nb})

    e = runs["exported"]
    m = runs.get("matched")
    rows = [("test accuracy", f"{out['norse']:.4f}", f"{out['eventsnn_exported']:.4f}",
             f"{out['eventsnn_matched']:.4f}" if m else ""),
            ("agreement of predicted classes", "", f"{out['agreement_exported']:.4f}",
             f"{out['agreement_matched']:.4f}" if m else "")]
    for L, lab in zip(LAYERS, ("hidden (128)", "output (10)")):
        rows.append((f"spikes/sample {lab}", f"{r_st[L].sum() / n:.2f}", f"{e['rasters'][L].sum() / n:.2f}",
                     f"{m['rasters'][L].sum() / n:.2f}" if m else ""))
        rows.append((f"spike Jaccard (step-exact) {lab}", "", f"{spk['jaccard_exported'][L]:.4f}",
                     f"{spk['jaccard_matched'][L]:.4f}" if m else ""))
    so = nb.get("SynapticOperations", {})
    rows += [("synaptic events (ACs)/sample", "",
              f"{e['ops_per_sample']['syn_events'] + e['ops_per_sample']['source_syn_events']:,.0f}", ""),
             ("NB Effective_ACs/sample", f"{so.get('Effective_ACs', float('nan')):,.0f}",
              f"{e['neurobench_per_sample']['Effective_ACs']:,.0f}", ""),
             ("NB Effective_MACs/sample", f"{so.get('Effective_MACs', float('nan')):,.0f}",
              f"{e['neurobench_per_sample']['Effective_MACs']:,.0f}", ""),
             ("NB Dense/sample", f"{so.get('Dense', float('nan')):,.0f}",
              f"{e['neurobench_per_sample']['Dense']:,.0f}", ""),
             ("wall time test set (s)", f"{st_s:.2f}", f"{e['wall_s']:.2f}", f"{m['wall_s']:.2f}" if m else "")]
    w = max(len(r[0]) for r in rows) + 2
    print(f"\n{'':<{w}}{'Norse':>14}{'eventsnn':>14}{'tau matched':>14}   ({n} test samples, T = {T})")
    for r in rows:
        print(f"{r[0]:<{w}}{r[1]:>14}{r[2]:>14}{r[3]:>14}")


if __name__ == "__main__":
    main()
