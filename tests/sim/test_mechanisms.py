"""Mechanism loading: a density mechanism that clashes with one NEURON already has is refused
with a clear message (in a worker process, so this test process never imports NEURON)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bmtool_lab.sim.errors import SimError
from bmtool_lab.sim.worker import InteractiveWorker

pytestmark = pytest.mark.sim


def load_job(ctx, mod_dir: str) -> dict:
    return ctx.load_mechanisms(mod_dir)


def test_suffix_clash_with_a_builtin_is_a_clear_error(tmp_path: Path) -> None:
    # NEURON builds in `hh` as a SUFFIX mechanism: hasattr(h, "hh") is False, yet loading a
    # library that defines it again would fail inside NEURON with a cryptic message.
    (tmp_path / "hh_again.mod").write_text("NEURON { SUFFIX hh RANGE gx }\nPARAMETER { gx = 1 }\n")
    with InteractiveWorker(name="mech-clash", timeout_s=120) as worker:
        with pytest.raises(SimError) as err:
            worker.call(load_job, mod_dir=str(tmp_path))
        assert "hh" in err.value.message and "already defined" in err.value.message
        # the worker and the kernel carry on
        ok = tmp_path / "fine"
        ok.mkdir()
        (ok / "fine.mod").write_text("NEURON { SUFFIX fine_ex RANGE g }\nPARAMETER { g = 1 }\n")
        assert worker.call(load_job, mod_dir=str(ok)) == {"fine_ex": "fine.mod"}
