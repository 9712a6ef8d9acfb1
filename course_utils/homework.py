"""What a homework notebook's check cells need at run time: :func:`check` (``cu.check``).

A check cell calls ``cu.check("q1", value, expected, tol=..., hint=...)`` once: it prints exactly
``q1: PASS`` or raises :class:`CheckFailed` with what was found, what was expected and the hint.
Only ``PASS`` lines are printed, so the output is the same for every correct solution and nbval
can compare it with the reference.  While a notebook is graded (:data:`RECORD_ENV` set), each call
also records the value it was given, as plain JSON (:func:`exportable`), for the grader to judge in
its own process (:mod:`course_utils.tools.verdict`, with the same :func:`matches`).

This module is imported in the student's kernel, so it stays small and standard-library only.
Everything about writing a homework (tags, templates generated from the solution, drift, homework
folders) is instructor tooling: :mod:`course_utils.tools.authoring`; grading is
:mod:`course_utils.tools.grading`.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from . import config
from .text import clip

#: What a passing check prints, exactly (``q1: PASS``).
PASS_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+): PASS$")
#: Set by the grader: the file where :func:`check` writes each value it was given (one JSON line per
#: call), judged afterwards by the grader's own process (:mod:`course_utils.tools.verdict`).
RECORD_ENV = "COURSE_CHECK_RECORD"


class CheckFailed(AssertionError):
    """A homework check did not pass.  The message says what was found, what was expected,
    and what to do (the hint).  In a notebook it is shown without a long traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython: show only the message
        return [f"CheckFailed: {self}"]


_MISSING = object()


def _plain(value: Any) -> Any:
    """NumPy scalars/arrays and tuples as plain Python, for messages and comparisons."""
    if hasattr(value, "tolist") and callable(value.tolist):
        try:
            return value.tolist()
        except Exception:  # not a NumPy object after all
            return value
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    return value


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, (tuple, list)):
        return type(value)(_rounded(v) for v in value)
    return value


def brief(value: Any, limit: int = 80) -> str:
    """A value for a message: plain Python, floats to 2 decimals, at most ``limit`` characters
    (the grader's verdict shows values the same way)."""
    return clip(repr(_rounded(_plain(value))), limit)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def matches(value: Any, expected: Any, tol: float) -> bool:
    """Equal, with numbers within ``tol``; sequences (lists, tuples, shapes, arrays) compared
    element by element and must have the same length.  The one comparison of a check: the
    kernel's (:func:`check`) and the grader's (:mod:`course_utils.tools.verdict`)."""
    value, expected = _plain(value), _plain(expected)
    if _is_number(expected):
        return _is_number(value) and math.isfinite(value) and abs(value - expected) <= tol
    if isinstance(expected, (tuple, list)):
        return (isinstance(value, (tuple, list)) and len(value) == len(expected)
                and all(matches(v, e, tol) for v, e in zip(value, expected)))
    return type(value) is type(expected) and value == expected


def check(name: str, value: Any, expected: Any = _MISSING, *, tol: float = 0, hint: str = "") -> None:
    """Check one homework answer: print exactly ``<name>: PASS`` or raise :class:`CheckFailed`.

    Args:
        name: the check's name, e.g. ``"q1"`` (letters, digits, ``_ . -``).
        value: what the student computed, or a function of no arguments returning it (then a
            missing variable or an error while computing becomes a failed check with the
            hint, not a bare ``NameError``).
        expected: the expected value.  Numbers match within ``tol``; tuples and lists (shapes,
            points, nested lists; NumPy values are converted) element by element.  Leave it
            out to check a condition: ``value`` must then be true.
        tol: absolute tolerance for every number compared.
        hint: what the student should do when the check fails (shown in the message).

    Only ``PASS`` lines are printed, so the output is the same for every correct solution,
    whatever its rounding, and nbval can compare it with the reference.
    """
    if not isinstance(name, str) or not PASS_LINE.match(f"{name}: PASS"):
        raise ValueError(f"a check name is letters, digits and _ . - (like 'q1'), got {name!r}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    tail = f" Hint: {hint}" if hint else ""
    if callable(value) and not hasattr(value, "shape"):
        try:
            value = value()
        except Exception as exc:  # the student's code raised: report it as a failed check
            what = f"{type(exc).__name__}: {exc}"
            _record(name, error=what)
            todo = (" Run the answer cells above this one first (Run > Run All Above Selected Cell)."
                    if isinstance(exc, NameError) else "")
            raise CheckFailed(f"{name}: FAIL - computing your answer raised {what}.{todo}{tail}") from None
    _record(name, value=value, expected=expected, tol=tol)
    if expected is _MISSING:
        ok = bool(value)
        found = f"the condition is {brief(value)}"
    else:
        ok = matches(value, expected, tol)
        plus = f" (± {tol:g})" if tol else ""
        found = f"got {brief(value)}, expected {brief(expected)}{plus}"
    if not ok:
        raise CheckFailed(f"{name}: FAIL - {found}.{tail}")
    print(f"{name}: PASS")


def exportable(value: Any) -> Any:
    """``value`` as plain JSON data (NumPy values, tuples and sets become lists; dict keys
    strings); ``{"unexportable": type}`` for what has no plain form (a function, a model)."""
    value = _plain(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [exportable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): exportable(v) for k, v in value.items()}
    return {"unexportable": type(value).__name__}


def _record(name: str, **fields: Any) -> None:
    """Append what :func:`check` was given to the grader's record file, when grading set one."""
    path = config.get(RECORD_ENV)
    if not path:
        return
    if fields.get("expected", None) is _MISSING:
        del fields["expected"]
    line = {"name": name} | {k: exportable(v) for k, v in fields.items()}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, allow_nan=True) + "\n")
