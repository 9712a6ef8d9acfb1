"""FER2013: the CSV files (``fer2013.csv``, ``icml_face_data.csv``) and Kaggle's image folders."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import DatasetFormatError, find_root, format_error, index_image_folders

FER2013_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""FER2013 emotion codes 0-6, in the order of the CSV's ``emotion`` column."""


def is_fer_root(p: Path) -> bool:
    if any((p / n).is_file() for n in ("fer2013.csv", "icml_face_data.csv")):
        return True
    return (p / "train").is_dir() and (p / "test").is_dir() and any(
        (p / "train" / lab).is_dir() for lab in FER2013_LABELS)


FER2013_USAGES = ("Training", "PublicTest", "PrivateTest")
FER2013_SIZE = 48


def load_fer2013_csv(path: str | Path, usage: str | None = None):
    """Read a FER2013 CSV: ``emotion, pixels, Usage`` (``fer2013.csv``), also with the column
    names padded with spaces (``icml_face_data.csv``) or without ``Usage``/``emotion``
    (the competition's ``train.csv``/``test.csv``).

    Args:
        usage: keep only ``"Training"``, ``"PublicTest"`` or ``"PrivateTest"`` rows.

    Returns:
        ``(images, labels)``: a uint8 array (N, 48, 48) and a DataFrame with ``emotion`` (0-6,
        or -1 when absent), ``label`` (:data:`FER2013_LABELS`) and ``usage``.
    """
    import pandas as pd

    path = Path(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    if "pixels" not in df.columns:
        raise format_error(path, 1, f"a FER2013 CSV needs a 'pixels' column, got {list(df.columns)}")
    if usage is not None:
        if usage not in FER2013_USAGES:
            raise ValueError(f"usage must be one of {', '.join(FER2013_USAGES)}, got {usage!r}")
        if "Usage" not in df.columns:
            raise ValueError(f"{path.name} has no Usage column to select {usage!r} from")
    n_pix = FER2013_SIZE * FER2013_SIZE
    emotion = np.full(len(df), -1, dtype=np.int64)
    if "emotion" in df.columns:
        for i, v in enumerate(df["emotion"].str.strip()):
            if not (v.isdigit() and int(v) < len(FER2013_LABELS)):
                raise format_error(path, i + 2, f"emotion must be an integer 0-6, got {v!r}")
            emotion[i] = int(v)
    uses = df["Usage"].str.strip().to_numpy() if "Usage" in df.columns else np.array([""] * len(df), dtype=object)
    keep = np.ones(len(df), dtype=bool) if usage is None else (uses == usage)
    pix = df["pixels"].to_numpy()[keep]
    rows_idx = np.flatnonzero(keep)
    images = np.empty((len(pix), FER2013_SIZE, FER2013_SIZE), dtype=np.uint8)
    for k, (i, s) in enumerate(zip(rows_idx, pix)):
        vals = s.split()
        if len(vals) != n_pix:
            raise format_error(path, i + 2, f"expected {n_pix} pixel values (48x48), got {len(vals)}")
        try:
            arr = np.array(vals, dtype=np.int64)
        except ValueError:
            raise format_error(path, i + 2, "pixels must be integers separated by spaces") from None
        if arr.min() < 0 or arr.max() > 255:
            raise format_error(path, i + 2, f"pixel values must be 0-255, got {arr.min()}..{arr.max()}")
        images[k] = arr.reshape(FER2013_SIZE, FER2013_SIZE)
    labels = pd.DataFrame({"emotion": emotion[keep],
                           "label": [FER2013_LABELS[e] if e >= 0 else "" for e in emotion[keep]],
                           "usage": uses[keep]})
    return images, labels


def load_fer2013_folders(root: str | Path):
    """Kaggle's image layout ``root/train|test/<label>/*.jpg|png``, or one level of label folders
    ``root/<label>/*`` (such as the course's ``cu.real_samples("fer2013")``): a DataFrame with ``path``,
    ``split`` (``""`` without split folders), ``label``, ``emotion`` (the CSV code of the label) and
    ``usage``, the CSV's ``Usage`` read from the file name of Kaggle's image release
    (``Training_*``, ``PublicTest_*``, ``PrivateTest_*``; ``""`` when the name does not say)."""
    root = Path(root)
    found = find_root(root, is_fer_root, 2)
    if found is None and root.is_dir() and any((root / lab).is_dir() for lab in FER2013_LABELS):
        df = index_image_folders(root)          # <label>/* only
    else:
        root = found or root
        df = index_image_folders(root, splits=("train", "test"))
    unknown = sorted(set(df["label"]) - set(FER2013_LABELS))
    if unknown:
        raise DatasetFormatError(f"{root}: unexpected label folders {unknown}; FER2013 has {', '.join(FER2013_LABELS)}")
    df["emotion"] = df["label"].map({lab: i for i, lab in enumerate(FER2013_LABELS)}).astype(np.int64)
    prefix = df["path"].map(lambda p: Path(p).name.split("_", 1)[0])
    df["usage"] = prefix.where(prefix.isin(FER2013_USAGES), "")
    return df
