"""scripts/train_emotion_transfer.py (issue 32) end to end on a tiny FER2013-shaped folder: both phases, the
wall-clock budget, --resume from the checkpoint, and the result file.  The faces are noise: this tests the
script's plumbing, not what it learns."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils.datasets.fer2013 import FER2013_LABELS

pytestmark = pytest.mark.slow  # dlib's network, trained for a few steps
ROOT = Path(__file__).resolve().parents[1]


def _fer(root: Path, per_class: int = 10) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("test", 2)):
        for label in FER2013_LABELS:
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(0 if split == "test" and label == "disgust" else n):  # FER2013's test has no disgust
                Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(folder / f"{split}_{i}.png")
    return root


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "train_emotion_transfer.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=900)


def test_phases_budget_resume_and_result(tmp_path):
    data, out = _fer(tmp_path / "fer"), tmp_path / "out"
    common = ["--data", data, "--out", out, "--head-epochs", 1, "--epochs", 1, "--batch-size", 16, "--threads", 1]
    first = _run(*common, "--budget-min", 0)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "63 fit, 7 validation, 12 test faces" in first.stdout
    assert "budget of 0.0 min spent: stopping after head epoch 1 (--resume goes on)" in first.stdout
    assert (out / "checkpoint.pt").is_file() and not (out / "result.json").exists()
    second = _run(*common, "--resume")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed: phase head, epoch 1" in second.stdout and "after the head phase: test accuracy" in second.stdout
    rows = [json.loads(line) for line in second.stdout.splitlines() if line.startswith('{"phase"')]
    assert [(r["phase"], r["epoch"]) for r in rows] == [("tune", 1)]
    result = json.loads((out / "result.json").read_text())
    assert [(r["phase"], r["epoch"]) for r in result["log"]] == [("head", 1), ("tune", 1)]
    assert set(result["test_recall"]) == set(FER2013_LABELS) - {"disgust"}  # a recall for each class tested


def test_without_data_it_says_where_and_trains_nothing(tmp_path):
    run = _run("--data", tmp_path / "none", "--out", tmp_path / "out")
    assert run.returncode == 0 and "FER2013 folders not found" in run.stdout and not (tmp_path / "out").exists()
