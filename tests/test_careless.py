"""Careless but honest submissions (issue 28, point 6): graded on the honest code, not on a stub or a draft.

A duplicated answer cell with the stub first, Jupyter's copy-paste with the final code in the copy, answer cells
moved and stripped of their ids, a notebook without ids or tags with a scratch cell, a debug ``print`` in an
answer, a NumPy warning printed while a check runs.  The fast tests read what the grader rebuilds; the slow one
grades them all in one bulk run (full marks each).
"""
from __future__ import annotations

import copy
import json

import nbformat
import pytest

from course_utils.tools import authoring, grading
from course_utils.tools import notebook as nbk
from course_utils.tools.rebuild import build_graded_notebook

HW0 = authoring.find_homework("hw0_face_detection")
CORRECT = authoring.solution_answers(HW0)
pytestmark = pytest.mark.skipif(CORRECT is None, reason=authoring.NO_SOLUTIONS)


def _filled(answers: dict[str, str]):
    nb = nbformat.read(str(HW0.template), as_version=4)
    for cell in nb.cells:
        cell.source = answers.get(cell.get("id"), cell.source)
    return nb


def _copy_of(cell, source: str, new_id: str):
    twin = copy.deepcopy(cell)
    twin.source, twin["id"] = source, new_id
    return twin


def careless() -> dict[str, object]:
    """name -> notebook: honest answers, carelessly kept."""
    out = {}
    nb = _filled({})  # every answer: the stub first, then a duplicate (new id, same tag) holding the answer
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if nbk.is_solution(cell):
            cells.append(_copy_of(cell, CORRECT[cell.id], f"{cell.id}-copy"))
    nb.cells = cells
    out["duplicate_stub_first"] = nb

    nb = _filled({**CORRECT, "q2-answer": "def iou(a, b):\n    return 0.0  # first try"})  # the copy holds the final
    at = next(i for i, c in enumerate(nb.cells) if c.get("id") == "q2-answer")
    nb.cells.insert(at + 1, _copy_of(nb.cells[at], CORRECT["q2-answer"], "a1b2c3d4"))
    out["copy_paste_final_in_copy"] = nb

    nb = _filled(CORRECT)  # q3's answer moved below q4's check; no ids at all (nbformat 4.4)
    q3 = next(c for c in nb.cells if c.get("id") == "q3-answer")
    nb.cells.remove(q3)
    nb.cells.insert(next(i for i, c in enumerate(nb.cells) if c.get("id") == "q4-check") + 1, q3)
    out["moved_without_ids"] = _without_ids(nb)

    nb = _filled(CORRECT)  # no ids, no tags, and a scratch cell that fails
    at = next(i for i, c in enumerate(nb.cells) if c.get("id") == "q3-answer")
    nb.cells.insert(at, nbformat.v4.new_code_cell("faces[:2]\nundefined_name + 1  # trying something"))
    nb = _without_ids(nb)
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    out["no_ids_no_tags_scratch"] = nb
    return out


def _without_ids(nb):
    raw = json.loads(nbformat.writes(nb))
    raw["nbformat_minor"] = 4
    for cell in raw["cells"]:
        cell.pop("id", None)
    return nbformat.reads(json.dumps(raw), as_version=4)


@pytest.mark.parametrize("name", ["duplicate_stub_first", "copy_paste_final_in_copy", "moved_without_ids",
                                  "no_ids_no_tags_scratch"])
def test_the_grader_rebuilds_the_honest_code(name):
    reference = nbformat.read(str(HW0.reference), as_version=4)
    graded, notes, flags = build_graded_notebook(reference, careless()[name])
    assert flags == [] and "content" in notes[0], (notes, flags)
    scope: dict = {}
    for cell in graded.cells:
        if nbk.is_solution(cell):
            honest = CORRECT[cell.id].split("### BEGIN SOLUTION")[-1].split("### END SOLUTION")[0].strip()
            assert honest in nbk.cell_source(cell), (name, cell.id)
            if cell.id in ("q2-answer", "q4-answer", "q5-answer"):  # the function the check then calls is the honest one
                exec(nbk.cell_source(cell), {"np": __import__("numpy")}, scope)
    assert scope["iou"]((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


def test_a_plain_submission_is_still_matched_by_cell_ids():
    reference = nbformat.read(str(HW0.reference), as_version=4)
    for nb in (_filled(CORRECT), _filled({})):
        _, notes, _ = build_graded_notebook(reference, nb)
        assert notes[0] == "answers matched by cell ids"


@pytest.mark.slow
def test_careless_honest_submissions_keep_full_marks(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    notebooks = careless()
    notebooks["debug_print"] = _filled({**CORRECT, "q2-answer": CORRECT["q2-answer"].replace(
        "    return inter / union", "    print('debug', inter, union)\n    return inter / union")})
    notebooks["numpy_warning"] = _filled({**CORRECT, "q2-answer": CORRECT["q2-answer"].replace(
        "    return inter / union", "    np.log(np.float64(inter) * 0)  # a warning, honest code otherwise\n"
                                   "    return inter / union")})
    assert "print('debug'" in nbk.cell_source(next(c for c in notebooks["debug_print"].cells if c.get("id") == "q2-answer"))
    for name, nb in notebooks.items():
        (subs / f"{name}.ipynb").write_text(nbformat.writes(nb))
    results = grading.grade_folder(HW0, subs, workers=2, out=tmp_path / "gradebook.csv", cell_timeout=90,
                                   notebook_timeout=400, verbose=False, allow_unsandboxed=True)
    assert {r.student: (r.passed, r.total) for r in results} == {n: (5, 5) for n in notebooks}, \
        {r.student: r.messages for r in results}
