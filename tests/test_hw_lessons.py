"""hw2_face_mask and hw3_face_identification on the homework system: the solution scores full marks and
the untouched template zero (hw1 has its own file, with an independent honest solution)."""
from __future__ import annotations

import pytest

from course_utils import grading
from course_utils import homework as hw

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["hw2_face_mask", "hw3_face_identification"])
def test_solution_full_marks_and_template_zero(name, tmp_path):
    home = hw.find_homework(name)
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "solution.ipynb").write_bytes(home.solution.read_bytes())
    (subs / "template.ipynb").write_bytes(home.template.read_bytes())
    results = {r.student: r for r in grading.grade_folder(home.path, subs, workers=2, out=tmp_path / "book.csv",
                                                         cell_timeout=300, notebook_timeout=600, verbose=False)}
    assert results["solution"].score == 1.0, results["solution"].summary()
    assert results["template"].score == 0.0 and results["template"].total == 5
    assert "NotImplementedError" in results["template"].summary()
