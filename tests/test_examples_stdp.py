"""The STDP examples: their helper functions against obvious re-implementations, and
each example's main() on a tiny problem (smoke test; the full runs take minutes)."""
import sys

import numpy as np
import pytest
from example_loader import load_example as _load

song = _load("stdp_song")
rstdp = _load("rstdp")
dig = _load("stdp_digits")


def _main(mod, argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [mod.__file__] + argv + ["--plot", ""])
    mod.main()
    return capsys.readouterr().out


# ------------------------------------------------------------------ stdp_song
def test_song_fractions_counts_the_ends_of_the_range():
    w = np.array([0.0, 0.05, 0.0999, 0.1, 0.5, 0.9, 0.9001, 1.0]) * song.W_MAX
    lo, hi = song.fractions(w)
    assert lo == 3 / 8 and hi == 2 / 8


def test_song_learning_switch_and_bounds():
    """Learning on changes weights and keeps them in [0, w_max]; learning off and
    static synapses leave them untouched, with the same spikes as each other."""
    runs = {}
    for name, kw in (("on", {}), ("off", {"learning": False}), ("static", {"plastic": False})):
        net, proj = song.build(seed=2, **kw)
        w0 = proj.weights.copy()
        res = net.run(1000.0)
        runs[name] = (w0, proj.weights.copy(), res)
    w0, w1, res = runs["on"]
    assert len(res.spikes) > 5
    assert res.counts.weight_updates > 0 and res.counts.trace_updates > 0
    assert not np.array_equal(w0, w1)
    assert w1.min() >= 0.0 and w1.max() <= song.W_MAX
    for name in ("off", "static"):
        w0, w1, r = runs[name]
        np.testing.assert_array_equal(w0, w1)
        assert r.counts.weight_updates == 0
    np.testing.assert_array_equal(runs["off"][2].spikes.times, runs["static"][2].spikes.times)
    assert runs["off"][2].counts.trace_updates > 0 and runs["static"][2].counts.trace_updates == 0


def test_song_main_smoke(monkeypatch, capsys):
    out = _main(song, ["--duration", "300"], monkeypatch, capsys)
    assert "weights near 0" in out and "weight updates" in out


# ---------------------------------------------------------------------- rstdp
def test_rstdp_coincidences_match_a_double_loop():
    rng = np.random.default_rng(5)
    for _ in range(50):
        pre = np.sort(rng.uniform(0, 200, rng.integers(0, 15)))
        post = np.sort(rng.uniform(0, 200, rng.integers(0, 15)))
        if len(pre) and len(post) and rng.random() < 0.5:
            post[0] = pre[0]                       # same instant counts
            post[-1] = pre[-1] + rstdp.WINDOW      # the window's end counts
            post.sort()
        want = [t for t in post if any(0.0 <= t - a <= rstdp.WINDOW for a in pre)]
        np.testing.assert_array_equal(rstdp.coincidences(pre, post), want)


def test_rstdp_poisson_trains_in_range():
    t, i = rstdp.poisson_trains(np.random.default_rng(0), 7, 50.0, 2000.0)
    assert t.min() >= 0.0 and t.max() < 2000.0 and set(np.unique(i)) <= set(range(7))
    assert abs(len(t) - 7 * 100) < 5 * np.sqrt(700)


def test_rstdp_main_smoke(monkeypatch, capsys):
    out = _main(rstdp, ["--duration", "5000"], monkeypatch, capsys)
    assert "rewarded synapse:" in out and "rewards" in out


# ---------------------------------------------------------------- stdp_digits
def test_digits_encode_keeps_each_image_in_its_window():
    X = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 0.0], [0.2, 1.0, 0.0]])
    t, ids = dig.encode(X, 400.0, np.random.default_rng(1))
    period = dig.T_ON + dig.T_OFF
    k = (t // period).astype(int)
    assert ((t - k * period) < dig.T_ON).all()
    assert not (k == 1).any()                              # the blank image sends nothing
    assert not ((k == 0) & (ids == 1)).any() and not ((k == 2) & (ids == 2)).any()  # zero pixels


def test_digits_normalise_and_counts():
    rng = np.random.default_rng(2)
    w = rng.uniform(0, 1, 6 * 4)
    n = dig.normalise(w, 6, 4, 3.0, 10.0)
    np.testing.assert_allclose(n.reshape(6, 4).sum(0), 3.0)
    assert dig.normalise(w, 6, 4, 3.0, 0.4).max() == 0.4   # clipped at w_max
    from eventsnn import Spikes
    period = dig.T_ON + dig.T_OFF
    sp = Spikes(np.array([1.0, 2.0, period + 3.0, 3 * period + 1.0]), np.array([5, 6, 5, 7]))
    C = dig.counts_per_image(sp, 5, 3, 3, 0.0)
    np.testing.assert_array_equal(C, [[1, 1, 0], [1, 0, 0], [0, 0, 0]])


def test_digits_main_smoke(monkeypatch, capsys):
    pytest.importorskip("sklearn")
    out = _main(dig, ["--neurons", "10", "--epochs", "1", "--train", "20", "--test", "10"],
                monkeypatch, capsys)
    assert "test accuracy" in out and "10 excitatory neurons" in out
