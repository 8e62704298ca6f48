"""F–I helpers: inclusive current steps, spike detection, rate in the step, rheobase."""

from __future__ import annotations

import numpy as np
import pytest

from bmtool_lab.analysis.fi import bisect_rheobase, fi_currents, firing_rate_hz, spike_times

pytestmark = pytest.mark.unit


def test_fi_currents_are_inclusive() -> None:
    amps = fi_currents(0.0, 0.5, 0.05)
    assert amps.size == 11
    assert amps[-1] == pytest.approx(0.5)
    np.testing.assert_allclose(np.diff(amps), 0.05)
    # bmtool: int((stop - start) // step + 1) drops the last step for this very sweep
    assert int((0.5 - 0.0) // 0.05 + 1) == 10
    np.testing.assert_allclose(fi_currents(0.3, -0.1, -0.1), [0.3, 0.2, 0.1, 0.0, -0.1], atol=1e-12)
    np.testing.assert_allclose(fi_currents(0.2, 0.2, 0.1), [0.2])
    with pytest.raises(ValueError):
        fi_currents(0.0, 0.5, -0.05)
    with pytest.raises(ValueError):
        fi_currents(0.0, 0.5, 0.0)


def test_spike_times_are_interpolated_upward_crossings() -> None:
    dt = 0.025
    t = np.arange(0.0, 200.0, dt)
    v = 30.0 * np.sin(2 * np.pi * t / 50.0) - 15.0  # crosses 0 mV upward at sin = 1/2
    st = spike_times(t, v, threshold_mV=0.0)
    np.testing.assert_allclose(st, 50.0 / 12.0 + 50.0 * np.arange(4), atol=1e-4)
    assert spike_times(t, v, threshold_mV=20.0).size == 0
    # a trace that starts above threshold has not spiked at t = 0
    assert spike_times(t, -v, threshold_mV=0.0)[0] > 20.0


def test_firing_rate_counts_only_inside_the_step() -> None:
    st = np.array([50.0, 100.0, 150.0, 250.0, 1000.0, 1100.0])
    # [100, 1000): the spike at t_on counts, the one at t_off and the others do not
    assert firing_rate_hz(st, 100.0, 1000.0) == pytest.approx(3 / 0.9)
    assert firing_rate_hz([], 100.0, 1000.0) == 0.0
    with pytest.raises(ValueError):
        firing_rate_hz(st, 1000.0, 100.0)


def test_bisect_rheobase() -> None:
    threshold = 0.1234
    calls: list[float] = []

    def spikes_at(i_na: float) -> int:
        calls.append(i_na)
        return int(3 * i_na / threshold) if i_na >= threshold else 0

    got = bisect_rheobase(spikes_at, 0.0, 1.0, 0.001)
    assert threshold <= got <= threshold + 0.001
    assert len(calls) == 2 + int(np.ceil(np.log2(1.0 / 0.001)))
    assert np.isnan(bisect_rheobase(spikes_at, 0.0, 0.1, 0.001))  # hi does not spike
    assert bisect_rheobase(spikes_at, 0.2, 1.0, 0.001) == 0.2  # lo already spikes


def test_rheobase_search_gives_one_value_in_any_order() -> None:
    """Serial (binary) or parallel (k probes at a time, any arrival order): the same grid
    current, within the resolution of bisection's answer."""
    from bmtool_lab.analysis.fi import RheobaseSearch

    threshold = 0.07873

    def spikes(i_na: float) -> bool:
        return i_na >= threshold

    ref = bisect_rheobase(lambda i: int(spikes(i)), 0.07, 0.08, 0.001)
    values = []
    for k in (1, 2, 3, 8):
        for reverse in (False, True):
            s = RheobaseSearch(0.07, 0.08, 0.001)
            rounds = 0
            while not s.done:
                flight: list[int] = []
                while len(flight) < k and (j := s.next(flight)) is not None:
                    flight.append(j)
                for j in sorted(flight, reverse=reverse):
                    s.report(j, spikes(s.current(j)))
                rounds += 1
            values.append(s.value)
            if k == 1:
                assert rounds <= int(np.ceil(np.log2(s.n)))
    assert len(set(values)) == 1
    assert threshold <= values[0] <= threshold + 0.001 and abs(values[0] - ref) <= 0.001
    assert RheobaseSearch(0.0, 0.0105, 0.001).n == 11  # spacing <= resolution
