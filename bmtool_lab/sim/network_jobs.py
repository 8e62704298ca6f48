"""Executor jobs for network sweeps (:meth:`NetworkSimulation.sweep`): each item launches one
BioNet child (:func:`bmtool_lab.sim.bionet_run.run_bionet`) on a run config the kernel wrote;
the worker only waits for it, and a cancelled item stops its child."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the type only
    from .context import WorkerContext

__all__ = ["network_run_job"]


def network_run_job(ctx: WorkerContext, run_config: str, model_config: str, tstop_ms: float, ranks: int = 1,
                    timeout_s: float | None = None) -> dict[str, Any]:
    """Run one network (rank count ``ranks``) and return run_bionet's account of it."""
    from bmtool_lab.sim.bionet_run import run_bionet  # local: heavy: numpy (bionet_run), in the child only

    stop = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            if ctx.cancelled():
                stop.set()
                return

    threading.Thread(target=watch, name="bmtool_lab-sweep-cancel", daemon=True).start()
    try:
        res = run_bionet(Path(run_config), Path(model_config), tstop_ms=tstop_ms, ranks=ranks, stop=stop,
                         timeout_s=timeout_s)
    finally:
        done.set()
    return {k: res[k] for k in ("stopped", "t_stop_ms", "spikes_kept", "wall_s", "log")}
