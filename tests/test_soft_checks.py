"""Soft checks (issue 28): in a student's notebook a failed or unanswered check prints its FAIL line and *Run All*
goes on to the end, where ``cu.check_summary()`` lists every question's state; while grading a failed check
still raises, so that nbval fails its cell."""
from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import nbformat
import pytest

from course_utils import homework as hw
from course_utils.tools import authoring
from course_utils.tools import notebook as nbk


@pytest.fixture()
def soft(monkeypatch):
    monkeypatch.setattr(hw, "RAISE_ON_FAIL", None)
    monkeypatch.delenv(hw.RECORD_ENV, raising=False)


def _run(fn, *args, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        value = fn(*args, **kwargs)
    return value, out.getvalue(), err.getvalue()


def test_a_failed_check_prints_and_the_summary_lists_every_state(soft):
    _, out, err = _run(hw.check, "q1", 3, expected=4, hint="count the faces")
    assert out == "" and err == "q1: FAIL - got 3, expected 4. Hint: count the faces\n"
    _, out, err = _run(hw.check, "q2", lambda: undefined_name, expected=1)  # noqa: F821
    assert "q2: FAIL - computing your answer raised NameError" in err and "Not answered yet?" in err
    _, out, _ = _run(hw.check, "q3", 2, expected=2)
    assert out == "q3: PASS\n"
    _, out, _ = _run(hw.check, "q1", 4, expected=4)  # answered again, now right
    passed, out, _ = _run(hw.check_summary)
    assert passed == 2
    lines = out.splitlines()
    assert lines[0] == "q1  passed" and lines[2:] == ["q3  passed", "2 of 3 checks pass"]
    assert lines[1].startswith("q2  NOT YET - computing your answer raised NameError")
    assert not any(hw.PASS_LINE.match(line) for line in out.splitlines())  # no line the grader would count


def test_while_grading_a_failed_check_raises(soft, monkeypatch, tmp_path):
    monkeypatch.setenv(hw.RECORD_ENV, str(tmp_path / "record.jsonl"))
    with pytest.raises(hw.CheckFailed, match="q1: FAIL - got 3, expected 4"):
        hw.check("q1", 3, expected=4)
    monkeypatch.setattr(hw, "RAISE_ON_FAIL", False)  # an explicit setting wins
    assert _run(hw.check, "q1", 3, expected=4)[2].startswith("q1: FAIL")


def test_answered_skips_a_cell_whose_answer_is_missing(soft):
    scope = {"cu_answered": hw.answered, "faces": 1}
    exec("ok = cu_answered('faces')", scope)
    assert scope["ok"] is True
    out = io.StringIO()
    with redirect_stdout(out):
        exec("ok = cu_answered('faces', 'similarity')", scope)
    assert scope["ok"] is False and "similarity not defined yet" in out.getvalue()


def _run_all(nb, folder):
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def _summary(nb) -> str:
    cell = next(c for c in nb.cells if c.get("id") == "check-summary")
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


@pytest.mark.slow
@pytest.mark.parametrize("name", authoring.homework_names())
def test_the_template_runs_all_to_the_end_with_every_question_open(name):
    """Run All on the untouched template: no cell raises, every check says FAIL and the summary says so."""
    home = authoring.find_homework(name)
    nb = _run_all(nbformat.read(str(home.template), as_version=4), home.path)
    checks = [nbk.check_names(c)[0] for c in nb.cells if nbk.is_check(c)]
    summary = _summary(nb)
    assert f"0 of {len(checks)} checks pass" in summary
    assert [line.split()[0] for line in summary.splitlines()[:-1]] == checks
    assert all("NOT YET" in line for line in summary.splitlines()[:-1])


@pytest.mark.slow
def test_one_answer_filled_passes_that_question_and_no_other():
    home = authoring.find_homework("hw0_face_detection")
    answers = authoring.solution_answers(home)
    if answers is None:
        pytest.skip(authoring.NO_SOLUTIONS)
    nb = nbformat.read(str(home.template), as_version=4)
    next(c for c in nb.cells if c.get("id") == "q1-answer").source = answers["q1-answer"]
    summary = _summary(_run_all(nb, home.path)).splitlines()
    assert summary[0] == "q1  passed" and all("NOT YET" in line for line in summary[1:-1])
    assert summary[-1] == f"1 of {len(summary) - 1} checks pass"
