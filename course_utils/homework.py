"""What a homework notebook's check cells need at run time: :func:`check` (``cu.check``).

A check cell calls ``cu.check("q1", value, expected, tol=..., hint=...)`` once: it prints exactly
``q1: PASS``, or a ``q1: FAIL - ...`` line with what was found, what was expected and the hint.
In a student's notebook a failed check only prints (issue 28: *Run All* goes on to the end, and
:func:`check_summary` lists every question's state there); while grading (:data:`RECORD_ENV` set) it
raises :class:`CheckFailed`, so that nbval fails the cell (:data:`RAISE_ON_FAIL`).  Cells that need an
answer first ask :func:`answered` instead of raising a ``NameError``.
Only ``PASS`` lines are printed by passing checks, so the output is the same for every correct solution and nbval
can compare it with the reference.  While a notebook is graded (:data:`RECORD_ENV` set), each call
also records the value it was given, as plain JSON (:func:`exportable`), for the grader to judge in
its own process (:mod:`course_utils.tools.verdict`, with the same :func:`matches`).

This module is imported in the student's kernel, so it stays small and standard-library only.
Everything about writing a homework (tags, templates generated from the solution, drift, homework
folders) is instructor tooling: :mod:`course_utils.tools.authoring`; grading is
:mod:`course_utils.tools.grading`.
"""
from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from typing import Any, Sequence

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
#: Whether a failed check raises :class:`CheckFailed` (True) or prints its FAIL line and lets the notebook go on
#: (False).  None: raise while grading (:data:`RECORD_ENV` set), print otherwise.
RAISE_ON_FAIL: bool | None = None
#: What the checks run in this kernel said, in the order they ran: ``{name: (passed, message)}``.
RESULTS: dict[str, tuple[bool, str]] = {}


#: Where :func:`check` prints its PASS line while :func:`quiet_check` holds the cell's own output back.
_PASS_STREAM = None


@contextlib.contextmanager
def quiet_check():
    """Grading wraps each check cell in this (issue 28): what the student's code prints or warns while the check
    computes its value (a debug ``print``, a NumPy warning) is dropped, and only the check's own ``qN: PASS`` line
    reaches the output that nbval compares: an honest answer is not failed for a stray line."""
    global _PASS_STREAM
    import io
    import warnings

    before, real = _PASS_STREAM, sys.stdout
    _PASS_STREAM = real
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        _PASS_STREAM = before


def _fail(name: str, message: str) -> None:
    RESULTS[name] = (False, message)
    raising = RAISE_ON_FAIL if RAISE_ON_FAIL is not None else bool(config.get(RECORD_ENV))
    if raising:
        raise CheckFailed(message)
    print(message, file=sys.stderr, flush=True)  # shown in red; the next cells still run


def check_summary() -> int:
    """Print the state of every check this kernel ran (in the order they first ran; a check run again shows its
    last state) and how many pass; returns that number.  The last code cell of each homework calls it, so that
    *Run All* ends with where you stand."""
    if not RESULTS:
        print("no check has run yet: run the notebook (Run > Run All Cells)")
        return 0
    width = max(len(n) for n in RESULTS)
    for name, (ok, message) in RESULTS.items():
        state = "passed" if ok else "NOT YET - " + clip(message.split(" - ", 1)[-1], 160)
        print(f"{name:<{width}}  {state}")
    passed = sum(ok for ok, _ in RESULTS.values())
    print(f"{passed} of {len(RESULTS)} checks pass")
    return passed


def answered(*names: str) -> bool:
    """Whether the notebook has defined every one of ``names`` (in the caller's globals); if not, says which are
    missing and returns False, so that a cell that shows an answer is skipped, not stopped with a NameError::

        if cu.answered("faces"):
            plt.imshow(cu.draw_faces(img, faces))
    """
    scope = sys._getframe(1).f_globals
    missing = [n for n in names if n not in scope]
    if missing:
        print(f"skipped: {', '.join(missing)} not defined yet (answer the question above and run its cell)")
    return not missing


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


#: How many times each check has failed in this kernel: a hint given as a list shows one step more each time.
FAILURES: dict[str, int] = {}


def hint_text(name: str, hint: str | Sequence[str]) -> str:
    """The hint a failing check shows (issue 28): a string as it is (``" Hint: ..."``); a list of hints, from a
    nudge to the recipe, one step per failure of this check in this kernel (``" Hint 2 of 3: ..."``), so that a
    student tries before reading the answer's recipe."""
    if not hint:
        return ""
    if isinstance(hint, str):
        return f" Hint: {hint}"
    steps = [str(h) for h in hint]
    shown = min(FAILURES.get(name, 0), len(steps) - 1)
    more = " (fail again for the next hint)" if shown < len(steps) - 1 else ""
    return f" Hint {shown + 1} of {len(steps)}: {steps[shown]}{more}"


def check(name: str, value: Any, expected: Any = _MISSING, *, tol: float = 0,
          hint: str | Sequence[str] = "") -> None:
    """Check one homework answer: print exactly ``<name>: PASS``, or its FAIL line (:data:`RAISE_ON_FAIL`: or raise
    :class:`CheckFailed` with it).

    Args:
        name: the check's name, e.g. ``"q1"`` (letters, digits, ``_ . -``).
        value: what the student computed, or a function of no arguments returning it (then a
            missing variable or an error while computing becomes a failed check with the
            hint, not a bare ``NameError``).
        expected: the expected value.  Numbers match within ``tol``; tuples and lists (shapes,
            points, nested lists; NumPy values are converted) element by element.  Leave it
            out to check a condition: ``value`` must then be true.
        tol: absolute tolerance for every number compared.
        hint: what the student should do when the check fails (shown in the message); or a list of hints, from a
            nudge to the recipe, shown one more per failure (:func:`hint_text`).

    Only ``PASS`` lines are printed, so the output is the same for every correct solution,
    whatever its rounding, and nbval can compare it with the reference.
    """
    if not isinstance(name, str) or not PASS_LINE.match(f"{name}: PASS"):
        raise ValueError(f"a check name is letters, digits and _ . - (like 'q1'), got {name!r}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    if callable(value) and not hasattr(value, "shape"):
        try:
            value = value()
        except Exception as exc:  # the student's code raised: report it as a failed check
            what = f"{type(exc).__name__}: {exc}"
            _record(name, error=what)
            todo = (" Not answered yet? Write the answer in the cell above and run it (or Run > Run All Above "
                    "Selected Cell)." if isinstance(exc, NameError) else "")
            if not isinstance(exc, NameError):  # an unanswered question does not use up a hint
                FAILURES[name] = FAILURES.get(name, 0) + 1
            return _fail(name, f"{name}: FAIL - computing your answer raised {what}.{todo}"
                               f"{hint_text(name, hint) if isinstance(exc, NameError) else _used_hint(name, hint)}")
    _record(name, value=value, expected=expected, tol=tol)
    if expected is _MISSING:
        ok = bool(value)
        found = f"the condition is {brief(value)}"
    else:
        ok = matches(value, expected, tol)
        plus = f" (± {tol:g})" if tol else ""
        found = f"got {brief(value)}, expected {brief(expected)}{plus}"
    if not ok:
        FAILURES[name] = FAILURES.get(name, 0) + 1
        return _fail(name, f"{name}: FAIL - {found}.{_used_hint(name, hint)}")
    RESULTS[name] = (True, "")
    print(f"{name}: PASS", file=_PASS_STREAM or sys.stdout)


def _used_hint(name: str, hint: str | Sequence[str]) -> str:
    """The hint of the failure just counted (the first failure shows the first step)."""
    FAILURES[name] -= 1
    try:
        return hint_text(name, hint)
    finally:
        FAILURES[name] += 1


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
