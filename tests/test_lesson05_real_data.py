"""Lesson 05 on the real Face-Mask-Detection set, when ../shared/data/facemask (or $COURSE_SHARED_DATA/facemask)
is on this machine: the lesson's real-data path runs end to end with short settings.  Skipped elsewhere (a fresh
clone has no ../shared/)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from course_utils import config

ROOT = Path(__file__).resolve().parents[1]
SHARED = config.shared_data_dir()
FACEMASK = SHARED / "facemask"
LESSON = ROOT / "notebooks" / "05_face_mask_detection.ipynb"
MAX_IMAGES = 120

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (FACEMASK / "with_mask").is_dir(),
                       reason=f"no real mask data at {FACEMASK} (set COURSE_SHARED_DATA to the folder that holds facemask/)"),
]


def _outputs(nb, cell_id: str) -> str:
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    import nbformat

    from course_utils.tools import build

    out = tmp_path_factory.mktemp("lesson05")
    with pytest.MonkeyPatch.context() as mp:  # one thread per pool, as `course.py run` gives each lesson
        for var in build.THREAD_VARS:
            mp.setenv(var, os.environ.get(var, "1"))
        build.execute_to_build(LESSON, out, {"FULL_DATA": str(FACEMASK), "MAX_IMAGES": MAX_IMAGES, "EPOCHS": 2},
                               timeout=600)
    return nbformat.read(out / LESSON.name, as_version=4)


def test_lesson05_finds_and_trains_on_the_real_mask_photos(executed):
    assert f"mask dataset: {FACEMASK}" in _outputs(executed, "ee7baec8")
    data = _outputs(executed, "5367f61a")
    m = re.search(r"data: (\d+) faces from .*facemask \((\d+) images without a detected face\)", data)
    assert m, data
    faces, skipped = int(m[1]), int(m[2])
    assert faces + skipped == MAX_IMAGES and faces >= 0.8 * MAX_IMAGES, data
    assert "train" in data and "64x64 RGB" in data


def test_lesson05_real_photo_part_labels_the_model_trained_on_real_data(executed):
    standin = _outputs(executed, "real-standin")
    assert "part 5's model, trained on real photos:" in standin and "STAND-IN" not in standin
    accuracies = [float(v) for v in re.findall(r"accuracy on found faces (\d\.\d\d)", standin)]
    assert len(accuracies) == 2 and all(0.0 <= a <= 1.0 for a in accuracies)


def test_lesson05_reference_part_does_not_depend_on_the_training_data(executed):
    import nbformat

    stored = nbformat.read(LESSON, as_version=4)
    for cell_id in ("real-reference", "sol1"):
        assert _outputs(executed, cell_id) == _outputs(stored, cell_id), cell_id
