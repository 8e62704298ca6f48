"""Edge types that share one dynamics file, and saving tuned values as a new file
(:mod:`bmtool_lab.model.dynamics`): :func:`save_as_new` writes the new JSON and re-points the
chosen edge types at it by editing only the ``dynamics_params`` fields of their rows in
``*_edge_types.csv``, every other byte of the CSV kept.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic_write import (
    MAX_BACKUPS,
    DynamicsError,
    _check_writable,
    _commit,
    _decode,
    _default_mode,
    _read_snapshot,
    _rotate,
    _Snapshot,
    _stamp,
    _undo,
    _Written,
)
from .dynamics_json import Change, _apply, _parse, _Style, _style_of, _write_json

if TYPE_CHECKING:  # only for annotations: keep this module free of pandas/bmtk imports
    from .connection_types import ConnectionType


@dataclass(frozen=True)
class SaveAsResult:
    """What :func:`save_as_new` did: the new file, the CSVs edited, the backups made."""

    path: Path
    changes: list[Change]
    csv_files: list[Path] = field(default_factory=list)
    backup_paths: list[Path] = field(default_factory=list)
    repointed: list[tuple[str, int]] = field(default_factory=list)
    mtime_ns: int = 0


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
