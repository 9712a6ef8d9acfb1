"""The labelled detection set (issue 19): boxes known by construction, the matching rule, the scores;
and find_face's retries for tight and masked crops."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils as cu
from course_utils import detection_set as ds
from course_utils import mask
from course_utils.face_finder import RETRY, find_face


@pytest.fixture(scope="module")
def scenes():
    return ds.build_set(seed=3, per_kind=2)


@pytest.mark.slow
def test_the_set_is_deterministic_and_its_boxes_lie_in_the_images(scenes):
    again = ds.build_set(seed=3, per_kind=2)
    assert [s.kind for s in scenes] == [k for k in ds.KINDS for _ in range(2)]
    for a, b in zip(scenes, again):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes)
    for s in scenes:
        h, w = s.image.shape[:2]
        assert s.image.dtype == np.uint8 and s.image.ndim == 3
        assert ((s.boxes[:, 0] >= 0) & (s.boxes[:, 2] <= w) & (s.boxes[:, 1] >= 0) & (s.boxes[:, 3] <= h)).all()
        assert ((s.boxes[:, 2] > s.boxes[:, 0]) & (s.boxes[:, 3] > s.boxes[:, 1])).all()
    counts = {k: [len(s.boxes) for s in scenes if s.kind == k] for k in ds.KINDS}
    assert counts["empty"] == [0, 0] and counts["portrait"] == [1, 1] and counts["tight"] == [1, 1]
    assert all(n >= 3 for n in counts["group"])
    assert any(s.kind == "cut" and (s.boxes[:, 0].min() == 0 or s.boxes[:, 1].min() == 0
                                    or s.boxes[:, 2].max() == s.image.shape[1] or s.boxes[:, 3].max() == s.image.shape[0])
               for s in scenes)


def test_match_counts_a_box_with_iou_of_at_least_one_half_once():
    truth = np.array([[100, 100, 200, 220], [300, 50, 340, 100]])
    assert ds.match(truth, truth) == (2, 0, 0)
    near = truth + [10, -5, 12, 0]                          # IoU 0.77 and 0.53
    assert ds.match(near, truth) == (2, 0, 0)
    double = np.vstack([truth[:1], truth[:1] + 3])        # two boxes on one face: the second is false
    assert ds.match(double, truth) == (1, 1, 1)
    tiny = np.array([[140, 150, 150, 160]])                 # centre inside but far too small
    huge = np.array([[0, 0, 600, 600]])                     # too large
    assert ds.match(tiny, truth) == (0, 1, 2) and ds.match(huge, truth) == (0, 1, 2)
    shifted = np.array([[150, 100, 250, 220]])              # centre on the face, IoU 1/3: not a hit
    assert ds.match(shifted, truth[:1]) == (0, 1, 1)
    assert ds.match(shifted, truth[:1], iou_threshold=0.3) == (1, 0, 0)
    assert ds.match(np.empty((0, 4)), truth) == (0, 0, 2) and ds.match(truth, np.empty((0, 4))) == (0, 2, 0)


def test_detections_are_matched_best_score_first_and_near_misses_counted():
    truth = np.array([[100, 100, 200, 220]], float)
    first, better = [105, 100, 205, 230], [100, 100, 200, 221]   # IoU 0.84, then 0.99
    scene = ds.Scene(np.zeros((300, 300, 3), np.uint8), truth, "portrait")
    sc = ds.score([scene], [[first, better]])
    assert (sc.found, sc.false) == (1, 1) and sc.median_iou == pytest.approx(0.838, abs=1e-3)
    off = ds.score([scene], [[[150, 100, 250, 220]]])      # on the face, but IoU 1/3
    assert (off.found, off.false, off.near) == (0, 1, 1) and off.median_iou == 0.0
    assert off.per_kind["portrait"].near == 1


def test_score_of_perfect_and_of_empty_answers(scenes):
    perfect = ds.score(scenes, [list(map(tuple, s.boxes)) for s in scenes])
    assert (perfect.recall, perfect.false_per_image, perfect.exact_rate) == (1.0, 0.0, 1.0)
    nothing = ds.score(scenes, [[] for _ in scenes])
    assert nothing.recall == 0.0 and nothing.exact_rate == pytest.approx(2 / len(scenes))
    with pytest.raises(ValueError):
        ds.score(scenes, [[]])


@pytest.mark.slow
def test_a_detector_finds_the_portraits_and_nothing_in_empty_scenes(scenes):
    det = cu.get_detector("facenet")
    found = [cu.detect_faces(s.image, detector=det) for s in scenes]
    sc = ds.score(scenes, found)
    assert sc.per_kind["portrait"].recall == 1.0 and sc.per_kind["empty"].false == 0
    assert sc.recall > 0.6


@pytest.mark.slow
def test_find_face_retries_find_the_masked_photos_the_detector_misses():
    photos = mask.load_real_photos()
    masked = list(photos["path"][photos["y"] == 0])
    det = mask.get_mask_detector()
    first = [find_face(p, det, retry=False) for p in masked]
    missed = [p for p, f in zip(masked, first) if f is None]
    assert len(missed) >= 5  # tight, masked crops: the first answer finds no face
    again = [find_face(p, det) for p in missed]
    assert sum(f is not None for f in again) >= len(missed) - 2
    for f, p in zip(again, missed):
        if f is not None:
            h, w = cu.load_image(p).shape[:2]
            assert 0 <= f.box[0] < f.box[2] <= w and 0 <= f.box[1] < f.box[3] <= h
            assert f.score >= min(RETRY["min_score"], RETRY["centerface_score"]) and f.keypoints is not None
    # a face found at first is returned as it was, retries or not
    found = next(p for p, f in zip(masked, first) if f is not None)
    assert find_face(found, det) == find_face(found, det, retry=False)


@pytest.mark.slow
def test_find_face_finds_no_face_on_face_free_images():
    det = mask.get_mask_detector()
    tiles = [img[y:y + 256, x:x + 256] for _, img in ds.backgrounds() for y in (0, 200) for x in (0, 300)]
    assert sum(find_face(t, det) is not None for t in tiles) == 0
    assert find_face(np.zeros((8, 8, 3), np.uint8), det) is None  # too small to hold a face
