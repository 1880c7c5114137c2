"""Unsupervised learning of handwritten digits with STDP, in the spirit of Diehl & Cook (2015).

Diehl & Cook (2015, Front. Comput. Neurosci. 9:99) let an excitatory layer with
lateral inhibition (winner-take-all) and adaptive thresholds learn MNIST with STDP
from Poisson-rate-coded pixels, label each neuron by the class it responds to most
on the training set, and classify test images by the labels of the neurons that
respond.  This example does the same on scikit-learn's 8x8 ``load_digits`` (1797
images; 1347 for training, 450 held out for testing, stratified), which runs in a
few minutes on a laptop CPU.

Network (units: ms, mV, Hz):

* 64 inputs, one per pixel: Poisson spike trains of rate ``pixel * --rate`` (pixel in
  [0, 1]) for 350 ms, then 150 ms of silence, one image after the other.  All
  presentations are explicit spike trains of one ``spike_source``, drawn with a
  seeded generator, so the whole training set is one network run in steps.
* ``--neurons`` excitatory current-based LIF neurons (tau_m = 20, exponential
  excitatory current tau_syn = 2, v_rest = v_reset = -65, v_th = -52, t_ref = 5)
  with adaptive thresholds: every spike raises the neuron's threshold by
  ``--theta-plus`` (``LIF(theta_plus=...)``; no decay, as Diehl & Cook's
  tau_theta = 10^7 ms is far longer than the run).
* Input -> excitatory: all-to-all, additive all-to-all pair STDP
  (:class:`eventsnn.plasticity.STDP`, tau_plus = tau_minus = 20 ms, depression
  ``--depression`` times potentiation), bounds [0, w_max].  After every image the
  weights onto each neuron are normalised to a fixed sum (``proj.set_weights``), as
  in Diehl & Cook; with it, STDP moves a winner's weight vector towards the image
  it won (competitive learning).
* Winner-take-all: direct lateral inhibition, excitatory -> excitatory all-to-all
  without autapses, delta synapses of ``-(--inhibition)`` mV, delay 0.5 ms (instead
  of Diehl & Cook's separate inhibitory population; the effect is the same: the
  first neuron to fire silences the others).

Evaluation: a second network with the learned weights and thresholds, static
synapses and no threshold adaptation, sees the training images (each neuron is
labelled by the class with the highest mean spike count) and then the test images
(predicted class: the label whose neurons fire most on average).  Each image is
shown ``--eval-repeats`` times (3; independent Poisson trains, spike counts summed),
which averages out some of the Poisson noise of one 350-ms presentation (measured on
two trained networks: 86.9 % and 89.3 % with one presentation, 90.9 % and 91.6 % with
three).  Images that evoke no spike count as errors.

Prints the accuracy, the number of neurons and the wall time; saves
``stdp_digits.png`` (the learned weight vectors as 8x8 images, with their labels)
when matplotlib is installed (``pip install "eventsnn[plot]"``; ``--plot ''`` skips it).
Needs scikit-learn (``pip install "eventsnn[digits]"``).

    python examples/stdp_digits.py [--neurons 400] [--epochs 2] [--seed 1]
"""
import argparse
import time

import numpy as np

import eventsnn as ev
from eventsnn import plot
from eventsnn.datasets import digits
from eventsnn.plasticity import STDP

T_ON, T_OFF = 350.0, 150.0      # ms: presentation and rest per image


def encode(X, rate_hz, rng, t0=0.0):
    """Poisson spike trains for the images X (n, 64), one after the other starting at
    t0: times (ms) and input ids."""
    n, d = X.shape
    lam = X * rate_hz * T_ON / 1000.0                   # expected spikes per pixel
    counts = rng.poisson(lam)
    img = np.repeat(np.arange(n), counts.sum(1))
    ids = np.concatenate([np.repeat(np.arange(d), c) for c in counts]) if n else np.empty(0, int)
    times = t0 + img * (T_ON + T_OFF) + rng.uniform(0.0, T_ON, counts.sum())
    return times, ids


def exc_model(theta_plus):
    return ev.LIF(tau_m=20.0, tau_syn_exc=2.0, tau_syn_inh=0.0, v_rest=-65.0, v_th=-52.0,
                  v_reset=-65.0, t_ref=5.0, theta_plus=theta_plus)


def normalise(w, n_in, n_out, total, w_max):
    """Scale the weights onto each neuron to sum to ``total`` (CSR order of
    all_to_all: w[i * n_out + j] is input i -> neuron j), clipped to [0, w_max]."""
    W = w.reshape(n_in, n_out)
    s = W.sum(0)
    s[s == 0] = 1.0
    return np.minimum(W * (total / s), w_max).ravel()


def counts_per_image(spikes, offset, n_out, n_img, t0):
    """Spike counts (n_img, n_out) per presentation window."""
    k = ((spikes.times - t0) // (T_ON + T_OFF)).astype(np.int64)
    ok = (k >= 0) & (k < n_img)
    C = np.zeros((n_img, n_out), np.int64)
    np.add.at(C, (k[ok], spikes.ids[ok] - offset), 1)
    return C


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=400, help="excitatory neurons")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rate", type=float, default=100.0, help="input rate of a white pixel (Hz)")
    ap.add_argument("--wsum", type=float, default=300.0, help="sum of input weights per neuron (mV)")
    ap.add_argument("--w-max", type=float, default=20.0, help="weight bound (mV)")
    ap.add_argument("--a-plus", type=float, default=0.05, help="potentiation (mV per unit trace)")
    ap.add_argument("--depression", type=float, default=0.1, help="a_minus / a_plus")
    ap.add_argument("--theta-plus", type=float, default=0.05, help="threshold increase per spike (mV)")
    ap.add_argument("--inhibition", type=float, default=15.0, help="lateral inhibition (mV)")
    ap.add_argument("--eval-repeats", type=int, default=3,
                    help="presentations per image in the evaluation (spike counts summed)")
    ap.add_argument("--train", type=int, default=0, help="use only this many training images (0: all)")
    ap.add_argument("--test", type=int, default=0, help="use only this many test images (0: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plot", default="stdp_digits.png", help="PNG path ('' to skip)")
    args = ap.parse_args()

    wall0 = time.perf_counter()
    data = digits(test_fraction=0.25, seed=args.seed)
    Xtr, ytr = data["train"]
    Xte, yte = data["test"]
    if args.train:
        Xtr, ytr = Xtr[:args.train], ytr[:args.train]
    if args.test:
        Xte, yte = Xte[:args.test], yte[:args.test]
    n_in, n_out = Xtr.shape[1], args.neurons
    rng = np.random.default_rng(args.seed)

    # ---------------------------------------------------------------- training
    order = np.concatenate([rng.permutation(len(Xtr)) for _ in range(args.epochs)])
    times, ids = encode(Xtr[order], args.rate, rng)
    net = ev.Network(seed=args.seed)
    exc = net.population(n_out, exc_model(args.theta_plus), name="exc")
    inp = net.spike_source(times, ids, n=n_in, name="pixels")
    rule = STDP(a_plus=args.a_plus, a_minus=args.depression * args.a_plus, tau_plus=20.0,
                tau_minus=20.0, w_min=0.0, w_max=args.w_max)
    w0 = normalise(rng.uniform(0.0, 1.0, n_in * n_out), n_in, n_out, args.wsum, args.w_max)
    proj = net.connect(inp, exc, ev.all_to_all(), weight=lambda g, n: w0, delay=0.0, plasticity=rule)
    net.connect(exc, exc, ev.all_to_all(allow_autapses=False), weight=-args.inhibition, delay=0.5)
    n_spk = np.zeros(len(order), np.int64)
    for k in range(len(order)):
        res = net.run(T_ON + T_OFF)
        n_spk[k] = len(res.spikes)
        proj.set_weights(normalise(proj.weights.copy(), n_in, n_out, args.wsum, args.w_max))
        if (k + 1) % 500 == 0:
            print(f"  image {k + 1}/{len(order)}: {n_spk[k - 499:k + 1].mean():.1f} spikes per image, "
                  f"{(n_spk[k - 499:k + 1] == 0).mean():.1%} silent, theta mean "
                  f"{exc.theta.mean():.2f} mV", flush=True)
    W = proj.weights.copy()
    theta = exc.theta
    c = net.counts
    wall_train = time.perf_counter() - wall0

    # -------------------------------------------------------------- evaluation
    Xall = np.concatenate([Xtr, Xte])
    reps = args.eval_repeats
    times, ids = encode(np.repeat(Xall, reps, axis=0), args.rate, rng)
    ev_net = ev.Network(seed=args.seed + 1)
    e2 = ev_net.population(n_out, exc_model(0.0), name="exc")
    e2.set_theta(theta)
    src = ev_net.spike_source(times, ids, n=n_in, name="pixels")
    ev_net.connect(src, e2, ev.all_to_all(), weight=lambda g, n: W, delay=0.0)
    ev_net.connect(e2, e2, ev.all_to_all(allow_autapses=False), weight=-args.inhibition, delay=0.5)
    res = ev_net.run(reps * len(Xall) * (T_ON + T_OFF))
    C = counts_per_image(res.spikes, e2.offset, n_out, reps * len(Xall), 0.0)
    C = C.reshape(len(Xall), reps, n_out).sum(1)
    Ctr, Cte = C[:len(Xtr)], C[len(Xtr):]
    mean_resp = np.stack([Ctr[ytr == d].mean(0) for d in range(10)])       # (10, n_out)
    labels = mean_resp.argmax(0)
    labels[mean_resp.max(0) == 0] = -1                                     # never responded
    score = np.stack([Cte[:, labels == d].mean(1) if (labels == d).any() else np.zeros(len(Cte))
                      for d in range(10)], 1)
    pred = score.argmax(1)
    silent = Cte.sum(1) == 0
    pred[silent] = -1
    acc = float((pred == yte).mean())
    wall = time.perf_counter() - wall0
    print(f"\nDiehl & Cook-style STDP on load_digits: {n_out} excitatory neurons, {args.epochs} epoch(s) "
          f"of {len(Xtr)} training images")
    print(f"test accuracy {acc:.1%} on {len(Xte)} held-out images "
          f"({silent.sum()} silent); training-set accuracy of the labelling "
          f"{(np.stack([Ctr[:, labels == d].mean(1) if (labels == d).any() else np.zeros(len(Ctr)) for d in range(10)], 1).argmax(1) == ytr).mean():.1%}")
    print(f"neurons per label: {np.bincount(labels[labels >= 0], minlength=10).tolist()}, "
          f"unlabelled {(labels < 0).sum()}")
    print(f"training: {c.spikes} spikes, {c.weight_updates} weight updates, {c.trace_updates} trace updates; "
          f"wall {wall_train / 60:.1f} min (training) + {(wall - wall_train) / 60:.1f} min (evaluation)")
    if args.plot:
        side = int(np.ceil(np.sqrt(n_out)))
        try:
            fig, axes = plot.subplots(side, side, figsize=(side * 0.6, side * 0.6))
        except ImportError as e:   # matplotlib is optional
            print(f"no figure ({e})")
            return
        Wn = W.reshape(n_in, n_out)
        for j, ax in enumerate(np.ravel(axes)):
            ax.axis("off")
            if j < n_out:
                ax.imshow(Wn[:, j].reshape(8, 8), cmap="gray_r")
                ax.set_title(str(labels[j]) if labels[j] >= 0 else "-", fontsize=6, pad=1)
        fig.suptitle(f"learned input weights and labels (test accuracy {acc:.1%})", fontsize=9)
        fig.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"figure saved to {args.plot}")


if __name__ == "__main__":
    main()
