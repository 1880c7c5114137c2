"""A convolutional SNN on scikit-learn's 8x8 digits, trained with surrogate gradients on
a time grid (BPTT) and run, with the trained weights, on the exact event engine.

Data: ``eventsnn.datasets.digits`` (1347 training, 450 test images, stratified split
seed 0), latency coded in [0, T_CODE] ms (bright pixels first, blank pixels silent,
no bias spike: batch norm's shift plays that role).

Network (:class:`eventsnn.gradients.gridnet.GridSNN`, units ms, mV):

    input 1x8x8 -> Conv2d(C1, 3x3, padding 1)             C1 x 8 x 8 LIF
                -> Conv2d(C2, 3x3, padding 1, 2x2 pool)   C2 x 4 x 4 LIF
                -> Dense(N_HIDDEN)                        LIF
                -> Dense(10)                              spiking LIF read-out

current-based LIF (tau_m, tau_s, theta below), reset to zero, no refractory period,
feed-forward delay DELAY ms between neuron layers (the event engine needs delays > 0
there; on the grid it is DELAY/dt whole steps), batch normalisation of every hidden
layer's input current with statistics shared over the time steps
(``batchnorm="shared"``, so that it folds into the weights and a constant bias
current for the event engine).  Loss: cross-entropy of the read-out's spike counts
(``CountCE``), prediction = the output neuron with the most spikes (a tie is wrong);
fast-sigmoid surrogate, Adam with a per-epoch learning-rate decay, minibatches of 32.

What a run measures (the final JSON line):

* ``grid_test_acc``: test accuracy of the trained grid network (batch norm with its
  running statistics), ``train_acc`` the training accuracy of the last epoch
  (training-mode minibatches);
* ``exact_test_acc``: the same weights exported per test image with
  ``GridSNN.to_network`` (batch norm folded into the weights plus a per-neuron bias
  current) and run for t_end on the exact event-driven engine, prediction from the
  read-out's spike counts by the same rule; ``agreement``: fraction of test images on
  which the grid and the exact engine predict the same class.  The transfer is not
  exact: spikes move off the grid (the grid puts every spike and input on the next
  grid point) and batch norm's per-step current kick b becomes the constant bias
  current b tau_s / dt (both are named approximations of ``to_network``);
* ``spikes_per_sample``: hidden + output spikes per test image on the grid;
  ``exact_spikes_per_sample`` the same on the exact engine;
  ``syn_events_per_sample``: synaptic events per test image on the exact engine
  (``OpCounts.syn_events``: spikes of neurons times their out-degree, plus
  ``source_syn_events`` of the input spikes; both also given separately), and
  ``exact_counts_per_sample`` all of the engine's operation counts per image;
* ``epoch_s``: mean wall time of a training epoch (one numba thread unless
  NUMBA_NUM_THREADS says otherwise), ``exact_s`` the wall time of the exact-engine
  evaluation (network construction included).

The exact engine fires more than the grid in the deeper layers: on the grid a neuron
fires at most once per step, and the read-out's winner, pushed by the count loss, fires
at most steps; the exact engine has no such cap.  Figures: benchmarks/RESULTS.md.

    NUMBA_NUM_THREADS=1 python examples/surrogate_conv.py [--seed 0] [--epochs 20] [--dt 1]
        [--plot surrogate_conv.png] [--quick] [--quiet]

``--plot`` saves the training curves (needs matplotlib); ``--quick`` is a smoke run
(a small network, 96 training and 24 test images, one epoch).  Needs scikit-learn.
"""
import argparse
import json
import time

import numpy as np

from eventsnn import plot
from eventsnn.datasets import digits
from eventsnn.encoding import latency
from eventsnn.gradients import Adam
from eventsnn.gradients.bptt import CountCE, Surrogate, evaluate, fit
from eventsnn.gradients.gridnet import Conv2d, Dense, GridSNN

T_CODE = 15.0            # ms: latency coding window
T_END = 30.0             # ms: simulated window per image
DELAY = 1.0              # ms: feed-forward delay between neuron layers
TAU_M, TAU_S, THETA = 10.0, 5.0, 1.0   # ms, ms, mV
C1, C2, N_HIDDEN = 8, 16, 64
SCALE = 0.5              # CountCE: softmax of SCALE x spike counts
LR, DECAY = 1e-2, 0.9    # Adam learning rate, per-epoch decay
SLOPE = 5.0              # fast-sigmoid surrogate slope (1/mV)
BATCH = 32


def encode(X):
    return latency(X, t_min=0.0, t_max=T_CODE, invert=True, skip_below=1.0 / 16.0, bias_time=None)


def build(dt, seed, c1=C1, c2=C2, n_hidden=N_HIDDEN):
    layers = [Conv2d(c1, 3, padding=1), Conv2d(c2, 3, padding=1, pool=2), Dense(n_hidden), Dense(10)]
    return GridSNN((1, 8, 8), layers, dt=dt, t_end=T_END, tau_m=TAU_M, tau_s=TAU_S, theta=THETA,
                   output="spike", reset="zero", delay=[0.0] + [DELAY] * (len(layers) - 1),
                   batchnorm="shared", seed=seed)


def count_prediction(counts):
    """The grid's CountCE rule: the first index of the largest count, and whether it is
    the only one with that count (a tie counts as wrong)."""
    p = int(np.argmax(counts))
    return p, bool((counts == counts[p]).sum() == 1)


def exact_run(net, inputs, labels):
    """Run every sample of ``inputs`` on the exact event engine: predictions, correct
    flags, spikes per layer (summed over the samples) and summed OpCounts."""
    pred = np.empty(inputs.n_samples, np.int64)
    corr = np.zeros(inputs.n_samples, bool)
    per_layer = np.zeros(len(net.layers), np.int64)
    total = None
    for b in range(inputs.n_samples):
        t, ids = inputs.sample(b)
        enet, pops = net.to_network(t, ids)
        r = enet.run(net.t_end)
        out = pops[-1]
        sid = r.spikes.ids
        per_layer += np.bincount(np.searchsorted([p.offset for p in pops], sid, side="right") - 1,
                                 minlength=len(pops))
        m = (sid >= out.offset) & (sid < out.offset + out.size)
        p, uniq = count_prediction(np.bincount(sid[m] - out.offset, minlength=out.size))
        pred[b] = p
        corr[b] = uniq and p == labels[b]
        total = r.counts if total is None else total + r.counts
    return pred, corr, per_layer, total


def train(seed=0, epochs=20, dt=1.0, quick=False, verbose=True):
    d = digits(test_fraction=0.25, seed=0)
    Xtr, ytr = d["train"]
    Xte, yte = d["test"]
    if quick:   # smoke run: a few images, a small network
        Xtr, ytr, Xte, yte = Xtr[:96], ytr[:96], Xte[:24], yte[:24]
        net = build(dt, seed, c1=2, c2=4, n_hidden=16)
    else:
        net = build(dt, seed)
    tr, te = encode(Xtr), encode(Xte)
    loss = CountCE(SCALE)

    def show(ep, met, _net):
        if verbose:
            print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in met.items()}),
                  flush=True)

    hist = fit(net, tr, ytr, loss, epochs=epochs, batch_size=BATCH, optimizer=Adam(lr=LR, decay=DECAY),
               surrogate=Surrogate("fast_sigmoid", SLOPE), seed=seed, test=(te, yte), callback=show)
    g = evaluate(net, te, yte, loss)
    t0 = time.perf_counter()
    pred, corr, exact_layers, counts = exact_run(net, te, yte)
    exact_s = time.perf_counter() - t0
    n = te.n_samples
    per = {k: v / n for k, v in counts.as_dict().items()}
    res = {
        "seed": seed, "epochs": epochs, "dt": dt, "quick": quick,
        "n_train": tr.n_samples, "n_test": n, "sizes": net.sizes, "n_params": net.n_params,
        "train_acc": hist[-1]["accuracy"] if hist else None,
        "grid_test_acc": g.accuracy,
        "exact_test_acc": float(corr.mean()),
        "agreement": float((pred == g.predictions).mean()),
        "spikes_per_sample": g.spikes_per_sample,
        "spikes_per_layer": [float(v) for v in g.spike_counts.mean(axis=0)],
        "exact_spikes_per_sample": per["spikes"],
        "exact_spikes_per_layer": [float(v) / n for v in exact_layers],
        "syn_events_per_sample": per["syn_events"] + per["source_syn_events"],
        "neuron_syn_events_per_sample": per["syn_events"],
        "source_syn_events_per_sample": per["source_syn_events"],
        "exact_counts_per_sample": per,
        "epoch_s": float(np.mean([h["epoch_s"] for h in hist])) if hist else None,
        "exact_s": exact_s,
    }
    return res, hist


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default 20; 1 with --quick)")
    ap.add_argument("--dt", type=float, default=1.0, help="grid step (ms); T_END and DELAY must be multiples")
    ap.add_argument("--plot", default="", help="PNG path for the training curves ('' to skip)")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--quiet", action="store_true", help="no per-epoch JSON lines")
    a = ap.parse_args()
    epochs = a.epochs if a.epochs is not None else (1 if a.quick else 20)
    res, hist = train(a.seed, epochs, a.dt, a.quick, verbose=not a.quiet)
    print(json.dumps(res), flush=True)
    if a.plot and hist:
        try:
            ax = plot.training_curves(hist)
        except ImportError as e:   # matplotlib is optional
            print(f"no figure ({e})")
            return
        ax.set_title(f"conv SNN, load_digits, seed {a.seed}, dt {a.dt} ms: grid {res['grid_test_acc']:.1%}, "
                     f"exact engine {res['exact_test_acc']:.1%}", fontsize="small")
        ax.figure.tight_layout()
        ax.figure.savefig(a.plot, dpi=120)
        print(f"figure saved to {a.plot}")


if __name__ == "__main__":
    main()
