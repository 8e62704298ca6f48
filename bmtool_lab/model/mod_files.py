"""What a model's mod files define, read as text (no NEURON, no compiling): the ``*.mod`` files
of a mechanisms folder and the mechanism names their NEURON blocks declare. The model check
reads them; :mod:`bmtool_lab.sim.mechanisms` compiles and loads them."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["MechanismError", "mod_files", "mechanism_names"]

_MECH_RE = re.compile(
    r"^\s*(SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE
)
_NEURON_BLOCK_RE = re.compile(r"\bNEURON\s*\{(.*?)\}", re.DOTALL)
# ":" comments run to the end of their line only (under DOTALL a ".*" would eat the whole file).
_COMMENT_RE = re.compile(r":[^\n]*|\bCOMMENT\b.*?\bENDCOMMENT\b", re.DOTALL)


class MechanismError(RuntimeError):
    """A mechanism problem with a message that says what to do about it."""


def mod_files(mod_dir: str | Path) -> list[Path]:
    """The ``*.mod`` files directly inside ``mod_dir`` (also looks in a ``modfiles/`` subfolder)."""
    mod_dir = Path(mod_dir)
    if not mod_dir.is_dir():
        raise MechanismError(
            f"mechanisms folder {mod_dir} does not exist (check components.mechanisms_dir in the config)"
        )
    files = sorted(mod_dir.glob("*.mod"))
    if not files and (mod_dir / "modfiles").is_dir():
        files = sorted((mod_dir / "modfiles").glob("*.mod"))
    return files


def mechanism_names(mod_dir: str | Path) -> dict[str, Path]:
    """Names defined by the mod files (SUFFIX / POINT_PROCESS / ARTIFICIAL_CELL) -> defining file."""
    names: dict[str, Path] = {}
    for path in mod_files(mod_dir):
        text = _COMMENT_RE.sub("", path.read_text(errors="replace"))
        block = _NEURON_BLOCK_RE.search(text)
        for _kind, name in _MECH_RE.findall(block.group(1) if block else text):
            if name in names:
                raise MechanismError(
                    f"mechanism {name!r} is defined twice: in {names[name].name} and {path.name}; "
                    "remove one of the files"
                )
            names[name] = path
    return names
