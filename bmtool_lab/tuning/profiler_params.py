"""Cell what-ifs of :class:`~bmtool_lab.tuning.profiler.CellProfiler` (a mixin): the sections and
parameters of a cell with the template's values, the changes for the following runs, and
their export as JSON (``set_cell_params(json.loads(s)["changes"])`` applies them again)."""

from __future__ import annotations

import json as _json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..sim import profiler_jobs as jobs

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["CellParams"]


class CellParams:
    """What-ifs of the profiled cells; the profiler gives ``_resolve``, ``_by_name``, ``_params``,
    ``_descriptions``, ``_listeners``, ``_job`` and ``_check_mechanisms``."""

    def describe(self, cell: str | None = None) -> dict:
        """Sections and what-if parameters of a cell with the template's values (cached)."""
        name = self._resolve(cell)
        if name in self._descriptions:
            return self._descriptions[name]
        self._check_mechanisms(name)

        def keep(desc: dict) -> dict:
            self._descriptions[name] = desc  # valid whoever asked for it
            return desc

        return self._job(jobs.describe_cell_job, None, keep, cell_type=self._by_name[name])

    def parameters(self, cell: str | None = None) -> pd.DataFrame:
        """Every what-if parameter: section group, name, template value, current value, changed."""
        import pandas as pd

        name = self._resolve(cell)
        desc, changes = self.describe(name), self.cell_params(name)
        rows = []
        for base, group in desc["groups"].items():
            for pname, default in group["params"].items():
                value = changes.get(base, {}).get(pname, default)
                rows.append({"section": base, "name": pname, "template_value": default, "value": value,
                             "changed": value != default, "unit": _unit(pname)})
        return pd.DataFrame(rows)

    def cell_params(self, cell: str | None = None) -> dict[str, dict[str, float]]:
        """The parameter changes in effect for a cell ({section: {name: value}}; a copy)."""
        return {k: dict(v) for k, v in self._params.get(self._resolve(cell), {}).items()}

    @property
    def changed_params(self) -> dict[str, dict[str, float]]:
        """The current cell's parameter changes."""
        return self.cell_params()

    def set_cell_params(self, params: dict[str, dict[str, float | None]], *, cell: str | None = None,
                        replace: bool = False) -> dict[str, dict[str, float]]:
        """Change cell parameters for the following runs: ``{section: {name: value}}``.

        A section key is a base name (``"dend"``: all dend sections), one section
        (``"dend[2]"``) or ``"all"``; names are ``cm`` (µF/cm²), ``Ra`` (Ω·cm), conductances
        ``g*_<mech>`` (S/cm²) and ``e_pas`` (mV). A value of None drops the change. Merged into
        the existing changes unless ``replace``. Returns the changes now in effect.
        """
        name = self._resolve(cell)
        desc = self.describe(name)
        current = {} if replace else self.cell_params(name)
        for key, values in params.items():
            allowed = self._allowed(desc, key)
            for pname, value in values.items():
                if pname not in allowed:
                    raise KeyError(f"{name}: {key!r} has no parameter {pname!r}; it has: {', '.join(sorted(allowed))}")
                if value is None:
                    current.get(key, {}).pop(pname, None)
                    continue
                value = float(value)
                if not math.isfinite(value) or (pname in ("cm", "Ra") and value <= 0) or \
                        (pname.startswith("g") and value < 0):
                    raise ValueError(f"{name}: {key}.{pname} = {value} is not allowed "
                                     "(finite; cm, Ra > 0; conductances >= 0)")
                current.setdefault(key, {})[pname] = value
        self._params[name] = {k: v for k, v in current.items() if v}
        self._listeners.emit("params", name)
        return self.cell_params(name)

    @staticmethod
    def _allowed(desc: dict, key: str) -> set[str]:
        groups = desc["groups"]
        if key == "all":
            sets = [set(g["params"]) for g in groups.values()]
            return set.intersection(*sets) if sets else set()
        base = key.split("[", 1)[0]
        if base not in groups or (key != base and key not in desc["sections"]):
            raise KeyError(f"no section {key!r}; sections: {', '.join(groups)} ({', '.join(desc['sections'][:12])}"
                           f"{'…' if len(desc['sections']) > 12 else ''}) or 'all'")
        return set(groups[base]["params"])

    def unsaved_cell_params(self) -> list[dict[str, Any]]:
        """Every cell type's what-ifs in effect, for a network run (NetworkSimulation.run(tuners=
        [profiler])): {"cell", "population", "node_type_id", "params" {section: {name: value}},
        "template" (the template's values of those parameters)}."""
        out = []
        for name in self._params:
            params = self.cell_params(name)
            if not params:
                continue
            ct = self._by_name[name]
            out.append({"cell": name, "population": ct.population, "node_type_id": ct.node_type_id,
                        "params": params, "template": self._template_values(name, params)})
        return out

    def _template_values(self, name: str, changes: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
        """The template's values of the parameters ``changes`` sets (None where not described)."""
        groups = self._descriptions.get(name, {"groups": {}})["groups"]
        return {key: {p: groups.get(key.split("[", 1)[0], {}).get("params", {}).get(p) for p in vals}
                for key, vals in changes.items()}

    def reset_cell_params(self, cell: str | None = None) -> None:
        """Back to the template's values for a cell."""
        self._params.pop(self._resolve(cell), None)
        self._listeners.emit("params", self._resolve(cell))

    def export_params(self, path: str | Path | None = None, cell: str | None = None) -> str:
        """The changed values as JSON (cell, template, changes and the template values they
        replace); written to ``path`` when given. ``set_cell_params(json.loads(s)["changes"])``
        applies them again."""
        name = self._resolve(cell)
        ct, changes = self._by_name[name], self.cell_params(name)
        before = self._template_values(name, changes)
        doc = {"cell": name, "model_template": ct.model_template, "node_type_id": ct.node_type_id,
               "changes": changes, "template_values": before,
               "units": {p: _unit(p) for vals in changes.values() for p in vals}}
        text = _json.dumps(doc, indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text


def _unit(name: str) -> str:
    if name == "cm":
        return "uF/cm2"
    if name == "Ra":
        return "ohm*cm"
    if name.startswith("e"):
        return "mV"
    return "S/cm2" if name.startswith("g") else ""
