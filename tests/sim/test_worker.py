"""InteractiveWorker: isolation between dashboards, latest wins, cancel, and recovery from
hoc errors, segfaults and endless loops while another worker keeps working."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import simjobs

from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.worker import InteractiveWorker

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def pair():
    a = InteractiveWorker("A", timeout_s=60)
    b = InteractiveWorker("B", timeout_s=60)
    yield a, b
    a.close()
    b.close()


def same(t1, t2) -> bool:
    return np.array_equal(t1.t, t2.t) and all(np.array_equal(t1.values[k], t2.values[k]) for k in t1.values)


def test_kernel_does_not_import_neuron():
    code = ("import sys, simjobs\n"
            "from bmtool_lab.sim.worker import InteractiveWorker\n"
            "from bmtool_lab.sim import executor, protocol, cells\n"
            "with InteractiveWorker('k') as w:\n"
            "    assert w.call(simjobs.hh_step, tstop=20.0).t[-1] == 20.0\n"
            "assert 'neuron' not in sys.modules, 'the kernel imported NEURON'\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p or os.getcwd() for p in sys.path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_two_controllers_with_different_settings_match_each_alone(pair):
    a, b = pair
    cfg_a = {"dt": 0.025, "celsius": 6.3}
    cfg_b = {"dt": 0.05, "celsius": 16.0, "cvode": True}
    alone_a = a.call(simjobs.hh_step, **cfg_a)
    alone_b = b.call(simjobs.hh_step, **cfg_b)
    assert not same(alone_a, alone_b)  # the settings matter
    # both at once, and each worker also running the other's settings in between
    fa, fb = a.submit(simjobs.hh_step, **cfg_a), b.submit(simjobs.hh_step, **cfg_b)
    assert same(fa.result(), alone_a) and same(fb.result(), alone_b)
    a.call(simjobs.hh_step, **cfg_b)
    assert same(a.call(simjobs.hh_step, **cfg_a), alone_a)
    assert a.call(simjobs.global_settings) == {"dt": 0.025, "celsius": 6.3, "cvode": 0}


def test_latest_wins_cancels_the_waiting_job(pair):
    a, _ = pair
    first = a.submit(simjobs.slow_square, x=2, delay_s=0.3)
    second = a.submit(simjobs.slow_square, x=3)
    third = a.submit(simjobs.slow_square, x=4)
    assert first.result(timeout=10) == 4
    assert second.cancelled()
    assert third.result(timeout=10) == 16


def test_python_error_is_a_simerror_and_the_worker_stays(pair):
    a, _ = pair
    pid = a.call(simjobs.pid)
    with pytest.raises(SimError) as info:
        a.call(simjobs.python_error, x=0)
    err = info.value
    assert err.kind == "python" and "ZeroDivisionError" in err.message
    assert err.job.endswith("python_error") and "x=0" in err.params and "Traceback" in err.detail
    assert a.call(simjobs.pid) == pid


def test_cancel_is_cooperative(pair):
    a, _ = pair
    pid = a.call(simjobs.pid)
    fut = a.submit(simjobs.cooperative_wait, seconds=30)
    time.sleep(0.2)
    t0 = time.monotonic()
    assert a.cancel()
    with pytest.raises(SimError) as info:
        fut.result(timeout=10)
    assert info.value.kind == "cancelled"
    assert time.monotonic() - t0 < 10.0  # the 30 s job stopped early (cancelled), whatever the load
    assert a.call(simjobs.pid) == pid  # stopped by itself: not killed


def test_partial_results_are_throttled_and_only_from_the_running_job(pair):
    a, _ = pair
    partials = []
    t0 = time.monotonic()
    fut = a.submit_job(simjobs.hh_step, {"tstop": 6000.0, "chunk_ms": 1.0}, on_partial=partials.append)
    trace = fut.result(timeout=30)
    wall = time.monotonic() - t0
    assert len(partials) >= 2, "a progressive run publishes partial traces"
    assert len(partials) <= 30 * wall + 1  # throttled to 30 per second
    assert all(p["t_ms"] <= p["tstop_ms"] for p in partials)
    assert len(partials[-1]["trace"]) <= len(trace)
    times = [p["t_ms"] for p in partials]
    assert times == sorted(times)


def test_hoc_error_gives_simerror_and_a_fresh_worker(pair):
    a, b = pair
    old = a.call(simjobs.pid)
    with pytest.raises(SimError) as info:
        a.call(simjobs.hoc_error)
    err = info.value
    assert err.kind == "hoc"
    assert "deliberate failure" in err.message + err.detail
    assert b.call(simjobs.slow_square, x=5) == 25  # the other dashboard is unaffected
    assert a.call(simjobs.pid) != old  # replaced transparently


def test_segfault_in_a_mod_file_is_reported_and_recovered(pair, segv_mod_dir):
    a, b = pair
    fut_b = b.submit(simjobs.hh_step)
    t0 = time.monotonic()
    with pytest.raises(SimError) as info:
        a.call(simjobs.segfault, timeout=30, mod_dir=str(segv_mod_dir))
    err = info.value
    assert err.kind == "crash" and "SIGSEGV" in err.message
    assert time.monotonic() - t0 < 10
    assert len(fut_b.result(timeout=30)) > 0
    assert a.call(simjobs.slow_square, x=6) == 36


@pytest.mark.parametrize("job", [simjobs.python_forever, simjobs.hoc_forever])
def test_endless_loop_times_out_and_the_worker_is_replaced(pair, job):
    a, b = pair
    old = a.call(simjobs.pid)
    t0 = time.monotonic()
    with pytest.raises(SimError) as info:
        a.call(job, timeout=0.5)
    assert info.value.kind == "timeout"
    assert time.monotonic() - t0 < 0.5 + a.grace_s + 3.0
    assert b.call(simjobs.slow_square, x=7) == 49
    assert a.call(simjobs.pid) != old


def test_partial_callbacks_run_off_the_calling_thread():
    seen = []
    with InteractiveWorker("threads", on_partial=lambda p: seen.append(threading.current_thread().name)) as w:
        w.call(simjobs.hh_step, tstop=2000.0, chunk_ms=1.0)
    assert seen and all(name != threading.current_thread().name for name in seen)


def test_closed_worker_refuses_jobs():
    w = InteractiveWorker("closing", start=False)
    w.close()
    with pytest.raises(RuntimeError):
        w.submit(simjobs.pid)
