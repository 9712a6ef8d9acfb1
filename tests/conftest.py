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
