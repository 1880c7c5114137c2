"""A slow, obvious reference for the surrogate-gradient BPTT trainer of
:mod:`eventsnn.gradients.bptt` on the grid network of :mod:`eventsnn.gradients.gridnet`.

Written from the two module docstrings (the specification), not from the kernels:
it reads only the network's description (``input_shape, layers, shapes, sizes, dt, K,
t_end, tau_m, tau_s, theta, output, reset, refractory, delay_ms, batchnorm, bn_eps,
params, param_shapes, bn_channels, bn_off, _woff`` and, in evaluation mode,
``running_mean, running_var``), never ``net.projections``, ``net.consts`` or
anything of ``bptt.py``.

* Weights: every projection is rebuilt as a dense matrix W[i, j] (presynaptic i,
  postsynaptic j) from a list of entries (i, j, p, coef) made by explicit loops
  (dense row-major (n_pre, n_post); convolution (co, ci, ky, kx) cross-correlation
  with stride and zero padding, the average pooling of input currents folded in with
  coef 1/pool^2).  The weight gradient of entry (i, j, p, coef) is coef dL/dW[i, j].
* Forward: layer after layer (feed-forward delays are >= 0 and every layer reads only
  earlier layers' spikes and its own past spikes, so this is the same as advancing
  all layers step by step), per sample, per step, with the update of the gridnet
  docstring.  Batch norm is applied to a layer's whole feed-forward input z[b, k, j]
  (all samples, steps 1..K) before the layer is advanced.
* Backward: hand-written reverse mode over the stored per-step values, k = K .. 1,
  per sample, with numpy dot products over the neurons of a layer only.  Refractory
  flags are constants of the backward pass (they are piecewise constant functions of
  the spikes; the surrogate is applied to the threshold nonlinearity only).
* Losses: CountCE, MaxVoltageCE, FirstSpikeCE as in the bptt docstring; the value of
  FirstSpikeCE/MaxVoltageCE is the formula of ``eventsnn.gradients.losses.sample_loss``
  evaluated on the grid first-spike times / grid voltage maxima.

A private keyword ``_smooth`` (a slope a > 0) replaces, for the reference's own
tests only, the Heaviside spike by s = sigmoid(a (Vh - theta)) in the forward pass and
the surrogate by its true derivative (refractory flags still follow Vh >= theta), so
that the backward pass (every path: hidden layers, recurrence, delays, batch norm,
non-detached reset, the first-spike-time product) can be checked against finite
differences.  With ``_smooth`` the FirstSpikeCE derivative uses the general product
formula (:func:`first_time_derivative_general`), which equals the docstring's
``t_m - t_f`` / ``t_f - t_g`` form on binary spikes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from eventsnn.encoding import SpikeInput
from eventsnn.gradients.gridnet import Conv2d, Dense, GridSNN
from eventsnn.gradients.losses import FirstSpikeCE, MaxVoltageCE

try:                                        # added to bptt.py by the lead
    from eventsnn.gradients.bptt import CountCE
except ImportError:                         # pragma: no cover - stand-in until then
    @dataclass(frozen=True)
    class CountCE:
        scale: float = 1.0

SURROGATES = ("fast_sigmoid", "arctan", "boxcar", "triangle", "lee", "exact")


# ---------------------------------------------------------------------------
# surrogates
# ---------------------------------------------------------------------------

def surrogate_derivative(kind, x, slope, theta=1.0, lee_eps=0.0):
    """sigma'(x) of one neuron at one step, x = Vh - theta (mV), as a float."""
    x = float(x)
    if kind == "fast_sigmoid":
        return 1.0 / (1.0 + slope * abs(x)) ** 2
    if kind == "arctan":
        return (slope / 2.0) / (1.0 + (math.pi / 2.0 * slope * x) ** 2)
    if kind == "boxcar":
        return slope if abs(x) < 1.0 / (2.0 * slope) else 0.0
    if kind == "triangle":
        return slope * max(0.0, 1.0 - slope * abs(x))
    if kind == "lee":
        return (1.0 + lee_eps) / theta if abs(x) < theta else 0.0
    if kind == "exact":
        return 0.0
    raise ValueError(f"unknown surrogate {kind!r}")


def _sigmoid(u):
    return 1.0 / (1.0 + math.exp(-u))


# ---------------------------------------------------------------------------
# projections
# ---------------------------------------------------------------------------

def dense_entries(n_pre, n_post, off):
    """(i, j, p, coef) of an all-to-all (n_pre, n_post) row-major projection."""
    out = []
    for i in range(n_pre):
        for j in range(n_post):
            out.append((i, j, off + i * n_post + j, 1.0))
    return out


def conv_entries(in_shape, layer, off):
    """(i, j, p, coef) of a Conv2d (cross-correlation, stride, zero padding) whose
    output currents are average-pooled pool x pool (coef 1/pool^2).  Not merged:
    duplicates (same i, j, p) simply add up."""
    C, H, W = in_shape
    k, s, pad, q = layer.kernel, layer.stride, layer.padding, layer.pool
    ho = (H + 2 * pad - k) // s + 1
    wo = (W + 2 * pad - k) // s + 1
    assert ho % q == 0 and wo % q == 0
    PH, PW = ho // q, wo // q
    out = []
    for co in range(layer.channels):
        for oy in range(ho):
            for ox in range(wo):
                j = (co * PH + oy // q) * PW + ox // q
                for ci in range(C):
                    for ky in range(k):
                        for kx in range(k):
                            iy = oy * s + ky - pad
                            ix = ox * s + kx - pad
                            if 0 <= iy < H and 0 <= ix < W:
                                i = (ci * H + iy) * W + ix
                                p = off + ((co * C + ci) * k + ky) * k + kx
                                out.append((i, j, p, 1.0 / (q * q)))
    return out, (layer.channels, PH, PW)


def _steps(ms, dt):
    k = round(ms / dt)
    assert abs(k * dt - ms) <= 1e-9 * max(dt, ms), (ms, dt)
    return int(k)


def build_projections(net, params):
    """Per layer l = 1 .. L: dict with the feed-forward projection (W, entries, D) and
    the recurrent one (Wr, entries, Dr) or None; offsets checked against _woff."""
    L = len(net.layers)
    shapes = [tuple(net.input_shape)]
    off = 0
    q = 0
    out = []
    for l, lay in enumerate(net.layers):
        n_pre = int(np.prod(shapes[-1]))
        if isinstance(lay, Conv2d):
            ent, shp = conv_entries(shapes[-1], lay, off)
            pshape = (lay.channels, shapes[-1][0], lay.kernel, lay.kernel)
        else:
            assert isinstance(lay, Dense)
            shp = (lay.n,)
            ent = dense_entries(n_pre, lay.n, off)
            pshape = (n_pre, lay.n)
        assert tuple(shp) == tuple(net.shapes[l + 1]), (shp, net.shapes[l + 1])
        assert tuple(pshape) == tuple(net.param_shapes[q])
        assert off == net._woff[q]
        n_post = int(np.prod(shp))
        W = np.zeros((n_pre, n_post))
        for (i, j, p, coef) in ent:
            W[i, j] += coef * params[p]
        d = {"W": W, "ent": ent, "D": _steps(net.delay_ms[l], net.dt), "rec": None}
        off += int(np.prod(pshape))
        q += 1
        if isinstance(lay, Dense) and lay.recurrent:
            assert off == net._woff[q]
            rent = dense_entries(n_post, n_post, off)
            Wr = np.zeros((n_post, n_post))
            for (i, j, p, coef) in rent:
                Wr[i, j] += coef * params[p]
            Dr = 1 if lay.rec_delay is None else _steps(lay.rec_delay, net.dt)
            assert Dr >= 1
            d["rec"] = {"W": Wr, "ent": rent, "D": Dr}
            off += n_post * n_post
            q += 1
        shapes.append(tuple(shp))
        out.append(d)
    assert off == net._woff[-1] and q == len(net._woff) - 1
    assert len(out) == L
    return out


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------

def input_counts(inputs, dt, K, n_in):
    """[B, K+1, n_in] spike counts per grid step (step 0 always empty)."""
    B = len(inputs.ptr) - 1
    assert inputs.n_inputs == n_in, (inputs.n_inputs, n_in)
    out = np.zeros((B, K + 1, n_in))
    for b in range(B):
        for e in range(int(inputs.ptr[b]), int(inputs.ptr[b + 1])):
            t = float(inputs.times[e])
            k = max(1, math.ceil(t / dt - 1e-9))
            if k <= K:
                out[b, k, int(inputs.ids[e])] += 1.0
    return out


# ---------------------------------------------------------------------------
# batch norm
# ---------------------------------------------------------------------------

def _bn_groups(mode, K):
    """Step groups sharing statistics, with the running-statistics row of each."""
    if mode == "shared":
        return [(list(range(1, K + 1)), 0)]
    return [([k], k) for k in range(1, K + 1)]


def bn_forward(z, chan, C, mode, training, gamma, beta, eps, run_mean=None, run_var=None):
    """x[b, k, j] = gamma[c] (z - mu) / sqrt(var + eps) + beta[c], c = chan[j]; step 0 of
    x is 0.  Returns x and the per-(channel, group) cache for the backward pass."""
    B, K1, n = z.shape
    K = K1 - 1
    x = np.zeros_like(z)
    cache = []
    for c in range(C):
        cols = [j for j in range(n) if chan[j] == c]
        for ks, row in _bn_groups(mode, K):
            vals = z[np.ix_(range(B), ks, cols)]
            if training:
                mu = vals.mean()
                var = ((vals - mu) ** 2).mean()
            else:
                mu = float(run_mean[row, c])
                var = float(run_var[row, c])
            sd = math.sqrt(var + eps)
            xhat = (vals - mu) / sd
            x[np.ix_(range(B), ks, cols)] = gamma[c] * xhat + beta[c]
            cache.append((c, ks, cols, xhat, sd))
    return x, cache


def bn_backward(gx, cache, gamma, training):
    """dL/dz from dL/dx; also dL/dgamma, dL/dbeta (per channel)."""
    B = gx.shape[0]
    gz = np.zeros_like(gx)
    dgamma = np.zeros(len(gamma))
    dbeta = np.zeros(len(gamma))
    for (c, ks, cols, xhat, sd) in cache:
        g = gx[np.ix_(range(B), ks, cols)]
        dgamma[c] += (g * xhat).sum()
        dbeta[c] += g.sum()
        gxh = g * gamma[c]
        if training:
            # xhat = (z - mean z) / sqrt(mean (z - mean z)^2 + eps) over the group:
            # dL/dz = (gxh - mean gxh - xhat mean(gxh xhat)) / sd
            gzz = (gxh - gxh.mean() - xhat * (gxh * xhat).mean()) / sd
        else:
            gzz = gxh / sd
        gz[np.ix_(range(B), ks, cols)] = gzz
    return gz, dgamma, dbeta


# ---------------------------------------------------------------------------
# first-spike times
# ---------------------------------------------------------------------------

def first_spike_time(s, dt, t_end):
    """Grid first-spike time of one neuron from s[0..K] (s[0] unused):
    t = sum_k t_k s_k prod_{m<k}(1 - s_m) + t_end prod_{m<=K}(1 - s_m)."""
    K = len(s) - 1
    t = 0.0
    P = 1.0
    for k in range(1, K + 1):
        t += k * dt * s[k] * P
        P *= 1.0 - s[k]
    return t + t_end * P


def first_time_derivative_spec(s, dt, t_end):
    """dt/ds_m, m = 0..K, on binary spikes, in the docstring's form: t_m - t_f for
    m < f, t_f - t_g at m = f, 0 after (t_f, t_g = t_end when missing)."""
    K = len(s) - 1
    ks = [k for k in range(1, K + 1) if s[k] != 0.0]
    tf = ks[0] * dt if ks else t_end
    tg = ks[1] * dt if len(ks) > 1 else t_end
    f = ks[0] if ks else K + 1
    d = np.zeros(K + 1)
    for m in range(1, K + 1):
        if m < f:
            d[m] = m * dt - tf
        elif m == f:
            d[m] = tf - tg
    return d


def first_time_derivative_general(s, dt, t_end):
    """dt/ds_m of the product formula for any s (explicit products)."""
    K = len(s) - 1
    d = np.zeros(K + 1)
    for m in range(1, K + 1):
        v = 0.0
        for k in range(1, K + 1):
            if k < m:
                continue
            if k == m:
                P = 1.0
                for j in range(1, k):
                    P *= 1.0 - s[j]
                v += k * dt * P
            else:
                P = 1.0
                for j in range(1, k):
                    if j != m:
                        P *= 1.0 - s[j]
                v -= k * dt * s[k] * P
        P = 1.0
        for j in range(1, K + 1):
            if j != m:
                P *= 1.0 - s[j]
        v -= t_end * P
        d[m] = v
    return d


def _logsumexp(z):
    m = max(z)
    return m + math.log(sum(math.exp(v - m) for v in z))


# ---------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------

def _propagators(tau_m, tau_s, dt):
    a = math.exp(-dt / tau_s)
    b = math.exp(-dt / tau_m)
    c = dt / tau_m * b if tau_s == tau_m else tau_s / (tau_s - tau_m) * (a - b)
    return a, b, c


def _forward(net, inputs, *, training, params, smooth):
    L = len(net.layers)
    K = net.K
    dt = net.dt
    projs = build_projections(net, params)
    S0 = input_counts(inputs, dt, K, net.sizes[0])
    B = S0.shape[0]
    st = {"projs": projs, "S": [S0], "layers": [], "B": B}
    for l in range(1, L + 1):
        pr = projs[l - 1]
        n = net.sizes[l]
        W, D = pr["W"], pr["D"]
        S_pre = st["S"][l - 1]
        z = np.zeros((B, K + 1, n))
        for b in range(B):
            for k in range(1, K + 1):
                if k - D >= 1:
                    z[b, k] = S_pre[b, k - D] @ W
        bn = None
        if net.batchnorm is not None and l < L:
            j = l - 1
            C = net.bn_channels[j]
            o = net.bn_off[j]
            gamma = params[o:o + C]
            beta_ = params[o + C:o + 2 * C]
            per = n // C
            chan = [jj // per for jj in range(n)]
            x_ff, cache = bn_forward(z, chan, C, net.batchnorm, training, gamma, beta_, net.bn_eps,
                                     net.running_mean[j] if not training else None,
                                     net.running_var[j] if not training else None)
            bn = {"cache": cache, "gamma": gamma, "j": j, "C": C}
        else:
            x_ff = z
        alpha, beta, c = _propagators(net.tau_m[l - 1], net.tau_s[l - 1], dt)
        theta = net.theta[l - 1]
        spiking = not (l == L and net.output == "voltage")
        R = net.refractory
        rec = pr["rec"]
        Vh = np.zeros((B, K + 1, n))
        V = np.zeros((B, K + 1, n))
        I = np.zeros((B, K + 1, n))
        S = np.zeros((B, K + 1, n))
        H = np.zeros((B, K + 1, n))          # hard spikes (== S unless smooth)
        X = np.zeros((B, K + 1, n))          # total input x_k
        REF = np.zeros((B, K + 1, n), bool)
        lee_eps = np.zeros((B, n))
        for b in range(B):
            ref_until = np.zeros(n, np.int64)
            leak = np.zeros(n)
            gain = np.zeros(n)
            for k in range(1, K + 1):
                for i in range(n):
                    r = spiking and k <= ref_until[i]
                    REF[b, k, i] = r
                    if r:
                        Vh[b, k, i] = V[b, k - 1, i]
                        s = 0.0
                        h = 0.0
                    else:
                        Vh[b, k, i] = beta * V[b, k - 1, i] + c * I[b, k - 1, i]
                        leak[i] += (1.0 - beta) * V[b, k - 1, i]
                        gain[i] += Vh[b, k, i] - beta * V[b, k - 1, i]
                        if spiking:
                            h = 1.0 if Vh[b, k, i] >= theta else 0.0
                            s = _sigmoid(smooth * (Vh[b, k, i] - theta)) if smooth else h
                        else:
                            h = s = 0.0
                    if h:
                        ref_until[i] = k + R
                    S[b, k, i] = s
                    H[b, k, i] = h
                    if not spiking:
                        V[b, k, i] = Vh[b, k, i]
                    elif net.reset == "subtract":
                        V[b, k, i] = Vh[b, k, i] - theta * s
                    else:
                        V[b, k, i] = Vh[b, k, i] * (1.0 - s)
                xk = x_ff[b, k].copy()
                if rec is not None and k - rec["D"] >= 1:
                    xk += S[b, k - rec["D"]] @ rec["W"]
                X[b, k] = xk
                I[b, k] = alpha * I[b, k - 1] + xk
            for i in range(n):
                if gain[i] > 0.0:
                    lee_eps[b, i] = min(0.0, max(-1.0, -leak[i] / gain[i]))
        st["S"].append(S)
        st["layers"].append({"z": z, "x_ff": x_ff, "X": X, "Vh": Vh, "V": V, "I": I, "S": S, "H": H, "REF": REF, "bn": bn,
                                 "alpha": alpha, "beta": beta, "c": c, "theta": theta, "spiking": spiking,
                                 "lee_eps": lee_eps, "n": n})
    return st


def _loss(net, st, labels, loss, smooth):
    """Per-sample losses, predictions, strict correctness, and the seeds of the
    backward pass: dL_b/dS[b, k, i] and dL_b/dV[b, k, i] of the read-out."""
    out = st["layers"][-1]
    B, K1, n = out["V"].shape
    K = K1 - 1
    dt, t_end = net.dt, net.t_end
    losses = np.zeros(B)
    preds = np.full(B, -1, np.int64)
    correct = np.zeros(B, bool)
    gS = np.zeros((B, K1, n))
    gV = np.zeros((B, K1, n))
    for b in range(B):
        y = int(labels[b])
        assert 0 <= y < n
        if isinstance(loss, MaxVoltageCE):
            if net.output != "voltage":
                raise ValueError("MaxVoltageCE needs output='voltage'")
            vmax = np.zeros(n)
            kmax = np.zeros(n, np.int64)
            for i in range(n):
                best = -math.inf
                for k in range(1, K + 1):
                    if out["V"][b, k, i] > best:
                        best = out["V"][b, k, i]
                        kmax[i] = k
                vmax[i] = best
            logits = [loss.scale * v for v in vmax]
            lse = _logsumexp(logits)
            losses[b] = lse - logits[y]
            for i in range(n):
                p = math.exp(logits[i] - lse)
                gV[b, kmax[i], i] = loss.scale * (p - (1.0 if i == y else 0.0))
            preds[b] = int(np.argmax(vmax))
            correct[b] = all(vmax[y] > vmax[i] for i in range(n) if i != y)
        elif isinstance(loss, CountCE) or type(loss).__name__ == "CountCE":
            if net.output != "spike":
                raise ValueError("CountCE needs output='spike'")
            cnt = out["S"][b, 1:].sum(axis=0)
            logits = [loss.scale * v for v in cnt]
            lse = _logsumexp(logits)
            losses[b] = lse - logits[y]
            for i in range(n):
                p = math.exp(logits[i] - lse)
                gS[b, 1:, i] = loss.scale * (p - (1.0 if i == y else 0.0))
            preds[b] = int(np.argmax(cnt))
            correct[b] = all(cnt[y] > cnt[i] for i in range(n) if i != y)
        elif isinstance(loss, FirstSpikeCE):
            if net.output != "spike":
                raise ValueError("FirstSpikeCE needs output='spike'")
            t = np.array([first_spike_time(out["S"][b, :, i], dt, t_end) for i in range(n)])
            tau0, tau1, al = loss.tau0, loss.tau1, loss.alpha
            lse = _logsumexp([-v / tau0 for v in t])
            ereg = math.exp(t[y] / tau1)
            losses[b] = t[y] / tau0 + lse + al * (ereg - 1.0)
            for i in range(n):
                p = math.exp(-t[i] / tau0 - lse)
                dl_dt = -p / tau0 + ((1.0 / tau0) if i == y else 0.0)
                if i == y and out["S"][b, 1:, i].any():
                    # the regulariser's derivative only for a spiking label output (bptt docstring)
                    dl_dt += al * ereg / tau1
                if smooth:
                    dts = first_time_derivative_general(out["S"][b, :, i], dt, t_end)
                else:
                    dts = first_time_derivative_spec(out["S"][b, :, i], dt, t_end)
                gS[b, :, i] = dl_dt * dts
            H = out["H"][b]
            spiked = [i for i in range(n) if H[1:, i].any()]
            th = {i: dt * (1 + int(np.argmax(H[1:, i] != 0))) for i in spiked}
            if spiked:
                best = min(th[i] for i in spiked)
                preds[b] = min(i for i in spiked if th[i] == best)
                correct[b] = y in th and all(th[y] < th[i] for i in spiked if i != y)
        else:
            raise TypeError(f"unknown loss {type(loss).__name__}")
    return losses, preds, correct, gS, gV


# ---------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------

def _backward(net, st, gS_out, gV_out, surrogate, slope, detach_reset, training, params, smooth):
    L = len(net.layers)
    K = net.K
    B = st["B"]
    grad = np.zeros(params.size)
    gS = gS_out                         # dL/dS of the current layer (external part)
    for l in range(L, 0, -1):
        ly = st["layers"][l - 1]
        pr = st["projs"][l - 1]
        rec = pr["rec"]
        n = ly["n"]
        alpha, beta, c, theta = ly["alpha"], ly["beta"], ly["c"], ly["theta"]
        spiking = ly["spiking"]
        gVd = gV_out if l == L else np.zeros((B, K + 1, n))
        gX = np.zeros((B, K + 1, n))
        for b in range(B):
            gV = gVd[b, K].copy()           # dL/dV_K
            gI = np.zeros(n)                # dL/dI_K (I_K is not used)
            for k in range(K, 0, -1):
                gs = gS[b, k].copy()
                if rec is not None and k + rec["D"] <= K:
                    gs += rec["W"] @ gX[b, k + rec["D"]]
                gVh = np.zeros(n)
                for i in range(n):
                    s = ly["S"][b, k, i]
                    vh = ly["Vh"][b, k, i]
                    r = ly["REF"][b, k, i]
                    # V_k = reset(Vh_k, s_k)
                    if not spiking:
                        dV_dVh, dV_ds = 1.0, 0.0
                    elif net.reset == "subtract":
                        dV_dVh, dV_ds = 1.0, -theta
                    else:
                        dV_dVh, dV_ds = 1.0 - s, -vh
                    g = gV[i] * dV_dVh
                    gsi = gs[i]
                    if not detach_reset:
                        gsi += gV[i] * dV_ds
                    # s_k = H(Vh_k - theta), not refractory
                    if spiking and not r:
                        if smooth:
                            sg = _sigmoid(smooth * (vh - theta))
                            d = smooth * sg * (1.0 - sg)
                        else:
                            d = surrogate_derivative(surrogate, vh - theta, slope, theta, ly["lee_eps"][b, i])
                        g += gsi * d
                    gVh[i] = g
                # I_k = alpha I_{k-1} + x_k
                gX[b, k] = gI
                # Vh_k = beta V_{k-1} + c I_{k-1}  (V_{k-1} while refractory)
                gV_prev = np.zeros(n)
                gI_prev = alpha * gI
                for i in range(n):
                    if ly["REF"][b, k, i]:
                        gV_prev[i] = gVh[i]
                    else:
                        gV_prev[i] = beta * gVh[i]
                        gI_prev[i] += c * gVh[i]
                gV = gV_prev + gVd[b, k - 1]
                gI = gI_prev
        # recurrent weights: x_k += S[k - Dr] @ Wr
        if rec is not None:
            dWr = np.zeros_like(rec["W"])
            for b in range(B):
                for k in range(1, K + 1):
                    if k - rec["D"] >= 1:
                        dWr += np.outer(ly["S"][b, k - rec["D"]], gX[b, k])
            for (i, j, p, coef) in rec["ent"]:
                grad[p] += coef * dWr[i, j]
        # batch norm
        if ly["bn"] is not None:
            bn = ly["bn"]
            gZ, dgamma, dbeta = bn_backward(gX, bn["cache"], bn["gamma"], training)
            o = net.bn_off[bn["j"]]
            C = bn["C"]
            grad[o:o + C] += dgamma
            grad[o + C:o + 2 * C] += dbeta
        else:
            gZ = gX
        # feed-forward: z_k = S_pre[k - D] @ W
        W, D = pr["W"], pr["D"]
        S_pre = st["S"][l - 1]
        dW = np.zeros_like(W)
        gS_pre = np.zeros_like(S_pre)
        for b in range(B):
            for k in range(1, K + 1):
                if k - D >= 1:
                    dW += np.outer(S_pre[b, k - D], gZ[b, k])
                    gS_pre[b, k - D] += W @ gZ[b, k]
        for (i, j, p, coef) in pr["ent"]:
            grad[p] += coef * dW[i, j]
        gS = gS_pre
    return grad


# ---------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------

def reference_forward(net, inputs, labels, loss, *, training=True, params=None, _smooth=None):
    """Forward pass only: dict(loss, losses, predictions, correct, spikes, hard_spikes,
    state)."""
    params = np.array(net.params if params is None else params, dtype=np.float64)
    labels = np.asarray(labels, np.int64)
    st = _forward(net, inputs, training=training, params=params, smooth=_smooth)
    assert labels.shape == (st["B"],)
    losses, preds, correct, gS, gV = _loss(net, st, labels, loss, _smooth)
    return {"loss": float(losses.mean()), "losses": losses, "predictions": preds, "correct": correct,
            "spikes": [ly["S"] for ly in st["layers"]], "hard_spikes": [ly["H"] for ly in st["layers"]],
            "state": st, "seeds": (gS, gV), "params": params}


def reference_loss_and_grad(net, inputs, labels, loss, *, surrogate="fast_sigmoid", slope=25.0,
                            detach_reset=True, training=True, params=None, _smooth=None):
    """Loss (mean over samples), grad (d mean loss / d params), per-sample losses,
    predictions (strict correctness in ``correct``) and spikes [B, K+1, n] per layer."""
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}")
    f = reference_forward(net, inputs, labels, loss, training=training, params=params, _smooth=_smooth)
    gS, gV = f["seeds"]
    B = f["state"]["B"]
    grad = _backward(net, f["state"], gS / B, gV / B, surrogate, float(slope), bool(detach_reset), training,
                     f["params"], _smooth)
    return {"loss": f["loss"], "grad": grad, "losses": f["losses"], "predictions": f["predictions"],
            "correct": f["correct"], "spikes": f["spikes"]}


# ---------------------------------------------------------------------------
# test cases
# ---------------------------------------------------------------------------

def make_inputs(rng, B, n_in, t_end, rate=0.25, extra=True):
    """Random input spikes (about rate per ms per input), a few on exact grid times and
    after t_end."""
    ptr = [0]
    times, ids = [], []
    for _ in range(B):
        n = rng.poisson(rate * t_end * n_in / 4 + 3)
        t = list(rng.uniform(0.0, t_end, n))
        if extra:
            t += [0.0, 1.0, 2.0, t_end, t_end + 0.5]
        i = list(rng.integers(0, n_in, len(t)))
        o = np.lexsort((i, t))
        times += [t[j] for j in o]
        ids += [i[j] for j in o]
        ptr.append(len(times))
    return SpikeInput(np.array(ptr, np.int64), np.array(times), np.array(ids, np.int32), n_in)


def make_net(input_shape, layers, *, seed, w_hidden=(1.2, 1.0), w_rec=(0.0, 0.4), w_out=(0.6, 0.8), fan_in=None,
             **kw):
    """A GridSNN with normal weights (mean, std) per kind of projection (mV); with
    ``fan_in`` = f, feed-forward weights are scaled by sqrt(f / fan-in) (fan-in: n_pre
    for dense, channels_in kernel^2 for a convolution); batch-norm gamma in
    [0.8, 1.6], beta in [0, 0.4]."""
    kw.setdefault("dt", 1.0)
    kw.setdefault("t_end", 30.0)
    kw.setdefault("tau_m", 10.0)
    kw.setdefault("tau_s", 5.0)
    kw.setdefault("theta", 1.0)
    net = GridSNN(input_shape, layers, init=None, seed=seed, **kw)
    rng = np.random.default_rng(seed)
    q = 0
    for l, lay in enumerate(layers):
        m, sd = w_out if l == len(layers) - 1 else w_hidden
        w = net.params[net._woff[q]:net._woff[q + 1]]
        w[:] = rng.normal(m, sd, w.size)
        if fan_in is not None:
            shp = net.param_shapes[q]
            fi = shp[0] if isinstance(lay, Dense) else shp[1] * shp[2] * shp[3]
            w *= math.sqrt(fan_in / fi)
        q += 1
        if isinstance(lay, Dense) and lay.recurrent:
            w = net.params[net._woff[q]:net._woff[q + 1]]
            w[:] = rng.normal(*w_rec, w.size)
            q += 1
    for j, o in enumerate(net.bn_off):
        C = net.bn_channels[j]
        net.params[o:o + C] = rng.uniform(0.8, 1.6, C)           # gamma
        net.params[o + C:o + 2 * C] = rng.uniform(0.0, 0.4, C)   # beta
    return net
