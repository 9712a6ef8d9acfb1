"""Grade homework notebooks with nbval against the reference outputs (issue 3).

    python3 course.py grade hw0_face_detection my_hw0.ipynb          # one notebook (self-check)
    python3 course.py grade bulk hw0_face_detection submissions/ --workers 2 --out gradebook.csv
    python3 course.py grade make-template hw0_face_detection          # regenerate the template
    python3 course.py grade check-drift                               # templates == solutions?

(``python3 course.py grade ARGS`` runs ``python -m course_utils.tools.grading ARGS``.)

How one submission is graded:

1. The submission is read (never written, never through a symbolic link).  Its *answer* cells
   (tagged ``solution``) are found by cell id, else by their order among the tagged cells, else
   by position.  A damaged notebook is graded 0 with the reason.
2. A graded notebook is rebuilt from the reference (the homework's solution, or its template):
   every cell comes from the reference except the answer cells' code, which comes from the
   submission.  Each check cell must print exactly ``qN: PASS``, its names read from the
   reference check cell's code (never from stored outputs).  Other cells lose their outputs
   (nbval then only requires that they do not raise).
3. It runs in a fresh folder with a read-only copy of the grader's :class:`Kit` (``course_utils``,
   sample data, models, sanitize file: read once per bulk run) under
   ``pytest --nbval --nbval-current-env``, in a minimal environment, inside a sandbox
   (:mod:`course_utils.tools.sandbox`) where there is one, with a per-cell timeout, an overall timeout
   (everything the run started is killed) and a cap on the output a cell may print.  A kernel
   that dies fails its cell at once.
4. Each check cell that nbval passes has printed ``PASS`` in the student's kernel.  It is a passed
   check only if the value it recorded also matches the reference, judged in the grader's own
   process (:mod:`course_utils.tools.verdict`: the reference values come from running the solution once,
   in the same sandbox); score = passed / total.  A run that changed its copy of the library, or
   (unsandboxed) the repository, scores 0 and is flagged.

Bulk grading runs several of these at once (one pytest process each), refuses to run without a
sandbox unless asked, and writes a gradebook CSV, one feedback file per student and a report,
all atomically.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import copy
import csv
import errno
import hashlib
import itertools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .. import homework as hw
from . import sandbox as sbx
from . import verdict

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
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))  # never a link's target
        with os.fdopen(fd, "rb") as f:
            if os.fstat(f.fileno()).st_size > 50_000_000 or not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise SubmissionError(f"{path.name} is over 50 MB or not a file: clear the outputs and submit again")
            text = f.read().decode("utf-8")
        nb = nbformat.reads(text, as_version=4)
    except SubmissionError:
        raise
    except OSError as exc:
        why = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise SubmissionError(f"cannot read {path.name}: {why}") from None
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"cannot read {path.name}: it is not UTF-8 text ({exc.reason})") from None
    except Exception as exc:  # nbformat raises JSON and validation errors of several kinds
        raise SubmissionError(f"{path.name} is not a valid notebook ({type(exc).__name__}: "
                              f"{_clip(str(exc), 120)}); open it in Jupyter and save it again") from None
    if not isinstance(nb.get("cells"), list):
        raise SubmissionError(f"{path.name} is not a valid notebook: it has no cells")
    return nb


def _answer_sources_checked(reference, submission) -> tuple[list[str | None], str]:
    """:func:`_answer_sources`, with any malformed field of the submission (a cell that is not
    an object, a ``source`` that is a number, metadata that is a list, ...) as a SubmissionError."""
    try:
        return _answer_sources(reference, submission)
    except hw.NotebookError as exc:
        raise SubmissionError(f"the notebook is damaged: {exc}") from None
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        raise SubmissionError(f"the notebook is damaged ({type(exc).__name__}: {_clip(str(exc), 100)}); "
                              "open it in Jupyter and save it again") from None


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
    sources, how = _answer_sources_checked(reference, submission)
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
# Loaded into the grading pytest process with ``-p course_utils.tools.grading``.


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


# ------------------------------------------------------------------------------ processes


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
    procs += [p for p in processes_with(RUN_MARKER, marker) if p not in procs]
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)


def processes_with(name: str, value: str) -> list:
    """The processes (``psutil.Process``) other than this one whose environment sets ``name`` to
    ``value``: what a grading run left behind, whatever it did to its parents."""
    import psutil

    found, me = [], os.getpid()
    for p in psutil.process_iter():
        try:
            if p.pid != me and p.environ().get(name) == value:
                found.append(p)
        except psutil.Error:  # exited meanwhile, or another user's process
            pass
    return found


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


#: Environment variables a grading run inherits from the grader (numeric settings that the tests
#: vary; anything else is left out: the run gets a minimal environment of its own).
PASS_THROUGH = ("TF_ENABLE_ONEDNN_OPTS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "TZ", "COURSE_GRADE_TAG")


def _subprocess_env(work: str, lib: str, marker: str) -> dict[str, str]:
    """The whole environment of a grading run: no HOME, PATH or secrets of the grader's."""
    env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
    env.update({
        RUN_MARKER: marker,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "HOME": f"{work}/.home",
        "PYTHONPATH": lib,                                   # the grader's copy of course_utils
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "COURSE_DATA_DIR": f"{work}/data",                   # cu.setup() writes here, not in the repo
        "MPLCONFIGDIR": f"{work}/.config/matplotlib",
        "IPYTHONDIR": f"{work}/.config/ipython",
        "JUPYTER_RUNTIME_DIR": f"{work}/.config/jupyter",
        "XDG_CACHE_HOME": f"{work}/.cache",
        hw.RECORD_ENV: f"{work}/{verdict.RECORD_NAME}",      # what each check was given
    })
    return env


# ------------------------------------------------------------------------------ the grading kit

_KIT_LOCK = threading.Lock()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kit_sources(home: hw.Homework) -> dict[str, Path]:
    """What a grading run may see, by its path under the run's ``lib`` folder: the course's
    library, its data (sample and real faces; not this machine's cache) and models, the sanitize
    file.  Never a notebook of ``homework/``."""
    root = Path(__file__).resolve().parents[2]
    files = {f"course_utils/{p.relative_to(root / 'course_utils')}": p
             for p in (root / "course_utils").rglob("*.py") if "__pycache__" not in p.parts}
    local = ("cache",)  # data/cache: downloads and conversions of this machine, not the course's
    files |= {str(p.relative_to(root)): p for p in (root / "data").rglob("*")
              if p.is_file() and not p.is_symlink() and p.relative_to(root / "data").parts[0] not in local}
    training = ("checkpoint.keras", "*.h5", "*.h5.json", "train*.log")  # by-products, as in .gitignore
    files |= {str(p.relative_to(root)): p for p in (root / "models").rglob("*")
              if p.is_file() and not p.is_symlink() and not any(p.match(t) for t in training)}
    files[f"homework/{SANITIZE_FILE.name}"] = SANITIZE_FILE
    return files


def _bytecode(sources: dict[str, bytes]) -> dict[str, bytes]:
    """Compiled ``__pycache__`` files for the kit's modules, checked against their source's hash
    (not its time stamp, which every copy changes): each run imports the library without
    compiling it again (seconds of CPU per kernel on a busy machine)."""
    import importlib.util
    import py_compile

    out = {}
    with tempfile.TemporaryDirectory(prefix="course-kit-") as tmp:
        for name, source in sources.items():
            src, pyc = Path(tmp) / name, Path(tmp) / importlib.util.cache_from_source(name)
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(source)
            try:
                py_compile.compile(str(src), cfile=str(pyc), doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
            except py_compile.PyCompileError:
                continue  # the run will report the syntax error itself
            out[str(Path(importlib.util.cache_from_source(name)))] = pyc.read_bytes()
    return out


@dataclass
class Kit:
    """Everything the gradings of one homework need, read once (before the first submission of a
    bulk run): the reference notebook, its check names and the files a run sees, with their
    hashes.  Later changes to the repository (by a submission, or anyone) do not reach the
    gradings that follow: each run gets a fresh copy of these bytes."""

    home: hw.Homework
    reference: object
    names: list[str]
    files: dict[str, bytes]
    originals: dict[str, Path]
    hashes: dict[str, str]
    blocks: list[str]            # solution code, kept out of every feedback
    seen: dict[str, str] = field(default_factory=dict)  # the originals' hashes when last looked at
    references: dict[str, dict] | None = None  # check name -> the solution's record (see verdict)
    reference_note: str = ""                   # why there are no reference values, if there are none
    _reference_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, home: hw.Homework) -> "Kit":
        import nbformat

        originals = _kit_sources(home) | {f"reference/{home.reference.name}": home.reference}
        data = {name: path.read_bytes() for name, path in originals.items()}
        reference = nbformat.reads(data[f"reference/{home.reference.name}"].decode("utf-8"), as_version=4)
        names = hw.expected_checks(reference)
        if not names:
            raise ValueError(f"{home.reference} has no check cells with a literal name (cu.check(\"q1\", ...))")
        blocks = [b for src in (hw.solution_answers(home) or {}).values() for b in hw.solution_blocks(src)]
        data.pop(f"reference/{home.reference.name}")
        data |= _bytecode({n: b for n, b in data.items() if n.startswith("course_utils/") and n.endswith(".py")})
        return cls(home, reference, names, data, originals, {n: _sha(b) for n, b in data.items()} | {
            f"reference/{home.reference.name}": _sha(home.reference.read_bytes())}, blocks)

    def write_lib(self, lib: Path) -> None:
        """A read-only copy of the kit's files in ``lib`` (the run's ``PYTHONPATH``)."""
        for name, data in self.files.items():
            dest = lib / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            dest.chmod(0o444)
        for folder in sorted((p for p in lib.rglob("*") if p.is_dir()), reverse=True):
            folder.chmod(0o555)
        lib.chmod(0o555)

    def changed_in(self, lib: Path) -> list[str]:
        """Files of a run's copy that differ from the kit (the run tampered with its library)."""
        bad = []
        for name in self.files:
            p = lib / name
            try:
                same = not p.is_symlink() and _sha(p.read_bytes()) == self.hashes[name]
            except OSError:
                same = False
            if not same:
                bad.append(name)
        extra = [str(p.relative_to(lib)) for p in lib.rglob("*.py") if str(p.relative_to(lib)) not in self.files]
        return bad + extra

    def changed_originals(self) -> list[str]:
        """The repository's files (library, reference) that changed since the last call (or
        since the kit was read): each change is reported once, to the grading it happened in."""
        bad = []
        with _KIT_LOCK:
            for name, path in self.originals.items():
                try:
                    now = _sha(path.read_bytes())
                except OSError:
                    now = "missing"
                if now != self.seen.setdefault(name, self.hashes[name]):
                    bad.append(str(path))
                    self.seen[name] = now
        return bad


    def reference_values(self, sandbox: sbx.Sandbox, *, cell_timeout: float, timeout: float) -> dict[str, dict] | None:
        """The reference values of the checks (:mod:`course_utils.tools.verdict`): the solution run
        once in a fresh folder like a submission, cached on disk by the hashes of everything it
        read and the numeric settings.  None without a solution (a student's copy) or when the
        solution does not pass here (``reference_note`` says why)."""
        with self._reference_lock:
            if self.references is not None or self.reference_note:
                return self.references
            if not self.home.has_solution:
                self.reference_note = ("no solution here (a student's copy): each check's PASS is the notebook's own "
                                       "word, not judged by the grader")
                return None
            settings = {k: os.environ.get(k, "") for k in PASS_THROUGH if k != "COURSE_GRADE_TAG"}
            key = _sha(json.dumps([sorted(self.hashes.items()), settings, sys.version]).encode())[:20]
            from ..download import default_data_dir

            cache = default_data_dir() / "grading" / f"{self.home.name}-{key}.json"
            try:
                self.references = json.loads(cache.read_text())
                return self.references
            except (OSError, ValueError):
                pass
            graded, _, _ = build_graded_notebook(self.reference, self.reference)
            cells, error, _, records, _ = _execute(self, graded, sandbox=sandbox, cell_timeout=cell_timeout,
                                                   timeout=timeout)
            refs, missing = verdict.reference_values(records, self.names)
            failed = [n for n, (ok, _) in cells.items() if not ok]
            if error or failed or missing:
                self.reference_note = (f"the solution did not pass here ({error or 'cells ' + str(failed)[:80]}; "
                                       f"no reference value for {missing}): checks are judged by the kernel's "
                                       "PASS lines only")
                return None
            self.references = refs
            try:
                atomic_write(cache, json.dumps(refs))
            except OSError:
                pass  # a read-only data folder: computed again next time
            return refs


def _copy_homework_files(home: hw.Homework, workdir: Path) -> None:
    """Data the homework needs (every file but its notebooks, README, links) into ``workdir``."""
    for p in home.path.iterdir():
        if (p.suffix == ".ipynb" or p.name.startswith(".") or p.is_symlink()
                or p.name in ("README.md", "__pycache__")):
            continue
        dest = workdir / p.name
        if p.is_dir():
            shutil.copytree(p, dest, symlinks=True, ignore=shutil.ignore_patterns("*.ipynb", ".*"))
        else:
            shutil.copy2(p, dest)


# ------------------------------------------------------------------------------ running

_RUNS = itertools.count()


def run_nbval(notebook: Path, *, lib: Path, cell_timeout: float, timeout: float,
              sandbox: sbx.Sandbox) -> tuple[dict[int, tuple[bool, str]], str]:
    """Execute ``notebook`` under nbval in its folder, with ``lib`` as its library; return the
    per-cell results and the overall error ("" if pytest ran to the end).  Everything the run
    started is killed when it ends, or after ``timeout``."""
    work = notebook.parent
    junit, log = work / ".junit.xml", work / ".pytest.log"
    (work / "pytest.ini").write_text("[pytest]\n")  # keep the repository's config out
    inside_lib = sbx.LIB_MOUNT if sandbox.isolated else str(lib)
    inside_work = sbx.WORK_MOUNT if sandbox.isolated else str(work)
    cmd = [sys.executable, "-m", "pytest", notebook.name, "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", f"{inside_lib}/homework/{SANITIZE_FILE.name}",
           "--nbval-cell-timeout", str(cell_timeout), "-p", "no:cacheprovider", "-p", "course_utils.tools.grading",
           "-c", "pytest.ini", "--rootdir", ".", "--junitxml", junit.name, "-q", "--color=no"]
    marker = uuid.uuid4().hex
    env = _subprocess_env(inside_work, inside_lib, marker)
    preexec = None
    if sandbox.isolated:
        cmd = sbx.wrap(cmd, sandbox, lib=lib, work=work, slot=next(_RUNS) % 1000)
        preexec = sbx.Limits().apply
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_run(proc.pid, marker)
            proc.wait()
            return {}, f"the notebook did not finish within {timeout:g} s and was stopped"
        finally:
            _kill_run(proc.pid, marker)  # nothing the submission started may outlive grading
    if not junit.exists() or junit.is_symlink():
        return {}, "the grader could not run the notebook: " + _clip(_tail(log, 600), 200)
    try:
        return _cell_results(junit), ""
    except ET.ParseError as exc:
        return {}, f"the grader could not read nbval's report ({exc})"


def grade_submission(homework: str | Path | hw.Homework | Kit, submission: str | Path, *,
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
        homework if isinstance(homework, hw.Homework) else hw.find_homework(homework))
    if isinstance(sandbox, str):
        sandbox = sbx.Sandbox("none", "not asked for") if sandbox == "none" else sbx.detect(sandbox)
    submission = Path(submission)
    result = GradeResult(student=student or _stem(submission.name), homework=kit.home.name,
                         checks={n: False for n in kit.names})
    if not sandbox.isolated:
        result.notes.append(sandbox.describe())
    try:
        sub = read_submission(submission)
        graded, notes, result.flags = build_graded_notebook(kit.reference, sub)
        result.notes += notes
    except SubmissionError as exc:
        result.error = str(exc)
    if not result.error:
        try:
            references = kit.reference_values(sandbox, cell_timeout=cell_timeout, timeout=notebook_timeout)
            cells, result.error, tampered, records, problems = _execute(
                kit, graded, sandbox=sandbox, cell_timeout=cell_timeout, timeout=notebook_timeout, keep=keep)
            _score_cells(result, graded, cells)
            result.notes += problems
            if references is None:
                result.notes.append(kit.reference_note)
            else:
                verdict.apply(result.checks, result.messages, result.flags, records, references)
            if tampered:
                _zero(result, f"changed the grader's copy of the course library during grading "
                              f"({', '.join(tampered[:3])})")
        except Exception as exc:  # a grader problem must not stop a bulk run
            result.error = f"the grader failed on this notebook ({type(exc).__name__}: {_clip(str(exc), 150)})"
    changed = kit.changed_originals()
    if changed and not sandbox.isolated:  # it could have been this notebook
        _zero(result, f"the course's files changed while this notebook was graded ({', '.join(changed[:3])}); "
                      "later gradings use the copy read before the first one")
    elif changed:  # the sandbox cannot reach them: someone else changed them
        result.notes.append(f"the course's files changed during grading, outside the sandbox "
                            f"({', '.join(changed[:3])}); grading used the copy read before")
    for name, ok in result.checks.items():
        if not ok and name not in result.messages:
            result.messages[name] = result.error or "failed"
    _scrub(result, kit)
    result.seconds = time.perf_counter() - started
    return result


def _execute(kit: Kit, graded, *, sandbox: sbx.Sandbox, cell_timeout: float, timeout: float,
             keep: Path | None = None):
    """Run ``graded`` in a fresh folder with a read-only copy of the kit; return nbval's per-cell
    results, the overall error, the kit files the run changed, the checks' records and what was
    wrong with them."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="course-grade-", ignore_cleanup_errors=True) as tmp:
        lib, work = Path(tmp) / "lib", Path(tmp) / "work"
        work.mkdir()
        os.chmod(tmp, 0o755)  # the sandbox's user reaches lib/ and work/ (its own)
        kit.write_lib(lib)
        _copy_homework_files(kit.home, work)
        path = work / GRADED_NAME
        nbformat.write(graded, str(path))
        cells, error = run_nbval(path, lib=lib, cell_timeout=cell_timeout, timeout=timeout, sandbox=sandbox)
        tampered = kit.changed_in(lib)
        records, problems = verdict.read_records(work / verdict.RECORD_NAME)
        if keep is not None:
            shutil.copytree(work, keep, dirs_exist_ok=True, symlinks=True)
        _make_removable(Path(tmp))
    return cells, error, tampered, records, problems


def _make_removable(folder: Path) -> None:
    """Undo the read-only modes of a run's folder so that it can be deleted."""
    for p in [folder, *folder.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            try:
                p.chmod(0o755)
            except OSError:
                pass


def _zero(result: GradeResult, why: str) -> None:
    """Grade ``result`` zero for tampering, and flag it for a human."""
    result.flags.append(why)
    result.error = result.error or why
    for name in result.checks:
        result.checks[name] = False
        result.messages[name] = why


def _secrets() -> dict[str, str]:
    """Paths of the grader's machine that feedback must not show, longest first."""
    found = {str(Path.home()): "<home>", sys.prefix: "<python>", sys.base_prefix: "<python>",
             str(Path(__file__).resolve().parents[2]): "<course>", tempfile.gettempdir(): "<tmp>"}
    for var in ("USER", "LOGNAME"):
        if len(os.environ.get(var, "")) > 2:
            found[os.environ[var]] = "<user>"
    return dict(sorted(((k, v) for k, v in found.items() if len(k) > 3), key=lambda kv: -len(kv[0])))


def _scrub_text(text: str, kit: Kit) -> str:
    for block in kit.blocks:
        if block in text:
            text = text.replace(block, "<solution code removed>")
    for line in {ln.strip() for b in kit.blocks for ln in b.splitlines() if len(ln.strip()) >= 12}:
        text = text.replace(line, "<solution code removed>")
    for secret, placeholder in _secrets().items():
        text = text.replace(secret, placeholder)
    return text


def _scrub(result: GradeResult, kit: Kit) -> None:
    """Keep solution code and the grader's paths and user name out of everything a student reads."""
    result.error = _scrub_text(result.error, kit)
    result.messages = {k: _scrub_text(v, kit) for k, v in result.messages.items()}
    for attr in ("answer_errors", "flags", "notes"):
        setattr(result, attr, [_scrub_text(t, kit) for t in getattr(result, attr)])


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
    lines += [f"Note: {n}" for n in result.notes if "missing" in n or "sandbox" in n]
    lines += [f"Flag for review: {f}" for f in result.flags]
    return "\n".join(lines)


def atomic_write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: a reader never
    sees half a file, and a symbolic link planted at ``path`` is replaced, never followed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_feedback(result: GradeResult, path: Path) -> Path:
    """A short Markdown feedback file for one student (written atomically)."""
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
    return atomic_write(path, "\n".join(parts))


def gradebook_columns(results: list[GradeResult]) -> list[str]:
    checks: list[str] = []
    for r in results:
        checks += [n for n in r.checks if n not in checks]
    return ["student", "homework", *checks, "passed", "total", "score", "seconds", "error", "flags"]


#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value) -> str:
    """``value`` for a CSV cell that no spreadsheet runs: text starting like a formula is
    prefixed with ``'`` (OWASP's advice); numbers are left alone."""
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_gradebook(results: list[GradeResult], path: Path) -> Path:
    """The gradebook CSV: one row per submission, 1/0 per check (written atomically)."""
    import io

    cols = gradebook_columns(results)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(cols)
    for r in sorted(results, key=lambda r: r.student):
        row = {"student": r.student, "homework": r.homework, "passed": r.passed, "total": r.total,
               "score": f"{r.score:.2f}", "seconds": f"{r.seconds:.1f}", "error": _clip(r.summary(), 200),
               "flags": "; ".join(r.flags)}
        row.update({n: int(ok) for n, ok in r.checks.items()})
        writer.writerow([csv_cell(row.get(c, "")) for c in cols])
    return atomic_write(path, buf.getvalue())


# ------------------------------------------------------------------------------ bulk grading


def _stem(name: str) -> str:
    """A submission's student name: the file name without its ``.ipynb`` (any case)."""
    return name[:-len(".ipynb")] if name.lower().endswith(".ipynb") else name


_COPY_MARKS = re.compile(r"(\s*\(\d+\)|[\s_-]*copy(\s*\d+)?|[\s_-]+v?\d+|[\s_-]+final)+$", re.IGNORECASE)


def student_key(name: str) -> str:
    """What two file names of the same student share: ``jdoe``, ``JDoe (1)``, ``jdoe-copy``,
    ``jdoe_v2`` and ``Copy of jdoe`` all give ``jdoe``."""
    key = re.sub(r"^copy of\s+", "", name.strip(), flags=re.IGNORECASE)
    return _COPY_MARKS.sub("", key).lower() or name.lower()


class BulkResults(list):
    """The results of a bulk run (sorted by student), with what the run did not grade."""

    skipped: list[str]
    duplicates: list[list[str]]
    sandbox: sbx.Sandbox


def find_submissions(folder: Path) -> tuple[list[Path], list[str]]:
    """The notebooks to grade in ``folder`` (``*.ipynb`` in any case, regular files only) and a
    line for each entry that is not graded, saying why."""
    paths, skipped = [], []
    for entry in sorted(folder.iterdir()):
        name, is_nb = entry.name, entry.name.lower().endswith(".ipynb")
        if entry.is_symlink():
            skipped.append(f"{name}: a symbolic link, not followed (copy the file itself into the folder)")
        elif entry.is_dir():
            inside = sum(1 for p in entry.rglob("*") if p.name.lower().endswith(".ipynb"))
            what = "a folder named like a notebook" if is_nb else "a folder"
            skipped.append(f"{name}/: {what}, not searched ({inside} notebook(s) inside; grade it on its own "
                           "or move them up)")
        elif not entry.is_file():
            skipped.append(f"{name}: not a regular file")
        elif is_nb:
            paths.append(entry)
        else:
            skipped.append(f"{name}: not a .ipynb file")
    return paths, skipped


def _duplicates(names: list[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(student_key(n), []).append(n)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def grade_folder(homework: str | Path | hw.Homework, folder: str | Path, *, workers: int = 2,
                 out: str | Path = "gradebook.csv", feedback_dir: str | Path | None = None,
                 cell_timeout: float = DEFAULT_CELL_TIMEOUT,
                 notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
                 sandbox: str = "auto", allow_unsandboxed: bool = False,
                 verbose: bool = True) -> BulkResults:
    """Grade every notebook in ``folder`` with ``workers`` notebooks at a time; write the
    gradebook CSV at ``out`` and one feedback file per student in ``feedback_dir`` (default:
    ``feedback/`` beside the gradebook), and ``report.txt`` beside the gradebook (what was not
    graded, likely duplicate students).  Returns the results sorted by student.

    Each submission runs in a sandbox (:mod:`course_utils.tools.sandbox`); without one this refuses
    to grade unless ``allow_unsandboxed``.  One submission never costs another: whatever
    happens while grading it becomes its own grade, with the reason.

    Raises:
        ValueError: bad arguments, no notebooks, the reference cannot be read.
        RuntimeError: no sandbox here and ``allow_unsandboxed`` is false.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    home = homework if isinstance(homework, hw.Homework) else hw.find_homework(homework)
    folder, out = Path(folder), Path(out)
    feedback_dir = Path(feedback_dir) if feedback_dir else out.parent / "feedback"
    box = sbx.Sandbox("none", "--unsandboxed was given") if sandbox == "none" else sbx.detect(sandbox)
    if not box.isolated and not allow_unsandboxed:
        raise RuntimeError(f"no sandbox to grade in: {box.why}. Bulk grading runs students' code; "
                           "pass --unsandboxed to run it as you, with your files and network")
    paths, skipped = find_submissions(folder)
    if not paths:
        raise ValueError(f"no .ipynb files in {folder}" + "".join(f"\n  skipped {s}" for s in skipped))
    kit = Kit.load(home)  # once: a submission that changes the repository cannot change later gradings
    results = BulkResults()
    results.skipped, results.sandbox = skipped, box
    results.duplicates = _duplicates([_stem(p.name) for p in paths])
    if verbose:
        print(f"grading {len(paths)} notebook(s) of {home.name}, {box.describe()}", flush=True)
        for line in skipped:
            print(f"  not graded: {line}", flush=True)
    started = time.perf_counter()

    def one(path: Path) -> GradeResult:
        try:
            return grade_submission(kit, path, cell_timeout=cell_timeout, notebook_timeout=notebook_timeout,
                                    sandbox=box)
        except BaseException as exc:  # noqa: BLE001 - whatever happens is this submission's grade
            r = GradeResult(_stem(path.name), home.name, {n: False for n in kit.names})
            r.error = f"the grader failed on this notebook ({type(exc).__name__}: {_clip(str(exc), 150)})"
            r.messages = {n: r.error for n in r.checks}
            _scrub(r, kit)
            return r

    # Each task waits on its own pytest process, so threads are enough to run them in parallel.
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
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
                      f"{_clip(r.summary(), 70)}", flush=True)
    total = time.perf_counter() - started
    for group in results.duplicates:
        for r in results:
            if r.student in group:
                r.flags.append("maybe the same student as " + ", ".join(n for n in group if n != r.student))
    results.sort(key=lambda r: r.student)
    write_gradebook(results, out)
    report = [f"{home.name}: {len(results)} graded, {box.describe()}",
              f"{total:.1f} s with {workers} worker(s), {total / len(results):.1f} s per submission", ""]
    report += ["Not graded:"] + [f"  {s}" for s in skipped] + [""] if skipped else []
    report += ["Likely the same student (review by hand):"] + [f"  {', '.join(g)}" for g in results.duplicates] \
        if results.duplicates else []
    atomic_write(out.parent / "report.txt", "\n".join(report) + "\n")
    if verbose:
        mean = sum(r.seconds for r in results) / len(results)
        print(f"graded {len(results)} submissions with {workers} worker(s) in {total:.1f} s "
              f"({total / len(results):.1f} s per submission; {mean:.1f} s each on average)\n"
              + "".join(f"likely the same student: {', '.join(g)}\n" for g in results.duplicates)
              + f"gradebook: {out}\nfeedback:  {feedback_dir}/\nreport:    {out.parent / 'report.txt'}")
    return results


# ------------------------------------------------------------------------------ command line

USAGE = """\
python3 course.py grade HOMEWORK SUBMISSION.ipynb [--cell-timeout S] [--timeout S] [--keep DIR] [--sandbox KIND]
python3 course.py grade bulk HOMEWORK FOLDER [--workers N] [--out gradebook.csv] [--feedback DIR]
                                             [--sandbox KIND] [--unsandboxed]
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


def _homework(text: str) -> hw.Homework:
    """A homework named on the command line: a folder (from ``$PWD``) or a name."""
    folder = _user_path(text)
    return hw.find_homework(folder if folder.is_dir() else text)


def _timeouts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    p.add_argument("--timeout", type=float, default=DEFAULT_NOTEBOOK_TIMEOUT, help="seconds per notebook")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "unshare", "none"), default="auto",
                   help="how to isolate each notebook (default: the best this machine offers)")


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
                                 notebook_timeout=a.timeout, keep=a.keep, sandbox=a.sandbox)
            print(format_report(r))
            return 0 if r.total and r.passed == r.total else 1
        if command == "bulk":
            p.add_argument("homework")
            p.add_argument("folder", type=_user_path)
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--out", type=_user_path, default="gradebook.csv")
            p.add_argument("--feedback", type=_user_path, default=None, help="default: feedback/ beside --out")
            p.add_argument("--unsandboxed", action="store_true",
                           help="grade without a sandbox where there is none (students' code runs as you)")
            _timeouts(p)
            a = p.parse_args(rest)
            grade_folder(_homework(a.homework), a.folder, workers=a.workers, out=a.out, feedback_dir=a.feedback,
                         cell_timeout=a.cell_timeout, notebook_timeout=a.timeout, sandbox=a.sandbox,
                         allow_unsandboxed=a.unsandboxed)
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
    except (ValueError, RuntimeError) as exc:  # unknown homework, empty folder, invalid solution, no sandbox
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
