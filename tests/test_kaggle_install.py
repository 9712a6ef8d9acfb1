"""Installing the course into a Kaggle-like environment replaces none of its packages.

A dry run of pip's resolver over the Kaggle-like stack (requirements/kaggle.txt, exact) together with
the course's core requirements (pyproject.toml): it asks PyPI for package metadata only (no wheel is
downloaded), so it fits CI's time.  ``scripts/kaggle_check.py`` builds that environment for real and
runs every lesson in it.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KAGGLE = ROOT / "requirements" / "kaggle.txt"

pytestmark = pytest.mark.network

#: Distributions that would put a second copy over a module Kaggle already has.
SECOND_BUILDS = {"tensorflow-cpu", "opencv-python-headless", "opencv-contrib-python",
                 "opencv-contrib-python-headless", "tensorflow-intel"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def kaggle_pins() -> dict[str, str]:
    out = {}
    for line in KAGGLE.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
        if m:
            out[_norm(m.group(1))] = m.group(2)
    return out


def _pypi_reachable() -> str | None:
    """None when PyPI answers, else why not."""
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10) as reply:
            return None if reply.status == 200 else f"PyPI answered HTTP {reply.status}"
    except (urllib.error.URLError, OSError) as exc:
        return f"PyPI is unreachable ({exc})"


@pytest.fixture(scope="module")
def resolution(tmp_path_factory) -> dict[str, str]:
    """name -> version that pip would install: the Kaggle-like stack plus the course's core."""
    if sys.version_info[:2] != (3, 11):
        pytest.skip(f"the Kaggle-like stack is for Python 3.11; this is {sys.version.split()[0]}")
    why = _pypi_reachable()
    if why:
        pytest.skip(why)
    report = tmp_path_factory.mktemp("pip") / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", str(report), "-r", str(KAGGLE), str(ROOT)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, ("the course's requirements do not resolve beside the Kaggle-like stack:\n"
                                  + proc.stderr[-3000:])
    items = json.loads(report.read_text())["install"]
    return {_norm(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


def test_the_kaggle_stack_keeps_its_versions_beside_the_course(resolution):
    changed = {name: (pinned, resolution.get(name)) for name, pinned in kaggle_pins().items()
               if resolution.get(name) != pinned}
    assert changed == {}, "preinstalled package -> (Kaggle's version, what the install would make it)"
    assert {"course-utils", "mtcnn", "facenet-pytorch", "pooch", "face-recognition-models"} <= set(resolution)


def test_no_second_build_of_tensorflow_or_opencv_is_installed(resolution):
    assert SECOND_BUILDS & set(resolution) == set()
    assert resolution["tensorflow"] == kaggle_pins()["tensorflow"]
    assert resolution["opencv-python"] == kaggle_pins()["opencv-python"]
