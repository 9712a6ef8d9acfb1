"""Lesson 04 on the real FER2013 (issue 17): with ``../shared/data/fer2013`` (or ``$COURSE_SHARED_DATA/fer2013``)
present, the lesson runs its full-data path with short settings, and the sample's bookkeeping of which
``disgust`` faces the reference model was fit on is re-derived from the data.  Both skip, saying why, on a
clone without that folder (the project's tests must pass without it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from course_utils import config

ROOT = Path(__file__).resolve().parents[1]
FER = config.shared_data_dir() / "fer2013"
LESSON = ROOT / "notebooks" / "04_facial_emotion_recognition.ipynb"

needs_fer = pytest.mark.skipif(not (FER / "train").is_dir(),
                               reason=f"FER2013 image folders not found at {FER} (set COURSE_SHARED_DATA): "
                                      "the real-data path of lesson 04 is not tested here")


def _outputs(nb, cell_id: str) -> str:
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


@needs_fer
@pytest.mark.slow
def test_lesson04_trains_and_evaluates_on_fer2013_with_short_settings(tmp_path):
    import nbformat

    from course_utils.tools import build

    build.execute_to_build(LESSON, tmp_path, {"FULL_DATA": str(FER), "FULL_EPOCHS": 1, "FULL_LIMIT": 40},
                           timeout=600)
    nb = nbformat.read(tmp_path / LESSON.name, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0]
    assert "FER2013: " in _outputs(nb, "692b6896") and "stand-in" not in _outputs(nb, "692b6896")
    data = _outputs(nb, "a4d0459c")
    assert f"data: FER2013 at {FER}" in data
    # 40 faces per class: 7 x 40 in train (36 + 4 in validation per class), 6 x 40 in test (no disgust)
    assert "train 252, validation 28, test 240 faces of 48x48 pixels" in data
    assert "training fer_cnn" in _outputs(nb, "c639aa0d") and "up to 1 epochs" in _outputs(nb, "c639aa0d")
    report = _outputs(nb, "dbc54883")
    assert "trained on FER2013 at" in report and "disgust     n/a" in report  # the test split has no disgust
    assert "FER2013 test accuracy at least 0.55:" in _outputs(nb, "7ed7fca1")
    # the reference model's figures on the sample do not depend on the data found
    assert "all         210   134     0.64" in _outputs(nb, "real-eval")


@needs_fer
def test_the_sample_disgust_faces_the_reference_model_was_not_fit_on():
    """Re-derive ``emotion.REFERENCE_VALIDATION_DISGUST`` the way scripts/train_emotion.py splits train."""
    import course_utils as cu
    from course_utils import emotion

    train = cu.load_fer2013_folders(FER)
    train = train[train.split == "train"].reset_index(drop=True)
    fit, val = emotion.split_validation(train["emotion"].to_numpy(dtype=np.int64), 0.1, seed=0)
    files = train["path"].map(lambda p: Path(p).name).to_numpy()
    _, y, names = emotion.load_real_faces()
    disgust = {Path(n).name for n in names if n.startswith("disgust/")}
    assert disgust <= set(files[fit]) | set(files[val])
    assert disgust & set(files[val]) == emotion.REFERENCE_VALIDATION_DISGUST
    others = {Path(n).name for n in names if not n.startswith("disgust/")}
    assert not others & set(files), "the other sample faces are test faces, never trained on"


@needs_fer
def test_the_sample_faces_with_a_pixel_copy_in_train_are_the_listed_ones():
    """Re-derive ``emotion.TRAIN_COPIES``: sample faces (other than the 24 fit ones) whose pixels equal a
    training image's."""
    import hashlib

    import course_utils as cu
    from course_utils import emotion

    df = cu.load_fer2013_folders(FER)
    df = df[df.split == "train"].reset_index(drop=True)
    faces, _ = emotion.load_fer_arrays(df)
    train: dict[str, set] = {}
    for face, path in zip(faces, df["path"]):
        train.setdefault(hashlib.sha1(face.tobytes()).hexdigest(), set()).add(Path(path).name)
    x, _, names = emotion.load_real_faces()
    fit = emotion.reference_split(names) == "fit"
    # another training image with the same pixels (a validation disgust face is in train/ itself)
    copies = {n for face, n, f in zip(x, names, fit)
              if not f and train.get(hashlib.sha1(face.tobytes()).hexdigest(), set()) - {Path(n).name}}
    assert copies == emotion.TRAIN_COPIES
