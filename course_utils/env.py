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

#: Environment variable that overrides the data folder.
DATA_ENV_VAR = "COURSE_DATA_DIR"
#: Where the repository lives (the folder that holds ``course_utils/``).
REPO_ROOT = Path(__file__).resolve().parent.parent

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

PLATFORMS = ("local", "kaggle", "colab")


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

    @property
    def is_colab(self) -> bool:
        return self.platform == "colab"


def detect_platform(environ: dict | None = None, kaggle_input: Path | None = None) -> str:
    """Return ``"kaggle"``, ``"colab"`` or ``"local"``.

    Kaggle sets ``KAGGLE_KERNEL_RUN_TYPE`` (``Interactive`` or ``Batch``) and mounts
    ``/kaggle/input``; Colab sets ``COLAB_RELEASE_TAG`` / ``COLAB_GPU``.
    """
    env = os.environ if environ is None else environ
    kaggle_input = KAGGLE_INPUT if kaggle_input is None else kaggle_input
    if env.get("KAGGLE_KERNEL_RUN_TYPE") or env.get("KAGGLE_URL_BASE") or kaggle_input.is_dir():
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
    env = os.environ if environ is None else environ
    if env.get(DATA_ENV_VAR):
        return Path(env[DATA_ENV_VAR]).expanduser()
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
    """Silence TensorFlow/absl start-up logging.  Must run before TensorFlow is imported to
    silence the C++ lines; later calls still quiet the Python loggers."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # (TF_ENABLE_ONEDNN_OPTS stays on: its start-up notice is an INFO line that the level above
    # hides, and turning oneDNN off made CPU training steps noticeably slower; see CONTRIBUTING.)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:  # absl is installed with TensorFlow; without it there is nothing to silence
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(tensorflow|keras|jupyter_client)")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(tensorflow|keras)")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy, and (if already imported) TensorFlow and PyTorch."""
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import numpy as np

    np.random.seed(seed)
    if "tensorflow" in sys.modules:
        sys.modules["tensorflow"].random.set_seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def package_versions(names: dict[str, str] | None = None) -> dict[str, str]:
    """Installed versions, read from package metadata (nothing is imported)."""
    out = {}
    for mod, dist in (names or VERSION_PACKAGES).items():
        try:
            out[mod] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            alt = {"tensorflow-cpu": "tensorflow"}.get(dist)
            try:
                out[mod] = importlib.metadata.version(alt) if alt else "not installed"
            except importlib.metadata.PackageNotFoundError:
                out[mod] = "not installed"
    return out


def check_environment() -> list[str]:
    """Problems a student should fix, as readable sentences (empty when all is well)."""
    problems = []
    if sys.version_info < (3, 10):
        problems.append(f"Python {_platform.python_version()} is too old: use 3.10-3.12.")
    import importlib.util

    if importlib.util.find_spec("triton") is not None and importlib.util.find_spec("tensorflow") is not None:
        problems.append(
            "The package 'triton' is installed beside TensorFlow: importing tensorflow before "
            "torchvision can crash the kernel. On a CPU machine run `pip uninstall -y triton`.")
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
        print(f"platform: {plat} | python {_platform.python_version()} | data: {data_dir}")
        print(" | ".join(f"{k} {v}" for k, v in versions.items()))
        for p in check_environment():
            print("WARNING:", p)
    return env
