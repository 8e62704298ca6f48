"""Small least-squares helpers shared by the event and passive fits (private).

The fits here have 2–4 parameters. A multi-threaded BLAS spends more time waking threads
than computing on such problems (a double-exponential fit took 109–183 ms with threads and
31 ms with one on the project's 2-core machines), so fits run on at most ``MAX_FIT_POINTS``
samples and, when ``threadpoolctl`` happens to be installed, with BLAS limited to one thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

MAX_FIT_POINTS = 2000


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread inside the block if threadpoolctl is available (optional)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional dependency: without it the small problem size is the guard
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def decimate(
    t: NDArray[np.float64], y: NDArray[np.float64], max_points: int = MAX_FIT_POINTS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Keep every k-th sample so at most ``max_points`` remain (first and last kept)."""
    n = t.size
    if n <= max_points:
        return t, y
    idx = np.unique(np.r_[np.arange(0, n, int(np.ceil(n / max_points))), n - 1])
    return t[idx], y[idx]


def r_squared(y: NDArray[np.float64], y_fit: NDArray[np.float64]) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (NaN when ``y`` is constant)."""
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((y - y_fit) ** 2)) / ss_tot


def curve_fit_small(
    f: Callable[..., NDArray[np.float64]],
    t: NDArray[np.float64],
    y: NDArray[np.float64],
    p0: tuple[float, ...],
    bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
) -> NDArray[np.float64] | None:
    """``scipy.optimize.curve_fit`` on a decimated copy, one BLAS thread; None if it fails."""
    from scipy.optimize import curve_fit  # lazy: keeps `import bmtool_lab.analysis` light

    td, yd = decimate(t, y)
    kwargs = {"p0": p0, "maxfev": 20000}
    if bounds is not None:
        kwargs["bounds"] = bounds
    try:
        with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore"):
            popt, _ = curve_fit(f, td, yd, **kwargs)
    except (RuntimeError, ValueError, np.linalg.LinAlgError):
        return None
    return popt if np.all(np.isfinite(popt)) else None
