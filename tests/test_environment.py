"""The environment files agree, and the installed environment does not crash the kernel."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s#;]+)", line)
        if m:
            out[_norm(m.group(1))] = m.group(2)
    return out


def pyproject_pins() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = list(meta["dependencies"]) + [d for group in meta["optional-dependencies"].values() for d in group]
    return _pins(deps)


def environment_yml_pins() -> dict[str, str]:
    lines = [ln.split("#")[0].strip().lstrip("- ").strip() for ln in (ROOT / "environment.yml").read_text().splitlines()]
    return _pins(lines)


def test_every_dependency_is_pinned_exactly():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    unpinned = [d for d in meta["dependencies"] if "==" not in d]
    assert unpinned == []


def test_environment_yml_agrees_with_pyproject():
    assert environment_yml_pins() == pyproject_pins()


def test_lock_file_agrees_with_pyproject():
    lock = _pins((ROOT / "requirements" / "lock.txt").read_text().splitlines())
    mismatched = {k: (v, lock.get(k)) for k, v in pyproject_pins().items() if lock.get(k) != v}
    assert mismatched == {}
    assert "triton" not in lock, "triton must stay out of the environment (kernel crash)"


def test_installed_versions_match_the_pins():
    from importlib.metadata import PackageNotFoundError, version

    wrong = {}
    for name, pinned in pyproject_pins().items():
        try:
            got = version(name)
        except PackageNotFoundError:
            got = None
        if got != pinned:
            wrong[name] = (pinned, got)
    assert wrong == {}, "run `python3 course.py setup` to update the environment"


@pytest.mark.slow
@pytest.mark.parametrize("first, second", [("tensorflow", "torchvision"), ("mtcnn", "facenet_pytorch")])
def test_importing_tensorflow_before_torch_does_not_crash(first, second):
    """The crashing order seen with torch's CUDA build + triton (ENVIRONMENT.md)."""
    proc = subprocess.run([sys.executable, "-c", f"import {first}, {second}; print('ok')"],
                          capture_output=True, text=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, f"exit {proc.returncode} (negative = killed by a signal): {proc.stderr[-1500:]}"
    assert proc.stdout.strip() == "ok"
