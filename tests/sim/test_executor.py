"""Sweeps through the local pool and a real dask.distributed LocalCluster."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import simjobs

from bmtool_lab.model.cell_types import find_cell_type
from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.executor import DaskExecutor, LocalPool, default_pool, get_executor

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def pool():
    with LocalPool(2) as p:
        yield p


def _sweep(cell_types):
    ct = find_cell_type(cell_types, "BS")
    return [{"cell_type": ct, "amp_nA": a} for a in np.linspace(0.0, 1.5, 6)]


def test_pool_results_in_order_with_progress(pool):
    seen = []
    out = pool.map(simjobs.slow_square, [{"x": i, "delay_s": 0.05 * (5 - i)} for i in range(6)],
                   on_result=lambda i, r: seen.append(i))
    assert out == [i * i for i in range(6)]
    assert sorted(seen) == list(range(6)) and seen != list(range(6))  # reported as they finished


def test_a_failing_item_does_not_lose_the_others(pool, segv_mod_dir):
    kwargs = [{"x": 1}, {"x": 0}, {"x": 2}]
    out = pool.map(simjobs.python_error, kwargs)
    assert out[0] == 1.0 and out[2] == 0.5
    assert isinstance(out[1], SimError) and out[1].kind == "python" and "x=0" in out[1].params
    # a crash and a timeout in the middle of a sweep
    mixed = pool.map(simjobs.slow_square, [{"x": 3}] * 2) + pool.map(
        simjobs.segfault, [{"mod_dir": str(segv_mod_dir)}])
    assert mixed[:2] == [9, 9] and mixed[2].kind == "crash"
    t0 = time.monotonic()
    out = pool.map(simjobs.slow_square, [{"x": 2}, {"x": 3, "delay_s": 30.0}, {"x": 4}], timeout=1.0)
    assert out[0] == 4 and out[2] == 16 and out[1].kind == "timeout"
    assert time.monotonic() - t0 < 6.0
    assert pool.map(simjobs.slow_square, [{"x": 5}]) == [25]


def test_stop_event_cancels_the_rest(pool):
    stop = threading.Event()
    fut = pool.map_async(simjobs.cooperative_wait, [{"seconds": 20}] * 4, stop=stop)
    time.sleep(0.5)
    stop.set()
    out = fut.result(timeout=10)
    assert all(isinstance(r, SimError) and r.kind == "cancelled" for r in out)


def test_get_executor():
    assert get_executor(None) is default_pool()
    p = LocalPool(1)
    assert get_executor(p) is p
    with pytest.raises(TypeError):
        get_executor("two workers")


def test_local_pool_and_dask_give_identical_results(pool, cell_types):
    distributed = pytest.importorskip("distributed")
    sweep = _sweep(cell_types)
    local = pool.map(simjobs.fi_point, sweep)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ex = get_executor(client)
        assert isinstance(ex, DaskExecutor) and ex.n_workers == 2
        seen = []
        remote = ex.map(simjobs.fi_point, sweep, on_result=lambda i, r: seen.append(i))
        failing = ex.map(simjobs.python_error, [{"x": 0}, {"x": 4}])
    assert sorted(seen) == list(range(len(sweep)))
    assert [r["spikes"] for r in local] == [r["spikes"] for r in remote]
    assert any(r["spikes"] > 0 for r in local)
    for a, b in zip(local, remote, strict=True):
        assert np.array_equal(a["v"], b["v"])
    assert isinstance(failing[0], SimError) and failing[0].kind == "python" and failing[1] == 0.25
