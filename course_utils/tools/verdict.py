"""The verdict outside the student's interpreter (issue 16).

A check cell prints ``q1: PASS`` in the student's kernel, and that is all a kernel can prove: code
in an answer cell can replace the checker, hook IPython, or change the inputs a check compares.
So grading does not take the kernel's word for it.  While a notebook is graded, every call of
:func:`course_utils.check` also writes what it was given (the answer's *value*, plain JSON) to a
record file (``RECORD_NAME`` in the run's folder).  After the run, the grader's own process, with
the library it read before any submission, judges those values:

* against the **reference values**: the instructor's solution, run once by the same grader in the
  same kind of sandbox (cached under ``<data dir>/grading/``, keyed by the hashes of everything it
  depends on), which records the *expected* value of each check as the trusted library computed
  it, and the tolerance;
* with the same comparison the kernel uses (:func:`course_utils.homework.matches`).

A check passes only when the kernel printed ``PASS`` **and** its last recorded value (the check
cell's own call) matches the reference.  A ``PASS`` without a value or with a wrong one is failed
and flagged (the checker was bypassed); a check recorded more than once is flagged.  What this cannot see: a value that the student's code
*computed* with the library instead of their own (the check compares values, not authorship), and
checks whose value is a yes/no the kernel worked out about the student's own model or split
(``expected=(True, True)``): those say so in :data:`SELF_REPORTED`.

Without a solution (a student's copy, ``course.py release``) there is nothing to judge against:
the grade is the kernel's own check output, and the report says so.
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import homework as hw

#: The file a graded run records into, in its working folder.
RECORD_NAME = ".checks.jsonl"
#: A record file larger than this is read up to here (a flood of records cannot fill memory).
MAX_RECORD_BYTES = 8_000_000
NO_VALUE = ("printed PASS but its value never reached the grader: the checker was replaced or bypassed "
            "in the notebook's kernel")


def read_records(path: Path) -> tuple[dict[str, list[dict]], list[str]]:
    """The records of one run, by check name, in the order written; and what was wrong with the
    file (unreadable lines, too big).  Never follows a symbolic link, never blocks; never raises."""
    from .untrusted import read_bytes

    problems: list[str] = []
    try:
        data = read_bytes(path, MAX_RECORD_BYTES + 1)  # never a link, a FIFO or a device (issue 29)
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        return {}, [f"the check record could not be read ({exc})"]
    if len(data) > MAX_RECORD_BYTES:
        problems.append(f"the check record is over {MAX_RECORD_BYTES:,} bytes; the rest was ignored")
        data = data[:MAX_RECORD_BYTES]
    found: dict[str, list[dict]] = {}
    bad = 0
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(rec, dict) and isinstance(rec.get("name"), str):
            found.setdefault(rec["name"], []).append(rec)
        else:
            bad += 1
    if bad:
        problems.append(f"{bad} line(s) of the check record are not records")
    return found, problems


def reference_values(records: dict[str, list[dict]], names: list[str]) -> tuple[dict[str, dict], list[str]]:
    """The reference's record of each check (exactly one, with a value), and the names missing."""
    ref, missing = {}, []
    for name in names:
        recs = records.get(name, [])
        if len(recs) == 1 and "value" in recs[0] and "error" not in recs[0]:
            ref[name] = recs[0]
        else:
            missing.append(name)
    return ref, missing


def judge(record: dict, reference: dict) -> tuple[bool, str]:
    """Whether one recorded value passes, by the reference's expected value and tolerance."""
    if "error" in record:
        return False, f"computing the answer raised {str(record['error'])[:150]}"
    if "value" not in record:
        return False, "no value was recorded"
    value = record["value"]
    tol = reference.get("tol", 0)
    tol = tol if isinstance(tol, (int, float)) and not isinstance(tol, bool) and tol >= 0 else 0
    if "expected" not in reference:  # a condition: the value must be true
        ok = bool(value) and not isinstance(value, dict)
        return ok, "" if ok else "the condition is false"
    ok = hw.matches(value, reference["expected"], tol)  # NaN and infinity never match
    return ok, "" if ok else f"got {hw.brief(value)}, which does not match the reference"


def apply(checks: dict[str, bool], messages: dict[str, str], flags: list[str],
          records: dict[str, list[dict]], reference: dict[str, dict]) -> None:
    """Turn the kernel's PASS lines (``checks``) into the grade: each check that printed PASS must
    also have a recorded value, its last one (the check cell's own call), that matches the reference."""
    for name, kernel_ok in checks.items():
        ref = reference.get(name)
        if ref is None:  # the reference did not record it: only the kernel's word
            continue
        recs = records.get(name, [])
        if not kernel_ok:
            continue  # failed in the kernel already: its message says why
        if not recs:
            checks[name], messages[name] = False, NO_VALUE
            flags.append(f"{name} {NO_VALUE}")
            continue
        if len(recs) > 1:  # the check cell's own call is the last one
            flags.append(f"{name} was checked {len(recs)} times (its cell checks it once): the last value was judged")
        ok, why = judge(recs[-1], ref)
        if not ok:
            why = f"printed PASS in its kernel, but the grader's verdict on the recorded value: {why}"
            checks[name], messages[name] = False, why
            flags.append(f"{name} {why}")
