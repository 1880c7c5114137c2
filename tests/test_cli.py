"""The ``eventsnn`` command: bad arguments exit with 2 and one line; --json output."""
import json

import pytest

from eventsnn.cli import main


@pytest.mark.parametrize("argv,needle", [
    (["run", "brunel", "--n", "0"], "--n: must be >= 1"),
    (["run", "brunel", "--n", "ten"], "--n: expected an integer"),
    (["run", "brunel", "--duration", "-1"], "--duration: must be finite and >= 0 ms"),
    (["run", "brunel", "--duration", "nan"], "--duration: must be finite and >= 0 ms"),
    (["run", "brunel", "--seed", "-3"], "--seed: must be >= 0"),
    (["run", "nope"], "invalid choice"),
    ([], "required"),
])
def test_bad_arguments_exit_2_with_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_json_output_is_consistent(capsys):
    assert main(["run", "brunel", "--n", "200", "--duration", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_neurons"] == 200 and out["bio_time_ms"] == 20.0
    assert out["n_synapses"] == 200 * 20          # fixed in-degree 16 exc + 4 inh
    assert out["spikes"] == out["counts"]["spikes"]
    assert set(out["rates_hz"]) == {"exc", "inh"}
    n_rate = sum(r * n for r, n in zip(out["rates_hz"].values(), (160, 40))) * 0.02
    assert n_rate == pytest.approx(out["spikes"], abs=0.01)
