"""hw0's methods without a kernel: every honest answer set (the solution's and the instructor's others)
implements IoU, NMS and the 5-point similarity transform as the library does, and the demo's half-right
answers do not (issue 17).  The graded run on real photos is in test_grading.py."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils as cu
from course_utils.alignment import similarity_transform, template_points
from course_utils.tools import authoring

HW0 = authoring.find_homework("hw0_face_detection")
SOLUTION = authoring.solution_answers(HW0)
EXTRA = authoring.load_instructor_answers()
pytestmark = pytest.mark.skipif(SOLUTION is None or EXTRA is None, reason=authoring.NO_SOLUTIONS)
ANSWER_SETS = {} if EXTRA is None else {"solution": SOLUTION, "honest": EXTRA.HW0_HONEST,
                                        "honest_numpy": EXTRA.HW0_HONEST_NUMPY}


def _methods(answers: dict[str, str]) -> dict:
    """Run the answers of q2, q4 and q5 (the methods) and return their namespace."""
    ns = {"np": np, "cu": cu}
    for cell in ("q2-answer", "q4-answer", "q5-answer"):
        exec(answers[cell], ns)  # noqa: S102 - our own answer code
    return ns


def _random_boxes(rng, n):
    xy = rng.uniform(0, 200, (n, 2))
    return np.hstack([xy, xy + rng.uniform(5, 80, (n, 2))]).round(1)


@pytest.mark.parametrize("name", sorted(ANSWER_SETS))
def test_each_honest_iou_and_nms_match_the_library(name):
    ns = _methods(ANSWER_SETS[name])
    rng = np.random.default_rng(0)
    boxes = _random_boxes(rng, 60)
    scores = rng.permutation(60) / 60  # distinct scores: one right order
    for a in boxes[:20]:
        for b in boxes[20:40]:
            assert ns["iou"](tuple(a), tuple(b)) == pytest.approx(cu.box_iou(a, [b])[0], abs=1e-9)
    assert ns["iou"]((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # touching boxes do not overlap
    for t in (0.1, 0.3, 0.5, 0.7):
        assert [int(i) for i in ns["nms"](boxes, scores, t)] == cu.nms(boxes, scores, t).tolist()


@pytest.mark.parametrize("name", sorted(ANSWER_SETS))
def test_each_honest_similarity_transform_matches_the_library(name):
    ns = _methods(ANSWER_SETS[name])
    dst, _ = template_points("facenet")
    rng = np.random.default_rng(1)
    for _ in range(10):
        angle, scale = rng.uniform(-np.pi, np.pi), rng.uniform(0.3, 3)
        rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        src = dst @ rot.T + rng.uniform(-300, 300, 2) + rng.normal(0, 3, dst.shape)  # a noisy face
        assert np.allclose(ns["similarity"](src, dst), similarity_transform(src, dst), atol=1e-8)


def test_half_right_methods_of_the_demo_submissions_fail_the_library_comparison():
    from course_utils.detection import trace_mtcnn

    answers = {**SOLUTION, "q4-answer": (
        "def nms(boxes, scores, iou_threshold):\n    keep = []\n    for i in range(len(boxes)):\n"
        "        if all(iou(boxes[i], boxes[k]) <= iou_threshold for k in keep):\n            keep.append(i)\n    return keep"),
        "q5-answer": "def similarity(src, dst):\n    return cu.alignment.similarity_transform(src[:2], dst[:2])"}
    ns = _methods(answers)
    photo = cu.load_image(cu.real_samples("lfw_people") / "Colin_Powell" / "Colin_Powell_0049.jpg")
    cand = trace_mtcnn(photo).pnet
    cand = cand[np.random.default_rng(0).permutation(len(cand))]  # as hw0 q4 shuffles them: P-Net's come sorted
    assert len(np.unique(cand[:, 4])) == len(cand)  # no ties: one right order
    assert [int(i) for i in ns["nms"](cand[:, :4], cand[:, 4], 0.5)] != cu.nms(cand[:, :4], cand[:, 4], 0.5).tolist()
    kp = cu.central_face(cu.detect_faces(photo), photo.shape).keypoints_array()
    dst, _ = template_points("facenet")
    mapped = lambda m: kp @ m[:, :2].T + m[:, 2]  # noqa: E731
    gap = np.abs(mapped(ns["similarity"](kp, dst)) - mapped(similarity_transform(kp, dst))).max()
    assert gap > 1.0  # pixels: far beyond q5's 0.05 px tolerance
