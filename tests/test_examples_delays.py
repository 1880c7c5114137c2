"""Issue 21: the Yin-Yang benchmark's seeds/delays fields and the delay-learning
examples, on tiny runs (the full runs take minutes per seed)."""
import importlib.util
import json
import os

import numpy as np
from example_loader import load_example as _load

yy = _load("yinyang")


def _bench():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks", "train_yinyang.py")
    spec = importlib.util.spec_from_file_location("_bench_train_yinyang", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parse_seeds():
    assert yy.parse_seeds("0-3") == [0, 1, 2, 3]
    assert yy.parse_seeds("0,5 7") == [0, 5, 7]
    assert yy.parse_seeds("2-2") == [2]


def test_benchmark_seeds_and_delays_fields(capsys):
    out = _bench().main(["--seeds", "0-1", "--delays", "--epochs", "1"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[-1] == json.loads(json.dumps(out))
    assert [r["seed"] for r in lines[:-1]] == [0, 1]
    assert out["delays"] is True and out["sizes"] == [4, 30, 3] and out["seeds"] == [0, 1]
    assert out["test_acc"] == [r["test_acc"] for r in lines[:-1]]
    assert out["mean_test_acc"] == round(float(np.mean(out["test_acc"])), 5)
    assert out["epoch_s"] > 0 and out["thread_choice"] == "auto"
    for r in lines[:-1]:
        lo, med, hi = r["delay_ms"]
        assert 0.0 <= lo <= med <= hi and hi > 0.0   # delays were learned away from 0, never below


def test_yinyang_recipe_one_epoch_is_deterministic():
    a = yy.train(seed=3, epochs=1, verbose=False, n_hidden=20)
    b = yy.train(seed=3, epochs=1, verbose=False, n_hidden=20, threads=None)
    assert a["test_accuracy"] == b["test_accuracy"] and a["sizes"] == [5, 20, 3]
    assert a["history"][0]["loss"] == b["history"][0]["loss"]


def test_mnist1d_encoding_and_one_short_run():
    m = _load("mnist1d_delays")
    X = np.array([[0.0, 0.5, 0.99, 1.0], [0.2, 0.2, 0.7, 0.05]])
    inp = m.encode(X, levels=4, dt_pos=2.0)
    assert inp.n_inputs == 4 and inp.n_samples == 2
    t, i = inp.sample(0)
    np.testing.assert_array_equal(t, [0.0, 2.0, 4.0, 6.0])
    np.testing.assert_array_equal(i, [0, 2, 3, 3])
    r = m.train(seed=0, epochs=1, n_train=64, hidden=8, verbose=False)
    assert 0.0 <= r["test_accuracy"] <= 1.0 and r["delays"] is True
    assert r["delay_ms"]["min"] >= 0.0
