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
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: keep this module free of pandas/bmtk imports
    from .connection_types import ConnectionType

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

#: Backups kept per file (older ones are deleted after each successful save).
MAX_BACKUPS = 5

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
# Newest-first order of backups needs the timestamp and the same-second counter.
_STAMP_FORMAT = "%Y%m%d-%H%M%S"


class DynamicsError(ValueError):
    """A dynamics file that cannot be read or saved, with a message that says how to fix it."""


class DynamicsReadOnlyError(DynamicsError):
    """The file or its folder cannot be written: nothing was written."""


class DynamicsConflictError(DynamicsError):
    """The file changed on disk since it was loaded: nothing was written."""


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


@dataclass(frozen=True)
class SaveAsResult:
    """What :func:`save_as_new` did: the new file, the CSVs edited, the backups made."""

    path: Path
    changes: list[Change]
    csv_files: list[Path] = field(default_factory=list)
    backup_paths: list[Path] = field(default_factory=list)
    repointed: list[tuple[str, int]] = field(default_factory=list)
    mtime_ns: int = 0


# ---------------------------------------------------------------------------------------
# reading


@dataclass(frozen=True)
class _Snapshot:
    """A file as read: its bytes and the (mtime_ns, size) stamp taken before reading."""

    path: Path
    raw: bytes
    stamp: tuple[int, int]
    mode: int
    owner: tuple[int, int]


@dataclass(frozen=True)
class _Style:
    """How a JSON file is laid out, so a save changes values, not formatting."""

    indent: int | str | None = _DEFAULT_INDENT
    line_ending: str = "\n"
    final_newline: bool = True
    ensure_ascii: bool = True


def _read_snapshot(path: Path, what: str) -> _Snapshot:
    """Read ``path``; a DynamicsError that says what is wrong when it cannot be read."""
    try:
        # stat before reading: if the file changes in between, the stamp is older than the
        # content, so a later conflict check errs on the side of refusing.
        st = os.stat(path)
        if not os.path.isfile(path):
            raise DynamicsError(f"{what} {path} is a folder, not a file")
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise DynamicsError(
            f"{what} {path} does not exist; check the edge type's dynamics_params and the config's "
            "synaptic_models_dir"
        ) from None
    except PermissionError:
        raise DynamicsReadOnlyError(f"{what} {path} cannot be read (permission denied)") from None
    except OSError as err:
        raise DynamicsError(f"cannot read {what} {path}: {err.strerror or err}") from None
    return _Snapshot(path, raw, (st.st_mtime_ns, st.st_size), st.st_mode & 0o7777, (st.st_uid, st.st_gid))


def _decode(snap: _Snapshot, what: str) -> str:
    try:
        return snap.raw.decode("utf-8-sig")  # tolerate a BOM (Windows editors), json.loads does not
    except UnicodeDecodeError as err:
        raise DynamicsError(f"{what} {snap.path} is not UTF-8 text ({err.reason} at byte {err.start})") from None


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


# ---------------------------------------------------------------------------------------
# validating updates and diffs


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


def diff_dynamics(path: str | os.PathLike, updates: Mapping[str, Any]) -> list[Change]:
    """What :func:`save_dynamics` would change, in update order (unchanged values left out).

    Raises the same DynamicsError as a save would for NaN/inf or a non-number for a number.
    """
    return _apply(load_dynamics(path), updates)[1]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def format_diff(changes: Iterable[Change]) -> str:
    """One line per change, e.g. ``tau2: 8.0 -> 9.5 ms``; "no changes" when there are none."""
    lines = [str(c) for c in changes]
    return "\n".join(lines) if lines else "no changes"


# ---------------------------------------------------------------------------------------
# writing files


def _check_writable(path: Path, *, must_exist: bool) -> None:
    """Refuse early, with a fix, when ``path`` (or the folder it goes into) cannot be written.

    ``os.access`` answers for the real user; root passes it, and then the OS error of the write
    itself is reported by :func:`_os_error`.
    """
    folder = path.parent
    if not folder.is_dir():
        raise DynamicsError(f"cannot save {path.name}: folder {folder} does not exist or is not a folder")
    if must_exist and os.path.exists(path) and not os.access(path, os.W_OK):
        raise DynamicsReadOnlyError(
            f"{path} is read-only, nothing was saved; make it writable (chmod u+w '{path}') or use "
            "'save as new file'"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DynamicsReadOnlyError(
            f"folder {folder} is read-only, nothing was saved: saving writes a temporary file and a backup "
            f"next to {path.name}; make the folder writable or work on a writable copy of the network"
        )


def _os_error(path: Path, err: OSError) -> DynamicsError:
    kind = DynamicsReadOnlyError if isinstance(err, PermissionError) or err.errno == errno.EROFS else DynamicsError
    return kind(f"cannot write {path}: {err.strerror or err}; nothing was saved")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _default_mode() -> int:
    """Permissions of a new file: 0o666 minus the process umask (read without changing it)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    return 0o644


def _fsync_dir(folder: Path) -> None:
    # makes the rename itself durable; not possible on Windows, harmless to skip there
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _backup_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(name)}\.(\d{{8}}-\d{{6}})(?:-(\d+))?\.bak$")


def list_backups(path: str | os.PathLike) -> list[Path]:
    """Backups of ``path`` (``<name>.<YYYYmmdd-HHMMSS>[-n].bak`` next to it), newest first."""
    path = Path(path)
    pattern = _backup_pattern(path.name)
    found: list[tuple[str, int, Path]] = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            m = pattern.match(entry.name)
            if m:
                found.append((m.group(1), int(m.group(2) or 1), Path(entry.path)))
    found.sort(reverse=True)
    return [p for *_, p in found]


def _write_backup(snap: _Snapshot, target: Path) -> Path:
    """Write the previous bytes of ``target`` to a new, never-overwritten backup file."""
    stamp = datetime.now().strftime(_STAMP_FORMAT)
    # continue after the highest counter of this second: a lower one freed by rotation would
    # sort the new backup as the oldest
    pattern = _backup_pattern(target.name)
    taken = [int(m.group(2) or 1) for b in list_backups(target)
             if (m := pattern.match(b.name)) and m.group(1) == stamp]
    n = max(taken, default=0) + 1
    while True:
        backup = target.with_name(f"{target.name}.{stamp}{'' if n == 1 else f'-{n}'}.bak")
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, snap.mode or 0o644)
        except FileExistsError:
            n += 1
            continue
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(snap.raw)
            # the backup carries the time of the version it holds
            os.utime(backup, ns=(snap.stamp[0], snap.stamp[0]))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(backup)
            raise
        return backup


def _rotate(target: Path, keep: int) -> None:
    for old in list_backups(target)[max(keep, 1):]:
        with contextlib.suppress(OSError):
            os.unlink(old)


@dataclass
class _Written:
    """A committed file, with what is needed to undo it."""

    target: Path
    previous: _Snapshot | None
    backup: Path | None


def _commit(target: Path, write: Callable[[IO[str]], None], *, newline: str, previous: _Snapshot | None,
            backup: bool, mode: int, what: str) -> _Written:
    """Atomically replace ``target`` with what ``write`` writes; back up ``previous`` first.

    ``previous`` is the snapshot the new content was computed from: if the file on disk no
    longer matches it, someone else wrote it meanwhile and the save is refused. Temp files
    and a new backup are removed again on any failure.
    """
    folder = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise _os_error(target, err) from None
    tmp = Path(tmp_name)
    backup_path: Path | None = None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if previous is not None and os.name != "nt":
            # keep the owner when root saves a user's file; allowed to fail for others
            with contextlib.suppress(OSError):
                os.chown(tmp, *previous.owner)
        if previous is not None and backup:
            backup_path = _write_backup(previous, target)
        expected = previous.stamp if previous is not None else None
        if _stamp(target) != expected:
            raise DynamicsConflictError(
                f"{what} {target} changed on disk while saving (someone else wrote it); nothing was saved. "
                "Reload it and save again."
            )
        os.replace(tmp, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if backup_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(backup_path)
        if isinstance(err, OSError):
            raise _os_error(target, err) from err
        raise
    _fsync_dir(folder)
    return _Written(target, previous, backup_path)


def _undo(done: Iterable[_Written]) -> list[str]:
    """Put back files committed before a later step failed; the problems met doing so."""
    problems: list[str] = []
    for w in reversed(list(done)):
        try:
            if w.previous is None:
                os.unlink(w.target)
            else:
                raw = w.previous.raw
                _commit(w.target, lambda f, raw=raw: f.write(raw.decode("utf-8")), newline="",
                        previous=_read_snapshot(w.target, "file"), backup=False, mode=w.previous.mode,
                        what="file")
            if w.backup is not None:
                os.unlink(w.backup)
        except (OSError, DynamicsError) as err:
            problems.append(f"{w.target}: {err}")
    return problems


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


# ---------------------------------------------------------------------------------------
# edge types sharing a file; save as a new file


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: compare the names
        return os.path.realpath(a) == os.path.realpath(b)


def shared_users(connection_types: Iterable[ConnectionType], dynamics_path: str | os.PathLike) -> list[ConnectionType]:
    """The connection types whose dynamics file is ``dynamics_path`` (same file, however named).

    More than one means a save changes all of them: offer :func:`save_as_new`.
    """
    return [ct for ct in connection_types
            if ct.dynamics_path is not None and _same_file(ct.dynamics_path, dynamics_path)]


def _models_dir_of(ct: ConnectionType) -> Path | None:
    """The synaptic_models_dir a type's relative dynamics_params was resolved in."""
    if not ct.dynamics_params or ct.dynamics_path is None or Path(ct.dynamics_params).is_absolute():
        return None
    depth = len(Path(ct.dynamics_params).parts)
    return Path(ct.dynamics_path).parents[depth - 1]


def _field_spans(line: str, loose: bool) -> list[tuple[int, int]]:
    """Character spans of the fields of one line of a space-separated SONATA types file.

    Strict (bmtk's files): exactly one space between fields, so two spaces in a row enclose an
    empty field. Loose (hand-aligned files): runs of spaces/tabs separate fields. A field in
    double quotes may hold spaces; ``""`` inside is a literal quote. Spans include the quotes.
    """
    def is_sep(c: str) -> bool:
        return c in " \t" if loose else c == " "

    spans: list[tuple[int, int]] = []
    n = len(line)
    i = 0
    if loose:
        while i < n and is_sep(line[i]):
            i += 1
    while True:
        start = i
        if i < n and line[i] == '"':
            i += 1
            while True:
                j = line.find('"', i)
                if j < 0:
                    raise ValueError("a quote is not closed")
                if j + 1 < n and line[j + 1] == '"':
                    i = j + 2
                    continue
                i = j + 1
                break
            if i < n and not is_sep(line[i]):
                raise ValueError("text follows a closing quote")
        else:
            while i < n and not is_sep(line[i]):
                i += 1
        spans.append((start, i))
        if i >= n:
            return spans
        i += 1
        if loose:
            while i < n and is_sep(line[i]):
                i += 1
            if i >= n:
                return spans


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def _csv_field(value: str) -> str:
    """``value`` as bmtk's ``csv.writer(delimiter=" ")`` writes it (quoted only when needed)."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=" ", quotechar='"', lineterminator="").writerow([value])
    return buf.getvalue()


def _split_ending(line: str) -> tuple[str, str]:
    body = line.rstrip("\r\n")
    return body, line[len(body):]


def _repoint_csv(text: str, type_ids: set[int], new_name: str, where: Path) -> str:
    """``text`` of an edge-types CSV with the dynamics_params field of ``type_ids`` set to ``new_name``.

    Only those fields change; every other character (other columns, quoting, spacing, line
    ends) stays as it was.
    """
    lines = text.splitlines(keepends=True)
    header_at = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if header_at is None:
        raise DynamicsError(f"{where} is empty; it needs a header line with edge_type_id and dynamics_params")
    header, _ = _split_ending(lines[header_at])
    try:
        spans = _field_spans(header, loose=False)
        names = [_unquote(header[s:e]) for s, e in spans]
        # several spaces between header names: a hand-aligned file (read_types_table does the same)
        loose = any(not n for n in names)
        if loose:
            spans = _field_spans(header, loose=True)
            names = [_unquote(header[s:e]) for s, e in spans]
    except ValueError as err:
        raise DynamicsError(f"{where}: cannot read the header line ({err})") from None
    for column in ("edge_type_id", "dynamics_params"):
        if column not in names:
            raise DynamicsError(
                f"{where} has no {column!r} column (columns: {', '.join(names)}); add it to point edge types "
                "at a dynamics file"
            )
    id_col, dyn_col = names.index("edge_type_id"), names.index("dynamics_params")
    encoded = _csv_field(new_name)
    found: set[int] = set()
    out = lines[: header_at + 1]
    for number, line in enumerate(lines[header_at + 1:], start=header_at + 2):
        body, ending = _split_ending(line)
        if not body.strip():
            out.append(line)
            continue
        try:
            spans = _field_spans(body, loose)
        except ValueError as err:
            raise DynamicsError(f"{where} line {number}: {err}") from None
        if len(spans) <= max(id_col, dyn_col):
            raise DynamicsError(f"{where} line {number} has {len(spans)} fields, the header {len(names)}")
        s, e = spans[id_col]
        try:
            type_id = int(float(_unquote(body[s:e])))
        except ValueError:
            raise DynamicsError(f"{where} line {number}: edge_type_id {body[s:e]!r} is not an integer") from None
        if type_id in type_ids:
            s, e = spans[dyn_col]
            body = body[:s] + encoded + body[e:]
            found.add(type_id)
        out.append(body + ending)
    missing = sorted(type_ids - found)
    if missing:
        raise DynamicsError(f"{where} has no edge type {', '.join(map(str, missing))}; nothing was saved")
    new_text = "".join(out)
    if not loose:
        _check_only_dynamics_changed(text, new_text, dyn_col, where)
    return new_text


def _check_only_dynamics_changed(old: str, new: str, dyn_col: int, where: Path) -> None:
    """Guard the text edit with the csv module's reading: only dynamics_params may differ."""
    def rows(t: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(t, newline=""), delimiter=" ", quotechar='"'))

    a, b = rows(old), rows(new)
    ok = len(a) == len(b) and all(
        len(x) == len(y) and all(u == v for k, (u, v) in enumerate(zip(x, y, strict=True)) if k != dyn_col)
        for x, y in zip(a, b, strict=True)
    )
    if not ok:  # a bug here must never reach the user's network files
        raise DynamicsError(f"internal error: editing {where} would change other fields; nothing was saved")


def save_as_new(new_path: str | os.PathLike, params: Mapping[str, Any], repoint: Iterable[ConnectionType], *,
                source_path: str | os.PathLike | None = None, backup: bool = True, overwrite: bool = False,
                synaptic_models_dir: str | os.PathLike | None = None,
                keep_backups: int = MAX_BACKUPS) -> SaveAsResult:
    """Write ``params`` to a new dynamics JSON and point the edge types ``repoint`` at it.

    - ``new_path``: a bare file name (``"ThalAMPA_PV.json"``) or a path inside
      ``synaptic_models_dir``, since the edge-types CSV names dynamics files relative to that
      folder. It must end in ``.json`` and must not exist unless ``overwrite=True``.
    - The new file starts from ``source_path`` (default: the one dynamics file all of
      ``repoint`` use, if they share one) so keys the tuner does not know are kept, then
      ``params`` are applied with the same checks as :func:`save_dynamics`.
    - ``synaptic_models_dir``: default derived from the types' ``dynamics_path``; pass
      ``config.synaptic_models_dir`` when the types name no dynamics file.
    - Each ``*_edge_types.csv`` holding those types gets its ``dynamics_params`` fields
      replaced in place (all other bytes kept), atomically and with a backup. The JSON is
      written first, so a CSV never names a file that does not exist; if a CSV cannot be
      written, the files already written are put back and the error is raised.

    The ConnectionType objects are not updated: list the connection types again afterwards.
    """
    types = list(repoint)
    dirs = [d for d in (_models_dir_of(ct) for ct in types) if d is not None]
    if synaptic_models_dir is not None:
        models_dir: Path | None = Path(synaptic_models_dir)
    elif dirs:
        models_dir = dirs[0]
    else:
        models_dir = None
    if models_dir is not None and any(not _same_file(d, models_dir) for d in dirs):
        raise DynamicsError(
            "the edge types to repoint use different synaptic_models_dir folders "
            f"({', '.join(sorted({str(d) for d in dirs}))}); repoint the types of one network at a time"
        )
    new_path = Path(new_path)
    if models_dir is None:
        if types:
            raise DynamicsError(
                "cannot tell which folder is synaptic_models_dir (the edge types name no relative dynamics "
                "file); pass synaptic_models_dir=config.synaptic_models_dir"
            )
        # nothing to repoint: a plain copy next to the source (or where new_path says)
        models_dir = Path(source_path).parent if source_path is not None and len(new_path.parts) == 1 \
            else new_path.parent
    if len(new_path.parts) == 1:
        new_path = models_dir / new_path
    elif not _same_file(new_path.parent, models_dir):
        raise DynamicsError(
            f"{new_path} is not in synaptic_models_dir ({models_dir}); the edge-types CSV names dynamics files "
            f"relative to that folder, so save it there, e.g. as {new_path.name!r}"
        )
    name = new_path.name
    if not name.endswith(".json") or name.startswith(".") or any(c in name for c in '"\r\n\t'):
        raise DynamicsError(
            f"{name!r} is not a usable dynamics file name: use a visible name ending in .json, without quotes "
            "or tabs (e.g. 'ThalAMPA_PV.json')"
        )
    existing: _Snapshot | None = None
    if os.path.lexists(new_path):
        if not overwrite:
            raise DynamicsError(f"{new_path} already exists; choose another name or pass overwrite=True")
        existing = _read_snapshot(new_path, "dynamics file")

    # the content: the source file (or the shared file of the types) plus params
    if source_path is None:
        sources = {os.path.realpath(ct.dynamics_path) for ct in types if ct.dynamics_path is not None}
        if len(sources) == 1 and os.path.isfile(next(iter(sources))):
            source_path = next(iter(sources))
    if source_path is not None:
        src_snap = _read_snapshot(Path(source_path), "dynamics file")
        base, text, duplicates = _parse(src_snap)
        if duplicates:
            raise DynamicsError(f"{source_path} lists {', '.join(sorted(set(duplicates)))} more than once; "
                                "remove the duplicates by hand first")
        style = _style_of(text)
    else:
        base, style = {}, _Style()
    content, changes = _apply(base, params)

    # the CSV edits, all computed (and so all checked) before anything is written
    by_csv: dict[str, tuple[Path, set[int], list[ConnectionType]]] = {}
    for ct in types:
        csv_path = Path(os.path.realpath(ct.edge_types_file))
        entry = by_csv.setdefault(str(csv_path), (csv_path, set(), []))
        entry[1].add(int(ct.edge_type_id))
        entry[2].append(ct)
    plans: list[tuple[_Snapshot, str]] = []
    for csv_path, ids, _ in by_csv.values():
        snap = _read_snapshot(csv_path, "edge types file")
        plans.append((snap, _repoint_csv(_decode(snap, "edge types file"), ids, name, csv_path)))

    target = Path(os.path.realpath(new_path)) if existing is not None else new_path
    _check_writable(target, must_exist=True)
    for snap, _ in plans:
        _check_writable(snap.path, must_exist=True)

    keys = list(content) if existing is None and source_path is None else [c.key for c in changes]
    done: list[_Written] = [_write_json(target, content, keys, style, previous=existing,
                                        backup=backup and existing is not None,
                                        # a new file gets the user's usual permissions, not the
                                        # source's (which may be the read-only file being forked)
                                        mode=existing.mode if existing is not None else _default_mode())]
    try:
        for snap, new_text in plans:
            done.append(_commit(snap.path, lambda f, t=new_text: f.write(t), newline="", previous=snap,
                                backup=backup, mode=snap.mode, what="edge types file"))
    except BaseException as err:
        problems = _undo(done)
        if problems:
            raise DynamicsError(f"{err}; putting the files back also failed: {'; '.join(problems)}") from err
        raise
    if backup:
        for w in done:
            if w.backup is not None:
                _rotate(w.target, keep_backups)
    return SaveAsResult(
        path=new_path,
        changes=changes,
        csv_files=[snap.path for snap, _ in plans],
        backup_paths=[w.backup for w in done if w.backup is not None],
        repointed=[(ct.edge_population, int(ct.edge_type_id)) for ct in types],
        mtime_ns=(_stamp(target) or (0, 0))[0],
    )
