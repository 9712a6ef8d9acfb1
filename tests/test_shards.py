"""Bulk grading in shards (issue 28): ``grade bulk --shard K/N`` on N machines, then ``grade merge``, gives the
gradebook one unsharded run gives.  What grading one notebook does is replaced by a deterministic stand-in (the
real grading is tested in test_grading.py and test_hostile.py): here only the slicing and the merge are tested."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from course_utils.tools import authoring, grading, results, shards
from course_utils.tools.submissions import student_name

HW0 = authoring.find_homework("hw0_face_detection")
STUDENTS = ["alice", "bob", "Bob (1)", "carol", "dave", "=evil()", "erin", "frank", "grace", "heidi", "ivan"]


def _graded_by_content(homework, submission, **kwargs):
    """A stand-in for grade_submission: each check passes or fails by a hash of the notebook's bytes."""
    digest = hashlib.sha256(Path(submission).read_bytes()).digest()
    checks = {n: bool(digest[i] & 1) for i, n in enumerate(homework.names)}
    r = results.GradeResult(student_name(Path(submission).name), homework.home.name, checks, seconds=1.0)
    r.messages = {n: f"{n} failed for {r.student}" for n, ok in checks.items() if not ok}
    return r


@pytest.fixture(scope="module")
def kit():
    return grading.Kit.load(HW0)  # read once: each bulk run would read the course again (seconds each)


@pytest.fixture()
def submissions(tmp_path, monkeypatch, kit):
    monkeypatch.setattr(grading, "grade_submission", _graded_by_content)
    monkeypatch.setattr(grading.Kit, "load", classmethod(lambda cls, home: kit))
    folder = tmp_path / "subs"
    folder.mkdir()
    for i, name in enumerate(STUDENTS):
        (folder / f"{name}.ipynb").write_text(json.dumps({"cells": [], "n": i}))
    (folder / "notes.txt").write_text("not a notebook")
    return folder


def _bulk(folder, out, **kwargs):
    return grading.grade_folder(HW0, folder, out=out, sandbox="none", allow_unsandboxed=True, verbose=False,
                                **kwargs)


@pytest.mark.parametrize("n", [3, 13])  # 13 > 11 submissions: some shards are empty
def test_shards_then_merge_give_the_unsharded_gradebook(submissions, tmp_path, n):
    whole = tmp_path / "whole" / "gradebook.csv"
    _bulk(submissions, whole)
    books = []
    for k in range(n, 0, -1):  # any order: each job runs on its own
        book = tmp_path / "shards" / f"gradebook-{k}.csv"
        graded = _bulk(submissions, book, shard=(k, n), feedback_dir=tmp_path / "feedback")
        assert len(graded) == len(shards.select(sorted(submissions.glob("*.ipynb")), (k, n)))
        books.append(book)
    merged = tmp_path / "merged" / "gradebook.csv"
    rows = shards.merge(merged, books)
    assert merged.read_text() == whole.read_text() and len(rows) == len(STUDENTS)
    assert sorted(p.stem for p in (tmp_path / "feedback").glob("*.md")) == sorted(
        p.stem for p in (tmp_path / "whole" / "feedback").glob("*.md"))
    report = (tmp_path / "merged" / "report.txt").read_text()
    assert f"{len(STUDENTS)} graded in {n} shard(s)" in report and "notes.txt" in report
    assert "bob, Bob (1)" in report or "Bob (1), bob" in report  # duplicates found across shards


def test_merge_refuses_what_is_not_one_complete_run(submissions, tmp_path):
    books = {k: tmp_path / f"g{k}.csv" for k in (1, 2, 3)}
    for k, book in books.items():
        _bulk(submissions, book, shard=(k, 3))
    with pytest.raises(shards.ShardError, match=r"shards 1..3 once each, got \[1, 3\]"):
        shards.merge(tmp_path / "m.csv", [books[1], books[3]])
    with pytest.raises(shards.ShardError, match="once each"):
        shards.merge(tmp_path / "m.csv", [books[1], books[2], books[3], books[3]])
    (submissions / "zoe.ipynb").write_text("{}")  # a later run over another folder
    _bulk(submissions, tmp_path / "other.csv", shard=(2, 3))
    with pytest.raises(shards.ShardError, match="another run"):
        shards.merge(tmp_path / "m.csv", [books[1], tmp_path / "other.csv", books[3]])
    (tmp_path / "lone.csv").write_text("student\n")
    with pytest.raises(shards.ShardError, match="no lone.shard.json"):
        shards.merge(tmp_path / "m.csv", [tmp_path / "lone.csv"])
    assert not (tmp_path / "m.csv").exists()


def test_the_command_line_shards_and_merges(submissions, tmp_path, capsys):
    for k in (1, 2):
        assert grading.main(["bulk", "hw0", str(submissions), "--shard", f"{k}/2", "--unsandboxed",
                             "--sandbox", "none", "--out", str(tmp_path / f"g{k}.csv")]) == 0
    assert grading.main(["merge", str(tmp_path / "all.csv"), str(tmp_path / "g1.csv"), str(tmp_path / "g2.csv")]) == 0
    assert f"{len(STUDENTS)} submissions" in capsys.readouterr().out
    assert (tmp_path / "g1.report.txt").exists() and (tmp_path / "g2.report.txt").exists()
    for bad in ("0/2", "3/2", "2", "a/b"):
        with pytest.raises(shards.ShardError):
            shards.parse(bad)
    with pytest.raises(SystemExit):
        grading.main(["bulk", "hw0", str(submissions), "--shard", "3/2", "--unsandboxed"])
