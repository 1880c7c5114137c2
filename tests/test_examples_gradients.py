"""examples/compare_gradients.py (exact EventProp against surrogate BPTT): its
``--quick`` smoke run on Yin-Yang, comparison and similarity modes (the full runs take
tens of minutes)."""
import json

import numpy as np
from example_loader import load_example as _load


cmp = _load("compare_gradients")


def _json_lines(out):
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_compare_quick_yinyang(tmp_path, capsys):
    path = tmp_path / "runs.jsonl"
    rows = cmp.main(["--task", "yinyang", "--quick", "--seeds", "0", "--out", str(path)])
    out = capsys.readouterr().out
    lines = _json_lines(out)
    assert [(r["method"], r["dt"]) for r in lines] == [("eventprop", None), ("bptt", 1.0), ("bptt", 0.5)]
    assert lines == json.loads(json.dumps(rows))
    for r in lines:
        assert r["task"] == "yinyang" and r["seed"] == 0 and r["epochs"] == 1
        assert 0.0 <= r["test_accuracy_exact"] <= 1.0
        assert r["epoch_s"] > 0.0 and r["spikes_per_sample_exact"] >= 0.0
        c = r["counts_per_sample_exact"]
        assert c["input_spikes"] == 5.0 and c["syn_events"] >= 5 * 20   # every input spike reaches 20 hidden
        assert c["spikes"] == r["spikes_per_sample_exact"]
        assert len(r["train_loss"]) == len(r["train_accuracy"]) == 1
    for r in lines[1:]:
        assert 0.0 <= r["test_accuracy_grid"] <= r["test_accuracy_grid_ties"] <= 1.0
        assert r["grid_ops_per_sample"]["neuron_updates"] == round(100.0 / r["dt"]) * 23
    for g in lines[0]["grid"].values():
        assert 0.0 <= g["accuracy_grid"] <= g["accuracy_grid_ties"] <= 1.0
    assert "acc exact %" in out and "bptt" in out
    again = cmp.main(["--summarize", str(path)])
    assert again == lines
    assert capsys.readouterr().out.strip() == "\n".join(cmp.summary(rows))


def test_compare_same_initial_weights():
    """Both methods start from the same weights: the grid twin of the initial SNN."""
    snn = cmp.make_snn("yinyang", 3, hidden=7)
    g = cmp.GridSNN.from_snn(cmp.make_snn("yinyang", 3, hidden=7), 0.5)
    np.testing.assert_array_equal(g.params, snn.params)
    np.testing.assert_array_equal(g.to_snn().params, snn.params)


def test_similarity_quick_yinyang(tmp_path, capsys):
    path = tmp_path / "sim.jsonl"
    rows = cmp.main(["--task", "yinyang", "--quick", "--similarity", "--sim-surrogates", "fast_sigmoid", "lee",
                     "--out", str(path)])
    lines = _json_lines(capsys.readouterr().out)
    assert lines == [json.loads(x) for x in path.read_text().splitlines()] == json.loads(json.dumps(rows))
    assert {(r["surrogate"], r["dt"]) for r in lines} == {(s, d) for s in ("fast_sigmoid", "lee") for d in (1.0, 0.5)}
    for r in lines:
        for k in ("cosine", "cosine_clean", "cosine_sample_median_clean"):
            assert -1.0 <= r[k] <= 1.0 or np.isnan(r[k])
        assert r["norm_ratio"] >= 0.0 and r["norm_ratio_clean"] >= 0.0
        assert len(r["cosine_per_projection"]) == 2
        assert 0.0 <= r["frac_clean"] <= 1.0 and r["batches"] == 1


def test_metrics_of_identical_and_opposite_gradients():
    rng = np.random.default_rng(0)
    E = rng.normal(size=(6, 5))
    groups = [np.arange(6) < 3, np.arange(6) >= 3]
    m = cmp._metrics(2.0 * E, E, groups, np.array([0, 2, 5]))
    assert np.isclose(m["cosine"], 1.0) and np.isclose(m["norm_ratio"], 2.0) and m["cosine_std"] < 1e-12
    np.testing.assert_allclose(m["cosine_per_projection"], [1.0, 1.0])
    m = cmp._metrics(-E, E, groups, np.array([0, 5]))
    assert np.isclose(m["cosine"], -1.0) and np.isclose(m["norm_ratio"], 1.0)


