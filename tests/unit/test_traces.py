"""Resampling and interpolated crossings (the basis of every time metric)."""

from __future__ import annotations

import numpy as np
import pytest

from bmtool_lab.analysis.traces import (
    crossing_times,
    ensure_uniform,
    first_crossing,
    integrate,
    is_uniform,
    resample_uniform,
    window_mean,
)

pytestmark = pytest.mark.unit


def test_resample_uniform_keeps_the_end_and_is_exact_for_lines() -> None:
    t = np.array([0.0, 0.3, 0.31, 1.7, 2.0])
    t_u, x_u = resample_uniform(t, 3.0 * t - 1.0, 0.1)
    assert t_u.size == 21 and t_u[-1] == pytest.approx(2.0)
    np.testing.assert_allclose(np.diff(t_u), 0.1)
    np.testing.assert_allclose(x_u, 3.0 * t_u - 1.0, atol=1e-12)


def test_repeated_cvode_times_are_accepted() -> None:
    t = np.array([0.0, 1.0, 1.0, 2.0])  # an event: the value jumps at t = 1
    x = np.array([0.0, 0.0, 1.0, 1.0])
    t_u, x_u = resample_uniform(t, x, 0.5)
    assert x_u[0] == 0.0 and x_u[-1] == 1.0
    assert not is_uniform(t)
    t2, _ = ensure_uniform(t, x)
    assert is_uniform(t2) and t2[1] - t2[0] == pytest.approx(0.025)


def test_crossings_are_linearly_interpolated() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = np.array([0.0, 2.0, 4.0, 1.0, 0.0])
    np.testing.assert_allclose(crossing_times(t, y, 3.0, "up"), [1.5])
    np.testing.assert_allclose(crossing_times(t, y, 3.0, "down"), [2.0 + 1.0 / 3.0])
    np.testing.assert_allclose(crossing_times(t, y, 3.0, "both"), [1.5, 2.0 + 1.0 / 3.0])
    assert first_crossing(t, y, 1.0, "down", t_from=2.0) == pytest.approx(3.0)
    assert np.isnan(first_crossing(t, y, 5.0, "up"))
    assert first_crossing(t, y, 1.0, "up", t_from=1.5) == pytest.approx(1.5)  # already above


def test_window_mean_and_integral() -> None:
    t = np.arange(0.0, 10.0, 0.5)
    assert window_mean(t, t, 2.0, 4.0) == pytest.approx(np.mean([2.0, 2.5, 3.0, 3.5]))
    assert window_mean(t, t, -5.0, 0.0) == 0.0  # nothing before the trace: nearest sample
    # ∫ t dt from 1.25 to 3.3 with off-grid limits is exact for a straight line
    assert integrate(t, t, 1.25, 3.3) == pytest.approx((3.3**2 - 1.25**2) / 2)
