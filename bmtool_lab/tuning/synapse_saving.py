"""The synapse tuner's saving: preview, save into the dynamics JSON, save as a new file (a mixin
of :class:`~bmtool_lab.tuning.synapse.SynapseTuner`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bmtool_lab.model.dynamics import (
    DynamicsError,
    diff_dynamics,
    format_diff,
    load_dynamics_with_mtime,
    save_as_new,
    save_dynamics,
    shared_users,
)
from bmtool_lab.tuning.synapse_protocol import (
    TunerError,
)


class SynapseSaving:
    """Saving of :class:`~bmtool_lab.tuning.synapse.SynapseTuner`'s parameters."""

    # --- saving ---------------------------------------------------------------------------
    def preview_save(self) -> str:
        """What :meth:`save` would change, one line per parameter (``tau2: 8.0 -> 9.5 ms``)."""
        st = self._st()
        if st.ct is None or st.ct.dynamics_path is None:
            return format_diff([]) if not self._updates(st) else \
                "\n".join(f"{k}: (new) {v!r}" for k, v in self._updates(st).items())
        return format_diff(diff_dynamics(st.ct.dynamics_path, self._updates(st)))

    def save(self, shared: str | None = None) -> Any:
        """Write the tuned parameters into the selected connection's dynamics JSON.

        Only changed keys are written (``erev`` stays ``erev``; unknown keys and their order are
        kept); atomic, with a backup; NaN refused; a file changed on disk since it was loaded is
        refused. When several edge types share the file, raises TunerError unless
        ``shared="ok"`` (then all of them change) — or use :meth:`save_as`. Emits "saved".
        """
        st = self._st()
        if st.ct is None:
            raise TunerError("this tuner has no dynamics file (built without BMTK): use save_as('name.json')")
        if st.ct.dynamics_path is None:
            raise TunerError(f"{st.label}: the edge type names no dynamics file")
        users = shared_users(self._all_types, st.ct.dynamics_path)
        if len(users) > 1 and shared != "ok":
            names = ", ".join(u.name for u in users)
            raise TunerError(f"{Path(st.ct.dynamics_path).name} is shared by {len(users)} edge types ({names}); "
                             "saving changes all of them. Call save(shared='ok') to do that, or "
                             f"save_as('{Path(st.ct.dynamics_path).stem}_new.json') to give {st.label} its own file.")
        updates = self._updates(st)
        for k, v in updates.items():
            if not math.isfinite(v):
                raise TunerError(f"{k} = {v!r} is not a finite number: nothing was saved")
        try:
            result = save_dynamics(st.ct.dynamics_path, updates, backup=True, expected_mtime=st.mtime_ns)
        except DynamicsError as err:
            self._emit("error", err)
            raise
        self._reload_file(Path(st.ct.dynamics_path), result.mtime_ns)
        self._emit("saved", result)
        return result

    def _reload_file(self, path: Path, mtime_ns: int) -> None:
        fresh, mtime = load_dynamics_with_mtime(path)
        for st in self._states.values():
            if st.ct is not None and st.ct.dynamics_path is not None and Path(st.ct.dynamics_path).resolve() \
                    == path.resolve():
                st.file_params, st.mtime_ns = dict(fresh), mtime

    def save_as(self, new_name: str | Path, repoint: str | Iterable[Any] = "all", overwrite: bool = False) -> Any:
        """Save the tuned parameters to a new dynamics JSON (in synaptic_models_dir) and point edge
        types at it in the edge-types CSV: ``repoint="all"`` (every type sharing the current
        file), or a list of names / (population, id) / ConnectionTypes (the current one is
        always included). Connection types are re-read afterwards; unsaved tuning of other
        connections is kept. Emits "saved".
        """
        st = self._st()
        params = {k: v for k, v in st.params.items()}
        if st.ct is None:
            try:
                res = save_as_new(new_name, {**st.file_params, **params}, [], source_path=None, overwrite=overwrite)
            except DynamicsError as err:
                self._emit("error", err)
                raise
            st.file_params = {**st.file_params, **params}
            self._emit("saved", res)
            return res
        if repoint == "all":
            types = shared_users(self._all_types, st.ct.dynamics_path) if st.ct.dynamics_path else [st.ct]
        else:
            types = [self._find(r) for r in repoint]  # type: ignore[union-attr]
            if st.ct.key not in {t.key for t in types}:
                types.insert(0, st.ct)
        try:
            res = save_as_new(new_name, params, types, source_path=st.ct.dynamics_path, overwrite=overwrite,
                              synaptic_models_dir=self.config.synaptic_models_dir if self.config else None)
        except DynamicsError as err:
            self._emit("error", err)
            raise
        self._refresh_types()
        self._emit("saved", res)
        return res

    def _refresh_types(self) -> None:
        """Re-read the connection types after the edge-types CSV changed; keep every state."""
        # local: heavy: pandas, h5py (model.connection_types, sonata)
        from bmtool_lab.model.connection_types import list_connection_types
        from bmtool_lab.model.sonata import clear_cache

        clear_cache()
        self._all_types = list_connection_types(self.config)
        self.connections = [ct for ct in self._all_types if not ct.is_gap_junction]
        self.gap_junctions = [ct for ct in self._all_types if ct.is_gap_junction]
        by_key = {ct.key: ct for ct in self._all_types}
        for st in self._states.values():
            ct = by_key.get(st.key)
            if ct is None:
                continue
            moved = st.ct is not None and ct.dynamics_path != st.ct.dynamics_path
            st.ct, st.label = ct, ct.name
            st.spec = replace(st.spec, label=ct.name)
            if moved and ct.dynamics_path is not None:
                st.file_params, st.mtime_ns = load_dynamics_with_mtime(ct.dynamics_path)
