"""Static figures of the network view for scripts and the CLI (matplotlib, no browser).

``positions_png``: the cells in three orthogonal projections (x–y, x–z, y–z, µm), one colour
per group, the cell axes as short segments. Cells without a position are named in the title.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["positions_png", "raster_png"]

_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf"]


def positions_png(positions: pd.DataFrame, path: str | os.PathLike, rotations: pd.DataFrame | None = None,
                  *, axis_length_um: float | None = None, title: str = "") -> Path:
    """Write the projections of ``positions`` (from ``ConnectivityExplorer.positions``) to a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    has = ~positions[["x", "y", "z"]].isna().any(axis=1).to_numpy()
    cells = positions[has]
    xyz = cells[["x", "y", "z"]].to_numpy(float)
    span = float(np.ptp(xyz, axis=0).max()) if len(xyz) else 1.0
    length = axis_length_um if axis_length_um is not None else 0.04 * max(span, 1.0)
    axes = rotations.loc[has, ["axis_x", "axis_y", "axis_z"]].to_numpy(float) if rotations is not None else None
    fig, panels = plt.subplots(1, 3, figsize=(13, 4.4), constrained_layout=True)
    groups = list(dict.fromkeys(cells["group"].astype(str)))
    for ax, (i, j) in zip(panels, [(0, 1), (0, 2), (1, 2)], strict=True):
        for k, g in enumerate(groups):
            m = (cells["group"].astype(str) == g).to_numpy()
            colour = _PALETTE[k % len(_PALETTE)]
            if axes is not None:
                a, b = xyz[m], xyz[m] + axes[m] * length
                segs = np.stack([a[:, [i, j]], b[:, [i, j]]], axis=1)
                from matplotlib.collections import LineCollection

                ax.add_collection(LineCollection(segs, colors=colour, linewidths=0.6, alpha=0.6))
            ax.scatter(xyz[m, i], xyz[m, j], s=6, color=colour, label=f"{g} ({int(m.sum())})", linewidths=0)
        names = "xyz"
        ax.set_xlabel(f"{names[i]} (µm)")
        ax.set_ylabel(f"{names[j]} (µm)")
        ax.set_aspect("equal", adjustable="datalim")
    panels[0].legend(fontsize=8, markerscale=2, loc="best")
    missing = positions.attrs.get("without_positions", {})
    note = ("; without positions (not drawn): " + ", ".join(f"{p} ({n})" for p, n in missing.items())) if missing else ""
    fig.suptitle(f"{title}{len(cells):,} cells{note}", fontsize=10)
    return _save(fig, path)


def raster_png(spikes: pd.DataFrame, path: str | os.PathLike, *, group_by: str = "pop_name",
               tstop_ms: float | None = None, title: str = "") -> Path:
    """A spike raster (time in ms against cells, stacked by ``group_by`` and coloured by it) of
    ``NetworkRun.spikes``, written to a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.8), constrained_layout=True)
    groups = sorted(spikes[group_by].astype(str).unique()) if len(spikes) else []
    offset = 0
    for k, g in enumerate(groups):
        sel = spikes[spikes[group_by].astype(str) == g]
        cells = {key: i for i, key in enumerate(sorted(set(zip(sel.population, sel.node_id, strict=True))))}
        rows = offset + np.fromiter((cells[c] for c in zip(sel.population, sel.node_id, strict=True)), int, len(sel))
        ax.scatter(sel.timestamp_ms, rows, s=3, color=_PALETTE[k % len(_PALETTE)], linewidths=0,
                   label=f"{g} ({len(sel):,} spikes, {len(cells)} cells)")
        offset += len(cells)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"cell (grouped by {group_by})")
    if tstop_ms:
        ax.set_xlim(0, tstop_ms)
    if groups:
        ax.legend(fontsize=8, markerscale=3, loc="upper right")
    fig.suptitle(f"{title}{len(spikes):,} spikes", fontsize=10)
    return _save(fig, path)


def _save(fig: object, path: str | os.PathLike) -> Path:
    """Write the figure atomically (no half-written PNG if it fails) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, dpi=110, format="png")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return path
