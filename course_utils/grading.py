"""Grade homework notebooks with nbval against the reference outputs (issue 3).

    python3 course.py grade hw0_face_detection my_hw0.ipynb          # one notebook (self-check)
    python3 course.py grade bulk hw0_face_detection submissions/ --workers 2 --out gradebook.csv
    python3 course.py grade make-template hw0_face_detection          # regenerate the template
    python3 course.py grade check-drift                               # templates == solutions?

(``python3 course.py grade ARGS`` runs ``python -m course_utils.grading ARGS``.)

How one submission is graded:

1. The submission is read (never written).  Its *answer* cells (tagged ``solution``) are found
   by cell id, else by their order among the tagged cells, else by position.
2. A graded notebook is rebuilt from the reference (the homework's solution, or its template):
   every cell comes from the reference except the answer cells' code, which comes from the
   submission.  Check cells keep the reference outputs, so edited outputs or deleted checks in a
   submission change nothing.  Other cells lose their outputs (nbval then only requires that
   they do not raise).
3. It runs in a fresh temporary folder (with the homework's data files) under
   ``pytest --nbval --nbval-current-env --nbval-sanitize-with homework/nbval_sanitize.cfg``,
   with a per-cell timeout, an overall timeout (the whole process tree is killed) and a cap on
   the output a cell may print.  A kernel that dies fails its cell at once.
4. Each check cell that nbval passes is a passed check; score = passed / total.

Bulk grading runs several of these at once (one pytest process each) and writes a gradebook CSV
and one feedback file per student.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import copy
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from . import homework as hw
from .env import REPO_ROOT

SANITIZE_FILE = hw.HOMEWORK_DIR / "nbval_sanitize.cfg"
DEFAULT_CELL_TIMEOUT = 120
DEFAULT_NOTEBOOK_TIMEOUT = 600
#: A cell may print this many characters; the rest is dropped (a megabyte flood cannot fill memory).
OUTPUT_CAP_CHARS = 200_000
#: Longest error text kept per check (gradebook and feedback).
ERROR_CHARS = 300
GRADED_NAME = "graded.ipynb"
_ANSI = re.compile(r"(\x1b|#x1B)\[[0-9;]*[A-Za-z]")  # junit XML writes ESC as #x1B
_CELL_NUM = re.compile(r"Cell (\d+)$")
_FLOOD = f"printed more than {OUTPUT_CAP_CHARS:,} characters"
_CRASH_CAUSES = "os._exit, a fatal signal, a segfault or running out of memory"
_KERNEL_DIED = f"the kernel died while running this cell ({_CRASH_CAUSES})"
_NOT_RUN = "not run: the kernel had died in an earlier cell"


class SubmissionError(ValueError):
    """A submission that cannot be graded at all (not a notebook, unreadable)."""


@dataclass
class GradeResult:
    """The grade of one submission."""

    student: str
    homework: str
    checks: dict[str, bool] = field(default_factory=dict)   # name -> passed, in notebook order
    messages: dict[str, str] = field(default_factory=dict)  # name -> why it failed
    answer_errors: list[str] = field(default_factory=list)  # answer cells that raised
    error: str = ""                                          # why grading failed as a whole
    flags: list[str] = field(default_factory=list)           # for a human to look at
    notes: list[str] = field(default_factory=list)           # how answers were matched, ...
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(self.checks.values())

    @property
    def total(self) -> int:
        return len(self.checks)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def summary(self) -> str:
        """One line: the overall error, else the first failing check's message."""
        if self.error:
            return self.error
        failing = [self.messages.get(n, "failed") for n, ok in self.checks.items() if not ok]
        return _clip(failing[0], 200) if failing else ""


def _clip(text: str, limit: int = ERROR_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------ rebuild


def read_submission(path: str | Path):
    """Read a submitted notebook (without changing it).

    Raises:
        SubmissionError: missing, too big, not JSON, or not a notebook.
    """
    import nbformat

    path = Path(path)
    try:
        if path.stat().st_size > 50_000_000:
            raise SubmissionError(f"{path.name} is over 50 MB: clear the outputs and submit again")
        text = path.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
    except SubmissionError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise SubmissionError(f"cannot read {path.name}: {exc}") from None
    except Exception as exc:  # nbformat raises JSON and validation errors of several kinds
        raise SubmissionError(f"{path.name} is not a valid notebook ({type(exc).__name__}: "
                              f"{_clip(str(exc), 120)}); open it in Jupyter and save it again") from None
    if not isinstance(nb.get("cells"), list):
        raise SubmissionError(f"{path.name} is not a valid notebook: it has no cells")
    return nb


def _answer_sources(reference, submission) -> tuple[list[str | None], str]:
    """The submission's code for each reference answer cell (None: not found) and how found."""
    ref = [c for c in reference.cells if hw.is_solution(c)]
    sub_cells = [c for c in submission.cells if isinstance(c, dict)]
    by_id = {c.get("id"): c for c in sub_cells if c.get("id")}
    if all(c.get("id") in by_id for c in ref):
        return [hw._source(by_id[c.id]) if by_id[c.id].get("cell_type") == c.cell_type else None
                for c in ref], "cell ids"
    tagged = [c for c in sub_cells if hw.is_solution(c)]
    if len(tagged) == len(ref):
        return [hw._source(c) for c in tagged], "the order of the cells tagged 'solution'"
    if len(sub_cells) == len(reference.cells):  # tags and ids lost, cells unchanged
        pos = [i for i, c in enumerate(reference.cells) if hw.is_solution(c)]
        return [hw._source(sub_cells[i]) for i in pos], "cell positions"
    srcs = [hw._source(by_id[c.id]) if c.get("id") in by_id else None for c in ref]
    return srcs, "cell ids (some answer cells are missing)"


def build_graded_notebook(reference, submission):
    """The notebook to execute: ``reference`` with the submission's answer code.

    Returns ``(notebook, notes, flags)``: notes say how answers were matched and which are
    missing; flags list answer code that seems to tamper with the checker.
    """
    graded = copy.deepcopy(reference)
    sources, how = _answer_sources(reference, submission)
    notes, flags = [f"answers matched by {how}"], []
    answers = iter(sources)
    for i, cell in enumerate(graded.cells):
        hw._clean_metadata(cell.metadata)
        if cell.cell_type != "code":
            continue
        if hw.is_solution(cell):
            src = next(answers)
            if src is None:
                notes.append(f"answer cell {cell.get('id', i)} is missing from the submission; "
                             "the template's stub was graded")
                src = hw.stub_source(hw._source(cell))
            cell.source = src
            flags += [f"answer cell {cell.get('id', i)} {why}" for why in hw.suspicious_code(src)]
        if hw.is_check(cell):
            # What a passing check prints, from the reference's check-cell source: never from
            # stored outputs (a template has none; an autosaved notebook may have any).
            cell.outputs, cell.execution_count = hw.pass_output(hw.check_names(cell)), 1
        else:
            cell.outputs = []
            cell.execution_count = None  # nbval then only checks that it runs without error
    return graded, notes, flags


# ------------------------------------------------------------------------------ pytest plugin
# Loaded into the grading pytest process with ``-p course_utils.grading``.


def pytest_configure(config) -> None:  # pragma: no cover - runs inside the grading subprocess
    """Make nbval notice a dead kernel at once and cap what a cell may print."""
    if not getattr(config.option, "nbval", False):
        return
    from queue import Empty

    from nbval.kernel import RunningKernel
    from nbval.plugin import IPyNbCell

    if getattr(RunningKernel, "_course_patched", False):
        return
    original_reply, original_message = RunningKernel.await_reply, RunningKernel.get_message

    def await_reply(self, msg_id, timeout=None):
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        while True:
            step = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if step <= 0:
                raise Empty
            try:
                return original_reply(self, msg_id, timeout=step)
            except Empty:
                if not self.is_alive():
                    raise RuntimeError(_KERNEL_DIED) from None

    printed: dict[str, int] = {}
    cut: set[str] = set()

    def get_message(self, stream, timeout=None):
        msg = original_message(self, stream, timeout=timeout)
        if msg.get("msg_type") == "stream":
            parent = msg.get("parent_header", {}).get("msg_id", "")
            text = msg["content"].get("text", "")
            seen = printed.get(parent, 0)
            printed[parent] = seen + len(text)
            if seen + len(text) > OUTPUT_CAP_CHARS:
                msg["content"]["text"] = text[:max(0, OUTPUT_CAP_CHARS - seen)]
                cut.add(parent)
        return msg

    original_runtest = IPyNbCell.runtest

    def runtest(self):
        before = len(cut)
        original_runtest(self)
        if len(cut) > before:
            self.raise_cell_error(f"{_FLOOD} (the rest was cut): print less")

    RunningKernel.await_reply, RunningKernel.get_message = await_reply, get_message
    IPyNbCell.runtest = runtest
    RunningKernel._course_patched = True


# ------------------------------------------------------------------------------ running


#: Environment variable that marks every process of one grading run (pytest, kernel, children).
RUN_MARKER = "COURSE_GRADING_RUN"


def _kill_run(pid: int, marker: str) -> None:
    """Kill a grading run: the process, its descendants, and any process that inherited the
    run's marker (a kernel runs in its own session and outlives a killed parent)."""
    try:
        import psutil
    except ImportError:  # psutil comes with ipykernel; without it, kill what we can
        import signal

        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        return
    procs = []
    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.Error:  # already gone
        pass
    me = os.getpid()
    for p in psutil.process_iter():
        try:
            if p.pid != me and p not in procs and p.environ().get(RUN_MARKER) == marker:
                procs.append(p)
        except psutil.Error:  # exited meanwhile, or another user's process
            pass
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)


def _tail(path: Path, chars: int = 4000) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - chars))
        return _ANSI.sub("", f.read().decode("utf-8", "replace"))


def _cell_results(junit: Path) -> dict[int, tuple[bool, str]]:
    """nbval's verdict per code cell: ``{code cell number: (passed, message)}``."""
    out: dict[int, tuple[bool, str]] = {}
    root = ET.parse(junit).getroot()
    for case in root.iter("testcase"):
        m = _CELL_NUM.search(case.get("name", ""))
        if not m:
            continue
        bad = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        if bad is None:
            out[int(m.group(1))] = (True, "")
        else:
            text = _ANSI.sub("", (bad.get("message") or "") + "\n" + (bad.text or ""))
            out[int(m.group(1))] = (False, _reason(text))
    return out


def _reason(text: str) -> str:
    """The line of nbval's report that a student can act on."""
    if "CheckFailed:" in text:
        line = text[text.rindex("CheckFailed:") + len("CheckFailed:"):].splitlines()[0].strip()
        return _clip(re.sub(r"^[\w.\-]+: FAIL - ", "", line))
    if _FLOOD in text:
        return f"{_FLOOD}: print less (a few lines per cell)"
    if "kernel died" in text:
        return _KERNEL_DIED
    if "Kernel dead" in text:
        return _NOT_RUN
    if "Previous cell timed out" in text:
        return "failed after an earlier cell timed out"
    m = re.search(r"Timeout of (\d+(\.\d+)?) seconds exceeded", text)
    if m:
        return f"timed out after {float(m.group(1)):g} s (an endless loop, or far too slow)"
    if "Cell outputs differ" in text:
        return "printed something other than the reference output (only 'qN: PASS' is expected)"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b", ln)]
    if errors and errors[-1].rstrip(":") == "NotImplementedError":
        return "not answered yet: the cell still raises NotImplementedError"
    return _clip(errors[-1] if errors else (lines[-1] if lines else "failed"))


def _subprocess_env(workdir: Path, marker: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        RUN_MARKER: marker,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")])),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "COURSE_DATA_DIR": str(workdir / "data"),      # cu.setup() writes here, not in the repo
        "MPLCONFIGDIR": str(workdir / ".config" / "matplotlib"),
        "IPYTHONDIR": str(workdir / ".config" / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(workdir / ".config" / "jupyter"),
    })
    return env


def _copy_homework_files(home: hw.Homework, workdir: Path) -> None:
    """Data the homework needs (every file but its notebooks and README) into ``workdir``."""
    for p in home.path.iterdir():
        if p.suffix == ".ipynb" or p.name.startswith(".") or p.name in ("README.md", "__pycache__"):
            continue
        dest = workdir / p.name
        if p.is_dir():
            shutil.copytree(p, dest)
        else:
            shutil.copy2(p, dest)


def run_nbval(notebook: Path, *, cell_timeout: float, timeout: float,
              sanitize: Path = SANITIZE_FILE) -> tuple[dict[int, tuple[bool, str]], str]:
    """Execute ``notebook`` under nbval in its own folder; return per-cell results and the
    overall error ("" if pytest ran to the end).  The process tree is killed after ``timeout``."""
    workdir = notebook.parent
    junit, log = workdir / ".junit.xml", workdir / ".pytest.log"
    (workdir / "pytest.ini").write_text("[pytest]\n")  # keep the repository's config out
    cmd = [sys.executable, "-m", "pytest", str(notebook), "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", str(sanitize), "--nbval-cell-timeout", str(cell_timeout),
           "-p", "no:cacheprovider", "-p", "course_utils.grading", "-c", str(workdir / "pytest.ini"),
           "--rootdir", str(workdir), "--junitxml", str(junit), "-q", "--color=no"]
    marker = uuid.uuid4().hex
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=_subprocess_env(workdir, marker), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_run(proc.pid, marker)
            proc.wait()
            return {}, f"the notebook did not finish within {timeout:g} s and was stopped"
        finally:
            _kill_run(proc.pid, marker)  # nothing the submission started may outlive grading
    if not junit.exists():
        return {}, "the grader could not run the notebook: " + _clip(_tail(log, 600), 200)
    try:
        return _cell_results(junit), ""
    except ET.ParseError as exc:
        return {}, f"the grader could not read nbval's report ({exc})"


def grade_submission(homework: str | Path | hw.Homework, submission: str | Path, *,
                     cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                     notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
                     student: str | None = None, keep: Path | None = None) -> GradeResult:
    """Grade one submitted notebook; never raises for a bad submission (see ``result.error``).

    Args:
        homework: a :class:`~course_utils.homework.Homework`, its folder or its name.
        submission: the student's ``.ipynb`` (read only).
        cell_timeout: seconds one cell may run.
        notebook_timeout: seconds the whole run may take (kernel start included).
        student: the name in the gradebook (default: the file name without ``.ipynb``).
        keep: copy the working folder (graded notebook, pytest log) here, for debugging.
    """
    import nbformat

    started = time.perf_counter()
    home = homework if isinstance(homework, hw.Homework) else hw.find_homework(homework)
    submission = Path(submission)
    reference = nbformat.read(str(home.reference), as_version=4)
    names = hw.expected_checks(reference)
    result = GradeResult(student=student or submission.stem, homework=home.name,
                         checks={n: False for n in names})
    try:
        sub = read_submission(submission)
        graded, result.notes, result.flags = build_graded_notebook(reference, sub)
    except SubmissionError as exc:
        result.error = str(exc)
    if not result.error:
        try:
            with tempfile.TemporaryDirectory(prefix="course-grade-", ignore_cleanup_errors=True) as tmp:
                workdir = Path(tmp)
                _copy_homework_files(home, workdir)
                path = workdir / GRADED_NAME
                nbformat.write(graded, str(path))
                cells, result.error = run_nbval(path, cell_timeout=cell_timeout, timeout=notebook_timeout)
                if keep is not None:
                    shutil.copytree(workdir, keep, dirs_exist_ok=True, symlinks=True)
            _score_cells(result, graded, cells)
        except Exception as exc:  # a grader problem must not stop a bulk run
            result.error = f"the grader failed on this notebook ({type(exc).__name__}: {_clip(str(exc), 150)})"
    for name, ok in result.checks.items():
        if not ok and name not in result.messages:
            result.messages[name] = result.error or "failed"
    result.seconds = time.perf_counter() - started
    return result


def _score_cells(result: GradeResult, graded, cells: dict[int, tuple[bool, str]]) -> None:
    """Fill ``result`` from nbval's per-cell verdicts.  A check passes when its cell passed and
    the answer cell before it ran cleanly (no error, timeout, crash or output flood)."""
    answer_failed = ""
    code_cells = [c for c in graded.cells if c.cell_type == "code"]
    for num, cell in enumerate(code_cells):
        ok, why = cells.get(num, (False, result.error or "not run"))
        if why == _KERNEL_DIED and not result.error:
            result.error = (f"the kernel died in cell {cell.get('id', num)} ({_CRASH_CAUSES}); "
                            "the cells after it did not run")
        if hw.is_solution(cell):
            answer_failed = "" if ok or why == _NOT_RUN else why
            if answer_failed and num in cells:
                result.answer_errors.append(f"answer cell {cell.get('id', num)}: {why}")
        elif hw.is_check(cell):
            if answer_failed:
                ok, why = False, f"your answer cell above failed: {answer_failed}"
            for name in hw.check_names(cell):
                result.checks[name] = ok
                if not ok:
                    result.messages[name] = why


# ------------------------------------------------------------------------------ reports


def format_report(result: GradeResult) -> str:
    """What a student reads: one line per check, the score, and what to fix."""
    lines = [f"{result.homework} · {result.student}: {result.passed}/{result.total} checks passed "
             f"(score {result.score:.2f})"]
    if result.error:
        lines.append(f"ERROR: {result.error}")
    for name, ok in result.checks.items():
        lines.append(f"  {name}: {'PASS' if ok else 'FAIL'}" + ("" if ok else f" - {result.messages.get(name, '')}"))
    if result.answer_errors:
        lines.append("Answer cells that raised an error:")
        lines += [f"  {e}" for e in result.answer_errors]
    lines += [f"Note: {n}" for n in result.notes if "missing" in n]
    lines += [f"Flag for review: {f}" for f in result.flags]
    return "\n".join(lines)


def write_feedback(result: GradeResult, path: Path) -> Path:
    """A short Markdown feedback file for one student."""
    rows = "\n".join(f"| {n} | {'PASS' if ok else 'FAIL'} | {'' if ok else result.messages.get(n, '').replace('|', '/')} |"
                     for n, ok in result.checks.items())
    parts = [f"# {result.homework}: feedback for {result.student}", "",
             f"**Score: {result.passed}/{result.total}** ({result.score:.0%})", ""]
    if result.error:
        parts += [f"**Your notebook could not be graded completely:** {result.error}", ""]
    parts += ["| check | result | what to fix |", "|---|---|---|", rows, ""]
    if result.answer_errors:
        parts += ["Answer cells that raised an error:", ""] + [f"- {e}" for e in result.answer_errors] + [""]
    parts += [f"Check yourself before you resubmit: `python3 course.py grade {result.homework} "
              f"{result.student}.ipynb`", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def gradebook_columns(results: list[GradeResult]) -> list[str]:
    checks: list[str] = []
    for r in results:
        checks += [n for n in r.checks if n not in checks]
    return ["student", "homework", *checks, "passed", "total", "score", "seconds", "error", "flags"]


def write_gradebook(results: list[GradeResult], path: Path) -> Path:
    """The gradebook CSV: one row per submission, 1/0 per check."""
    cols = gradebook_columns(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(cols)
        for r in sorted(results, key=lambda r: r.student):
            row = {"student": r.student, "homework": r.homework, "passed": r.passed, "total": r.total,
                   "score": f"{r.score:.2f}", "seconds": f"{r.seconds:.1f}", "error": _clip(r.summary(), 200),
                   "flags": "; ".join(r.flags)}
            row.update({n: int(ok) for n, ok in r.checks.items()})
            writer.writerow([row.get(c, "") for c in cols])
    return path


def grade_folder(homework: str | Path, folder: str | Path, *, workers: int = 2,
                 out: str | Path = "gradebook.csv", feedback_dir: str | Path | None = None,
                 cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                 notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
                 verbose: bool = True) -> list[GradeResult]:
    """Grade every ``*.ipynb`` in ``folder`` with ``workers`` notebooks at a time; write the
    gradebook CSV at ``out`` and one feedback file per student in ``feedback_dir`` (default:
    ``feedback/`` beside the gradebook).  Returns the results sorted by student."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    home = homework if isinstance(homework, hw.Homework) else hw.find_homework(homework)
    folder, out = Path(folder), Path(out)
    feedback_dir = Path(feedback_dir) if feedback_dir else out.parent / "feedback"
    paths = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    if not paths:
        raise ValueError(f"no .ipynb files in {folder}")
    started, results = time.perf_counter(), []
    # Each task waits on its own pytest process, so threads are enough to run them in parallel.
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(grade_submission, home, p, cell_timeout=cell_timeout,
                               notebook_timeout=notebook_timeout): p for p in paths}
        for i, fut in enumerate(cf.as_completed(futures), 1):
            r = fut.result()
            results.append(r)
            write_feedback(r, feedback_dir / f"{r.student}.md")
            if verbose:
                print(f"[{i:3d}/{len(paths)}] {r.student:<24} {r.passed}/{r.total}  {r.seconds:5.1f} s  "
                      f"{_clip(r.summary(), 70)}", flush=True)
    total = time.perf_counter() - started
    results.sort(key=lambda r: r.student)
    write_gradebook(results, out)
    if verbose:
        mean = sum(r.seconds for r in results) / len(results)
        print(f"graded {len(results)} submissions with {workers} worker(s) in {total:.1f} s "
              f"({total / len(results):.1f} s per submission; {mean:.1f} s each on average)\n"
              f"gradebook: {out}\nfeedback:  {feedback_dir}/")
    return results


# ------------------------------------------------------------------------------ command line

USAGE = """\
python3 course.py grade HOMEWORK SUBMISSION.ipynb [--cell-timeout S] [--timeout S] [--keep DIR]
python3 course.py grade bulk HOMEWORK FOLDER [--workers N] [--out gradebook.csv] [--feedback DIR]
python3 course.py grade make-template HOMEWORK
python3 course.py grade check-drift [HOMEWORK ...]

HOMEWORK is a name from homework/ (e.g. hw0_face_detection, or hw0) or a folder."""


def _user_path(text: str) -> Path:
    """A path as the user typed it: relative paths start in the directory the command was typed
    in (``$PWD``), also when ``course.py`` runs this module from the repository root."""
    p = Path(text).expanduser()
    shell_dir = os.environ.get("PWD", "")
    if not p.is_absolute() and shell_dir and Path(shell_dir).is_dir():
        return Path(shell_dir) / p
    return p


def _homework(text: str) -> hw.Homework:
    """A homework named on the command line: a folder (from ``$PWD``) or a name."""
    folder = _user_path(text)
    return hw.find_homework(folder if folder.is_dir() else text)


def _timeouts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    p.add_argument("--timeout", type=float, default=DEFAULT_NOTEBOOK_TIMEOUT, help="seconds per notebook")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.split("\n\n")[0] + "\n\n" + USAGE)
        return 0 if argv else 2
    command = argv[0] if argv[0] in ("bulk", "make-template", "check-drift") else "grade"
    rest = argv[1:] if command != "grade" else argv
    p = argparse.ArgumentParser(prog=f"course.py grade{'' if command == 'grade' else ' ' + command}", usage=USAGE)
    try:
        if command == "grade":
            p.add_argument("homework")
            p.add_argument("submission", type=_user_path)
            p.add_argument("--keep", type=_user_path, help="copy the working folder (graded notebook, log) here")
            _timeouts(p)
            a = p.parse_args(rest)
            if not a.submission.is_file():
                print(f"not found: {a.submission}", file=sys.stderr)
                return 2
            r = grade_submission(_homework(a.homework), a.submission, cell_timeout=a.cell_timeout,
                                 notebook_timeout=a.timeout, keep=a.keep)
            print(format_report(r))
            return 0 if r.total and r.passed == r.total else 1
        if command == "bulk":
            p.add_argument("homework")
            p.add_argument("folder", type=_user_path)
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--out", type=_user_path, default="gradebook.csv")
            p.add_argument("--feedback", type=_user_path, default=None, help="default: feedback/ beside --out")
            _timeouts(p)
            a = p.parse_args(rest)
            grade_folder(_homework(a.homework), a.folder, workers=a.workers, out=a.out, feedback_dir=a.feedback,
                         cell_timeout=a.cell_timeout, notebook_timeout=a.timeout)
            return 0
        if command == "make-template":
            p.add_argument("homework")
            a = p.parse_args(rest)
            home = _homework(a.homework)
            print(f"wrote {hw.write_template(home.solution)}")
            return 0
        p.add_argument("homework", nargs="*")
        a = p.parse_args(rest)
        bad = 0
        for name in a.homework or hw.homework_names():
            home = _homework(name)
            if not home.has_solution:
                print(f"{home.name}: no {hw.SOLUTION_NAME} here (a student release): nothing to compare")
                continue
            problems = hw.check_drift(home.solution, home.template)
            bad += bool(problems)
            print(f"{home.name}: " + ("template up to date" if not problems else "DRIFT\n  " + "\n  ".join(problems)))
        return 1 if bad else 0
    except ValueError as exc:  # unknown homework, empty folder, invalid solution
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
