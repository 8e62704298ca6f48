"""The synapse tuner's sweeps: the frequency response and bmtool's synaptic table (a mixin of
:class:`~bmtool_lab.tuning.synapse.SynapseTuner`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from bmtool_lab.tuning.synapse_protocol import (
    TunerError,
    analyse_run,
)


class SynapseSweeps:
    """Frequency response and synaptic table of :class:`~bmtool_lab.tuning.synapse.SynapseTuner`."""

    # --- sweeps ---------------------------------------------------------------------------
    def frequency_response(self, freqs: Sequence[float] = (1, 5, 10, 20, 50, 100, 200), **protocol: Any) -> Any:
        """STP indices for every frequency (Hz), run in parallel through the sweep executor.

        A DataFrame indexed by freq_hz: simple_ppr, ppr, induction, recovery, amplitudes (list)
        and ``error`` (the message of a failed frequency, else "").
        """
        import pandas as pd

        # local: import-time cost: multiprocessing (the executor), on the first sweep
        from bmtool_lab.sim.executor import get_executor

        st = self._st()
        base = self._protocol_with(protocol)
        protos = [replace(base, freq_hz=float(f)).validated() for f in freqs]
        kwargs = [self._job_kwargs(st, p, "train", stream=False) for p in protos]
        outs = get_executor(self.executor).map(self._run_job, kwargs, timeout=300)
        rows = []
        for f, p, out in zip(freqs, protos, outs, strict=True):
            row: dict[str, Any] = {"freq_hz": float(f)}
            if isinstance(out, BaseException):
                row.update(simple_ppr=np.nan, ppr=np.nan, induction=np.nan, recovery=np.nan, amplitudes=None,
                           error=str(out))
            else:
                res = analyse_run(out, p, "train", self.convention, label=st.label, params=dict(st.params))
                row.update({k: res.metrics.get(k, np.nan) for k in ("simple_ppr", "ppr", "induction", "recovery")})
                row.update(amplitudes=list(res.amplitudes), error="")
                if res.no_response:
                    row["no_response"] = res.no_response
            rows.append(row)
        return pd.DataFrame(rows).set_index("freq_hz")

    def synaptic_table(self, kind: str = "single", **protocol: Any) -> Any:
        """Metrics of every connection (current parameters, unsaved ones included), in parallel.

        ``kind="single"``: one event each; ``"train"``: the train protocol too (STP indices).
        A DataFrame with one row per connection; units in the column names; ``error`` says
        why a connection could not run.
        """
        import pandas as pd

        # local: import-time cost: multiprocessing (the executor), on the first sweep
        from bmtool_lab.sim.executor import get_executor

        p = self._protocol_with(protocol)
        items, rows = [], []
        for ct in self.connections:
            row: dict[str, Any] = {"connection": ct.name,
                                   "source": "/".join(map(str, ct.source_groups)) or ct.source_population,
                                   "target": "/".join(map(str, ct.target_groups)) or ct.target_population,
                                   "mechanism": ct.model_template, "error": ""}
            rows.append(row)
            try:
                st = self._states.get(ct.key) or self._new_state(ct)
                self._states.setdefault(ct.key, st)
            except Exception as err:
                row["error"] = str(err)
                continue
            items.append((row, st, self._job_kwargs(st, p, kind, stream=False)))
        outs = get_executor(self.executor).map(self._run_job, [kw for _, _, kw in items], timeout=300)
        for (row, st, _), out in zip(items, outs, strict=True):
            if isinstance(out, BaseException):
                row["error"] = str(out)
                continue
            res = analyse_run(out, p, kind, self.convention, label=st.label, params=dict(st.params))
            row["no_response"] = res.no_response or ""  # the row is marked: no metrics, and why
            for k, v in res.metrics.items():
                if isinstance(v, list) or k in ("sign", "baseline", "t_peak_ms"):
                    continue
                unit = res.units.get(k, "")
                col = k if k.endswith("_ms") or unit in ("", "1") else f"{k}_{unit}"
                row[col] = v
            row["placement"] = f"{res.placement.get('section', '')}({res.placement.get('x', 0.5):.3g})"
        df = pd.DataFrame(rows)
        self._table = df
        return df

    def synaptic_table_figure(self, table: Any = None, metric: str | None = None) -> Any:
        """A matplotlib bar chart of one metric of :meth:`synaptic_table` per connection."""
        import matplotlib

        if "matplotlib.pyplot" not in __import__("sys").modules:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        df = table if table is not None else getattr(self, "_table", None)
        if df is None:
            df = self.synaptic_table()
        if metric is None:
            metric = next((c for c in df.columns if c.startswith("amplitude")), None)
        if metric is None or metric not in df:
            raise TunerError(f"no metric {metric!r} in the table; columns: {', '.join(df.columns)}")
        fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(df)), 3.2))
        ax.bar(df["connection"], df[metric].astype(float), color="#4c72b0")
        ax.set_ylabel(metric)
        ax.set_title("synaptic table")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        fig.tight_layout()
        return fig
