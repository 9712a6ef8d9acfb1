"""Small text helpers shared by the library and the tools (a basic module: standard library
only, it imports nothing else of the course)."""
from __future__ import annotations

import html
import re

#: Terminal escape sequences (CSI, OSC, two-character) and the other control characters.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|[\x00-\x1f\x7f-\x9f]")
_MARKDOWN = re.compile(r"([\\`\[\]|])")


def clip(text: object, limit: int) -> str:
    """``text`` on one line (runs of white space become one space), cut to at most ``limit``
    characters with ``...``.  The course's one clipping helper: download errors, the checker's
    messages (:mod:`course_utils.homework`) and the grader's reports use it."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plain(text: object) -> str:
    """``text`` that cannot forge what a terminal or a report shows (issue 29): terminal escape sequences and
    control characters removed, line breaks and tabs turned into spaces."""
    return _CONTROL.sub("", re.sub(r"[\r\n\t]", " ", str(text)))


def markdown_text(text: object) -> str:
    """``text`` shown as itself in Markdown: :func:`plain`, HTML escaped (no tag, image or script: a viewer shows
    ``<home>`` for ``&lt;home&gt;``), and the characters that make table cells, links and code escaped with a
    backslash (emphasis is left alone: it cannot forge a line)."""
    return _MARKDOWN.sub(r"\\\1", html.escape(plain(text), quote=False))
