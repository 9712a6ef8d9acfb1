"""course.py: the second pass under the other numeric setting (issue 15); which Pythons and platforms it
installs on, and what it says otherwise or when an install fails (issue 26)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def course():
    spec = importlib.util.spec_from_file_location("course_command", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_onednn_state_follows_the_variable(course):
    assert course.onednn_is_on(sys.executable, {"TF_ENABLE_ONEDNN_OPTS": "1"}) is True
    assert course.onednn_is_on(sys.executable, {"TF_ENABLE_ONEDNN_OPTS": "0"}) is False


@pytest.mark.slow
@pytest.mark.parametrize("now, then", [("0", "1"), ("1", "0")])
def test_second_pass_flips_onednn(course, monkeypatch, now, then):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", now)
    numerics = course.other_numerics(sys.executable)
    assert numerics["TF_ENABLE_ONEDNN_OPTS"] == then and numerics["OMP_NUM_THREADS"] == "1"


def test_second_pass_runs_every_lesson_and_the_homework_grading(course):
    cmd = course.test_command("python", [], tests=course.SECOND_PASS_TESTS)
    lessons = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(lessons) == 6 and all(n in cmd for n in lessons)
    assert "tests" not in cmd and all((ROOT / t).is_file() and t in cmd for t in course.SECOND_PASS_TESTS)
    assert "--nbval" in cmd


# ------------------------------------------------------------------ which Pythons and platforms (issue 26)


@pytest.mark.parametrize("version", [(3, 10, 0), (3, 11, 2), (3, 12, 1), (3, 13, 0), (3, 13, 9)])
@pytest.mark.parametrize("system, machine", [("Linux", "x86_64"), ("Darwin", "arm64"), ("Windows", "AMD64")])
def test_every_supported_python_and_platform_is_accepted(course, version, system, machine):
    course.check_interpreter(version, "cpython", system, machine)  # raises otherwise


@pytest.mark.parametrize("version, says", [((3, 9, 18), "too old"), ((3, 14, 0), "too new"), ((3, 8, 0), "too old"),
                                           ((3, 15, 0), "too new")])
def test_other_pythons_are_told_what_to_install(course, version, says):
    with pytest.raises(course.SetupError) as err:
        course.check_interpreter(version, "cpython", "Linux", "x86_64")
    text = str(err.value)
    assert says in text and "3.10, 3.11, 3.12, 3.13" in text and "python3.12 course.py setup" in text


@pytest.mark.parametrize("implementation, system, machine, says", [
    ("pypy", "Linux", "x86_64", "CPython"), ("cpython", "Darwin", "x86_64", "macOS on Intel"),
    ("cpython", "Linux", "aarch64", "Linux x86-64, macOS on Apple Silicon, Windows x86-64")])
def test_other_interpreters_and_platforms_are_refused_with_a_way_out(course, implementation, system, machine, says):
    with pytest.raises(course.SetupError) as err:
        course.check_interpreter((3, 11, 7), implementation, system, machine)
    assert says in str(err.value) and ("Kaggle" in str(err.value))


def test_readme_names_exactly_the_supported_pythons_and_platforms(course):
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### Supported Pythons and platforms"):]
    table = table[:table.index("\n\n", table.index("|"))]
    rows = [r for r in table.splitlines() if r.startswith("| ") and "---" not in r][1:]
    pythons = [r.split("|")[1].strip() for r in rows]
    assert pythons == ["CPython {}.{}".format(*v) for v in course.PYTHONS]
    header = table.splitlines()[[i for i, r in enumerate(table.splitlines()) if r.startswith("| ")][0]]
    assert [h.strip() for h in header.split("|")[2:-1]] == list(course.PLATFORMS)
    assert all(("run in CI" in r) for r in rows if "3.11" in r.split("|")[1])


def _python(version: str) -> str | None:
    """A pyenv interpreter of that minor version, if this machine has one."""
    import glob

    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")))
    return found[-1] if found else None


@pytest.mark.parametrize("version", ["3.9"])
def test_an_unsupported_python_gets_one_clear_message(tmp_path, version):
    """What a Python 3.9 user sees: the reason and what to install, no traceback, nothing created."""
    python = _python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    proc = subprocess.run([python, str(ROOT / "course.py"), "setup"], capture_output=True, text=True,
                          env={**os.environ, "COURSE_VENV": str(tmp_path / "venv")}, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"Python {version}." in proc.stderr and "too old" in proc.stderr and "3.10, 3.11, 3.12, 3.13" in proc.stderr
    assert not (tmp_path / "venv").exists()


def test_a_failed_install_ends_with_one_message_not_a_traceback(tmp_path):
    """pip that cannot reach an index: course.py says what failed, where, and what to do."""
    env = {**os.environ, "COURSE_VENV": str(tmp_path / "venv"), "PIP_CONFIG_FILE": os.devnull,
           "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("COURSE_PYTHON", None)
    proc = subprocess.run([sys.executable, str(ROOT / "course.py"), "setup"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 1, proc.stdout[-1000:] + proc.stderr[-1000:]
    assert "Traceback" not in proc.stderr and "CalledProcessError" not in proc.stderr
    message = proc.stderr[proc.stderr.index("[course] "):]
    assert "Installing the course's packages (requirements/lock.txt) failed on CPython" in message
    assert "What to do" in message and "GB are free" in message and "delete" in message


def test_the_cpu_torch_route_installs_torch_from_pytorchs_cpu_index_at_the_locked_versions(course, tmp_path,
                                                                                        monkeypatch):
    calls = []
    monkeypatch.setattr(course.subprocess, "run",
                        lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    monkeypatch.setenv("COURSE_VENV", str(tmp_path / "venv"))
    course._pip_install(tmp_path / "venv" / "bin" / "python", torch_cpu=True)
    torch = [c for c in calls if "torch" in c and "install" in c]
    assert torch == [[str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-c",
                      str(course.LOCK), "--index-url", course.TORCH_CPU_INDEX, "torch", "torchvision"]]
    rest = calls.index(torch[0]) + 1
    assert "-e" in calls[rest] and "-c" in calls[rest], "then the rest, with the same lock"


def test_the_lock_command_resolves_for_every_supported_python(course, tmp_path):
    cmd = course.lock_command("python", tmp_path / "lock.txt")
    assert cmd[:5] == ["python", "-m", "uv", "pip", "compile"] and "--universal" in cmd
    assert cmd[cmd.index("--python-version") + 1] == "{}.{}".format(*course.PYTHONS[0])
    assert cmd[cmd.index("--no-emit-package") + 1] == "triton" and "--upgrade" not in cmd
    assert "--upgrade" in course.lock_command("python", tmp_path / "lock.txt", upgrade=True)


def test_the_first_pass_checks_the_homework_solutions_stored_outputs(course):
    """A solution's stored outputs once said "a face found in 78 of 80" while its code gave 80: nbval now runs
    every solution in the first pass, as it runs the lessons."""
    cmd = course.test_command("python", [], solutions=True)
    solutions = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "homework").glob("*/solution.ipynb"))
    assert len(solutions) == 4 and all(s in cmd for s in solutions)
    assert not any("solution.ipynb" in a for a in course.test_command("python", [], tests=course.SECOND_PASS_TESTS))
