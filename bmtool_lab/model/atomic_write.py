"""Writing a file of the dynamics store (:mod:`bmtool_lab.model.dynamics`) safely: the file as
read (bytes, stamp, mode, owner), the early check that it can be written, the atomic replace
(temp file in the same folder, fsync, ``os.replace``), the timestamped ``.bak`` backups and
their rotation, and undoing files already committed when a later step fails. Also the errors
of the store, which every step raises.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

#: Backups kept per file (older ones are deleted after each successful save).
MAX_BACKUPS = 5

# Newest-first order of backups needs the timestamp and the same-second counter.
_STAMP_FORMAT = "%Y%m%d-%H%M%S"


class DynamicsError(ValueError):
    """A dynamics file that cannot be read or saved, with a message that says how to fix it."""


class DynamicsReadOnlyError(DynamicsError):
    """The file or its folder cannot be written: nothing was written."""


class DynamicsConflictError(DynamicsError):
    """The file changed on disk since it was loaded: nothing was written."""


@dataclass(frozen=True)
class _Snapshot:
    """A file as read: its bytes and the (mtime_ns, size) stamp taken before reading."""

    path: Path
    raw: bytes
    stamp: tuple[int, int]
    mode: int
    owner: tuple[int, int]


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


# ---------------------------------------------------------------------------------------
# checks, backups, the atomic replace and its undo


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
