"""CelebA: the annotation files (attributes, landmarks, boxes, identities, partitions), as ``.txt`` or Kaggle's ``.csv``."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from .common import DatasetNotFoundError, find_root, format_error


def is_celeba_root(p: Path) -> bool:
    names = ("list_attr_celeba", "list_landmarks_align_celeba", "list_eval_partition", "list_bbox_celeba")
    return any((p / f"{n}{ext}").is_file() for n in names for ext in (".txt", ".csv")) or (p / "identity_CelebA.txt").is_file()


CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young")
"""The 40 CelebA attributes in file order."""

CELEBA_LANDMARKS = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
                    "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y")
CELEBA_BBOX = ("x_1", "y_1", "width", "height")
CELEBA_PARTITIONS = {0: "train", 1: "val", 2: "test"}


def _read_celeba_table(path: str | Path, columns: Sequence[str] | None, counted: bool, value_name: str = "value"):
    """Read one CelebA annotation file into a DataFrame indexed by ``image_id``.

    ``counted`` files (attributes, landmarks, boxes) start with the number of images and a line
    of column names (the box file's begins with ``image_id``); the others (identity, partition)
    are bare ``<image> <value>`` lines.  Kaggle's ``.csv`` versions have a header row instead.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CelebA annotation file not found: {path}")
    if path.suffix.lower() == ".csv":
        return _read_celeba_csv(path, columns, value_name)
    text = path.read_text(encoding="utf-8")
    skip, n_expected = 0, None
    if counted:
        lines = text.split("\n", 2)
        if len(lines) < 2:
            raise format_error(path, 1, "expected the number of images, then a line of column names")
        try:
            n_expected = int(lines[0].strip())
        except ValueError:
            raise format_error(path, 1, f"expected the number of images, got {lines[0].strip()[:60]!r}") from None
        names = lines[1].split()
        if names and names[0] == "image_id":
            names = names[1:]
        if columns is not None and tuple(names) != tuple(columns):
            raise format_error(path, 2, f"expected the {len(columns)} columns {' '.join(columns[:3])} ..., "
                                      f"got {len(names)}: {' '.join(names[:3])} ...")
        skip = 2
    else:
        names = [value_name]
    ncol = len(names) + 1
    try:
        df = pd.read_csv(io.StringIO(text), sep=r"\s+", skiprows=skip, header=None, names=["image_id", *names],
                         index_col=False, dtype={"image_id": str}, engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise format_error(path, None, f"cannot be parsed ({exc}); expected {ncol} fields per line") from None
    # the C parser pads short lines with NaN: find them to name the line
    if df.isna().any().any():
        bad = int(np.flatnonzero(df.isna().any(axis=1).to_numpy())[0])
        raise format_error(path, bad + skip + 1, f"expected {ncol} fields (image name and {ncol - 1} numbers), "
                                               f"got {text.splitlines()[bad + skip]!r}")
    df = df.set_index("image_id")
    if n_expected is not None and len(df) != n_expected:
        raise format_error(path, 1, f"the header says {n_expected} images, but the file lists {len(df)}")
    return _check_ints(df, path, header_lines=skip)


def _read_celeba_csv(path: Path, columns: Sequence[str] | None, value_name: str):
    """Kaggle's ``.csv`` version of a CelebA annotation file: a header row, ``image_id`` first."""
    import pandas as pd

    df = pd.read_csv(path)
    df.columns = [c.strip() for c in df.columns]
    if "image_id" not in df.columns:
        raise format_error(path, 1, f"a CelebA CSV needs an 'image_id' column, got {list(df.columns)[:5]}")
    df = df.set_index("image_id")
    if columns is None and len(df.columns) != 1:
        raise format_error(path, 1, f"expected one value column, got {list(df.columns)}")
    if columns is None:
        df.columns = [value_name]
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise format_error(path, 1, f"missing columns {missing}")
        df = df[list(columns)]
    return _check_ints(df, path, header_lines=1)


def _check_ints(df, path, header_lines: int):
    from pandas.api.types import is_integer_dtype

    for col in df.columns:
        if not is_integer_dtype(df[col].dtype):
            vals = df[col].to_numpy()
            bad = next(i for i, v in enumerate(vals) if not _is_int(v))
            raise format_error(path, bad + header_lines + 1, f"column {col!r} must hold integers, got {vals[bad]!r}")
    return df


def _is_int(v) -> bool:
    try:
        return float(v) == int(float(v))
    except (TypeError, ValueError):
        return False


def load_celeba_attributes(path: str | Path, as_bool: bool = False):
    """``list_attr_celeba.txt`` (or Kaggle's ``.csv``): one row per image, the 40 attributes as
    int8 ``+1``/``-1`` (or bool with ``as_bool=True``), indexed by ``image_id`` (``000001.jpg``)."""
    df = _read_celeba_table(path, CELEBA_ATTRIBUTES, counted=True)
    vals = df.to_numpy()
    bad = ~np.isin(vals, (-1, 1))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        line = r + (2 if Path(path).suffix.lower() == ".csv" else 3)
        raise format_error(path, int(line), f"attribute {df.columns[c]} of {df.index[r]} is {vals[r, c]}; "
                                          "CelebA attributes are +1 or -1")
    return (df == 1) if as_bool else df.astype(np.int8)


def load_celeba_landmarks(path: str | Path):
    """``list_landmarks_align_celeba.txt`` (or ``.csv``): the 5 points (x, y) in the aligned
    178x218 images, columns :data:`CELEBA_LANDMARKS`."""
    return _read_celeba_table(path, CELEBA_LANDMARKS, counted=True).astype(np.int32)


def load_celeba_bboxes(path: str | Path):
    """``list_bbox_celeba.txt`` (or ``.csv``): ``x_1, y_1, width, height`` of the face in the
    *original* (in-the-wild) photo, not in the aligned crop."""
    return _read_celeba_table(path, CELEBA_BBOX, counted=True).astype(np.int32)


def load_celeba_identities(path: str | Path):
    """``identity_CelebA.txt``: a Series ``image_id -> identity`` (1..10,177)."""
    return _read_celeba_table(path, None, counted=False, value_name="identity")["identity"].astype(np.int64)


def load_celeba_partitions(path: str | Path):
    """``list_eval_partition.txt`` (or ``.csv``): a Series ``image_id -> "train"|"val"|"test"``
    (file codes 0, 1, 2)."""
    s = _read_celeba_table(path, None, counted=False, value_name="partition")["partition"]
    bad = ~s.isin(list(CELEBA_PARTITIONS))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise format_error(path, i + 1, f"partition must be 0, 1 or 2, got {s.iloc[i]}")
    return s.map(CELEBA_PARTITIONS).rename("partition")


def load_celeba(root: str | Path):
    """Every CelebA annotation file found in ``root`` joined into one DataFrame (indexed by
    ``image_id``), with a ``path`` column into ``img_align_celeba/`` (Kaggle nests it twice)."""
    import pandas as pd

    root = find_root(Path(root), is_celeba_root, 2) or Path(root)

    def first(stem: str) -> Path | None:
        return next((root / f"{stem}{e}" for e in (".txt", ".csv") if (root / f"{stem}{e}").is_file()), None)

    parts = []
    for stem, loader in (("list_eval_partition", load_celeba_partitions), ("identity_CelebA", load_celeba_identities),
                         ("list_bbox_celeba", load_celeba_bboxes), ("list_landmarks_align_celeba", load_celeba_landmarks),
                         ("list_attr_celeba", load_celeba_attributes)):
        p = first(stem)
        if p is not None:
            parts.append(loader(p))
    if not parts:
        raise DatasetNotFoundError(f"no CelebA annotation file (list_attr_celeba.txt, ...) in {root}")
    df = pd.concat(parts, axis=1, join="outer")
    images = next((d for d in (root / "img_align_celeba" / "img_align_celeba", root / "img_align_celeba")
                   if d.is_dir()), root / "img_align_celeba")
    df.insert(0, "path", [str(images / i) for i in df.index])
    return df


#: The first two data lines of four CelebA annotation files, as published in the release's ``Anno/`` folder
#: (the course cannot ship CelebA: its agreement allows non-commercial research only).  Lesson 01 shows
#: and parses them with :func:`write_celeba_excerpt`.  ``list_eval_partition.txt`` is left out.
CELEBA_FIRST_ROWS = {
    "list_attr_celeba.txt": (
        "000001.jpg -1  1  1 -1 -1 -1 -1 -1 -1 -1 -1  1 -1 -1 -1 -1 -1 -1  1  1 -1  1 -1 -1  1 -1 -1  1 -1 -1 -1  1  1"
        " -1  1 -1  1 -1 -1  1",
        "000002.jpg -1 -1 -1  1 -1 -1 -1  1 -1 -1 -1  1 -1 -1 -1 -1 -1 -1 -1  1 -1  1 -1 -1  1 -1 -1 -1 -1 -1 -1  1 -1"
        " -1 -1 -1 -1 -1 -1  1"),
    "list_landmarks_align_celeba.txt": (
        "000001.jpg 69  109  106  113   77  142   73  152  108  154",
        "000002.jpg 69  110  107  112   81  135   70  151  108  153"),
    "list_bbox_celeba.txt": (
        "000001.jpg    95  71 226 313",
        "000002.jpg    72  94 221 306"),
    "identity_CelebA.txt": (
        "000001.jpg 2880",
        "000002.jpg 2937"),
}
#: The line of column names of each counted file (the attributes: :data:`CELEBA_ATTRIBUTES`).
_CELEBA_HEADERS = {"list_attr_celeba.txt": " ".join(CELEBA_ATTRIBUTES) + " ",
                   "list_landmarks_align_celeba.txt": " ".join(CELEBA_LANDMARKS),
                   "list_bbox_celeba.txt": "image_id " + " ".join(CELEBA_BBOX)}


def write_celeba_excerpt(folder: str | Path) -> Path:
    """Write :data:`CELEBA_FIRST_ROWS` into ``folder`` as CelebA's annotation files and return ``folder``
    (read it with :func:`load_celeba`).  The counted files start with the number of rows they hold
    (the real files say ``202599``) and their line of column names, as in the release."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in CELEBA_FIRST_ROWS.items():
        head = [str(len(rows)), _CELEBA_HEADERS[name]] if name in _CELEBA_HEADERS else []
        (folder / name).write_text("\n".join([*head, *rows]) + "\n", encoding="utf-8")
    return folder
