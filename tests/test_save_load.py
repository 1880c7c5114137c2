"""Saving and restoring a running simulation (eventsnn.save / eventsnn.load), pickling and
copying: a restored network continues bitwise as one that never stopped, also in a
fresh process; bad files are refused with a clear error and nothing half-loaded."""
import copy
import json
import pathlib
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import eventsnn as ev
from eventsnn.cases import brunel, sparse_lowrate
from eventsnn.plasticity import STDP, RewardSTDP

T1, T2 = 60.0, 90.0


def _plastic_net(seed=3):
    """STDP and reward-modulated STDP projections, a Poisson source, a lazy drive, state
    recording."""
    net = ev.Network(seed=seed)
    lif = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_th=20.0, v_reset=10.0, t_ref=2.0,
                 i_bias=10.0)
    dl = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_th=20.0, v_reset=10.0, t_ref=2.0)
    exc = net.population(300, lif, name="exc", v_init=(0.0, 20.0))
    d = net.population(50, dl, name="d", v_init=(0.0, 20.0))
    free = net.population(80, dl, name="free", v_init=(0.0, 20.0))
    src = net.poisson_source(50, 20.0, name="input")
    net.connect(src, exc, ev.fixed_indegree(10), weight=8.0, delay=1.0)
    net.connect(exc, exc, ev.fixed_indegree(20), weight=1.0, delay=1.5, plasticity=STDP(w_max=2.0))
    net.connect(exc, d, ev.fixed_indegree(20), weight=lambda g, n: g.uniform(0.0, 1.0, n), delay=1.0,
                plasticity=RewardSTDP(w_max=4.0))
    net.connect(exc, free, ev.fixed_indegree(10), weight=0.8, delay=2.0)
    net.poisson_drive(d, rate=2000.0, weight=0.5)         # becomes a source (plastic inputs)
    net.poisson_drive(free, rate=8000.0, weight=0.3)      # stays lazy
    net.record_state(np.array([0, 10, 310, 360]), np.linspace(1.0, T1 + T2, 23))
    return net


CASES = {
    "before_first_run": lambda: (brunel(1000, seed=2), 0.0),
    "in_flight": lambda: (brunel(1000, seed=2), T1),             # deliveries queued, drive streams
    "sources": lambda: (sparse_lowrate(3000, seed=4), T1),       # Poisson sources on the wheel
    "plastic": lambda: (_plastic_net(), T1),                     # STDP, reward STDP, drives
    "recording": lambda: (_with_samples(sparse_lowrate(2000, seed=5)), 37.7),
}


def _with_samples(net):
    net.record_state(np.arange(0, 2000, 97), np.linspace(0.5, T1 + T2, 41))
    return net


def _finish(net, case):
    """Continue to T1 + T2 (with a reward between two runs for the plastic case) and
    return every figure a restored run must reproduce."""
    rs = []
    if case == "plastic":
        net.projections[2].reward(0.02)
    while net.t < T1 + T2 - 1e-9:
        rs.append(net.run(min(45.0, T1 + T2 - net.t)))
    out = {"t": net.spikes.times, "i": net.spikes.ids, "counts": np.array(list(net.counts.as_dict().values())),
           "src_t": net.source_spikes.times, "src_i": net.source_spikes.ids,
           "block": net._state.neurons.block}
    for k, pr in enumerate(net.projections):
        if pr.plasticity is not None:
            out[f"w{k}"] = pr.weights
            tr = pr.traces()
            out[f"pre{k}"], out[f"post{k}"] = tr["pre"], tr["post"]
    v = [r.states.v for r in rs if r.states is not None]
    if v:
        out["v"] = np.concatenate(v)
    return out


def _cut(case, tmp_path):
    net, t_cut = CASES[case]()
    if t_cut > 0:
        net.run(t_cut)
        if case == "plastic":
            net.projections[2].reward(0.05)
    path = tmp_path / f"{case}.npz"
    ev.save(net, path)
    return net, path


@pytest.mark.parametrize("case", list(CASES))
def test_restore_continues_bitwise_in_this_process(case, tmp_path):
    ref, t_cut = CASES[case]()
    if t_cut > 0:
        ref.run(t_cut)
        if case == "plastic":
            ref.projections[2].reward(0.05)
    want = _finish(ref, case)
    net, path = _cut(case, tmp_path)
    for other in (ev.load(path), pickle.loads(pickle.dumps(net)), copy.deepcopy(net), net):
        got = _finish(other, case)
        assert got.keys() == want.keys()
        for k in want:
            assert np.array_equal(got[k], want[k], equal_nan=True), (case, k)
    assert len(want["t"]) > 50


def test_restore_continues_bitwise_in_a_fresh_process(tmp_path):
    """Every cut point saved here, loaded and continued in another Python process."""
    wants = {}
    for case in CASES:
        net, path = _cut(case, tmp_path)
        wants[case] = _finish(net, case)
    script = tmp_path / "cont.py"
    # (the eventsnn these tests import, whose compiled kernels are cached already)
    root = str(pathlib.Path(ev.__file__).resolve().parent.parent)
    script.write_text(textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, {str(tmp_path)!r})
        sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
        sys.path.insert(0, {root!r})
        import eventsnn as ev
        from test_save_load import CASES, _finish
        for case in CASES:
            got = _finish(ev.load({str(tmp_path)!r} + "/" + case + ".npz"), case)
            np.savez({str(tmp_path)!r} + "/" + case + "_got.npz", **got)
    """))
    subprocess.run([sys.executable, str(script)], check=True, timeout=600)
    for case, want in wants.items():
        with np.load(tmp_path / f"{case}_got.npz") as got:
            assert sorted(got.files) == sorted(want)
            for k in want:
                assert np.array_equal(got[k], want[k], equal_nan=True), (case, k)


def test_a_saved_file_is_complete_and_holds_no_pickle(tmp_path):
    net, path = _cut("plastic", tmp_path)
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        assert all(z[k].dtype != object for k in z.files)
        assert "state.queue.t" in z.files and "state.plastic.elig" in z.files
    assert meta["format"] == ev.io.FORMAT and meta["t"] == T1
    assert [p["plasticity"]["rule"] if p["plasticity"] else None for p in meta["projections"]] == \
        [None, "STDP", "RewardSTDP", None]


def _rewrite(path, out, change):
    """Copy a saved file, changing entries: change(name, bytes) -> bytes or None (drop)."""
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item, data)


def _npy(a):
    import io
    b = io.BytesIO()
    np.save(b, a, allow_pickle=True)
    return b.getvalue()


def test_bad_files_are_refused_naming_the_file(tmp_path):
    net, path = _cut("in_flight", tmp_path)
    raw = path.read_bytes()
    bad = {}
    bad["truncated"] = tmp_path / "truncated.npz"
    bad["truncated"].write_bytes(raw[: len(raw) // 2])
    bad["garbage"] = tmp_path / "garbage.npz"
    bad["garbage"].write_bytes(b"not a zip file at all" * 10)
    bad["foreign"] = tmp_path / "foreign.npz"
    np.savez(bad["foreign"], a=np.zeros(3))
    bad["newer"] = tmp_path / "newer.npz"
    meta = json.loads(str(np.load(path)["meta"]))
    _rewrite(path, bad["newer"], lambda n, d: _npy(np.array(json.dumps({**meta, "format": "eventsnn-network/99"})))
             if n == "meta.npy" else d)
    bad["pickled"] = tmp_path / "pickled.npz"
    _rewrite(path, bad["pickled"], lambda n, d: _npy(np.array([{"evil": 1}], dtype=object))
             if n == "state.cnt.npy" else d)
    bad["missing"] = tmp_path / "missing.npz"
    _rewrite(path, bad["missing"], lambda n, d: None if n == "state.queue.kind.npy" else d)
    bad["bad_event"] = tmp_path / "bad_event.npz"
    # every payload of the lanes (where Brunel's deliveries wait) points far outside the network
    lane_a = np.load(path)["state.queue.lane_a"].copy()
    lane_a[:] = 10**12
    _rewrite(path, bad["bad_event"], lambda n, d: _npy(lane_a) if n == "state.queue.lane_a.npy" else d)
    bad["wrong_shape"] = tmp_path / "wrong_shape.npz"
    _rewrite(path, bad["wrong_shape"], lambda n, d: _npy(np.zeros((3, 8))) if n == "state.neurons.block.npy" else d)
    needles = {"pickled": "pickled objects", "newer": "eventsnn-network/99", "foreign": "not an eventsnn network",
               "missing": "state.queue.kind", "bad_event": "does not fit", "wrong_shape": "does not fit"}
    for name, p in bad.items():
        with pytest.raises(ValueError) as e:
            ev.load(p)
        msg = str(e.value)
        assert str(p) in msg, (name, msg)
        assert needles.get(name, "cannot load") in msg, (name, msg)


def test_save_rejects_what_is_not_a_network(tmp_path):
    with pytest.raises(TypeError, match="net must be an eventsnn.Network"):
        ev.save("net", tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError):
        ev.load(tmp_path / "nothing_here.npz")
