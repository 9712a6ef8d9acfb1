"""Running one graded notebook: ``pytest --nbval`` in a fresh folder, inside a sandbox.

:func:`run_nbval` runs ``pytest --nbval --nbval-current-env`` on the notebook, in a minimal
environment of its own, inside a sandbox (:mod:`.sandbox`) where there is one, with a per-cell
timeout, an overall timeout (everything the run started is killed) and a cap on the output a cell
may print.  This module is also the pytest plugin of that run
(``-p course_utils.tools.nbrun``: :func:`pytest_configure`), which makes a dead kernel fail its
cell at once.  nbval's per-cell verdicts are read from its junit report, with the line of each
failure a student can act on.
"""
from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from .. import homework as hw
from ..text import clip
from . import authoring
from . import sandbox as sbx
from . import verdict
from .untrusted import Untrusted, read_bytes

SANITIZE_FILE = authoring.HOMEWORK_DIR / "nbval_sanitize.cfg"
#: A cell may print this many characters; the rest is dropped (a megabyte flood cannot fill memory).
OUTPUT_CAP_CHARS = 200_000
#: Longest error text kept per check (gradebook and feedback).
ERROR_CHARS = 300
_ANSI = re.compile(r"(\x1b|#x1B)\[[0-9;]*[A-Za-z]")  # junit XML writes ESC as #x1B
_CELL_NUM = re.compile(r"Cell (\d+)$")
_FLOOD = f"printed more than {OUTPUT_CAP_CHARS:,} characters"
CRASH_CAUSES = "os._exit, a fatal signal, a segfault or running out of memory"
KERNEL_DIED = f"the kernel died while running this cell ({CRASH_CAUSES})"
NOT_RUN = "not run: the kernel had died in an earlier cell"


def pytest_configure(config) -> None:  # pragma: no cover - runs inside the grading subprocess
    """Make nbval notice a dead kernel at once and cap what a cell may print
    (:func:`course_utils.patches.nbval_fail_fast`: nbval has no option for either)."""
    if not getattr(config.option, "nbval", False):
        return
    from ..patches import nbval_fail_fast

    nbval_fail_fast(kernel_died=KERNEL_DIED, output_cap=OUTPUT_CAP_CHARS,
                    flood_error=f"{_FLOOD} (the rest was cut): print less")


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
    """The end of the run's log (the grader's own file, outside the run's folder)."""
    try:
        return _ANSI.sub("", read_bytes(path, chars, tail=True).decode("utf-8", "replace"))
    except OSError:
        return ""


#: nbval's report is read up to this size (a run could write gigabytes there).
MAX_REPORT_BYTES = 20_000_000


def _cell_results(junit: Path) -> dict[int, tuple[bool, str]]:
    """nbval's verdict per code cell: ``{code cell number: (passed, message)}``.  The report lies in the run's
    folder, so it is read as untrusted (:mod:`.untrusted`: no link, no FIFO, bounded)."""
    out: dict[int, tuple[bool, str]] = {}
    root = ET.fromstring(read_bytes(junit, MAX_REPORT_BYTES))
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
        line = re.sub(r"^[\w.\-]+: FAIL - ", "", line)
        m = re.match(r"computing your answer raised (NameError: name '[\w.]+' is not defined)", line)
        if m:  # the template's stub defines nothing (issue 28: stubs no longer raise)
            found = re.search(r" Hint( \d+ of \d+)?:", line)
            hint = line[found.start():] if found else ""
            return clip(f"not answered yet ({m.group(1)}).{hint}", ERROR_CHARS)
        return clip(line, ERROR_CHARS)
    if _FLOOD in text:
        return f"{_FLOOD}: print less (a few lines per cell)"
    if "kernel died" in text:
        return KERNEL_DIED
    if "Kernel dead" in text:
        return NOT_RUN
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
    return clip(errors[-1] if errors else (lines[-1] if lines else "failed"), ERROR_CHARS)


#: Environment variables a grading run inherits from the grader (numeric settings that the tests
#: vary; anything else is left out: the run gets a minimal environment of its own).
PASS_THROUGH = ("TF_ENABLE_ONEDNN_OPTS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "TZ", "COURSE_GRADE_TAG")


def subprocess_env(work: str, lib: str, marker: str = "") -> dict[str, str]:
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
        "COURSE_FACENET_DOWNLOAD": "0",                      # a grading run never downloads (the backend is dlib
                                                             # unless the grader's machine holds FaceNet's weights)
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "COURSE_DATA_DIR": f"{work}/data",                   # cu.setup() writes here, not in the repo
        "MPLCONFIGDIR": f"{work}/.config/matplotlib",
        "IPYTHONDIR": f"{work}/.config/ipython",
        "JUPYTER_RUNTIME_DIR": f"{work}/.config/jupyter",
        "XDG_CACHE_HOME": f"{work}/.cache",
        hw.RECORD_ENV: f"{work}/{verdict.RECORD_NAME}",      # what each check was given
    })
    return env


_RUNS = itertools.count()


#: Per grading thread: the CPUs its runs may use (set by bulk grading, one share of the machine per worker).
WORKER = threading.local()
#: A run whose processes together hold more memory than this is stopped (the per-process limits of
#: :class:`~course_utils.tools.sandbox.Limits` do not stop many processes of a few GiB each).
RUN_MEMORY_BYTES = 6 << 30
MEMORY_POLL_SECONDS = 0.5


def _run_memory(proc, uid: int | None) -> int:
    """Resident memory of a run: every process of the sandbox's user, else the process and its descendants."""
    import psutil

    total = 0
    try:
        if uid is not None:
            procs = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]
        else:
            parent = psutil.Process(proc.pid)
            procs = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_sandboxed(cmd: list[str], *, work: Path, lib: Path, sandbox: sbx.Sandbox, env: dict[str, str],
                  timeout: float, stdout, stderr) -> tuple[int, str]:
    """Run ``cmd`` in ``work`` (inside ``sandbox`` where it is isolated, with its limits) with ``env`` and a fresh
    run marker; return its exit status and '' or, when stopped, -9 and why: after ``timeout``, or when its
    processes together hold more than :data:`RUN_MEMORY_BYTES`.  In bulk grading it runs on its worker's CPUs
    only (:data:`WORKER`), so that a submission that burns CPU slows itself, not its classmates (issue 29); where
    cgroup v2 can be used (:class:`~course_utils.tools.sandbox.Cgroup`) a sandboxed run also gets a cgroup of its
    own (memory, processes, CPU).  Everything it started is killed when it ends."""
    marker = uuid.uuid4().hex
    env = {**env, RUN_MARKER: marker}
    cpus = getattr(WORKER, "cpus", None)
    uid, limits = None, None
    if sandbox.isolated:
        slot = next(_RUNS) % 1000
        cmd, uid, limits = sbx.wrap(cmd, sandbox, lib=lib, work=work, slot=slot), sbx.FIRST_UID + slot, sbx.Limits()
    group = sbx.Cgroup.create(RUN_MEMORY_BYTES, sbx.Limits().processes, len(cpus) if cpus else None) \
        if sandbox.isolated else None

    def preexec():
        if group is not None:
            group.enter()
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cpus)
        if limits is not None:
            limits.apply()

    proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            start_new_session=True, preexec_fn=preexec)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                return proc.wait(timeout=max(0.0, min(MEMORY_POLL_SECONDS, deadline - time.monotonic()))), ""
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() >= deadline:
                _kill_run(proc.pid, marker)
                proc.wait()
                return -9, f"the notebook did not finish within {timeout:g} s and was stopped"
            used = _run_memory(proc, uid)
            if used > RUN_MEMORY_BYTES:
                _kill_run(proc.pid, marker)
                proc.wait()
                return -9, (f"its processes together used more than {RUN_MEMORY_BYTES >> 30} GiB of memory "
                            f"({used / 2**30:.1f} GiB) and were stopped")
    finally:
        _kill_run(proc.pid, marker)  # nothing the submission started may outlive grading
        if group is not None:
            group.remove()


def run_nbval(notebook: Path, *, lib: Path, cell_timeout: float, timeout: float,
              sandbox: sbx.Sandbox) -> tuple[dict[int, tuple[bool, str]], str]:
    """Execute ``notebook`` under nbval in its folder, with ``lib`` as its library; return the
    per-cell results and the overall error ("" if pytest ran to the end).  Everything the run
    started is killed when it ends, or after ``timeout``."""
    work = notebook.parent
    # the log is the grader's: beside the run's folder, where the sandbox cannot write (issue 29)
    junit, log = work / ".junit.xml", work.parent / f"{work.name}.pytest.log"
    (work / "pytest.ini").write_text("[pytest]\n")  # keep the repository's config out
    inside_lib = sbx.LIB_MOUNT if sandbox.isolated else str(lib)
    inside_work = sbx.WORK_MOUNT if sandbox.isolated else str(work)
    cmd = [sys.executable, "-m", "pytest", notebook.name, "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", f"{inside_lib}/homework/{SANITIZE_FILE.name}",
           "--nbval-cell-timeout", str(cell_timeout), "-p", "no:cacheprovider", "-p", __name__,
           "-c", "pytest.ini", "--rootdir", ".", "--junitxml", junit.name, "-q", "--color=no"]
    env = subprocess_env(inside_work, inside_lib)
    with log.open("wb") as out:
        _, error = run_sandboxed(cmd, work=work, lib=lib, sandbox=sandbox, env=env, timeout=timeout, stdout=out,
                                 stderr=subprocess.STDOUT)
    if error:
        return {}, error
    try:
        return _cell_results(junit), ""
    except FileNotFoundError:
        return {}, "the grader could not run the notebook: " + clip(_tail(log, 600), 200)
    except Untrusted as exc:
        return {}, f"nbval's report was replaced by the notebook ({exc}): graded 0"
    except (ET.ParseError, OSError) as exc:
        return {}, f"the grader could not read nbval's report ({exc})"
