"""What the loaded NEURON mechanisms are (worker side): their parameter and state names, the
point processes, loading a model's mod files once per worker, and which parameters a mechanism's
INITIAL block reads (set before finitialize, so a change needs a fresh run)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.mod_files import _COMMENT_RE, mechanism_names
from .errors import SimError

if TYPE_CHECKING:  # the type only
    from .context import WorkerContext

# INITIAL blocks of NEURON's built-in synapses: the PARAMETERs they derive hidden state from.
_BUILTIN_INITIAL_PARAMS: dict[str, frozenset[str]] = {
    "Exp2Syn": frozenset({"tau1", "tau2"}), "ExpSyn": frozenset(),
}

_MATH_FUNCS = frozenset({"exp", "log", "log10", "sqrt", "fabs", "pow", "sin", "cos", "tan", "atan", "tanh",
                         "fmax", "fmin", "floor", "ceil", "if", "while", "for"})


def _mech_names(mechanism: str, vartype: int) -> list[tuple[str, float]]:
    from .context import neuron_h  # local: child process only (the kernel imports this module)

    h = neuron_h()
    ms = h.MechanismStandard(mechanism, vartype)
    out = []
    for i in range(int(ms.count())):
        s = h.ref("")
        size = int(ms.name(s, i))
        if size == 1:  # scalars only (arrays are not tunable parameters)
            out.append((s[0], float(ms.get(s[0]))))
    return out


def _point_processes() -> list[str]:
    from .protocol import point_process_names  # local: child process only (the kernel imports this module)

    return point_process_names()


def _load_mechanisms(ctx: WorkerContext, *dirs: Path | None) -> None:
    seen = set()
    for d in dirs:
        if d is not None and str(d) not in seen:
            seen.add(str(d))
            ctx.load_mechanisms(d)


def _require_mechanism(mechanism: str, mod_dirs: list[Path | None]) -> None:
    from .context import neuron_h  # local: child process only (the kernel imports this module)

    h = neuron_h()
    pps = _point_processes()
    if mechanism in pps:
        return
    where = ", ".join(str(d) for d in mod_dirs if d is not None) or "no mechanisms folder"
    if hasattr(h, mechanism):
        raise SimError("mechanisms", f"{mechanism!r} is defined but is not a POINT_PROCESS, so it cannot be a synapse")
    close = [p for p in pps if p.lower() == mechanism.lower()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise SimError("mechanisms", f"synapse mechanism {mechanism!r} is not compiled/loaded{hint}: no mod file in "
                                 f"{where} defines POINT_PROCESS {mechanism}. Add its .mod file to the "
                                 f"mechanisms folder (components.mechanisms_dir).",
                   detail=f"point processes available: {', '.join(sorted(pps))}")


def describe_mechanism_job(ctx: WorkerContext, mechanism: str, mechanisms_dirs: tuple[Path | None, ...] = ()) -> dict:
    """Tunable parameters of a POINT_PROCESS, discovered from NEURON itself.

    Returns {"mechanism", "parameters": [{"name", "default", "unit"}], "assigned": [...],
    "states": [...], "has_g", "has_i"}. Raises SimError("mechanisms") when it is not loaded.
    """
    from .context import neuron_h  # local: child process only (the kernel imports this module)

    _load_mechanisms(ctx, *mechanisms_dirs)
    _require_mechanism(mechanism, list(mechanisms_dirs))
    h = neuron_h()

    def unit(name: str) -> str:
        try:
            return str(h.units(f"{mechanism}.{name}"))
        except Exception:
            return ""

    params = [{"name": n, "default": v, "unit": unit(n)} for n, v in _mech_names(mechanism, 1)]
    assigned = [n for n, _ in _mech_names(mechanism, 2)]
    states = [n for n, _ in _mech_names(mechanism, 3)]
    return {"mechanism": mechanism, "parameters": params, "assigned": assigned, "states": states,
            "has_g": "g" in assigned, "has_i": "i" in assigned}


def _initial_params(mechanism: str, mod_dirs: list[Path | None], param_names: set[str]) -> frozenset[str] | None:
    """PARAMETERs the mechanism's INITIAL blocks read (they may derive hidden state from them).

    None when that cannot be told safely (no mod file, VERBATIM, a procedure call, SOLVE):
    then every parameter change re-runs the baseline.
    """
    if mechanism in _BUILTIN_INITIAL_PARAMS:
        return _BUILTIN_INITIAL_PARAMS[mechanism]

    path = None
    for d in mod_dirs:
        if d is None:
            continue
        try:
            path = mechanism_names(d).get(mechanism)
        except Exception:
            path = None
        if path is not None:
            break
    if path is None:
        return None
    text = _COMMENT_RE.sub("", Path(path).read_text(errors="replace"))
    used: set[str] = set()
    for m in re.finditer(r"\bINITIAL\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[m.end():i - 1]
        if re.search(r"\b(VERBATIM|SOLVE|TABLE)\b", body):
            return None
        calls = {c for c in re.findall(r"\b([A-Za-z_]\w*)\s*\(", body) if c not in _MATH_FUNCS}
        if calls:
            return None
        used |= set(re.findall(r"\b[A-Za-z_]\w*\b", body)) & param_names
    return frozenset(used)
