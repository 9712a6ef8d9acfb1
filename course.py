#!/usr/bin/env python3
"""The course's two commands, and a few more. Needs only Python 3.10+ (standard library).

    python3 course.py run      # execute every lesson on CPU, write build/ (notebooks + HTML)
    python3 course.py test     # the whole test suite: unit tests and every lesson under nbval,
                               # then the lessons and homework grading under the other numeric
                               # setting (oneDNN flipped, one BLAS thread); extra pytest
                               # arguments run the first pass only

Both create the virtual environment ``.venv`` on first use (about 4 minutes, ~7 GB: TensorFlow
and PyTorch) and reuse it afterwards; it is reinstalled only when pyproject.toml or
requirements/lock.txt change.  Other commands:

    python3 course.py setup    # only create / update the environment
    python3 course.py lab      # start JupyterLab in the environment
    python3 course.py grade    # grade homework submissions (see homework/README.md)
    python3 course.py release OUT  # write the student edition (no solutions) into the new folder OUT

Environment variables (all the course's settings: README.md, "Settings (environment variables)",
listed by course_utils/config.py; this file reads its three itself, before the environment exists):
    COURSE_VENV    where the environment lives (default: .venv beside this file)
    COURSE_PYTHON  use this interpreter as it is, e.g. an activated conda env or Kaggle's
                   python; nothing is created or installed (run ``setup --here`` once for that).
    COURSE_TEST_WORKERS  pytest-xdist workers of ``test`` (default 2; 0 or 1: none)
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements" / "lock.txt"
STAMP_NAME = ".course-stamp"
# Packages that the lock must never bring in. triton comes with torch's CUDA build, is not
# needed on CPU, and its native library crashes the process when TensorFlow is imported before
# torchvision (see README, "Known pitfalls").
REMOVE_AFTER_INSTALL = ["triton"]


def _venv_dir() -> Path:
    return Path(os.environ.get("COURSE_VENV", ROOT / ".venv")).resolve()


def _venv_python(venv_dir: Path) -> Path:
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return venv_dir / sub


def _fingerprint() -> str:
    h = hashlib.sha256()
    for f in (ROOT / "pyproject.toml", LOCK):
        h.update(f.read_bytes())
    h.update(sys.version.split()[0].encode())
    return h.hexdigest()


def _pip_install(python: Path | str, *, own_venv: bool | None = None) -> None:
    """Install the course into ``python``.

    The course's own venv (``own_venv``, by default: ``python`` lies in ``_venv_dir()``) gets the
    tested set: ``-e .[stack,test]`` with requirements/lock.txt as constraints.  Any other
    interpreter (``setup --here`` in conda, Kaggle, Colab) gets the core and test ranges only,
    without the lock: its own torch, TensorFlow, numpy and OpenCV stay as they are."""
    if own_venv is None:
        own_venv = Path(os.path.abspath(python)).is_relative_to(_venv_dir())
    pip = [str(python), "-m", "pip"]
    started = time.perf_counter()
    print(f"[course] installing the course environment into {python} ...", flush=True)
    if own_venv:
        subprocess.run(pip + ["install", "--upgrade", "pip"], check=True)
        subprocess.run(pip + ["install", "-c", str(LOCK), "-e", f"{ROOT}[stack,test]"], check=True)
        subprocess.run(pip + ["uninstall", "-y", *REMOVE_AFTER_INSTALL], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:  # triton stays: a GPU machine's torch.compile needs it (cu.setup() warns if it crashes)
        subprocess.run(pip + ["install", "-e", f"{ROOT}[test]"], check=True)
    print(f"[course] environment ready in {time.perf_counter() - started:.0f} s", flush=True)


def ensure_env() -> str:
    """Return the python to use, creating or updating .venv when needed."""
    if os.environ.get("COURSE_PYTHON"):
        return os.environ["COURSE_PYTHON"]
    vdir = _venv_dir()
    python = _venv_python(vdir)
    stamp = vdir / STAMP_NAME
    want = _fingerprint()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return str(python)
    started = time.perf_counter()
    if not python.exists():
        if sys.version_info[:2] not in ((3, 10), (3, 11), (3, 12)):
            sys.exit(f"[course] Python {sys.version.split()[0]} found; the course needs 3.10-3.12 "
                     "(TensorFlow and PyTorch wheels). Run this script with such a python, "
                     "for example `python3.11 course.py ...`.")
        print(f"[course] creating a virtual environment in {vdir}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(vdir)
    _pip_install(python)
    stamp.write_text(want + "\n")
    print(f"[course] set-up took {time.perf_counter() - started:.0f} s", flush=True)
    return str(python)


def _run(cmd: list[str], cwd: Path | str = ROOT, environ: dict[str, str] | None = None) -> int:
    env = {**os.environ, **(environ or {})}
    env.setdefault("PYTHONHASHSEED", "0")
    return subprocess.call(cmd, cwd=cwd, env=env)


def cmd_setup(args: list[str]) -> int:
    if args[:1] == ["--here"]:
        # Install into the interpreter running this script (conda env, Kaggle, ...).
        _pip_install(sys.executable)
        return 0
    print(ensure_env())
    return 0


def cmd_run(args: list[str]) -> int:
    python = ensure_env()
    return _run([python, "-m", "course_utils.tools.build", *args])


def test_command(python: str, extra: list[str], tests: list[str] | None = None) -> list[str]:
    """The README's test command: unit tests (``tests``, default the tests folder) plus every
    lesson notebook under nbval."""
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    workers = os.environ.get("COURSE_TEST_WORKERS", "2")
    cmd = [python, "-m", "pytest", *(["tests"] if tests is None else tests), *notebooks,
           "--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
           "--nbval-cell-timeout", "600"]
    if workers not in ("0", "1"):
        cmd += ["-n", workers, "--dist", "loadscope"]
    return cmd + extra


#: Run a second time under the other numeric setting: the grading of every homework (hw0 in
#: test_grading, hw2 and hw3 in test_hw_lessons, hw1 in test_hw1_emotion), whose checks run
#: TensorFlow, PyTorch and NumPy code that could move with the CPU's kernels.
SECOND_PASS_TESTS = ["tests/test_grading.py", "tests/test_hw_lessons.py", "tests/test_hw1_emotion.py"]


def onednn_is_on(python: str, environ: dict[str, str] | None = None) -> bool:
    """Whether TensorFlow in ``python`` uses oneDNN's custom operations under ``environ``: on
    by default on CPUs with AVX-512 VNNI and the like, off elsewhere, or as TF_ENABLE_ONEDNN_OPTS
    says.  False when TensorFlow cannot say."""
    code = ("from tensorflow.python.util import _pywrap_util_port as port\n"
            "print('oneDNN', int(port.IsMklEnabled()))")
    env = {**os.environ, **(environ or {}), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    return "oneDNN 1" in out.stdout


def other_numerics(python: str) -> dict[str, str]:
    """The environment of the second pass: oneDNN flipped from what this machine does by default,
    and one BLAS/OpenMP thread per process (other reduction orders than the first pass's)."""
    flipped = "0" if onednn_is_on(python) else "1"
    return {"TF_ENABLE_ONEDNN_OPTS": flipped, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


def cmd_test(args: list[str]) -> int:
    """The whole suite, then the notebooks and homework grading again under the other numeric
    setting (``other_numerics``).  With extra pytest arguments only the first pass runs."""
    python = ensure_env()
    first = _run(test_command(python, args))
    if args:
        return first
    numerics = other_numerics(python)
    shown = " ".join(f"{k}={v}" for k, v in numerics.items())
    print(f"[course] second pass, the other numeric setting ({shown}): every lesson under nbval and "
          "the homework grading tests", flush=True)
    # (a student release leaves the homework grading tests out: then the lessons only)
    tests = [t for t in SECOND_PASS_TESTS if (ROOT / t).is_file()]
    second = _run(test_command(python, [], tests=tests), environ=numerics)
    return first or second


def cmd_lab(args: list[str]) -> int:
    python = ensure_env()
    return _run([python, "-m", "jupyter", "lab", "--notebook-dir", str(ROOT), *args])


def cmd_grade(args: list[str]) -> int:
    python = ensure_env()
    # relative paths of submissions are the user's: run from where the command was typed
    return _run([python, "-m", "course_utils.tools.grading", *args], cwd=os.getcwd())


def cmd_release(args: list[str]) -> int:
    python = ensure_env()
    # OUT is the user's path: run from where the command was typed
    return _run([python, "-m", "course_utils.tools.release", *args], cwd=os.getcwd())


COMMANDS = {"setup": cmd_setup, "run": cmd_run, "test": cmd_test, "lab": cmd_lab, "grade": cmd_grade,
            "release": cmd_release}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}; choose one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    return COMMANDS[name](rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
