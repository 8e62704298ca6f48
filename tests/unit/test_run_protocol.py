"""The one conversion from the tuner's protocol to the worker's run protocol
(bmtool_lab.tuning.synapse_protocol.run_protocol): fields, units, and the recovery delay (the
tuner's ``delay_ms``) kept apart from the NetCon delay."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from bmtool_lab.sim.synapse_jobs import RunProtocol
from bmtool_lab.tuning.synapse_protocol import BMTOOL_NETCON_DELAY_MS, SynapseProtocol, run_protocol

pytestmark = pytest.mark.unit


def test_recovery_delay_and_netcon_delay_are_not_confused() -> None:
    p = SynapseProtocol(freq_hz=20.0, delay_ms=500.0, n_train=8, n_rec=4, t_start_ms=300.0, tail_ms=150.0).validated()
    rp = run_protocol(p, "train", weight_uS=0.002, netcon_delay_ms=1.7)
    assert isinstance(rp, RunProtocol)
    assert rp.recovery_delay_ms == 500.0 and rp.netcon_delay_ms == 1.7
    names = {f.name for f in fields(RunProtocol)}
    assert "delay_ms" not in names and "rec_delay_ms" not in names  # no ambiguous field left
    # the recovery delay spaces the pulses; the NetCon delay does not move them, only the end
    t = rp.pulse_times()
    assert t[0] == 300.0 and np.allclose(np.diff(t[:8]), 50.0)
    assert t[8] - t[7] == pytest.approx(500.0)
    assert rp.tstop_ms == pytest.approx(t[-1] + 1.7 + 150.0)
    later = run_protocol(p, "train", weight_uS=0.002, netcon_delay_ms=5.0)
    assert np.array_equal(later.pulse_times(), t) and later.tstop_ms == pytest.approx(rp.tstop_ms + 3.3)


def test_fields_and_units_carry_over() -> None:
    p = SynapseProtocol(clamp="current", hold_mV=-65.0, rs_MOhm=0.5, cvode=False, dt=0.01, atol=1e-5,
                        celsius=None, v_init=None, checkpoint=False, poisson_rate_hz=15.0,
                        poisson_duration_ms=800.0, seed=3).validated()
    rp = run_protocol(p, "poisson", weight_uS=0.004, netcon_delay_ms=0.8, stream=True)
    assert (rp.kind, rp.clamp, rp.hold_mV, rp.rs_MOhm) == ("poisson", "current", -65.0, 0.5)
    assert (rp.cvode, rp.dt, rp.atol, rp.checkpoint, rp.stream) == (False, 0.01, 1e-5, False, True)
    assert (rp.celsius, rp.v_init) == (34.0, -70.0)  # the defaults when the config has none
    assert (rp.poisson_rate_hz, rp.poisson_duration_ms, rp.seed) == (15.0, 800.0, 3)
    assert rp.weight_uS == 0.004 and rp.kernel  # Poisson amplitudes are deconvolved with the kernel
    assert rp.tstop_ms == pytest.approx(p.t_start_ms + 800.0 + 0.8 + p.tail_ms)
    warm = run_protocol(SynapseProtocol(celsius=22.0, v_init=-60.0), "train", weight_uS=1e-3, netcon_delay_ms=1.0)
    assert (warm.celsius, warm.v_init) == (22.0, -60.0)


def test_single_events_run_at_least_the_response_window() -> None:
    p = SynapseProtocol(tail_ms=50.0, window_ms=120.0)
    single = run_protocol(p, "single", weight_uS=1e-3, netcon_delay_ms=2.0)
    assert single.tail_ms == 120.0 and not single.kernel
    assert single.tstop_ms == pytest.approx(p.t_start_ms + 2.0 + 120.0)
    assert run_protocol(p, "train", weight_uS=1e-3, netcon_delay_ms=2.0).tail_ms == 50.0


def test_bmtool_convention_uses_its_fixed_netcon_delay() -> None:
    p = SynapseProtocol(delay_ms=125.0)
    rp = run_protocol(p, "train", weight_uS=1e-3, netcon_delay_ms=0.5, convention="bmtool")
    assert rp.netcon_delay_ms == BMTOOL_NETCON_DELAY_MS and rp.recovery_delay_ms == 125.0
    assert rp.kernel  # deconvolved amplitudes need the kernel, even under bmtool's convention
    raw = run_protocol(SynapseProtocol(amplitude_method="raw"), "train", weight_uS=1e-3, netcon_delay_ms=0.5,
                       convention="bmtool")
    assert not raw.kernel
