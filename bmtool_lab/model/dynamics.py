"""The dynamics-JSON store: read, diff and save the parameter file of a synapse type.

The dynamics JSON named by an edge type (``dynamics_params`` in ``*_edge_types.csv``, resolved
in ``components.synaptic_models_dir``) is the source of truth for a synapse's parameters.
Saving tuned values into it follows these rules:

- only the given keys change; every other key, its value and the key order stay (new keys
  go at the end); the file's indentation, line endings and ASCII escaping are kept;
- NaN / infinity are refused, and so is a non-number where the file holds a number (the
  error names the key); an int stays an int when the new value is integral;
- the write is atomic: the new content goes to a hidden temp file in the same folder
  (``.<name>.<random>.tmp``), is fsync'ed, then ``os.replace``'d over the file, so readers
  see the old file or the new one, never half of one; on any failure the temp file is removed;
- the previous version is kept as ``<name>.<YYYYmmdd-HHMMSS>.bak`` next to the file (e.g.
  ``ThalAMPA.json.20250102-153000.bak``; ``-2``, ``-3``... when saved twice in one second),
  at most :data:`MAX_BACKUPS` per file, oldest removed first. The ``.bak`` ending keeps
  backups out of ``*.json`` / ``*_edge_types.csv`` globs;
- a read-only file or folder is refused before anything is written (checked with
  ``os.access``; the OS error of the actual write is reported the same way, e.g. on a
  read-only file system);
- with ``expected_mtime`` (from :func:`load_dynamics_with_mtime`) a file that changed on disk
  since it was loaded is refused (:class:`DynamicsConflictError`): someone else edited it.

When several edge types share one dynamics file (:func:`shared_users`), :func:`save_as_new`
writes the tuned values to a new file in ``synaptic_models_dir`` and points chosen edge types
at it by editing the ``dynamics_params`` field of their rows in ``*_edge_types.csv`` in place:
every other byte of the CSV stays as it was (bmtk writes these files with
``csv.writer(delimiter=" ")``: one space between fields, ``"..."`` around fields with spaces,
an empty field for None, ``NULL`` for missing values, CRLF line ends).

Numbers are written by Python's ``json`` (shortest repr that round-trips), so an untouched
``1e-3`` is rewritten as ``0.001``: same value, different spelling.

The parts, one job each: :mod:`.dynamics_json` (parsing a file with its style, checking
updates, writing it back in that style), :mod:`.atomic_write` (the file as read, backups, the
atomic replace and its undo, the errors), :mod:`.dynamics_save_as` (shared files, save as new,
re-pointing the edge-types CSV). Every public name is importable from this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .atomic_write import (
    MAX_BACKUPS,
    DynamicsConflictError,
    DynamicsError,
    DynamicsReadOnlyError,
    _check_writable,
    _read_snapshot,
    _rotate,
    _Snapshot,
    _stamp,
    list_backups,
)
from .dynamics_json import MISSING, UNITS, Change, _apply, _parse, _style_of, _write_json
from .dynamics_save_as import SaveAsResult, save_as_new, shared_users

__all__ = [
    "MAX_BACKUPS",
    "MISSING",
    "UNITS",
    "Change",
    "DynamicsConflictError",
    "DynamicsError",
    "DynamicsReadOnlyError",
    "SaveAsResult",
    "SaveResult",
    "diff_dynamics",
    "format_diff",
    "list_backups",
    "load_dynamics",
    "load_dynamics_with_mtime",
    "save_as_new",
    "save_dynamics",
    "shared_users",
]


@dataclass(frozen=True)
class SaveResult:
    """What :func:`save_dynamics` did.

    ``backup_path`` is None when nothing was backed up (``backup=False`` or no change);
    ``changes`` is empty when the file already held these values (then nothing is written);
    ``mtime_ns`` is the file's modification time after the save: pass it as the next
    ``expected_mtime``.
    """

    path: Path
    backup_path: Path | None
    changes: list[Change]
    mtime_ns: int = 0


# ---------------------------------------------------------------------------------------
# reading and diffs


def load_dynamics(path: str | os.PathLike) -> dict[str, Any]:
    """The parameters of a dynamics JSON, in file order (values as json reads them: ms, mV, µS...).

    Raises DynamicsError for a missing file, invalid JSON or JSON that is not an object. A
    key that appears twice takes its last value, as BioNet's ``json.load`` does.
    """
    return _parse(_read_snapshot(Path(path), "dynamics file"))[0]


def load_dynamics_with_mtime(path: str | os.PathLike) -> tuple[dict[str, Any], int]:
    """``(parameters, mtime_ns)``: pass ``mtime_ns`` as ``expected_mtime`` to :func:`save_dynamics`."""
    snap = _read_snapshot(Path(path), "dynamics file")
    return _parse(snap)[0], snap.stamp[0]


def diff_dynamics(path: str | os.PathLike, updates: Mapping[str, Any]) -> list[Change]:
    """What :func:`save_dynamics` would change, in update order (unchanged values left out).

    Raises the same DynamicsError as a save would for NaN/inf or a non-number for a number.
    """
    return _apply(load_dynamics(path), updates)[1]


def format_diff(changes: Iterable[Change]) -> str:
    """One line per change, e.g. ``tau2: 8.0 -> 9.5 ms``; "no changes" when there are none."""
    lines = [str(c) for c in changes]
    return "\n".join(lines) if lines else "no changes"


# ---------------------------------------------------------------------------------------
# saving


def _check_expected(path: Path, snap: _Snapshot, expected_mtime: float | int | None) -> None:
    if expected_mtime is None:
        return
    mtime_ns = snap.stamp[0]
    if isinstance(expected_mtime, int) and not isinstance(expected_mtime, bool) and expected_mtime > 10**12:
        same = mtime_ns == expected_mtime  # nanoseconds (st_mtime_ns)
    else:
        same = abs(mtime_ns / 1e9 - float(expected_mtime)) < 1e-6  # seconds (st_mtime)
    if not same:
        when = datetime.fromtimestamp(mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")
        raise DynamicsConflictError(
            f"{path} changed on disk since it was loaded (modified {when}; someone else edited it); nothing "
            "was saved. Reload it to see the other changes, or save without expected_mtime to overwrite them."
        )


def save_dynamics(path: str | os.PathLike, updates: Mapping[str, Any], *, backup: bool = True,
                  expected_mtime: float | int | None = None, keep_backups: int = MAX_BACKUPS) -> SaveResult:
    """Write ``updates`` (parameter name → value, in the units of the file: ms, mV, µS...) into a dynamics JSON.

    Only those keys change (new ones are appended); see the module docs for formatting,
    atomicity and backups. ``expected_mtime``: the file's modification time when it was
    loaded, as ``st_mtime`` seconds (float) or ``st_mtime_ns`` (int, as
    :func:`load_dynamics_with_mtime` returns); a file modified since is refused with
    :class:`DynamicsConflictError`. When nothing changes, nothing is written.
    """
    path = Path(path)
    snap = _read_snapshot(path, "dynamics file")
    params, text, duplicates = _parse(snap)
    _check_expected(path, snap, expected_mtime)
    new, changes = _apply(params, updates)
    if not changes:
        return SaveResult(path, None, [], snap.stamp[0])
    if duplicates:
        raise DynamicsError(
            f"{path} lists {', '.join(sorted(set(duplicates)))} more than once; saving would silently drop a "
            "copy. Remove the duplicates by hand first."
        )
    # write through symlinks: replace the file the link points at, not the link
    target = Path(os.path.realpath(path))
    _check_writable(target, must_exist=True)
    written = _write_json(target, new, [c.key for c in changes], _style_of(text), previous=snap,
                          backup=backup, mode=snap.mode)
    if backup:
        _rotate(target, keep_backups)
    return SaveResult(path, written.backup, changes, (_stamp(target) or (0, 0))[0])
