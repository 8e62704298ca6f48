"""hoc templates in text and folders: the templates a file defines and the body of one.

``//`` and ``/* */`` comments are dropped first, so a commented-out template is no template;
string literals are kept as they are (a ``//`` inside ``"a//b"`` is no comment). A template
starts a line: ``begintemplate Name`` … ``endtemplate Name``.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["strip_comments", "template_body", "template_names", "templates_in"]

#: a string literal (kept), a line comment or a block comment (dropped)
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/', re.DOTALL)
_BEGIN = re.compile(r"^[ \t]*begintemplate[ \t]+(\w+)", re.MULTILINE)


def strip_comments(text: str) -> str:
    """``text`` without its hoc comments; a block comment leaves its line breaks behind."""
    def keep(m: re.Match[str]) -> str:
        s = m.group(0)
        return s if s.startswith('"') else "\n" * s.count("\n")

    return _TOKENS.sub(keep, text)


def template_names(text: str) -> list[str]:
    """Names of the templates that hoc ``text`` defines, in the order they appear."""
    return _BEGIN.findall(strip_comments(text))


def template_body(text: str, name: str) -> str | None:
    """What lies between ``begintemplate name`` and ``endtemplate name`` (comments dropped),
    None when ``text`` does not define the template."""
    n = re.escape(name)
    m = re.search(rf"^[ \t]*begintemplate[ \t]+{n}\b(.*?)\bendtemplate\s+{n}\b", strip_comments(text),
                  re.DOTALL | re.MULTILINE)
    return m.group(1) if m else None


def templates_in(folder: str | Path) -> dict[str, Path]:
    """Template name -> the ``*.hoc`` file of ``folder`` that defines it (the first, by file name)."""
    out: dict[str, Path] = {}
    for path in sorted(Path(folder).glob("*.hoc")):
        for name in template_names(path.read_text(errors="replace")):
            out.setdefault(name, path)
    return out
