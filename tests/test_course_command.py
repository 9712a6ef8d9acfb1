"""course.py test: the second pass under the other numeric setting (issue 15)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def course():
    spec = importlib.util.spec_from_file_location("course_command", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_onednn_state_follows_the_variable(course):
    assert course.onednn_is_on(sys.executable, {"TF_ENABLE_ONEDNN_OPTS": "1"}) is True
    assert course.onednn_is_on(sys.executable, {"TF_ENABLE_ONEDNN_OPTS": "0"}) is False


@pytest.mark.slow
@pytest.mark.parametrize("now, then", [("0", "1"), ("1", "0")])
def test_second_pass_flips_onednn(course, monkeypatch, now, then):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", now)
    numerics = course.other_numerics(sys.executable)
    assert numerics["TF_ENABLE_ONEDNN_OPTS"] == then and numerics["OMP_NUM_THREADS"] == "1"


def test_second_pass_runs_every_lesson_and_the_homework_grading(course):
    cmd = course.test_command("python", [], tests=course.SECOND_PASS_TESTS)
    lessons = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(lessons) == 6 and all(n in cmd for n in lessons)
    assert "tests" not in cmd and all((ROOT / t).is_file() and t in cmd for t in course.SECOND_PASS_TESTS)
    assert "--nbval" in cmd
