"""hw3's checks with the student's own photo (issue 17): the grader runs on the starter gallery only, so
what the checks do with your own folder and second photo is tested here, by running the reference's check
cells q1 and q3 on a gallery that holds "your" photos (two different LFW photos of one person)."""
from __future__ import annotations

import contextlib
import io
import shutil

import numpy as np
import pytest

import course_utils as cu
from course_utils import homework as hw
from course_utils import identification as ident
from course_utils.tools import authoring

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not authoring.find_homework("hw3_face_identification").solution.exists(),
                                 reason="the reference solution is not in this edition of the course")]


def _cell(cell_id: str) -> str:
    import nbformat

    nb = nbformat.read(authoring.find_homework("hw3_face_identification").solution, as_version=4)
    return next(c.source for c in nb.cells if c.get("id") == cell_id)


def _run(source: str, ns: dict) -> str:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(source, ns)
    except hw.CheckFailed as exc:
        return str(exc)
    return out.getvalue().strip()


@pytest.fixture(scope="module")
def homework_state(tmp_path_factory):
    """What the notebook holds after its answers, with the reference answers, for a gallery with "your" folder."""
    tmp = tmp_path_factory.mktemp("hw3")
    lfw = cu.real_samples("lfw_people")
    folder = ident.make_sample_gallery(tmp / "test_images")
    ident.write_gallery(folder, [("Jane_Doe", lfw / "Colin_Powell" / "Colin_Powell_0040.jpg")])
    emb = cu.get_embedder("dlib")
    few = [("Kate_Hudson", p) for p in sorted((lfw / "Kate_Hudson").glob("*.jpg"))[:3]] + \
          [("Tiger_Woods", sorted((lfw / "Tiger_Woods").glob("*.jpg"))[0])]
    vecs, _ = ident.embed_paths([p for _, p in few], emb)
    ns = {"cu": cu, "np": np, "ident": ident, "Path": __import__("pathlib").Path, "emb": emb,
          "GALLERY_DIR": str(folder), "MY_PHOTO": str(tmp / "me_test.jpg"), "mine": ident.own_people(folder),
          "names": [n for n, _ in few], "vecs": vecs, "n_enrol": 2}
    exec(authoring.solution_blocks(_cell("q1-answer"))[0], ns)
    exec(authoring.solution_blocks(_cell("q3-answer"))[0], ns)
    return ns, tmp, lfw


def test_your_folder_must_be_enrolled(homework_state):
    ns, _, _ = homework_state
    assert ns["mine"] == ["Jane_Doe"] and "Jane_Doe" in ns["gallery"].people
    assert _run(_cell("q1-check"), dict(ns)) == "q1: PASS"
    without_you = dict(ns)
    keep = [i for i, n in enumerate(ns["gallery"].names) if n != "Jane_Doe"]
    without_you["gallery"] = cu.Gallery([ns["gallery"].names[i] for i in keep], ns["gallery"].embeddings[keep], "dlib")
    assert _run(_cell("q1-check"), without_you).startswith("q1: FAIL")


def test_your_second_photo_is_reported_not_graded(homework_state):
    """Issue 30: q3 judges the code on the course's people only; what your own second photo came out as is
    reported by part 6's ungraded cell, whichever way it went."""
    ns, tmp, lfw = homework_state
    second = tmp / "me_test.jpg"
    assert _run(_cell("q3-check"), dict(ns)) == "q3: PASS"
    report = ident.own_photo_report(ns["GALLERY_DIR"], second, ns["gallery"], ns["emb"], ns["nearest_name"])
    assert "NOTICE: no second photo" in report
    shutil.copyfile(lfw / "Colin_Powell" / "Colin_Powell_0071.jpg", second)   # another photo of "you"
    assert _run(_cell("q3-check"), dict(ns)) == "q3: PASS"
    assert ": recognised" in ident.own_photo_report(ns["GALLERY_DIR"], second, ns["gallery"], ns["emb"], ns["nearest_name"])
    shutil.copyfile(sorted((lfw / "Tiger_Woods").glob("*.jpg"))[1], second)    # someone else: not you
    assert _run(_cell("q3-check"), dict(ns)) == "q3: PASS"                      # correct code still passes
    assert "NOT recognised" in ident.own_photo_report(ns["GALLERY_DIR"], second, ns["gallery"], ns["emb"],
                                                      ns["nearest_name"])
    second.unlink()


def test_two_photos_in_your_folder_are_each_identified_against_the_other(homework_state, tmp_path):
    ns, _, lfw = homework_state
    folder = ident.make_sample_gallery(tmp_path / "test_images")
    ident.write_gallery(folder, [("Jane_Doe", lfw / "Colin_Powell" / "Colin_Powell_0040.jpg"),
                                 ("Jane_Doe", lfw / "Colin_Powell" / "Colin_Powell_0071.jpg")])
    g = cu.enrol_folder(folder, ns["emb"])
    report = ident.own_photo_report(folder, tmp_path / "none.jpg", g, ns["emb"], ns["nearest_name"])
    assert report.count("against all the other photos: Jane_Doe") == 2 and "NOTICE" not in report, report


def test_without_your_photo_the_notebook_says_so_and_the_checks_pass(tmp_path):
    folder = ident.make_sample_gallery(tmp_path / "test_images")
    assert ident.own_people(folder) == []
    g = cu.Gallery(list(ident.STARTER_PEOPLE), np.eye(5, 128), "dlib")
    report = ident.own_photo_report(folder, tmp_path / "me_test.jpg", g, cu.get_embedder("dlib"))
    assert report.startswith("NOTICE: no photo of you in") and "not an error" in " ".join(report.split())
