"""The engine against NEST 3.10's precise-timing models (iaf_psc_exp_ps, iaf_psc_delta_ps).

tests/data/*.npz hold twelve small networks and NEST's output spikes (see tests/data/README.md).
Required: the same spikes for every neuron, times within 1e-9 ms; the delta files (inputs on a
dyadic grid, hence exact ties) bit for bit.
"""
import glob
import os

import numpy as np
import pytest

import eventsnn as ev

DATA = os.path.join(os.path.dirname(__file__), "data")
FILES = sorted(glob.glob(os.path.join(DATA, "*.npz")))
PARAMS = ("tau_m", "tau_syn_exc", "tau_syn_inh", "v_rest", "v_th", "v_reset", "t_ref")


def load(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def run_file(d, splits=(1.0,)):
    n, n_in = int(d["n"]), int(d["n_in"])
    model = ev.LIF(**{k: float(d[k]) for k in PARAMS})
    net = ev.Network(seed=0)
    pop = net.population(n, model)
    src = net.spike_source(d["in_times"], d["in_ids"], n=n_in)
    net.connect(src, pop, ev.from_lists(d["in_pre"], d["in_post"], d["in_w"], d["in_delay"],
                                        n_pre=n_in, n_post=n), delay=None)
    if len(d["rec_pre"]):
        net.connect(pop, pop, ev.from_lists(d["rec_pre"], d["rec_post"], d["rec_w"], d["rec_delay"],
                                            n_pre=n, n_post=n), delay=None)
    T = float(d["T"])
    t = 0.0
    for f in splits:
        net.run(T * f - t)
        t = T * f
    return net.spikes, net.counts, pop


def test_all_twelve_files_present():
    names = sorted(os.path.basename(f) for f in FILES)
    assert names == sorted([f"delta_seed{s}.npz" for s in range(10, 16)] +
                           [f"exp_seed{s}.npz" for s in range(6)])


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(f)[:-4] for f in FILES])
def test_matches_nest(path):
    d = load(path)
    sp, counts, pop = run_file(d)
    ot, oi = d["out_times"], d["out_ids"]
    assert len(ot) > 0
    for j in range(int(d["n"])):
        mine, nest = sp.times[sp.ids == j], ot[oi == j]
        assert len(mine) == len(nest), f"neuron {j}: {len(mine)} spikes, NEST {len(nest)}"
        if len(nest):
            assert np.max(np.abs(mine - nest)) <= 1e-9, f"neuron {j}"
    assert np.array_equal(sp.ids, oi)       # also the (time, id) order
    assert np.max(np.abs(sp.times - ot)) <= 1e-9
    if os.path.basename(path).startswith("delta"):
        assert np.array_equal(sp.times, ot)
    assert counts.spikes == len(ot)
    assert counts.source_spikes == int(np.sum(d["in_times"] <= float(d["T"])))


@pytest.mark.parametrize("path", [FILES[0], FILES[-1]], ids=["delta", "exp"])
def test_matches_nest_in_pieces(path):
    """Splitting the run changes nothing, bit for bit."""
    d = load(path)
    whole, c_whole, _ = run_file(d)
    parts, c_parts, _ = run_file(d, splits=(0.137, 0.5, 0.5, 0.9, 1.0))
    assert np.array_equal(whole.times, parts.times) and np.array_equal(whole.ids, parts.ids)
    assert c_whole == c_parts
