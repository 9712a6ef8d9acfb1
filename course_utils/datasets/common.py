"""What every dataset loader shares: the errors, the folder search, class-per-folder trees."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

from ..env import REPO_ROOT
from ..images import IMAGE_SUFFIXES, subfolders

#: Folder of the embedded sample datasets (made by ``data/make_sample_data.py``).
SAMPLES_DIR = REPO_ROOT / "data" / "samples"


class DatasetFormatError(ValueError):
    """A dataset file that does not have the expected format (the message names file and line)."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset that is not on this machine (the message says where it looked and how to get it)."""


class MissingImagesError(FileNotFoundError):
    """Pairs or annotations that name images the index does not have."""


def format_error(path, lineno: int | None, what: str) -> DatasetFormatError:
    """A :class:`DatasetFormatError` naming the file, and the line when known."""
    where = f"{path}, line {lineno}" if lineno else f"{path}"
    return DatasetFormatError(f"{where}: {what}")


def find_root(base: Path, is_root: Callable[[Path], bool], max_depth: int, max_entries: int = 2000) -> Path | None:
    """Breadth-first search under ``base`` for a folder that ``is_root`` accepts.

    Folders with more than ``max_entries`` entries are image folders, not containers: they
    are not entered, so a search over ``/kaggle/input`` stays fast."""
    level = [base]
    for _ in range(max_depth + 1):
        nxt = []
        for folder in level:
            if is_root(folder):
                return folder
            subdirs = []
            try:
                with os.scandir(folder) as it:
                    for i, e in enumerate(it):
                        if i >= max_entries:
                            subdirs = []
                            break
                        if e.is_dir() and not e.name.startswith("."):
                            subdirs.append(Path(e.path))
            except OSError:
                continue
            nxt.extend(sorted(subdirs))
        level = nxt
        if not level:
            break
    return None


def index_image_folders(root: str | Path, splits: Sequence[str] | None = None):
    """Index a class-per-folder tree: ``root/<split>/<label>/*`` when ``splits`` is given (only
    those that exist are read), else ``root/<label>/*``.  Returns a DataFrame with ``path``,
    ``split`` (``""`` without splits) and ``label``, sorted.  Empty label folders are kept in
    ``df.attrs["labels"]`` so class indices stay stable."""
    import pandas as pd

    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"folder not found: {root}")
    rows, labels = [], set()
    groups = [(s, root / s) for s in splits if (root / s).is_dir()] if splits else [("", root)]
    if splits and not groups:
        raise DatasetNotFoundError(f"none of the split folders {', '.join(splits)} is in {root}")
    for split, base in groups:
        for lab in subfolders(base):
            labels.add(lab.name)
            with os.scandir(lab) as it:
                for f in it:
                    if os.path.splitext(f.name)[1].lower() in IMAGE_SUFFIXES:
                        rows.append((f.path, split, lab.name))
    df = pd.DataFrame(sorted(rows), columns=["path", "split", "label"])
    df.attrs["labels"] = tuple(sorted(labels))
    return df
