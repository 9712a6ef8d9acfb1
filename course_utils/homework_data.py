"""The data that hw1 and hw2 train on: the real dataset when it is on the machine, else the course's stand-in.

    data = cu.homework_data.emotion_data(DATA)   # hw1: FER2013 if found, else the drawn expressions
    data = cu.homework_data.mask_data(DATA)      # hw2: a face-mask photo set if found, else the drawn masks
    print(data)                                  # which data, how much, and the homework's pass marks on it

``DATA`` is the homework's parameter: a folder, ``None`` (search an attached Kaggle dataset and the course's data
folder, :func:`course_utils.datasets.find_dataset`) or ``"standin"`` (always the stand-in, as in grading). The real
path keeps its sizes small enough to train in about ten minutes on a laptop CPU; its evaluation set is always held
back from training: FER2013's test split for hw1; for hw2 a stratified share of the photos, and the course's own 80
photos (``data/real/facemask``) and their near-copies never enter its training data (hw2's last part scores on them).
The pass marks differ by data (:data:`BARS`): the stand-in is easy; FER2013's labels agree with people's only
about 65 % of the time (Goodfellow et al. 2013, section 3), so a small CNN trained for minutes scores far less.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Pass marks: {data kind: {"validation": best validation accuracy, "evaluation": accuracy on the held-back
#: evaluation set, "recall": hw2's with_mask recall there}}.  Set below what the solutions reach for any seed.
BARS = {
    "emotion-standin": {"validation": 0.60, "evaluation": 0.70},
    "emotion-fer2013": {"validation": 0.40, "evaluation": 0.40},
    "mask-standin": {"evaluation": 0.70, "recall": 0.60},
    "mask-photos": {"evaluation": 0.85, "recall": 0.80},
}

STANDIN = "standin"


@dataclass
class HomeworkData:
    """Training rows ``x, y`` (with ``groups[i]``: who row ``i`` is; rows of one group stay on one side of a split),
    the held-back evaluation set ``x_eval, y_eval``, where they come from and the pass marks on them."""

    kind: str
    source: str
    x: np.ndarray
    y: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    groups: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def real(self) -> bool:
        return not self.kind.endswith("standin")

    @property
    def bars(self) -> dict[str, float]:
        return BARS[self.kind]

    def __str__(self) -> str:
        marks = ", ".join(f"{k} {v:.2f}" for k, v in self.bars.items())
        return "\n".join([f"data: {self.source}", f"training rows {len(self.x)}, evaluation rows {len(self.x_eval)} "
                          f"(held back)", *self.notes, f"pass marks on this data: {marks}"])


def _find(name: str, data) -> Path | None:
    from .datasets import find_dataset

    if isinstance(data, str) and data == STANDIN:
        return None
    return find_dataset(name, [data] if data else [], required=False)


def emotion_data(data=None, *, per_class: int = 150, disgust: int = 40, real_per_class: int = 1000,
                 eval_per_class: int = 100, eval_seed: int = 12345) -> HomeworkData:
    """hw1's faces: FER2013 (at most ``real_per_class`` training faces per expression; evaluation: at most
    ``eval_per_class`` faces per expression of its **test** split), else the drawn stand-in (``per_class`` faces
    per expression, ``disgust`` of them disgust; evaluation: 50 per expression drawn with ``eval_seed``)."""
    from . import emotion

    root = _find("fer2013", data)
    if root is None:
        x, y = emotion.synthetic_expressions(per_class, seed=1)
        x, y = emotion.limit_class(x, y, "disgust", disgust)
        x_eval, y_eval = emotion.synthetic_expressions(50, seed=eval_seed)
        return HomeworkData("emotion-standin", "the drawn stand-in (NOT FER2013: cartoon faces; no FER2013 found)",
                            x, y, x_eval, y_eval, np.arange(len(y)))
    splits = emotion.load_fer_splits(root)
    x, y = emotion.load_fer_subset(*splits["train"], real_per_class, seed=0)
    x_eval, y_eval = emotion.load_fer_subset(*splits["test"], eval_per_class, seed=eval_seed)
    notes = [] if (y_eval == emotion.EMOTIONS.index("disgust")).any() else [
        "this copy of FER2013's test split has no disgust face: disgust has no evaluation figure"]
    return HomeworkData("emotion-fer2013", f"FER2013 at {_shown(root)} (train: at most {real_per_class} faces per "
                        f"expression; evaluation: at most {eval_per_class} per expression of its test split)",
                        x, y, x_eval, y_eval, np.arange(len(y)), notes)


def course_mask_photos(paths) -> np.ndarray:
    """Boolean array over ``paths``: the course's own mask photos (``data/real/facemask``, by their name in the
    source set, ``_copy`` ignored) and their near-copies (:func:`course_utils.images.near_copies`)."""
    from .images import near_copies
    from .samples import real_samples

    root = real_samples("facemask").parent
    rows = [r for r in csv.DictReader(open(root / "manifest.csv", encoding="utf-8")) if r["file"].startswith("facemask/")]

    def key(name) -> tuple[str, str]:
        return Path(name).parent.name, Path(name).stem.removesuffix("_copy")

    ours = {key(r["path_in_source"]) for r in rows}
    paths = [Path(p) for p in paths]
    same_name = np.array([key(p) in ours for p in paths], dtype=bool)
    return same_name | near_copies(paths, [root / r["file"] for r in rows])


def mask_data(data=None, *, n_faces: int = 72, real_per_class: int = 300, eval_share: float = 0.2,
              seed: int = 0) -> HomeworkData:
    """hw2's faces: a face-mask photo set (at most ``real_per_class`` photos per class, chosen with ``seed``, the
    course's 80 photos and their near-copies left out; each photo's largest face, aligned as in lesson 05; a
    stratified ``eval_share`` of the photos held back for evaluation), else the drawn stand-in (``n_faces`` faces
    once without and once with a drawn mask; evaluation: 30 other people, 2 views each)."""
    from . import mask
    from .datasets import load_face_mask

    root = _find("face_mask", data)
    if root is None:
        x, y = mask.make_mask_dataset(n_faces, seed=1)  # rows 2k and 2k+1: the same face
        x_eval, y_eval = mask.make_mask_dataset(60, seed=2, start=72, n_sources=30)
        return HomeworkData("mask-standin", "the drawn stand-in (NOT real masks: faces with masks drawn on them; "
                            "no face-mask photo set found)", x, y, x_eval, y_eval, np.arange(len(y)) // 2)
    from sklearn.model_selection import train_test_split

    df = load_face_mask(root).sort_values("path").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    picked = np.sort(np.concatenate([rng.permutation(np.flatnonzero(df["label"] == name))[:2 * real_per_class]
                                     for name in mask.MASK_LABELS]))
    df = df.iloc[picked].reset_index(drop=True)
    ours = course_mask_photos(df["path"])
    df = df[~ours]
    df = df[df.groupby("label").cumcount() < real_per_class].reset_index(drop=True)
    faces = mask.crops_from_images(list(df["path"]))
    labels = df["label"].map({name: i for i, name in enumerate(mask.MASK_LABELS)}).to_numpy(np.int64)[faces.index]
    fit, held = train_test_split(np.arange(len(labels)), test_size=eval_share, stratify=labels, random_state=seed)
    notes = [f"photos: {len(df)} ({int(ours.sum())} of the course's own photos and near-copies left out); "
             f"a face found in {len(faces.index)}; the others are not used"]
    return HomeworkData("mask-photos", f"face-mask photos at {_shown(root)} (at most {real_per_class} per class; "
                        f"{eval_share:.0%} of the photos held back for evaluation)",
                        faces.crops[fit], labels[fit], faces.crops[held], labels[held], np.arange(len(fit)), notes)


def _shown(path: Path) -> str:
    from .env import display_path

    return display_path(path)
