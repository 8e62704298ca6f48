"""Cell-profiler what-ifs in a BioNet run: the unsaved section parameters (cm, Ra, g*bar_*,
g_pas, e_pas) of the cell types a profiler changed, applied to every cell of those types after
BioNet has built them, as the profiler applies them to its own cell (sim/profiler_jobs.py).

The run folder gets ``cell_params_overlay.json``: a list of {"cell", "population",
"node_type_id", "params": {section key: {name: value}}}, where a section key is ``all``, a base
name (``dend``: every dend section) or one section (``dend[2]``). The model's templates and
JSON files are not touched.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CELL_OVERLAY_NAME = "cell_params_overlay.json"

_SECTION_RE = re.compile(r"(?:^|\.)(\w+)(\[\d+\])?$")


def write_cell_overlay(run_dir: Path, entries: list[dict[str, Any]]) -> Path | None:
    """Write the what-ifs the run applies (None when there are none)."""
    entries = [e for e in entries if e.get("params")]
    path = Path(run_dir) / CELL_OVERLAY_NAME
    if not entries:
        path.unlink(missing_ok=True)
        return None
    path.write_text(json.dumps(entries, indent=1) + "\n")
    return path


def section_matches(section_name: str, key: str) -> bool:
    """Whether a section (NEURON's name, e.g. ``Exc[3].dend[2]``) is what ``key`` names."""
    if key == "all":
        return True
    m = _SECTION_RE.search(section_name)
    if m is None:
        return False
    base, index = m.group(1), m.group(2) or ""
    return key == base or key == base + index


def apply_to_section(sec: Any, name: str, value: float) -> None:
    if name == "Ra":
        sec.Ra = value
        return
    for seg in sec:
        setattr(seg, name, value)


def apply_cell_overlay(net: Any, path: Path) -> list[str]:
    """Apply the file's what-ifs to this rank's cells of a built bmtk BioNetwork; returns one
    note per entry (cells changed). A parameter a section lacks is an error naming it."""
    entries = json.loads(Path(path).read_text())
    counts = [0] * len(entries)
    for cell in net.get_local_cells().values():
        node = cell.node
        pop, ntid = str(node.population_name), int(node["node_type_id"])
        for k, entry in enumerate(entries):
            if str(entry["population"]) != pop or int(entry["node_type_id"]) != ntid:
                continue
            sections = list(cell.hobj.all)
            for key, values in entry["params"].items():
                chosen = [s for s in sections if section_matches(s.name(), key)]
                if not chosen:
                    raise ValueError(f"{entry['cell']}: no section {key!r} in the cell BioNet built")
                for sec in chosen:
                    for name, value in values.items():
                        try:
                            apply_to_section(sec, name, float(value))
                        except (AttributeError, NameError, LookupError) as err:
                            raise ValueError(f"{entry['cell']}: section {sec.name()} has no parameter "
                                             f"{name!r} ({err})") from None
            counts[k] += 1
    return [f"cell what-ifs of {e['cell']} applied to {n} cell(s) on this rank" for e, n in zip(entries, counts,
                                                                                               strict=True)]
