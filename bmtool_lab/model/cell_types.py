"""Cell types of a BMTK network (node types), as picklable records a worker can build.

``list_cell_types(config)`` reads every node-types CSV of a config (space separated, one row
per node type) and resolves the files each type names. ``CellType.from_hoc`` and
``CellType.from_allen`` describe cells that are not in a network. Building happens in a
worker: :func:`bmtool_lab.sim.cells.build_cell`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import ModelConfig, load_config
from .sonata import read_types_table

_KNOWN_COLUMNS = ("node_type_id", "model_type", "model_template", "model_processing", "morphology",
                  "dynamics_params", "pop_name", "model_name")

#: Node-type columns that name a cell type, in the order a name is taken from them.
NAME_COLUMNS = ("pop_name", "model_name", "cell_name")


@dataclass(frozen=True)
class CellType:
    """One cell type: what it is, the files it needs (resolved), and whether we can simulate it.

    ``kind`` says how it is built: "hoc" (a hoc template), "allen" (``ctdb:Biophys1.hoc``: swc
    morphology + Allen ``*_fit.json``, processed by bmtk's ``model_processing`` function),
    "nml" (a NeuroML biophysics file + swc, through bmtk), "point" or "virtual" (not
    simulatable by the tuner/profiler), or "unknown".
    """

    name: str
    node_type_id: int | None = None
    population: str | None = None
    n_nodes: int | None = None
    model_type: str = "biophysical"
    model_template: str | None = None
    model_processing: str | None = None
    morphology: str | None = None
    dynamics_params: str | None = None
    morphology_path: Path | None = None
    dynamics_params_path: Path | None = None
    templates_dir: Path | None = None
    template_file: Path | None = None
    template_args: tuple = ()
    mechanisms_dir: Path | None = None
    biophysical_models_dir: Path | None = None
    attributes: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    #: every name the type answers to: pop_name, model_name, cell_name, ``type_<node_type_id>``
    aliases: tuple[str, ...] = field(default=(), compare=False)
    #: BioNet's segment length (µm, the config's ``run.dL``): sections get 1 + 2·int(L / 2dL)
    #: segments as BioNet gives them; None (no config) keeps the template's own nseg
    segment_dl_um: float | None = None

    @property
    def key(self) -> str:
        """``population:name``: a name that selects exactly this type (``name`` alone when
        the type belongs to no population)."""
        return f"{self.population}:{self.name}" if self.population else self.name

    def answers_to(self, name: str) -> bool:
        """True when ``name`` is this type's name, one of its aliases, its node_type_id
        (``100`` or ``type_100``) or its template name."""
        return (name == self.name or name in self.aliases or name == self.template_name
                or (self.node_type_id is not None and name in (str(self.node_type_id), f"type_{self.node_type_id}")))

    # --- what it is -------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        tmpl = (self.model_template or "").strip()
        mtype = (self.model_type or "").strip().lower()
        if mtype == "virtual":
            return "virtual"
        if mtype in ("point_process", "point_neuron", "point_soma") or tmpl.startswith(("nrn:", "nest:")):
            return "point"
        if tmpl.startswith("hoc:"):
            return "hoc"
        if tmpl.startswith("ctdb:") or (not tmpl and self.morphology and self.dynamics_params
                                         and str(self.dynamics_params).endswith(".json")):
            return "allen"
        if tmpl.startswith("nml:"):
            return "nml"
        return "unknown"

    @property
    def template_name(self) -> str | None:
        """``Name`` of ``hoc:Name`` (also the part after ``:`` for other directives)."""
        tmpl = (self.model_template or "").strip()
        return tmpl.split(":", 1)[1] if ":" in tmpl else (tmpl or None)

    @property
    def simulatable(self) -> bool:
        return self.reason is None

    @property
    def reason(self) -> str | None:
        """Why this type cannot be built for the tuner/profiler (None when it can)."""
        kind = self.kind
        label = f"node type {self.node_type_id} ({self.name})" if self.node_type_id is not None else self.name
        if kind == "virtual":
            return f"{label} is virtual (a spike source with no cell): there is nothing to simulate"
        if kind == "point":
            return (f"{label} is a point neuron ({self.model_template or self.model_type}): the tuner and profiler "
                    "need a biophysical cell with sections")
        if kind == "unknown":
            return f"{label} has model_template {self.model_template!r}, which bmtool_lab does not know how to build"
        if kind in ("allen", "nml") and self.morphology_path is None:
            return f"{label} names no morphology (an swc file is needed for {self.model_template})"
        if kind in ("allen", "nml") and not self.morphology_path.exists():  # type: ignore[union-attr]
            return f"{label}: morphology {self.morphology_path} does not exist"
        if kind == "allen" and (self.dynamics_params_path is None or not self.dynamics_params_path.exists()):
            return f"{label}: dynamics_params {self.dynamics_params_path or self.dynamics_params} does not exist"
        return None

    def attribute(self, name: str, default: Any = None) -> Any:
        """A free column of the node-types CSV (``ei``, ``location``...), as a string."""
        return dict(self.attributes).get(name, default)

    def dynamics(self) -> dict | None:
        """The dynamics_params JSON as a dict (None when the type names none)."""
        if self.dynamics_params_path is None or self.dynamics_params_path.suffix.lower() != ".json":
            return None
        return json.loads(self.dynamics_params_path.read_text())

    # --- cells outside a network ------------------------------------------------------------
    @classmethod
    def from_hoc(cls, template: str, hoc_file: str | Path | None = None, templates_dir: str | Path | None = None,
                 mechanisms_dir: str | Path | None = None, args: tuple = (), name: str | None = None) -> CellType:
        """A hoc template by name, from ``hoc_file`` or any ``*.hoc`` in ``templates_dir``."""
        return cls(name=name or template, model_template=f"hoc:{template}",
                   template_file=Path(hoc_file).resolve() if hoc_file else None,
                   templates_dir=Path(templates_dir).resolve() if templates_dir else None,
                   mechanisms_dir=Path(mechanisms_dir).resolve() if mechanisms_dir else None,
                   template_args=tuple(args))

    @classmethod
    def from_allen(cls, swc: str | Path, fit_json: str | Path, processing: str = "aibs_perisomatic",
                   mechanisms_dir: str | Path | None = None, name: str | None = None) -> CellType:
        """An Allen Cell Types model given directly: an swc morphology and its ``*_fit.json``."""
        swc, fit_json = Path(swc).resolve(), Path(fit_json).resolve()
        return cls(name=name or fit_json.stem, model_template="ctdb:Biophys1.hoc", model_processing=processing,
                   morphology=swc.name, dynamics_params=fit_json.name, morphology_path=swc,
                   dynamics_params_path=fit_json,
                   mechanisms_dir=Path(mechanisms_dir).resolve() if mechanisms_dir else None)

    def with_changes(self, **changes: Any) -> CellType:
        return replace(self, **changes)


def _clean(value: Any) -> str | None:
    """A CSV cell as a plain str, or None for empty / NULL / NaN (pandas 3 gives str dtype or NaN)."""
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", "NULL", "None", "nan", "NaN", "<NA>") else text


def _resolve(folder: Path | None, value: str | None, add_suffix: str | None = None) -> Path | None:
    if value is None:
        return None
    p = Path(value)
    if not p.is_absolute() and folder is not None:
        p = folder / p
    if add_suffix and not p.suffix and not p.exists() and p.with_suffix(add_suffix).exists():
        p = p.with_suffix(add_suffix)
    return p


def _node_type_populations(nodes_file: Path) -> dict[int, list[tuple[str, int]]]:
    """node_type_id -> [(population, number of nodes)] from a SONATA nodes h5."""
    out: dict[int, list[tuple[str, int]]] = {}
    if not nodes_file.exists():
        return out
    import h5py
    import numpy as np

    with h5py.File(nodes_file, "r") as f:
        for pop, grp in (f.get("nodes") or {}).items():
            if "node_type_id" not in grp:
                continue
            ids, counts = np.unique(grp["node_type_id"][()], return_counts=True)
            for i, c in zip(ids.tolist(), counts.tolist(), strict=True):
                out.setdefault(int(i), []).append((str(pop), int(c)))
    return out


def list_cell_types(config: ModelConfig | str | Path) -> list[CellType]:
    """Every node type of a BMTK config, one CellType per (population, node_type_id).

    Point-process and virtual types are included, with ``simulatable`` False and a ``reason``.
    """
    cfg = config if isinstance(config, ModelConfig) else load_config(config)
    comps = cfg.components
    out: list[CellType] = []
    for files in cfg.nodes:
        # One reader for every types CSV: bmtk writes an empty field for None (two spaces in
        # a row), which whitespace splitting would collapse into a column shift.
        table = read_types_table(files.node_types_file, "node_type_id").reset_index(drop=True)
        populations = _node_type_populations(Path(files.nodes_file))
        for row in table.to_dict("records"):
            ntid_text = _clean(row.get("node_type_id"))
            if ntid_text is None:
                continue
            ntid = int(float(ntid_text))
            model_type = (_clean(row.get("model_type")) or "biophysical").lower()
            template = _clean(row.get("model_template"))
            dyn = _clean(row.get("dynamics_params"))
            morph = _clean(row.get("morphology"))
            dyn_dir = comps.get("point_neuron_models_dir") if model_type.startswith("point") else \
                comps.get("biophysical_neuron_models_dir")
            names = tuple(v for v in (_clean(row.get(c)) for c in NAME_COLUMNS) if v is not None)
            name = names[0] if names else f"type_{ntid}"
            attrs = tuple((str(k), str(v)) for k, v in row.items() if k not in _KNOWN_COLUMNS and _clean(v) is not None)
            base = CellType(
                name=name, node_type_id=ntid, model_type=model_type, model_template=template,
                model_processing=_clean(row.get("model_processing")), morphology=morph, dynamics_params=dyn,
                morphology_path=_resolve(comps.get("morphologies_dir"), morph, ".swc"),
                dynamics_params_path=_resolve(dyn_dir, dyn),
                templates_dir=comps.get("templates_dir"), mechanisms_dir=comps.get("mechanisms_dir"),
                biophysical_models_dir=comps.get("biophysical_neuron_models_dir"), attributes=attrs,
                aliases=(*names, f"type_{ntid}"),
                segment_dl_um=cfg.run.dL if model_type == "biophysical" else None,
            )
            if populations and ntid not in populations:
                continue  # a CSV shared by several node files: this type lives in another one
            for pop, count in populations.get(ntid) or [(None, None)]:
                out.append(replace(base, population=pop, n_nodes=count))
    return _unique_names(out)


def _unique_names(types: list[CellType]) -> list[CellType]:
    """Give each type the first of pop_name, model_name, cell_name that no other type of its
    population shares (bmtk's STP example has two node types with one pop_name), else
    ``type_<node_type_id>``, so ``population:name`` always selects one type."""
    from collections import Counter

    counts = Counter((ct.population, a) for ct in types for a in dict.fromkeys(ct.aliases))
    out = []
    for ct in types:
        unique = [a for a in ct.aliases if counts[(ct.population, a)] == 1]
        name = unique[0] if unique else f"type_{ct.node_type_id}"
        out.append(ct if name == ct.name else replace(ct, name=name))
    return out


def find_cell_type(cell_types: list[CellType], query: str | int) -> CellType:
    """Pick one: by name, pop_name / model_name / cell_name, node_type_id (``100`` or
    ``type_100``), template name, each optionally as ``population:...``. Raises KeyError whose
    message lists names that select exactly one type (``population:name``)."""
    q = str(query)
    pop = None
    if ":" in q and not q.startswith(("hoc:", "ctdb:", "nml:")):
        pop, q = q.split(":", 1)
    hits = [ct for ct in cell_types if (pop is None or ct.population == pop) and ct.answers_to(q)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1 and pop is None:  # the same name in several populations, once in each
        exact = [ct for ct in hits if ct.name == q]
        if len(exact) == 1:
            return exact[0]
    choices = ", ".join(sorted({ct.key for ct in cell_types}))
    if not hits:
        raise KeyError(f"no cell type {query!r}; choices: {choices}")
    which = ", ".join(ct.key for ct in hits)
    raise KeyError(f"{query!r} matches {len(hits)} cell types ({which}); name one of them: {which}")


def cell_type_of(cell_types: list[CellType], population: str, node_type_ids: tuple[int, ...],
                 groups: tuple[Any, ...] = ()) -> CellType:
    """The cell type to build for the cells of a connection: its first node type in
    ``population`` (by node_type_id, so node types sharing a pop_name are told apart), else the
    first group label. Raises KeyError naming the choices."""
    for ntid in node_type_ids:
        hits = [ct for ct in cell_types if ct.population == population and ct.node_type_id == ntid]
        if hits:
            return hits[0]
    if groups:
        return find_cell_type(cell_types, f"{population}:{groups[0]}")
    raise KeyError(f"no cell type of population {population!r} with node_type_id {list(node_type_ids)}; "
                   f"choices: {', '.join(sorted({ct.key for ct in cell_types}))}")
