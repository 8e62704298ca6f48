"""The model check's findings at the top of a dashboard (bmtool_lab.model.check)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as w


def problems_box(problems: Sequence[str]) -> list[w.HTML]:
    """[an HTML list of the problems] to put first in a dashboard, or [] when there are none
    (a model without problems keeps its dashboard exactly as it was)."""
    if not problems:
        return []
    items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
    box = w.HTML(f"<div class='bmtl-err'><b>Model check: {len(problems)} problem(s)</b> "
                 f"(the sidebar panel and <code>bmtool-lab check</code> list the same)<ul>{items}</ul></div>",
                 layout=w.Layout(width="100%"))
    box.add_class("bmtl-model-problems")
    return [box]
