"""detect_faces: the same Face records from every backend, on the offline sample images."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import course_utils as cu
from course_utils.detection import KEYPOINT_NAMES, Face, clip_box, expand_box

pytestmark = pytest.mark.slow

# Where a person sees the astronaut's face and features (pixels of the 512x512 image).
ASTRONAUT_FACE = (181, 63, 266, 172)
ASTRONAUT_EYES = {"left_eye": (204, 101), "right_eye": (246, 103)}


def _iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("backend", ["mtcnn", "facenet"])
def test_both_mtcnn_backends_find_the_astronaut_and_five_keypoints(astronaut, backend):
    faces = cu.detect_faces(astronaut, backend=backend)
    assert len(faces) == 1
    f = faces[0]
    assert isinstance(f, Face) and f.backend == backend
    assert f.score > 0.99
    assert _iou(f.box, ASTRONAUT_FACE) > 0.85
    assert set(f.keypoints) == set(KEYPOINT_NAMES)
    for name, (x, y) in ASTRONAUT_EYES.items():
        assert abs(f.keypoints[name][0] - x) < 4 and abs(f.keypoints[name][1] - y) < 4
    kp = f.keypoints_array()
    assert kp[0, 0] < kp[1, 0], "left_eye is the one on the image's left"
    assert kp[2, 1] < kp[3, 1], "nose above the mouth"
    x1, y1, x2, y2 = f.box
    assert ((kp[:, 0] > x1) & (kp[:, 0] < x2) & (kp[:, 1] > y1) & (kp[:, 1] < y2)).all()


def test_haar_finds_the_astronaut_without_keypoints(astronaut):
    faces = cu.detect_faces(astronaut, backend="haar")
    assert len(faces) == 1 and faces[0].keypoints is None
    assert _iou(faces[0].box, ASTRONAUT_FACE) > 0.6
    with pytest.raises(ValueError, match="no keypoints"):
        faces[0].keypoints_array()


@pytest.mark.parametrize("backend", ["mtcnn", "facenet"])
def test_group_photo_has_four_faces_sorted_by_score(group, backend):
    faces = cu.detect_faces(group, backend=backend)
    assert len(faces) == 4
    scores = [f.score for f in faces]
    assert scores == sorted(scores, reverse=True)
    for f in faces:
        assert 0 <= f.box[0] < f.box[2] <= 1280 and 0 <= f.box[1] < f.box[3] <= 720


def test_hog_finds_the_astronaut_and_every_face_of_the_group_without_keypoints(astronaut, group):
    faces = cu.detect_faces(astronaut, backend="hog")
    assert faces[0].backend == "hog" and faces[0].keypoints is None
    assert _iou(faces[0].box, ASTRONAUT_FACE) > 0.6 and faces[0].score > 1.0
    # upsampled, it also fires weakly on a second window (a margin near 0): filter with min_score
    assert all(f.score < 0.5 for f in faces[1:])
    assert len(cu.detect_faces(astronaut, backend="hog", min_score=0.5)) == 1
    found = cu.detect_faces(group, backend="hog")
    mtcnn = cu.detect_faces(group, backend="mtcnn")
    assert len(found) == 4
    assert [f.score for f in found] == sorted((f.score for f in found), reverse=True)
    for f in mtcnn:  # each face MTCNN finds, HOG finds at the same place
        assert max(_iou(f.box, h.box) for h in found) > 0.5


def test_hog_upsampling_finds_small_faces_that_the_80_px_window_misses(astronaut):
    from course_utils.detection import HogDetector

    small = np.asarray(Image.fromarray(astronaut).resize((256, 256), Image.BILINEAR))  # a 43-px face
    assert len(cu.detect_faces(small, detector=HogDetector(upsample=0))) == 0
    assert len(cu.detect_faces(small, backend="hog")) == 1  # upsample=1, face_recognition's default
    with pytest.raises(ValueError, match="upsample must be 0, 1 or 2"):
        HogDetector(upsample=5)
    with pytest.raises(ValueError, match="HOG has none"):
        cu.detect_faces(astronaut, backend="hog", thresholds=(0.5, 0.5, 0.5))
    assert cu.detect_faces(astronaut, backend="hog", min_face_size=200) == []


def test_hog_is_a_listed_backend_and_named_in_the_error():
    assert "hog" in cu.BACKENDS
    with pytest.raises(ValueError, match="mtcnn, facenet, haar, hog"):
        cu.detect_faces(np.zeros((50, 50, 3), np.uint8), backend="HOG")


@pytest.mark.parametrize("backend", ["mtcnn", "facenet", "haar", "hog"])
def test_no_face_gives_an_empty_list(backend):
    assert cu.detect_faces(cu.load_sample("coffee"), backend=backend) == []


@pytest.mark.parametrize("backend", ["mtcnn", "facenet", "haar", "hog"])
def test_tiny_and_flat_images_give_an_empty_list(backend):
    assert cu.detect_faces(np.zeros((1, 1, 3), np.uint8), backend=backend) == []
    assert cu.detect_faces(np.full((200, 300, 3), 127, np.uint8), backend=backend) == []
    # 12-19 px: above the size every backend skips, below the 20 px face they look for (facenet-pytorch
    # itself fails on such an image: its pyramid has no level); alone, in a batch, and through find_face
    noise = np.random.default_rng(0).integers(0, 255, (15, 18, 3), dtype=np.uint8)
    assert cu.detect_faces(noise, backend=backend) == []
    assert cu.detect_faces([noise, cu.load_sample("coffee")], backend=backend) == [[], []]
    assert cu.find_face(noise, cu.get_detector(backend)) is None


def test_unknown_backend_names_the_valid_ones(astronaut):
    with pytest.raises(ValueError, match="mtcnn, facenet, haar"):
        cu.detect_faces(astronaut, backend="yolo")
    with pytest.raises(ValueError, match="thresholds"):
        cu.detect_faces(astronaut, thresholds=(0.5, 2.0, 0.5))


@pytest.mark.parametrize("backend", ["mtcnn", "facenet"])
def test_batched_detection_matches_single_images(astronaut, group, backend):
    images = [astronaut, cu.load_sample("coffee"), group, astronaut]
    batched = cu.detect_faces(images, backend=backend)
    assert [len(r) for r in batched] == [1, 0, 4, 1]
    single = cu.detect_faces(astronaut, backend=backend)
    assert np.allclose(batched[0][0].box, single[0].box, atol=1.0)
    assert np.allclose(batched[3][0].box, single[0].box, atol=1.0)


def test_very_large_image_is_detected_on_a_copy_and_mapped_back(astronaut):
    big = np.asarray(Image.fromarray(astronaut).resize((4096, 4096), Image.BILINEAR))
    faces = cu.detect_faces(big, max_side=1024)
    assert len(faces) == 1
    expected = tuple(v * 8 for v in ASTRONAUT_FACE)
    assert _iou(faces[0].box, expected) > 0.8
    assert abs(faces[0].keypoints["left_eye"][0] - 8 * 204) < 40


def test_grayscale_rgba_16bit_and_exif_inputs_all_find_the_face(tmp_path, astronaut):
    gray = np.asarray(Image.fromarray(astronaut).convert("L"))
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    p16 = tmp_path / "a16.png"
    Image.fromarray((gray.astype(np.uint16) * 257)).save(p16)
    exif = Image.Exif()
    exif[0x0112] = 8  # stored rotated 90° clockwise; viewers rotate it back
    pexif = tmp_path / "rotated.jpg"
    Image.fromarray(astronaut).rotate(-90, expand=True).save(pexif, exif=exif, quality=95)
    for src in (gray, rgba, p16, pexif):
        faces = cu.detect_faces(src)
        assert len(faces) == 1, src if isinstance(src, type(tmp_path)) else type(src)
        assert _iou(faces[0].box, ASTRONAUT_FACE) > 0.7


def test_min_face_size_and_min_score_filter(group):
    all_faces = cu.detect_faces(group)
    big_only = cu.detect_faces(group, min_face_size=120)
    assert len(big_only) < len(all_faces)
    assert all(f.width >= 80 for f in big_only)
    assert cu.detect_faces(group, min_score=1.01) == []


def test_crop_face_with_margin_and_at_the_border(astronaut):
    face = cu.detect_faces(astronaut)[0]
    crop = cu.crop_face(astronaut, face, margin=0.2, size=160)
    assert crop.shape == (160, 160, 3) and crop.mean() > 30
    corner = cu.crop_face(astronaut, (-50, -50, 50, 50), margin=0, square=False)
    assert corner.shape == (100, 100, 3)
    assert corner[:50, :50].max() == 0, "outside the image is black"
    assert np.array_equal(corner[50:, 50:], astronaut[:50, :50])


def test_box_helpers():
    assert clip_box((-5, 10, 700, 20), 640, 480) == (0.0, 10.0, 640.0, 20.0)
    assert expand_box((0, 0, 10, 20), 0.1) == (-1.0, -2.0, 11.0, 22.0)
    assert expand_box((0, 0, 10, 20), 0, square=True) == (-5.0, 0.0, 15.0, 20.0)
    assert cu.largest_face([]) is None
    big_corner, small_middle = cu.Face((0, 0, 120, 120), 0.9), cu.Face((110, 110, 140, 140), 0.9)
    assert cu.largest_face([small_middle, big_corner]) is big_corner
    assert cu.central_face([big_corner, small_middle], (250, 250, 3)) is small_middle
    assert cu.central_face([], (250, 250)) is None


def test_mtcnn_networks_run_as_graphs_give_the_eager_results(group, astronaut):
    from mtcnn import MTCNN

    eager = MTCNN(device="CPU:0")
    for img in (group, astronaut, group[::2, ::2].copy()):
        raw = sorted(eager.detect_faces(img, box_format="xyxy"), key=lambda f: f["box"][0])
        ours = sorted(cu.detect_faces(img, "mtcnn", min_score=0), key=lambda f: f.box[0])
        assert len(raw) == len(ours) > 0
        for r, f in zip(raw, ours):
            assert np.allclose(r["box"], f.box, atol=1.0) and abs(r["confidence"] - f.score) < 1e-4
    det = cu.get_detector("mtcnn")
    assert all(hasattr(stage._model, "get_concrete_function") for stage in det.model.stages)  # traced graphs


def test_trace_mtcnn_stages_narrow_down_to_the_final_face(astronaut):
    trace = cu.trace_mtcnn(astronaut)
    assert trace.scales[0] == pytest.approx(12 / 20)
    assert len(trace.pnet) > len(trace.rnet) >= len(trace.onet) == 1
    final = cu.detect_faces(astronaut)[0]
    assert np.allclose(trace.onet[0, :4], final.box, atol=1.0)
    assert np.allclose(trace.keypoints[0], final.keypoints_array(), atol=1.0)


def test_trace_mtcnn_keeps_the_pnet_windows_before_nms_and_the_stage_output_of_mtcnn(astronaut):
    from mtcnn.utils.images import load_images_batch, standarize_batch

    trace = cu.trace_mtcnn(astronaut)
    assert trace.pnet_windows.shape[1] == 5 and len(trace.pnet_windows) > 2 * len(trace.pnet)
    assert trace.pnet_windows[:, 4].min() > 0.6                       # P-Net's threshold, nothing else
    assert len(cu.nms(trace.pnet_windows[:, :4], trace.pnet_windows[:, 4], 0.5)) < len(trace.pnet_windows) / 2
    det = cu.get_detector("mtcnn")                                   # mtcnn's own P-Net stage, in one call
    normalized, oshapes, _ = standarize_batch(load_images_batch([astronaut]), justification="center", normalize=True)
    ref = det.model.stages[0](images_normalized=normalized, images_oshapes=oshapes, **det.raw_kwargs())
    assert np.allclose(np.asarray(ref)[:, 1:6], trace.pnet)


def test_mtcnn_pyramid_follows_the_12_px_rule_where_mtcnn_alone_does_not():
    from mtcnn.utils.images import build_scale_pyramid

    for m, n in ((20, 10), (40, 8), (80, 6), (160, 4)):
        scales = cu.detection.mtcnn_pyramid(1000, 500, m)
        assert len(scales) == n and scales[0] == pytest.approx(12 / m, rel=1e-3)
        assert np.allclose(np.diff(np.log(scales)), np.log(0.709), atol=1e-3)
        assert 500 * scales[-1] >= 12 > 500 * scales[-1] * 0.709      # the last level still holds a window
        # mtcnn 1.0 counts its levels from the image size alone (what the detector works around)
        assert len(build_scale_pyramid(1000, 500, min_face_size=m, scale_factor=0.709)) == 10
    assert cu.detection.mtcnn_pyramid(20, 20, 160) == []


def test_draw_faces_returns_a_new_annotated_image(astronaut):
    faces = cu.detect_faces(astronaut)
    drawn = cu.draw_faces(astronaut, faces)
    assert drawn.shape == astronaut.shape and drawn is not astronaut
    assert (drawn != astronaut).any(axis=-1).sum() > 500
    with pytest.raises(ValueError, match="labels"):
        cu.draw_faces(astronaut, faces, labels=["a", "b"])


def test_nms_matches_torchvision_on_mtcnn_candidates(group):
    import torch
    from torchvision.ops import nms as tv_nms

    cand = cu.trace_mtcnn(group).pnet
    for thr in (0.3, 0.5, 0.7):
        ours = cu.nms(cand[:, :4], cand[:, 4], thr)
        ref = tv_nms(torch.tensor(cand[:, :4]), torch.tensor(cand[:, 4]), thr).numpy()
        assert np.array_equal(ours, ref)
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
    assert cu.nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
    with pytest.raises(ValueError, match="iou_threshold"):
        cu.nms(boxes, np.ones(3), 1.5)

