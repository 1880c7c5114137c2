"""NIR import and export: run networks trained elsewhere, exactly and event-driven.

``from_nir(graph, inputs)`` builds a :class:`~eventsnn.network.Network` from a NIR graph
(``nir.NIRGraph`` or a file written by ``nir.write``); ``to_nir(net)`` writes a network
as one.  Needs the optional extra ``[nir]`` (PyPI ``nir``).

Conventions (NIR fixes the equations, not the size of a spike; see docs/nir.md)
-----------------------------------------------------------------------------
* Time: NIR parameters are in the exporter's unit, seconds for every known exporter;
  ``time_scale`` (default 1000) converts them to ms.  Voltages: 1 NIR unit = 1 mV.
* A spike is a Dirac pulse of area ``dt`` (graph time units): the clock-driven tools
  treat a spike as a value held for one step, and snnTorch and the NIR paper's graphs
  use dt = 1e-4 s (the default).  With that reading, for a spike through weight W:

  ======== ============================================= ==============================
  node     eventsnn population                            jump per spike
  ======== ============================================= ==============================
  LIF      tau_m = tau, delta synapses, v_rest = v_leak  V += r W dt / tau
  IF       tau_m = inf, tau_in = 1 time unit              V += r W dt
  LI       as LIF, never fires (read-out)                 V += r W dt / tau
  CubaLIF  tau_syn_exc = tau_syn_inh = tau_syn,           I += w_in W dt / tau_syn
           tau_in = tau_mem / r
  CubaLI   as CubaLIF, never fires (read-out)             I += w_in W dt / tau_syn
  ======== ============================================= ==============================

  For snnTorch exports (r = tau/dt, w_in = tau_syn/dt) every jump is W.
* Spikes when V reaches the threshold (eventsnn: V >= v_th; NIR: V > v_threshold: the
  two differ only when V lands exactly on it) and V is set to v_reset; no refractory
  period (NIR has none).  Neurons start at V = 0, I = 0.
* A bias b (Affine, Conv) is a constant input: V-neurons get the constant current r b
  exactly; CubaLIF/CubaLI filter it through the synapse, I(t) = w_in b (1 - exp(-t /
  tau_syn)), which eventsnn builds exactly from i_bias = w_in b and one spike at t = 0
  that sets the opposite channel's current to -w_in b (both channels share tau_syn).
  A bias may differ per neuron (``Network.population(i_bias=...)``, exact for leaky
  neurons), and so may thresholds (the lowest is the population's, the others
  threshold offsets, ``Population.set_theta``); other per-neuron parameters are
  refused, naming the node (eventsnn populations share them).
* Read-outs (LI, CubaLI) are neurons with threshold ``READOUT_VTH`` = 1e300 mV: their
  exact voltage can be sampled (``net.record_state``), and they never fire unless V
  exceeds that (a network with such voltages is refused by the engine as non-finite
  long before).
* Delays: an edge between spiking layers without a Delay node is instantaneous in NIR;
  eventsnn needs a positive delay between neurons (a spike cannot act in its own
  instant) and uses ``zero_delay`` (ms, default 1e-6) there: the one named
  approximation of the import, which shifts every downstream spike by that much per
  layer.  Edges from inputs keep delay 0.  A recurrent edge (a cycle among spiking
  layers) without a Delay node is refused.  Delay nodes right after a spiking layer or
  input (one delay per presynaptic neuron) or right before one (per postsynaptic
  neuron) become per-synapse delays; elsewhere a delay must be uniform.
* Inputs: ``inputs[name]`` is a clock-driven tensor (time bins x channels, counts):
  bin k becomes spikes at k dt (a count c gives c spikes, which eventsnn applies as
  c inputs of the same instant); or exact events ``(times, ids)`` in graph time units;
  or one sample of ``nir.EventData`` (exact) or ``nir.TimeGriddedData`` (its own dt).
"""
from __future__ import annotations

import math
import os

import numpy as np
import scipy.sparse as sps

from . import connectivity as cx
from .connectivity.conv import avg_pool2d, conv1d, conv2d, sum_pool2d
from .models import LIF
from .network import Network

__all__ = ["from_nir", "to_nir", "READOUT_VTH"]

#: the threshold (mV) of a non-spiking read-out (NIR LI, CubaLI)
READOUT_VTH = 1e300

_SPIKING = ("LIF", "CubaLIF", "IF", "LI", "CubaLI")
#: node metadata key under which to_nir stores the exact eventsnn values (ms, mV) beside
#: NIR's (seconds, rounded once): from_nir takes them where they agree to 1e-12
EXACT = "eventsnn_exact"
_LINEAR = ("Affine", "Linear", "Scale", "Flatten", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Delay",
           "Input", "Output")


def _nir():
    try:
        import nir
    except ImportError:
        raise ImportError('NIR support needs the nir package: pip install "eventsnn[nir]"') from None
    return nir


def _kind(node):
    return type(node).__name__


# ------------------------------------------------------------------------ reading
def _flatten(g, prefix=""):
    """(nodes, edges) of a graph with nested graphs expanded (names joined by '.');
    a nested graph's Input and Output nodes stay as pass-through nodes."""
    nir = _nir()
    nodes, edges, ins, outs = {}, [], {}, {}
    for name, node in g.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            n2, e2 = _flatten(node, full + ".")
            nodes.update(n2)
            edges += e2
            ins[name] = [full + "." + k for k, v in node.nodes.items() if _kind(v) == "Input"]
            outs[name] = [full + "." + k for k, v in node.nodes.items() if _kind(v) == "Output"]
        else:
            nodes[full] = node
    for a, b in g.edges:
        for s in outs.get(a, [prefix + a]):
            for d in ins.get(b, [prefix + b]):
                if s not in nodes or d not in nodes:
                    raise ValueError(f"graph edge ({a!r}, {b!r}) names a node the graph does not have")
                edges.append((s, d))
    return nodes, edges


def _size(shape):
    return int(np.prod(np.asarray(shape, np.int64)))


def _uniform(node, name, what):
    a = np.asarray(what, np.float64)
    if a.size == 0:
        raise ValueError(f"node {name!r}: empty parameter array")
    v = float(a.reshape(-1)[0])
    if not (a == v).all():
        raise ValueError(f"node {name!r} ({_kind(node)}) has per-neuron parameter values; eventsnn populations "
                         f"share their parameters: split it into nodes of equal parameters")
    if not math.isfinite(v):
        raise ValueError(f"node {name!r} ({_kind(node)}) has a non-finite parameter {v!r}")
    return v


def _shape_in(node, name):
    t = getattr(node, "input_type", None) or {}
    if "input" not in t:
        raise ValueError(f"node {name!r} ({_kind(node)}) has no input shape; NIR infers it for most nodes")
    return tuple(int(x) for x in np.asarray(t["input"]).reshape(-1))


def _linear_map(node, name, ts):
    """(matrix (n_in x n_out, scipy CSR), bias (n_out) or None, delay (n_in) or None, n_in,
    n_out) of a pass-through node."""
    k = _kind(node)
    if k in ("Input", "Output"):
        n = _size(_shape_in(node, name)) if k == "Output" else _size(next(iter(node.output_type.values())))
        return None, None, None, n, n
    if k in ("Affine", "Linear"):
        W = np.asarray(node.weight, np.float64)
        if W.ndim != 2:
            raise ValueError(f"node {name!r} ({k}): weight must be 2-D (out, in), got shape {W.shape}")
        b = np.asarray(node.bias, np.float64).reshape(-1) if k == "Affine" else None
        if b is not None and b.shape[0] != W.shape[0]:
            raise ValueError(f"node {name!r}: bias has {b.shape[0]} values for {W.shape[0]} outputs")
        if b is not None and not b.any():
            b = None
        return sps.csr_matrix(W.T), b, None, W.shape[1], W.shape[0]
    if k == "Scale":
        s = np.asarray(node.scale, np.float64).reshape(-1)
        return sps.diags(s, format="csr"), None, None, s.shape[0], s.shape[0]
    if k == "Flatten":
        n = _size(_shape_in(node, name))
        return None, None, None, n, n
    if k == "Delay":
        # (in ms; to_nir's exact values where they agree)
        d = np.asarray(_exact(node, "delay", np.asarray(node.delay, np.float64).reshape(-1) * ts), np.float64)
        return None, None, d, d.shape[0], d.shape[0]
    if k in ("Conv1d", "Conv2d"):
        W = np.asarray(node.weight, np.float64)
        nd = 1 if k == "Conv1d" else 2
        spatial = node.input_shape
        if spatial is None:
            raise ValueError(f"node {name!r} ({k}) has no input_shape; eventsnn needs it to expand the kernel")
        spatial = tuple(int(x) for x in np.atleast_1d(spatial))
        shape = (W.shape[1] * int(node.groups),) + spatial
        f = conv1d if nd == 1 else conv2d
        csr, out = f(shape, W, node.stride, node.padding, node.dilation, int(node.groups))
        b = np.repeat(np.asarray(node.bias, np.float64).reshape(-1), _size(out[1:]))
        return _scipy(csr), (b if b.any() else None), None, _size(shape), _size(out)
    if k in ("SumPool2d", "AvgPool2d"):
        shape = _shape_in(node, name)
        if len(shape) != 3:
            raise ValueError(f"node {name!r} ({k}): input shape {shape} is not (C, H, W)")
        f = sum_pool2d if k == "SumPool2d" else avg_pool2d
        csr, out = f(shape, node.kernel_size, node.stride, node.padding)
        return _scipy(csr), None, None, _size(shape), _size(out)
    raise ValueError(f"node {name!r}: {k} is not supported; supported nodes: "
                     f"{', '.join(sorted(set(_SPIKING) | set(_LINEAR) | {'NIRGraph'}))}")


def _scipy(csr):
    return sps.csr_matrix((np.asarray(csr.weights, np.float64), csr.indices, csr.indptr),
                          shape=(len(csr.indptr) - 1, csr.n_post))


def _exact(node, key, value):
    """``value``, or the exact one to_nir stored beside it when they agree to 1e-12."""
    meta = (getattr(node, "metadata", None) or {}).get(EXACT) or {}
    if key not in meta:
        return value
    e = np.asarray(meta[key], np.float64)
    v = np.asarray(value, np.float64)
    if e.shape == v.shape and np.allclose(e, v, rtol=1e-12, atol=0.0, equal_nan=False):
        return e if e.ndim else float(e)
    return value


def _exact_weights(exact, w):
    return exact if np.allclose(exact, w, rtol=1e-12, atol=0.0) else w


def _neuron(node, name, ts, dt):
    """(LIF model, weight factor per spike, bias factor, bias needs a t=0 spike)."""
    model, f, bf, sb = _neuron_nir(node, name, ts, dt)
    meta = (getattr(node, "metadata", None) or {}).get(EXACT)
    if meta:
        kw = {}
        for k in model.__dataclass_fields__:
            v = getattr(model, k)
            kw[k] = _exact(node, k, v) if v is not None and k in meta else v
        if kw.get("tau_in") is None and "tau_in" in meta:
            kw["tau_in"] = float(meta["tau_in"])
        if kw.get("tau_in") == kw["tau_m"] and math.isfinite(kw["tau_m"]):
            kw["tau_in"] = None         # the default: the same dynamics
        model = LIF(**kw)
    return model, f, bf, sb


def _neuron_nir(node, name, ts, dt):
    k = _kind(node)
    g = lambda a: _uniform(node, name, getattr(node, a))   # noqa: E731
    v_reset = g("v_reset") if k in ("LIF", "CubaLIF", "IF") and getattr(node, "v_reset", None) is not None \
        else 0.0
    # per-neuron thresholds: the lowest is the model's, the rest threshold offsets (theta)
    vth = float(np.min(np.asarray(node.v_threshold, np.float64))) if k in ("LIF", "CubaLIF", "IF") \
        else READOUT_VTH
    if not math.isfinite(vth):
        raise ValueError(f"node {name!r} ({k}) has a non-finite threshold")
    if k in ("LIF", "LI"):
        tau, r = g("tau"), g("r")
        if not tau > 0:
            raise ValueError(f"node {name!r}: tau={tau!r} must be > 0")
        model = LIF(tau_m=tau * ts, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=g("v_leak"), v_th=vth,
                    v_reset=v_reset if k == "LIF" else min(0.0, vth - 1.0), t_ref=0.0)
        return model, (r * dt) / tau, r, False
    if k == "IF":
        r = g("r")
        model = LIF(tau_m=math.inf, tau_syn_exc=0.0, tau_syn_inh=0.0, v_rest=0.0, v_th=vth, v_reset=v_reset,
                    t_ref=0.0, tau_in=ts)
        return model, r * dt, r, False
    tau_s, tau_m, r, w_in = g("tau_syn"), g("tau_mem"), g("r"), g("w_in")
    if not (tau_s > 0 and tau_m > 0 and r > 0):
        raise ValueError(f"node {name!r}: tau_syn, tau_mem and r must be > 0")
    model = LIF(tau_m=tau_m * ts, tau_syn_exc=tau_s * ts, tau_syn_inh=tau_s * ts, v_rest=g("v_leak"), v_th=vth,
                v_reset=v_reset if k == "CubaLIF" else min(0.0, vth - 1.0), t_ref=0.0, tau_in=(tau_m * ts) / r)
    return model, (w_in * dt) / tau_s, w_in, True


def from_nir(graph, inputs=None, *, dt: float = 1e-4, time_scale: float = 1000.0, zero_delay: float = 1e-6,
             seed: int = 0) -> Network:
    """A Network that runs a NIR graph exactly (see the module docstring for the
    conventions).

    Parameters
    ----------
    graph : nir.NIRGraph, str or path
    inputs : dict, optional
        Input node name -> a clock tensor (time bins x channels, spike counts) or exact
        events ``(times, ids)`` (graph time units).  Inputs not given emit no spikes.
    dt : float
        The area of a spike (graph time units): the exporter's time step.
    time_scale : float
        ms per graph time unit (1000: seconds).
    zero_delay : float
        The delay (ms, > 0) of edges between spiking layers that NIR makes instantaneous.
    seed : int
        The Network's seed.

    Returns
    -------
    Network
        Populations and spike sources named after the graph's nodes ('.' joins nested
        names); ``net.nir_outputs`` maps each Output node to the population feeding it.
    """
    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or a path, got {type(graph).__name__}")
    for nm, v in (("dt", dt), ("time_scale", time_scale), ("zero_delay", zero_delay)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"{nm}={v!r} is not allowed; {nm} must be a finite number > 0")
    dt, ts = float(dt), float(time_scale)
    nodes, edges = _flatten(graph)
    top_in = [n for n in graph.nodes if _kind(graph.nodes[n]) == "Input"]
    top_out = [n for n in graph.nodes if _kind(graph.nodes[n]) == "Output"]
    inputs = dict(inputs or {})
    for k in inputs:
        if k not in top_in:
            raise ValueError(f"inputs has {k!r}, which is not an Input node of the graph; inputs: {top_in}")
    succ = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
    net = Network(seed=seed)
    groups, factor, bias_f, syn_bias, model_of = {}, {}, {}, {}, {}
    for name in top_in:
        n = _size(next(iter(nodes[name].output_type.values())))
        times, ids = _input_events(inputs.get(name), n, dt, ts, name)
        groups[name] = net.spike_source(times, ids, n=n, name=name)
    for name, node in nodes.items():
        if _kind(node) in _SPIKING:
            if np.asarray(node.output_type["output"]).size == 0:
                raise ValueError(f"node {name!r} ({_kind(node)}) has 0-d (scalar) parameters, so NIR gives it no "
                                 f"size; write one value per neuron")
            model, f, bf, sb = _neuron(node, name, ts, dt)
            n = _size(node.output_type["output"])
            factor[name], bias_f[name], syn_bias[name], model_of[name] = f, bf, sb, model
        elif _kind(node) not in _LINEAR and not isinstance(node, nir.NIRGraph):
            _linear_map(node, name, ts)   # raises: unsupported
    # walk from every spiking layer and input through pass-through nodes to spiking targets
    maps = {}
    for name, node in nodes.items():
        if _kind(node) not in _SPIKING and name not in groups:
            maps[name] = _linear_map(node, name, ts)
    paths = []          # (source, target, matrix, delay_pre, delay_post, uniform delay)
    biases = {}         # target -> bias vector

    def walk(src, cur, M, dpre, dpost, dunif, hops, seen, n_cur, via=()):
        for nxt in succ[cur]:
            node = nodes[nxt]
            if _kind(node) in _SPIKING:
                paths.append((src, nxt, M, dpre, dpost, dunif, via))
                continue
            if nxt in seen:
                raise ValueError(f"the graph has a cycle through {nxt!r} without a spiking node")
            L, b, d, n_in, n_out = maps[nxt]
            if n_cur != n_in:
                raise ValueError(f"node {nxt!r} expects {n_in} inputs but receives {n_cur} from {cur!r}")
            M2, dpre2, dpost2, du2 = M, dpre, dpost, dunif
            if d is not None:
                if (d < 0).any() or not np.isfinite(d).all():
                    raise ValueError(f"node {nxt!r}: delays must be finite and >= 0")
                if (d == d[0]).all():
                    du2 = dunif + float(d[0])
                elif hops == 0:
                    dpre2 = d if dpre is None else dpre + d
                elif all(_kind(nodes[s]) in _SPIKING for s in succ[nxt]) and dpost is None:
                    dpost2 = d
                else:
                    raise ValueError(f"node {nxt!r}: per-channel delays are supported right after or right "
                                     f"before a spiking layer; elsewhere a delay must be uniform")
            if L is not None:
                if dpost is not None:
                    raise ValueError(f"node {nxt!r} follows a per-channel Delay; such a delay must be right "
                                     f"before a spiking layer")
                M2 = L if M is None else (M @ L).tocsr()
            walk(src, nxt, M2, dpre2, dpost2, du2, hops + (0 if L is None else 1), seen | {nxt}, n_out,
                 via if L is None else via + (nxt,))

    bias_src = {}       # target -> [(node, direct)]

    def walk_bias(origin, cur, b, direct):
        for nxt in succ[cur]:
            if _kind(nodes[nxt]) in _SPIKING:
                biases[nxt] = biases.get(nxt, 0.0) + b
                bias_src.setdefault(nxt, []).append((origin, direct))
                continue
            L = maps[nxt][0]
            walk_bias(origin, nxt, b if L is None else L.T @ b, False)

    for name in list(groups) + list(factor):
        n0 = groups[name].size if name in groups else _size(nodes[name].output_type["output"])
        walk(name, name, None, None, None, 0.0, 0, frozenset(), n0)
    for name, (L, b, d, n_in, n_out) in maps.items():
        if b is not None:
            walk_bias(name, name, b, True)
    # populations (in graph order); a bias the same for every neuron is the model's,
    # others are the neurons' own (exact for leaky neurons: Network.population(i_bias=))
    bias_of = {}
    for name in factor:
        m = model_of[name]
        n = _size(nodes[name].output_type["output"])
        b = biases.get(name)
        own = None
        if b is not None:
            bb = bias_f[name] * np.broadcast_to(np.asarray(b, np.float64), (n,))
            srcs = bias_src.get(name, [])
            if len(srcs) == 1 and srcs[0][1]:
                bb = np.asarray(_exact(nodes[srcs[0][0]], "bias", bb), np.float64)
            if not np.isfinite(bb).all():
                raise ValueError(f"node {name!r}: its bias is not finite")
            if (bb == bb[0]).all():
                if bb[0] != 0.0:
                    kw = {f: getattr(m, f) for f in m.__dataclass_fields__}
                    kw["i_bias"] = float(bb[0])
                    model_of[name] = LIF(**kw)
            elif math.isinf(m.tau_m):
                raise ValueError(f"node {name!r} ({_kind(nodes[name])}) gets a different bias per neuron; "
                                 f"eventsnn supports that for leaky neurons only")
            else:
                own = bb
            bias_of[name] = bb
        groups[name] = net.population(n, model_of[name], name=name, v_init=0.0, i_bias=own)
        if _kind(nodes[name]) in ("LIF", "CubaLIF", "IF"):
            th = np.broadcast_to(np.asarray(nodes[name].v_threshold, np.float64), (n,)) - model_of[name].v_th
            if th.any():
                groups[name].set_theta(th)
    # a filtered bias starts at 0: one spike at t = 0 into the opposite channel
    for name in factor:
        bb = bias_of.get(name)
        if syn_bias[name] and bb is not None and bb.any():
            src = net.spike_source([0.0], [0], n=1, name=f"{name}.bias_start")
            j = np.nonzero(bb)[0]
            net.connect(src, groups[name], cx.from_lists(np.zeros(len(j), np.int64), j, -bb[j], n_pre=1,
                                                         n_post=len(bb)), delay=0.0)
    # cycles among spiking layers: a zero-delay edge inside one is refused
    reach = _reach(list(factor), [(s, t) for s, t, *_ in paths if s in factor])
    for src, tgt, M, dpre, dpost, du, via in paths:
        n_pre = groups[src].size
        if M is None:
            M = sps.identity(n_pre, format="csr")
        M = M.tocsr()
        M.sum_duplicates()
        if M.shape != (n_pre, groups[tgt].size):
            raise ValueError(f"the edge {src!r} -> {tgt!r} maps {M.shape[0]} -> {M.shape[1]} neurons, but the "
                             f"layers have {n_pre} and {groups[tgt].size}")
        M.eliminate_zeros()
        per_syn = dpre is not None or dpost is not None
        has_delay = per_syn or du > 0
        if not has_delay and src in factor:
            if src == tgt or tgt in reach.get(src, ()):
                raise ValueError(f"the recurrent edge {src!r} -> {tgt!r} has no Delay node; eventsnn (like NIR) "
                                 f"needs one on every cycle")
        w = M.data * factor[tgt]
        rows = np.repeat(np.arange(n_pre), np.diff(M.indptr))
        if len(via) == 1:
            # to_nir keeps exact weights (mV, post x pre) where W * factor rounds
            ex = (getattr(nodes[via[0]], "metadata", None) or {}).get(EXACT, {}).get("weight")
            if ex is not None and np.shape(ex) == (groups[tgt].size, n_pre):
                w = np.asarray(_exact_weights(np.asarray(ex, np.float64)[M.indices, rows], w))
        if per_syn:
            d = np.full(len(w), du)
            if dpre is not None:
                d = d + dpre[rows]
            if dpost is not None:
                d = d + dpost[M.indices]
            if src in factor:
                d[d == 0.0] = zero_delay
            net.connect(groups[src], groups[tgt], cx.from_lists(rows, M.indices, w, d, n_pre=n_pre,
                                                                 n_post=groups[tgt].size), delay=None)
        else:
            d = du
            if d == 0.0 and src in factor:
                d = zero_delay
            net.connect(groups[src], groups[tgt], cx.from_lists(rows, M.indices, w, n_pre=n_pre,
                                                                 n_post=groups[tgt].size), delay=d)
    # the graph's own neuron nodes, for to_nir to write back as they were
    net.nir_nodes = {name: nodes[name] for name in factor}
    net.nir_scale = (dt, ts)
    net.nir_outputs = {}
    for name in top_out:
        feeders = [a for a, b in edges if b == name]
        net.nir_outputs[name] = [f for f in feeders if f in groups] or feeders
    return net


def _reach(names, edges):
    """name -> set of layers that reach it (through spiking-layer edges)."""
    succ = {n: set() for n in names}
    for a, b in edges:
        succ[a].add(b)
    out = {n: set() for n in names}
    for s in names:
        stack, seen = list(succ[s]), set()
        while stack:
            x = stack.pop()
            if x in seen:
                continue
            seen.add(x)
            out[x].add(s)
            stack.extend(succ[x])
    return out


def _input_events(data, n, dt, ts, name):
    """(times ms, ids) of an input: a clock tensor (bins x channels; bin k at k dt) or
    exact events (times, ids) in graph time units."""
    if data is None:
        return np.empty(0), np.empty(0, np.int64)
    if isinstance(data, tuple) and len(data) == 2:
        return np.asarray(data[0], np.float64).reshape(-1) * ts, np.asarray(data[1]).reshape(-1)
    if hasattr(data, "idx") and hasattr(data, "time"):          # nir.EventData
        if data.idx.shape[0] != 1:
            raise ValueError(f"inputs[{name!r}] holds {data.idx.shape[0]} samples; give one sample per network")
        if int(data.n_neurons) != n:
            raise ValueError(f"inputs[{name!r}] has {data.n_neurons} channels; the Input node has {n}")
        m = data.idx[0] != -1
        return np.asarray(data.time[0][m], np.float64) * ts, np.asarray(data.idx[0][m])
    if hasattr(data, "data") and hasattr(data, "dt"):           # nir.TimeGriddedData
        if data.data.shape[0] != 1:
            raise ValueError(f"inputs[{name!r}] holds {data.data.shape[0]} samples; give one sample per network")
        dt, data = float(data.dt), data.data[0]
    dt_ms = dt * ts
    x = np.asarray(data)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"inputs[{name!r}] must be a numeric tensor (bins x channels), got dtype {x.dtype}")
    x = x.reshape(x.shape[0], -1) if x.ndim >= 2 else x.reshape(-1, 1)
    if x.shape[1] != n:
        raise ValueError(f"inputs[{name!r}] has {x.shape[1]} channels per bin; the Input node has {n}")
    c = np.rint(x).astype(np.int64)
    if (c < 0).any() or not np.array_equal(c, x):
        raise ValueError(f"inputs[{name!r}] must hold non-negative integer spike counts")
    k, j = np.nonzero(c)
    reps = c[k, j]
    return np.repeat(k * dt_ms, reps), np.repeat(j, reps)


# ------------------------------------------------------------------------ writing
def _exact_inverse(x, f, guess, what):
    """y near ``guess`` with f(y) == x exactly (f: the reader's arithmetic), so that
    from_nir(to_nir(net)) gives back every parameter bit for bit."""
    for cand in _around(float(guess)):
        if f(cand) == x:
            return cand
    raise ValueError(f"cannot write {what}={x!r} so that it reads back exactly")


def _around(y, k=8):
    out = [y]
    lo = hi = y
    for _ in range(k):
        lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
        out += [float(hi), float(lo)]
    return out


def to_nir(net: Network, *, dt: float = 1e-4, time_scale: float = 1000.0, zero_delay: float = 1e-6):
    """The network as a NIR graph (seconds, spikes of area ``dt``), which ``from_nir``
    with the same ``dt`` and ``time_scale`` reads back bit for bit: NIR's values are
    rounded once (ms -> s), the exact ones are kept in each node's metadata
    (``EXACT``), and weights are written so that they read back exactly.  A Linear node
    holds one weight per (pre, post) pair: multapses are merged, and the spikes of the
    copy equal the original's bitwise when no projection has multapses and rows list
    their targets in increasing order (as every rule of eventsnn.connectivity does).

    Populations become LIF (delta synapses, finite tau_m), IF (tau_m = inf) or CubaLIF
    (exponential synapses with tau_syn_exc = tau_syn_inh), source groups Input nodes
    (their spikes are inputs, not part of the graph), each projection a Linear node
    (its dense (post x pre) weight matrix, scaled by the target's factor; an Affine
    carrying the population's bias currents for the first undelayed projection into
    it) and, for delays, a Delay node after it (per postsynaptic neuron) or before it
    (per presynaptic neuron).  Refused (ValueError naming it): refractory periods,
    adaptive thresholds, exponential channels with different time constants, delays
    that depend on both neurons of a synapse, plasticity, a bias without an undelayed
    input projection.
    """
    nir = _nir()
    if not isinstance(net, Network):
        raise TypeError(f"net must be an eventsnn.Network, got {type(net).__name__}")
    dt, ts = float(dt), float(time_scale)
    nodes, edges, fac, bias_mul = {}, [], {}, {}
    for g in net._sources:
        if g.name.endswith(".bias_start"):
            continue
        nodes[g.name] = nir.Input(input_type={"input": np.array([g.size])})
    for p in net._pops:
        m, n, name = p.model, p.size, p.name
        if m.t_ref != 0.0 or m.theta_plus != 0.0:
            raise ValueError(f"population {name!r}: NIR has no refractory period or adaptive threshold")
        full = lambda v: np.full(n, float(v))   # noqa: E731
        theta = p.theta
        vth_n = m.v_th + theta if theta.any() else full(m.v_th)      # per-neuron thresholds
        tau = m.tau_m / ts
        readout = m.v_th == READOUT_VTH
        if m.tau_syn_exc == 0.0 and m.tau_syn_inh == 0.0:
            if math.isinf(m.tau_m):
                if m.v_rest != 0.0 or m.tau_in != ts or readout:
                    raise ValueError(f"population {name!r}: a non-leaky neuron needs v_rest=0, tau_in={ts}")
                r = _exact_inverse(1.0, lambda y: y * dt, 1.0 / dt, "r")
                fac[name] = r * dt
                bias_mul[name] = (lambda r_: lambda y: r_ * y)(r)
                nodes[name] = nir.IF(r=full(r), v_threshold=vth_n, v_reset=full(m.v_reset))
            else:
                r = _exact_inverse(1.0, lambda y: (y * dt) / tau, tau / dt, "r")
                fac[name] = (r * dt) / tau
                bias_mul[name] = (lambda r_: lambda y: r_ * y)(r)
                kw = dict(tau=full(tau), r=full(r), v_leak=full(m.v_rest))
                nodes[name] = nir.LI(**kw) if readout else nir.LIF(**kw, v_threshold=vth_n,
                                                                   v_reset=full(m.v_reset))
        elif m.tau_syn_exc == m.tau_syn_inh and m.tau_syn_exc > 0 and math.isfinite(m.tau_m):
            tsyn = m.tau_syn_exc / ts
            r = (tau * ts) / (m.tau_m if m.tau_in is None else m.tau_in)
            w_in = _exact_inverse(1.0, lambda y: (y * dt) / tsyn, tsyn / dt, "w_in")
            fac[name] = (w_in * dt) / tsyn
            bias_mul[name] = (lambda w_: lambda y: w_ * y)(w_in)
            kw = dict(tau_syn=full(tsyn), tau_mem=full(tau), r=full(r), v_leak=full(m.v_rest), w_in=full(w_in))
            nodes[name] = nir.CubaLI(**kw) if readout else nir.CubaLIF(**kw, v_threshold=vth_n,
                                                                       v_reset=full(m.v_reset))
        else:
            raise ValueError(f"population {name!r}: NIR's CubaLIF has one synaptic time constant; this one has "
                             f"tau_syn_exc={m.tau_syn_exc}, tau_syn_inh={m.tau_syn_inh}")
        orig = getattr(net, "nir_nodes", {}).get(name)
        if orig is not None and getattr(net, "nir_scale", None) == (dt, ts):
            om, of, obf, _ = _neuron_nir(orig, name, ts, dt)
            same = {k: v for k, v in om.__dict__.items() if k != "i_bias"} == \
                {k: v for k, v in m.__dict__.items() if k != "i_bias"}
            if same:
                # the graph's own parametrisation (r, w_in) rather than the canonical one
                nodes[name] = type(orig)(**{f: getattr(orig, f) for f in orig.__dataclass_fields__
                                            if f not in ("input_type", "output_type", "metadata")})
                fac[name] = of
                bias_mul[name] = (lambda b_: lambda y: b_ * y)(obf)
        exact = {f: float(getattr(m, f)) for f in m.__dataclass_fields__
                 if getattr(m, f) is not None and f != "i_bias"}
        exact.setdefault("tau_in", float(m.tau_m))      # (None means tau_m)
        nodes[name].metadata = {EXACT: exact}
        if np.any(p.v_init != 0.0):
            raise ValueError(f"population {name!r}: NIR neurons start at V = 0; this one has other v_init")
    bias_left = {}
    starts = {g.name[:-len(".bias_start")] for g in net._sources if g.name.endswith(".bias_start")}
    for p in net._pops:
        b = p.i_bias
        if b.any() and p.model.tau_syn_exc > 0 and p.name not in starts:
            # NIR filters a CubaLIF's bias through the synapse (from 0 at t = 0); an
            # eventsnn bias acts fully from t = 0 (from_nir adds the spike that makes up
            # the difference, named <population>.bias_start)
            raise ValueError(f"population {p.name!r}: a bias current into exponential synapses acts from "
                             f"t = 0 in eventsnn but is filtered by the synapse in NIR's CubaLIF")
        if b.any():
            # NIR carries a bias on an edge: the first undelayed projection into p takes it
            bias_left[p.name] = b
    for k, pr in enumerate(net._projs):
        if pr.pre.name.endswith(".bias_start"):
            continue
        if pr.plasticity is not None:
            raise ValueError(f"projection {k} ({pr.pre.name} -> {pr.post.name}) is plastic; NIR has no plasticity")
        wd = pr.to_scipy().toarray().T                 # (post x pre), mV
        W = wd / fac[pr.post.name]
        keep = {}
        if not np.array_equal(W * fac[pr.post.name], wd):
            keep = {EXACT: {"weight": wd}}              # (the reader's W * factor rounds)
        lin = f"proj{k}"
        pre_d = post_d = None
        if pr.csr.delays is not None:
            # NIR delays are per channel: per presynaptic or per postsynaptic neuron
            d = np.asarray(pr.csr.delays, np.float64)
            rows = np.repeat(np.arange(pr.csr.n_pre), np.diff(pr.csr.indptr))
            post = np.asarray(pr.csr.indices)
            by_post = np.full(pr.post.size, np.nan)
            by_post[post] = d
            by_pre = np.full(pr.csr.n_pre, np.nan)
            by_pre[rows] = d
            if np.array_equal(by_post[post], d):
                post_d = np.nan_to_num(by_post)
            elif np.array_equal(by_pre[rows], d):
                pre_d = np.nan_to_num(by_pre)
            else:
                raise ValueError(f"projection {k} ({pr.pre.name} -> {pr.post.name}): its delays depend on both "
                                 f"neurons of a synapse; NIR's Delay has one per channel")
        elif not (pr.delay == 0.0 or (pr.pre.name in net.populations and pr.delay == zero_delay)):
            post_d = np.full(pr.post.size, pr.delay)
        bias = bias_left.pop(pr.post.name) if post_d is None and pr.post.name in bias_left else None
        if bias is None:
            nodes[lin] = nir.Linear(weight=W, metadata=keep)
        else:
            nodes[lin] = nir.Affine(weight=W, bias=bias / bias_mul[pr.post.name](1.0),
                                    metadata={EXACT: {"bias": bias, **keep.get(EXACT, {})}})
        src = pr.pre.name
        if pre_d is not None:
            nodes[lin + ".delay"] = nir.Delay(delay=pre_d / ts, metadata={EXACT: {"delay": pre_d}})
            edges.append((src, lin + ".delay"))
            src = lin + ".delay"
        edges.append((src, lin))
        if post_d is not None:
            nodes[lin + ".delay"] = nir.Delay(delay=post_d / ts, metadata={EXACT: {"delay": post_d}})
            edges += [(lin, lin + ".delay"), (lin + ".delay", pr.post.name)]
        else:
            edges.append((lin, pr.post.name))
    if bias_left:
        name = next(iter(bias_left))
        raise ValueError(f"population {name!r} has a bias current but no undelayed input projection, on "
                         f"which NIR would carry it")
    for p in net._pops:
        # every population is an output (NIR infers types from the outputs)
        nodes[p.name + ".out"] = nir.Output(output_type={"output": np.array([p.size])})
        edges.append((p.name, p.name + ".out"))
    return nir.NIRGraph(nodes=nodes, edges=edges)
