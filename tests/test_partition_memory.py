"""Issue 18, memory per process: a partitioned run builds only its own synapses and
touches only its own neurons' state, and its spikes are still those of one process.

- A connection rule builds the part of a projection onto a block of targets without the
  whole (``ConnectionRule.build_part``): bitwise the whole structure with the other
  targets left out, for every built-in rule.
- A projection made by a rule with one weight and one delay is kept as its rule and seed
  (``RuleSpec``) until needed: one process builds it whole, each process of a
  partitioned run only its part.
- Per-neuron state is indexed by global id; a process sets only its own rows, the
  others stay zero (pages never backed by memory).
- The spikes of the processes' windows are merged, not sorted (``merge_windows``).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eventsnn as ev
from eventsnn import connectivity as cx
from eventsnn import parallel
from eventsnn.connectivity.rules import _keep_targets
from eventsnn.engine.emit import merge_windows, sort_window
from eventsnn.engine.state import COL_REF, COL_V, SpikeRecord
from eventsnn.plan import own_range

RULES = [cx.fixed_indegree(4), cx.fixed_indegree(4, allow_multapses=False),
         cx.fixed_indegree(9, False, False), cx.fixed_outdegree(3), cx.fixed_outdegree(3, False, False),
         cx.fixed_outdegree(9, False, False), cx.fixed_probability(0.15), cx.fixed_probability(0.15, False),
         cx.fixed_probability(1.0, False), cx.one_to_one(), cx.all_to_all(), cx.all_to_all(False)]


@settings(max_examples=60, deadline=None)
@given(k=st.integers(0, len(RULES) - 1), n=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       same=st.booleans(), cut=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_build_part_is_the_whole_with_other_targets_left_out(k, n, seed, same, cut):
    rule = RULES[k]
    n_pre = n
    n_post = n if same or isinstance(rule, cx.OneToOne) else max(1, n // 2 + 5)
    if isinstance(rule, cx.FixedIndegree) and not rule.allow_multapses and rule.k > n_pre - same:
        return
    if isinstance(rule, cx.FixedOutdegree) and not rule.allow_multapses and rule.k > n_post - same:
        return
    lo, hi = sorted(int(c * n_post) for c in cut)
    ip, ix = rule.build(n_pre, n_post, seed, same)
    a, b, total = rule.build_part(n_pre, n_post, seed, same, targets=(lo, hi))
    want_ip, want_ix = _keep_targets(ip, ix, lo, hi)
    assert np.array_equal(a, want_ip) and np.array_equal(b, want_ix)
    assert total == len(ix)
    # the blocks of every process together are the whole
    K = 3
    parts = [rule.build_part(n_pre, n_post, seed, same, targets=own_range(n_post, r, K)) for r in range(K)]
    assert sum(len(p[1]) for p in parts) == len(ix)


def test_build_part_validates_targets():
    rule = cx.fixed_indegree(2)
    with pytest.raises(ValueError, match="targets\\[1\\]"):
        rule.build_part(5, 5, 0, targets=(0, 6))
    with pytest.raises(ValueError, match="targets\\[1\\]"):
        rule.build_part(5, 5, 0, targets=(3, 2))
    with pytest.raises(TypeError, match="targets"):
        rule.build_part(5, 5, 0, targets=[0, 2])


def test_rule_projections_are_built_when_needed():
    net = ev.Network(seed=3)
    lif = ev.LIF()
    a = net.population(30, lif)
    b = net.population(20, lif)
    pr = net.connect(a, b, ev.fixed_indegree(5), weight=0.5, delay=1.0)
    assert pr._csr is None
    # the same synapses as the rule built at once with the projection's seed
    ip, ix = ev.fixed_indegree(5).build(30, 20, pr._spec.seed)
    assert np.array_equal(pr.csr.indptr, ip) and np.array_equal(pr.csr.indices, ix)
    assert cx.is_shared(pr.csr.weights) and pr.csr.weights[0] == 0.5
    assert not pr.csr.indices.flags.writeable


def test_rule_projections_still_refuse_bad_input_at_connect():
    net = ev.Network()
    lif = ev.LIF()
    a = net.population(5, lif)
    b = net.population(6, lif)
    with pytest.raises(ValueError, match="k=7 exceeds the 5 candidate sources"):
        net.connect(a, b, ev.fixed_indegree(7, allow_multapses=False), weight=1.0)
    with pytest.raises(ValueError, match="one_to_one requires n_pre == n_post"):
        net.connect(a, b, ev.one_to_one(), weight=1.0)
    with pytest.raises(ValueError, match="weight contains 5.0"):
        net.connect(a, b, ev.fixed_indegree(2), weight=5.0, plasticity=ev.plasticity.STDP(w_max=3.0))
    with pytest.raises(ValueError, match="weight must be finite"):
        net.connect(a, b, ev.fixed_indegree(2), weight=np.inf)
    with pytest.raises(TypeError, match="float64"):
        net.connect(a, b, ev.fixed_indegree(2), weight=1.0, dtype=np.float32)
    assert net.projections == []


def test_set_weights_on_a_rule_projection():
    net = ev.Network(seed=1)
    lif = ev.LIF()
    a = net.population(10, lif)
    pr = net.connect(a, a, ev.fixed_indegree(3), weight=1.0)
    pr.set_weights(np.arange(30.0) / 10)
    assert pr._spec is None
    assert np.array_equal(pr.weights, np.arange(30.0) / 10)


def _net():
    """Adaptive thresholds, per-neuron bias currents, exp synapses (frame renormalisation
    every 100 ms with tau_syn = 1 ms), a plastic projection, a drive."""
    net = ev.Network(seed=11)
    fast = ev.LIF(tau_m=10.0, tau_syn_exc=1.0, tau_syn_inh=2.0, v_th=20.0, v_reset=10.0, t_ref=2.0,
                  theta_plus=0.5)
    biased = ev.LIF(tau_m=20.0, v_th=20.0, v_reset=10.0, t_ref=0.0)
    a = net.population(70, fast, name="a", v_init=(0.0, 20.0))
    b = net.population(33, biased, name="b", v_init=(0.0, 10.0), i_bias=np.linspace(5.0, 25.0, 33))
    src = net.poisson_source(40, 150.0, name="src")
    net.connect(src, a, ev.fixed_indegree(8), weight=12.0, delay=0.5)
    net.connect(a, b, ev.fixed_probability(0.2), weight=1.5, delay=1.0)
    net.connect(b, a, ev.fixed_outdegree(6), weight=-2.0, delay=1.5)
    net.connect(a, a, ev.fixed_indegree(5), weight=1.0, delay=1.0, plasticity=ev.plasticity.STDP(w_max=3.0))
    net.poisson_drive(b, rate=500.0, weight=1.0)
    return net


@pytest.mark.parametrize("K", [2, 3])
def test_partitioned_run_builds_only_its_part(K):
    one = _net()
    r1 = one.run(250.0)
    theta1 = one._pops[0].theta

    def body(comm):
        net = _net().distribute(comm).prepare()
        own = net.plan.arrays.pops.own
        N = net.n_neurons
        mine = np.zeros(N, bool)
        for lo, hi in own:
            mine[lo:hi] = True
        blk = net._state.neurons.block
        # the initial state of its own neurons: no refractory period, V from v_init
        set_own = bool((blk[mine, COL_REF] == -np.inf).all() and (blk[mine, COL_V] != 0).all())
        r = net.run(250.0)
        return dict(t=r.spikes.times, i=r.spikes.ids, theta=net._pops[0].theta,
                    w=net.projections[3].weights.copy(),
                    # no process built a whole rule projection
                    built=[p._csr is not None for p in net.projections],
                    # a process's synapses are the whole projection's onto its neurons
                    nnz=[p.csr.nnz for p in net.plan.projections],
                    untouched=bool((blk[~mine] == 0).all() and (net._state.neurons.theta[~mine] == 0).all()),
                    set_own=set_own)
    every = parallel.run_threads(K, body, timeout=120)
    for x in every:
        assert np.array_equal(x["t"], r1.spikes.times) and np.array_equal(x["i"], r1.spikes.ids)
        assert np.array_equal(x["theta"], theta1)
        assert np.array_equal(x["w"], one.projections[3].weights)
    # projection 3 was built whole on each process by reading its weights; the others never
    assert all(x["built"][3] and not any(x["built"][:3] + x["built"][4:]) for x in every)
    assert all(x["untouched"] and x["set_own"] for x in every)
    whole = [p.csr.nnz for p in one.plan.projections]
    assert [sum(x["nnz"][q] for x in every) for q in range(len(whole))] == whole
    assert len(r1.spikes) > 200


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 30), min_size=1, max_size=4), rest=st.integers(0, 5),
       seed=st.integers(0, 2**31))
def test_merge_windows_is_the_sorted_union(sizes, rest, seed):
    rng = np.random.default_rng(seed)
    # coarse times: many ties, broken by neuron id
    runs = []
    for m in sizes:
        t = rng.integers(0, 6, m) * 0.25
        n = rng.integers(0, 50, m)
        o = np.lexsort((n, t))
        runs.append((t[o], n[o]))
    own = int(rng.integers(0, len(sizes)))
    k = len(runs[own][0])
    kept_t = 10.0 + np.arange(rest, dtype=float)
    kept_n = rng.integers(0, 50, rest)
    cap = sum(sizes) + rest + 1
    EB = SpikeRecord(np.empty(cap), np.empty(cap, np.int64), np.array([k + rest], np.int64))
    EB.t[:k], EB.n[:k] = runs[own]
    EB.t[k:k + rest], EB.n[k:k + rest] = kept_t, kept_n
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ts = np.concatenate([r[0] for r in runs])
    ns = np.concatenate([r[1] for r in runs]).astype(np.int64)
    merge_windows(ts, ns, bounds, EB, k)
    o = np.lexsort((ns, ts))
    m = len(ts)
    assert EB.count[0] == m + rest
    assert np.array_equal(EB.t[:m], ts[o]) and np.array_equal(EB.n[:m], ns[o])
    assert np.array_equal(EB.t[m:m + rest], kept_t) and np.array_equal(EB.n[m:m + rest], kept_n)
    # what sort_window would have made of the concatenation
    EB2 = SpikeRecord(ts.copy(), ns.copy(), np.array([m], np.int64))
    sort_window(EB2)
    assert np.array_equal(EB2.t, EB.t[:m]) and np.array_equal(EB2.n, EB.n[:m])


def _flat(d, pre=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{pre}{k}."))
        else:
            out[f"{pre}{k}"] = v
    return out


def test_report_of_a_partitioned_run_is_the_networks():
    """The operation-count report sums the processes' synapses (each holds its own) and
    is the single process's; only the bytes held differ."""
    one = _net()
    one.run(120.0)
    want = _flat(one.report().as_dict())

    def body(comm):
        net = _net().distribute(comm)
        net.run(120.0)
        return _flat(net.report().as_dict())
    for K in (2, 3):
        for got in parallel.run_threads(K, body, timeout=120):
            assert got.keys() == want.keys()
            differ = {k for k in want if not np.array_equal(np.asarray(got[k]), np.asarray(want[k]))}
            # only the bytes held (every process holds every row's pointers)
            assert all("footprint" in k for k in differ), sorted(differ)
            assert "event.counts.syn_events" in want and "event.counts.syn_events" not in differ
            assert got["network.n_synapses"] == want["network.n_synapses"]


def _traces_and_weights(net, w_static, w_plastic):
    """Run 60 ms, set the weights of the static projection 1 and the plastic projection
    3, run 60 ms more: spikes, traces and weights."""
    r1 = net.run(60.0)
    tr1 = net.projections[3].traces()
    net.projections[1].set_weights(w_static)
    net.projections[3].set_weights(w_plastic)
    r2 = net.run(60.0)
    tr2 = net.projections[3].traces()
    return dict(t=np.concatenate([r1.spikes.times, r2.spikes.times]),
                i=np.concatenate([r1.spikes.ids, r2.spikes.ids]), tr=(tr1, tr2),
                w=(net.projections[1].weights.copy(), net.projections[3].weights.copy()))


@pytest.mark.parametrize("K", [2, 3])
def test_traces_and_set_weights_of_a_partitioned_run(K):
    one = _net()
    rng = np.random.default_rng(4)
    n1, n3 = one.projections[1].n_synapses, one.projections[3].n_synapses
    w1 = rng.uniform(0.5, 3.0, n1)
    w3 = rng.uniform(0.0, 3.0, n3)
    want = _traces_and_weights(one, w1, w3)

    def body(comm):
        net = _net().distribute(comm)
        return _traces_and_weights(net, w1, w3)
    for got in parallel.run_threads(K, body, timeout=120):
        assert np.array_equal(got["t"], want["t"]) and np.array_equal(got["i"], want["i"])
        for a, b in zip(got["tr"], want["tr"]):
            assert np.array_equal(a["pre"], b["pre"]) and np.array_equal(a["post"], b["post"])
        assert np.array_equal(got["w"][0], w1)
        assert np.array_equal(got["w"][1], want["w"][1])
    # the new weights changed the run
    assert not np.array_equal(want["w"][1], w3) and want["tr"][1]["pre"].any()


def test_set_weights_of_a_partitioned_run_is_validated():
    def body(comm):
        net = _net().distribute(comm)
        net.run(1.0)
        n = net.projections[1].n_synapses
        errs = []
        for w in (np.ones(n + 1), np.full(n, np.nan)):
            try:
                net.projections[1].set_weights(w)
            except ValueError as e:
                errs.append(str(e))
        return errs
    for errs in parallel.run_threads(2, body, timeout=60):
        assert "needs shape" in errs[0] and "finite" in errs[1]


def _rule_net(spec):
    """Two populations and a Poisson source connected by the rules ``spec`` draws."""
    net = ev.Network(seed=spec["seed"])
    lif = ev.LIF(tau_m=10.0, tau_syn_exc=spec["ts"], tau_syn_inh=spec["ts"], v_th=20.0, v_reset=10.0, t_ref=1.0)
    a = net.population(spec["na"], lif, name="a", v_init=(0.0, 20.0))
    b = net.population(spec["nb"], lif, name="b", v_init=(0.0, 20.0))
    src = net.poisson_source(12, 120.0, name="src")
    for (pre, post), k, w, d in zip([(src, a), (src, b), (a, b), (b, a), (a, a)], spec["rules"], spec["w"],
                                    spec["d"]):
        rule = RULES[k]
        if isinstance(rule, cx.OneToOne) and pre.size != post.size:
            rule = cx.all_to_all()
        if isinstance(rule, (cx.FixedIndegree, cx.FixedOutdegree)) and not rule.allow_multapses:
            rule = type(rule)(min(rule.k, min(pre.size, post.size) - 1), rule.allow_autapses, False)
        net.connect(pre, post, rule, weight=w if pre is not src else 9.0, delay=d)
    net.record_state(np.arange(0, spec["na"] + spec["nb"], 3), dt=0.5)
    return net


@settings(max_examples=25, deadline=None)
@given(st.fixed_dictionaries({
    "seed": st.integers(0, 2**16), "ts": st.sampled_from([0.0, 2.0]),
    "na": st.integers(2, 25), "nb": st.integers(2, 25),
    "rules": st.lists(st.integers(0, len(RULES) - 1), min_size=5, max_size=5),
    "w": st.lists(st.sampled_from([0.5, 1.5, 4.0, -2.0]), min_size=5, max_size=5),
    "d": st.lists(st.sampled_from([0.5, 1.0, 1.5]), min_size=5, max_size=5)}), st.sampled_from([2, 3]))
def test_rule_networks_partitioned_equal_one_process(spec, K):
    one = _rule_net(spec)
    r1 = one.run(40.0)

    def body(comm):
        net = _rule_net(spec).distribute(comm)
        r = net.run(40.0)
        return r.spikes.times, r.spikes.ids, r.states.v, [p._csr is None for p in net.projections]
    for t, i, v, unbuilt in parallel.run_threads(K, body, timeout=60):
        assert np.array_equal(t, r1.spikes.times) and np.array_equal(i, r1.spikes.ids)
        assert np.array_equal(v.view(np.int64), r1.states.v.view(np.int64))
        assert all(unbuilt)


def _delays_net():
    """Per-synapse delays (rows sorted by delay, one queue event per delay group)."""
    net = ev.Network(seed=8)
    lif = ev.LIF(tau_m=10.0, tau_syn_exc=2.0, tau_syn_inh=2.0, v_th=20.0, v_reset=10.0, t_ref=1.0)
    a = net.population(40, lif, v_init=(0.0, 20.0))
    src = net.poisson_source(10, 300.0)
    net.connect(src, a, ev.fixed_indegree(6), weight=25.0, delay=0.5)
    net.connect(a, a, ev.fixed_indegree(6), weight=2.0, delay=lambda rng, n: rng.choice([0.5, 1.0, 2.5], n))
    return net


def test_counts_of_partitioned_runs_with_per_synapse_delays():
    """Every counter but the queue's is the single-process one; the queue work of rows
    with per-synapse delays (one event per delay group of each process's part) is per
    process, summed, so it is at least the single process's."""
    one = _delays_net()
    r1 = one.run(80.0)
    want = one.counts.as_dict()

    def body(comm):
        net = _delays_net().distribute(comm)
        r = net.run(80.0)
        return r.spikes.times, r.spikes.ids, net.counts.as_dict()
    for t, i, got in parallel.run_threads(2, body, timeout=60):
        assert np.array_equal(t, r1.spikes.times) and np.array_equal(i, r1.spikes.ids)
        for k, v in want.items():
            if k in ("queue_pushes", "queue_pops"):
                assert got[k] >= v, k
            else:
                assert got[k] == v, k
    assert len(r1.spikes) > 100


def test_counts_kept_per_rank_add_up():
    """``gather=False``: each process's counts (source spikes and queue work counted once,
    by one process) add up to the single-process counts."""
    one = _net()
    one.run(100.0)

    def body(comm):
        net = _net().distribute(comm, gather=False)
        net.run(100.0)
        return net.counts.as_dict()
    for K in (2, 3):
        parts = parallel.run_threads(K, body, timeout=60)
        for k, v in one.counts.as_dict().items():
            assert sum(p[k] for p in parts) == v, k
        assert one.counts.source_spikes > 0 and parts[1]["source_spikes"] == 0


def _lowrate(n):
    """The 10^6-neuron case's network (``cases.sparse_lowrate``) at n neurons, made to
    take the paths of populations over 2**15 neurons (rows loaded ahead)."""
    from eventsnn.cases import sparse_lowrate
    net = sparse_lowrate(n, seed=1)
    net._prefetch_pop = 0
    return net


def _lowrate_same(n, duration, Ks):
    one = _lowrate(n)
    r1 = one.run(duration)

    def body(comm):
        net = _lowrate(n).distribute(comm)
        r = net.run(duration)
        return r.spikes.times, r.spikes.ids, net.counts.as_dict()
    for K in Ks:
        for t, i, counts in parallel.run_threads(K, body, timeout=1200):
            assert np.array_equal(t, r1.spikes.times) and np.array_equal(i, r1.spikes.ids)
            assert counts == one.counts.as_dict()
    return r1


def test_sparse_lowrate_partitioned():
    """The 10^6 case's network at 20 000 neurons, K = 2, 3, 4: spikes and every count."""
    r = _lowrate_same(20_000, 50.0, (2, 3, 4))
    assert len(r.spikes) > 1000


@pytest.mark.slow
def test_million_neuron_case_partitioned():
    """The 10^6-neuron case itself, 50 ms, K = 2, 3, 4 (ranks as threads: minutes)."""
    r = _lowrate_same(1_000_000, 50.0, (2, 3, 4))
    assert len(r.spikes) > 10_000


def test_shards_name_rules_instead_of_storing_synapses(tmp_path):
    """A static projection a built-in rule made is saved as its rule, weight and seed:
    shards hold no synapses of it, and each process that loads one builds only its part
    again; the run continues bitwise.  A single-process file does the same."""
    one = _net()
    one.run(40.0)
    ev.save(one, str(tmp_path / "one.npz"))
    with np.load(tmp_path / "one.npz") as f:
        assert "proj0.indices" not in f.files and "proj3.indices" in f.files   # 3 is plastic
    back = ev.load(str(tmp_path / "one.npz"))
    r_one = one.run(60.0)
    r_back = back.run(60.0)
    assert np.array_equal(r_one.spikes.times, r_back.spikes.times)
    assert back.counts.as_dict() == one.counts.as_dict()
    path = str(tmp_path / "net.npz")

    def first(comm):
        net = _net().distribute(comm)
        net.run(40.0)
        ev.save(net, path)

    def second(comm):
        net = ev.load(path, comm=comm)
        r = net.run(60.0)
        return r.spikes.times, r.spikes.ids, [p._csr is None for p in net.projections]
    parallel.run_threads(2, first, timeout=60)
    with np.load(tmp_path / "net.rank1of2.npz") as f:
        assert not any(k.startswith(("proj0.", "proj1.", "proj2.", "proj4.")) for k in f.files)
    for t, i, unbuilt in parallel.run_threads(2, second, timeout=60):
        assert np.array_equal(t, r_one.spikes.times) and np.array_equal(i, r_one.spikes.ids)
        assert unbuilt[:3] == [True, True, True] and unbuilt[4]


def test_a_file_naming_an_unknown_rule_is_refused(tmp_path):
    import json
    net = _net()
    ev.save(net, str(tmp_path / "a.npz"))
    with np.load(tmp_path / "a.npz") as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    meta["projections"][0]["rule"]["rule"] = "Nonsense"
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "b.npz", **arrays)
    with pytest.raises(ValueError, match="unknown connection rule 'Nonsense'"):
        ev.load(str(tmp_path / "b.npz"))
    meta["projections"][0]["rule"]["rule"] = "FixedIndegree"
    meta["projections"][0]["seed"] += 1
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "c.npz", **arrays)
    with pytest.raises(ValueError, match="inconsistent"):
        ev.load(str(tmp_path / "c.npz"))


def test_counting_synapses_builds_nothing_whole():
    one = _net().prepare()

    def body(comm):
        net = _net().distribute(comm).prepare()
        n = (net.n_synapses, [p.n_synapses for p in net.projections])
        b = net.synapse_bytes()
        return n, b, [p._csr is None for p in net.projections]
    every = parallel.run_threads(2, body, timeout=60)
    for (n, b, unbuilt) in every:
        assert n == (one.n_synapses, [p.n_synapses for p in one.projections])
        assert all(unbuilt[:3]) and unbuilt[4]
    # the processes' synapse bytes add up to one process's, but for the one weight each
    # process keeps of a projection whose synapses share it (8 bytes)
    shared = sum(cx.is_shared(p.csr.weights) for p in one.projections)
    assert shared == 4
    assert sum(x[1]["synapse_bytes"] for x in every) == one.synapse_bytes()["synapse_bytes"] + 8 * shared
