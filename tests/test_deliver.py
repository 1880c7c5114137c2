"""The specialised delivery kernels against the general one (engine.deliver): on random
neuron states, rows (with multapses and refractory targets) and drive streams, every
specialised copy leaves bitwise the state, drive streams, marked neurons, counters and
return values the general kernel leaves, in every mode where both apply."""
import math

import numpy as np
import pytest

import eventsnn as ev
from eventsnn.engine import deliver as D
from eventsnn.engine.rng import seed_streams
from eventsnn.engine.state import (COL_CSEQ, COL_CT, COL_IE, COL_II, COL_REF, COL_TGT, COL_TL,
                                   COL_V, NCOUNT, DriveState, Drives, Neurons, Scratch, neuron_block)

N = 64


def _setup(model, seed, n_drives, t=13.7, tf=4.0):
    rng = np.random.default_rng(seed)
    P = model.row()[None, :].copy()
    pop_off = np.array([0, N], np.int64)
    blk = neuron_block(N, 0.0)
    vth = model.v_th
    # V (or U) around threshold in frame units, exp coefficients of both signs
    g = P[0, 0]
    ainv = math.exp(g * (t - tf)) if g > 0 else 1.0
    v = rng.uniform(vth - 8.0, vth + 0.5, N)
    blk[:, COL_V] = (v - (P[0, 11] if g > 0 else 0.0)) * ainv
    blk[:, COL_IE] = np.where(rng.random(N) < 0.5, rng.uniform(0, 3, N), 0.0)
    blk[:, COL_II] = np.where(rng.random(N) < 0.5, -rng.uniform(0, 3, N), 0.0)
    blk[:, COL_REF] = np.where(rng.random(N) < 0.25, t + rng.uniform(-0.5, 1.0, N), -np.inf)
    blk[:, COL_TGT] = rng.choice([np.inf, -np.inf, t + 3.0], N)
    # the ceiling (exp frame neurons): a neuron with a pending crossing has one >= v_th,
    # as every test that finds a crossing leaves
    blk[:, COL_TL] = np.where(blk[:, COL_TGT] != np.inf, vth + 2.0, rng.choice([vth - 1.0, vth + 2.0], N))
    blk[:, COL_CT] = np.inf
    blk[:, COL_CSEQ].view(np.int64)[:] = -1
    neurons = Neurons(blk, blk[:, COL_CSEQ].view(np.int64), np.array([tf]), np.zeros(N), np.zeros(1, np.int64),
                      np.zeros(N))
    rate = np.array([0.8] * n_drives)
    DR = Drives(np.array([0, n_drives], np.int64), rate, np.array([0.7] * n_drives),
                np.arange(n_drives, dtype=np.int64) * N)
    DS = DriveState(t - rng.uniform(-0.2, 3.0, n_drives * N), seed_streams(seed, 2, n_drives * N))
    idx = rng.integers(0, N, 48).astype(np.int32)            # multapses
    w = rng.normal(0.0, 2.0, 48)
    return P, pop_off, neurons, DR, DS, idx, w, t


def _copy(neurons, DS):
    blk = neuron_block(N, 0.0)
    blk[:] = neurons.block
    n2 = neurons._replace(block=blk, cseq=blk[:, COL_CSEQ].view(np.int64), tf=neurons.tf.copy(),
                          theta=neurons.theta.copy(), adapt=neurons.adapt.copy())
    return n2, DriveState(DS.next.copy(), DS.rng.copy())


def _scratch():
    return Scratch(np.zeros(N, np.int64), np.zeros((N + 63) // 64, np.uint64))


def _both(fa, fb, neurons, DS):
    """Run two kernels on copies of one state; return what each left."""
    out = []
    for f in (fa, fb):
        n2, ds2 = _copy(neurons, DS)
        sc = _scratch()
        cnt = np.zeros(NCOUNT, np.int64)
        ret = f(n2, ds2, sc, cnt)
        ret = ret if isinstance(ret, tuple) else (ret,)
        nd = int(ret[0])
        out.append((n2.block.copy(), ds2.next.copy(), ds2.rng.copy(), sc.dirty[:nd].copy(), cnt.copy(),
                    tuple(float(x) for x in ret[1:])))
    return out


def _same(a, b):
    for x, y in zip(a, b):
        if isinstance(x, tuple):
            assert x == y
        else:
            assert np.array_equal(x, y, equal_nan=True)


DELTA = ev.LIF(tau_m=20.0, tau_syn_exc=0.0, tau_syn_inh=0.0, v_th=20.0, v_reset=10.0, t_ref=2.0)
EXP = ev.LIF(tau_m=20.0, tau_syn_exc=5.0, tau_syn_inh=10.0, v_th=20.0, v_reset=10.0, t_ref=2.0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", [D.SWEEP_ONLY, D.TEST_LATER, D.TEST_NOW, D.TEST_NONE, D.TEST_PENDING])
@pytest.mark.parametrize("n_drives", [0, 1])
def test_delta_targets_equals_the_general_kernel(seed, mode, n_drives):
    P, pop_off, neurons, DR, DS, idx, w, t = _setup(DELTA, seed, n_drives)
    if mode == D.SWEEP_ONLY:
        row = D.Row(5, 40, 0, 0, 0, 0)
    else:
        row = D.Row(3, 45, 0, idx.ctypes.data, w.ctypes.data, -1)
    a, b = _both(lambda n, ds, sc, c: D.delta_targets(P, 0, t, row, mode, 0, sc, n.block, n.tf[0], 0, DR, ds, c),
                 lambda n, ds, sc, c: D.frame_targets_general(P, 0, t, row, mode, 0, sc, n, DR, ds, c, pop_off),
                 neurons, DS)
    _same(a, b)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", [D.TEST_LATER, D.TEST_NOW, D.TEST_NONE, D.TEST_PENDING])
@pytest.mark.parametrize("model", [DELTA, EXP], ids=["delta", "exp"])
def test_undriven_targets_equals_the_general_kernel(seed, mode, model):
    P, pop_off, neurons, DR, DS, idx, w, t = _setup(model, seed, 0)
    row = D.Row(0, 48, 0, idx.ctypes.data, w.ctypes.data, -1)
    for pf in (False, True):
        a, b = _both(lambda n, ds, sc, c: D.undriven_targets(P, 0, t, row, mode, 0, sc, n.block, n.tf[0], c, pf,
                                                           True),
                     lambda n, ds, sc, c: D.frame_targets_general(P, 0, t, row, mode, 0, sc, n, DR, ds, c,
                                                                  pop_off)[0],
                     neurons, DS)
        _same(a, b)


@pytest.mark.parametrize("seed", range(8))
def test_bound_modes_change_no_state_and_mark_fewer(seed):
    """TEST_BOUND (and TEST_BOUND_EXC, exc_targets) apply the inputs with the general
    kernel's arithmetic; they mark fewer targets (those the bounds cannot clear) and keep
    ceilings in the t_last column, which the general kernel leaves alone."""
    P, pop_off, neurons, DR, DS, idx, w, t = _setup(EXP, seed, 0)
    rows = {D.TEST_BOUND: (w, D.TEST_BOUND), D.TEST_BOUND_EXC: (np.abs(w), D.TEST_BOUND_EXC)}
    for mode, (ws, m) in rows.items():
        row = D.Row(0, 48, 0, idx.ctypes.data, ws.ctypes.data, -1)
        a, b = _both(lambda n, ds, sc, c: D.undriven_targets(P, 0, t, row, m, 0, sc, n.block, n.tf[0], c, False,
                                                           True),
                     lambda n, ds, sc, c: D.frame_targets_general(P, 0, t, row, D.TEST_LATER, 0, sc, n, DR, ds, c,
                                                                  pop_off)[0],
                     neurons, DS)
        cols = [COL_V, COL_IE, COL_II, COL_REF, COL_CT, COL_TGT]
        assert np.array_equal(a[0][:, cols], b[0][:, cols], equal_nan=True)
        assert set(a[3]) <= set(b[3])
    # exc_targets: the TEST_BOUND loop written without the branches for inhibition
    ws = np.abs(w)
    row = D.Row(0, 48, 0, idx.ctypes.data, ws.ctypes.data, -1)
    a, b = _both(lambda n, ds, sc, c: D.exc_targets(P, 0, t, row, 0, sc, n.block, n.tf[0], c),
                 lambda n, ds, sc, c: D.undriven_targets(P, 0, t, row, D.TEST_BOUND, 0, sc, n.block, n.tf[0], c,
                                                         False, True),
                 neurons, DS)
    _same(a, b)
