"""Face Mask 12K (``Train|Validation|Test/WithMask|WithoutMask``) and two-folder mask sets."""
from __future__ import annotations

from pathlib import Path

from .common import DatasetFormatError, find_root, index_image_folders

MASK_SPLITS = ("Train", "Validation", "Test")
MASK_LABELS = ("WithMask", "WithoutMask")


def is_mask_root(p: Path) -> bool:
    return any((p / s / "WithMask").is_dir() for s in MASK_SPLITS) or (
        (p / "with_mask").is_dir() and (p / "without_mask").is_dir())


def load_face_mask(root: str | Path):
    """Face Mask 12K (``root/Train|Validation|Test/WithMask|WithoutMask/*``), or the two-folder
    layout ``with_mask/ without_mask/`` of other mask sets: a DataFrame with ``path``, ``split``
    and ``label`` normalised to ``with_mask`` / ``without_mask``."""
    root = find_root(Path(root), is_mask_root, 2) or Path(root)   # e.g. the Kaggle 'Face Mask Dataset/' level
    layout_12k = any((root / s).is_dir() for s in MASK_SPLITS)
    df = index_image_folders(root, splits=MASK_SPLITS if layout_12k else None)
    names = {"WithMask": "with_mask", "WithoutMask": "without_mask", "with_mask": "with_mask",
             "without_mask": "without_mask"}
    unknown = sorted(set(df["label"]) - set(names))
    if unknown:
        raise DatasetFormatError(f"{root}: unexpected label folders {unknown}; expected WithMask/WithoutMask "
                                 "or with_mask/without_mask")
    df["label"] = df["label"].map(names)
    return df
