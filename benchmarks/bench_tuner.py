"""Synapse tuner: per-update overhead, CVODE + checkpoint vs fixed step, synaptic table 2 vs 1 worker.

    python benchmarks/bench_tuner.py            # prints JSON
    python benchmarks/bench_tuner.py --quick    # fewer repetitions

Measured on the bundled example network (built into a temporary folder):

- ``update``: a parameter change → new TrainResult, headless (``set_params`` + ``run_train``),
  against the bare NEURON time of the run in the worker (``sim_ms``). ``kernel_overhead_pct`` =
  (wall − worker job time) / sim time: what the kernel adds (IPC, unpickling, building the
  result); ``total_overhead_pct`` = (wall − sim) / sim also counts the worker's own work around
  NEURON (applying parameters, measuring the metrics). Target: kernel overhead ≤ 20 %.
- ``train``: the train protocol as the tuner runs it (CVODE, baseline skipped by the checkpoint
  after a Use change) vs fixed step dt = 0.025 ms over the full 500 ms baseline (bmtool's way);
  speed-up (target ≥ 5×) and the largest relative difference of the pulse amplitudes and
  first-event metrics (target ≤ 1 %).
- ``synaptic_table``: all 8 connections on a warm pool of 2 workers vs 1.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    reps = 8 if quick else 25
    from bmtool_lab.examples import build_example
    from bmtool_lab.sim.executor import LocalPool
    from bmtool_lab.tuning.synapse import SynapseTuner

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_example(Path(tmp) / "example")
        tn = SynapseTuner(cfg, connection="Exc2Exc")
        try:
            # --- one update -------------------------------------------------------------------
            tn.set_protocol(t_start_ms=500.0)
            tn.run_train()  # build the cell, load mechanisms, first baseline
            walls, sims, jobs, measures, restored = [], [], [], [], 0
            for k in range(reps):
                tn.set_params(Use=0.42 + 0.01 * (k % 5))
                t0 = time.perf_counter()
                res = tn.run_train()
                walls.append((time.perf_counter() - t0) * 1e3)
                sims.append(res.sim_ms)
                jobs.append(res.info["job_ms"])
                measures.append(res.info["measure_ms"])
                restored += bool(res.restored)
            wall, sim, job = statistics.median(walls), statistics.median(sims), statistics.median(jobs)
            out["update"] = {
                "connection": "Exc2Exc", "protocol": "train 8+4 pulses at 50 Hz, voltage clamp, CVODE",
                "wall_ms": round(wall, 2), "sim_ms": round(sim, 2), "worker_job_ms": round(job, 2),
                "measure_in_worker_ms": round(statistics.median(measures), 2),
                "kernel_overhead_pct": round(100 * (wall - job) / sim, 1),
                "total_overhead_pct": round(100 * (wall - sim) / sim, 1),
                "baseline_skipped_runs": f"{restored}/{reps}", "target_kernel_overhead_pct": 20,
            }

            # --- CVODE + checkpoint vs fixed step over the full baseline -------------------------
            tn.set_params(Use=0.42)
            tn.run_train()
            tn.set_params(Use=0.43)
            fast_runs = []
            for _ in range(max(3, reps // 4)):
                tn.set_params(Use=0.42)
                tn.set_params(Use=0.43)
                fast_runs.append(tn.run_train())
            fixed_runs = [tn.run_train(cvode=False, checkpoint=False) for _ in range(3)]
            fast_ms = statistics.median(r.sim_ms for r in fast_runs)
            fixed_ms = statistics.median(r.sim_ms for r in fixed_runs)
            a, b = fast_runs[-1], fixed_runs[-1]
            err_amp = max(abs(x / y - 1) for x, y in zip(a.amplitudes, b.amplitudes, strict=True))
            err_evt = max(abs(a.metrics[k] / b.metrics[k] - 1) for k in ("amplitude", "rise_time_ms", "decay_tau_ms",
                                                                          "half_width_ms"))
            out["train"] = {
                "cvode_checkpoint_ms": round(fast_ms, 2), "fixed_step_full_baseline_ms": round(fixed_ms, 2),
                "speedup": round(fixed_ms / fast_ms, 1), "baseline_skipped": bool(a.restored),
                "max_amplitude_error_pct": round(100 * err_amp, 3), "max_event_metric_error_pct": round(100 * err_evt, 3),
                "note": "both runs include the single-event kernel used for deconvolution",
                "targets": {"speedup": 5, "error_pct": 1},
            }
        finally:
            tn.close()

        # --- synaptic table on 1 vs 2 workers ---------------------------------------------------
        times = {}
        for n in (1, 2):
            with LocalPool(n_workers=n) as pool:
                pool.start(wait_ready=True)
                tab = SynapseTuner(cfg, executor=pool)
                try:
                    tab.synaptic_table()  # warm: cells and mechanisms in every worker
                    runs = []
                    for _ in range(2 if quick else 3):
                        t0 = time.perf_counter()
                        df = tab.synaptic_table(kind="train")
                        runs.append(time.perf_counter() - t0)
                    assert (df["error"] == "").all(), df["error"].tolist()
                finally:
                    tab.close()
            times[n] = statistics.median(runs)
        out["synaptic_table"] = {"connections": 8, "kind": "train (kernel + train per connection)",
                                 "one_worker_s": round(times[1], 3), "two_workers_s": round(times[2], 3),
                                 "speedup": round(times[1] / times[2], 2)}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
