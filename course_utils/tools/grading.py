"""Grade homework notebooks with nbval against the reference outputs (issue 3).

    python3 course.py grade my_hw0.ipynb                              # one notebook (self-check)
    python3 course.py grade bulk hw0_face_detection submissions/ --workers 2 --out gradebook.csv
    python3 course.py grade make-template hw0_face_detection          # regenerate the template
    python3 course.py grade check-drift                               # templates == solutions?

(``python3 course.py grade ARGS`` runs ``python -m course_utils.tools.grading ARGS``.)

How one submission is graded (:func:`grade_submission`), each step in a module of its own:

1. :mod:`.rebuild`: the submission is read (never written, never through a symbolic link) and a
   graded notebook is rebuilt from the reference with the submission's answer code.
2. :mod:`.kit` and :mod:`.nbrun`: it runs in a fresh folder with a read-only copy of the grader's
   kit (``course_utils``, sample data, models, sanitize file: read once per bulk run) under
   ``pytest --nbval``, in a minimal environment, inside a sandbox (:mod:`.sandbox`) where there is
   one, with per-cell and overall timeouts and a cap on what a cell may print.
3. :mod:`.verdict`: each check cell that nbval passes has printed ``PASS`` in the student's
   kernel.  It is a passed check only if the value it recorded also matches the reference, judged
   in the grader's own process (the reference values come from running the solution once, in the
   same sandbox); score = passed / total.  A run that changed its copy of the library, or
   (unsandboxed) the repository, scores 0 and is flagged.
4. :mod:`.hidden`: where the homework has hidden checks (``homework/<hw>/hidden_checks.py``, instructor
   only), the answer cells run again in a new sandboxed process on inputs made from a secret seed, with the
   library functions a question asks the student to write turned into tripwires; the grader compares the
   values with the solution's on the same inputs.  A question passes only if both checks pass.
5. :mod:`.results`: the grade, scrubbed of solution code and the grader's paths.

Bulk grading (:func:`grade_folder`) runs several of these at once (one pytest process each),
refuses to run without a sandbox unless asked, and writes a gradebook CSV, one feedback file per
student and a report, all atomically.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import queue
import sys
import time
from pathlib import Path

from ..text import clip
from . import authoring
from . import notebook as nbk
from . import sandbox as sbx
from . import hidden, nbrun, shards, verdict
from .kit import Kit, execute
from .nbrun import CRASH_CAUSES, KERNEL_DIED, NOT_RUN
from .rebuild import SubmissionError, build_graded_notebook, read_submission
from .submissions import duplicate_groups, find_submissions, student_name
from .results import GradeResult, atomic_write, format_report, scrub, write_feedback, write_gradebook, zero

DEFAULT_CELL_TIMEOUT = 120
DEFAULT_NOTEBOOK_TIMEOUT = 600


def grade_submission(homework: str | Path | authoring.Homework | Kit, submission: str | Path, *,
                     cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                     notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
                     student: str | None = None, keep: Path | None = None,
                     sandbox: sbx.Sandbox | str = "auto") -> GradeResult:
    """Grade one submitted notebook; never raises for a bad submission (see ``result.error``).

    Args:
        homework: a :class:`Kit` (bulk runs read it once), a
            :class:`~course_utils.homework.Homework`, its folder or its name.
        submission: the student's ``.ipynb`` (read only; never through a symbolic link).
        cell_timeout: seconds one cell may run.
        notebook_timeout: seconds the whole run may take (kernel start included).
        student: the name in the gradebook (default: the file name without ``.ipynb``).
        keep: copy the working folder (graded notebook, pytest log) here, for debugging.
        sandbox: a :class:`~course_utils.tools.sandbox.Sandbox`, or ``"auto"`` (the best this machine
            offers, else none: then the result's notes say that it ran unsandboxed), or ``"none"``.
    """
    started = time.perf_counter()
    kit = homework if isinstance(homework, Kit) else Kit.load(
        homework if isinstance(homework, authoring.Homework) else authoring.find_homework(homework))
    if isinstance(sandbox, str):
        sandbox = sbx.Sandbox("none", "not asked for") if sandbox == "none" else sbx.detect(sandbox)
    submission = Path(submission)
    result = GradeResult(student=student or student_name(submission.name), homework=kit.home.name,
                         checks={n: False for n in kit.names})
    if not sandbox.isolated:
        result.notes.append(sandbox.describe())
    try:
        sub = read_submission(submission, result.notes)
        graded, notes, result.flags = build_graded_notebook(kit.reference, sub)
        result.notes += notes
    except SubmissionError as exc:
        result.error = str(exc)
    if not result.error:
        try:
            _run_and_judge(kit, graded, result, sandbox, cell_timeout, notebook_timeout, keep)
        except Exception as exc:  # a grader problem must not stop a bulk run
            result.error = f"the grader failed on this notebook ({type(exc).__name__}: {clip(str(exc), 150)})"
    _note_changed_originals(result, kit, sandbox)
    for name, ok in result.checks.items():
        if not ok and name not in result.messages:
            result.messages[name] = result.error or "failed"
    scrub(result, kit.blocks)
    result.seconds = time.perf_counter() - started
    return result


def _run_and_judge(kit: Kit, graded, result: GradeResult, sandbox, cell_timeout: float, notebook_timeout: float,
                   keep: Path | None) -> None:
    """Run the graded notebook (and the reference's and hidden checks' values, cached in ``kit``) and put
    the verdicts into ``result``."""
    references = kit.reference_values(sandbox, cell_timeout=cell_timeout, timeout=notebook_timeout)
    kit.hidden_values(sandbox, timeout=notebook_timeout)
    cells, result.error, tampered, records, problems, (probes, probe_error) = execute(
        kit, graded, sandbox=sandbox, cell_timeout=cell_timeout, timeout=notebook_timeout, keep=keep)
    _score_cells(result, graded, cells)
    result.notes += problems
    if references is None:
        result.notes.append(kit.reference_note)
    else:
        verdict.apply(result.checks, result.messages, result.flags, records, references)
    _hidden_verdict(result, kit, graded, probes, probe_error)
    if tampered:
        zero(result, f"changed the grader's copy of the course library during grading "
                     f"({', '.join(tampered[:3])})")


def _note_changed_originals(result: GradeResult, kit: Kit, sandbox) -> None:
    """The course's files changed while grading: this notebook's doing (zero) unless a sandbox kept it out."""
    changed = kit.changed_originals()
    if changed and not sandbox.isolated:  # it could have been this notebook
        zero(result, f"the course's files changed while this notebook was graded ({', '.join(changed[:3])}); "
                     "later gradings use the copy read before the first one")
    elif changed:  # the sandbox cannot reach them: someone else changed them
        result.notes.append(f"the course's files changed during grading, outside the sandbox "
                            f"({', '.join(changed[:3])}); grading used the copy read before")


def _hidden_verdict(result: GradeResult, kit: Kit, graded, probes: dict, probe_error: str) -> None:
    """Fold the hidden checks (:mod:`.hidden`) into ``result``: or say why there are none."""
    if kit.hidden_spec is None:
        return
    if kit.hidden_reference is None:
        result.notes.append(kit.hidden_note or "hidden checks not run")
        return
    if probe_error and not result.error:
        result.notes.append(f"hidden checks: {probe_error}")
    hidden.apply(kit.hidden_spec, hidden.answer_sources(graded), probes, kit.hidden_reference, kit.fingerprints,
                 result.checks, result.messages, result.flags)


def _score_cells(result: GradeResult, graded, cells: dict[int, tuple[bool, str]]) -> None:
    """Fill ``result`` from nbval's per-cell verdicts.  A check passes when its cell passed and
    the answer cell before it ran cleanly (no error, timeout, crash or output flood)."""
    answer_failed = ""
    code_cells = [c for c in graded.cells if c.cell_type == "code"]
    for num, cell in enumerate(code_cells):
        ok, why = cells.get(num, (False, result.error or "not run"))
        if why == KERNEL_DIED and not result.error:
            result.error = (f"the kernel died in cell {cell.get('id', num)} ({CRASH_CAUSES}); "
                            "the cells after it did not run")
        if nbk.is_solution(cell):
            answer_failed = "" if ok or why == NOT_RUN else why
            if answer_failed and num in cells:
                result.answer_errors.append(f"answer cell {cell.get('id', num)}: {why}")
        elif nbk.is_check(cell):
            if answer_failed:
                ok, why = False, f"your answer cell above failed: {answer_failed}"
            for name in nbk.check_names(cell):
                result.checks[name] = ok
                if not ok:
                    result.messages[name] = why


class BulkResults(list):
    """The results of a bulk run (sorted by student), with what the run did not grade."""

    skipped: list[str]
    duplicates: list[list[str]]
    sandbox: sbx.Sandbox


def cpu_shares(workers: int) -> list[set[int] | None]:
    """The CPUs of each of ``workers`` grading workers: this process's CPUs dealt out in turn (a worker gets at
    least one; with more workers than CPUs, workers share); ``None`` (no pinning) for one worker or where the
    system cannot pin."""
    if workers < 2 or not hasattr(os, "sched_getaffinity"):
        return [None] * max(workers, 1)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return [None] * workers
    if workers >= len(cpus):
        return [{cpus[k % len(cpus)]} for k in range(workers)]
    return [{cpus[i] for i in range(len(cpus)) if i % workers == k} for k in range(workers)]


def fairness(shares: list[set[int] | None], cgroups: bool) -> str:
    """What the bulk report says of how classmates' runs share the machine (homework/README.md, the sandbox)."""
    memory = f"a run whose processes together hold over {nbrun.RUN_MEMORY_BYTES >> 30} GiB is stopped"
    pinned = ("each worker's runs keep to its CPUs (" + "; ".join(",".join(map(str, sorted(s))) for s in shares) + ")"
              if shares and shares[0] is not None else "one worker: runs not pinned to CPUs")
    groups = ("each run in a cgroup v2 of its own (memory.max, pids.max, cpu.max)" if cgroups else
              "no cgroup v2 here: CPU time and processes are limited per process and per user only")
    return f"Sharing: {pinned}; {memory}; {groups}"


def grade_folder(homework: str | Path | authoring.Homework, folder: str | Path, *, workers: int = 2,
                 out: str | Path = "gradebook.csv", feedback_dir: str | Path | None = None,
                 cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                 notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
                 sandbox: str = "auto", allow_unsandboxed: bool = False,
                 verbose: bool = True, shard: tuple[int, int] | None = None) -> BulkResults:
    """Grade every notebook in ``folder`` with ``workers`` notebooks at a time; write the
    gradebook CSV at ``out`` and one feedback file per student in ``feedback_dir`` (default:
    ``feedback/`` beside the gradebook), and ``report.txt`` beside the gradebook (what was not
    graded, likely duplicate students).  Returns the results sorted by student.

    Each submission runs in a sandbox (:mod:`course_utils.tools.sandbox`); without one this refuses
    to grade unless ``allow_unsandboxed``.  One submission never costs another: whatever
    happens while grading it becomes its own grade, with the reason.

    ``shard=(K, N)`` grades only slice K of N (:mod:`.shards`: one job of a batch scheduler's N); its report and
    the record :func:`.shards.merge` reads are written beside the gradebook, named after it.

    Raises:
        ValueError: bad arguments, no notebooks, the reference cannot be read.
        RuntimeError: no sandbox here and ``allow_unsandboxed`` is false.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    home = homework if isinstance(homework, authoring.Homework) else authoring.find_homework(homework)
    folder, out = Path(folder), Path(out)
    feedback_dir = Path(feedback_dir) if feedback_dir else out.parent / "feedback"
    box = _grading_sandbox(sandbox, allow_unsandboxed)
    paths, skipped = find_submissions(folder)
    if not paths:
        raise ValueError(f"no .ipynb files in {folder}" + "".join(f"\n  skipped {s}" for s in skipped))
    everyone = [student_name(p.name) for p in paths]
    results = BulkResults()
    results.skipped, results.sandbox = skipped, box
    results.duplicates = duplicate_groups(everyone)  # over the whole folder, also when grading one shard of it
    if shard:
        paths = shards.select(paths, shard)
    kit = Kit.load(home)  # once: a submission that changes the repository cannot change later gradings
    if verbose:
        print(f"grading {len(paths)} notebook(s) of {home.name}, {box.describe()}", flush=True)
        for line in skipped:
            print(f"  not graded: {line}", flush=True)
    started = time.perf_counter()
    shares = cpu_shares(workers)
    _grade_in_parallel(kit, paths, shares, results, feedback_dir, verbose,
                       dict(cell_timeout=cell_timeout, notebook_timeout=notebook_timeout, sandbox=box))
    total = time.perf_counter() - started
    _flag_duplicates(results)
    write_gradebook(results, out)
    report_path = shards.report_path(out) if shard else out.parent / "report.txt"
    atomic_write(report_path, _bulk_report(home.name, results, box, shares, workers, total, shard))
    if shard:
        shards.shard_record(out, home.name, shard, everyone, [r.student for r in results], skipped,
                            results.duplicates)
    if verbose:
        _print_summary(results, workers, total, out, feedback_dir, report_path)
    return results


def _print_summary(results: BulkResults, workers: int, total: float, out: Path, feedback_dir: Path,
                   report: Path) -> None:
    mean = sum(r.seconds for r in results) / max(len(results), 1)
    print(f"graded {len(results)} submissions with {workers} worker(s) in {total:.1f} s "
          f"({total / len(results):.1f} s per submission; {mean:.1f} s each on average)\n"
          + "".join(f"likely the same student: {', '.join(g)}\n" for g in results.duplicates)
          + f"gradebook: {out}\nfeedback:  {feedback_dir}/\nreport:    {report}")


def _flag_duplicates(results: BulkResults) -> None:
    """Flag each result whose student looks like another's (``results.duplicates``); sort by student."""
    for group in results.duplicates:
        for r in results:
            if r.student in group:
                r.flags.append("maybe the same student as " + ", ".join(n for n in group if n != r.student))
    results.sort(key=lambda r: r.student)


def _grading_sandbox(sandbox: str, allow_unsandboxed: bool) -> sbx.Sandbox:
    """The sandbox that bulk grading runs students' code in (``RuntimeError`` where there is none and
    ``allow_unsandboxed`` is false)."""
    box = sbx.Sandbox("none", "--unsandboxed was given") if sandbox == "none" else sbx.detect(sandbox)
    if not box.isolated and not allow_unsandboxed:
        raise RuntimeError(f"no sandbox to grade in: {box.why}. Bulk grading runs students' code; "
                           "pass --unsandboxed to run it as you, with your files and network")
    return box


def _grade_in_parallel(kit: Kit, paths: list[Path], shares, results: BulkResults, feedback_dir: Path,
                       verbose: bool, options: dict) -> None:
    """Grade ``paths`` with one thread per CPU share (each waits on its own pytest process), appending to
    ``results`` and writing each student's feedback as soon as it is graded."""
    free = queue.Queue()
    for share in shares:
        free.put(share)

    def one(path: Path) -> GradeResult:
        share = free.get()  # this worker's CPUs: a CPU burner slows its own grading only (issue 29)
        nbrun.WORKER.cpus = share
        try:
            return grade_submission(kit, path, **options)
        except BaseException as exc:  # noqa: BLE001 - whatever happens is this submission's grade
            r = GradeResult(student_name(path.name), kit.home.name, {n: False for n in kit.names})
            r.error = f"the grader failed on this notebook ({type(exc).__name__}: {clip(str(exc), 150)})"
            r.messages = {n: r.error for n in r.checks}
            scrub(r, kit.blocks)
            return r
        finally:
            nbrun.WORKER.cpus = None
            free.put(share)

    with cf.ThreadPoolExecutor(max_workers=len(shares)) as pool:
        futures = [pool.submit(one, p) for p in paths]
        for i, fut in enumerate(cf.as_completed(futures), 1):
            r = fut.result()
            results.append(r)
            try:
                write_feedback(r, feedback_dir / f"{r.student}.md")
            except OSError as exc:
                r.flags.append(f"feedback not written ({exc})")
            if verbose:
                print(f"[{i:3d}/{len(paths)}] {r.student:<24} {r.passed}/{r.total}  {r.seconds:5.1f} s  "
                      f"{clip(r.summary(), 70)}", flush=True)


def _bulk_report(name: str, results: BulkResults, box, shares, workers: int, total: float,
                 shard: tuple[int, int] | None) -> str:
    """``report.txt``: how many were graded and how fast, fairness, what was not graded, likely duplicates."""
    per = f"{total / len(results):.1f} s per submission" if results else "no submission in this shard"
    report = [f"{name}: {len(results)} graded" + (f" (shard {shard[0]}/{shard[1]})" if shard else "")
              + f", {box.describe()}", f"{total:.1f} s with {workers} worker(s), {per}",
              fairness(shares, box.isolated and sbx.cgroups_usable()), ""]
    report += ["Not graded:"] + [f"  {s}" for s in results.skipped] + [""] if results.skipped else []
    report += ["Likely the same student (review by hand):"] + [f"  {', '.join(g)}" for g in results.duplicates] \
        if results.duplicates else []
    return "\n".join(report) + "\n"


USAGE = """\
python3 course.py grade [HOMEWORK] SUBMISSION.ipynb [--cell-timeout S] [--timeout S] [--keep DIR] [--sandbox KIND]
                                                   [--verbose]
python3 course.py grade bulk HOMEWORK FOLDER [--workers N] [--out gradebook.csv] [--feedback DIR]
                                             [--sandbox KIND] [--unsandboxed] [--shard K/N]
python3 course.py grade merge OUT.csv SHARD.csv ...   (the gradebooks of --shard 1/N ... N/N)
python3 course.py grade make-template HOMEWORK
python3 course.py grade check-drift [HOMEWORK ...]

HOMEWORK is a name from homework/ (e.g. hw0_face_detection, or hw0) or a folder.
KIND: auto (bubblewrap, else unshare; needs root on Linux), bwrap, unshare or none.  Bulk grading
refuses to run without a sandbox unless --unsandboxed is given; one notebook (a student's
self-check) runs without one where there is none, and says so."""


def _user_path(text: str) -> Path:
    """A path as the user typed it: relative paths start in the directory the command was typed
    in (``$PWD``), also when ``course.py`` runs this module from the repository root."""
    p = Path(text).expanduser()
    shell_dir = os.environ.get("PWD", "")
    if not p.is_absolute() and shell_dir and Path(shell_dir).is_dir():
        return Path(shell_dir) / p
    return p


def find_submission(text: str) -> Path | None:
    """A notebook named on the command line: from ``$PWD``, else by its file name in a homework folder (a student
    who types ``course.py grade my_hw0.ipynb`` at the repository's root); None when there is none or several."""
    path = _user_path(text)
    if path.is_file():
        return path
    if Path(text).name != text:  # a path that is not there: do not guess
        return None
    found = [p for p in sorted(authoring.HOMEWORK_DIR.glob(f"*/{text}")) if p.is_file()]
    return found[0] if len(found) == 1 else None


def _homework(text: str) -> authoring.Homework:
    """A homework named on the command line: a folder (from ``$PWD``) or a name."""
    folder = _user_path(text)
    return authoring.find_homework(folder if folder.is_dir() else text)


def _timeouts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    p.add_argument("--timeout", type=float, default=DEFAULT_NOTEBOOK_TIMEOUT, help="seconds per notebook")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "unshare", "none"), default="auto",
                   help="how to isolate each notebook (default: the best this machine offers)")


def _grade_one(p: argparse.ArgumentParser, rest: list[str]) -> int:
    p.add_argument("args", nargs="+", metavar="[HOMEWORK] SUBMISSION")
    p.add_argument("--keep", type=_user_path, help="copy the working folder (graded notebook, log) here")
    p.add_argument("--verbose", action="store_true", help="also say how the notebook was isolated")
    _timeouts(p)
    a = p.parse_args(rest)
    if len(a.args) > 2:
        p.error("give the notebook, or the homework and the notebook")
    submission = find_submission(a.args[-1])
    if submission is None:
        print(f"not found: {_user_path(a.args[-1])} (nor in homework/*/)", file=sys.stderr)
        return 2
    if len(a.args) == 2:
        home = _homework(a.args[0])
    else:
        home = authoring.homework_for(submission)
        print(f"{submission.name}: {home.name}", flush=True)
    r = grade_submission(home, submission, cell_timeout=a.cell_timeout,
                         notebook_timeout=a.timeout, keep=a.keep, sandbox=a.sandbox)
    print(format_report(r, sandbox_note=a.verbose or "--sandbox" in rest))
    return 0 if r.total and r.passed == r.total else 1


def _grade_bulk(p: argparse.ArgumentParser, rest: list[str]) -> int:
    p.add_argument("homework")
    p.add_argument("folder", type=_user_path)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=_user_path, default="gradebook.csv")
    p.add_argument("--feedback", type=_user_path, default=None, help="default: feedback/ beside --out")
    p.add_argument("--unsandboxed", action="store_true",
                   help="grade without a sandbox where there is none (students' code runs as you)")
    p.add_argument("--shard", type=shards.parse, default=None, metavar="K/N",
                   help="grade only slice K of N (one job of N; then: course.py grade merge)")
    _timeouts(p)
    a = p.parse_args(rest)
    grade_folder(_homework(a.homework), a.folder, workers=a.workers, out=a.out, feedback_dir=a.feedback,
                 cell_timeout=a.cell_timeout, notebook_timeout=a.timeout, sandbox=a.sandbox,
                 allow_unsandboxed=a.unsandboxed, shard=a.shard)
    return 0


def _merge(p: argparse.ArgumentParser, rest: list[str]) -> int:
    p.add_argument("out", type=_user_path)
    p.add_argument("gradebooks", type=_user_path, nargs="+")
    a = p.parse_args(rest)
    rows = shards.merge(a.out, a.gradebooks)
    print(f"merged {len(a.gradebooks)} shard(s): {len(rows)} submissions -> {a.out} "
          f"(report: {a.out.parent / 'report.txt'})")
    return 0


def _make_template(p: argparse.ArgumentParser, rest: list[str]) -> int:
    p.add_argument("homework")
    home = _homework(p.parse_args(rest).homework)
    print(f"wrote {authoring.write_template(home.solution)}")
    return 0


def _check_drift(p: argparse.ArgumentParser, rest: list[str]) -> int:
    p.add_argument("homework", nargs="*")
    a = p.parse_args(rest)
    bad = 0
    for name in a.homework or authoring.homework_names():
        home = _homework(name)
        if not home.has_solution:
            print(f"{home.name}: no {authoring.SOLUTION_NAME} here (a student release): nothing to compare")
            continue
        problems = authoring.check_drift(home.solution, home.template)
        bad += bool(problems)
        print(f"{home.name}: " + ("template up to date" if not problems else "DRIFT\n  " + "\n  ".join(problems)))
    return 1 if bad else 0


#: ``course.py grade <command>``: the function that parses the rest of the command line and runs it.
COMMANDS = {"grade": _grade_one, "bulk": _grade_bulk, "merge": _merge, "make-template": _make_template,
            "check-drift": _check_drift}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.split("\n\n")[0] + "\n\n" + USAGE)
        return 0 if argv else 2
    command = argv[0] if argv[0] in COMMANDS and argv[0] != "grade" else "grade"
    rest = argv[1:] if command != "grade" else argv
    p = argparse.ArgumentParser(prog=f"course.py grade{'' if command == 'grade' else ' ' + command}", usage=USAGE)
    try:
        return COMMANDS[command](p, rest)
    except (ValueError, RuntimeError) as exc:  # unknown homework, empty folder, invalid solution, no sandbox
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
