"""Face masks: synthetic masks from landmarks, the classifier's data and evaluation, the reference model
(and the check that it looks at masks, not at crop style)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import course_utils as cu
from course_utils import mask, model_files

ASTRONAUT_BOX = (180, 60, 290, 200)


@pytest.fixture(scope="module")
def astronaut_points(astronaut):
    return cu.detect_landmarks(astronaut, ASTRONAUT_BOX)


def _covered(area, pts):
    return [bool(area[int(round(y)), int(round(x))]) for x, y in pts]


@pytest.mark.parametrize("style", sorted(mask.MASK_STYLES))
def test_mask_covers_nose_tip_to_chin_and_leaves_the_eyes_visible(astronaut, astronaut_points, style):
    pts = astronaut_points
    out, area = mask.draw_mask(astronaut, pts, style=style, seed=0, return_area=True)
    assert out.shape == astronaut.shape and not np.array_equal(out, astronaut)
    assert all(_covered(area, pts[[30, 31, 33, 35]])), "nose tip and nostrils"
    assert all(_covered(area, pts[48:68])), "the whole mouth"
    chin_inside = pts[8] + (pts[27] - pts[8]) * 0.03  # just inside the chin
    assert _covered(area, [chin_inside]) == [True]
    assert not any(_covered(area, pts[36:48])), "eyes visible"
    assert not any(_covered(area, pts[17:27])), "brows visible"
    import cv2

    drawn = area.astype(np.uint8)
    poly = mask.mask_polygon(pts, style)
    for a, b in ((poly[0], pts[0]), (poly[4], pts[16])):  # the ear loops run from the mask to the jaw's ends
        cv2.line(drawn, tuple(int(v) for v in a), tuple(int(v) for v in b), 1, 3)
    near = cv2.dilate(drawn, np.ones((9, 9), np.uint8)).astype(bool)  # anti-aliased edges
    assert np.array_equal(out[~near], astronaut[~near]), "pixels away from the mask and its loops are untouched"
    assert (out[area] != astronaut[area]).any(axis=-1).mean() > 0.9, "the mask itself is drawn"
    assert np.array_equal(out[:40], astronaut[:40]), "the top of the image is untouched"


def test_mask_follows_a_tilted_head(astronaut):
    import cv2

    rot = cv2.getRotationMatrix2D((235, 130), 25, 1.0)
    tilted = cv2.warpAffine(astronaut, rot, (512, 512), borderMode=cv2.BORDER_REFLECT)
    box = (160, 50, 310, 215)
    pts = cu.detect_landmarks(tilted, box)
    _, area = mask.draw_mask(tilted, pts, return_area=True)
    assert all(_covered(area, pts[[30, 33]])) and all(_covered(area, pts[48:68]))
    assert not any(_covered(area, pts[36:48]))


def test_mask_polygon_rejects_bad_landmarks():
    with pytest.raises(ValueError, match="68 landmarks"):
        mask.mask_polygon(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="unknown mask style"):
        mask.mask_polygon(np.random.default_rng(0).random((68, 2)) * 100, style="bandana")
    with pytest.raises(ValueError, match="degenerate"):
        mask.mask_polygon(np.ones((68, 2)))


def test_synthetic_pairs_are_the_same_face_twice(astronaut):
    face = cu.crop_face(astronaut, ASTRONAUT_BOX, size=64)
    x, y = mask.synthetic_mask_pairs([face, face[:, ::-1]], seed=3)
    assert x.shape == (4, 64, 64, 3) and y.tolist() == [0, 1, 0, 1]
    lower, upper = slice(40, 60), slice(8, 24)
    assert np.abs(x[0, lower].astype(int) - x[1, lower]).mean() > 20, "the mask changes the lower face"
    assert np.abs(x[0, upper].astype(int) - x[1, upper]).mean() < 5, "and leaves the eyes alone"


def test_offline_sample_faces_are_deterministic():
    a, b = mask.sample_faces(8, seed=1), mask.sample_faces(8, seed=1)
    assert a.shape == (8, 64, 64, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert not np.array_equal(a, mask.sample_faces(8, seed=2))


class _Fixed:
    """A stand-in model that returns given probabilities."""

    def __init__(self, prob):
        self.prob = np.asarray(prob, np.float32)

    def predict(self, x, batch_size=None, verbose=0):
        return self.prob[: len(x)]


def test_evaluate_reports_precision_recall_and_the_worst_mistakes_first():
    y = np.array([0, 0, 0, 1, 1])
    prob = [[0.9, 0.1], [0.4, 0.6], [0.1, 0.9], [0.2, 0.8], [0.7, 0.3]]
    r = mask.evaluate(_Fixed(prob), np.zeros((5, 64, 64, 3), np.uint8), y)
    assert r.accuracy == pytest.approx(0.4)
    assert r.recall["with_mask"] == pytest.approx(1 / 3) and r.precision["with_mask"] == pytest.approx(0.5)
    assert r.confusion.tolist() == [[1, 2], [1, 1]]
    assert r.worst.tolist() == [2, 4, 1], "most confident mistakes first"
    assert str(r).splitlines() == ["accuracy 0.400", "  with_mask    precision 0.500  recall 0.333",
                                   "  without_mask precision 0.333  recall 0.500"]


@pytest.mark.slow
def test_small_cnn_shape():
    m = mask.build_model()
    assert m.input_shape == (None, 64, 64, 3) and m.output_shape == (None, 2) and m.count_params() < 200_000


@pytest.mark.slow
def test_transfer_model_offline_says_where_to_get_the_weights(monkeypatch):
    keras = model_files.import_keras()

    def offline(fname, origin, **kwargs):  # what Keras raises when the transfer fails
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(model_files.ModelNotFoundError, match=r"mobilenet_v2_weights_tf_dim_ordering.*_96_no_top\.h5"):
        mask.build_transfer_model()
    m = mask.build_transfer_model(weights=None)
    assert m.output_shape == (None, 2) and not m.layers[2].trainable


def test_transfer_model_reports_only_a_failed_download_as_one(monkeypatch):
    keras = model_files.import_keras()

    def broken(fname, origin, **kwargs):  # not a transfer failure: a bug, shown as it is
        raise TypeError("get_file() got an unexpected keyword argument")

    monkeypatch.setattr(keras.utils, "get_file", broken)
    with pytest.raises(TypeError, match="unexpected keyword"):
        mask.build_transfer_model()


@pytest.mark.slow
def test_reference_model_tells_masks_not_crop_styles(group):
    """The shortcut check: the same faces without and then with a synthetic mask change class."""
    clf = mask.load_classifier()
    assert clf.labels == mask.MASK_LABELS and clf.align == "arcface"
    detector = mask.get_mask_detector()
    bare = cu.classify_faces(group, clf, detector=detector)
    faces = [item.face for item in bare]
    masked = mask.add_masks(group, faces=faces, seed=0)
    covered = clf.classify(masked, faces)
    assert len(bare) == 4
    assert [item.label for item in bare] == ["without_mask"] * 4
    assert [item.label for item in covered] == ["with_mask"] * 4


@pytest.mark.slow
def test_mask_detector_finds_masked_faces(group):
    faces = cu.detect_faces(group, detector=mask.get_mask_detector())
    masked = mask.add_masks(group, faces=faces, seed=1)
    assert len(cu.detect_faces(masked, detector=mask.get_mask_detector())) == 4
    assert len(cu.detect_faces(cu.load_sample("coffee"), detector=mask.get_mask_detector())) == 0


# ------------------------------------------------------------------------------ real photos, end to end


def test_real_photos_are_40_with_and_40_without_a_mask():
    photos = mask.load_real_photos()
    assert photos.groupby("label").size().to_dict() == {"with_mask": 40, "without_mask": 40}
    assert (photos["y"] == (photos["label"] == "without_mask").astype(int)).all(), "0 = with_mask"
    assert all(Path(p).is_file() for p in photos["path"])


def test_end_to_end_accuracy_counts_photos_without_a_face_as_wrong():
    # 6 photos (3 with, 3 without a mask); faces found in photos 0, 1, 3, 4, 5; photo 1 is misclassified.
    faces = mask.CropResult(np.zeros((5, 64, 64, 3), np.uint8), np.array([0, 1, 3, 4, 5]), {2: "no face found"})
    model = _Fixed([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.4, 0.6], [0.1, 0.9]])
    r = mask.evaluate_photos(model, faces, [0, 0, 0, 1, 1, 1])
    assert r.pred.tolist() == [0, 1, mask.NO_FACE, 1, 1, 1]
    assert r.missed.tolist() == [2] and r.wrong.tolist() == [1]
    assert r.accuracy_found == pytest.approx(4 / 5) and r.accuracy_end_to_end == pytest.approx(4 / 6)
    assert r.counts() == {"with_mask": {"photos": 3, "found": 2, "correct": 1},
                          "without_mask": {"photos": 3, "found": 3, "correct": 3}}
    assert r.confusion.tolist() == [[1, 1, 1], [0, 3, 0]]
    assert np.isnan(r.probability[2]) and r.probability[0] == pytest.approx(0.9)
    assert "end to end (no face = wrong) 0.67" in str(r) and "no face in   1" in str(r)


def test_first_answers_drop_what_only_a_retry_found():
    crops = np.arange(3, dtype=np.uint8).reshape(3, 1, 1, 1) * np.ones((3, 4, 4, 3), np.uint8)
    r = mask.CropResult(crops, np.array([0, 2, 3]), {1: "no face found"}, np.array([2]))
    first = r.first_answers()
    assert first.index.tolist() == [0, 3] and first.crops[:, 0, 0, 0].tolist() == [0, 2]
    assert first.skipped == {1: "no face found", 2: "no face found (before the retries)"}
    assert first.retried.size == 0 and r.index.tolist() == [0, 2, 3]  # the result itself is unchanged
    plain = mask.CropResult(crops, np.array([0, 2, 3]), {})
    assert plain.first_answers().index.tolist() == [0, 2, 3]


def test_evaluate_photos_with_no_face_at_all_and_bad_inputs():
    none = mask.CropResult(np.zeros((0, 64, 64, 3), np.uint8), np.zeros(0, np.int64), {0: "no face found"})
    r = mask.evaluate_photos(_Fixed([[1.0, 0.0]]), none, [0])
    assert r.accuracy_end_to_end == 0.0 and np.isnan(r.accuracy_found)
    two = mask.CropResult(np.zeros((2, 64, 64, 3), np.uint8), np.array([0, 3]), {})
    with pytest.raises(ValueError, match="labels of every photo"):
        mask.evaluate_photos(_Fixed([[1.0, 0.0]] * 2), two, [0, 1])
    with pytest.raises(ValueError, match="3 outputs|2 outputs"):
        mask.evaluate_photos(_Fixed([[0.2, 0.3, 0.5]] * 2), two, [0, 1, 1, 0])
    with pytest.raises(TypeError, match="FaceClassifier or a Keras model"):
        mask.predict_crops(object(), np.zeros((1, 64, 64, 3), np.uint8))


@pytest.mark.slow
def test_reference_model_on_the_real_photos_end_to_end():
    """Lesson 05, part 8: the detector and find_face's retries find nearly every face (the retries
    take the masked photos from 31 to 39 of 40); the reference model gets the found faces right."""
    photos = mask.load_real_photos()
    found = mask.crops_from_images(list(photos["path"]))
    r = mask.evaluate_photos(mask.load_classifier(), found, photos["y"])
    counts = r.counts()
    assert counts["without_mask"]["found"] >= 38 and counts["with_mask"]["found"] >= 36
    # the first answers kept in the result are what a run without the retries gives
    alone, first = found.first_answers(), mask.crops_from_images(list(photos["path"]), retry=False)
    assert np.array_equal(alone.index, first.index) and np.array_equal(alone.crops, first.crops)
    assert sorted(alone.skipped) == sorted(first.skipped) and len(found.retried) >= 5
    assert counts["with_mask"]["found"] - len(first.index[photos["y"].to_numpy()[first.index] == 0]) >= 5
    assert r.accuracy_found >= 0.95
    assert r.accuracy_end_to_end == pytest.approx(r.accuracy_found * r.found.mean(), abs=1e-9)
