"""cu.setup(): platform detection, data folder choice, quiet logs; importing has no side effects."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import env as cenv


def test_local_by_default(tmp_path):
    assert cenv.detect_platform({}, kaggle_input=tmp_path / "absent") == "local"


def test_kaggle_is_detected_from_its_variables_not_from_a_folder(tmp_path):
    assert cenv.detect_platform({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, tmp_path / "absent") == "kaggle"
    (tmp_path / "input").mkdir()
    # a /kaggle/input folder alone (a shared machine, a leftover) is not Kaggle (issue 29)
    assert cenv.detect_platform({}, kaggle_input=tmp_path / "input") == "local"


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


def _run_python(code: str, **environ: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**env, **environ})


@pytest.mark.slow
@pytest.mark.parametrize("onednn", ["0", "1", None])
def test_setup_silences_tensorflow_start_up_lines(onednn):
    # oneDNN on (forced, or the default on CPUs with AVX-512 VNNI) made absl print two lines per
    # native library whatever TF_CPP_MIN_LOG_LEVEL said (issue 15).
    code = ("import course_utils as cu; cu.setup(verbose=False); import keras; import tensorflow as tf; "
            "print(float(keras.layers.Dense(2)(tf.ones((1, 3)))[0, 0]) is not None)")
    out = _run_python(code, **({} if onednn is None else {"TF_ENABLE_ONEDNN_OPTS": onednn}))
    assert out.stderr.strip() == "", out.stderr[-2000:]
    assert out.stdout.strip() == "True"


def test_submodules_resolve_on_first_access():
    # Lessons used cu.mask.*, cu.emotion.* and cu.detection.* without importing those modules.
    out = _run_python("import course_utils as cu; cu.mask.add_masks; cu.emotion.build_model; "
                      "cu.detection.expand_box; print(sorted(set(dir(cu)) & {'mask', 'emotion', 'datasets'}))")
    assert out.stdout.strip() == "['datasets', 'emotion', 'mask']"


def test_version_report_reads_metadata_without_importing():
    versions = cenv.package_versions()
    assert versions["torch"].startswith("2.") and versions["mtcnn"] == "1.0.0"
    assert Path(cenv.REPO_ROOT, "course_utils", "env.py").exists()


def test_printed_paths_do_not_carry_the_machine(tmp_path, monkeypatch, capsys):
    # Stored notebook outputs printed /<checkout>/data/cache (issue 15): paths in the repository
    # are printed relative to it, paths under home with ~.
    assert cenv.display_path(cenv.REPO_ROOT / "data" / "cache") == "data/cache"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cenv.display_path(tmp_path / ".cache" / "torch") == "~/.cache/torch"
    outside = Path("/proc/self")
    assert cenv.display_path(outside) == str(outside)
    monkeypatch.setenv("COURSE_DATA_DIR", str(cenv.REPO_ROOT / "data" / "cache"))
    cenv.setup()
    assert "| data: data/cache\n" in capsys.readouterr().out


def test_either_opencv_build_is_reported(monkeypatch):
    import importlib.metadata as md

    installed = {"opencv-python": "4.12.0.88", "tensorflow": "2.18.1"}

    def version(dist):
        if dist not in installed:
            raise md.PackageNotFoundError(dist)
        return installed[dist]

    monkeypatch.setattr(md, "version", version)
    got = cenv.package_versions({"cv2": "opencv-python-headless", "tensorflow": "tensorflow-cpu", "dlib": "dlib"})
    assert got == {"cv2": "4.12.0.88", "tensorflow": "2.18.1", "dlib": "not installed"}
