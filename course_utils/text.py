"""Small text helpers shared by the library and the tools (a basic module: standard library
only, it imports nothing else of the course)."""
from __future__ import annotations


def clip(text: object, limit: int) -> str:
    """``text`` on one line (runs of white space become one space), cut to at most ``limit``
    characters with ``...``.  The course's one clipping helper: download errors, the checker's
    messages (:mod:`course_utils.homework`) and the grader's reports use it."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
