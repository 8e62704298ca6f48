"""What a dynamics JSON holds and how it is laid out (:mod:`bmtool_lab.model.dynamics`): the
parameter units, parsing a file with its style (indentation, line endings, ASCII escaping),
checking and applying updates (:class:`Change`), and writing parameters back in the file's
own style through the atomic write of :mod:`.atomic_write`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .atomic_write import DynamicsError, _commit, _decode, _Snapshot, _Written, list_backups

#: Units of the usual synapse parameters, for diffs and labels (unknown keys have none).
UNITS: dict[str, str] = {
    **dict.fromkeys(
        ("tau1", "tau2", "tau_r", "tau_d", "tau_r_AMPA", "tau_d_AMPA", "tau_r_NMDA", "tau_d_NMDA",
         "tau_r_GABAA", "tau_d_GABAA", "tau_r_GABAB", "tau_d_GABAB", "Dep", "Fac", "tau_rec",
         "tau_facil", "tau_F", "tau_D"), "ms"),
    **dict.fromkeys(("erev", "e", "Erev", "e_AMPA", "e_NMDA", "e_GABAA", "e_GABAB"), "mV"),
    **dict.fromkeys(("Use", "u0", "U"), "1"),  # dimensionless: "1", as on the tuner's sliders
    "initW": "1",
    "weight": "µS",
}

_DEFAULT_INDENT = 2


class _Missing:
    """Marks a key that the file does not have (``Change.old`` of a new key)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """One parameter that a save changes; ``old`` is :data:`MISSING` for a new key."""

    key: str
    old: Any
    new: Any

    @property
    def added(self) -> bool:
        return self.old is MISSING

    @property
    def unit(self) -> str:
        """Unit of the key from :data:`UNITS` ("" when unknown)."""
        return UNITS.get(self.key, "")

    def __str__(self) -> str:
        unit = self.unit
        suffix = "" if not unit else f" ({unit})" if unit == "1" else f" {unit}"
        if self.added:
            return f"{self.key}: (new) {_fmt(self.new)}{suffix}"
        return f"{self.key}: {_fmt(self.old)} -> {_fmt(self.new)}{suffix}"


# ---------------------------------------------------------------------------------------
# reading


@dataclass(frozen=True)
class _Style:
    """How a JSON file is laid out, so a save changes values, not formatting."""

    indent: int | str | None = _DEFAULT_INDENT
    line_ending: str = "\n"
    final_newline: bool = True
    ensure_ascii: bool = True


def _parse(snap: _Snapshot) -> tuple[dict[str, Any], str, list[str]]:
    """(parameters, text, duplicated top-level keys) of a dynamics JSON snapshot."""
    text = _decode(snap, "dynamics file")
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        # inner objects are built first, so the last call is the top-level object: keep only
        # its duplicates (nested ones do not matter for the top-level keys we edit)
        duplicates.clear()
        seen: dict[str, Any] = {}
        for k, v in items:
            if k in seen:
                duplicates.append(k)
            seen[k] = v
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        backups = list_backups(snap.path)
        hint = f" or restore the backup {backups[0].name}" if backups else ""
        raise DynamicsError(
            f"dynamics file {snap.path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            f"fix it by hand{hint}"
        ) from None
    if not isinstance(data, dict):
        raise DynamicsError(
            f"dynamics file {snap.path} holds a JSON {type(data).__name__}, but a dynamics file must hold one "
            'object of parameter names and values, e.g. {"tau1": 0.5, "tau2": 3.0, "erev": 0.0}'
        )
    return data, text, duplicates


def _style_of(text: str) -> _Style:
    body = text.strip()
    line_ending = "\r\n" if "\r\n" in text else "\n"
    final_newline = text.endswith("\n") if body else True
    ensure_ascii = text.isascii()
    if len(body) <= 2:  # "{}" or empty: nothing to imitate
        return _Style(_DEFAULT_INDENT, line_ending, final_newline, ensure_ascii)
    if "\n" not in body:
        return _Style(None, line_ending, final_newline, ensure_ascii)
    m = re.search(r"\n([ \t]+)\S", body)
    indent: int | str = _DEFAULT_INDENT
    if m:
        ws = m.group(1)
        indent = len(ws) if set(ws) == {" "} else ws
    return _Style(indent, line_ending, final_newline, ensure_ascii)


# ---------------------------------------------------------------------------------------
# validating updates


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and tuples as plain Python (without importing numpy)."""
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    return False


def _normalise(key: Any, value: Any, old: Any) -> Any:
    """The value to write for ``key`` (old value ``old``), or a DynamicsError naming the key."""
    if not isinstance(key, str) or not key:
        raise DynamicsError(f"parameter names must be non-empty strings, got {key!r}")
    value = _plain(value)
    if _non_finite(value):
        raise DynamicsError(
            f"{key}: {value!r} is not a finite number; NaN and infinity are not valid JSON and would break "
            "the simulation. Enter a finite value."
        )
    if _is_number(old):
        if not _is_number(value):
            raise DynamicsError(
                f"{key} must be a number like its current value {old!r}, got {type(value).__name__} {value!r}"
            )
        # keep the file's kind of number: an int stays an int when the new value is integral
        if isinstance(old, int) and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(old, float) and isinstance(value, int):
            value = float(value)
    elif isinstance(old, bool) and not isinstance(value, bool):
        raise DynamicsError(f"{key} must be true or false like its current value, got {value!r}")
    return value


def _same(old: Any, new: Any) -> bool:
    return type(old) is type(new) and old == new


def _apply(current: Mapping[str, Any], updates: Mapping[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    """The new parameter dict (order kept, new keys last) and the list of changes."""
    if not isinstance(updates, Mapping):
        raise DynamicsError(f"updates must be a dict of parameter names to values, got {type(updates).__name__}")
    new = dict(current)
    changes: list[Change] = []
    for key, value in updates.items():
        old = current.get(key, MISSING) if isinstance(key, str) else MISSING
        value = _normalise(key, value, old)
        if old is MISSING or not _same(old, value):
            changes.append(Change(key, old, value))
        new[key] = value
    return new, changes


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


# ---------------------------------------------------------------------------------------
# writing


def _json_writer(params: dict[str, Any], style: _Style) -> Callable[[IO[str]], None]:
    def write(f: IO[str]) -> None:
        # json.dump streams chunks into the temp file, so an unserialisable value fails
        # mid-write; the caller then deletes the temp file and the original stays untouched.
        json.dump(params, f, indent=style.indent, ensure_ascii=style.ensure_ascii, allow_nan=True)
        if style.final_newline:
            f.write("\n")

    return write


def _unserialisable_key(params: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for k in keys:
        try:
            json.dumps(params[k])
        except (TypeError, ValueError):
            return k
    return None


def _write_json(target: Path, params: dict[str, Any], changed: list[str], style: _Style, *,
                previous: _Snapshot | None, backup: bool, mode: int) -> _Written:
    try:
        return _commit(target, _json_writer(params, style), newline=style.line_ending, previous=previous,
                       backup=backup, mode=mode, what="dynamics file")
    except (TypeError, ValueError) as err:
        if isinstance(err, DynamicsError):
            raise
        key = _unserialisable_key(params, changed)
        name = f"{key}: {type(params[key]).__name__} {params[key]!r}" if key else str(err)
        raise DynamicsError(f"cannot write {name} as JSON (use numbers, strings, lists); nothing was saved") from None
