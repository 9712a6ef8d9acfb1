"""The student release (issue 16): no solution code anywhere in it, and its own tests pass there."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from course_utils.env import REPO_ROOT
from course_utils.tools import authoring
from course_utils.tools import notebook as nbk
from course_utils.tools import release

HAVE_SOLUTIONS = all(authoring.find_homework(n).has_solution for n in authoring.homework_names())
pytestmark = pytest.mark.skipif(not HAVE_SOLUTIONS, reason=authoring.NO_SOLUTIONS)


#: The students' repository and Kaggle dataset the test release is published for (issue 28).
REPO, KAGGLE = "acme-university/face-course-2027", "acme/face-course-2027"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "face-course"
    return release.write_release(out, repo=REPO, kaggle_dataset=KAGGLE)


def _answer_blocks() -> dict[str, list[str]]:
    """Every solution block, read here from the solution notebooks (not through release.py)."""
    blocks = {}
    for name in authoring.homework_names():
        nb = nbformat.read(str(authoring.find_homework(name).solution), as_version=4)
        for cell in nb.cells:
            if nbk.is_solution(cell) and cell.cell_type == "code":
                blocks[f"{name}/{cell.id}"] = authoring.solution_blocks(cell.source)
    return blocks


def _files_with(folder, needle: str) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        texts = [data.decode("utf-8", "replace")]
        if path.suffix == ".ipynb":  # notebooks store a cell's lines as separate JSON strings
            texts += ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                      for c in json.loads(data)["cells"]]
        if any(needle in t for t in texts):
            found.append(str(path.relative_to(folder)))
    return found


def test_release_has_no_solution_code_anywhere(built):
    blocks = _answer_blocks()
    assert len(blocks) == 22 and all(blocks.values())  # 5 + 7 + 5 + 5 answer cells
    found = {where: _files_with(built.out, block) for where, parts in blocks.items() for block in parts}
    # A hint may print a one-line answer on purpose (hw3's q1 did: "gallery = cu.enrol_folder(...)"):
    # only that homework's template may hold it, and the release reports it
    leaked = {w: f for w, f in found.items() if f}
    assert leaked == {w: [f"homework/{w.split('/')[0]}/template.ipynb"] for w in built.given_away}
    assert set(built.given_away) <= set(blocks)


def test_release_leaves_out_solutions_answer_sets_and_instructor_tests(built):
    out = built.out
    assert sorted(p.name for p in (out / "homework").glob("*/*.ipynb")) == ["template.ipynb"] * 4
    for rel in ("homework/instructor_answers.py", "tests/test_hw1_emotion.py", "tests/test_hw_lessons.py",
                "homework/hw0_face_detection/hidden_checks.py", "homework/hw3_face_identification/hidden_checks.py"):
        assert rel in built.left_out and not (out / rel).exists()
    assert not list(out.rglob("hidden_checks.py"))  # issue 28: no hidden check reaches students
    assert "CORRECT" in (out / "homework" / "make_demo_submissions.py").read_text()  # defined, as None
    assert json.loads((out / release.MARKER).read_text())["edition"] == "student release"
    grader = "course_utils/tools/grading.py"
    assert (out / grader).read_bytes() == (REPO_ROOT / grader).read_bytes()
    for tpl in (out / "homework").glob("*/template.ipynb"):  # the templates pretend nothing
        nb = nbformat.read(str(tpl), as_version=4)
        assert [c.id for c in nb.cells if c.get("outputs")] == []
        assert nbk.expected_checks(nb)  # the grader reads check names from the sources


def test_release_refuses_to_leak_or_to_overwrite(built, tmp_path):
    planted = tmp_path / "notes"
    planted.mkdir()
    blocks = release.solution_blocks()
    answer = blocks["hw0_face_detection/q3-answer"][0]  # read here: this file must hold no answer itself
    (planted / "cheat.md").write_text(f"q3: {answer}\n")
    leaks = release.find_leaks(planted, blocks)
    assert leaks == [f"cheat.md: hw0_face_detection/q3-answer ({answer.splitlines()[0][:60]!r})"]
    with pytest.raises(release.ReleaseError, match="not empty"):
        release.write_release(planted)
    with pytest.raises(release.ReleaseError, match="outside the repository"):
        release.write_release(REPO_ROOT / "build" / "release")
    with pytest.raises(release.ReleaseError, match="already a student release"):
        release.write_release(tmp_path / "again", root=built.out)


@pytest.mark.slow
def test_release_tests_pass_in_the_release(built):
    """The unit tests of the homework machinery and the answer-free part of the grading tests
    (the untouched template, an invalid file, two crashing kernels) run in the release itself,
    on its own course_utils; what needs solutions skips with its reason."""
    env = dict(os.environ, PYTHONPATH=str(built.out), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/test_homework.py", "tests/test_grading.py",
                           "-q", "-rs", "-p", "no:cacheprovider", "-k", "not over_its_time_limit"],
                          cwd=built.out, env=env, capture_output=True, text=True, timeout=600)
    tail = done.stdout[-3000:]
    assert done.returncode == 0, tail
    assert "failed" not in tail.splitlines()[-1] and " passed" in tail.splitlines()[-1], tail
    assert authoring.NO_SOLUTIONS in tail  # skipped with the reason, not silently
    imported = subprocess.run([sys.executable, "-c", "import course_utils; print(course_utils.__file__)"],
                              cwd=built.out, env=env, capture_output=True, text=True).stdout
    assert imported.startswith(str(built.out))  # the release's own library was tested


def _setup_cell(path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and "COURSE_REPO_URL" in c.source)


def test_a_published_release_names_the_students_repository_and_no_placeholder(built):
    """Issue 28: with --repo and --kaggle-dataset no placeholder address reaches students: the badges open the
    students' repository, every setup cell clones it and names the Kaggle dataset to attach, the library's
    setup cell is the notebooks', and README's instructor-only note is gone."""
    from course_utils import bootstrap  # the instructor's: its placeholder, in two halves (not written here)

    owner, name = bootstrap.REPO_SLUG_PLACEHOLDER.split("/")
    for placeholder in (owner + "/", name):
        assert _files_with(built.out, placeholder) == []
    notebooks = sorted(built.out.glob("notebooks/[0-9][0-9]_*.ipynb")) + sorted(built.out.glob("homework/*/template.ipynb"))
    assert len(notebooks) == 10
    env = dict(os.environ, PYTHONPATH=str(built.out), PYTHONDONTWRITEBYTECODE="1")
    library_cell = subprocess.run([sys.executable, "-c", "from course_utils import bootstrap; print(bootstrap.SETUP_CELL)"],
                                  cwd=built.out, env=env, capture_output=True, text=True, check=True).stdout
    for path in notebooks:
        cell = _setup_cell(path)
        assert f'COURSE_REPO_URL = "https://github.com/{REPO}.git"' in cell, path
        assert f"attach the Kaggle dataset {KAGGLE} (Add Input)" in cell and "placeholder" not in cell, path
        assert cell == library_cell.rstrip("\n"), path
    readme = (built.out / "README.md").read_text()
    assert readme.count(f"colab.research.google.com/github/{REPO}/blob/main/notebooks/01_face_datasets.ipynb") == 1
    assert "<!-- instructor-only -->" not in readme and "For instructors: in this source" not in readme
    assert json.loads((built.out / release.MARKER).read_text())["repository"] == REPO


def test_published_text_and_the_options_it_refuses(tmp_path):
    from course_utils import bootstrap

    text = (f"a <!-- instructor-only -->secret\n<!-- /instructor-only -->\nb "
            f"https://colab.research.google.com/github/{bootstrap.REPO_SLUG_PLACEHOLDER}/blob/main/x.ipynb")
    assert release.published_text(text, "o/n", branch="fall", markdown=True) == \
        "a b https://colab.research.google.com/github/o/n/blob/fall/x.ipynb"
    assert "instructor-only" in release.published_text(text, "o/n")        # only Markdown files lose them
    cell = release.published_text(bootstrap.SETUP_CELL, "o/n", kaggle_dataset="k/d")
    assert 'COURSE_REPO_URL = "https://github.com/o/n.git"  # the course' in cell and "dataset k/d" in cell
    for bad in ({"repo": "https://github.com/o/n"}, {"repo": "o"}, {"repo": "o/n; rm -rf ~"},
                {"kaggle_dataset": "k/d"}):
        with pytest.raises(release.ReleaseError):
            release.write_release(tmp_path / "out", **bad)
    assert not (tmp_path / "out").exists()
