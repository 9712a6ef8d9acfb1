"""One submission never costs another (issue 16): damaged notebooks, the folder's odd entries,
likely duplicates, atomic files that never follow links, CSV cells no spreadsheet runs, feedback
without solution code or the grader's paths, the course's files checked after each grading.
No kernel runs here: what a run does is replaced by a stand-in where needed."""
from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.env import REPO_ROOT
from course_utils.tools import authoring
from course_utils.tools import grading, submissions
from course_utils.tools import kit as grading_kit
from course_utils.tools import nbrun
from course_utils.tools import rebuild
from course_utils.tools import results
from course_utils.tools import sandbox as sbx

HW0 = authoring.find_homework("hw0_face_detection")
UNSANDBOXED = "none"
#: The index of the first answer cell (q1-answer) in the template.
Q1 = [c["id"] for c in json.loads(HW0.template.read_text())["cells"]].index("q1-answer")


def _template():
    return nbformat.read(str(HW0.template), as_version=4)


def _write(path: Path, nb) -> Path:
    if isinstance(nb, str):
        path.write_text(nb)
    else:
        path.write_text(json.dumps(nb))
    return path


@pytest.mark.parametrize("damage, reason", [
    (lambda nb: nb["cells"][Q1].__setitem__("source", 42), "source that is not text (int)"),
    (lambda nb: nb["cells"][Q1].__setitem__("source", ["a", 7]), "source that is not text (list)"),
    (lambda nb: nb["cells"].__setitem__(Q1, "just a string"), "damaged"),
    (lambda nb: nb["cells"][Q1].__setitem__("id", ["not", "hashable"]), "damaged"),
    (lambda nb: nb["cells"][Q1].__setitem__("metadata", [1, 2]), "damaged"),
    (lambda nb: nb.__setitem__("cells", {"0": 1}), "has no cells"),
])
def test_a_damaged_notebook_is_graded_zero_with_a_reason_and_no_kernel(tmp_path, monkeypatch, damage, reason):
    nb = json.loads(HW0.template.read_text())
    damage(nb)
    sub = _write(tmp_path / "jdoe.ipynb", nb)
    started = []
    monkeypatch.setattr(grading, "execute", lambda *a, **k: started.append(a) or pytest.fail("a kernel was started"))
    r = grading.grade_submission(HW0, sub, sandbox=UNSANDBOXED)
    assert (r.passed, r.total, started) == (0, 5, [])
    assert reason in r.error or "not a valid notebook" in r.error, r.error
    assert all(m == r.error for m in r.messages.values())


def test_a_symlinked_submission_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    link = tmp_path / "jdoe.ipynb"
    link.symlink_to(secret)
    with pytest.raises(rebuild.SubmissionError, match="symbolic link"):
        rebuild.read_submission(link)
    r = grading.grade_submission(HW0, link, sandbox=UNSANDBOXED)
    assert "TOP-SECRET" not in results.format_report(r) and "symbolic link" in r.error


def test_the_folder_reports_every_entry_it_does_not_grade(tmp_path):
    for name in ("alice.ipynb", "BOB.IPYNB", "notes.txt"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "x.ipynb").mkdir()
    (tmp_path / "late").mkdir()
    (tmp_path / "late" / "carol.ipynb").write_text("{}")
    (tmp_path / "late" / "deeper").mkdir()
    (tmp_path / "late" / "deeper" / "dan.ipynb").write_text("{}")
    (tmp_path / "eve.ipynb").symlink_to("/etc/passwd")
    paths, skipped = submissions.find_submissions(tmp_path)
    assert [p.name for p in paths] == ["BOB.IPYNB", "alice.ipynb"]
    assert skipped == [
        "eve.ipynb: a symbolic link, not followed (copy the file itself into the folder)",
        "late/: a folder, not searched (2 notebook(s) inside; grade it on its own or move them up)",
        "notes.txt: not a .ipynb file",
        "x.ipynb/: a folder named like a notebook, not searched (0 notebook(s) inside; grade it on its own or "
        "move them up)"]
    assert submissions.student_name("BOB.IPYNB") == "BOB"


def test_likely_duplicate_students_are_grouped():
    names = ["jdoe", "jdoe (1)", "Copy of jdoe", "JDoe-copy", "jdoe_v2", "jdoe final", "jdoet", "ann", "ann lee"]
    assert submissions.duplicate_groups(names) == [sorted(["jdoe", "jdoe (1)", "Copy of jdoe", "JDoe-copy", "jdoe_v2",
                                                  "jdoe final"])]
    assert submissions.student_key("jdoe (1)") == submissions.student_key("jdoe") == "jdoe"


def test_csv_cells_never_start_a_formula(tmp_path):
    r = results.GradeResult("=HYPERLINK(\"http://evil\",\"x\")", "hw0", {"q1": True}, error="+cmd|' /C calc'!A0")
    r2 = results.GradeResult("@SUM(1)", "hw0", {"q1": False}, flags=["-2+3"])
    r3 = results.GradeResult("\tjdoe", "hw0", {"q1": False}, error="\rx")
    path = results.write_gradebook([r, r2, r3], tmp_path / "g.csv")
    rows = list(csv.DictReader(path.open(newline="")))
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert {row["student"] for row in rows} == {"'=HYPERLINK(\"http://evil\",\"x\")", "'@SUM(1)", "'\tjdoe"}
    assert results.csv_cell(-1) == "-1" and results.csv_cell("a=b") == "a=b"


def test_files_are_written_atomically_and_never_through_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    feedback = tmp_path / "feedback"
    feedback.mkdir()
    (feedback / "jdoe.md").symlink_to(victim)  # planted by a submission
    r = results.GradeResult("jdoe", "hw0", {"q1": True})
    results.write_feedback(r, feedback / "jdoe.md")
    assert victim.read_text() == "precious"
    assert not (feedback / "jdoe.md").is_symlink() and "feedback for jdoe" in (feedback / "jdoe.md").read_text()
    (tmp_path / "g.csv").symlink_to(victim)
    results.write_gradebook([r], tmp_path / "g.csv")
    assert victim.read_text() == "precious" and not (tmp_path / "g.csv").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feedback", "g.csv", "victim.txt"]  # no temp files left


def test_feedback_never_shows_solution_code_or_the_graders_paths(tmp_path):
    kit = grading_kit.Kit.load(HW0)
    if not kit.blocks:
        pytest.skip(authoring.NO_SOLUTIONS)
    r = results.GradeResult("jdoe", "hw0", {"q1": False})
    r.messages["q1"] = f"ValueError: {kit.blocks[2]} in {Path.home()}/secret and {sys.prefix}/lib"
    r.error = f"PermissionError: {REPO_ROOT}/course_utils/homework.py"
    results.scrub(r, kit.blocks)
    text = results.write_feedback(r, tmp_path / "jdoe.md").read_text()
    assert kit.blocks[2] not in text and "&lt;solution code removed&gt;" in text  # shown as <solution code removed>
    for secret in (str(Path.home()), sys.prefix, str(REPO_ROOT)):
        assert secret not in text
    assert "&lt;home&gt;/secret" in text and "&lt;course&gt;/course_utils/homework.py" in text


@pytest.fixture
def private_homework(tmp_path):
    """A copy of hw0 whose reference a stand-in run can damage."""
    home = tmp_path / "hw0_face_detection"
    home.mkdir()
    shutil.copy(HW0.reference, home / HW0.reference.name)
    shutil.copy(HW0.template, home / "template.ipynb")
    return authoring.Homework(home)


def test_a_grading_that_damages_the_reference_costs_only_itself(private_homework, tmp_path, monkeypatch):
    kit = grading_kit.Kit.load(private_homework)
    calls = []

    def fake_run(notebook, *, lib, cell_timeout, timeout, sandbox):
        calls.append(notebook)
        if len(calls) == 1:  # the first "submission" writes '{' into the reference, unsandboxed
            private_homework.reference.write_text("{")
        return {}, ""

    monkeypatch.setattr(grading_kit, "run_nbval", fake_run)
    sub = _write(tmp_path / "a.ipynb", _template())
    first = grading.grade_submission(kit, sub, sandbox=UNSANDBOXED)
    second = grading.grade_submission(kit, sub, student="b", sandbox=UNSANDBOXED)
    assert first.score == 0 and "the course's files changed while this notebook was graded" in first.flags[0]
    assert second.flags == [] and "changed" not in second.error and second.total == 5  # graded from memory


def test_a_grading_that_changes_its_library_copy_is_zeroed(private_homework, tmp_path, monkeypatch):
    kit = grading_kit.Kit.load(private_homework)

    def fake_run(notebook, *, lib, cell_timeout, timeout, sandbox):
        target = lib / "course_utils" / "homework.py"
        os.chmod(target.parent, 0o755)
        os.chmod(target, 0o644)
        target.write_text(target.read_text() + "\ncheck = lambda *a, **k: print(a[0] + ': PASS')\n")
        return {i: (True, "") for i in range(40)}, ""

    monkeypatch.setattr(grading_kit, "run_nbval", fake_run)
    r = grading.grade_submission(kit, _write(tmp_path / "a.ipynb", _template()), sandbox=UNSANDBOXED)
    assert r.score == 0 and "changed the grader's copy of the course library" in r.flags[-1]
    assert "course_utils/homework.py" in r.error


def test_a_grader_failure_on_one_submission_is_its_grade_and_the_gradebook_is_complete(tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("alice", "bob", "carol"):
        _write(subs / f"{name}.ipynb", _template())

    def flaky(homework, submission, **kwargs):
        if "bob" in str(submission):
            raise MemoryError("the grader ran out of memory")
        return results.GradeResult(submissions.student_name(Path(submission).name), "hw0_face_detection",
                                   {n: True for n in homework.names})

    monkeypatch.setattr(grading, "grade_submission", flaky)
    out = tmp_path / "grades" / "gradebook.csv"
    graded = grading.grade_folder(HW0, subs, out=out, sandbox="none", allow_unsandboxed=True, verbose=False)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert sorted(rows) == ["alice", "bob", "carol"]
    assert rows["bob"]["score"] == "0.00" and "MemoryError" in rows["bob"]["error"]
    assert rows["alice"]["score"] == "1.00" and (out.parent / "feedback" / "bob.md").exists()
    assert "3 graded" in (out.parent / "report.txt").read_text() and len(graded) == 3


def test_bulk_grading_refuses_to_run_unsandboxed_unless_asked(tmp_path, monkeypatch, capsys):
    from course_utils.tools import sandbox as sbx

    monkeypatch.setattr(sbx, "detect", lambda prefer="auto": sbx.Sandbox("none", "bwrap is not installed"))
    _write(tmp_path / "a.ipynb", _template())
    with pytest.raises(RuntimeError, match="no sandbox to grade in: bwrap is not installed.*--unsandboxed"):
        grading.grade_folder(HW0, tmp_path, out=tmp_path / "g.csv", verbose=False)
    assert grading.main(["bulk", "hw0", str(tmp_path), "--out", str(tmp_path / "g.csv")]) == 2
    assert "--unsandboxed" in capsys.readouterr().err
    assert not (tmp_path / "g.csv").exists()


def test_a_run_imports_the_kits_copy_of_the_library_not_the_repositorys(tmp_path):
    """Also without a sandbox (the repository stays visible there, and course_utils is installed in
    editable mode): the run's PYTHONPATH and working folder put its own copy first, compiled."""
    import subprocess

    kit = grading_kit.Kit.load(HW0)
    lib, work = tmp_path / "lib", tmp_path / "work"
    work.mkdir()
    kit.write_lib(lib)
    env = nbrun.subprocess_env(str(work), str(lib), "marker")
    code = "import course_utils.homework as h, sys; print(h.__file__, h.__cached__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True)
    module, cached = done.stdout.split()
    assert module == str(lib / "course_utils" / "homework.py") and cached.startswith(str(lib))
    assert (lib / "course_utils" / "__pycache__").is_dir() and kit.changed_in(lib) == []
    assert set(env) >= {"HOME", "PATH", "PYTHONPATH"} and env["HOME"].startswith(str(work))
    assert not any(v.startswith(str(Path.home()) + "/") for k, v in env.items() if k != "PATH")
    grading_kit.make_removable(tmp_path)


def test_homework_for_finds_the_homework_of_a_copied_or_moved_notebook(tmp_path):
    """Issue 28: `course.py grade NOTEBOOK` needs no homework name: the folder the notebook lies in, else the
    template whose instructions and check cells it shares."""
    for name in authoring.homework_names():
        home = authoring.find_homework(name)
        moved = _write(tmp_path / f"{name}_mine.ipynb", nbformat.read(str(home.template), as_version=4))
        assert authoring.homework_for(moved).name == name
        assert authoring.homework_for(home.path / "anything.ipynb").name == name  # the folder decides
    with pytest.raises(ValueError, match="name it: course.py grade HOMEWORK"):
        authoring.homework_for(_write(tmp_path / "blank.ipynb", nbformat.v4.new_notebook()))
    with pytest.raises(ValueError, match="cannot be read"):
        authoring.homework_for(_write(tmp_path / "broken.ipynb", "{not json"))


def test_the_self_check_finds_the_notebook_and_says_nothing_of_sandboxes_unless_asked(tmp_path, monkeypatch,
                                                                                      capsys):
    seen = {}

    def graded(homework, submission, **kwargs):
        seen.update(homework=homework.name, submission=Path(submission))
        r = results.GradeResult("mine", homework.name, {"q1": True, "q2": False}, messages={"q2": "wrong"})
        r.notes.append("NOT sandboxed: the notebook ran as you (bwrap not found; grade as root (sudo) for unshare)")
        return r

    monkeypatch.setattr(grading, "grade_submission", graded)
    monkeypatch.setenv("PWD", str(tmp_path))
    mine = _write(tmp_path / "my_hw0.ipynb", _template())
    assert grading.main([str(mine)]) == 1
    out = capsys.readouterr().out
    assert seen == {"homework": "hw0_face_detection", "submission": mine}
    assert "q2: FAIL - wrong" in out and "1/2" in out
    assert not any(word in out.lower() for word in ("sandbox", "sudo", "bwrap", "unshare"))
    assert grading.main(["hw0", str(mine), "--verbose"]) == 1
    assert "NOT sandboxed" in capsys.readouterr().out
    # typed at the repository's root, a notebook in a homework folder is found by its name (a copy of the
    # homework folder stands in for the repository's, which tests running beside this one read)
    homework_dir = tmp_path / "homework"
    (homework_dir / HW0.name).mkdir(parents=True)
    monkeypatch.setattr(authoring, "HOMEWORK_DIR", homework_dir)
    inside = _write(homework_dir / HW0.name / "hw0_jdoe.ipynb", _template())
    monkeypatch.setenv("PWD", str(tmp_path / "elsewhere"))
    assert grading.find_submission("hw0_jdoe.ipynb") == inside
    assert grading.main(["hw0_jdoe.ipynb"]) == 1 and seen == {"homework": HW0.name, "submission": inside}
    assert grading.find_submission("no_such_notebook.ipynb") is None
    assert grading.main(["no_such_notebook.ipynb"]) == 2


@pytest.mark.parametrize("codec, note", [("utf-8-sig", "UTF-8-SIG"), ("latin-1", "Latin-1"), ("utf-16", "UTF-16"),
                                         ("utf-8", None)])
def test_a_notebook_saved_in_another_encoding_is_read_not_refused(tmp_path, codec, note):
    """Issue 28: a notebook saved with a byte-order mark, as UTF-16 or as Latin-1 is graded on its code."""
    nb = _template()
    answer = next(c for c in nb.cells if c.get("id") == "q1-answer")
    answer.source = "naïve = 'café'  # the student's own accents\n" + answer.source
    path = tmp_path / f"{codec}.ipynb"
    path.write_bytes(json.dumps(nb, ensure_ascii=False).encode(codec, errors="replace"))  # Latin-1 has no arrows
    notes = []
    read = rebuild.read_submission(path, notes)
    assert next(c for c in read.cells if c.get("id") == "q1-answer").source == answer.source
    assert (notes == []) if note is None else (len(notes) == 1 and note in notes[0])
    if note:
        r = results.GradeResult("s", "hw0_face_detection", {"q1": False}, notes=notes)
        assert note in results.format_report(r, sandbox_note=False)


def test_the_reference_run_is_cached_under_a_key_that_two_loads_share():
    # issue 29: compiled files embed the temporary path they were made in; the key must not depend on them
    home = authoring.find_homework("hw0_face_detection")
    first, second = grading_kit.Kit.load(home), grading_kit.Kit.load(home)
    assert any("__pycache__" in n for n in first.files)
    assert first.reference_key() == second.reference_key()


@pytest.mark.slow
def test_a_second_bulk_run_reuses_the_cached_reference(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    home = authoring.find_homework("hw0_face_detection")
    first = grading_kit.Kit.load(home)
    cache = tmp_path / "grading" / f"{home.name}-{first.reference_key()}.json"
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"q1": {"name": "q1", "value": 4, "expected": 4, "tol": 0}}))

    def no_run(*args, **kwargs):
        raise AssertionError("the solution ran again")

    monkeypatch.setattr(grading_kit, "execute", no_run)
    again = grading_kit.Kit.load(home)  # a new bulk run reads the kit anew
    refs = again.reference_values(sbx.Sandbox("none", "test"), cell_timeout=10, timeout=10)
    assert refs == {"q1": {"name": "q1", "value": 4, "expected": 4, "tol": 0}}


def test_a_run_gets_no_file_that_git_ignores(tmp_path):
    # issue 29: the instructor's own photos (hw3's git-ignored data/) and models saved by running a solution in
    # place must not be copied into a student's grading run
    home = authoring.find_homework("hw3_face_identification")
    if grading_kit.ignored_files(REPO_ROOT) is None:
        pytest.skip("not a git checkout")
    private = home.path / "data" / "test_images" / "Instructor_Private_Test"
    made = not private.exists()
    private.mkdir(parents=True, exist_ok=True)
    try:
        (private / "1.txt").write_text("the instructor's photo")
        grading_kit._copy_homework_files(home, tmp_path)
        assert list(tmp_path.rglob("*")) == []
        kit = grading_kit.Kit.load(home)
        ignored = grading_kit.ignored_files(REPO_ROOT)
        assert not [name for name in kit.files if grading_kit._is_ignored(name, ignored) and "__pycache__" not in name]
    finally:
        if made:
            shutil.rmtree(private)


def test_a_run_gets_a_cgroup_v2_of_its_own_where_there_is_one(tmp_path):
    # issue 29: where cgroup v2 offers cpu, memory and pids, each run gets memory.max, pids.max and cpu.max;
    # where it does not (cgroup v1, no delegation), no cgroup, and the grader's watchdog and CPU pinning stand in
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    group = sbx.Cgroup.create(6 << 30, 512, cpus=1, root=root)
    assert group is not None and group.path.parent == root
    assert (root / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert [(group.path / f).read_text() for f in ("memory.max", "pids.max", "cpu.max")] == [
        str(6 << 30), "512", "100000 100000"]
    group.enter()
    assert (group.path / "cgroup.procs").read_text() == "0"
    for f in group.path.iterdir():  # a real cgroup's files vanish with it
        f.unlink()
    group.remove()
    assert not group.path.exists()
    (root / "cgroup.controllers").write_text("cpuset io\n")
    assert sbx.Cgroup.create(6 << 30, 512, root=root) is None
    assert sbx.Cgroup.create(6 << 30, 512, root=tmp_path / "absent") is None
    assert not sbx.cgroups_usable(root)
