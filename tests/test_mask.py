"""Face masks: synthetic masks from landmarks, the classifier's data and evaluation, the reference model
(and the check that it looks at masks, not at crop style)."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils as cu
from course_utils import classify, mask

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
    assert np.array_equal(out[~area][:1000], astronaut[~area][:1000]) or style  # pixels far away untouched
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
    assert "precision" in str(r)


@pytest.mark.slow
def test_small_cnn_shape():
    m = mask.build_model()
    assert m.input_shape == (None, 64, 64, 3) and m.output_shape == (None, 2) and m.count_params() < 200_000


@pytest.mark.slow
def test_transfer_model_offline_says_where_to_get_the_weights(monkeypatch):
    keras = classify._keras()
    real = keras.applications.MobileNetV2

    def offline(*args, weights=None, **kwargs):
        if weights == "imagenet":
            raise Exception("URL fetch failure: no internet")
        return real(*args, weights=weights, **kwargs)

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    with pytest.raises(classify.ModelNotFoundError, match=r"mobilenet_v2_weights_tf_dim_ordering.*_96_no_top\.h5"):
        mask.build_transfer_model()
    m = mask.build_transfer_model(weights=None)
    assert m.output_shape == (None, 2) and not m.layers[2].trainable


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
