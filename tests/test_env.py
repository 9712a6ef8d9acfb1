"""cu.setup(): platform detection, data folder choice, quiet logs; importing has no side effects."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import env as cenv


def test_local_by_default(tmp_path):
    assert cenv.detect_platform({}, kaggle_input=tmp_path / "absent") == "local"


def test_kaggle_is_detected_from_its_variable_or_its_input_folder(tmp_path):
    assert cenv.detect_platform({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, tmp_path / "absent") == "kaggle"
    (tmp_path / "input").mkdir()
    assert cenv.detect_platform({}, kaggle_input=tmp_path / "input") == "kaggle"


def test_colab_is_detected(tmp_path):
    assert cenv.detect_platform({"COLAB_RELEASE_TAG": "release-1"}, tmp_path / "absent") == "colab"


def test_data_dir_priority(tmp_path):
    working = tmp_path / "working"
    # 1. the environment variable wins everywhere
    assert cenv.choose_data_dir("kaggle", {"COURSE_DATA_DIR": str(tmp_path / "x")}, working) == tmp_path / "x"
    # 2. Kaggle's writable working folder
    assert cenv.choose_data_dir("kaggle", {}, working) == working / "data"
    # 3. the cache folder inside the repository
    assert cenv.choose_data_dir("local", {}, working, repo_root=tmp_path) == tmp_path / "data" / "cache"


def test_setup_on_simulated_kaggle(tmp_path, monkeypatch, capsys):
    kin, kwork = tmp_path / "input", tmp_path / "working"
    (kin / "fer2013").mkdir(parents=True)
    (kin / "lfw-dataset").mkdir()
    monkeypatch.setattr(cenv, "KAGGLE_INPUT", kin)
    monkeypatch.setattr(cenv, "KAGGLE_WORKING", kwork)
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    env = cenv.setup(seed=3)
    out = capsys.readouterr().out
    assert env.is_kaggle and env.data_dir == kwork / "data" and env.data_dir.is_dir()
    assert [p.name for p in env.input_dirs] == ["fer2013", "lfw-dataset"]
    assert out.startswith("platform: kaggle")
    assert "tensorflow" in out and "torch" in out


def test_input_dirs_lists_kaggle_datasets(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert [p.name for p in cenv.input_dirs("kaggle", tmp_path)] == ["a", "b"]
    assert cenv.input_dirs("local", tmp_path) == ()


def test_seeding_is_reproducible():
    import numpy as np

    cenv.seed_everything(5)
    a = np.random.rand(3)
    cenv.seed_everything(5)
    assert np.array_equal(a, np.random.rand(3))


def test_importing_course_utils_loads_nothing_heavy():
    code = ("import sys, course_utils as cu; cu.Face; cu.load_image; "
            "heavy = [m for m in ('tensorflow', 'torch', 'keras', 'mtcnn', 'cv2', 'matplotlib') if m in sys.modules]; "
            "print(','.join(heavy) or 'none')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "none"


def test_unknown_public_name_is_an_attribute_error():
    import course_utils as cu

    with pytest.raises(AttributeError, match="no attribute 'detect_face'"):
        cu.detect_face  # noqa: B018


@pytest.mark.slow
def test_setup_silences_tensorflow_start_up_lines():
    code = "import course_utils as cu; cu.setup(verbose=False); import tensorflow as tf; tf.constant(1) + 1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == "", out.stderr[-2000:]


def test_version_report_reads_metadata_without_importing():
    versions = cenv.package_versions()
    assert versions["torch"].startswith("2.") and versions["mtcnn"] == "1.0.0"
    assert Path(cenv.REPO_ROOT, "course_utils", "env.py").exists()
