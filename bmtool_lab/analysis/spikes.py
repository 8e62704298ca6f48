"""Action-potential features of a current-step response, computed by eFEL.

eFEL (BlueBrain's electrophysiology feature library) is the field's reference for these
definitions, so nothing here re-implements a feature: this module picks the features, keeps
them to the step window and turns eFEL's arrays into plain floats.

Returned keys (units in the names; ``nan`` where eFEL has no value, e.g. no spike):

======================  ==================  ====================================================
key                     eFEL feature        meaning
======================  ==================  ====================================================
spike_count             spike_count_stimint spikes with their peak inside the step
mean_frequency_hz       mean_frequency      spike_count / (last spike - t_on) · 1000
first_spike_latency_ms  time_to_first_spike first peak - t_on
ap_amplitude_mV         AP_amplitude        mean of peak - AP onset voltage
ap_half_width_ms        spike_half_width    mean width at half of (peak - AP onset voltage)
ahp_depth_mV            AHP_depth           mean AHP minimum - voltage_base (< 0: below rest)
isi_mean_ms             all_ISI_values      mean inter-spike interval (all ISIs)
isi_cv                  ISI_CV              std(ISI, ddof=1) / mean(ISI) (all ISIs)
adaptation_index        adaptation_index2   mean of (ISI_{k+1} - ISI_k)/(ISI_{k+1} + ISI_k),
                                            first ISI skipped (eFEL's definition);
                                            > 0 when firing slows down
======================  ==================  ====================================================

``mean_frequency_hz`` is eFEL's (to the last spike); :func:`bmtool_lab.analysis.fi.firing_rate_hz`
gives spikes per step duration, the F–I curve's rate. Spike detection uses
``threshold_mV`` (eFEL's ``Threshold``), and eFEL's ``ignore_first_ISI`` is switched off so
``isi_mean_ms`` and ``isi_cv`` use every interval in the step. Settings are passed with the trace, so eFEL's
global settings are never changed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

from .traces import ensure_uniform

__all__ = ["SPIKE_FEATURES", "spike_features"]

#: Our key -> eFEL feature name.
SPIKE_FEATURES: dict[str, str] = {
    "spike_count": "spike_count_stimint",
    "mean_frequency_hz": "mean_frequency",
    "first_spike_latency_ms": "time_to_first_spike",
    "ap_amplitude_mV": "AP_amplitude",
    "ap_half_width_ms": "spike_half_width",
    "ahp_depth_mV": "AHP_depth",
    "isi_mean_ms": "all_ISI_values",
    "isi_cv": "ISI_CV",
    "adaptation_index": "adaptation_index2",
}

# eFEL keeps the current trace in one C++ global: calls from two threads would mix traces.
_EFEL_LOCK = threading.Lock()


def spike_features(
    t_ms: ArrayLike,
    v_mV: ArrayLike,
    t_on_ms: float,
    t_off_ms: float,
    features: Iterable[str] | None = None,
    *,
    threshold_mV: float = 0.0,
) -> dict[str, float]:
    """Spike features of the response to a current step, as plain floats.

    The trace is cut at ``t_off`` before it reaches eFEL, so rebound spikes after the step
    never count (a spike in the last ms of the step loses the part of its AHP after ``t_off``).

    Parameters
    ----------
    t_ms, v_mV : array_like
        Times (ms) and membrane potential (mV); an irregular (CVODE) grid is resampled at
        0.025 ms.
    t_on_ms, t_off_ms : float
        Step onset and end (ms).
    features : iterable of str, optional
        Keys of :data:`SPIKE_FEATURES` (default: all of them). Any other eFEL feature name
        is accepted too and returned under its own name as the mean of eFEL's values.
    threshold_mV : float
        Spike detection threshold (mV, keyword only).

    Returns
    -------
    dict
        Feature name -> float (NaN where eFEL gives no value).
    """
    import efel  # lazy: eFEL loads a C++ extension

    if not t_off_ms > t_on_ms:
        raise ValueError(f"need t_off_ms > t_on_ms, got {t_on_ms}, {t_off_ms}")
    keys = list(SPIKE_FEATURES) if features is None else list(features)
    names = {}
    for key in keys:
        name = SPIKE_FEATURES.get(key, key)
        if name == "spike_count_stimint" and not efel.feature_name_exists(name):
            name = "Spikecount_stimint"  # the older spelling, for eFEL releases without the new one
        if not efel.feature_name_exists(name):
            raise ValueError(f"unknown feature {key!r}; use one of {sorted(SPIKE_FEATURES)} or an eFEL name")
        names[key] = name

    t, v = ensure_uniform(t_ms, v_mV)
    keep = t <= t_off_ms
    trace = {
        "T": t[keep],
        "V": v[keep],
        "stim_start": [float(t_on_ms)],
        "stim_end": [float(t_off_ms)],
        "Threshold": [float(threshold_mV)],
        "ignore_first_ISI": [0],
    }
    with _EFEL_LOCK:
        values = efel.get_feature_values([trace], sorted(set(names.values())), raise_warnings=False)[0]

    out: dict[str, float] = {}
    for key, name in names.items():
        arr = values.get(name)
        if arr is None or len(arr) == 0:
            out[key] = float("nan")
        else:
            out[key] = float(np.mean(arr))
    return out
