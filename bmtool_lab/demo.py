"""The quick-start demo: a live current-clamp trace of one cell type of a BMTK network.

``TraceDemo(config, cell="Exc")`` builds the cell in a worker process (never in the kernel),
runs a current step and streams the membrane potential into a :class:`TracePanel` while
NEURON advances. Moving the amplitude slider re-runs at once ("latest wins"). Headless,
``demo.run(amp_nA=0.1)`` returns the same numbers without any widget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .analysis.fi import firing_rate_hz, spike_times
from .model.config import load_config
from .sim import protocol

if TYPE_CHECKING:  # the type only
    from .sim.context import WorkerContext


def current_step_job(ctx: WorkerContext, cell_type: Any, amp_nA: float, delay_ms: float, dur_ms: float,
                     tstop_ms: float, celsius: float, v_init: float, dt: float) -> dict:
    """Worker job: inject a current step at the soma and record v (mV)."""
    from bmtool_lab.sim import cells  # local: heavy: pandas, h5py (sim.cells)

    cell = ctx.model(("cell", cell_type), lambda: cells.build_cell(cell_type))
    clamp = protocol.iclamp(cell.seg("soma"), amp_nA, delay_ms, dur_ms)
    rec = protocol.Recorder().record_v("v_soma", cell.seg("soma"))
    settings = protocol.SimSettings(tstop=tstop_ms, dt=dt, celsius=celsius, v_init=v_init)
    t0 = time.perf_counter()
    trace = protocol.simulate(settings, rec, ctx=ctx, chunk_ms=20.0)
    wall_ms = (time.perf_counter() - t0) * 1e3
    del clamp  # the clamp must not outlive the run: the next run places its own
    return {"t": trace.t, "v": trace["v_soma"], "wall_ms": wall_ms}


@dataclass
class StepResult:
    """One current-step run: time (ms), soma v (mV), spike times (ms), rate in the step (Hz)."""

    t_ms: np.ndarray
    v_mV: np.ndarray
    spike_times_ms: np.ndarray
    rate_hz: float
    amp_nA: float
    wall_ms: float

    @property
    def metrics(self) -> dict[str, float]:
        return {"amp_nA": self.amp_nA, "n_spikes": int(self.spike_times_ms.size), "rate_Hz": self.rate_hz,
                "v_min_mV": float(self.v_mV.min()), "v_max_mV": float(self.v_mV.max()),
                "wall_ms": self.wall_ms}


class TraceDemo:
    """Live current-clamp trace of ``cell`` (a pop_name / node type / template of the config)."""

    title = "Trace demo"

    def __init__(self, config: str | Path, cell: str = "Exc", amp_nA: float = 0.2,
                 delay_ms: float = 50.0, dur_ms: float = 300.0, tstop_ms: float = 400.0) -> None:
        # local: heavy: pandas, h5py (model.cell_types)
        from .model.cell_types import find_cell_type, list_cell_types

        self.config = load_config(config)
        self.cell_type = find_cell_type(list_cell_types(self.config), cell)
        self.amp_nA, self.delay_ms, self.dur_ms, self.tstop_ms = amp_nA, delay_ms, dur_ms, tstop_ms
        self._worker = None
        self._widget = None
        self._panel = None
        self.last: StepResult | None = None

    # --- headless -------------------------------------------------------------------------
    @property
    def worker(self):
        if self._worker is None:
            # local: import-time cost: multiprocessing (the worker), on the first run
            from .sim.worker import InteractiveWorker

            self._worker = InteractiveWorker(name=f"demo-{self.cell_type.name}", timeout_s=120,
                                             on_partial=self._on_partial)
        return self._worker

    def _job_kwargs(self, amp_nA: float) -> dict:
        run = self.config.run
        return dict(cell_type=self.cell_type, amp_nA=float(amp_nA), delay_ms=self.delay_ms, dur_ms=self.dur_ms,
                    tstop_ms=self.tstop_ms, celsius=run.celsius, v_init=run.v_init, dt=run.dt)

    def _result(self, out: dict, amp_nA: float) -> StepResult:
        t, v = np.asarray(out["t"]), np.asarray(out["v"])
        spikes = np.asarray(spike_times(t, v, threshold_mV=-15.0))
        rate = firing_rate_hz(spikes, self.delay_ms, self.delay_ms + self.dur_ms)
        return StepResult(t, v, spikes, float(rate), float(amp_nA), float(out["wall_ms"]))

    def run(self, amp_nA: float | None = None) -> StepResult:
        """Run one current step (blocking) and return the trace and its metrics."""
        amp = self.amp_nA if amp_nA is None else amp_nA
        self.last = self._result(self.worker.call(current_step_job, **self._job_kwargs(amp)), amp)
        if self._panel is not None:
            self._draw(self.last, final=True)
        return self.last

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    # --- dashboard ------------------------------------------------------------------------
    @property
    def widget(self):
        if self._widget is None:
            self._widget = self._build_widget()
            self.submit(self.amp_nA)
        return self._widget

    def _build_widget(self):
        import ipywidgets as w

        from .widgets.trace import TracePanel  # local: heavy: ipywidgets, anywidget (widgets.trace)

        self._panel = TracePanel(title=f"{self.cell_type.name}: soma membrane potential", y_label="v (mV)")
        self._slider = w.FloatSlider(value=self.amp_nA, min=-0.1, max=0.3, step=0.005, readout_format=".3f",
                                     description="step (nA)", continuous_update=True,
                                     layout=w.Layout(width="95%"))
        self._slider.add_class("bmtl-demo-amp")
        self._readout = w.HTML()
        self._readout.add_class("bmtl-demo-metrics")
        self._slider.observe(lambda ch: self.submit(ch["new"]), names="value")
        box = w.VBox([self._slider, self._panel, self._readout], layout=w.Layout(width="100%"))
        box.add_class("bmtl-demo")
        return box

    def submit(self, amp_nA: float) -> None:
        """Start a run for the dashboard and return at once (a newer call replaces a waiting one)."""
        self.amp_nA = float(amp_nA)
        self._panel.status = f"running {amp_nA:.3f} nA…"
        future = self.worker.submit(current_step_job, **self._job_kwargs(amp_nA))
        future.add_done_callback(lambda f, a=float(amp_nA): self._on_done(f, a))

    def _on_partial(self, partial: dict) -> None:
        if self._panel is None:
            return
        trace = partial["trace"]
        pct = 100.0 * partial["t_ms"] / max(partial["tstop_ms"], 1e-9)
        self._panel.push(trace.t, [trace["v_soma"]], self._series(), status=f"running {pct:.0f}%",
                         markers=[self.delay_ms, self.delay_ms + self.dur_ms], final=False)

    def _on_done(self, future, amp_nA: float) -> None:
        if future.cancelled():
            return
        err = future.exception()
        if err is not None:
            self._panel.show_error(f"{type(err).__name__}: {err}")
            return
        self.last = self._result(future.result(), amp_nA)
        self._draw(self.last, final=True)

    def _series(self) -> list[dict]:
        return [{"label": "v soma", "unit": "mV", "color": "#1f77b4"}]

    def _draw(self, res: StepResult, final: bool) -> None:
        m = res.metrics
        self._panel.push(res.t_ms, [res.v_mV], self._series(), markers=[self.delay_ms, self.delay_ms + self.dur_ms],
                         status=f"done: {m['n_spikes']} spikes, {m['rate_Hz']:.1f} Hz in the step; "
                                f"NEURON {m['wall_ms']:.0f} ms", autoscale=True, final=final)
        self._readout.value = (f"<b>{res.amp_nA:.3f} nA</b>: {m['n_spikes']} spikes, "
                               f"rate {m['rate_Hz']:.1f} Hz, v range {m['v_min_mV']:.1f} to {m['v_max_mV']:.1f} mV")

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)
