"""Homework machinery without a kernel: the checker, templates, drift, graded-notebook rebuild,
reports (issue 3).  Executing notebooks is in test_grading.py."""
from __future__ import annotations

import ast
import copy
import csv
import re
import shutil

import nbformat
import numpy as np
import pytest

from course_utils import homework as hw
from course_utils.tools import authoring
from course_utils.tools import grading
from course_utils.tools import notebook as nbk
from course_utils.tools import rebuild
from course_utils.tools import results

HW0 = authoring.find_homework("hw0_face_detection")


needs_solutions = pytest.mark.skipif(not HW0.has_solution, reason=authoring.NO_SOLUTIONS)


@pytest.fixture(scope="module")
def solution():
    if not HW0.has_solution:
        pytest.skip(authoring.NO_SOLUTIONS)
    return nbformat.read(str(HW0.solution), as_version=4)


@pytest.fixture(scope="module")
def reference():
    """What the grader rebuilds from: the solution, or the template in a student release."""
    return nbformat.read(str(HW0.reference), as_version=4)


@pytest.fixture(scope="module")
def template():
    return nbformat.read(str(HW0.template), as_version=4)


def _answers(nb):
    return [c for c in nb.cells if nbk.is_solution(c)]


# ------------------------------------------------------------------------------ checker


def test_check_prints_exactly_one_pass_line(capsys):
    hw.check("q1", 4, expected=4)
    hw.check("q2", lambda: np.int64(0), expected=0)
    hw.check("shape", (160, 160, 3), expected=[160, 160, 3])
    hw.check("cond", np.bool_(True))
    assert capsys.readouterr().out == "q1: PASS\nq2: PASS\nshape: PASS\ncond: PASS\n"


def test_check_accepts_any_honest_rounding_within_tolerance(capsys):
    found = [(53.5, 77.4), (105.3, 75.9)]  # eyes detected in an aligned face
    hw.check("q5", np.array(found), expected=[(55, 74), (105, 74)], tol=6)
    hw.check("ratio", 0.333333, expected=1 / 3, tol=1e-3)
    assert capsys.readouterr().out == "q5: PASS\nratio: PASS\n"
    with pytest.raises(hw.CheckFailed):
        hw.check("q5", [(62.5, 64.3), (105.0, 61.9)], expected=[(55, 74), (105, 74)], tol=6)  # a plain crop


def test_check_failure_says_what_was_found_expected_and_what_to_do(capsys):
    with pytest.raises(hw.CheckFailed) as err:
        hw.check("q1", 3, expected=4, hint="count the list that cu.detect_faces returns")
    msg = str(err.value)
    assert msg == "q1: FAIL - got 3, expected 4. Hint: count the list that cu.detect_faces returns"
    assert isinstance(err.value, AssertionError)
    assert err.value._render_traceback_() == [f"CheckFailed: {msg}"]  # no long traceback in Jupyter
    assert capsys.readouterr().out == ""
    with pytest.raises(hw.CheckFailed, match=r"got \(120, 120, 3\), expected \(160, 160, 3\)"):
        hw.check("q4", np.zeros((120, 120, 3)).shape, expected=(160, 160, 3))
    with pytest.raises(hw.CheckFailed, match=r"expected 4 \(± 0.5\)"):
        hw.check("q1", 5, expected=4, tol=0.5)
    with pytest.raises(hw.CheckFailed, match="the condition is False"):
        hw.check("q6", 2 > 3, hint="x")
    with pytest.raises(hw.CheckFailed):  # a wrong type never passes
        hw.check("q1", "4", expected=4)
    with pytest.raises(hw.CheckFailed):
        hw.check("q1", float("nan"), expected=4, tol=1)


def test_check_of_a_missing_variable_tells_the_student_to_run_the_answer_cell():
    with pytest.raises(hw.CheckFailed) as err:
        hw.check("q1", lambda: undefined_name, expected=4, hint="set n_faces")  # noqa: F821
    msg = str(err.value)
    assert "NameError" in msg and "undefined_name" in msg and "Not answered yet? Write the answer in the cell above" in msg
    assert msg.endswith("Hint: set n_faces")
    with pytest.raises(hw.CheckFailed, match="raised AttributeError"):
        hw.check("q3", lambda: None.center, expected=(1, 2))


def test_check_rejects_bad_names_and_tolerances():
    with pytest.raises(ValueError, match="check name"):
        hw.check("q 1", True)
    with pytest.raises(ValueError, match="tol"):
        hw.check("q1", 1, expected=1, tol=-1)


def test_long_values_are_shortened_in_messages():
    with pytest.raises(hw.CheckFailed) as err:
        hw.check("q1", list(range(1000)), expected=[1])
    assert len(str(err.value)) < 200


# ------------------------------------------------------------------------------ templates


def test_stub_replaces_the_whole_cell_or_only_the_marked_lines():
    assert authoring.stub_source("x = 1\ny = 2") == "# YOUR CODE HERE\n..."
    src = "img = load()\n### BEGIN SOLUTION\nfaces = detect(img)\n### END SOLUTION\nprint(1)"
    assert authoring.stub_source(src) == "img = load()\n# YOUR CODE HERE\n...\nprint(1)"
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    assert authoring.stub_source(src) == "def f(x):\n    # YOUR CODE HERE\n    ..."
    compile(authoring.stub_source(src), "stub", "exec")  # valid Python that raises nothing (issue 28: Run All)


def test_template_hides_answers_and_stores_no_outputs_at_all(solution):
    before = copy.deepcopy(solution)
    tpl = authoring.make_template(solution)
    assert solution == before  # the solution is not changed
    assert [c.get("id") for c in tpl.cells] == [c.get("id") for c in solution.cells]
    for mine, ref in zip(tpl.cells, solution.cells):
        if nbk.is_solution(mine):
            assert "\n".join(authoring.STUB) in mine.source and "NotImplementedError" not in mine.source
            assert "detect_faces(img)" not in mine.source and "BEGIN SOLUTION" not in mine.source
        elif mine.cell_type == "code" and nbk.is_check(mine):
            assert mine.source == ref.source and ref.outputs  # the solution's check printed q1: PASS ...
            assert mine.outputs == [] and mine.execution_count is None  # ... its template shows nothing
        elif mine.cell_type == "code":
            assert mine.outputs == [] and mine.execution_count is None
            assert mine.source == ref.source
    assert _answers(tpl)[0].source.startswith("img = cu.load_sample(SAMPLE)\n")  # kept head start


def test_markdown_answer_cells_become_a_prompt():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("The answer is 42.")])
    nb.cells[0].metadata["tags"] = ["solution"]
    assert authoring.make_template(nb).cells[0].source == authoring.MARKDOWN_STUB


def test_solution_is_a_valid_reference_with_five_checks(solution):
    assert authoring.validate_solution(solution) == []
    assert nbk.expected_checks(solution) == ["q1", "q2", "q3", "q4", "q5"]
    assert len(_answers(solution)) == 5


def test_committed_templates_show_no_check_output():
    for name in authoring.homework_names():
        nb = nbformat.read(str(authoring.find_homework(name).template), as_version=4)
        assert [c.id for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)] == []
        assert "PASS" not in "".join(str(c.get("outputs", "")) for c in nb.cells)


def test_check_names_come_from_the_check_cells_source_not_from_stored_outputs(template):
    assert nbk.expected_checks(template) == ["q1", "q2", "q3", "q4", "q5"]  # the template stores no outputs
    autosaved = copy.deepcopy(template)  # JupyterLab saved it after a run: failures and stray PASS lines
    for cell in autosaved.cells:
        if nbk.is_check(cell):
            cell.outputs = [nbformat.v4.new_output("stream", text="q9: PASS\n")]
    assert nbk.expected_checks(autosaved) == ["q1", "q2", "q3", "q4", "q5"]
    cell = nbformat.v4.new_code_cell('x = 1\ncourse_utils.check(name="b.2", value=x)\ncheck("a_1", x, expected=1)')
    assert nbk.check_names(cell) == ["b.2", "a_1"]
    for src in ("cu.check(NAME, 1)", "cu.check(f'q{i}', 1)", "cu.check('q 1', 1)", "def (:", "print('q1: PASS')"):
        assert nbk.check_names(nbformat.v4.new_code_cell(src)) == [], src


def test_graded_check_cells_expect_a_pass_line_built_from_their_source(template):
    graded, _, _ = rebuild.build_graded_notebook(template, template)
    checks = [c for c in graded.cells if nbk.is_check(c)]
    assert [c.outputs[0]["text"] for c in checks] == [f"q{i}: PASS\n" for i in range(1, 6)]
    assert {c.execution_count for c in checks} == {1}  # nbval compares them


def test_source_that_is_not_text_is_a_clear_error():
    with pytest.raises(nbk.NotebookError, match="source that is not text .int."):
        nbk.cell_source({"id": "q1-answer", "source": 42})
    assert nbk.cell_source({"source": ["a\n", "b"]}) == "a\nb"


def test_solution_blocks_are_the_hidden_lines():
    assert authoring.solution_blocks("x = 1\n### BEGIN SOLUTION\ny = 2\nz = 3\n### END SOLUTION\nprint(z)") == ["y = 2\nz = 3"]
    assert authoring.solution_blocks("a = 1\n") == ["a = 1"]
    assert authoring.solution_blocks("### BEGIN SOLUTION\n### END SOLUTION") == []


def test_validate_solution_lists_what_is_wrong(solution, tmp_path):
    nb = copy.deepcopy(solution)
    checks = [c for c in nb.cells if nbk.is_check(c)]
    checks[0].execution_count = None
    checks[1].outputs = []
    checks[2].source = checks[2].source.replace('"q3"', '"q4"')  # q4 twice
    checks[4].source = "name = 'q5'\ncu.check(name, True)"  # a name that is not a literal
    problems = authoring.validate_solution(nb)
    assert any("not executed" in p for p in problems)
    assert any("exactly q2: PASS, found 0" in p for p in problems)
    assert any("used twice: q4" in p for p in problems)
    assert any("(id q5-check)" in p and "literal name" in p and "found 0" in p for p in problems)
    bad = tmp_path / "solution.ipynb"
    nbformat.write(nb, str(bad))
    with pytest.raises(ValueError, match="not ready"):
        authoring.write_template(bad)
    assert not (tmp_path / "template.ipynb").exists()


@needs_solutions
@pytest.mark.parametrize("name", authoring.homework_names())
def test_committed_templates_match_their_solutions(name):
    home = authoring.find_homework(name)
    assert authoring.check_drift(home.solution, home.template) == []


def _edited_copy(tmp_path, edit):
    if not HW0.has_solution:
        pytest.skip(authoring.NO_SOLUTIONS)
    shutil.copy(HW0.solution, tmp_path / "solution.ipynb")
    nb = nbformat.read(str(HW0.template), as_version=4)
    edit(nb)
    nbformat.write(nb, str(tmp_path / "template.ipynb"))
    return authoring.check_drift(tmp_path / "solution.ipynb", tmp_path / "template.ipynb")


def test_drift_check_catches_an_edited_template(tmp_path):
    def edit_check(nb):
        next(c for c in nb.cells if c.get("id") == "q1-check").source = "print('q1: PASS')"

    problems = _edited_copy(tmp_path, edit_check)
    assert any("q1-check" in p and "source differs" in p for p in problems)
    assert "make-template" in problems[-1]

    def leak_answer(nb):
        next(c for c in nb.cells if c.get("id") == "q3-answer").source = "big = faces[-1]"

    assert any("q3-answer" in p for p in _edited_copy(tmp_path, leak_answer))

    def show_output(nb):
        next(c for c in nb.cells if c.get("id") == "q2-check").outputs = [nbformat.v4.new_output("stream", text="q2: PASS\n")]

    assert any("q2-check" in p and "outputs" in p for p in _edited_copy(tmp_path, show_output))

    def delete_cell(nb):
        nb.cells.pop(0)

    assert any("cells" in p for p in _edited_copy(tmp_path, delete_cell))

    def untag(nb):
        next(c for c in nb.cells if c.get("id") == "q5-answer").metadata["tags"] = []

    assert any("tags differ" in p for p in _edited_copy(tmp_path, untag))

    def only_metadata(nb):
        nb.metadata["extra"] = 1

    assert _edited_copy(tmp_path, only_metadata) == ["metadata or formatting differs",
                                                     f"regenerate it: python3 course.py grade make-template {tmp_path}"]
    (tmp_path / "template.ipynb").write_text("{not json")
    assert "not a readable notebook" in authoring.check_drift(tmp_path / "solution.ipynb", tmp_path / "template.ipynb")[0]


def test_find_homework_by_name_prefix_or_folder():
    assert authoring.find_homework("hw0").path == HW0.path
    assert authoring.find_homework(HW0.path).name == "hw0_face_detection"
    assert HW0.reference == (HW0.solution if HW0.has_solution else HW0.template)
    with pytest.raises(ValueError, match="hw0_face_detection"):
        authoring.find_homework("hw99")


# ------------------------------------------------------------------------------ graded notebook


def test_graded_notebook_takes_only_the_answer_code_from_a_submission(reference, template):
    sub = copy.deepcopy(template)
    for cell in sub.cells:
        if nbk.is_check(cell):
            cell.source = "print('q1: PASS')"  # edited checks do not count ...
        elif cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", text="faked\n")]  # ... nor pasted outputs
    _answers(sub)[0].source = "n_faces = 4"
    graded, notes, flags = rebuild.build_graded_notebook(reference, sub)
    assert notes == ["answers matched by cell ids"] and flags == []
    for g, ref in zip(graded.cells, reference.cells):
        if nbk.is_check(g):
            assert g.source == rebuild.quiet_source(ref.source) and g.outputs == nbk.pass_output(nbk.check_names(ref))
        elif g.cell_type == "code":
            assert g.outputs == [] and g.execution_count is None
            if not nbk.is_solution(g):
                assert g.source == ref.source
    assert _answers(graded)[0].source == "n_faces = 4"
    assert _answers(graded)[1].source == _answers(template)[1].source


def test_answers_are_found_by_tags_or_by_position_when_ids_change(reference):
    solution = reference
    sub = copy.deepcopy(solution)
    for i, cell in enumerate(sub.cells):
        cell.id = f"new-{i}"
    _, notes, _ = rebuild.build_graded_notebook(solution, sub)
    assert notes == ["answers matched by the order of the cells tagged 'solution'"]
    for cell in sub.cells:
        cell.metadata.pop("tags", None)
    graded, notes, _ = rebuild.build_graded_notebook(solution, sub)
    assert notes == ["answers matched by cell positions"]
    assert [c.source for c in _answers(graded)] == [c.source for c in _answers(solution)]


def test_missing_answer_cells_are_graded_as_stubs(reference):
    solution = reference
    sub = copy.deepcopy(solution)
    next(c for c in sub.cells if c.get("id") == "q1-answer").source = "n_faces = 4"
    sub.cells = [c for c in sub.cells if c.get("id") != "q2-answer"][:-3]
    graded, notes, _ = rebuild.build_graded_notebook(solution, sub)
    assert any("q2-answer is missing" in n for n in notes)
    assert "\n".join(authoring.STUB) in next(c for c in graded.cells if c.get("id") == "q2-answer").source
    assert next(c for c in graded.cells if c.get("id") == "q1-answer").source == "n_faces = 4"


def test_answers_that_tamper_with_the_checker_are_flagged(reference):
    solution = reference
    assert rebuild.suspicious_code("cu.check = lambda *a, **k: print(a[0] + ': PASS')")
    assert rebuild.suspicious_code("import sys; sys.modules['course_utils'] = None")
    assert rebuild.suspicious_code("big = max(faces, key=lambda f: f.area)") == []
    sub = copy.deepcopy(solution)
    _answers(sub)[0].source = "cu.check = lambda name, *a, **k: print(f'{name}: PASS')"
    _, _, flags = rebuild.build_graded_notebook(solution, sub)
    assert flags == ["answer cell q1-answer redefines the checker", "answer cell q1-answer prints a PASS line"]


def test_invalid_submissions_are_refused_with_a_reason(tmp_path):
    for name, text, reason in [("empty", "", "not a valid notebook"), ("json", '{"a": 1}', "not a valid notebook"),
                               ("broken", '{"cells": [', "not a valid notebook")]:
        p = tmp_path / f"{name}.ipynb"
        p.write_text(text)
        with pytest.raises(rebuild.SubmissionError, match=reason):
            rebuild.read_submission(p)
        r = grading.grade_submission(HW0, p)  # no kernel is started for these
        assert r.score == 0 and reason in r.error and r.total == 5
        assert all(reason in m for m in r.messages.values())


# ------------------------------------------------------------------------------ reports


def _result(student, passed, error=""):
    r = results.GradeResult(student, "hw0_face_detection", {n: i < passed for i, n in enumerate(["q1", "q2", "q3"])},
                            error=error, seconds=1.25)
    r.messages = {n: "got 3, expected 4. Hint: count" for n, ok in r.checks.items() if not ok}
    return r


def test_gradebook_has_a_row_per_student_and_a_column_per_check(tmp_path):
    path = results.write_gradebook([_result("bob", 1), _result("alice", 3)], tmp_path / "g.csv")
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["student", "homework", "q1", "q2", "q3", "passed", "total", "score",
                             "seconds", "error", "flags"]
    assert [(r["student"], r["q2"], r["score"]) for r in rows] == [("alice", "1", "1.00"), ("bob", "0", "0.33")]
    assert rows[1]["error"] == "got 3, expected 4. Hint: count"


def test_feedback_lists_each_check_and_what_to_fix(tmp_path):
    text = results.write_feedback(_result("bob", 1, error="the kernel died"), tmp_path / "bob.md").read_text()
    assert "**Score: 1/3** (33%)" in text and "the kernel died" in text
    assert "| q1 | PASS |  |" in text and "| q2 | FAIL | got 3, expected 4. Hint: count |" in text
    report = results.format_report(_result("bob", 1))
    assert report.splitlines()[0] == "hw0_face_detection · bob: 1/3 checks passed (score 0.33)"


def test_cli_checks_drift_and_explains_usage(capsys):
    assert grading.main(["check-drift"]) == 0
    assert ("hw0_face_detection: template up to date" if HW0.has_solution else
            "hw0_face_detection: no solution.ipynb here (a student release)") in capsys.readouterr().out
    assert grading.main([]) == 2
    assert "course.py grade bulk" in capsys.readouterr().out
    assert grading.main(["hw99", "x.ipynb"]) == 2


def _names(source: str, ctx) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: not in these cells
        return set()
    out = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}
    if ctx is not ast.Load:
        out |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        out |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}
    return out


@pytest.mark.parametrize("name", ["hw0_face_detection", "hw1_facial_emotion", "hw2_face_mask",
                                  "hw3_face_identification"])
def test_template_cells_use_only_names_that_a_question_asks_for(name):
    """A cell outside the answers (a figure, a printout) that reads a name only the solution's hidden code defines
    fails with NameError in the student's notebook however well they answered (hw1 drew `inputs`, which no
    question asks for).  A name the hidden code defines may be read outside it only where a check reads it too
    (then the question asks for it)."""
    home = authoring.find_homework(name)
    if not home.has_solution:
        pytest.skip(authoring.NO_SOLUTIONS)
    every = nbk.read_notebook(home.solution).cells
    cells = [c for c in every if c.cell_type == "code"]
    hidden = set().union(*(_names(b, ast.Store) for c in cells if nbk.is_solution(c)
                           for b in authoring.solution_blocks(nbk.cell_source(c))))
    shown = set().union(*(_names(nbk.cell_source(c), ast.Store) for c in nbk.read_notebook(home.template).cells
                          if c.cell_type == "code"))
    # asked for: what a check reads, and the names the questions' text puts in backticks ("store it in `faces`")
    asked = set().union(*(_names(nbk.cell_source(c), ast.Load) for c in cells if nbk.is_check(c)),
                        *(re.findall(r"`([A-Za-z_]\w*)`", nbk.cell_source(c)) for c in every if c.cell_type == "markdown"))
    offenders = {f"cell {i}: {sorted(used)}"
                 for i, c in enumerate(every) if c.cell_type == "code" and not nbk.is_solution(c) and not nbk.is_check(c)
                 if (used := _names(nbk.cell_source(c), ast.Load) & (hidden - shown - asked))}
    assert hidden, "the solution's hidden code defines no name: the check looked at nothing"
    assert offenders == set(), f"{name}: cells that read a name only the hidden solution defines"
