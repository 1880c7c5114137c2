"""snnTorch -> NIR -> eventsnn: a convolutional SNN trained clock-driven, run exactly.

Trains a small convolutional SNN in snnTorch on scikit-learn's 8x8 digits (rate-coded
input spikes, T steps of dt = 0.1 ms), exports it with ``snntorch.export_to_nir``,
writes it with ``nir.write``, reads it back with ``eventsnn.from_nir`` (one network
per test sample, built with that sample's input spike tensor) and runs the test set
event-driven.  Prints, as JSON lines and a short table: the accuracy in snnTorch
(clock-driven) and in eventsnn (exact), the agreement of the predicted classes and of
the spikes (step by step), the spikes per layer, eventsnn's operation counts and
NeuroBench-style figures and, when ``neurobench`` is installed, NeuroBench's own
figures on the same trained snnTorch model.

Needs, besides eventsnn (``pip install -e .`` in the checkout):

    pip install torch snntorch nir scikit-learn      # required
    pip install neurobench                           # optional: NeuroBench's own figures

    python examples/nir_snntorch.py                  # 20 epochs, whole test set (2-3 minutes)
    python examples/nir_snntorch.py --quick          # smoke test: 2 epochs, 40 test samples
    python examples/nir_snntorch.py --epochs 20 --samples 0 --seed 0 --nir digits_scnn.nir

Network (snnTorch names = NIR node names = eventsnn population names):

    input (1x8x8 spikes) -> 0 Conv2d(1, 8, 3) -> 1 Leaky (8x6x6) -> 2 AvgPool2d(2) -> 3 Flatten
    -> 4 Linear(72, 64) -> 5 Leaky (64) -> 6 Linear(64, 10) -> 7 Leaky (10) -> output (spike count)

Choices made for NIR and eventsnn: no biases (a bias is a constant current, which
eventsnn integrates exactly, so spikes would fall between the steps and the
step-by-step comparison below would no longer be one to one),
``reset_mechanism="zero"`` (NIR resets *to* v_reset; snnTorch's export ignores the
reset mechanism and writes v_reset = 0), per-neuron tensors for beta and threshold
(snnTorch's export needs them to infer types) holding one value per layer (eventsnn
populations share their parameters), ``export_to_nir(..., ignore_dims=[0])`` (the
batch dimension must not reach NIR's type inference, else Conv2d gets a 3-D
input_shape).

What differs between the two simulations (see eventsnn/nir_io.py and docs/nir.md):

* snnTorch decays by ``beta`` per step; its export writes ``tau = dt / (1 - beta)`` and
  eventsnn integrates that tau exactly, i.e. decays by ``exp(-(1 - beta)) = 0.9048``
  per dt instead of 0.9.  ``--matched`` also runs the graph with tau replaced by
  ``-dt / ln(beta)`` (and r = tau / dt, so that a spike still moves V by W): then the
  decay per step is beta, as in snnTorch, and only float32 vs float64 rounding and the
  strict (snnTorch) vs non-strict (eventsnn) threshold test remain.  That variant is a
  diagnostic of the discretisation, not what the exported graph says.
* snnTorch's zero reset with ``reset_delay=True`` (the default) keeps the supra-threshold
  V for the step of the spike and zeroes it before the next decay: the same as
  eventsnn's immediate reset to 0 for every later step.
* Layers follow each other in the same step in snnTorch (a Sequential has no delay);
  eventsnn puts 1e-6 ms between spiking layers (``zero_delay``), so a spike of step k
  still falls in bin k.  With delta synapses and no bias, every spike is at an input
  instant, so the event-driven spikes map to steps exactly.

Reading the operation counts (same spikes, different definitions):

* eventsnn folds AvgPool2d -> Flatten -> Linear into one 288 x 64 projection, so a spike
  of layer 1 is 64 synaptic events; NeuroBench hooks the torch layers, sees the pooled
  values (0.25, 0.5, ...) entering Linear(72, 64), and counts 64 MACs per non-zero
  pooled value instead.  The conv layer (binary input spikes) and Linear(64, 10) count
  the same in both (NeuroBench's ACs = eventsnn's synaptic events there).
* "Dense": NeuroBench counts kernel applications (conv 2,592 + 4,608 + 640 per step);
  eventsnn counts the dense matrices of its projections (64 x 288 + 288 x 64 + 64 x 10
  per step).  Connection sparsity likewise: NeuroBench 0 (every trained weight is
  non-zero), eventsnn the zeros of the expanded conv and pooling matrices.  Footprint:
  NeuroBench the float32 parameters and buffers, eventsnn its CSR synapses (float64
  weights of the expanded matrices), neuron state and input spike times.
* eventsnn's NeuroBench figures bin spikes into (j dt, (j + 1) dt]: a spike at exactly
  k dt (every input and layer-1 spike here) falls into bin k - 1 and the spikes at 0
  and dt share bin 0, which makes a few "non-binary" bins (counted as MACs) and moves
  the activation sparsity in the 4th decimal.
"""
import argparse
import json
import math
import os
import tempfile
import time

import numpy as np

DT = 1e-4            # s: snnTorch's NIR export step (hard-coded there)
DT_MS = DT * 1000.0
BETA = 0.9           # snnTorch decay per step: tau = dt / (1 - beta) = 1 ms
P_MAX = 0.5          # spike probability per step of a white pixel
LAYERS = ["1", "5", "7"]


# ----------------------------------------------------------------------------- data
def load(seed):
    from eventsnn.datasets import digits
    d = digits(test_fraction=0.25, seed=0)          # fixed split; seed only for training
    return d["train"], d["test"]


def encode(X, T, rng):
    """Rate code: (n, T, 64) 0/1 spikes, P(spike) = pixel x P_MAX per step."""
    return (rng.random((X.shape[0], T, X.shape[1])) < X[:, None, :] * P_MAX).astype(np.float32)


def test_spikes(X, T, seed):
    """One spike tensor per test sample, from its own stream: independent of the order
    and of how many samples are run."""
    return np.stack([encode(X[i:i + 1], T, np.random.default_rng([seed, 1, i]))[0] for i in range(len(X))])


# --------------------------------------------------------------------------- snnTorch
def build(torch, snn):
    from snntorch import surrogate
    sg = surrogate.fast_sigmoid(slope=10)

    def leaky(shape, output=False):
        return snn.Leaky(beta=torch.full(shape, BETA), threshold=torch.ones(shape), reset_mechanism="zero",
                         init_hidden=True, output=output, spike_grad=sg)

    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, bias=False), leaky((8, 6, 6)),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(72, 64, bias=False), leaky((64,)),
        torch.nn.Linear(64, 10, bias=False), leaky((10,), output=True))


def forward(net, x, rasters=False):
    """x: (B, T, 64) tensor.  Output spike counts (B, 10) and, with rasters, the spikes
    of every Leaky layer: name -> (B, T, n) bool array."""
    import snntorch as snn
    from snntorch import utils
    utils.reset(net)
    B, T = x.shape[0], x.shape[1]
    rec = {n: [] for n in LAYERS}
    count = 0
    for t in range(T):
        h = x[:, t].reshape(B, 1, 8, 8)
        for name, m in net.named_children():
            h = m(h)
            if isinstance(h, tuple):
                h = h[0]
            if rasters and isinstance(m, snn.Leaky):
                rec[name].append(h.detach().reshape(B, -1).numpy() > 0)
        count = count + h
    if rasters:
        return count, {n: np.stack(v, axis=1) for n, v in rec.items()}
    return count


def train(net, Xtr, ytr, T, epochs, seed, torch, log):
    F = torch.nn.functional
    rng = np.random.default_rng([seed, 0])
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    batch = 32
    steps = epochs * math.ceil(len(ytr) / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    t0 = time.perf_counter()
    for ep in range(epochs):
        net.train()
        perm = rng.permutation(len(ytr))
        tot, correct = 0.0, 0
        for b in range(0, len(perm), batch):
            idx = perm[b:b + batch]
            x = torch.tensor(encode(Xtr[idx], T, rng))
            y = torch.tensor(ytr[idx])
            c = forward(net, x)
            loss = F.cross_entropy(c * (20.0 / T), y)       # spike counts as logits
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
            correct += int((c.argmax(1) == y).sum())
        log({"what": "epoch", "epoch": ep + 1, "loss": tot / len(ytr), "train_accuracy": correct / len(ytr),
             "wall_s": time.perf_counter() - t0})
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------- NIR
def node_summary(g):
    """What snnTorch's export wrote, node by node (type, shapes, the fields eventsnn reads)."""
    out = {}
    for k, v in g.nodes.items():
        d = {"type": type(v).__name__}
        it, ot = getattr(v, "input_type", None), getattr(v, "output_type", None)
        if it:
            d["input_type"] = {a: np.asarray(b).tolist() for a, b in it.items()}
        if ot:
            d["output_type"] = {a: np.asarray(b).tolist() for a, b in ot.items()}
        for f in ("input_shape", "stride", "padding", "dilation", "groups", "kernel_size", "start_dim", "end_dim"):
            if hasattr(v, f):
                x = getattr(v, f)
                d[f] = None if x is None else np.asarray(x).tolist()
        for f in ("weight", "bias"):
            if hasattr(v, f):
                w = np.asarray(getattr(v, f))
                d[f] = {"shape": list(w.shape), "nonzero": int(np.count_nonzero(w))}
        for f in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
            if hasattr(v, f):
                u = np.unique(np.asarray(getattr(v, f), np.float64))
                d[f] = u.tolist() if len(u) <= 3 else f"{len(u)} distinct values"
        out[k] = d
    return out


def matched_graph(g, nir):
    """The graph with every LIF's tau replaced by -dt/ln(beta) (beta = 1 - dt/tau, as
    snnTorch exported it) and r = tau/dt: eventsnn then decays by beta per dt exactly."""
    nodes = dict(g.nodes)
    for k, v in g.nodes.items():
        if type(v).__name__ == "LIF":
            tau = np.asarray(v.tau, np.float64)
            beta = 1.0 - DT / tau
            t2 = -DT / np.log(beta)
            nodes[k] = nir.LIF(tau=t2, r=t2 / DT, v_leak=np.asarray(v.v_leak), v_threshold=np.asarray(v.v_threshold),
                               v_reset=np.asarray(v.v_reset))
    return nir.NIRGraph(nodes=nodes, edges=list(g.edges))


# ---------------------------------------------------------------------------- eventsnn
_OPS = ("spikes", "source_spikes", "syn_events", "source_syn_events", "state_advances", "threshold_tests",
        "queue_pushes", "queue_pops", "candidates", "stale_candidates")
_NB = ("Effective_ACs", "Effective_MACs", "Dense", "SynOps_fanout", "SynOps_dense_fanout", "nonbinary_group_bins")


def run_eventsnn(g, spikes, T, from_nir, ev):
    """Run every sample's network; returns output counts, rasters and summed counts."""
    n = len(spikes)
    counts = np.zeros((n, 10), np.int64)
    rasters = {k: None for k in LAYERS}
    sums = {k: 0 for k in _OPS}
    nb = {k: 0 for k in _NB}
    rep_sums = {"clock_neuron_updates": 0, "ann_macs": 0, "event_energy_pj": 0.0, "clock_energy_pj": 0.0,
                "ann_energy_pj": 0.0}
    active = 0.0
    neuron_bins = 0
    off_grid = 0
    t_build = t_run = t_report = t_compile = 0.0
    foot = 0.0
    conn = None
    for i in range(n):
        t0 = time.perf_counter()
        net = from_nir(g, {"input": spikes[i].reshape(T, 1, 8, 8).astype(np.int64)}, dt=DT)
        t1 = time.perf_counter()
        with ev.Stopwatch() as sw:
            res = net.run(T * DT_MS)
        t_compile += sw.compile
        t_run += sw.seconds
        t_build += t1 - t0
        t2 = time.perf_counter()
        rep = net.report(res, dt=DT_MS).as_dict()
        t_report += time.perf_counter() - t2
        for k in LAYERS:
            s = res.spikes_of(k)
            size = net.populations[k][1]
            if rasters[k] is None:
                rasters[k] = np.zeros((n, T, size), bool)
            step = s.times / DT_MS
            k_step = np.rint(step).astype(np.int64)
            off_grid += int(np.sum(np.abs(step - k_step) > 1e-3))
            rasters[k][i, np.clip(k_step, 0, T - 1), s.ids] = True
            if k == net.nir_outputs["output"][0]:
                counts[i] = np.bincount(s.ids, minlength=10)
        c = rep["event"]["counts"]
        for k in _OPS:
            sums[k] += c[k]
        nbi = rep["neurobench"]
        for k in _NB:
            nb[k] += nbi[k]
        N, bins = rep["network"]["n_neurons"], nbi["bins"]
        active += (1.0 - nbi["activation_sparsity"]) * N * bins
        neuron_bins += N * bins
        foot += nbi["footprint_bytes"]    # includes the input spike times of the sample
        conn = nbi["connection_sparsity"]
        rep_sums["clock_neuron_updates"] += rep["clock"]["ops"]["neuron_updates"]["count"]
        rep_sums["ann_macs"] += rep["ann"]["ops"]["macs"]["count"]
        rep_sums["event_energy_pj"] += rep["event"]["energy_pj"]["total"]
        rep_sums["clock_energy_pj"] += rep["clock"]["energy_pj"]["total"]
        rep_sums["ann_energy_pj"] += rep["ann"]["energy_pj"]["total"]
    per = lambda d: {k: v / n for k, v in d.items()}
    return {
        "counts": counts, "rasters": rasters, "off_grid_spikes": off_grid,
        "ops_per_sample": per(sums), "report_per_sample": per(rep_sums),
        "neurobench_per_sample": {**per(nb), "activation_sparsity": 1.0 - active / neuron_bins,
                                  "connection_sparsity": conn, "footprint_bytes": foot / n, "bin_ms": DT_MS},
        "n_neurons": int(net.n_neurons), "n_synapses": int(net.n_synapses),
        "projections": [{"pre": p.pre.name, "post": p.post.name, "synapses": int(p.csr.nnz), "delay_ms": p.delay}
                        for p in net.projections],
        "wall_s": {"build": t_build, "run": t_run, "report": t_report, "compile": t_compile,
                   "per_sample_ms": 1000 * (t_build + t_run) / n},
    }


def agreement(a, b):
    """Spike-level agreement of two rasters (n, T, size): common / union spikes, and the
    fraction of samples whose rasters are identical."""
    both = int(np.sum(a & b))
    either = int(np.sum(a | b))
    same = float(np.mean([np.array_equal(a[i], b[i]) for i in range(len(a))]))
    return {"spikes_snntorch": int(a.sum()), "spikes_eventsnn": int(b.sum()), "common": both,
            "jaccard": both / either if either else 1.0, "identical_samples": same}


def predictions(counts):
    """argmax of the spike counts (ties: lowest index, as torch/np argmax) and tie flags."""
    c = np.asarray(counts)
    s = np.sort(c, axis=1)
    return c.argmax(1), (s[:, -1] == s[:, -2])


# ---------------------------------------------------------------------------- NeuroBench
def neurobench_figures(net, spikes, y, torch):
    try:
        from neurobench.benchmarks import Benchmark
        from neurobench.metrics.static import (
            ConnectionSparsity,
            Footprint,
            ParameterCount,
        )
        from neurobench.metrics.workload import (
            ActivationSparsity,
            ActivationSparsityByLayer,
            ClassificationAccuracy,
            MembraneUpdates,
            SynapticOperations,
        )
        from neurobench.models import SNNTorchModel
        from neurobench.processors.postprocessors import ChooseMaxCount
    except ImportError as e:
        return {"skipped": f"neurobench not importable: {e}"}
    import snntorch as snn
    for m in net.modules():            # drop the state left by the last batch (a buffer)
        if isinstance(m, snn.Leaky):
            m.mem = torch.zeros(0)
    x = torch.tensor(spikes).reshape(len(spikes), spikes.shape[1], 1, 8, 8)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.tensor(y)), batch_size=64,
                                         shuffle=False)
    model = SNNTorchModel(net)
    bench = Benchmark(model, loader, [], [ChooseMaxCount()],
                      [[Footprint, ConnectionSparsity, ParameterCount],
                       [ClassificationAccuracy, ActivationSparsity, ActivationSparsityByLayer, SynapticOperations,
                        MembraneUpdates]])
    t0 = time.perf_counter()
    r = bench.run(quiet=True)
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in r.items()}
    out["wall_s"] = time.perf_counter() - t0
    model.cleanup_hooks()
    return out


# ------------------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--samples", type=int, default=0, help="test samples to run (0: all 450)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=40, help="time steps T of dt = 0.1 ms per sample")
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 epochs, 40 test samples")
    ap.add_argument("--matched", action=argparse.BooleanOptionalAction, default=True,
                    help="also run the graph with tau = -dt/ln(beta) (diagnostic of the discretisation)")
    ap.add_argument("--neurobench", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--nir", default="", help="where to write the NIR file (default: a temporary file)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: the tensors are tiny, and OpenMP threads spin when cores are shared)")
    a = ap.parse_args()
    if a.quick:
        a.epochs, a.samples = 2, (a.samples or 40)

    import eventsnn as ev
    import nir
    import snntorch as snn
    import torch
    from eventsnn.nir_io import from_nir
    from snntorch.export_nir import export_to_nir

    def log(d):
        print(json.dumps(d, default=float), flush=True)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    (Xtr, ytr), (Xte, yte) = load(a.seed)
    T = a.steps
    log({"what": "config", "epochs": a.epochs, "seed": a.seed, "steps": T, "dt_s": DT, "beta": BETA,
         "p_max": P_MAX, "train": len(ytr), "test": len(yte), "torch_threads": torch.get_num_threads()})

    # 1. train (clock-driven, BPTT)
    net = build(torch, snn)
    train_s = train(net, Xtr, ytr, T, a.epochs, a.seed, torch, log)

    # the test set: fixed spike tensors shared by both simulators
    n = len(yte) if a.samples <= 0 else min(a.samples, len(yte))
    Xs, ys = Xte[:n], yte[:n]
    spikes = test_spikes(Xs, T, a.seed)

    # 2. snnTorch on the test set
    net.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        c_st, r_st = forward(net, torch.tensor(spikes), rasters=True)
    st_s = time.perf_counter() - t0
    c_st = c_st.numpy().astype(np.int64)

    # 3. export, write, read
    g = export_to_nir(net, torch.zeros(1, 1, 8, 8), ignore_dims=[0])
    path = a.nir or os.path.join(tempfile.mkdtemp(prefix="nir_snntorch_"), "digits_scnn.nir")
    nir.write(path, g)
    g_read = nir.read(path)
    log({"what": "nir_nodes", "path": path, "edges": sorted(map(list, g_read.edges)), "nodes": node_summary(g_read)})

    # 4. eventsnn, event-driven, one network per sample
    runs = {"exported": run_eventsnn(g_read, spikes, T, from_nir, ev)}
    if a.matched:
        runs["matched"] = run_eventsnn(matched_graph(g_read, nir), spikes, T, from_nir, ev)

    p_st, tie_st = predictions(c_st)
    acc_st = float(np.mean(p_st == ys))
    summary = {"what": "accuracy", "samples": n, "snntorch": acc_st, "snntorch_ties": int(tie_st.sum()),
               "train_s": train_s, "snntorch_test_s": st_s}
    for k, r in runs.items():
        p, tie = predictions(r["counts"])
        summary[f"eventsnn_{k}"] = float(np.mean(p == ys))
        summary[f"agreement_{k}"] = float(np.mean(p == p_st))
        summary[f"eventsnn_{k}_ties"] = int(tie.sum())
        summary[f"identical_output_counts_{k}"] = float(np.mean(np.all(r["counts"] == c_st, axis=1)))
    log(summary)
    spk = {"what": "spikes_per_sample", "snntorch": {k: float(r_st[k].sum() / n) for k in LAYERS},
           "input": float(spikes.sum() / n),
           "activation_sparsity_by_layer_snntorch": {k: float(1.0 - r_st[k].mean()) for k in LAYERS}}
    for k, r in runs.items():
        spk[f"eventsnn_{k}"] = {L: float(r["rasters"][L].sum() / n) for L in LAYERS}
        spk[f"activation_sparsity_by_layer_{k}"] = {L: float(1.0 - r["rasters"][L].mean()) for L in LAYERS}
        spk[f"agreement_{k}"] = {L: agreement(r_st[L], r["rasters"][L]) for L in LAYERS}
        spk[f"off_grid_{k}"] = r["off_grid_spikes"]
    log(spk)
    for k, r in runs.items():
        log({"what": f"eventsnn_ops_{k}", "n_neurons": r["n_neurons"], "n_synapses": r["n_synapses"],
             "projections": r["projections"], "ops_per_sample": r["ops_per_sample"],
             "report_per_sample": r["report_per_sample"], "neurobench_per_sample": r["neurobench_per_sample"],
             "wall_s": r["wall_s"]})

    # 5. NeuroBench on the trained snnTorch model (the same test spikes)
    nb = neurobench_figures(net, spikes, ys, torch) if a.neurobench else {"skipped": "--no-neurobench"}
    log({"what": "neurobench_snntorch", **nb})

    # 6. the table
    e = runs["exported"]
    ops = e["ops_per_sample"]
    enb = e["neurobench_per_sample"]
    rows = [("test accuracy", f"{acc_st:.4f}", f"{summary['eventsnn_exported']:.4f}",
             f"{summary.get('eventsnn_matched', float('nan')):.4f}")]
    rows.append(("agreement of predicted classes", "", f"{summary['agreement_exported']:.4f}",
                 f"{summary.get('agreement_matched', float('nan')):.4f}"))
    for L, lab in zip(LAYERS, ("conv Leaky 1 (288)", "Leaky 5 (64)", "output Leaky 7 (10)")):
        rows.append((f"spikes/sample {lab}", f"{r_st[L].sum() / n:.2f}", f"{e['rasters'][L].sum() / n:.2f}",
                     f"{runs['matched']['rasters'][L].sum() / n:.2f}" if "matched" in runs else ""))
    for L in LAYERS:
        rows.append((f"spike Jaccard (step-exact) layer {L}", "", f"{spk['agreement_exported'][L]['jaccard']:.4f}",
                     f"{spk['agreement_matched'][L]['jaccard']:.4f}" if "matched" in runs else ""))
    syn = ops["syn_events"] + ops["source_syn_events"]
    rows.append(("synaptic events (ACs)/sample", "", f"{syn:,.0f}", ""))
    rows.append(("dense ANN MACs/inference", "", f"{e['report_per_sample']['ann_macs']:,.0f}", ""))
    rows.append(("clock neuron updates/sample (formula)", f"{T * e['n_neurons']:,}",
                 f"{e['report_per_sample']['clock_neuron_updates']:,.0f}", ""))
    rows.append(("event state advances/sample", "", f"{ops['state_advances']:,.0f}", ""))
    rp = e["report_per_sample"]
    for lab, key in (("event-driven", "event"), ("clock-driven", "clock"), ("dense ANN", "ann")):
        rows.append((f"energy estimate/sample, {lab}", "", f"{rp[key + '_energy_pj'] / 1e3:.0f} nJ", ""))
    has_nb = "SynapticOperations" in nb
    so = nb.get("SynapticOperations", {})
    rows.append(("NB Effective_ACs/sample", f"{so.get('Effective_ACs', float('nan')):,.0f}",
                 f"{enb['Effective_ACs']:,.0f}", ""))
    rows.append(("NB Effective_MACs/sample", f"{so.get('Effective_MACs', float('nan')):,.0f}",
                 f"{enb['Effective_MACs']:,.0f}", ""))
    rows.append(("NB Dense/sample", f"{so.get('Dense', float('nan')):,.0f}", f"{enb['Dense']:,.0f}", ""))
    rows.append(("NB activation sparsity", f"{nb.get('ActivationSparsity', float('nan')):.4f}",
                 f"{enb['activation_sparsity']:.4f}", ""))
    rows.append(("NB connection sparsity", f"{nb.get('ConnectionSparsity', float('nan')):.4f}",
                 f"{enb['connection_sparsity']:.4f}", ""))
    rows.append(("NB footprint (bytes)", f"{nb.get('Footprint', float('nan')):,.0f}",
                 f"{enb['footprint_bytes']:,.0f}", ""))
    if has_nb:
        rows.append(("NB membrane updates/sample", f"{nb['MembraneUpdates']:,.0f}", "", ""))
    rows.append(("wall time test set (s)", f"{st_s:.2f}", f"{e['wall_s']['build'] + e['wall_s']['run']:.2f}",
                 f"{runs['matched']['wall_s']['build'] + runs['matched']['wall_s']['run']:.2f}"
                 if "matched" in runs else ""))
    w = max(len(r[0]) for r in rows) + 2
    print(f"\n{'':<{w}}{'snnTorch':>14}{'eventsnn':>14}{'tau matched':>14}   ({n} test samples, T = {T})")
    for r in rows:
        print(f"{r[0]:<{w}}{r[1]:>14}{r[2]:>14}{r[3]:>14}")
    if not has_nb:
        print(f"(NeuroBench: {nb.get('skipped', 'not run')})")


if __name__ == "__main__":
    main()
