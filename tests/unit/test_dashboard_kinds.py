"""One registry of dashboard kinds (issue #16): the left panel's commands (js/lab/dashboard_kinds.ts)
open exactly the kinds of ``bmtool_lab.tuning.kinds.KINDS`` that have a panel name, under their
titles, and every one of them opens through ``lab.open_dashboard``'s lookup."""

from __future__ import annotations

import re
from pathlib import Path

from bmtool_lab.tuning.kinds import KINDS, panel_kind

JS_KINDS = Path(__file__).resolve().parents[2] / "js" / "lab" / "dashboard_kinds.ts"
ENTRY = re.compile(r'\{\s*panel:\s*"(?P<panel>[^"]+)",\s*title:\s*"(?P<title>[^"]+)",\s*area:\s*"(?P<area>right|main)"')


def js_kinds() -> list[dict[str, str]]:
    table = JS_KINDS.read_text().split("PANEL_KINDS", 1)[1]
    return [m.groupdict() for m in ENTRY.finditer(table)]


def test_the_panel_commands_are_the_registry_kinds_with_a_panel_name() -> None:
    js = js_kinds()
    assert js, f"no entries parsed from {JS_KINDS}"
    assert [(k["panel"], k["title"]) for k in js] == [(k.panel, k.title) for k in KINDS if k.panel]


def test_every_panel_kind_resolves_to_its_controller() -> None:
    for entry in js_kinds():
        kind = panel_kind(entry["panel"])
        assert kind.controller.rsplit(":", 1)[1] in {"SynapseTuner", "CellProfiler", "ConnectivityExplorer",
                                                     "NetworkSimulation"}
    assert js_kinds()[[k["panel"] for k in js_kinds()].index("connectivity")]["area"] == "main"
