"""The surrogate-gradient example (examples/surrogate_conv.py): its prediction rule, and
main() on a tiny problem (--quick; the full run takes minutes)."""
import json
import sys

import numpy as np
import pytest
from example_loader import load_example as _load

conv = _load("surrogate_conv")


def test_count_prediction_is_the_grid_rule():
    assert conv.count_prediction(np.array([0, 3, 1])) == (1, True)
    assert conv.count_prediction(np.array([2, 0, 2])) == (0, False)     # tie: first index, not unique
    assert conv.count_prediction(np.zeros(4, int)) == (0, False)        # silent read-out


def test_surrogate_conv_quick(monkeypatch, capsys):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(sys, "argv", [conv.__file__, "--quick", "--seed", "1", "--plot", ""])
    conv.main()
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines() if s.startswith("{")]
    assert len(lines) == 2                           # one epoch, then the final line
    assert lines[0]["epoch"] == 1 and "test_accuracy" in lines[0]
    r = lines[-1]
    for k in ("grid_test_acc", "exact_test_acc", "agreement", "spikes_per_sample", "syn_events_per_sample",
              "epoch_s", "epochs", "dt"):
        assert k in r, k
    assert r["epochs"] == 1 and r["dt"] == 1.0 and r["quick"] and r["n_test"] == 24
    for k in ("grid_test_acc", "exact_test_acc", "agreement"):
        assert 0.0 <= r[k] <= 1.0
    assert r["epoch_s"] > 0.0
    assert r["spikes_per_sample"] > 0 and r["exact_spikes_per_sample"] > 0
    c = r["exact_counts_per_sample"]
    assert r["syn_events_per_sample"] == pytest.approx(c["syn_events"] + c["source_syn_events"])
    assert c["syn_events"] > 0 and c["source_spikes"] > 0
