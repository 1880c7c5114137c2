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


# ============================================================================ report, clock, save / count

def test_run_with_clock_and_report_json(capsys):
    assert main(["run", "cuba", "--n", "400", "--duration", "30", "--clock", "--dt", "0.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rep = out["report"]
    assert rep["clock"]["source"] == "measured" and rep["clock"]["dt_ms"] == 0.1
    assert rep["clock"]["ops"]["neuron_updates"]["count"] == 400 * 300
    assert rep["event"]["counts"] == out["counts"]
    assert out["clock_spikes"] == rep["clock"]["counts"]["spikes"]
    assert rep["ann"]["macs_per_inference"] == 400 * 400


def test_save_then_count(tmp_path, capsys):
    p = str(tmp_path / "run.npz")
    assert main(["run", "brunel", "--n", "200", "--duration", "20", "--save", p, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert main(["count", p, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep == out["report"]
    assert main(["count", p, "--dt", "0.5"]) == 0
    txt = capsys.readouterr().out
    assert "clock-driven (dt = 0.5 ms) [formula]" in txt and "NeuroBench (bins of 0.5 ms, 40 bins)" in txt


def test_text_output_has_rates_counters_and_report(capsys):
    assert main(["run", "brunel", "--n", "200", "--duration", "10"]) == 0
    txt = capsys.readouterr().out
    for needle in ("rate", "counts: spikes=", "event-driven", "dense ANN", "Effective_ACs"):
        assert needle in txt


@pytest.mark.parametrize("argv,needle", [
    (["count", "/nonexistent/run.npz"], "not an eventsnn run record"),
    (["run", "brunel", "--n", "100", "--save", "/nonexistent/dir/x.npz"], "--save: directory"),
    (["run", "brunel", "--n", "100", "--save", "out.txt"], "must end in .npz"),
    (["run", "brunel", "--n", "100", "--duration", "10.05", "--clock"], "not a whole number"),
])
def test_user_mistakes_exit_2_with_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1


def test_count_rejects_a_foreign_npz(tmp_path, capsys):
    import numpy as np
    p = tmp_path / "x.npz"
    np.savez(p, a=np.zeros(2))
    assert main(["count", str(p)]) == 2
    err = capsys.readouterr().err
    assert "not an eventsnn run record" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv,needle", [
    (["run", "brunel", "--dt", "0"], "--dt: must be finite and > 0 ms"),
    (["run", "brunel", "--mem-pj", "-1"], "--mem-pj: must be finite and >= 0 pJ"),
    (["count"], "required"),
    (["count", "x.npz", "--dt", "abc"], "--dt: expected a number of ms"),
])
def test_more_bad_arguments(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


@pytest.mark.parametrize("tty,quiet,shown", [(False, False, False), (True, False, True), (True, True, False)])
def test_progress_bar_only_on_a_terminal(monkeypatch, capsys, tty, quiet, shown):
    import sys
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty, raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty, raising=False)
    argv = ["run", "brunel", "--n", "100", "--duration", "5", "--no-report", "--json"] + (["--quiet"] if quiet else [])
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert ("100.0%" in err) == shown


def test_chunked_event_run_equals_one_run():
    from eventsnn.cases import brunel
    from eventsnn.cli import run_event
    a = brunel(200, seed=3)
    ra = run_event(a, 30.0, progress=True)
    rb = brunel(200, seed=3).run(30.0)
    assert ra.counts == rb.counts
    assert (ra.spikes.times == rb.spikes.times).all() and (ra.spikes.ids == rb.spikes.ids).all()


def test_version_and_info(capsys):
    import eventsnn
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"eventsnn {eventsnn.__version__}"
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    import numba
    import numpy
    assert f"numba    {numba.__version__}" in out and f"numpy    {numpy.__version__}" in out
    assert "threads" in out


@pytest.mark.parametrize("record", ["none", "rates"])
def test_record_options(capsys, record):
    import json
    argv = ["run", "brunel", "--n", "200", "--duration", "20", "--json", "--record", record, "--bin", "5"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    full = ["run", "brunel", "--n", "200", "--duration", "20", "--json", "--no-report"]
    assert main(full) == 0
    ref = json.loads(capsys.readouterr().out)
    assert out["counts"] == ref["counts"] and "report" not in out
    assert out["spikes"] == ref["counts"]["spikes"]
    if record == "rates":
        for name, r in ref["rates_hz"].items():
            assert out["rates_hz"][name] == r
            assert len(out["binned_rates_hz"][name]) == 4
    assert main(argv[:-4] + ["--record", record, "--save", "x.npz"]) == 2
    assert "--save needs every spike" in capsys.readouterr().err


def test_plot_option_writes_a_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "brunel.png"
    assert main(["run", "brunel", "--n", "200", "--duration", "20", "--no-report", "--plot", str(path)]) == 0
    assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"
    assert main(["run", "brunel", "--n", "200", "--plot", str(tmp_path / "no" / "x.png")]) == 2
