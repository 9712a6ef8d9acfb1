"""5-point alignment lands the keypoints on the template; bad keypoints are refused."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils as cu
from course_utils.alignment import similarity_transform, template_points


def _similar(points, angle_deg, scale, shift):
    a = np.radians(angle_deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ rot.T + np.asarray(shift)


@pytest.mark.parametrize("template", ["facenet", "arcface"])
@pytest.mark.parametrize("angle, scale", [(0, 1.0), (25, 2.5), (-40, 0.6), (90, 1.3)])
def test_keypoints_of_a_rotated_scaled_face_land_on_the_template(template, angle, scale):
    dst, size = template_points(template)
    face_pts = _similar(dst, angle, scale, (300, 220))  # a face with known rotation and scale
    result = cu.align_face(np.zeros((600, 700, 3), np.uint8), face_pts, template=template, return_transform=True)
    assert result.image.shape == (size, size, 3)
    assert np.abs(result.transform_points(face_pts) - dst).max() < 1.0


@pytest.mark.parametrize("angle, scale", [(30, 1.8), (-15, 0.9)])
def test_warped_pixels_follow_the_transform(angle, scale):
    """Draw a dot at each keypoint, align the image, and find the dots in the crop."""
    import cv2

    dst, size = template_points("facenet")
    pts = _similar(dst, angle, scale, (250, 200))
    for (x, y), target in zip(pts, dst):
        img = np.zeros((500, 600, 3), np.uint8)
        cv2.circle(img, (int(round(x)), int(round(y))), 4, (255, 255, 255), -1)
        crop = cu.align_face(img, pts)[..., 0].astype(float)
        ys, xs = np.mgrid[: crop.shape[0], : crop.shape[1]]
        cx, cy = (crop * xs).sum() / crop.sum(), (crop * ys).sum() / crop.sum()
        # the dot was drawn at integer pixels: allow that rounding, scaled into the crop
        assert np.hypot(cx - target[0], cy - target[1]) < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["mtcnn", "facenet"])
def test_aligned_astronaut_has_level_eyes_with_either_backend(astronaut, backend):
    face = cu.detect_faces(astronaut, backend=backend)[0]
    res = cu.align_face(astronaut, face, return_transform=True)
    eyes = res.transform_points(face.keypoints_array()[:2])
    dst, _ = template_points("facenet")
    assert abs(eyes[0, 1] - eyes[1, 1]) < 2.0
    assert np.abs(eyes - dst[:2]).max() < 4.0


def test_margin_and_size_options():
    dst, size = template_points("arcface", size=224, margin=0.2)
    assert size == 224
    base, _ = template_points("arcface", size=224)
    assert np.linalg.norm(dst[0] - dst[1]) == pytest.approx(0.8 * np.linalg.norm(base[0] - base[1]))
    with pytest.raises(ValueError, match="arcface, facenet"):
        template_points("vgg")
    with pytest.raises(ValueError, match="margin"):
        template_points("facenet", margin=1.5)


def test_degenerate_and_missing_keypoints_are_refused(astronaut):
    with pytest.raises(ValueError, match="degenerate"):
        cu.align_face(astronaut, np.full((5, 2), 100.0))
    with pytest.raises(ValueError, match="five keypoints"):
        cu.align_face(astronaut, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        similarity_transform(np.full((5, 2), np.nan), np.zeros((5, 2)))
    haar_face = cu.Face(box=(10, 10, 50, 50), score=1.0, keypoints=None, backend="haar")
    with pytest.raises(ValueError, match="no keypoints"):
        cu.align_face(astronaut, haar_face)


def test_cascade_regions_go_from_the_whole_face_to_shrinking_patches_around_each_point():
    from course_utils.alignment import cascade_regions

    box = (100, 50, 200, 170)  # 100 wide, 120 high
    pts = template_points("facenet")[0] / 160 * 100 + (100, 60)
    regions = cascade_regions(box, pts)
    assert [len(regions[k]) for k in ("level 1", "level 2", "level 3")] == [3, 5, 5]
    whole, upper, lower = regions["level 1"]
    assert whole == (100.0, 50.0, 200.0, 170.0)
    assert upper[1] == 50 and upper[3] < 170 and lower[1] > 50 and lower[3] == 170 and upper[3] > lower[1]  # they overlap
    for level, side in ((2, 32.0), (3, 22.0)):
        for (x1, y1, x2, y2), (x, y) in zip(regions[f"level {level}"], pts):
            assert (x2 - x1, y2 - y1) == pytest.approx((side, side)) and ((x1 + x2) / 2, (y1 + y2) / 2) == pytest.approx((x, y))
    with pytest.raises(ValueError, match="five keypoints"):
        cascade_regions(box, pts[:4])
    with pytest.raises(ValueError, match="empty face box"):
        cascade_regions((10, 10, 10, 20), pts)
