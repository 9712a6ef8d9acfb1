"""hw1_facial_emotion on the homework system: the solution and an independent honest solution score
full marks, the untouched template zero, a model below the accuracy bar fails only the checks that
depend on it."""
from __future__ import annotations

import copy

import nbformat
import pytest

from course_utils.tools import authoring
from course_utils.tools import grading

pytestmark = pytest.mark.slow

HW1 = authoring.find_homework("hw1_facial_emotion")
SOLUTION = HW1.solution

ANSWERS = authoring.load_instructor_answers()
if ANSWERS is None or not HW1.has_solution:
    pytest.skip(authoring.NO_SOLUTIONS, allow_module_level=True)
#: Another honest solution, and honest code whose model is too weak (one epoch: q4 and q5 fail).
HONEST, UNDERTRAINED = ANSWERS.HW1_HONEST, ANSWERS.HW1_UNDERTRAINED


def _with(nb, answers):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("id") in answers:
            cell.source = answers[cell.id]
    return nb


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    subs = tmp_path_factory.mktemp("hw1")
    solution = nbformat.read(SOLUTION, as_version=4)
    nbformat.write(solution, str(subs / "reference.ipynb"))
    nbformat.write(_with(solution, HONEST), str(subs / "honest.ipynb"))
    nbformat.write(_with(solution, UNDERTRAINED), str(subs / "undertrained.ipynb"))
    (subs / "template.ipynb").write_bytes(HW1.template.read_bytes())
    found = grading.grade_folder(HW1.path, subs, workers=2, out=tmp_path_factory.mktemp("g") / "book.csv",
                                 cell_timeout=300, notebook_timeout=600, verbose=False,
                                 allow_unsandboxed=True)
    return {r.student: r for r in found}


def test_reference_and_an_independent_honest_solution_score_full_marks(results):
    for student in ("reference", "honest"):
        r = results[student]
        assert r.score == 1.0, (student, r.checks, r.summary())


def test_template_scores_zero_without_crashing_the_grader(results):
    r = results["template"]
    assert r.score == 0.0 and len(r.checks) == 7 and "is not defined" in r.summary()  # the stub defines nothing


def test_a_model_below_the_bar_fails_only_what_depends_on_it(results):
    r = results["undertrained"]
    assert {k for k, ok in r.checks.items() if not ok} == {"q4", "q5"}, r.checks
