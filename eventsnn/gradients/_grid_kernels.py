"""Numba kernels of the grid trainer (:mod:`.bptt`): one sample's forward and reverse
pass through one layer, composed into a fused whole-network kernel (networks without
batch norm: a sample's layers stay in cache from its forward to its reverse pass) and
into per-layer batch kernels (batch norm needs the whole minibatch between layers).

Layout.  A minibatch's per-sample buffers are rows of flat 2-D arrays; layer l's
[K+1, n_l] block of a row starts at ``off[l]`` (layer 0 = the input).  Spikes are
uint8: input layer counts, other layers bit 0 = spike, bit 1 = refractory step.
Projections are concatenated: projection q's row pointers are ``PTR[po[q]:po[q+1]]``
(local to its entries) and its entries start at ``eo[q]`` in POST, WIDX and COEF.

Layer table ``LI`` (int64, one row per layer after the input): n, ff delay D, dense
offset into params (-1: use the entries), ff projection q, recurrent projection q
(-1: none), recurrent delay, spiking, refractory steps.  ``LF`` (float64): alpha,
beta, c, theta.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_FS, _ATAN, _BOX, _TRI, _LEE, _EXACT = range(6)
L_FS, L_VMAX, L_COUNT = 0, 1, 2
I_N, I_D, I_DENSE, I_FFQ, I_RECQ, I_DR, I_SPK, I_REFR = range(8)
F_ALPHA, F_BETA, F_C, F_THETA = range(4)
SPIKE, REFR = 1, 2


@njit(cache=True, inline="always")
def sg(code, slope, x, theta, eps):
    """Surrogate derivative at x = Vh - theta (see :mod:`.bptt`)."""
    if code == _FS:
        d = 1.0 + slope * abs(x)
        return 1.0 / (d * d)
    if code == _ATAN:
        u = 0.5 * math.pi * slope * x
        return 0.5 * slope / (1.0 + u * u)
    if code == _BOX:
        return slope if abs(x) < 0.5 / slope else 0.0
    if code == _TRI:
        return max(0.0, slope * (1.0 - slope * abs(x)))
    if code == _LEE:
        return (1.0 + eps) / theta if abs(x) < theta else 0.0
    return 0.0


@njit(cache=True, inline="always")
def _count(v, is_input):
    """Spikes in a raster entry: input counts, or bit 0 of a layer's flags."""
    return float(v) if is_input else float(v & SPIKE)


@njit(cache=True)
def ff_step(src, is_input, PTR, POST, WIDX, COEF, po, eo, dense_off, w, x):
    """x += the feed-forward input of one step from the presynaptic raster row src."""
    n_pre = src.shape[0]
    n = x.shape[0]
    for i in range(n_pre):
        si = _count(src[i], is_input)
        if si != 0.0:
            if dense_off >= 0:
                o = dense_off + i * n
                for j in range(n):
                    x[j] += si * w[o + j]
            else:
                for e in range(PTR[po + i], PTR[po + i + 1]):
                    x[POST[eo + e]] += si * COEF[eo + e] * w[WIDX[eo + e]]


@njit(cache=True)
def ff_step_back(dx, src, is_input, want_pre, PTR, POST, WIDX, COEF, po, eo, dense_off, w, wt, gp, grow):
    """Reverse of :func:`ff_step`: grow (the sample's gradient row) += weight
    gradients; gp = gradient on the presynaptic spikes of that step (if want_pre).
    ``wt`` holds dense projections transposed (at the same offsets): the gather runs
    along contiguous rows, which matters for narrow layers (a read-out of 3)."""
    n_pre = src.shape[0]
    n = dx.shape[0]
    if dense_off >= 0:
        if want_pre:
            for j in range(n):
                d = dx[j]
                if d != 0.0:
                    o = dense_off + j * n_pre
                    for i in range(n_pre):
                        gp[i] += wt[o + i] * d
        for i in range(n_pre):
            si = _count(src[i], is_input)
            if si != 0.0:
                o = dense_off + i * n
                for j in range(n):
                    grow[o + j] += si * dx[j]
        return
    for i in range(n_pre):
        si = _count(src[i], is_input)
        if want_pre:
            acc = 0.0
            for e in range(PTR[po + i], PTR[po + i + 1]):
                d = COEF[eo + e] * dx[POST[eo + e]]
                acc += d * w[WIDX[eo + e]]
                if si != 0.0:
                    grow[WIDX[eo + e]] += si * d
            gp[i] += acc
        elif si != 0.0:
            for e in range(PTR[po + i], PTR[po + i + 1]):
                grow[WIDX[eo + e]] += si * COEF[eo + e] * dx[POST[eo + e]]


@njit(cache=True, inline="always")
def _blocks(l, n, K1, off, Srow, Vrow):
    """Layer l's raster and potentials, and the previous layer's raster, in a
    sample's rows (views [K+1, n])."""
    n_pre = (off[l] - off[l - 1]) // K1
    vo = off[l] - off[1]
    return (Srow[off[l]:off[l] + K1 * n].reshape((K1, n)), Srow[off[l - 1]:off[l]].reshape((K1, n_pre)),
            Vrow[vo:vo + K1 * n].reshape((K1, n)), n_pre)


@njit(cache=True)
def layer_fwd(l, LI, LF, K1, off, Srow, Vrow, Xin, use_xin, PTR, POST, WIDX, COEF, PO, EO, zero_reset, w, cnt):
    """Forward pass of layer l (>= 1) for one sample: spikes/flags into Srow's block l,
    pre-reset potentials into Vrow's block (offsets off - off[1]); inputs from the
    previous layer's raster, or from Xin[k] (``use_xin``: batch-normalised)."""
    n = LI[l - 1, I_N]
    S, Spre, Vh, _ = _blocks(l, n, K1, off, Srow, Vrow)
    D = LI[l - 1, I_D]
    q = LI[l - 1, I_FFQ]
    rq = LI[l - 1, I_RECQ]
    Dr = LI[l - 1, I_DR]
    spiking = LI[l - 1, I_SPK] != 0
    R = LI[l - 1, I_REFR]
    alpha, beta, c, theta = LF[l - 1, F_ALPHA], LF[l - 1, F_BETA], LF[l - 1, F_C], LF[l - 1, F_THETA]
    V = np.zeros(n)
    I = np.zeros(n)
    x = np.empty(n)
    last = np.full(n, -(1 << 40), np.int64)
    S[0] = 0
    Vh[0] = 0.0
    total = 0
    for k in range(1, K1):
        if use_xin:
            x[:] = Xin[k]
        else:
            x[:] = 0.0
            if k - D >= 1:
                ff_step(Spre[k - D], l == 1, PTR, POST, WIDX, COEF, PO[q], EO[q], LI[l - 1, I_DENSE], w, x)
        if rq >= 0 and k - Dr >= 1:
            ff_step(S[k - Dr], False, PTR, POST, WIDX, COEF, PO[rq], EO[rq], -1, w, x)
        sk = S[k]
        vk = Vh[k]
        if R == 0 or not spiking:
            # no refractory steps: branch-free loops the compiler vectorises
            for j in range(n):
                vk[j] = beta * V[j] + c * I[j]
                I[j] = alpha * I[j] + x[j]
            if not spiking:
                for j in range(n):
                    V[j] = vk[j]
                    sk[j] = 0
                continue
            for j in range(n):
                vh = vk[j]
                sp = vh >= theta
                sk[j] = SPIKE if sp else 0
                total += sp
                V[j] = (0.0 if zero_reset else vh - theta) if sp else vh
            continue
        for j in range(n):
            refr = spiking and k - last[j] <= R
            vh = V[j] if refr else beta * V[j] + c * I[j]
            vk[j] = vh
            I[j] = alpha * I[j] + x[j]
            if spiking and not refr and vh >= theta:
                sk[j] = SPIKE
                last[j] = k
                total += 1
                V[j] = 0.0 if zero_reset else vh - theta
            else:
                sk[j] = REFR if refr else 0
                V[j] = vh
    cnt[l - 1] = total


@njit(cache=True)
def layer_bwd(l, LI, LF, K1, off, Srow, Vrow, Grow, Gv, has_gv, kmax, zero_reset, detach, code, slope, PTR,
              POST, WIDX, COEF, PO, EO, w, wt, grow, dX, write_dx):
    """Reverse pass of layer l (>= 1) for one sample, steps kmax..1: from the gradient
    on its spikes (Grow's block l, to which the recurrent projection adds) and, for a
    leaky read-out, on its potentials (Gv), to the weight gradients (grow) and the
    gradient on the previous layer's spikes (Grow's block l-1, l > 1).  With
    ``write_dx`` the gradient on the layer's input x goes to dX instead of through the
    feed-forward projection (batch norm sits between)."""
    n = LI[l - 1, I_N]
    S, Spre, Vh, n_pre = _blocks(l, n, K1, off, Srow, Vrow)
    G = Grow[off[l]:off[l] + K1 * n].reshape((K1, n))
    Gp = Grow[off[l - 1]:off[l]].reshape((K1, n_pre))
    D = LI[l - 1, I_D]
    q = LI[l - 1, I_FFQ]
    rq = LI[l - 1, I_RECQ]
    Dr = LI[l - 1, I_DR]
    dense = LI[l - 1, I_DENSE]
    spiking = LI[l - 1, I_SPK] != 0
    alpha, beta, c, theta = LF[l - 1, F_ALPHA], LF[l - 1, F_BETA], LF[l - 1, F_C], LF[l - 1, F_THETA]
    want_pre = l > 1
    if want_pre and not write_dx:    # (with write_dx, batch_ff_back fills Gp)
        Gp[:] = 0.0
    aV = np.zeros(n)
    aI = np.zeros(n)
    dx = np.empty(n)
    eps = np.zeros(n)
    if code == _LEE:
        leak = np.zeros(n)
        gain = np.zeros(n)
        Vp = np.zeros(n)
        for k in range(1, K1):
            for j in range(n):
                vh = Vh[k, j]
                f = S[k, j]
                if f != REFR:
                    leak[j] += (1.0 - beta) * Vp[j]
                    gain[j] += vh - beta * Vp[j]
                if f == SPIKE:
                    Vp[j] = 0.0 if zero_reset else vh - theta
                else:
                    Vp[j] = vh
        for j in range(n):
            if gain[j] > 0.0:
                eps[j] = min(0.0, max(-1.0, -leak[j] / gain[j]))
    if write_dx:
        dX[kmax + 1:] = 0.0
        dX[0] = 0.0
    sgk = np.empty(n)
    fast = LI[l - 1, I_REFR] == 0 and spiking and detach and not has_gv
    for k in range(kmax, 0, -1):
        gs = G[k]
        if fast:
            # no refractory steps, detached reset: branch-free loops that vectorise
            vk = Vh[k]
            sg_row(code, slope, vk, theta, eps, sgk)
            sk = S[k]
            for j in range(n):
                ai = aI[j]
                dx[j] = ai
                dvh = (aV[j] * (1.0 - (sk[j] & SPIKE)) if zero_reset else aV[j]) + gs[j] * sgk[j]
                aV[j] = beta * dvh
                aI[j] = alpha * ai + c * dvh
        else:
            _bwd_step_general(k, n, aV, aI, dx, G[k], Gv, has_gv, S[k], Vh[k], spiking, zero_reset, detach, code,
                              slope, theta, eps, alpha, beta, c)
        if write_dx:
            dX[k] = dx
        elif k - D >= 1:
            ff_step_back(dx, Spre[k - D], l == 1, want_pre, PTR, POST, WIDX, COEF, PO[q], EO[q], dense, w, wt,
                         Gp[k - D], grow)
        if rq >= 0 and k - Dr >= 1:
            ff_step_back(dx, S[k - Dr], False, True, PTR, POST, WIDX, COEF, PO[rq], EO[rq], -1, w, wt, G[k - Dr],
                         grow)


@njit(cache=True)
def _bwd_step_general(k, n, aV, aI, dx, gs, Gv, has_gv, sk, vhk, spiking, zero_reset, detach, code, slope, theta,
                      eps, alpha, beta, c):
    """One reverse step of :func:`layer_bwd` with every option (refractory flags,
    reset in the chain, leaky read-out)."""
    for j in range(n):
        av = aV[j]
        if has_gv:
            av += Gv[k, j]
        ai = aI[j]
        dx[j] = ai
        f = sk[j]
        vh = vhk[j]
        if spiking and f != REFR:
            s = 1.0 if f == SPIKE else 0.0
            g = gs[j]
            if zero_reset:
                dvh = av * (1.0 - s)
                if not detach:
                    g -= vh * av
            else:
                dvh = av
                if not detach:
                    g -= theta * av
            dvh += g * sg(code, slope, vh - theta, theta, eps[j])
        else:
            dvh = av
        if f == REFR:
            aV[j] = dvh
            aI[j] = alpha * ai
        else:
            aV[j] = beta * dvh
            aI[j] = alpha * ai + c * dvh


@njit(cache=True)
def sg_row(code, slope, vh, theta, eps, out):
    """out[j] = the surrogate derivative at vh[j] - theta, one loop per kind (so that
    each vectorises)."""
    n = vh.shape[0]
    if code == _FS:
        for j in range(n):
            d = 1.0 + slope * abs(vh[j] - theta)
            out[j] = 1.0 / (d * d)
    elif code == _ATAN:
        for j in range(n):
            u = 0.5 * math.pi * slope * (vh[j] - theta)
            out[j] = 0.5 * slope / (1.0 + u * u)
    else:
        for j in range(n):
            out[j] = sg(code, slope, vh[j] - theta, theta, eps[j])


@njit(cache=True)
def sample_loss(code, lp, S, Vh, y, dt, t_end, want_grad, Gs, Gv, out):
    """Loss of one sample from the read-out's raster S and potentials Vh [K+1, n];
    fills dL/ds (Gs) or dL/dV (Gv) when ``want_grad``.  out = (loss, prediction,
    correct, kmax): kmax is the last step any gradient reaches."""
    K1, n = Vh.shape
    z = np.empty(n)
    arg = np.zeros(n, np.int64)
    first = np.full(n, -1, np.int64)
    second = np.full(n, -1, np.int64)
    if code == L_VMAX:
        for j in range(n):
            m = -math.inf
            for k in range(1, K1):
                if Vh[k, j] > m:
                    m = Vh[k, j]
                    arg[j] = k
            z[j] = lp[0] * m
    elif code == L_COUNT:
        for j in range(n):
            cnt = 0.0
            for k in range(1, K1):
                cnt += S[k, j] & SPIKE
            z[j] = lp[0] * cnt
    else:
        for j in range(n):
            for k in range(1, K1):
                if S[k, j] & SPIKE:
                    if first[j] < 0:
                        first[j] = k
                    else:
                        second[j] = k
                        break
            tj = first[j] * dt if first[j] >= 0 else t_end
            z[j] = -tj / lp[0]
    zm = z.max()
    se = 0.0
    for j in range(n):
        se += math.exp(z[j] - zm)
    L = -(z[y] - zm - math.log(se))
    if code == L_FS:
        ty = first[y] * dt if first[y] >= 0 else t_end
        L += lp[2] * (math.exp(ty / lp[1]) - 1.0)
    out[0] = L
    best = -1
    for j in range(n):
        # (first-spike: the earliest *spiking* output; a spike at step K has the time
        # t_end of a silent one but still counts)
        if code == L_FS and first[j] < 0:
            continue
        if best < 0 or z[j] > z[best]:
            best = j
    uniq = True
    for j in range(n):
        if j != best and best >= 0 and z[j] == z[best] and not (code == L_FS and first[j] < 0):
            uniq = False
    out[1] = best
    out[2] = 1.0 if (uniq and best == y) else 0.0
    out[3] = 0.0
    if not want_grad:
        return
    Gs[:] = 0.0
    if code == L_VMAX:
        Gv[:] = 0.0
    last = 0
    for j in range(n):
        dz = math.exp(z[j] - zm) / se - (1.0 if j == y else 0.0)   # dL/dz_j
        if code == L_VMAX:
            Gv[arg[j], j] += dz * lp[0]
            last = max(last, arg[j])
        elif code == L_COUNT:
            for k in range(1, K1):
                Gs[k, j] += dz * lp[0]
            last = K1 - 1
        else:
            dt_j = -dz / lp[0]                                       # dL/dt_j
            f = first[j]
            tf = f * dt if f >= 0 else t_end
            if j == y and f >= 0:
                # (the early-spike regulariser acts on spiking outputs only: for a silent
                # one its derivative alpha/tau1 e^{t_end/tau1} would swamp the batch)
                dt_j += lp[2] / lp[1] * math.exp(tf / lp[1])
            kend = f if f >= 0 else K1
            for m in range(1, kend):
                Gs[m, j] += dt_j * (m * dt - tf)
            last = max(last, kend - 1)
            if f >= 0:
                tg = second[j] * dt if second[j] >= 0 else t_end
                Gs[f, j] += dt_j * (tf - tg)
                last = max(last, f)
    out[3] = last


@njit(cache=True)
def bin_inputs(ptr, times, ids, idx, dt, K, n_in, S):
    """Input spikes of samples idx as counts on the grid, block 0 of S's rows; returns
    the largest count (a count above 255 does not fit uint8: the caller refuses it)."""
    B = idx.shape[0]
    worst = np.zeros(B, np.int64)
    for b in range(B):     # (cheap: serial, which also saves a parallel compile)
        s = idx[b]
        S0 = S[b, :(K + 1) * n_in]
        S0[:] = 0
        for e in range(ptr[s], ptr[s + 1]):
            k = max(np.int64(math.ceil(times[e] / dt - 1e-9)), np.int64(1))
            if k <= K:
                a = k * n_in + ids[e]
                if S0[a] == 255:
                    worst[b] = 256
                else:
                    S0[a] += 1
    return worst.max() if B else 0


@njit(cache=True, parallel=True)
def fused(LI, LF, K1, off, S, Vh, G, Gv, PTR, POST, WIDX, COEF, PO, EO, zero_reset, w, wt, code, lp, labels, dt,
          t_end, want_grad, detach, sg_code, slope, grads, out, cnt):
    """Forward, loss and (``want_grad``) reverse pass of every sample of a minibatch
    of a network without batch norm, one sample per thread; its gradient goes to its
    own row of ``grads`` (the caller sums the rows in order)."""
    B = S.shape[0]
    L = LI.shape[0]
    n_out = LI[L - 1, I_N]
    nothing = np.zeros((1, 1))
    for b in prange(B):
        for l in range(1, L + 1):
            layer_fwd(l, LI, LF, K1, off, S[b], Vh[b], nothing, False, PTR, POST, WIDX, COEF, PO, EO, zero_reset,
                      w, cnt[b])
        so = off[L]
        vo = off[L] - off[1]
        So = S[b, so:so + K1 * n_out].reshape((K1, n_out))
        Vo = Vh[b, vo:vo + K1 * n_out].reshape((K1, n_out))
        Go = G[b, so:so + K1 * n_out].reshape((K1, n_out))
        sample_loss(code, lp, So, Vo, labels[b], dt, t_end, want_grad, Go, Gv[b], out[b])
        if want_grad:
            grads[b] = 0.0
            kmax = np.int64(out[b, 3])
            for l in range(L, 0, -1):
                layer_bwd(l, LI, LF, K1, off, S[b], Vh[b], G[b], Gv[b], l == L and code == L_VMAX, kmax,
                          zero_reset, detach, sg_code, slope, PTR, POST, WIDX, COEF, PO, EO, w, wt, grads[b],
                          nothing, False)


@njit(cache=True, parallel=True)
def batch_ff(l, LI, K1, off, S, PTR, POST, WIDX, COEF, PO, EO, w, Z):
    """Feed-forward input Z[b, k] of layer l for every sample (batch-norm path)."""
    n_pre = (off[l] - off[l - 1]) // K1
    q = LI[l - 1, I_FFQ]
    D = LI[l - 1, I_D]
    for b in prange(S.shape[0]):
        Spre = S[b, off[l - 1]:off[l]].reshape((K1, n_pre))
        Z[b] = 0.0
        for k in range(D + 1, K1):
            ff_step(Spre[k - D], l == 1, PTR, POST, WIDX, COEF, PO[q], EO[q], LI[l - 1, I_DENSE], w, Z[b, k])


@njit(cache=True, parallel=True)
def batch_fwd(l, LI, LF, K1, off, S, Vh, X, use_x, PTR, POST, WIDX, COEF, PO, EO, zero_reset, w, cnt):
    """:func:`layer_fwd` of layer l for every sample (batch-norm path)."""
    for b in prange(S.shape[0]):
        layer_fwd(l, LI, LF, K1, off, S[b], Vh[b], X[b] if use_x else X[0], use_x, PTR, POST, WIDX, COEF, PO, EO,
                  zero_reset, w, cnt[b])


@njit(cache=True)
def batch_loss(code, lp, LI, K1, off, S, Vh, G, Gv, labels, dt, t_end, want_grad, out):
    """:func:`sample_loss` for every sample (batch-norm path)."""
    L = LI.shape[0]
    n_out = LI[L - 1, I_N]
    for b in range(S.shape[0]):     # (cheap: serial)
        so = off[L]
        vo = off[L] - off[1]
        sample_loss(code, lp, S[b, so:so + K1 * n_out].reshape((K1, n_out)),
                    Vh[b, vo:vo + K1 * n_out].reshape((K1, n_out)), labels[b], dt, t_end, want_grad,
                    G[b, so:so + K1 * n_out].reshape((K1, n_out)), Gv[b], out[b])


@njit(cache=True, parallel=True)
def batch_bwd(l, LI, LF, K1, off, S, Vh, G, Gv, has_gv, out, zero_reset, detach, sg_code, slope, PTR, POST, WIDX,
              COEF, PO, EO, w, wt, grads, dX, write_dx):
    """:func:`layer_bwd` of layer l for every sample (batch-norm path)."""
    for b in prange(S.shape[0]):
        layer_bwd(l, LI, LF, K1, off, S[b], Vh[b], G[b], Gv[b], has_gv, np.int64(out[b, 3]), zero_reset, detach,
                  sg_code, slope, PTR, POST, WIDX, COEF, PO, EO, w, wt, grads[b], dX[b] if write_dx else dX[0],
                  write_dx)


@njit(cache=True, parallel=True)
def batch_ff_back(l, LI, K1, off, S, G, out, PTR, POST, WIDX, COEF, PO, EO, w, wt, dZ, grads):
    """Reverse of :func:`batch_ff` (batch-norm path): weight gradients into the rows
    of grads, gradients on layer l-1's spikes into G."""
    n_pre = (off[l] - off[l - 1]) // K1
    q = LI[l - 1, I_FFQ]
    D = LI[l - 1, I_D]
    want_pre = l > 1
    for b in prange(S.shape[0]):
        Spre = S[b, off[l - 1]:off[l]].reshape((K1, n_pre))
        Gp = G[b, off[l - 1]:off[l]].reshape((K1, n_pre))
        if want_pre:
            Gp[:] = 0.0
        for k in range(np.int64(out[b, 3]), D, -1):
            ff_step_back(dZ[b, k], Spre[k - D], l == 1, want_pre, PTR, POST, WIDX, COEF, PO[q], EO[q],
                         LI[l - 1, I_DENSE], w, wt, Gp[k - D], grads[b])
