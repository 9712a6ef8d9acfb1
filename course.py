#!/usr/bin/env python3
"""The course's two commands, and a few more. Needs only CPython 3.10-3.13 (standard library).

    python3 course.py run      # execute every lesson on CPU, write build/ (notebooks + HTML)
    python3 course.py test     # the whole test suite: unit tests and every lesson under nbval,
                               # then the lessons and homework grading under the other numeric
                               # setting (oneDNN flipped, one BLAS thread); extra pytest
                               # arguments run the first pass only
    python3 course.py test --quick   # the contributors' loop: the unit tests not marked ``slow``
                               # (no notebook, no network load), a few minutes; before a commit

Both create the virtual environment ``.venv`` on first use (about 4 minutes, ~7 GB on Linux:
TensorFlow and PyTorch's CUDA build; ``setup --torch-cpu`` takes PyTorch's CPU-only build instead)
and reuse it afterwards; it is reinstalled only when pyproject.toml or requirements/lock.txt change.
Other commands:

    python3 course.py setup    # only create / update the environment
    python3 course.py lab      # start JupyterLab in the environment
    python3 course.py grade    # grade homework submissions (see homework/README.md)
    python3 course.py release OUT  # write the student edition (no solutions) into the new folder OUT
    python3 course.py lock     # rewrite requirements/lock.txt for every supported Python and platform
                               # (``--check``: only say whether it is up to date; ``--upgrade``: newest)

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
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements" / "lock.txt"
STAMP_NAME = ".course-stamp"
TORCH_CPU_MARK = ".course-torch-cpu"
# Packages that the lock must never bring in. triton comes with torch's CUDA build, is not
# needed on CPU, and its native library crashes the process when TensorFlow is imported before
# torchvision (see README, "Known pitfalls").
REMOVE_AFTER_INSTALL = ["triton"]

#: The Pythons the course installs on: CPython 3.10 to 3.13, every patch release.  Decided by the
#: distributions that exist: requirements/lock.txt has a version of every package for each of them,
#: and tests/test_lock_platforms.py checks that each pin has a file for the oldest patch release of
#: each on every platform below.  3.9: no TensorFlow 2.21 or numpy 2.1+; 3.14: no TensorFlow wheels yet.
PYTHONS = ((3, 10), (3, 11), (3, 12), (3, 13))
#: The platforms the course installs on, by their name in the README's table: (platform.system(),
#: platform.machine(), sys.platform, os.name) there.  Linux needs glibc 2.28 or newer and macOS 14 or
#: newer (PyTorch 2.14's wheels: manylinux_2_28, macosx_14_0); tests/test_lock_platforms.py checks those.
PLATFORMS = {"Linux x86-64": ("Linux", "x86_64", "linux", "posix"),
             "macOS on Apple Silicon": ("Darwin", "arm64", "darwin", "posix"),
             "Windows x86-64": ("Windows", "AMD64", "win32", "nt")}
#: The oldest Python of the range, as uv's universal resolution needs it (``lock``).
LOCK_PYTHON = "{}.{}".format(*PYTHONS[0])
#: PyTorch's own index of CPU-only builds (``setup --torch-cpu``): the same versions as PyPI's, without
#: the 3 GB of CUDA libraries that PyPI's Linux and Windows wheels bring.  Not reachable from the
#: machines the course is developed on, so that route is untested there (README says so).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
LOCK_HEADER = """\
# The tested environment: every package of `python3 course.py setup`'s venv, exact, for every Python and
# platform the course supports (CPython 3.10-3.13 on Linux x86-64, macOS arm64, Windows x86-64). Where a
# version must differ, a marker after `;` says where each one applies (pip evaluates it on the machine that
# installs). course.py installs `-e .[stack,test]` with this file as pip constraints; pyproject.toml states
# ranges that admit these versions (tests/test_environment.py), and tests/test_lock_platforms.py checks that
# each pin has a distribution for each supported Python and platform.
# Written by `python3 course.py lock` (uv's universal resolution, keeping the versions already here; after a
# change to pyproject.toml, or with `--upgrade` for the newest versions); do not edit by hand.
"""


def marker_environment(python: str, platform_name: str) -> dict[str, str]:
    """The PEP 508 marker values of CPython ``python`` (``"3.11.0"``) on ``platform_name`` (a key of
    :data:`PLATFORMS`): what pip compares requirements/lock.txt's markers with on such a machine."""
    system, machine, sys_platform, os_name = PLATFORMS[platform_name]
    return {"python_full_version": python, "python_version": ".".join(python.split(".")[:2]),
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "sys_platform": sys_platform, "platform_system": system, "platform_machine": machine, "os_name": os_name}


class SetupError(Exception):
    """Setting up the environment failed in a way the user can act on: the message says how."""


def where() -> str:
    """This interpreter and platform in words, e.g. ``CPython 3.11.7 on Linux x86_64``."""
    return (f"{platform.python_implementation()} {platform.python_version()} on "
            f"{platform.system() or 'an unknown system'} {platform.machine()}")


def check_interpreter(version: tuple = tuple(sys.version_info[:3]), implementation: str = sys.implementation.name,
                      system: str = platform.system(), machine: str = platform.machine()) -> None:
    """Raise :class:`SetupError` unless this Python and platform are ones the course installs on."""
    supported = ", ".join("{}.{}".format(*v) for v in PYTHONS)
    install = ("Install one of them (python.org; `brew install python@3.12`; `sudo apt install python3.12-venv`; "
               "`pyenv install 3.12`; `conda create -n face python=3.12`) and run this script with it, e.g. "
               "`python3.12 course.py setup`. Or use Kaggle or Colab (README, \"Kaggle and Colab\").")
    if implementation != "cpython":
        raise SetupError(f"{implementation} found: the course needs CPython {supported} (TensorFlow and "
                         f"PyTorch publish wheels for CPython only). {install}")
    if tuple(version[:2]) not in PYTHONS:
        why = ("too old: numpy 2.1+, TensorFlow 2.21 and PyTorch 2.14 need 3.10 or newer"
               if tuple(version[:2]) < PYTHONS[0] else
               "too new: TensorFlow publishes no wheels for it yet")
        raise SetupError(f"Python {'.'.join(map(str, version))} found ({why}); the course's environment "
                         f"needs CPython {supported}. {install}")
    if (system, machine) not in [p[:2] for p in PLATFORMS.values()]:
        names = ", ".join(PLATFORMS)
        raise SetupError(f"{system} {machine} is not a platform that every package of the course publishes "
                         f"wheels for (supported: {names}; macOS on Intel has no PyTorch 2.3+). Use Kaggle or "
                         "Colab, or an environment you manage yourself: install what pyproject.toml lists and "
                         "run with COURSE_PYTHON=python (README, \"Other ways to install\").")


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


def _pip(cmd: list[str], what: str) -> None:
    """Run one pip command; a failure becomes a :class:`SetupError` that says what failed and what to do
    (pip has printed its own reason above it)."""
    try:
        code = subprocess.run(cmd).returncode
    except OSError as exc:
        code, reason = None, f"{cmd[0]} could not be started ({exc})"
    else:
        reason = f"pip exited with status {code}; its reason is printed above"
    if code == 0:
        return
    free = shutil.disk_usage(_venv_dir().parent).free / 1e9 if _venv_dir().parent.exists() else float("nan")
    raise SetupError(
        f"{what} failed on {where()}: {reason}.\n"
        "What to do:\n"
        "  * no connection to PyPI? Check the network or proxy (pip's `HTTPS_PROXY`), then run the same "
        "command again: what was downloaded is reused.\n"
        f"  * disk: the environment needs about 8 GB, and {free:.1f} GB are free under {_venv_dir().parent} "
        "(COURSE_VENV=/bigger/disk/venv puts it elsewhere).\n"
        "  * `ResolutionImpossible` or `No matching distribution`: a package has no file for this Python or "
        "platform; use one of README's supported Pythons (\"Supported Pythons and platforms\").\n"
        f"  * still failing: delete {_venv_dir()} and try again; if it persists, report it with the lines above.")


def _pip_install(python: Path | str, *, own_venv: bool | None = None, torch_cpu: bool = False) -> None:
    """Install the course into ``python``.

    The course's own venv (``own_venv``, by default: ``python`` lies in ``_venv_dir()``) gets the
    tested set: ``-e .[stack,test]`` with requirements/lock.txt as constraints (``torch_cpu``: torch
    and torchvision first, at the lock's versions, from PyTorch's CPU-only index).  Any other
    interpreter (``setup --here`` in conda, Kaggle, Colab) gets the core and test ranges only,
    without the lock: its own torch, TensorFlow, numpy and OpenCV stay as they are.  A failure
    raises :class:`SetupError`."""
    if own_venv is None:
        own_venv = Path(os.path.abspath(python)).is_relative_to(_venv_dir())
    pip = [str(python), "-m", "pip"]
    started = time.perf_counter()
    print(f"[course] installing the course environment into {python} ...", flush=True)
    if own_venv:
        _pip(pip + ["install", "--upgrade", "pip"], "Upgrading pip in the course's environment")
        if torch_cpu:
            _pip(pip + ["install", "--no-deps", "-c", str(LOCK), "--index-url", TORCH_CPU_INDEX, "torch",
                        "torchvision"], "Installing PyTorch's CPU-only build")
        _pip(pip + ["install", "-c", str(LOCK), "-e", f"{ROOT}[stack,test]"],
             "Installing the course's packages (requirements/lock.txt)")
        subprocess.run(pip + ["uninstall", "-y", *REMOVE_AFTER_INSTALL], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:  # triton stays: a GPU machine's torch.compile needs it (cu.setup() warns if it crashes)
        _pip(pip + ["install", "-e", f"{ROOT}[test]"], f"Installing the course into {python}")
    print(f"[course] environment ready in {time.perf_counter() - started:.0f} s", flush=True)


def _create_venv(vdir: Path) -> None:
    """``python -m venv`` with pip; Debian's and Ubuntu's Pythons need their venv package for it."""
    print(f"[course] creating a virtual environment in {vdir}", flush=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=False).create(vdir)
    except (subprocess.CalledProcessError, OSError) as exc:
        minor = "{}.{}".format(*sys.version_info[:2])
        raise SetupError(
            f"Creating the virtual environment {vdir} failed on {where()} ({exc}). On Debian and Ubuntu, "
            f"Python's venv module comes in its own package: `sudo apt install python{minor}-venv`, then "
            f"delete {vdir} and run this again. Elsewhere: check that {vdir.parent} is writable and has "
            "about 8 GB free, or set COURSE_VENV to another folder.") from None


def ensure_env(torch_cpu: bool = False) -> str:
    """Return the python to use, creating or updating .venv when needed (:class:`SetupError` when
    that fails or this interpreter cannot make it)."""
    if os.environ.get("COURSE_PYTHON"):
        return os.environ["COURSE_PYTHON"]
    vdir = _venv_dir()
    python = _venv_python(vdir)
    stamp = vdir / STAMP_NAME
    want = _fingerprint()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == want and not torch_cpu:
        return str(python)
    check_interpreter()
    started = time.perf_counter()
    if not python.exists():
        _create_venv(vdir)
    # the CPU-only torch, once chosen, is kept when the environment is updated
    torch_cpu = torch_cpu or (vdir / TORCH_CPU_MARK).exists()
    _pip_install(python, torch_cpu=torch_cpu)
    if torch_cpu:
        (vdir / TORCH_CPU_MARK).write_text("setup --torch-cpu\n")
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
    unknown = [a for a in args if a != "--torch-cpu"]
    if unknown:
        print(f"setup: unknown option {unknown[0]!r} (options: --here, --torch-cpu)", file=sys.stderr)
        return 2
    print(ensure_env(torch_cpu="--torch-cpu" in args))
    return 0


def lock_command(python: str, output: Path, upgrade: bool = False) -> list[str]:
    """uv's universal resolution of ``.[stack,test]`` for every supported Python and platform, into
    ``output``; the versions already in ``output`` are kept where they still fit."""
    return [python, "-m", "uv", "pip", "compile", str(ROOT / "pyproject.toml"), "--extra", "stack",
            "--extra", "test", "--universal", "--python-version", LOCK_PYTHON,
            *[a for name in REMOVE_AFTER_INSTALL for a in ("--no-emit-package", name)],
            "--no-header", "--no-annotate", "--quiet", "-o", str(output), *(["--upgrade"] if upgrade else [])]


def _lock_body(text: str) -> str:
    return "".join(line + "\n" for line in text.splitlines() if line.strip() and not line.startswith("#"))


def cmd_lock(args: list[str]) -> int:
    """Write requirements/lock.txt (``--check``: say whether it is what pyproject.toml resolves to)."""
    unknown = [a for a in args if a not in ("--check", "--upgrade")]
    if unknown:
        print(f"lock: unknown option {unknown[0]!r} (options: --check, --upgrade)", file=sys.stderr)
        return 2
    # The lock is written from pyproject.toml alone: an environment that already has uv does it, since a
    # dependency just added to pyproject.toml is not in the lock that building a new environment needs.
    existing = _venv_python(_venv_dir())
    python = str(existing) if existing.exists() and subprocess.call(
        [str(existing), "-c", "import uv"], stderr=subprocess.DEVNULL) == 0 else ensure_env()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lock.txt"
        out.write_text(_lock_body(LOCK.read_text()) if "--upgrade" not in args else "")
        if subprocess.call(lock_command(python, out, upgrade="--upgrade" in args), cwd=ROOT) != 0:
            print("[course] uv could not resolve the environment (its reason is above; it needs PyPI).",
                  file=sys.stderr)
            return 1
        new = _lock_body(out.read_text())
    if "--check" in args:
        if new == _lock_body(LOCK.read_text()):
            print("[course] requirements/lock.txt is up to date")
            return 0
        print("[course] requirements/lock.txt is out of date: run `python3 course.py lock`", file=sys.stderr)
        return 1
    LOCK.write_text(LOCK_HEADER + new)
    print(f"[course] wrote {LOCK.relative_to(ROOT)} ({len(new.splitlines())} pins)")
    return 0


def cmd_run(args: list[str]) -> int:
    python = ensure_env()
    return _run([python, "-m", "course_utils.tools.build", *args])


def test_command(python: str, extra: list[str], tests: list[str] | None = None,
                 solutions: bool = False) -> list[str]:
    """The README's test command: unit tests (``tests``, default the tests folder) plus every
    lesson notebook under nbval (``solutions``: and every homework solution, so that its stored
    outputs, which instructors and the release read, cannot go stale)."""
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if solutions:  # a student release has none
        notebooks += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "homework").glob("*/solution.ipynb"))
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


#: Settings of every test run: lessons 06 and hw3 do not download FaceNet's weights, so that their stored
#: outputs (dlib's: the weights cannot be had offline) are what nbval compares on any machine.
TEST_ENVIRONMENT = {"COURSE_FACENET_DOWNLOAD": "0"}


#: ``test --quick``: what a change most often breaks, in minutes: every test not marked ``slow`` (``slow``:
#: loads a network, runs a notebook or a grading run: pyproject.toml's marker), the slowest named at the end.
QUICK_ARGS = ["-m", "not slow", "--durations=10"]
#: What ``test --quick`` should take on the developers' 2-core machine (issue 31); over it, the command says so.
QUICK_BUDGET_S = 300


def cmd_test(args: list[str]) -> int:
    """The whole suite, then the notebooks and homework grading again under the other numeric
    setting (``other_numerics``).  With extra pytest arguments only the first pass runs; ``--quick``
    runs the unit tests that are not marked ``slow`` (no notebook) and says how long they took."""
    python = ensure_env()
    if "--quick" in args:
        started = time.perf_counter()
        rest = [a for a in args if a != "--quick"]
        workers = os.environ.get("COURSE_TEST_WORKERS", "2")
        cmd = [python, "-m", "pytest", "tests", *QUICK_ARGS, *rest]
        if workers not in ("0", "1"):
            cmd += ["-n", workers]
        code = _run(cmd, environ=TEST_ENVIRONMENT)
        took = time.perf_counter() - started
        print(f"[course] quick tests: {took:.0f} s (the full suite: python3 course.py test)")
        if took > QUICK_BUDGET_S:
            print(f"[course] over the quick loop's {QUICK_BUDGET_S // 60} minutes: mark the slowest tests above "
                  "@pytest.mark.slow if they load a network, run a notebook or a grading run (CONTRIBUTING)")
        return code
    first = _run(test_command(python, args, solutions=True), environ=TEST_ENVIRONMENT)
    if args:
        return first
    numerics = other_numerics(python)
    shown = " ".join(f"{k}={v}" for k, v in numerics.items())
    print(f"[course] second pass, the other numeric setting ({shown}): every lesson under nbval and "
          "the homework grading tests", flush=True)
    # (a student release leaves the homework grading tests out: then the lessons only)
    tests = [t for t in SECOND_PASS_TESTS if (ROOT / t).is_file()]
    second = _run(test_command(python, [], tests=tests), environ={**TEST_ENVIRONMENT, **numerics})
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
            "release": cmd_release, "lock": cmd_lock}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}; choose one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[name](rest)
    except SetupError as exc:
        print(f"\n[course] {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
