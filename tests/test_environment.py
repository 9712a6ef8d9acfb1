"""The environment files agree, and the installed environment does not crash the kernel.

The rules (pyproject.toml's comment says why):
* requirements/lock.txt pins every package exactly: the tested set that course.py installs;
* pyproject.toml states ranges that admit both the lock and the Kaggle-like stack
  (requirements/kaggle.txt), each lower bound the oldest tested version, no upper bound without a
  reason beside it, and a core that names no second build of a preinstalled package;
* environment.yml lists each pyproject package at its lock version;
* course.py rebuilds its venv when pyproject.toml or the lock change.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from course_utils.bootstrap import lock_versions

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
KAGGLE = ROOT / "requirements" / "kaggle.txt"

#: The same software under the name a ready-made environment installs it (course name -> theirs).
OTHER_BUILDS = {"tensorflow-cpu": "tensorflow", "opencv-python-headless": "opencv-python", "dlib-bin": "dlib"}
#: Distributions that install a module the ready-made stacks already have under another name.
SECOND_BUILDS = {"tensorflow", "tensorflow-cpu", "opencv-python", "opencv-python-headless",
                 "opencv-contrib-python", "opencv-contrib-python-headless", "dlib", "dlib-bin"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s#;]+)", line)
        if m:
            out[_norm(m.group(1))] = m.group(2)
    return out


def _requirement_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements_here(*groups: str) -> list[Requirement]:
    """:func:`requirements` whose markers hold on this interpreter and platform (tests/test_lock_platforms.py
    checks every supported one)."""
    return [r for r in requirements(*groups) if r.marker is None or r.marker.evaluate()]


def requirements(*groups: str) -> list[Requirement]:
    """pyproject's requirements: ``"core"`` and/or extras by name (all of them by default)."""
    meta = project()
    groups = groups or ("core", *meta["optional-dependencies"])
    out = []
    for group in groups:
        out += [Requirement(d) for d in (meta["dependencies"] if group == "core" else meta["optional-dependencies"][group])]
    return out


def lock_pins(environment: dict[str, str] | None = None) -> dict[str, str]:
    """The lock's pins for this interpreter and platform, or for ``environment`` (marker values)."""
    return lock_versions(LOCK, environment)


def kaggle_pins() -> dict[str, str]:
    return _pins(_requirement_lines(KAGGLE))


def environment_yml_pins() -> dict[str, str]:
    lines = [ln.split("#")[0].strip().lstrip("- ").strip() for ln in (ROOT / "environment.yml").read_text().splitlines()]
    return _pins(lines)


def test_the_lock_and_the_kaggle_stack_pin_every_line_exactly():
    """name==version, in the lock with an optional marker saying where it applies; a package twice only
    under markers that never hold together (tests/test_lock_platforms.py evaluates them per target)."""
    for path, marker in ((LOCK, r"(\s*;\s*\S.*)?"), (KAGGLE, "")):
        loose = [ln for ln in _requirement_lines(path)
                 if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[^\s=<>!~;]+" + marker, ln)]
        assert loose == [], f"{path.name}: every line must be name==version"
    twice = {}
    for req in map(Requirement, _requirement_lines(LOCK)):
        twice.setdefault(_norm(req.name), []).append(req.marker)
    assert all(None not in markers for markers in twice.values() if len(markers) > 1), \
        "a package listed twice in the lock, once without a marker"
    assert "triton" not in twice, "triton must stay out of the environment (kernel crash)"


def test_pyproject_ranges_admit_the_lock():
    lock = lock_pins()
    outside = {str(r): lock.get(_norm(r.name)) for r in requirements_here()
               if _norm(r.name) not in lock or not r.specifier.contains(lock[_norm(r.name)], prereleases=True)}
    assert outside == {}, "requirement -> locked version it does not admit (or missing from the lock)"


def test_pyproject_ranges_admit_the_kaggle_stack():
    kaggle = kaggle_pins()
    checked, outside = 0, {}
    for r in requirements("core", "stack"):
        name = OTHER_BUILDS.get(_norm(r.name), _norm(r.name))
        if name in kaggle:
            checked += 1
            if not r.specifier.contains(kaggle[name]):
                outside[str(r)] = kaggle[name]
    assert outside == {}
    assert checked >= 15, f"only {checked} requirements compared with the Kaggle stack"


def test_lower_bounds_are_the_oldest_tested_versions():
    """Kaggle's version where the Kaggle-like stack has the package, else the lock's."""
    kaggle, lock = kaggle_pins(), lock_pins()
    wrong = {}
    for r in requirements():
        lower = [s.version for s in r.specifier if s.operator == ">="]
        name = _norm(r.name)
        tested = kaggle.get(OTHER_BUILDS.get(name, name), lock.get(name))
        if lower != [tested]:
            wrong[str(r)] = tested
    assert wrong == {}, "requirement -> the oldest tested version its lower bound should be"


def test_no_upper_bound_without_a_reason_beside_it():
    """An upper bound or an excluded release keeps students from fixes: each needs a comment."""
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    declared = {str(r) for r in requirements()}
    unexplained = []
    for i, line in enumerate(lines):
        m = re.match(r'\s*"([^"]+)",', line)
        req = Requirement(m.group(1)) if m and re.match(r"[A-Za-z0-9_.\-]+\s*[<>=!~;]", m.group(1)) else None
        if req is None or str(req) not in declared:  # not a requirement (a pytest marker's text, ...)
            continue
        if any(spec.operator in ("<", "<=", "!=", "==", "===", "~=") for spec in req.specifier):
            if "#" not in line and not lines[i - 1].lstrip().startswith("#"):
                unexplained.append(m.group(1))
    assert unexplained == []
    assert any("<5" in str(r.specifier) for r in requirements("stack")), "the check looked at no bound"


def test_the_core_names_no_second_build_of_a_preinstalled_package():
    core = {_norm(r.name) for r in requirements("core")}
    assert core & SECOND_BUILDS == set()
    assert {"torch", "keras", "tensorflow-cpu"} & core == set(), "the ready-made environment's own stay"
    stack = {_norm(r.name) for r in requirements("stack")}
    assert {"tensorflow-cpu", "opencv-python-headless", "torch", "torchvision", "keras", "dlib-bin"} <= stack


def test_environment_yml_lists_every_pyproject_package_at_its_locked_version():
    """environment.yml is Python 3.11 on Linux x86-64 (its `python=3.11`); a macOS-only package appears
    with its marker, at the version the lock has for macOS."""
    script = _course_script()
    linux = lock_pins(script.marker_environment("3.11.7", "Linux x86-64"))
    mac = lock_pins(script.marker_environment("3.11.7", "macOS on Apple Silicon"))
    assert "python=3.11" in (ROOT / "environment.yml").read_text()
    assert environment_yml_pins() == {_norm(r.name): linux.get(_norm(r.name), mac.get(_norm(r.name)))
                                      for r in requirements()}


def test_installed_versions_match_the_lock():
    from importlib.metadata import PackageNotFoundError, version

    wrong = {}
    for r in requirements_here():
        name = _norm(r.name)
        try:
            got = version(name)
        except PackageNotFoundError:
            got = None
        if got is None or Version(got) != Version(lock_pins()[name]):
            wrong[name] = (lock_pins()[name], got)
    assert wrong == {}, "run `python3 course.py setup` to update the environment"


# ------------------------------------------------------------------------------ course.py


def _course_script():
    """course.py as a fresh module."""
    spec = importlib.util.spec_from_file_location("course_script", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def course(tmp_path, monkeypatch):
    """course.py as a module, looking at copies of pyproject.toml and the lock in tmp_path."""
    module = _course_script()
    (tmp_path / "requirements").mkdir()
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    (tmp_path / "requirements" / "lock.txt").write_bytes(LOCK.read_bytes())
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "LOCK", tmp_path / "requirements" / "lock.txt")
    monkeypatch.setenv("COURSE_VENV", str(tmp_path / "venv"))
    return module


@pytest.mark.parametrize("changed", ["pyproject.toml", "requirements/lock.txt"])
def test_the_venv_is_rebuilt_when_pyproject_or_the_lock_change(course, tmp_path, changed):
    before = course._fingerprint()
    assert course._fingerprint() == before
    with (tmp_path / changed).open("a") as f:
        f.write("\n# changed\n")
    assert course._fingerprint() != before


def test_the_own_venv_gets_the_locked_stack_and_other_interpreters_keep_theirs(course, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(course.subprocess, "run",
                        lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    course._pip_install(tmp_path / "venv" / "bin" / "python")
    installs = [c for c in calls if "install" in c and "--upgrade" not in c]
    assert installs == [[str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "install",
                         "-c", str(tmp_path / "requirements" / "lock.txt"), "-e", f"{tmp_path}[stack,test]"]]
    assert any(c[3:5] == ["uninstall", "-y"] and "triton" in c for c in calls)
    calls.clear()
    course._pip_install("/opt/conda/bin/python")  # setup --here: Kaggle, Colab, conda
    assert calls == [["/opt/conda/bin/python", "-m", "pip", "install", "-e", f"{tmp_path}[test]"]]


# ------------------------------------------------------------------------------ the kernel


@pytest.mark.slow
@pytest.mark.parametrize("first, second", [("tensorflow", "torchvision"), ("mtcnn", "facenet_pytorch")])
def test_importing_tensorflow_before_torch_does_not_crash(first, second):
    """The crashing order seen with torch's CUDA build + triton (ENVIRONMENT.md)."""
    proc = subprocess.run([sys.executable, "-c", f"import {first}, {second}; print('ok')"],
                          capture_output=True, text=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, f"exit {proc.returncode} (negative = killed by a signal): {proc.stderr[-1500:]}"
    assert proc.stdout.strip() == "ok"
