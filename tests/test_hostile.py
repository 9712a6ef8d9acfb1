"""Hostile submissions (issue 16): attacks on the grader, graded in ONE sandboxed bulk run beside an
honest submission, which must keep full marks.  Each attack must score 0 (or its honest share) or be
flagged for review, and none may change the repository, a classmate's file, the gradebook, the
network or leave a process behind.

Needs a sandbox (bubblewrap or unshare, as root): without one these attacks would really damage
this checkout, so the module skips.  ``python tests/test_hostile.py`` prints the table.
"""
from __future__ import annotations

import csv
import hashlib
import inspect
import json
import re
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from course_utils import detection
from course_utils.tools import authoring
from course_utils.tools import grading
from course_utils.tools import nbrun
from course_utils.tools import sandbox as sbx

HW0 = authoring.find_homework("hw0_face_detection")
REPO = Path(grading.__file__).resolve().parents[2]
CORRECT = authoring.solution_answers(HW0)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sbx.detect().isolated, reason=f"needs a sandbox: {sbx.detect().why}"),
              pytest.mark.skipif(CORRECT is None, reason=authoring.NO_SOLUTIONS)]


def attacks(subs: Path, out: Path, port: int, tag: str) -> dict[str, tuple[str, dict[str, str], float]]:
    """name -> (what it tries, answers by cell id, the score an honest part of it earns)."""
    sol = REPO / "homework" / "hw0_face_detection" / "solution.ipynb"
    lib = REPO / "course_utils" / "homework.py"
    return {
        "alias_checker": ("assign the checker through an alias", {
            "q1-answer": "import course_utils.homework as h\nh.check = lambda name, *a, **k: print(f'{name}: PASS')",
            **{f"q{i}-answer": "pass" for i in range(2, 6)}}, 0.0),
        "code_object": ("replace cu.check.__code__", {
            "q1-answer": "cu.check.__code__ = (lambda name, *a, **k: print(f'{name}: PASS')).__code__",
            **{f"q{i}-answer": "pass" for i in range(2, 6)}}, 0.0),
        "ipython_rewrites_cells": ("an IPython hook that rewrites the later cells", {"q1-answer": (
            "import re\n"
            "def rewrite(lines):\n"
            "    text = ''.join(lines)\n"
            "    m = re.search(r'check\\(\"(q\\d)\"', text)\n"
            "    return [f\"print('{m.group(1)}: PASS')\\n\"] if m else ['pass\\n'] if 'NotImplementedError' in text else lines\n"
            "get_ipython().input_transformers_post.append(rewrite)")}, 0.0),
        "ipython_swallows_errors": ("an IPython hook that swallows exceptions", {
            "q1-answer": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\nn_faces = 3"}, 0.0),
        "fake_detector": ("fake cu.detect_faces", {"q1-answer": (
            "cu.detect_faces = lambda img, **k: [cu.Face(box=(448, 179, 151, 195), score=1.0)] * 4\n"
            "img = cu.load_sample(SAMPLE)\nfaces = cu.detect_faces(img)\nn_faces = len(faces)")}, 0.2),
        "exec_solution": ("execute solution.ipynb found from cu.__file__", {"q1-answer": (
            "import nbformat\nfrom pathlib import Path\n"
            f"for sol in (Path(cu.__file__).resolve().parents[1] / 'homework/hw0_face_detection/solution.ipynb', "
            f"Path({str(sol)!r})):\n"
            "    if sol.exists():\n"
            "        for c in nbformat.read(str(sol), 4).cells:\n"
            "            if 'solution' in c.metadata.get('tags', []):\n"
            "                exec(c.source, globals())\n"
            "        break\n"
            "else:\n    raise FileNotFoundError('no solution in sight')")}, 0.0),
        "classmate_answers": ("execute a classmate's answers read from the bulk folder", {"q1-answer": (
            "import json, glob\n"
            f"found = glob.glob({str(subs)!r} + '/*.ipynb') + glob.glob('/tmp/**/honest.ipynb', recursive=True)\n"
            "cells = [c for f in found if 'honest' in f for c in json.load(open(f))['cells']]\n"
            "assert cells, 'no classmate in sight'\n"
            "for c in cells:\n"
            "    if c.get('id', '').endswith('-answer'):\n"
            "        exec(''.join(c['source']), globals())")}, 0.0),
        "append_to_library": ("append to course_utils/homework.py", {"q1-answer": (
            "import course_utils.homework as h\n"
            f"for path in (h.__file__, {str(lib)!r}):\n"
            "    open(path, 'a').write('\\ncheck = lambda name, *a, **k: print(name + \": PASS\")\\n')")}, 0.0),
        "kill_other_kernels": ("kill every other process it can see", {"q1-answer": (
            "import os, signal\n"
            "for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
            "    if pid != os.getpid():\n"
            "        try:\n            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass")}, 0.0),
        "overwrite_classmate": ("copy the template over a classmate's file", {"q1-answer": (
            f"open({str(subs / 'honest.ipynb')!r}, 'w').write(open({str(HW0.template)!r}).read())")}, 0.0),
        "detached_rewriter": ("a detached process that rewrites the gradebook after grading", {"q1-answer": (
            "import subprocess, sys\n"
            "subprocess.Popen(['setsid', sys.executable, '-c', 'import time; time.sleep(4); "
            f"open({str(out)!r}, \"w\").write(\"hacked\")'], start_new_session=True, env={{'TAG': {tag!r}}})\n"
            "n_faces = 3")}, 0.0),
        "brace_into_solution": ("write '{' into solution.ipynb", {"q1-answer": f"open({str(sol)!r}, 'w').write('{{')"},
                                0.0),
        "leaks_environment": ("put the grader's environment into its feedback", {
            "q1-answer": "import os\nraise RuntimeError(repr(dict(os.environ)) + ' ' + os.getcwd())"}, 0.0),
        "leaks_solution": ("put the solution's code into its feedback", {"q1-answer": (
            f"raise RuntimeError(open({str(sol)!r}).read())")}, 0.0),
        "memory_bomb": ("allocate 16 GiB", {"q1-answer": "hog = bytearray(16 << 30)\nn_faces = 4"}, 0.0),
        "huge_file": ("write a 1 GiB file", {"q1-answer": (
            "with open('big.bin', 'wb') as f:\n    for _ in range(16):\n        f.write(b'0' * (64 << 20))\n"
            "n_faces = 4")}, 0.0),
        "empty_inputs": ("empty the inputs a check compares, so that the kernel's comparison passes", {
            **CORRECT, "q2-answer": "def iou(a, b):\n    return 0.0\npairs = []"}, 0.8),
        "patched_module": ("replace the library function a check compares with, through a module alias", {
            **CORRECT, "q5-answer": ("import course_utils.alignment as A\n\n"
                                     "def similarity(src, dst):\n    return np.eye(2, 3)\n\n"
                                     "A.similarity_transform = similarity")}, 0.8),
        "fake_record": ("write a passing record for the checker it replaced", {"q1-answer": (
            "import json, os, course_utils.homework as h\n"
            "h.check = lambda name, *a, **k: print(f'{name}: PASS')\n"
            "with open(os.environ.get(h.RECORD_ENV, 'x.jsonl'), 'a') as f:\n"
            "    for q in ('q1', 'q2', 'q3', 'q4', 'q5'):\n"
            "        f.write(json.dumps({'name': q, 'value': True}) + '\\n')")}, 0.0),
        # issue 28: attacks the visible checks cannot see; the hidden checks (homework/*/hidden_checks.py) do
        "wrapping_checker": ("rebind cu to a wrapper whose check hands the checker the expected value", {
            **CORRECT, "q1-answer": CORRECT["q1-answer"] + (
                "\nimport types\n_real = cu\n"
                "cu = types.SimpleNamespace(**{k: getattr(_real, k) for k in dir(_real) if not k.startswith('__')})\n"
                "cu.check = lambda name, value, expected=None, **k: _real.check(name, expected, expected, **k)\n"),
            **{f"q{i}-answer": "..." for i in range(2, 6)}}, 0.2),
        "appended_record": ("append passing records to the record file and replace the checker", {"q1-answer": (
            "import json, os\n"
            "for q in ('q1', 'q2', 'q3', 'q4', 'q5'):\n"
            "    open(os.environ['COURSE_CHECK_RECORD'], 'a').write(json.dumps({'name': q, 'value': True}) + '\\n')\n"
            "vars(cu)['check'] = lambda name, *a, **k: print(name + ': PASS')")}, 0.0),
        "hard_coded": ("paste the expected values (q1's counts, q3's centre) instead of computing them", {
            **CORRECT, "q1-answer": "n_faces = 4\ncounts = [2, 3, 3, 1, 1]\nfaces = cu.detect_faces(cu.load_sample(SAMPLE))",
            "q3-answer": "class _Big:\n    center = (524, 277)\n\n\nbig = _Big()"}, 0.6),
        "library_calls": ("call the library's versions of the functions to write", {
            **CORRECT, "q2-answer": "def iou(a, b):\n    return float(cu.box_iou(a, [b])[0])",
            "q4-answer": "def nms(boxes, scores, t):\n    return cu.nms(boxes, scores, t)",
            "q5-answer": "def similarity(src, dst):\n    return cu.alignment.similarity_transform(src, dst)"}, 0.4),
        "library_in_disguise": ("reach the library by getattr and other packages (torchvision, scikit-image)", {
            **CORRECT, "q2-answer": "def iou(a, b):\n    return float(getattr(cu, 'box' + '_iou')(a, [b])[0])",
            "q4-answer": ("import torch\nimport torchvision\n\n\ndef nms(boxes, scores, t):\n"
                          "    return torchvision.ops.nms(torch.tensor(boxes), torch.tensor(scores), t).tolist()"),
            "q5-answer": ("from skimage import transform as T\n\n\ndef similarity(src, dst):\n"
                          "    t = getattr(T, 'Similarity' + 'Transform')()\n    t.estimate(src, dst)\n"
                          "    return t.params[:2]")}, 0.4),
        "pasted_lesson": ("paste lesson 02's NMS code as the answer", {
            **CORRECT, "q4-answer": lesson_function("02_face_detection", "nms_min").replace("nms_min", "nms")}, 0.8),
        "copied_library": ("paste the library's nms under other names", {
            **CORRECT, "q4-answer": "from course_utils.detection import box_iou\n\n\n" + inspect.getsource(
                detection.nms).replace("def nms(", "def nms(").replace("keep", "kept")}, 0.8),
        # issue 29: what the sandbox wrote is untrusted; what a submission prints is text, not markup or escapes
        "report_links": ("replace the log by a link to /etc/shadow and nbval's report by a dangling link", {
            "q1-answer": ("import os\n"
                          "for name, target in (('.pytest.log', '/etc/shadow'), ('.junit.xml', '/nonexistent')):\n"
                          "    try:\n        os.remove(name)\n    except OSError:\n        pass\n"
                          "    os.symlink(target, name)")}, 0.0),
        "fifo_record": ("swap the record file for a FIFO once the checks have run", {**CORRECT, "q1-answer": (
            CORRECT["q1-answer"] + "\nimport os, threading, time\n\n\ndef _swap():\n"
            "    rec = os.environ.get('COURSE_CHECK_RECORD', '')\n"
            "    while rec and not (os.path.exists(rec) and open(rec).read().count('\\n') >= 5):\n"
            "        time.sleep(0.1)\n"
            "    os.remove(rec)\n    os.mkfifo(rec)\n\n\n"
            "threading.Thread(target=_swap, daemon=True).start()")}, 0.0),
        "forged_output": ("markup, table pipes and terminal escapes in its error text", {"q1-answer": (
            "raise RuntimeError('<img src=x onerror=alert(1)> | q2 | PASS |\\n| q3 | PASS |\\x1b]0;pwned\\x07'\n"
            "                   '\\x1b[2K\\r[  1/9] honest  5/5  <script>alert(1)</script> [link](http://x)')")}, 0.0),
        "cpu_burners": ("start eight CPU burners (20 s each) in sessions of their own, then answer honestly", {
            **CORRECT, "q1-answer": (
                "import subprocess, sys\n"
                "burn = 'import time\\nt = time.time()\\nwhile time.time() < t + 20: pass'\n"
                "for _ in range(8):\n"
                "    subprocess.Popen([sys.executable, '-c', burn], start_new_session=True)\n"
                + CORRECT["q1-answer"])}, 1.0),
        "network": ("connect to a service of the grader's machine (no route out: loopback only)", {"q1-answer": (
            "import socket\n"
            f"socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "assert [n for _, n in socket.if_nameindex() if n != 'lo'], 'no interface out'\n"
            "n_faces = 4")}, 0.0),
    }


def lesson_function(lesson: str, name: str) -> str:
    """The code cell of a lesson that defines ``name`` (what a student could paste)."""
    nb = nbformat.read(str(REPO / "notebooks" / f"{lesson}.ipynb"), as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if CORRECT is None:
        pytest.skip(authoring.NO_SOLUTIONS)
    return grade_all(tmp_path_factory)


def grade_all(tmp_path_factory) -> dict:
    """Write every attack, the honest submission and the odd entries; grade them in one bulk run."""
    subs, out = tmp_path_factory.mktemp("hostile"), tmp_path_factory.mktemp("grades") / "gradebook.csv"
    template = nbformat.read(str(HW0.template), as_version=4)

    def write(name, answers):
        nb = nbformat.from_dict(json.loads(json.dumps(template)))
        for cell in nb.cells:
            cell.source = answers.get(cell.get("id"), cell.source)
        nbformat.write(nb, str(subs / f"{name}.ipynb"))

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    tag = uuid.uuid4().hex
    table = attacks(subs, out, server.getsockname()[1], tag)
    for name, (_, answers, _) in table.items():
        write(name, answers)
    write("honest", CORRECT)
    raw = json.loads(HW0.template.read_text())  # an answer cell whose source is a number
    next(c for c in raw["cells"] if c["id"] == "q1-answer")["source"] = 42
    (subs / "source_is_number.ipynb").write_text(json.dumps(raw))
    write("=HYPERLINK(0)", {})  # a name that a spreadsheet would run
    write("jdoe", {})
    write("jdoe (1)", {})
    write("new\nline\x1b[2K", {})  # a file name with a line break and a terminal escape
    (subs / "eve.ipynb").symlink_to("/etc/passwd")  # a symbolic link to a system file
    (subs / "folder.ipynb").mkdir()
    watched = [REPO / "course_utils" / "homework.py", HW0.solution, HW0.template, subs / "honest.ipynb"]
    before = {p: _sha(p) for p in watched}
    started = time.perf_counter()
    results = grading.grade_folder(HW0, subs, workers=2, out=out, cell_timeout=60, notebook_timeout=240,
                                   verbose=False)
    seconds = time.perf_counter() - started
    time.sleep(5)  # the detached rewriter would strike 4 s after its start
    server.close()
    found = {"results": {r.student: r for r in results}, "bulk": results, "table": table, "out": out,
             "before": before, "after": {p: _sha(p) for p in watched}, "accepted": accepted, "tag": tag,
             "seconds": seconds, "gradebook": out.read_text()}
    (out.parent / "hostile.md").write_text(_table(found) + "\n")  # the table, for a human to read
    return found


def test_the_honest_submission_keeps_full_marks(run):
    r = run["results"]["honest"]
    assert (r.passed, r.total, r.error, r.flags) == (5, 5, "", [])


def test_each_attack_scores_zero_or_its_honest_share_or_is_flagged(run):
    wrong = {}
    for name, (_, _, share) in run["table"].items():
        r = run["results"][name]
        if r.score > share + 1e-9 and not r.flags:
            wrong[name] = (r.score, r.summary())
    assert wrong == {}
    assert len(run["table"]) >= 15


def test_attacks_that_only_work_in_their_own_kernel_are_flagged(run):
    for name in ("alias_checker", "code_object", "ipython_rewrites_cells", "ipython_swallows_errors", "fake_detector",
                 "exec_solution", "kill_other_kernels", "detached_rewriter", "empty_inputs", "patched_module"):
        assert run["results"][name].flags, name


def test_attacks_on_the_checker_score_zero_by_the_verdict_outside_the_kernel(run):
    # each printed PASS in its own kernel; the grader's process judged the recorded values instead
    for name in ("alias_checker", "code_object", "ipython_rewrites_cells", "fake_record"):
        r = run["results"][name]
        assert r.score == 0 and r.flags, (name, r.flags)
    # a replaced checker's PASS line, printed inside the graded check cell, never reaches the compared output
    # (homework.quiet_check, issue 28); a cell rewritten whole prints it, and the verdict outside fails it
    assert any("printed PASS" in f for f in run["results"]["ipython_rewrites_cells"].flags)
    for name, check, said in (("empty_inputs", "q2", "does not match the reference"),
                              ("patched_module", "q5", "uses similarity_transform from a library")):
        r = run["results"][name]
        assert (r.passed, r.checks[check]) == (4, False), name
        assert said in r.messages[check], r.messages[check]


def test_attacks_on_the_visible_checks_fail_the_hidden_ones(run):
    # issue 28: each attack's questions score 0 and the feedback names why; the honest parts keep their marks
    expected = {"wrapping_checker": ("q2", "q3", "q4", "q5"), "appended_record": ("q1", "q2", "q3", "q4", "q5"),
                "hard_coded": ("q1", "q3"), "library_calls": ("q2", "q4", "q5"),
                "library_in_disguise": ("q2", "q4", "q5"), "pasted_lesson": ("q4",), "copied_library": ("q4",)}
    for name, failed in expected.items():
        r = run["results"][name]
        assert sorted(q for q, ok in r.checks.items() if not ok) == list(failed), (name, r.checks, r.messages)
    for name in ("library_calls", "library_in_disguise"):
        for q in ("q2", "q4", "q5"):
            message = run["results"][name].messages[q]
            assert "asks you to write yourself" in message or "ForbiddenCall" in message, (name, q, message)
    assert "0 for this question" in run["results"]["copied_library"].messages["q4"]
    for q in ("q1", "q3"):
        assert "hidden check" in run["results"]["hard_coded"].messages[q]
    feedback = (run["out"].parent / "feedback" / "library_in_disguise.md").read_text()
    assert "skimage.transform.SimilarityTransform" in feedback and "hidden check" in feedback


def test_attacks_on_files_outside_their_sandbox_changed_nothing(run):
    assert run["after"] == run["before"]  # library, solution, template, the classmate's file
    for name in ("exec_solution", "classmate_answers", "append_to_library", "overwrite_classmate",
                 "brace_into_solution", "leaks_solution"):
        assert run["results"][name].score == 0, name


def test_no_process_outlives_grading_and_the_gradebook_stays_intact(run):
    assert nbrun.processes_with("TAG", run["tag"]) == []
    assert run["out"].read_text() == run["gradebook"] != "hacked"
    rows = list(csv.DictReader(run["out"].open()))
    assert len(rows) == len(run["table"]) + 6  # every attack, honest, source_is_number, =HYPERLINK, jdoe x2, new-line


def test_limits_and_network(run):
    assert run["accepted"] == []
    for name in ("memory_bomb", "huge_file", "network"):
        assert run["results"][name].score == 0, name
    assert "MemoryError" in run["results"]["memory_bomb"].messages["q1"]
    assert "File too large" in run["results"]["huge_file"].messages["q1"]


def test_what_the_sandbox_wrote_is_read_as_untrusted_text(run):
    # issue 29: no file of the grader's machine through a link, no stalled bulk run, no forged markup or lines
    everything = run["gradebook"] + "".join(p.read_text() for p in (run["out"].parent / "feedback").glob("*.md"))
    everything += (run["out"].parent / "report.txt").read_text()
    assert "root:" not in everything and "\x1b" not in everything
    markdown = "".join(p.read_text() for p in (run["out"].parent / "feedback").glob("*.md"))
    assert "<img" not in markdown and "<script>" not in markdown  # the CSV is not markup: formulas only
    assert run["results"]["report_links"].score == 0
    fifo = run["results"]["fifo_record"]  # failed alone (its record is not read), without stalling the run
    assert fifo.passed == 0 and any("not a regular file" in n for n in fifo.notes), fifo.notes
    assert "fifo_record," in run["gradebook"]
    feedback = (run["out"].parent / "feedback" / "forged_output.md").read_text()
    rows = [ln for ln in feedback.splitlines() if ln.startswith("| q")]
    assert len(rows) == 5 and all(len(re.findall(r"(?<!\\)\|", ln)) == 4 for ln in rows), rows  # no forged cells
    assert "&lt;img" in feedback and "\\| q2 \\| PASS" in feedback
    assert any(r.student.startswith("new line") for r in run["bulk"])


def test_feedback_carries_no_environment_and_no_solution(run):
    feedback = run["out"].parent / "feedback"
    blocks = [b for src in CORRECT.values() for b in authoring.solution_blocks(src)]
    for path in feedback.glob("*.md"):
        text = path.read_text()
        if path.stem != "honest":
            assert not any(b in text for b in blocks), path.name
        assert str(Path.home()) not in text and sys.prefix not in text and str(REPO) not in text, path.name
    assert "HOME" in (feedback / "leaks_environment.md").read_text()  # the sandbox's own, minimal environment


def test_odd_entries_are_reported_and_graded_safely(run):
    r = run["results"]["source_is_number"]
    assert r.score == 0 and "source that is not text" in r.error
    assert any(s.startswith("eve.ipynb: a symbolic link") for s in run["bulk"].skipped)
    assert any(s.startswith("folder.ipynb/: a folder named like a notebook") for s in run["bulk"].skipped)
    assert ["jdoe", "jdoe (1)"] in run["bulk"].duplicates
    assert "'=HYPERLINK(0)" in run["gradebook"] and "\n=HYPERLINK" not in run["gradebook"]
    assert "root:" not in "".join(p.read_text() for p in (run["out"].parent / "feedback").glob("*.md"))


def _table(run) -> str:
    honest = run["results"]["honest"]
    lines = ["| attack | tries | score | flag | honest submission |", "|---|---|---|---|---|"]
    for name, (what, _, _) in run["table"].items():
        r = run["results"][name]
        lines.append(f"| {name} | {what} | {r.passed}/{r.total} | {'; '.join(r.flags)[:60] or '-'} | "
                     f"{honest.passed}/{honest.total} |")
    return "\n".join(lines)


if __name__ == "__main__":  # print the table: python tests/test_hostile.py
    import tempfile

    class _Factory:
        def mktemp(self, name):
            return Path(tempfile.mkdtemp(prefix=f"{name}-"))

    result = grade_all(_Factory())
    print((result["out"].parent / "hostile.md").read_text())
    print(f"{len(result['bulk'])} notebooks in {result['seconds']:.0f} s with 2 workers")
