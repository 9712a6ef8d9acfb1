"""Where am I running, and what does the course need to know about it?

``setup()`` is the first call of every notebook (introduced in lesson 01/02)::

    import course_utils as cu
    env = cu.setup()

It detects the platform (local, Kaggle, Colab), silences TensorFlow's start-up noise so that
notebook outputs stay comparable under nbval, seeds the random generators, picks the data
folder and prints the versions that matter.  Nothing here runs at import time.
"""
from __future__ import annotations

import importlib.metadata
import logging
import os
import platform as _platform
import random
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import config
from .config import REPO_ROOT  # where the repository lives; the library names it env.REPO_ROOT

#: The setting that overrides the data folder (see course_utils.config).
DATA_ENV_VAR = "COURSE_DATA_DIR"

KAGGLE_INPUT = Path("/kaggle/input")
KAGGLE_WORKING = Path("/kaggle/working")

#: Packages whose versions are printed by ``setup()`` (import name -> distribution name).
VERSION_PACKAGES = {
    "numpy": "numpy",
    "tensorflow": "tensorflow-cpu",
    "keras": "keras",
    "torch": "torch",
    "torchvision": "torchvision",
    "mtcnn": "mtcnn",
    "facenet_pytorch": "facenet-pytorch",
    "cv2": "opencv-python-headless",
}
#: Other distributions that install the same import name (the first one installed is reported).
ALTERNATIVE_DISTRIBUTIONS = {
    "tensorflow-cpu": ("tensorflow",),
    "opencv-python-headless": ("opencv-python", "opencv-contrib-python-headless", "opencv-contrib-python"),
}

@dataclass(frozen=True)
class Environment:
    """What ``setup()`` found.  ``data_dir`` is writable; ``input_dirs`` are read-only sources."""

    platform: str
    data_dir: Path
    repo_root: Path
    input_dirs: tuple[Path, ...] = field(default_factory=tuple)
    seed: int = 0

    @property
    def is_kaggle(self) -> bool:
        return self.platform == "kaggle"


def detect_platform(environ: dict | None = None, kaggle_input: Path | None = None) -> str:
    """Return ``"kaggle"``, ``"colab"`` or ``"local"``.

    Kaggle sets ``KAGGLE_KERNEL_RUN_TYPE`` (``Interactive`` or ``Batch``) and ``KAGGLE_URL_BASE`` in every kernel
    (Kaggle's own kagglehub tests the first: ``src/kagglehub/env.py``, ``is_in_kaggle_notebook``); Colab sets
    ``COLAB_RELEASE_TAG`` / ``COLAB_GPU``.  A ``/kaggle/input`` folder alone is not proof (issue 29: on a shared
    machine one user's folder would move every other kernel's data folder); it is still searched for datasets on
    Kaggle (:func:`input_dirs`).  ``kaggle_input`` is kept for callers that pass it.
    """
    env = os.environ if environ is None else environ
    if env.get("KAGGLE_KERNEL_RUN_TYPE") or env.get("KAGGLE_URL_BASE"):
        return "kaggle"
    if env.get("COLAB_RELEASE_TAG") or "COLAB_GPU" in env or "google.colab" in sys.modules:
        return "colab"
    return "local"


def choose_data_dir(platform: str, environ: dict | None = None,
                    kaggle_working: Path | None = None, repo_root: Path = REPO_ROOT) -> Path:
    """The writable folder for downloads and caches, in this order of preference:

    1. the ``COURSE_DATA_DIR`` environment variable,
    2. ``/kaggle/working/data`` on Kaggle (``/kaggle/input`` is read-only),
    3. ``data/cache`` inside the repository.
    """
    given = config.path(DATA_ENV_VAR, environ)
    if given is not None:
        return given
    if platform == "kaggle":
        return (KAGGLE_WORKING if kaggle_working is None else kaggle_working) / "data"
    return repo_root / "data" / "cache"


def input_dirs(platform: str, kaggle_input: Path | None = None) -> tuple[Path, ...]:
    """Read-only dataset folders to search before downloading (Kaggle's attached datasets)."""
    kaggle_input = KAGGLE_INPUT if kaggle_input is None else kaggle_input
    if platform == "kaggle" and kaggle_input.is_dir():
        return tuple(sorted(p for p in kaggle_input.iterdir() if p.is_dir()))
    return ()


def quiet_tensorflow() -> None:
    """Silence TensorFlow/absl start-up logging, whatever the CPU.  Call it before TensorFlow is
    imported to filter the native start-up lines (:func:`course_utils.patches.install_quiet_imports`,
    an import hook); later calls still quiet the Python loggers."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TF_ENABLE_ONEDNN_OPTS is left as the machine has it: on CPUs with AVX-512 VNNI TensorFlow
    # turns oneDNN on, elsewhere off, and the course's outputs are the same either way (the test
    # command runs the notebooks under both settings; see CONTRIBUTING).
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        from .patches import install_quiet_imports

        install_quiet_imports()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:  # absl is installed with TensorFlow; without it there is nothing to silence
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    # gast: TensorFlow's autograph builds ast nodes through it, and on Python 3.13 every tf.function traced
    # (mtcnn's stages) warns "Attribute.__init__ got an unexpected keyword argument '___pyct_anno'"
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(tensorflow|keras|jupyter_client|gast)")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(tensorflow|keras)")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy, and (if already imported) TensorFlow and PyTorch.

    String hashing is seeded when the interpreter starts, from ``$PYTHONHASHSEED``: setting it here
    could not change this process (``python course.py`` sets it for the commands it runs)."""
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def display_path(path: str | Path) -> str:
    """A path as printed in outputs that are stored in notebooks: relative to the repository
    when it lies inside it (``data/cache``), else with ``~`` for the home folder, else absolute.
    Stored outputs then read the same on every machine."""
    path = Path(path)
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        pass
    try:
        return "~/" + path.resolve().relative_to(Path.home().resolve()).as_posix()
    except (ValueError, RuntimeError):
        return str(path)


def package_versions(names: dict[str, str] | None = None) -> dict[str, str]:
    """Installed versions, read from package metadata (nothing is imported)."""
    out = {}
    for mod, dist in (names or VERSION_PACKAGES).items():
        out[mod] = "not installed"
        for candidate in (dist, *ALTERNATIVE_DISTRIBUTIONS.get(dist, ())):
            try:
                out[mod] = importlib.metadata.version(candidate)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return out


#: The import order that crashed with torch's CUDA build + triton beside TensorFlow (README, "Known pitfalls").
CRASHING_IMPORT = "import tensorflow, torchvision"


def _import_check_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "course_utils" / "import_order.json"


def import_order_crashes(cache: Path | None = None, run=None, find_spec=None) -> bool:
    """Whether ``import tensorflow, torchvision`` kills a fresh interpreter here (run once in a
    subprocess, ~10 s, then cached per interpreter and versions of TensorFlow, torch, torchvision
    and triton).  False when one of them is not installed: nothing to crash."""
    import importlib.util
    import json
    import subprocess

    find_spec = importlib.util.find_spec if find_spec is None else find_spec
    if any(find_spec(m) is None for m in ("triton", "tensorflow", "torchvision")):
        return False
    versions = package_versions({"tensorflow": "tensorflow-cpu", "torch": "torch", "torchvision": "torchvision",
                                 "triton": "triton"})
    key = json.dumps([sys.executable, versions], sort_keys=True)
    cache = _import_check_cache() if cache is None else cache
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return bool(known[key])
    run = subprocess.run if run is None else run
    proc = run([sys.executable, "-c", CRASHING_IMPORT], capture_output=True, text=True,
               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    crashes = proc.returncode < 0  # killed by a signal (SIGSEGV); an ImportError is another story
    known[key] = crashes
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1))
    except OSError:  # a read-only home: check again next time
        pass
    return crashes


def check_environment() -> list[str]:
    """Problems a student should fix, as readable sentences (empty when all is well)."""
    problems = []
    if sys.version_info < (3, 10):
        problems.append(f"Python {_platform.python_version()} is too old: use 3.10-3.13.")
    if import_order_crashes():
        problems.append(
            f"`{CRASHING_IMPORT}` crashes this Python (the 'triton' package of torch's CUDA build clashes "
            "with TensorFlow): import torchvision before tensorflow, or on a CPU machine run "
            "`pip uninstall -y triton`.")
    return problems


def setup(seed: int = 0, *, quiet: bool = True, verbose: bool = True) -> Environment:
    """Prepare a notebook: platform, quiet logs, seeds, data folder; print versions.

    Args:
        seed: seed for ``random``, NumPy, TensorFlow and PyTorch (those already imported).
        quiet: silence TensorFlow/absl logging (keeps nbval outputs stable).
        verbose: print the platform, data folder and package versions.

    Returns:
        The :class:`Environment` found.  ``env.data_dir`` exists afterwards.
    """
    if quiet:
        quiet_tensorflow()
    plat = detect_platform()
    data_dir = choose_data_dir(plat)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = Environment(platform=plat, data_dir=data_dir, repo_root=REPO_ROOT,
                      input_dirs=input_dirs(plat), seed=seed)
    seed_everything(seed)
    if verbose:
        versions = package_versions()
        print(f"platform: {plat} | python {_platform.python_version()} | data: {display_path(data_dir)}")
        print(" | ".join(f"{k} {v}" for k, v in versions.items()))
        for p in check_environment():
            print("WARNING:", p)
    return env
