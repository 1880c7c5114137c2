"""Saving and loading a network with its run state.

``save(net, path)`` writes one ``.npz`` file (a zip of NumPy arrays, no pickled
objects): the network's structure (populations and their parameters, sources,
projections with their weights and delays, plasticity rules, drives, recording) as
one JSON document, and every array of its run state (neuron states, the event queue,
random streams, plasticity traces and eligibilities, counters, the spike record and the
loop's position).  ``load(path)`` builds the network again and puts that state back, so
that the loaded network continues bitwise as the saved one would have, in this process
or another.  A static projection that a built-in connection rule made (one weight, one
delay, weights never set) is written as its rule, weight and seed, not as synapses:
``load`` makes it again (bitwise the same), which keeps files small and lets each
process of a partitioned run build only its own part.

Loading never unpickles (``np.load(..., allow_pickle=False)``): opening a file from
someone else cannot run code.  A file that is not an eventsnn network, is truncated or
corrupted, or was written by a newer format raises ``ValueError`` naming the file and
the problem, and nothing is returned half-loaded.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import fields

import numpy as np

from . import connectivity as cx
from . import parallel
from . import plasticity as PLM
from .engine.state import cseq_view, neuron_block
from .models import LIF
from .network import Network, PoissonSource
from .plan import check_state
from .results import OpCounts, Spikes, StateSamples

__all__ = ["save", "load", "FORMAT"]

#: the format this version writes; files of other formats are refused
FORMAT = "eventsnn-network/5"

_RULES = {cls.__name__: cls for cls in (PLM.STDP, PLM.Triplet, PLM.Vogels, PLM.RewardSTDP)}
# connection rules a file may name instead of storing the synapses they make
_CONNECTIONS = {cls.__name__: cls for cls in (cx.FixedIndegree, cx.FixedOutdegree, cx.FixedProbability,
                                              cx.OneToOne, cx.AllToAll)}


def _record(rule):
    if rule is None:
        return None
    return {"rule": type(rule).__name__, **{f.name: getattr(rule, f.name) for f in fields(rule)}}


def _flatten(x, prefix, out):
    """The arrays of a (nested) named tuple, under dotted names; None members are kept
    as absent."""
    for name, v in zip(x._fields, x):
        key = f"{prefix}.{name}"
        if isinstance(v, np.ndarray):
            out[key] = v
        elif hasattr(v, "_fields"):
            _flatten(v, key, out)
        elif v is not None:
            raise TypeError(f"cannot save {key} of type {type(v).__name__}")
    return out


def _unflatten(template, prefix, arrays):
    """``template`` (a named tuple of the same structure) with every array replaced by
    the saved one of the same name, checked for dtype and number of dimensions."""
    vals = []
    for name, v in zip(template._fields, template):
        key = f"{prefix}.{name}"
        if isinstance(v, np.ndarray):
            if key not in arrays:
                raise ValueError(f"the run state lacks {key}")
            a = arrays[key]
            if a.dtype != v.dtype or a.ndim != v.ndim:
                raise ValueError(f"{key} has dtype {a.dtype} and {a.ndim} dimensions; expected {v.dtype} "
                                 f"and {v.ndim}")
            vals.append(a)
        elif hasattr(v, "_fields"):
            vals.append(_unflatten(v, key, arrays))
        else:
            vals.append(v)
    return type(template)(*vals)


def save(net: Network, path) -> None:
    """Write ``net`` (its structure, weights and, if it has run or was prepared, its whole
    run state) to ``path`` (.npz).

    The file holds no pickled objects: ``load`` reads it with ``allow_pickle=False``.

    A partitioned network (``Network.distribute``, or a script under ``mpiexec``) is
    saved by every process (collective): each writes its shard beside ``path``
    (``name.rank{r}of{K}.npz``: the network and its part of the run state) and
    rank 0 writes at ``path`` a manifest naming them; ``load`` restores it with the
    same number of processes."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be an eventsnn.Network, got {type(net).__name__}")
    if net._stuck:
        raise RuntimeError(f"cannot save this network: {net._stuck}")
    path = os.fspath(path)
    comm = net._comm
    if comm is not None and net._plan is None:
        # not partitioned yet (that happens at prepare): one file, written by rank 0
        if comm.rank == 0:
            _write(net, path, {})
        comm.allgather(None)
        return
    if comm is None:
        _write(net, path, {})
        return
    # partitioned: every process writes its shard (the network, whole, and its own part
    # of the run state), then rank 0 the manifest that names them
    wfull = {pr.index: pr._gather(pr._own_weights()) for pr in net._projs if pr.plasticity is not None}
    r, K = int(comm.rank), int(comm.size)
    shards = [os.path.basename(_shard_path(path, q, K)) for q in range(K)]
    err = None
    try:
        _write(net, _shard_path(path, r, K), wfull, {"rank": r, "ranks": K, "gather": net._gather})
    except OSError as e:
        err = f"rank {r}: {e}"
    errs = [e for e in comm.allgather(err) if e is not None]
    if errs:
        raise OSError(f"{path}: cannot save the partitioned network: {'; '.join(errs)}")
    if r == 0:
        _atomic_savez(path, {"meta": np.array(json.dumps({"format": FORMAT, "manifest": True, "ranks": K,
                                                            "shards": shards}))})
    comm.allgather(None)


def _shard_path(path, rank, ranks):
    """The file of process ``rank``'s part of a partitioned network saved at ``path``."""
    base = path[:-4] if path.endswith(".npz") else path
    return f"{base}.rank{rank}of{ranks}.npz"


def _atomic_savez(path, arrays):
    tmp = path + ".tmp" if path.endswith(".npz") else path + ".tmp.npz"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)       # a crash while writing leaves no half-written file at path


def _write(net, path, wfull, part=None):
    """Write one file: the network (with the whole weights ``wfull`` of projections
    whose weights this process holds only in part) and its run state."""
    arrays = {}
    pops = []
    for p in net._pops:
        pops.append({"name": p.name, "size": p.size,
                     "model": {f.name: getattr(p.model, f.name) for f in fields(LIF)}})
        arrays[f"pop{p.index}.v_init"] = np.asarray(p.v_init, np.float64)
        arrays[f"pop{p.index}.theta0"] = p._theta0
        if p._bias is not None:
            arrays[f"pop{p.index}.bias"] = p._bias
    srcs = []
    for k, s in enumerate(net._sources):
        if isinstance(s, PoissonSource):
            srcs.append({"name": s.name, "size": s.size, "kind": "poisson"})
            arrays[f"src{k}.rates"] = s.rates
        else:
            srcs.append({"name": s.name, "size": s.size, "kind": "spike_train"})
            arrays[f"src{k}.ptr"] = s.ptr
            arrays[f"src{k}.times"] = s.times
    projs = []
    for pr in net._projs:
        spec = pr._spec
        if spec is not None and pr.plasticity is None and type(spec.rule) in _CONNECTIONS.values():
            # a static projection a built-in rule made, as made: its rule, weight and seed
            # decide it (a partitioned run's shards then hold no synapses, and each
            # process that loads one builds its own part again)
            projs.append({"pre": pr.pre.name, "post": pr.post.name, "n_post": spec.n_post,
                          "delay": pr.delay, "plasticity": None, "learning": bool(pr._learning),
                          "reward0": float(pr._reward0),
                          "rule": {"rule": type(spec.rule).__name__,
                                   **{f.name: getattr(spec.rule, f.name) for f in fields(spec.rule)}},
                          "weight": spec.weight, "seed": spec.seed})
            continue
        # (a projection not built yet, as in a partitioned run, is built for the file only)
        csr = pr._csr if pr._csr is not None else pr._spec.build()[0]
        w = wfull.get(pr.index, csr.weights)
        shared = cx.is_shared(w)
        projs.append({"pre": pr.pre.name, "post": pr.post.name, "n_post": csr.n_post,
                      "delay": pr.delay, "shared_weight": bool(shared),
                      "plasticity": _record(pr.plasticity), "learning": bool(pr._learning),
                      "reward0": float(pr._reward0)})
        arrays[f"proj{pr.index}.indptr"] = csr.indptr
        arrays[f"proj{pr.index}.indices"] = csr.indices
        arrays[f"proj{pr.index}.weights"] = np.ascontiguousarray(w[:1] if shared else w)
        if csr.delays is not None:
            arrays[f"proj{pr.index}.delays"] = csr.delays
    drives = [{"pop": pop.name, "rate": float(rate), "weight": float(weight)} for pop, rate, weight in net._drives]
    recs = _save_recorders(net, arrays)
    meta = {"format": FORMAT, "seed": net.seed, "populations": pops, "sources": srcs, "projections": projs,
            "drives": drives, "recorders": recs, "prefetch_pop": net._prefetch_pop,
            "t": net.t, "counts": net.counts.as_dict(), "prepared": net._state is not None,
            "src_seen": net._src_seen, "part": part}
    if net._state is not None:
        _flatten(net._state, "state", arrays)
        del arrays["state.neurons.cseq"]         # a view of the block
        arrays["cnt_mark"] = net._cnt_mark
        for name, runs in (("spikes", net._all_spikes), ("src_spikes", net._all_src_spikes)):
            arrays[f"history.{name}.t"] = np.concatenate([r.times for r in runs]) if runs else np.empty(0)
            arrays[f"history.{name}.n"] = np.concatenate([r.ids for r in runs]) if runs else np.empty(0, np.int64)
            arrays[f"history.{name}.runs"] = np.array([len(r.times) for r in runs], np.int64)
        arrays["history.pending.t"] = net._src_pending.times
        arrays["history.pending.n"] = net._src_pending.ids
    _atomic_savez(path, dict(meta=np.array(json.dumps(meta)), **arrays))


_VARS = ("v", "i_exc", "i_inh", "theta")


def _save_recorders(net, arrays):
    """The recorders' settings (returned, for the meta record) and data (into arrays)."""
    spk = None
    if net._spike_recs is not None:
        spk = []
        for k, r in enumerate(net._spike_recs):
            spk.append({"start": r.start, "stop": r.stop, "all": r.ids is None})
            if r.ids is not None:
                arrays[f"rec.spikes{k}.ids"] = r.ids
    probes = []
    for k, pb in enumerate(net._probes):
        probes.append({"name": pb.name, "dt": pb.dt, "start": pb.start, "stop": pb.stop,
                       "variables": list(pb.variables)})
        arrays[f"rec.probe{k}.ids"] = pb.ids
        if pb.times is not None:
            arrays[f"rec.probe{k}.times"] = pb.times
        S = pb.samples
        arrays[f"rec.probe{k}.data.times"] = S.times
        for v in pb.variables:
            arrays[f"rec.probe{k}.data.{v}"] = getattr(S, v)
    rates = []
    for k, r in enumerate(net._rate_recs):
        rates.append({"population": r.population.name, "bin": r.bin, "k0": int(r._k0)})
        arrays[f"rec.rate{k}.counts"] = r._counts
    weights = []
    for k, r in enumerate(net._weight_recs):
        weights.append({"projection": r.proj.index, "name": r.name})
        arrays[f"rec.weights{k}.times"] = r.times
        arrays[f"rec.weights{k}.taken"] = r.taken
        arrays[f"rec.weights{k}.values"] = r.values
    return {"spikes": spk, "probes": probes, "rates": rates, "weights": weights,
            "sources": net._record_sources}


def _load_recorders(net, meta, arrays):
    pops = {p.name: p for p in net._pops}
    net.record_source_spikes(bool(meta["sources"]))
    if meta["spikes"] is not None:
        net.record_spikes(None)
        for k, r in enumerate(meta["spikes"]):
            net.record_spikes("all" if r["all"] else arrays[f"rec.spikes{k}.ids"], start=r["start"],
                              stop=r["stop"])
    for k, p in enumerate(meta["probes"]):
        times = arrays.get(f"rec.probe{k}.times")
        if times is not None:
            pb = net.record_state(arrays[f"rec.probe{k}.ids"], times, variables=p["variables"], name=p["name"])
        else:
            pb = net.record_state(arrays[f"rec.probe{k}.ids"], dt=p["dt"], start=p["start"], stop=p["stop"],
                                  variables=p["variables"], name=p["name"])
        t = arrays[f"rec.probe{k}.data.times"]
        if len(t):
            K = len(pb.ids)
            cols = {}
            for v in _VARS:
                a = arrays.get(f"rec.probe{k}.data.{v}") if v in pb.variables else None
                if a is not None and a.shape != (len(t), K):
                    raise ValueError(f"rec.probe{k}.data.{v} has shape {a.shape}; expected ({len(t)}, {K})")
                cols[v] = a
            pb._parts.append(StateSamples(t, pb.ids.copy(), **cols))
    for k, r in enumerate(meta["rates"]):
        rr = net.record_rate(pops[r["population"]], bin=r["bin"])
        rr._add(int(r["k0"]), np.asarray(arrays[f"rec.rate{k}.counts"], np.int64))
    for k, r in enumerate(meta["weights"]):
        wr = net._projs[int(r["projection"])].record_weights(arrays[f"rec.weights{k}.times"], name=r["name"])
        vals = arrays[f"rec.weights{k}.values"]
        wr._t = [float(x) for x in arrays[f"rec.weights{k}.taken"]]
        wr._w = [np.array(v, np.float64) for v in vals]
        if len(wr._w) != len(wr._t):
            raise ValueError(f"rec.weights{k}: {len(wr._t)} times but {len(wr._w)} snapshots")


def _runs(arrays, name):
    t, n, lens = arrays[f"history.{name}.t"], arrays[f"history.{name}.n"], arrays[f"history.{name}.runs"]
    out, i = [], 0
    for k in lens:
        out.append(Spikes(t[i:i + k], n[i:i + k]))
        i += int(k)
    if i != t.shape[0] or t.shape != n.shape:
        raise ValueError(f"the {name} history has {t.shape[0]} spikes but its runs hold {i}")
    return out


def load(path, comm=None) -> Network:
    """Read a network saved by :func:`save`; it continues exactly where it was saved.

    ``path`` may be the manifest of a partitioned network: it is then loaded by every
    process of ``comm`` (default: the MPI processes this script runs in), which must be
    as many as saved it, each reading its own shard.

    Raises
    ------
    ValueError
        If ``path`` is not an eventsnn network file of this format, is truncated or
        corrupted, or holds pickled objects (never loaded), or is a manifest saved by
        another number of processes.
    """
    name = os.fspath(path)
    meta, arrays = _read(name)
    if not meta.get("manifest"):
        if meta.get("part") is not None:
            raise ValueError(f"{name}: cannot load: it is one process's shard of a partitioned network; "
                             f"load its manifest instead")
        return _build_or_raise(name, meta, arrays, None)
    if comm is None:
        comm = parallel.world()
    K = 1 if comm is None else int(comm.size)
    if meta.get("ranks") != K or not isinstance(meta.get("shards"), list) or len(meta["shards"]) != K:
        raise ValueError(f"{name}: cannot load: it was saved by {meta.get('ranks')!r} processes and this run "
                         f"has {K} (restore it with mpiexec -n {meta.get('ranks')!r})")
    r = int(comm.rank)
    shard = os.path.join(os.path.dirname(name), str(meta["shards"][r]))
    smeta, sarrays = _read(shard)
    part = smeta.get("part")
    if not isinstance(part, dict) or part.get("rank") != r or part.get("ranks") != K:
        raise ValueError(f"{shard}: cannot load: it is not shard {r} of {K}")
    return _build_or_raise(shard, smeta, sarrays, comm)


def _build_or_raise(name, meta, arrays, comm):
    try:
        return _build(meta, arrays, comm)
    except ValueError as e:
        raise ValueError(f"{name}: cannot load: {e}") from None
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"{name}: cannot load: truncated, corrupted or not an eventsnn network file "
                         f"({type(e).__name__}: {e})") from None


def _read(name):
    """(meta, arrays) of an eventsnn file (a network, a shard or a manifest)."""
    if not os.path.exists(name):
        raise FileNotFoundError(f"{name}: no such file")
    if not zipfile.is_zipfile(name):
        raise ValueError(f"{name}: cannot load: not an .npz archive (truncated, corrupted or another kind "
                         f"of file)")
    try:
        with np.load(name, allow_pickle=False) as z:
            if "meta" not in z.files:
                raise ValueError("it has no 'meta' entry (not an eventsnn network file)")
            meta = json.loads(str(z["meta"]))
            if not isinstance(meta, dict) or not isinstance(meta.get("format"), str) \
                    or not meta["format"].startswith("eventsnn-network/"):
                raise ValueError("it is not an eventsnn network file")
            if meta["format"] != FORMAT:
                raise ValueError(f"its format is {meta['format']!r}; this version reads {FORMAT!r}")
            arrays = {k: z[k] for k in z.files if k != "meta"}
        return meta, arrays
    except ValueError as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise ValueError(f"{name}: it holds pickled objects, which are never loaded") from None
        raise ValueError(f"{name}: cannot load: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, IndexError,
            json.JSONDecodeError) as e:
        raise ValueError(f"{name}: cannot load: truncated, corrupted or not an eventsnn network file "
                         f"({type(e).__name__}: {e})") from None


def _connect_rule(net, groups, k, p):
    """Projection k of a file that names its rule (``_write``): made again by the rule."""
    r = dict(p["rule"])
    cls = _CONNECTIONS.get(r.pop("rule"))
    if cls is None:
        raise ValueError(f"projection {k} has an unknown connection rule {p['rule']['rule']!r}")
    pr = net.connect(groups[p["pre"]], groups[p["post"]], cls(**r), weight=p["weight"], delay=p["delay"])
    if pr._spec is None or pr._spec.seed != p["seed"]:
        raise ValueError(f"projection {k}: its seed {p['seed']!r} is not the one the network gives it "
                         f"({None if pr._spec is None else pr._spec.seed!r}); the file is inconsistent")
    pr._learning = bool(p["learning"])
    pr._reward0 = float(p["reward0"])


def _build(meta, arrays, comm=None) -> Network:
    net = Network(seed=meta["seed"])
    net._prefetch_pop = meta["prefetch_pop"]
    if comm is not None:
        net.distribute(comm, gather=bool(meta["part"].get("gather", True)))
    groups = {}
    for k, p in enumerate(meta["populations"]):
        pop = net.population(p["size"], LIF(**p["model"]), name=p["name"], v_init=arrays[f"pop{k}.v_init"],
                             i_bias=arrays.get(f"pop{k}.bias"))
        pop._theta0 = np.array(arrays[f"pop{k}.theta0"], np.float64)
        if pop._theta0.shape != (pop.size,):
            raise ValueError(f"pop{k}.theta0 has shape {pop._theta0.shape}; expected ({pop.size},)")
        groups[pop.name] = pop
    for k, s in enumerate(meta["sources"]):
        if s["kind"] == "poisson":
            g = net.poisson_source(s["size"], arrays[f"src{k}.rates"], name=s["name"])
        else:
            ptr = arrays[f"src{k}.ptr"]
            ids = np.repeat(np.arange(s["size"]), np.diff(ptr))
            g = net.spike_source(arrays[f"src{k}.times"], ids, n=s["size"], name=s["name"])
        groups[s["name"]] = g
    for k, p in enumerate(meta["projections"]):
        if p.get("rule") is not None:
            _connect_rule(net, groups, k, p)
            continue
        w = arrays[f"proj{k}.weights"]
        nnz = arrays[f"proj{k}.indices"].shape[0]
        if p["shared_weight"]:
            w = cx.shared_weights(w[0], nnz)
        d = arrays.get(f"proj{k}.delays")
        csr = cx.CSR(arrays[f"proj{k}.indptr"], arrays[f"proj{k}.indices"], w, d, n_post=p["n_post"])
        rule = None
        if p["plasticity"] is not None:
            r = dict(p["plasticity"])
            cls = _RULES.get(r.pop("rule"))
            if cls is None:
                raise ValueError(f"projection {k} has an unknown plasticity rule {p['plasticity']['rule']!r}")
            rule = cls(**r)
        pr = net.connect(groups[p["pre"]], groups[p["post"]], csr, delay=None if d is not None else p["delay"],
                         plasticity=rule)
        pr._learning = bool(p["learning"])
        pr._reward0 = float(p["reward0"])
    for d in meta["drives"]:
        net.poisson_drive(groups[d["pop"]], d["rate"], d["weight"])
    _load_recorders(net, meta["recorders"], arrays)
    net.t = float(meta["t"])
    net.counts = OpCounts(**meta["counts"])
    if meta["prepared"]:
        net.prepare()
        st = _unflatten(net._state._replace(neurons=net._state.neurons._replace(cseq=None)), "state", arrays)
        N = st.neurons
        if N.block.ndim != 2 or N.block.shape[1] != 8:
            raise ValueError(f"the run state does not fit the network: neurons.block has shape {N.block.shape}")
        block = neuron_block(N.block.shape[0], 0.0)
        block[:] = N.block
        st = st._replace(neurons=N._replace(block=block, cseq=cseq_view(block)))
        check_state(net._plan, st)
        net._state = st
        net._cnt_mark = arrays["cnt_mark"]
        net._all_spikes = _runs(arrays, "spikes")
        net._all_src_spikes = _runs(arrays, "src_spikes")
        net._src_pending = Spikes(arrays["history.pending.t"], arrays["history.pending.n"])
        net._src_seen = int(meta["src_seen"])
    return net
