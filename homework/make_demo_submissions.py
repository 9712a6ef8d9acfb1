"""Write a folder of made-up submissions of hw0, to try bulk grading on (and for the tests).

    .venv/bin/python homework/make_demo_submissions.py /tmp/hw0_submissions
    python3 course.py grade bulk hw0 /tmp/hw0_submissions --workers 2 --out /tmp/hw0_grades/gradebook.csv \\
        --cell-timeout 30 --timeout 180

Every submission starts from ``template.ipynb``, as a student's fork does.  The kinds: correct
(several honest ways to the answers, also with cell ids or tags lost), partial, the untouched
template, cheating (reference outputs pasted, checks edited or deleted, answers hard-coded, the
checker patched) and faulty (crashes the kernel, loops forever, prints megabytes, raises, is not a
notebook).  :func:`submissions` gives the score each should get.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

HOMEWORK = Path(__file__).resolve().parent / "hw0_face_detection"
ANSWERS = HOMEWORK.parent / "instructor_answers.py"


def _answer_sets() -> tuple[dict[str, str] | None, dict[str, str] | None, dict[str, str] | None]:
    """(the solution's answers, two other honest answer sets), each ``None`` in a student release."""
    try:
        from course_utils.tools import authoring
    except ModuleNotFoundError:  # run as a script from a clone without `pip install -e .`
        sys.path.insert(0, str(HOMEWORK.parents[1]))
        from course_utils.tools import authoring
    correct = authoring.solution_answers(authoring.Homework(HOMEWORK))
    extra = authoring.load_instructor_answers(ANSWERS)
    if extra is None:
        return correct, None, None
    return correct, extra.HW0_HONEST, extra.HW0_HONEST_NUMPY


#: Answer code by answer cell id: the reference solution's, and two other honest ways.
#: Instructor only: ``None`` in a student release (no solution.ipynb, no instructor_answers.py).
CORRECT, HONEST, HONEST_NUMPY = _answer_sets()
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
#: The kinds that need the answers above.
NEEDS_ANSWERS = ("correct", "partial")


def _template():
    return nbformat.read(str(HOMEWORK / "template.ipynb"), as_version=4)


def _with_answers(answers: dict[str, str], nb=None):
    nb = copy.deepcopy(nb if nb is not None else _template())
    for cell in nb.cells:
        if cell.get("id") in answers:
            cell.source = answers[cell.id]
    return nb


def _check_cells(nb):
    return [c for c in nb.cells if "check" in c.metadata.get("tags", [])]


def submissions() -> dict[str, tuple[str, object, float]]:
    """name -> (kind, notebook or raw text, expected score).  Without the instructor's answers
    (a student release) only the submissions that need none: the template, most cheating and
    faulty ones."""
    out: dict[str, tuple[str, object, float]] = {}
    if CORRECT is None or HONEST is None:
        return _answer_free(out)
    out["correct_reference"] = ("correct", _with_answers(CORRECT), 1.0)
    out["correct_by_hand"] = ("correct", _with_answers(HONEST), 1.0)
    out["correct_numpy_print"] = ("correct", _with_answers(HONEST_NUMPY), 1.0)
    # Kaggle or an old Jupyter may renumber cell ids: answers are then found by their tags ...
    nb = _with_answers(CORRECT)
    for i, cell in enumerate(nb.cells):
        cell.id = f"kaggle-{i:03d}"
    out["correct_new_ids"] = ("correct", nb, 1.0)
    # ... or, with tags and ids gone (nbformat 4.4), by position.
    nb = _with_answers(HONEST)
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id", None)
        cell.metadata.pop("tags", None)
    out["correct_no_ids_no_tags"] = ("correct", nb, 1.0)

    out["partial_first_two"] = ("partial", _with_answers({k: CORRECT[k] for k in ("q1-answer", "q2-answer")}), 0.4)
    out["partial_first_face"] = ("partial", _with_answers({**CORRECT, "q3-answer": "big = faces[0]"}), 0.8)
    # Two methods half right: NMS that never sorts by score, a transform fitted to the eyes alone.
    out["partial_methods"] = ("partial", _with_answers({
        **HONEST, "q4-answer": "def nms(boxes, scores, iou_threshold):\n    keep = []\n    for i in range(len(boxes)):\n"
                               "        if all(iou(boxes[i], boxes[k]) <= iou_threshold for k in keep):\n"
                               "            keep.append(i)\n    return keep",
        "q5-answer": "def similarity(src, dst):\n    return cu.alignment.similarity_transform(src[:2], dst[:2])"}), 0.6)

    _answer_free(out)
    # Cheating: the reference outputs pasted into the template, without the code.
    solution = nbformat.read(str(HOMEWORK / "solution.ipynb"), as_version=4)
    nb = _template()
    for mine, ref in zip(nb.cells, solution.cells):
        if mine.cell_type == "code":
            mine.outputs, mine.execution_count = copy.deepcopy(ref.outputs), ref.execution_count
    out["cheat_pasted_outputs"] = ("cheating", nb, 0.0)
    out["cheat_hardcoded"] = ("cheating", _with_answers({
        "q1-answer": "import numpy as np\nimg = cu.load_sample(SAMPLE)\nn_faces = 4\ncounts = [2, 3, 3, 1, 1]",
        "q2-answer": "iou = lambda a, b: 0.5",
        "q3-answer": "big = cu.Face(box=(448, 179, 599, 374), score=1.0)",
        "q4-answer": "nms = lambda boxes, scores, iou_threshold: [0]",
        "q5-answer": "similarity = lambda src, dst: np.eye(2, 3)"}), 0.4)
    # Patching the checker passes in-process; grading flags it for a human to look at.
    out["cheat_patched_checker"] = ("cheating", _with_answers({
        **{k: "pass" for k in CORRECT},
        "q1-answer": "cu.check = lambda name, *args, **kwargs: print(f'{name}: PASS')"}), 1.0)

    out["faulty_kill9"] = ("faulty", _with_answers({
        **CORRECT, "q3-answer": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"}), 0.4)
    out["faulty_endless_loop"] = ("faulty", _with_answers({**CORRECT, "q2-answer": "while True:\n    pass"}), 0.8)
    out["faulty_prints_megabytes"] = ("faulty", _with_answers({
        **CORRECT, "q1-answer": CORRECT["q1-answer"] + "\nfor i in range(40_000):\n    print('debug', i, '-' * 80)"}), 0.8)
    out["faulty_raises"] = ("faulty", _with_answers({
        **CORRECT, "q2-answer": "raise ValueError('no idea')", "q4-answer": "crop = img[big.box]"}), 0.6)
    return out


def _answer_free(out: dict) -> dict:
    """The submissions that need no answer code (also in a student release)."""
    out["template_untouched"] = ("template", _template(), 0.0)
    out["template_stubs_deleted"] = ("template", _with_answers(
        {k: "# YOUR CODE HERE" for k in _answer_ids()}), 0.0)
    nb = _with_answers({k: f"print('{k[:2]}: PASS')" for k in _answer_ids()})
    for cell in _check_cells(nb):
        cell.source = f"print('{cell.id.split('-')[0]}: PASS')"
    out["cheat_edited_checks"] = ("cheating", nb, 0.0)
    nb = _template()
    nb.cells = [c for c in nb.cells if c not in _check_cells(nb)]
    out["cheat_deleted_checks"] = ("cheating", nb, 0.0)
    out["faulty_exit"] = ("faulty", _with_answers({"q1-answer": "import os\nos._exit(1)"}), 0.0)
    out["faulty_invalid_json"] = ("faulty", '{"cells": [ {"cell_type": "code", "source": "oops"', 0.0)
    out["faulty_not_a_notebook"] = ("faulty", '{"student": "me", "answer": 42}\n', 0.0)
    out["faulty_empty_file"] = ("faulty", "", 0.0)
    return out


def _answer_ids() -> list[str]:
    return [c.id for c in _template().cells if "solution" in c.metadata.get("tags", [])]


def make_submissions(folder: str | Path, only: list[str] | None = None) -> dict[str, tuple[str, float]]:
    """Write ``<name>.ipynb`` files into ``folder``; return name -> (kind, expected score)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, (kind, nb, score) in submissions().items():
        if only is not None and name not in only:
            continue
        path = folder / f"{name}.ipynb"
        if isinstance(nb, str):
            path.write_text(nb, encoding="utf-8")
        else:
            nbformat.write(nb, str(path), version=4)
        made[name] = (kind, score)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    a = parser.parse_args(argv)
    made = make_submissions(a.folder)
    kinds: dict[str, int] = {}
    for kind, _ in made.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"wrote {len(made)} submissions to {a.folder}: " + ", ".join(f"{n} {k}" for k, n in kinds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
