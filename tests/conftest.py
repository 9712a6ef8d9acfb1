"""Shared fixtures.  Nothing here needs the internet or ../shared/."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from course_utils.samples import load_sample

    return load_sample("astronaut")


@pytest.fixture(scope="session")
def group() -> np.ndarray:
    from course_utils.samples import load_sample

    return load_sample("group")


@pytest.fixture(scope="session")
def pypi_online() -> None:
    """For tests marked ``network`` that ask PyPI: skips them, saying why, when PyPI does not answer."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10) as reply:
            if reply.status != 200:
                pytest.skip(f"PyPI answered HTTP {reply.status}")
    except (urllib.error.URLError, OSError) as exc:
        pytest.skip(f"PyPI is unreachable ({exc})")


@pytest.fixture(autouse=True)
def _failed_checks_raise(monkeypatch):
    """The tests call check cells in this process and expect a failed check to raise CheckFailed, as it does
    while grading; a student's notebook prints it instead (issue 28: tests/test_soft_checks.py)."""
    from course_utils import homework

    monkeypatch.setattr(homework, "RAISE_ON_FAIL", True)
    monkeypatch.setattr(homework, "RESULTS", {})
    monkeypatch.setattr(homework, "FAILURES", {})  # each test starts at the first step of every hint
