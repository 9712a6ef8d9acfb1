"""HW0's hidden checks (instructor only: never in a student release; see course_utils/tools/hidden.py).

Each probe runs the student's answer cells again, in a process of its own, on inputs made from the grading's
secret seed, and the grader compares the value with the reference solution's on the same inputs.
"""
import numpy as np

from course_utils.tools.hidden import Probe

PRELOAD = ["course_utils", "course_utils.alignment", "skimage.transform", "cv2", "matplotlib.pyplot"]
SETUP = "import numpy as np\nimport matplotlib.pyplot as plt\nimport course_utils as cu\n"
#: What question 2 and 4 ask the student to write, wherever a library has it.
OVERLAP_LIBRARIES = ("course_utils.detection:box_iou", "course_utils.detection:nms", "course_utils:box_iou",
                     "course_utils:nms")
NMS_LIBRARIES = OVERLAP_LIBRARIES + ("torchvision.ops:nms", "torchvision.ops:batched_nms", "cv2.dnn:NMSBoxes")
SIMILARITY_LIBRARIES = ("course_utils.alignment:similarity_transform", "skimage.transform:SimilarityTransform",
                        "skimage.transform:estimate_transform", "cv2:estimateAffinePartial2D", "cv2:estimateAffine2D")


def photos(rng):
    """Three LFW photos the notebook does not use, and another sample than its composite."""
    import course_utils as cu

    used = {"Kate_Hudson_0002", "Colin_Powell_0049", "Condoleezza_Rice_0005", "Tiger_Woods_0003", "Muhammad_Ali_0001"}
    paths = sorted(p for p in cu.real_samples("lfw_people").glob("*/*.jpg") if p.stem not in used)
    chosen = [paths[i] for i in sorted(rng.choice(len(paths), 3, replace=False))]
    return {"SAMPLE": str(rng.choice(["astronaut", "grace_hopper", "portrait_640"])),
            "PHOTOS": [p.stem for p in chosen],
            "photos": {p.stem: cu.load_image(p) for p in chosen}}


def _box(rng, centre, size):
    w, h = size * rng.uniform(0.6, 1.4, 2)
    x, y = centre + rng.normal(0, size / 4, 2)
    return (float(x - w / 2), float(y - h / 2), float(x + w / 2), float(y + h / 2))


def box_pairs(rng):
    """Pairs of boxes: overlapping, apart, nested, touching, identical; float and integer corners."""
    pairs = []
    for _ in range(40):
        centre, size = rng.uniform(50, 400, 2), rng.uniform(10, 120)
        pairs.append((_box(rng, centre, size), _box(rng, centre, size)))
    a = tuple(int(v) for v in rng.integers(0, 50, 2)) + tuple(int(v) for v in rng.integers(60, 120, 2))
    pairs += [(a, a), (a, (a[2], a[1], a[2] + 30, a[3])), (a, (a[0] + 5, a[1] + 5, a[2] - 5, a[3] - 5)),
              (a, (a[2] + 10, a[3] + 10, a[2] + 40, a[3] + 40))]
    return {"pairs": pairs}


def largest(rng):
    """Faces in score order whose largest box is neither the first nor the last."""
    import course_utils as cu

    faces = [cu.Face(_box(rng, rng.uniform(100, 500, 2), rng.uniform(20, 80)), float(s))
             for s in sorted(rng.uniform(0.9, 1.0, 7), reverse=True)]
    k = int(rng.integers(1, 6))
    x1, y1 = faces[k].box[:2]
    faces[k] = cu.Face((x1, y1, x1 + 200.5, y1 + 180.25), faces[k].score)
    return {"faces": faces}


def candidates(rng):
    """Candidate boxes clustered around a few faces, distinct scores in no order, and four thresholds."""
    boxes = []
    for centre, size in zip(rng.uniform(60, 600, (5, 2)), rng.uniform(20, 150, 5)):
        boxes += [_box(rng, centre, size) for _ in range(int(rng.integers(5, 25)))]
    boxes = np.array(boxes)
    scores = rng.permutation(np.linspace(0.6, 0.999, len(boxes)))
    return {"boxes": boxes, "scores": scores, "thresholds": [0.3, 0.5, 0.7, round(float(rng.uniform(0.2, 0.8)), 3)]}


def point_sets(rng):
    """Keypoints: the template turned, scaled, moved and jittered; and point sets mapped onto other points."""
    import course_utils as cu

    template, _ = cu.alignment.template_points("facenet")
    keypoints = []
    for _ in range(6):
        angle, scale = rng.uniform(-0.6, 0.6), rng.uniform(0.5, 2.5)
        turn = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        keypoints.append(template @ turn.T + rng.uniform(-80, 250, 2) + rng.normal(0, 3, (5, 2)))
    others = [(rng.uniform(0, 300, (5, 2)), rng.uniform(0, 300, (5, 2))) for _ in range(3)]
    return {"TEMPLATE": template, "keypoints": keypoints, "other_pairs": others,
            "mapped": lambda m, pts: (np.asarray(pts, float) @ np.asarray(m, float)[:, :2].T
                                      + np.asarray(m, float)[:, 2]).round(3)}


PROBES = [
    Probe("q1", cells=("q1-answer",), call="[n_faces] + list(counts)", inputs="photos", setup=SETUP, timeout=180),
    Probe("q2", cells=("q2-answer",), call="[float(iou(a, b)) for a, b in pairs]", inputs="box_pairs", setup=SETUP,
          tol=1e-6, forbid=OVERLAP_LIBRARIES, avoid=("box_iou", "generalized_box_iou", "box_area")),
    Probe("q3", cells=("q3-answer",), call="[float(v) for v in big.box]", inputs="largest", setup=SETUP, tol=1e-6),
    Probe("q4", cells=("q2-answer", "q4-answer"), call="[[int(i) for i in nms(boxes, scores, t)] for t in thresholds]",
          inputs="candidates", setup=SETUP, forbid=NMS_LIBRARIES,
          avoid=("box_iou", "nms", "batched_nms", "NMSBoxes", "non_max_suppression")),
    Probe("q5", cells=("q5-answer",), call="[mapped(similarity(kp, TEMPLATE), kp) for kp in keypoints] + "
          "[mapped(similarity(src, dst), src) for src, dst in other_pairs]", inputs="point_sets", setup=SETUP,
          tol=0.05, forbid=SIMILARITY_LIBRARIES,
          avoid=("similarity_transform", "SimilarityTransform", "estimate_transform", "estimateAffinePartial2D",
                 "estimateAffine2D", "_umeyama", "umeyama", "align_face")),
]
