"""Surrogate-gradient BPTT baseline for Yin-Yang 5-200-3 in snnTorch (for comparison
with benchmarks/train_yinyang.py).  Not part of the tests; its dependencies (torch,
snntorch) are deliberately not in pyproject.toml.  Install them in a separate venv:

    python -m venv /tmp/sgvenv && /tmp/sgvenv/bin/pip install torch snntorch numba scipy
    PYTHONPATH=. /tmp/sgvenv/bin/python benchmarks/surrogate_yinyang.py --threads 1

Same task as the EventProp example: 4 features x 30 ms latency code plus a bias spike
at t = 0 (5 inputs), 200 hidden and 3 output current-based LIF neurons (tau_m = 20 ms,
tau_s = 5 ms), batch 32, Adam 5e-3, on a time grid of ``--dt`` ms over ``--t-max`` ms
(BPTT through every step, fast-sigmoid surrogate).  The loss is cross-entropy on the
outputs' maximum membrane potential.  Prints one JSON line per run.
"""
import argparse
import json
import time

import numpy as np
import snntorch as snn
import torch
from snntorch import surrogate

from eventsnn.datasets import yin_yang

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--dt", type=float, default=0.5)
ap.add_argument("--t-max", type=float, default=60.0)
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

steps = int(round(a.t_max / a.dt))


def encode(x):
    """Latency code as a (steps, n, 5) spike tensor: t = 30 ms * feature, bias at 0."""
    t = np.concatenate([np.zeros((len(x), 1)), 30.0 * x], axis=1)
    k = np.minimum(np.round(t / a.dt).astype(int), steps - 1)
    s = np.zeros((steps, len(x), 5), np.float32)
    s[k, np.arange(len(x))[:, None], np.arange(5)[None, :]] = 1.0
    return torch.from_numpy(s)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        alpha = float(np.exp(-a.dt / 5.0))
        beta = float(np.exp(-a.dt / 20.0))
        sg = surrogate.fast_sigmoid(slope=25)
        self.fc1 = torch.nn.Linear(5, 200)
        self.l1 = snn.Synaptic(alpha=alpha, beta=beta, spike_grad=sg)
        self.fc2 = torch.nn.Linear(200, 3)
        self.l2 = snn.Synaptic(alpha=alpha, beta=beta, spike_grad=sg, reset_mechanism="none")

    def forward(self, s):
        syn1, mem1 = self.l1.init_synaptic()
        syn2, mem2 = self.l2.init_synaptic()
        vmax = None
        for k in range(s.shape[0]):
            spk1, syn1, mem1 = self.l1(self.fc1(s[k]), syn1, mem1)
            _, syn2, mem2 = self.l2(self.fc2(spk1), syn2, mem2)
            vmax = mem2 if vmax is None else torch.maximum(vmax, mem2)
        return vmax


x_tr, y_tr = yin_yang(5000, seed=42)
x_te, y_te = yin_yang(1000, seed=40)
s_tr, s_te = encode(np.asarray(x_tr)[:, :4]), encode(np.asarray(x_te)[:, :4])
y_tr, y_te = torch.as_tensor(np.asarray(y_tr)), torch.as_tensor(np.asarray(y_te))
net = Net()
opt = torch.optim.Adam(net.parameters(), lr=5e-3)
lossf = torch.nn.CrossEntropyLoss()
for ep in range(a.epochs):
    perm = torch.randperm(5000)
    t0 = time.perf_counter()
    for i in range(0, 5000, 32):
        idx = perm[i:i + 32]
        out = net(s_tr[:, idx])
        loss = lossf(out, y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    epoch_s = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((net(s_te).argmax(1) == y_te).float().mean())
    print(json.dumps({"case": "surrogate_yinyang_snntorch", "epoch": ep + 1, "threads": a.threads,
                      "dt_ms": a.dt, "steps": steps, "epoch_s": round(epoch_s, 3),
                      "samples_per_s": round(5000 / epoch_s, 1), "test_acc": round(acc, 4),
                      "torch": torch.__version__, "snntorch": snn.__version__}), flush=True)
