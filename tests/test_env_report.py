"""The environment report tells the truth: the triton warning only where the crashing import order
really crashes (checked in a subprocess, cached), GPU builds' start-up lines filtered like the CPU ones."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from course_utils import env, patches

ALL_THERE = object()


def _find_spec(missing=()):
    return lambda name: None if name in missing else ALL_THERE


class Runs:
    """A stand-in for subprocess.run: counts calls, answers with ``returncode``."""

    def __init__(self, returncode: int):
        self.returncode, self.calls = returncode, []

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        return subprocess.CompletedProcess(cmd, self.returncode, "", "")


def test_no_check_without_triton_tensorflow_and_torchvision(tmp_path):
    runs = Runs(-11)
    for missing in ("triton", "tensorflow", "torchvision"):
        assert env.import_order_crashes(tmp_path / "c.json", runs, _find_spec({missing})) is False
    assert runs.calls == []


def test_a_crash_in_the_subprocess_is_reported_and_cached(tmp_path, monkeypatch):
    cache = tmp_path / "c.json"
    runs = Runs(-11)  # SIGSEGV
    assert env.import_order_crashes(cache, runs, _find_spec()) is True
    assert runs.calls == [[sys.executable, "-c", "import tensorflow, torchvision"]]
    assert list(json.loads(cache.read_text()).values()) == [True]
    assert env.import_order_crashes(cache, Runs(0), _find_spec()) is True, "the cached answer"
    monkeypatch.setattr(env, "package_versions", lambda names: {"triton": "9.9.9"})
    other = Runs(0)
    assert env.import_order_crashes(cache, other, _find_spec()) is False, "other versions: checked again"
    assert len(other.calls) == 1 and len(json.loads(cache.read_text())) == 2


def test_an_import_error_is_not_a_crash(tmp_path):
    assert env.import_order_crashes(tmp_path / "c.json", Runs(1), _find_spec()) is False


def test_a_read_only_cache_still_answers(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert env.import_order_crashes(blocked / "sub" / "c.json", Runs(-11), _find_spec()) is True


def test_the_subprocess_sees_a_real_signal(tmp_path, monkeypatch):
    monkeypatch.setattr(env, "CRASHING_IMPORT", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert env.import_order_crashes(tmp_path / "a.json", None, _find_spec()) is True
    monkeypatch.setattr(env, "CRASHING_IMPORT", "import json")
    assert env.import_order_crashes(tmp_path / "b.json", None, _find_spec()) is False


def test_the_warning_appears_only_where_the_import_crashes(monkeypatch):
    monkeypatch.setattr(env, "import_order_crashes", lambda: False)
    assert env.check_environment() == []
    monkeypatch.setattr(env, "import_order_crashes", lambda: True)
    (problem,) = env.check_environment()
    assert "`import tensorflow, torchvision` crashes this Python" in problem and "pip uninstall -y triton" in problem


GPU_START_UP = [
    # TensorFlow 2.16+ (absl's format), as Kaggle's and Colab's GPU images print them
    "E0000 00:00:1733432617.150012      23 cuda_fft.cc:477] Unable to register cuFFT factory: Attempting to "
    "register factory for plugin cuFFT when one has already been registered",
    "E0000 00:00:1733432617.166490      23 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to "
    "register factory for plugin cuDNN when one has already been registered",
    "E0000 00:00:1733432617.171749      23 cuda_blas.cc:1418] Unable to register cuBLAS factory: Attempting to "
    "register factory for plugin cuBLAS when one has already been registered",
    # TensorFlow <= 2.15
    "2024-03-01 10:00:00.123456: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:9261] Unable to "
    "register cuDNN factory: Attempting to register factory for plugin cuDNN when one has already been registered",
    "2024-03-01 10:00:00.123456: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:607] Unable to "
    "register cuFFT factory: Attempting to register factory for plugin cuFFT when one has already been registered",
    "2024-03-01 10:00:00.123456: E external/local_xla/xla/stream_executor/cuda/cuda_blas.cc:1515] Unable to "
    "register cuBLAS factory: Attempting to register factory for plugin cuBLAS when one has already been registered",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
]


@pytest.mark.parametrize("line", GPU_START_UP)
def test_gpu_start_up_lines_are_filtered(line):
    kept = "a student's own message\n"
    assert patches.filter_start_up_noise(line + "\n" + kept) == kept
