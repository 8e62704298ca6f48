"""Build cells inside a worker from a :class:`~bmtool_lab.model.cell_types.CellType`.

Kinds: ``hoc:Name`` templates, Allen ``ctdb:Biophys1.hoc`` cells (swc + ``*_fit.json``,
processed by bmtk's own ``aibs_perisomatic`` / ``aibs_allactive`` / ... functions), NeuroML
``nml:`` biophysics through bmtk's loader; point/virtual types raise a clear SimError.
Every failure is a :class:`SimError` (kind "model", "hoc" or "mechanisms") naming the cell.

The handle names sections as the field does (``soma``, ``dend[3]``, ``apic[0]``, ``axon[1]``)
so protocols place clamps and synapses by name. ``delete()`` drops the only references to the
cell, and NEURON frees its sections (repeated builds do not accumulate sections).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bmtool_lab.model.cell_types import CellType
from bmtool_lab.model.hoc_templates import template_body, template_names, templates_in

from .context import load_mechanisms_or_raise, neuron_h
from .errors import SimError

__all__ = ["CellHandle", "build_cell", "template_init_args"]

_NAME_RE = re.compile(r"^(\w+)(?:\[(\d+)\])?$")


@dataclass(eq=False)
class CellHandle:
    """A built cell: ``hobj`` (the hoc object) and its sections by base name."""

    cell_type: CellType
    hobj: Any
    sections: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_hoc_object(cls, cell_type: CellType, hobj: Any) -> CellHandle:
        h = neuron_h()
        prefix = hobj.hname() + "."
        sections: dict[str, list[Any]] = {}
        for sec in h.allsec():
            full = sec.name()
            if not full.startswith(prefix):
                continue
            m = _NAME_RE.match(full[len(prefix):])
            base = m.group(1) if m else full[len(prefix):]
            sections.setdefault(base, []).append(sec)
        if not sections:
            raise SimError("model", f"{cell_type.name}: the template {hobj.hname()} created no sections")
        return cls(cell_type, hobj, sections)

    def section_names(self) -> list[str]:
        """Every section as ``base[i]`` (``soma`` alone when there is one soma and no index)."""
        out = []
        for base, secs in self.sections.items():
            for i, sec in enumerate(secs):
                out.append(base if len(secs) == 1 and "[" not in sec.name().rsplit(".", 1)[-1] else f"{base}[{i}]")
        return out

    def section(self, name: str = "soma") -> Any:
        """A section by name: ``"soma"`` (the first soma), ``"dend[3]"``, ``"apic[0]"``..."""
        m = _NAME_RE.match(name.strip())
        if m and m.group(1) in self.sections:
            secs = self.sections[m.group(1)]
            i = int(m.group(2) or 0)
            if i < len(secs):
                return secs[i]
        shown = ", ".join(f"{b}[0..{len(s) - 1}]" if len(s) > 1 else b for b, s in self.sections.items())
        raise SimError("model", f"{self.cell_type.name} has no section {name!r}; it has: {shown}")

    def seg(self, name: str = "soma", x: float = 0.5) -> Any:
        """The segment at ``x`` (0..1) of a named section."""
        if not 0.0 <= x <= 1.0:
            raise SimError("model", f"segment position x must be within 0..1, got {x}")
        return self.section(name)(x)

    @property
    def soma(self) -> Any:
        return self.section("soma")

    def all_sections(self) -> list[Any]:
        return [sec for secs in self.sections.values() for sec in secs]

    def delete(self) -> None:
        """Free the cell: drop every reference we hold so NEURON deletes its sections."""
        self.sections.clear()
        self.hobj = None

    def __repr__(self) -> str:
        n = sum(len(s) for s in self.sections.values())
        return f"CellHandle({self.cell_type.name!r}, {self.cell_type.kind}, {n} sections)"


@contextlib.contextmanager
def _working_dir(folder: Path | None) -> Iterator[None]:
    """Templates often load_file() neighbours by relative path: run them from their folder."""
    if folder is None:
        yield
        return
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def _hoc_call(what: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except RuntimeError as err:
        raise SimError("hoc", f"hoc error while {what}: {err}") from None


# --- hoc templates ----------------------------------------------------------------------------
def template_init_args(hoc_text: str, template: str) -> list[str]:
    """The ``$1`` / ``$s1`` / ``$o1`` arguments that ``init()`` of ``template`` reads."""
    body = template_body(hoc_text, template) or ""  # comments dropped
    start = re.search(r"proc\s+init\s*\(\s*\)[^{]*\{", body)
    if not start:
        return []
    depth, i = 1, start.end()
    while i < len(body) and depth:
        depth += {"{": 1, "}": -1}.get(body[i], 0)
        i += 1
    return sorted(set(re.findall(r"\$[so]?\d+", body[start.end():i])))


def _build_hoc(ct: CellType) -> CellHandle:
    h = neuron_h()
    name = ct.template_name or ""
    path = ct.template_file
    if path is None:
        if ct.templates_dir is None or not Path(ct.templates_dir).is_dir():
            raise SimError("model", f"{ct.name}: hoc template {name!r} needs a templates_dir (components.templates_dir "
                                    f"is {ct.templates_dir})")
        found = templates_in(ct.templates_dir)
        path = found.get(name)
        if path is None:
            raise SimError("model", f"{ct.name}: no .hoc file in {ct.templates_dir} defines template {name!r} "
                                    f"(templates there: {', '.join(found) or 'none'})")
    if not Path(path).is_file():
        raise SimError("model", f"{ct.name}: hoc file {path} does not exist")
    text = Path(path).read_text(errors="replace")
    if name not in template_names(text):
        raise SimError("model", f"{ct.name}: {path} does not define template {name!r}")
    if not hasattr(h, name):
        with _working_dir(Path(path).parent):
            ok = _hoc_call(f"loading {path}", h.load_file, str(path))
        if not ok or not hasattr(h, name):
            raise SimError("hoc", f"{ct.name}: NEURON could not load {Path(path).name} (see the hoc message below)")
    needed = template_init_args(text, name)
    args: tuple = tuple(ct.template_args)
    if not args:
        dyn = ct.dynamics() if ct.dynamics_params_path and Path(ct.dynamics_params_path).exists() else None
        if dyn is not None and "params" in dyn:  # bmtk's loadHOC convention
            params = dyn["params"]
            args = tuple(params) if isinstance(params, list) else (params,)
        elif needed and ct.morphology_path is not None:  # bmtk passes the morphology file
            args = (str(ct.morphology_path),)
    if needed and not args:
        raise SimError("model", f"hoc template {name} needs arguments in its init() ({', '.join(needed)}) but none "
                                f"were given: pass CellType.from_hoc(..., args=(...)) or put 'params' in the node "
                                f"type's dynamics_params JSON")
    with _working_dir(Path(path).parent):
        hobj = _hoc_call(f"creating {name}{args!r}", getattr(h, name), *args)
    return CellHandle.from_hoc_object(ct, hobj)


# --- Allen cell types (ctdb:Biophys1.hoc) -----------------------------------------------------
def _load_biophys1() -> None:
    h = neuron_h()
    if hasattr(h, "Biophys1"):
        return
    import bmtk.simulator.bionet as bionet

    h.load_file("import3d.hoc")
    tmpl = Path(bionet.__file__).parent / "default_templates" / "Biophys1.hoc"
    if not h.load_file(str(tmpl)):
        raise SimError("hoc", f"could not load bmtk's {tmpl}")


def _density_mechanisms() -> set[str]:
    h = neuron_h()
    mt = h.MechanismType(0)
    names = set()
    for i in range(int(mt.count())):
        s = h.ref("")
        mt.select(i)
        mt.selected(s)
        names.add(s[0])
    return names


def _build_allen(ct: CellType) -> CellHandle:
    h = neuron_h()
    if ct.reason:
        raise SimError("model", ct.reason)
    dyn = json.loads(Path(ct.dynamics_params_path).read_text())  # type: ignore[arg-type]
    needed = {g.get("mechanism") for g in dyn.get("genome", []) if g.get("mechanism")}
    missing = sorted(needed - _density_mechanisms())
    if missing:
        raise SimError("mechanisms", f"{ct.name}: the Allen model needs mechanisms {missing} that are not loaded; "
                                     f"point components.mechanisms_dir (now {ct.mechanisms_dir}) at their mod files "
                                     "(bmtk ships them in bmtk/utils/scripts/bionet/mechanisms/modfiles)")
    _load_biophys1()
    from bmtk.simulator.bionet.default_setters import cell_models  # noqa: F401 - registers the processors
    from bmtk.simulator.bionet.pyfunction_cache import py_modules

    hobj = _hoc_call(f"reading {ct.morphology_path}", h.Biophys1, str(ct.morphology_path))
    notes = []
    processing = ct.model_processing
    if processing:
        for step in processing.split(","):
            step = step.strip()
            if not py_modules.has_cell_processor(step):
                raise SimError("model", f"{ct.name}: unknown model_processing {step!r}; bmtk knows "
                                        f"{sorted(py_modules.cell_processors)}")
            try:
                hobj = py_modules.cell_processor(step)(hobj, None, dyn)
            except SimError:
                raise
            except RuntimeError as err:
                raise SimError("hoc", f"{ct.name}: bmtk's {step} failed: {err}") from None
            except Exception as err:
                raise SimError("model", f"{ct.name}: bmtk's {step} failed: {type(err).__name__}: {err}") from None
    else:
        notes.append("no model_processing: morphology only, no biophysics (as in BMTK)")
    handle = CellHandle.from_hoc_object(ct, hobj)
    handle.notes += notes
    return handle


# --- NeuroML ----------------------------------------------------------------------------------
class _NMLNode:
    """The two things bmtk's NMLLoad reads from a node: its morphology and the network components."""

    def __init__(self, morphology: Path, biophys_dir: Path):
        self.morphology_file = str(morphology)
        self.network = self
        self._biophys_dir = str(biophys_dir)

    def get_component(self, name: str) -> str:
        return self._biophys_dir


def _build_nml(ct: CellType) -> CellHandle:
    if ct.morphology_path is None or not Path(ct.morphology_path).exists():
        raise SimError("model", f"{ct.name}: NeuroML cells need an swc morphology (bmtk ignores the nml morphology); "
                                f"got {ct.morphology_path}")
    folder = ct.biophysical_models_dir or (ct.dynamics_params_path.parent if ct.dynamics_params_path else Path("."))
    nml_file = Path(folder) / (ct.template_name or "")
    if not nml_file.exists():
        raise SimError("model", f"{ct.name}: NeuroML file {nml_file} does not exist (looked in "
                                "biophysical_neuron_models_dir)")
    _load_biophys1()
    from bmtk.simulator.bionet.default_setters import cell_models

    try:
        hobj = cell_models.NMLLoad(_NMLNode(Path(ct.morphology_path), nml_file.parent), ct.template_name, None)
    except NotImplementedError:
        raise SimError("model", f"{ct.name}: bmtk does not support this NeuroML file") from None
    except RuntimeError as err:
        raise SimError("hoc", f"{ct.name}: bmtk's NeuroML loader failed: {err}") from None
    except Exception as err:
        raise SimError("model", f"{ct.name}: bmtk's NeuroML loader does not support {nml_file.name}: "
                                f"{type(err).__name__}: {err}") from None
    return CellHandle.from_hoc_object(ct, hobj)


def build_cell(cell_type: CellType) -> CellHandle:
    """Build one cell of ``cell_type`` in this (worker) process, loading its mechanisms first."""
    kind = cell_type.kind
    if kind in ("point", "virtual", "unknown"):
        raise SimError("model", cell_type.reason or f"{cell_type.name} cannot be simulated")
    load_mechanisms_or_raise(cell_type.mechanisms_dir)
    if kind == "hoc":
        handle = _build_hoc(cell_type)
    elif kind == "allen":
        handle = _build_allen(cell_type)
    else:
        handle = _build_nml(cell_type)
    if cell_type.segment_dl_um:
        segment_as_bionet(handle, cell_type.segment_dl_um)
    return handle


def segment_as_bionet(handle: CellHandle, dl_um: float) -> int:
    """Give every section of the cell BioNet's segmentation, nseg = 1 + 2·int(L / 2dL)
    (bmtk's Morphology.set_segment_dl, applied to each biophysical cell it builds); the total
    number of segments, also noted on the handle."""
    secs = [sec for group in handle.sections.values() for sec in group]  # this cell's sections only
    total = 0
    for sec in secs:
        sec.nseg = 1 + 2 * int(sec.L / (2.0 * dl_um))
        total += sec.nseg
    handle.notes.append(f"segmented as BioNet does: dL {dl_um:g} µm, {total} segments in {len(secs)} sections")
    return total
