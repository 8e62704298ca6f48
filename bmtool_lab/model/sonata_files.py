"""The files under a SONATA network (:mod:`bmtool_lab.model.sonata`): its errors, the cache of
what was read (keyed on each file's size and mtime), the node/edge types CSV tables as bmtk
writes them, and reading their values."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import h5py
import numpy as np
import pandas as pd

from .config import ConfigError

T = TypeVar("T")

_TRUE_STRINGS = frozenset({"true", "1", "yes", "t", "y"})


class SonataError(ConfigError):
    """A SONATA network that cannot be read as the config describes it."""


class MissingFileError(SonataError, FileNotFoundError):
    """A nodes/edges/types file named by the config does not exist."""


class PopulationNotFoundError(SonataError, KeyError):
    """A node or edge population that the config does not list."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class AttributeNotFoundError(SonataError, KeyError):
    """A node or edge attribute that exists neither in the h5 groups nor in the types CSV."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class EmptyPopulationError(SonataError):
    """An edge population with no edges."""


# ---------------------------------------------------------------------------------------
# cache


_CACHE: dict[tuple, tuple[tuple[int, int], Any]] = {}
_CACHE_LOCK = threading.RLock()


def _stamp(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size)


def _cached(path: Path, key: tuple, load: Callable[[], T]) -> T:
    """Return ``load()`` for (path, key), reusing it while the file's mtime and size stay put."""
    stamp = _stamp(path)
    full = (str(path), *key)
    with _CACHE_LOCK:
        hit = _CACHE.get(full)
        if hit is not None:
            if hit[0] == stamp:
                return hit[1]
            # the file changed: forget everything read from it
            for k in [k for k in _CACHE if k[0] == full[0]]:
                del _CACHE[k]
    value = load()
    with _CACHE_LOCK:
        _CACHE[full] = (stamp, value)
    return value


def clear_cache(path: str | Path | None = None) -> None:
    """Forget cached arrays (of one file, or of every file)."""
    with _CACHE_LOCK:
        if path is None:
            _CACHE.clear()
        else:
            name = str(Path(path))
            for k in [k for k in _CACHE if k[0] == name]:
                del _CACHE[k]


def _frozen(a: np.ndarray) -> np.ndarray:
    # cached arrays are shared by every caller: make accidental in-place edits fail loudly
    a.flags.writeable = False
    return a


# ---------------------------------------------------------------------------------------
# the types CSV tables


def _read_csv_table(path: Path) -> pd.DataFrame:
    try:
        # BMTK writes one space between fields, an empty field for None (two spaces in a row)
        # and NULL for NaN; quoted values (lists such as "[0.0, 150.0]") stay whole.
        df = pd.read_csv(path, sep=" ", na_values=["NULL", "None"], keep_default_na=True)
        if any(str(c).startswith("Unnamed:") for c in df.columns):
            # a hand-aligned file (several spaces between header names): split on any whitespace
            df = pd.read_csv(path, sep=r"\s+", na_values=["NULL", "None"], keep_default_na=True)
        return df
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise SonataError(f"{path} is not a readable space-separated SONATA types file: {err}") from None


def read_types_table(path: str | Path, id_column: str) -> pd.DataFrame:
    """Read a ``*_node_types.csv`` / ``*_edge_types.csv`` indexed by ``id_column`` (cached).

    Works with pandas 2 (text columns of ``object`` dtype) and pandas 3 (``str`` dtype): use
    :func:`column_values` to get plain numpy values out of it.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"types file {path} does not exist")

    def load() -> pd.DataFrame:
        df = _read_csv_table(path)
        if id_column not in df.columns:
            raise SonataError(
                f"{path} has no {id_column!r} column (columns: {', '.join(map(str, df.columns))}); "
                "SONATA types files are space separated with a header line"
            )
        ids = pd.to_numeric(df[id_column], errors="coerce")
        if ids.isna().any():
            raise SonataError(f"{path}: column {id_column!r} must hold integers")
        df[id_column] = ids.astype(np.int64)
        if df[id_column].duplicated().any():
            dup = df.loc[df[id_column].duplicated(), id_column].iloc[0]
            raise SonataError(f"{path}: {id_column} {dup} appears twice")
        return df.set_index(id_column, drop=False).sort_index()

    return _cached(path, ("types", id_column), load)


def column_values(df: pd.DataFrame, column: str) -> np.ndarray:
    """A types-table column as numpy: float/int/bool for numeric columns, else object (None = missing)."""
    s = df[column]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy()
    return s.to_numpy(dtype=object, na_value=None)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it is (picklable, comparable); NaN stays NaN."""
    return value.item() if isinstance(value, np.generic) else value


def truthy(value: Any) -> bool:
    """A CSV flag such as ``is_gap_junction`` (True / 1 / "true" / NULL) as a bool."""
    if value is None:
        return False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return bool(value == value and value != 0)  # NaN is missing, not true
    return str(value).strip().lower() in _TRUE_STRINGS


def _lookup_rows(type_ids_sorted: np.ndarray, ids: np.ndarray, what: str, where: str) -> np.ndarray:
    """Row of each id in a sorted id table; a clear error for ids the table lacks."""
    pos = np.searchsorted(type_ids_sorted, ids)
    pos = np.minimum(pos, max(len(type_ids_sorted) - 1, 0))
    if len(type_ids_sorted) == 0 or not np.array_equal(type_ids_sorted[pos], ids):
        bad = np.setdiff1d(np.unique(ids), type_ids_sorted)
        raise SonataError(
            f"{where} uses {what} {', '.join(map(str, bad[:5]))} that the types CSV does not define"
        )
    return pos


def _group_layout(pop: h5py.Group) -> dict[int, tuple[str, ...]]:
    """{group id: names of its 1-D/2-D datasets}; nested groups such as dynamics_params are skipped."""
    groups: dict[int, tuple[str, ...]] = {}
    for key, item in pop.items():
        if isinstance(item, h5py.Group) and key.isdigit():
            groups[int(key)] = tuple(sorted(k for k, v in item.items() if isinstance(v, h5py.Dataset)))
    return groups


# ---------------------------------------------------------------------------------------
# the h5 files


def _open_h5(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise SonataError(f"{path} is not a readable HDF5 file ({err}); rebuild the network or fix the path") from None


def _listed_populations(path: Path, root: str) -> list[str]:
    def load() -> list[str]:
        with _open_h5(path) as f:
            if root not in f:
                raise SonataError(f"{path} has no /{root} group; is it a SONATA {root} file?")
            return list(f[root].keys())

    return _cached(path, ("populations", root), load)


def _edge_meta(path: Path, name: str) -> tuple[str | None, str | None, int, dict[int, tuple[str, ...]]]:
    def load() -> tuple[str | None, str | None, int, dict[int, tuple[str, ...]]]:
        with _open_h5(path) as f:
            pop = f[f"edges/{name}"]
            if "source_node_id" not in pop or "target_node_id" not in pop:
                raise SonataError(f"edge population {name!r} in {path} has no source_node_id/target_node_id")

            def attr(key: str) -> str | None:
                v = pop[key].attrs.get("node_population")
                if v is None:
                    return None
                if isinstance(v, bytes):
                    return v.decode()
                if isinstance(v, np.ndarray):
                    v = v.ravel()[0]
                return v.decode() if isinstance(v, bytes) else str(v)

            return attr("source_node_id"), attr("target_node_id"), int(pop["source_node_id"].shape[0]), _group_layout(pop)

    return _cached(path, ("edge-meta", name), load)
