"""What hw1 and hw2 train on (course_utils.homework_data): the real dataset when one is found, else the stand-in;
evaluation data held back; the course's own mask photos never in training."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import course_utils as cu
from course_utils import homework_data
from course_utils.images import difference_hash, near_copies

ROOT = Path(__file__).resolve().parents[1]


def _fer_folder(root: Path, train_per_class: int, test_per_class: int, test_disgust: bool) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        for label in cu.emotion.EMOTIONS:
            folder = root / split / label
            folder.mkdir(parents=True)
            if split == "test" and label == "disgust" and not test_disgust:
                continue
            for k in range(n):
                value = 40 + 20 * cu.emotion.EMOTIONS.index(label) + (100 if split == "test" else 0)
                face = np.clip(rng.normal(value, 3, (48, 48)), 0, 255).astype(np.uint8)
                Image.fromarray(face).save(folder / f"{split}_{label}_{k}.png")
    return root


def test_standin_is_used_when_asked_and_says_so():
    data = homework_data.emotion_data("standin")
    assert data.kind == "emotion-standin" and not data.real
    assert data.x.shape == (940, 48, 48) and np.bincount(data.y).tolist() == [150, 40, 150, 150, 150, 150, 150]
    assert data.x_eval.shape == (350, 48, 48) and np.array_equal(data.groups, np.arange(940))
    text = str(data)
    assert "NOT FER2013" in text and "pass marks on this data: validation 0.60, evaluation 0.70" in text


def test_fer2013_found_trains_on_its_train_split_and_evaluates_on_its_test_split(tmp_path):
    root = _fer_folder(tmp_path / "fer", train_per_class=6, test_per_class=4, test_disgust=False)
    data = homework_data.emotion_data(root, real_per_class=5, eval_per_class=3)
    assert data.kind == "emotion-fer2013" and data.real
    assert np.bincount(data.y, minlength=7).tolist() == [5] * 7
    disgust = cu.emotion.EMOTIONS.index("disgust")
    assert len(data.y_eval) == 18 and disgust not in data.y_eval
    # every evaluation face is a test face (their pixels are 100 brighter than any training face of that label)
    for c in set(data.y_eval.tolist()):
        assert data.x_eval[data.y_eval == c].mean() > data.x[data.y == c].mean() + 80
    text = str(data)
    assert "FER2013 at" in text and "no disgust face" in text and "validation 0.40, evaluation 0.40" in text
    with_disgust = homework_data.emotion_data(_fer_folder(tmp_path / "fer2", 2, 2, True), real_per_class=2)
    assert disgust in with_disgust.y_eval and "no disgust face" not in str(with_disgust)


def test_a_folder_without_fer2013_falls_back_to_the_standin(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("COURSE_FER2013_DIR", raising=False)
    data = homework_data.emotion_data(tmp_path, per_class=20, disgust=5)
    assert data.kind == "emotion-standin" and len(data.y) == 6 * 20 + 5


def test_difference_hash_survives_resizing_and_tells_photos_apart(tmp_path):
    import cv2

    photos = sorted(cu.real_samples("facemask").glob("*/*.jpg"))[:6]
    img = cu.load_image(photos[0])
    small = cv2.resize(img, (img.shape[1] * 2 // 3, img.shape[0] * 2 // 3), interpolation=cv2.INTER_AREA)
    cu.save_image(small, tmp_path / "copy.jpg", quality=80)
    assert (difference_hash(photos[0]) != difference_hash(tmp_path / "copy.jpg")).sum() <= 6
    distances = [(difference_hash(photos[0]) != difference_hash(p)).sum() for p in photos[1:]]
    assert min(distances) > 6
    assert near_copies([tmp_path / "copy.jpg", photos[1]], [photos[0]]).tolist() == [True, False]
    assert near_copies([], [photos[0]]).tolist() == []


def test_the_course_mask_photos_and_their_copies_are_recognised(tmp_path):
    import cv2

    ours = sorted(cu.real_samples("facemask").glob("with_mask/*.jpg"))
    plain = next(p for p in ours if "_copy" not in p.stem)
    (tmp_path / "with_mask").mkdir()
    same_name = tmp_path / "with_mask" / plain.name                      # the same file in another copy of the set
    shutil.copy(plain, same_name)
    copy_name = tmp_path / "with_mask" / f"{plain.stem}_copy.jpg"        # the set's "_copy" twin
    shutil.copy(plain, copy_name)
    img = cu.load_image(ours[1])
    renamed = tmp_path / "with_mask" / "renamed.jpg"                     # resized, re-encoded, renamed
    cu.save_image(cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA), renamed, 85)
    other = sorted(cu.real_samples("lfw_people").glob("*/*.jpg"))[0]    # not a mask photo at all
    flags = homework_data.course_mask_photos([same_name, copy_name, renamed, other])
    assert flags.tolist() == [True, True, True, False]


def test_mask_standin_groups_a_face_with_its_masked_twin():
    data = homework_data.mask_data("standin", n_faces=10)
    assert data.kind == "mask-standin" and data.x.shape == (20, 64, 64, 3)
    assert data.groups.tolist() == [k // 2 for k in range(20)] and data.y[:4].tolist() == [0, 1, 0, 1]
    assert "NOT real masks" in str(data) and "evaluation 0.70, recall 0.60" in str(data)


@pytest.mark.slow
def test_mask_photos_found_train_without_the_course_photos_and_hold_back_a_share(tmp_path):
    lfw = sorted(cu.real_samples("lfw_people").glob("*/*.jpg"))
    for label, photos in (("with_mask", lfw[:6]), ("without_mask", lfw[6:12])):
        (tmp_path / label).mkdir()
        for p in photos:
            shutil.copy(p, tmp_path / label / p.name)
    course = sorted(cu.real_samples("facemask").glob("with_mask/*.jpg"))[0]
    shutil.copy(course, tmp_path / "with_mask" / course.name)           # one of the course's photos: left out
    data = homework_data.mask_data(tmp_path, real_per_class=10, eval_share=0.25)
    assert data.kind == "mask-photos" and data.real
    assert "1 of the course's own photos" in str(data)
    n = len(data.x) + len(data.x_eval)
    assert 10 <= n <= 12 and len(data.x_eval) == round(0.25 * n)
    assert data.x.shape[1:] == (64, 64, 3) and set(data.y_eval.tolist()) == {0, 1}
    assert np.array_equal(data.groups, np.arange(len(data.x)))
    assert "evaluation 0.85, recall 0.80" in str(data)


def test_homework_readme_states_the_pass_marks_of_BARS():
    """homework/README.md's table gives each homework's pass marks in the order of ``BARS`` (stand-in first, then the
    real data): a bar changed in the code and not in the README fails here."""
    table = (ROOT / "homework" / "README.md").read_text()
    for homework, kinds in (("hw1_facial_emotion", ("emotion-standin", "emotion-fer2013")),
                            ("hw2_face_mask", ("mask-standin", "mask-photos"))):
        row = next(line for line in table.splitlines() if line.startswith(f"| [`{homework}`]"))
        bar_text = row[row.index("(bar:"):]
        stated = re.findall(r"\b[01]\.\d\d\b", bar_text)
        expected = [f"{v:.2f}" for kind in kinds for v in homework_data.BARS[kind].values()]
        assert stated[:len(expected)] == expected, (homework, stated, expected)
