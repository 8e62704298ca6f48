"""The F–I sweep of :meth:`CellProfiler.fi_curve <bmtool_lab.tuning.profiler.CellProfiler.fi_curve>`
on one executor: its steps in increasing current and the rheobase search that starts as soon as
the bracket (last silent, first spiking step) is known."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..analysis.fi import RheobaseSearch
from ..sim.errors import SimError
from ..sim.executor import Feed
from .profiler_results import FICurve

__all__ = ["FIFeed", "bracket"]


def bracket(currents: np.ndarray, n_spikes: np.ndarray) -> tuple[float, float] | float | None:
    """(silent, spiking) currents around the threshold, a number when no search is needed (the
    lowest step spikes), None when no step spikes; "wait" while a step below the first spiking
    one has not finished (n_spikes -1)."""
    order = np.argsort(currents, kind="stable")
    c, n = currents[order], n_spikes[order]
    for k in range(c.size):
        if n[k] == -1:
            return "wait"  # type: ignore[return-value]
        if n[k] > 0:
            if k > 0:
                return float(c[k - 1]), float(c[k])
            return (0.0, float(c[0])) if c[0] > 0 else float(c[0])
    return None


class FIFeed(Feed):
    """An F–I sweep and its rheobase search on one executor (:meth:`CellProfiler.fi_curve`).

    Steps go out in increasing current, so the bracket (last silent, first spiking step) is
    known as soon as the steps up to it have finished; from then on every idle worker gets a
    rheobase probe first (one at a time while steps remain to start; up to one per worker
    once they have all started), narrowing the bracket on
    :class:`~bmtool_lab.analysis.fi.RheobaseSearch`'s grid. Probes stop at the first spike;
    probes left outside the bracket are cancelled."""

    def __init__(self, curve: FICurve, steps: list[dict], took: Callable[[int, Any], None],
                 resolution_nA: float | None, n_workers: int):
        self.curve, self.steps, self.took = curve, steps, took
        self.resolution_nA, self.n_workers = resolution_nA, max(1, n_workers)
        self.todo = list(np.argsort(curve.currents_nA, kind="stable"))
        self.items: dict[int, tuple[str, int]] = {}  # item -> ("step", step index) | ("probe", grid index)
        self.probes: dict[int, int] = {}  # in flight: item -> grid index
        self.search: RheobaseSearch | None = None
        self.searching = resolution_nA is not None
        self.rheobase_nA = float("nan")
        self.error: SimError | None = None
        self._n = 0

    def take(self, n: int) -> list[dict]:
        out: list[dict] = []
        while len(out) < n:
            k = self._probe() if self.search is not None else None
            if k is not None:
                self.probes[self._n] = k
                self.items[self._n] = ("probe", k)
                kw = {key: v for key, v in self.steps[0].items() if key != "amp_nA"}
                out.append(dict(kw, amp_nA=self.search.current(k), keep_trace=False, first_spike=True))
            elif self.todo:
                i = int(self.todo.pop(0))
                self.items[self._n] = ("step", i)
                out.append(self.steps[i])
            else:
                break
            self._n += 1
        return out

    def _probe(self) -> int | None:
        assert self.search is not None
        limit = 1 if self.todo else self.n_workers
        if self.search.done or self.error is not None or len(self.probes) >= limit:
            return None
        return self.search.next(self.probes.values())

    def put(self, i: int, result: Any) -> None:
        what, k = self.items.pop(i)
        if what == "step":
            self.took(k, result)
            if self.searching and self.search is None:
                self._start_search()
            return
        self.probes.pop(i, None)
        search = self.search
        assert search is not None
        if search.done or not search.lo_k < k < search.hi_k:
            return  # an answer no longer needed (cancelled or not)
        if isinstance(result, SimError):
            self.error = self.error or result
        elif result.get("unstable"):
            self.error = self.error or SimError("model", f"rheobase search at {search.current(k) * 1e3:g} pA: "
                                                         f"{result['unstable']}")
        else:
            search.report(k, result["n_spikes"] >= 1)
            if search.done:
                self.rheobase_nA = search.value

    def _start_search(self) -> None:
        br = bracket(self.curve.currents_nA, self.curve.n_spikes)
        if isinstance(br, str):
            return
        self.searching = False
        if br is None or not isinstance(br, tuple):
            self.rheobase_nA = float("nan") if br is None else br
        elif br[1] - br[0] <= self.resolution_nA:  # type: ignore[operator]
            self.rheobase_nA = br[1]
        else:
            self.search = RheobaseSearch(br[0], br[1], self.resolution_nA)  # type: ignore[arg-type]

    def obsolete(self) -> list[int]:
        if self.search is None:
            return []
        if self.search.done or self.error is not None:
            return list(self.probes)
        gone = set(self.search.obsolete(self.probes.values()))
        return [i for i, k in self.probes.items() if k in gone]
