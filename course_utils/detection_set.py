"""A labelled face-detection set built from the course's own real faces (issue 19).

Every face's box is known by construction: real LFW photos (``data/real/lfw_people``, deep-funneled,
so the face sits at the same place in each 250x250 photo: :data:`LFW_FACE_BOX`) are pasted at known
positions and sizes into face-free scenes (scikit-image's sample photos: a cup of coffee, a cat,
bricks, a rocket...).  The set holds the cases a detector meets in real use:

* ``portrait``: one face, 90-220 px;
* ``group``: 3-7 faces of 28-110 px in one scene (a crowd);
* ``small``: 2-4 faces of 22-34 px;
* ``cut``: faces cut by the frame (25-45 % of the box outside the image), beside whole ones;
* ``masked``: faces wearing a drawn mask (:func:`course_utils.add_masks` on the photo first);
* ``tight``: one face filling the image, as in face-mask collections (half of them masked);
* ``empty``: no face at all (false faces are counted there and everywhere else).

``build_set()`` is deterministic (a seed) and needs nothing but the repository: about 90 images,
built in a few seconds.  :func:`score` matches detections to the true boxes and reports recall,
false faces per image and the share of images whose face count is exact.

A detection *matches* a true box when their intersection over union (IoU) is at least 0.5, the rule
of PASCAL VOC that WIDER FACE adopts (Yang et al. 2016; the Python port of its evaluation,
``widerface_evaluate/evaluation.py`` in biubug6/Pytorch_Retinaface, counts a hit at
``max_overlap >= iou_thresh`` with ``iou_thresh=0.5``).  Detections are taken best score first, each
matching the still unmatched true box it overlaps most (``match``); a detection left over counts as a
false face, a true box left over as a missed one.

The true boxes are face boxes with the extent of MTCNN's (:data:`LFW_FACE_BOX` is the mean of
facenet-pytorch MTCNN's boxes on the LFW photos: forehead to chin, 3 wide to 4 high), not head boxes,
and every backend is held to that one box.  Haar's and HOG's boxes are square, wider than the labels
and, for HOG, lower, so a box on the right face can fall below 0.5: :class:`SetScore` keeps the IoU
of every hit (the benchmark prints their median) and counts those near misses (``near``: an unmatched detection whose centre lies in a
missed true box), so that a reader can tell a box convention from a miss.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .images import load_image

#: Where the face is in a 250x250 deep-funneled LFW photo (x1, y1, x2, y2): the mean of facenet-pytorch
#: MTCNN's boxes on the 68 photos of data/real/lfw_people (each edge varies by 6-9 px between photos).
LFW_FACE_BOX = (78.0, 64.0, 171.0, 188.0)
#: The scenes' size (width, height).
SCENE_SIZE = (640, 480)
KINDS = ("portrait", "group", "small", "cut", "masked", "tight", "empty")
#: scikit-image sample photos without a human face (the backgrounds).
BACKGROUNDS = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "clock", "horse",
               "hubble_deep_field", "page", "text", "coins", "moon", "immunohistochemistry", "retina", "colorwheel")


@dataclass
class Scene:
    """One labelled image: ``boxes`` holds the true face boxes (x1, y1, x2, y2), clipped to the
    image (a face cut by the frame keeps only its visible part)."""

    image: np.ndarray
    boxes: np.ndarray
    kind: str
    name: str = ""


def _rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3])


def backgrounds(size: tuple[int, int] = SCENE_SIZE) -> list[tuple[str, np.ndarray]]:
    """The face-free scenes, each resized and cropped to ``size`` (width, height)."""
    import cv2
    import skimage.data

    out = []
    w, h = size
    for name in BACKGROUNDS:
        img = _rgb(getattr(skimage.data, name)())
        f = max(w / img.shape[1], h / img.shape[0])
        img = cv2.resize(img, (max(w, round(img.shape[1] * f)), max(h, round(img.shape[0] * f))),
                         interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        y, x = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
        out.append((name, np.ascontiguousarray(img[y:y + h, x:x + w])))
    return out


def lfw_photos() -> list[np.ndarray]:
    """The 250x250 LFW photos of ``data/real/lfw_people``, in a fixed order."""
    from .samples import real_samples

    return [load_image(p) for p in sorted(real_samples("lfw_people").glob("*/*.jpg"))]


def _head(photo: np.ndarray, face_px: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """The photo's head region scaled so that its face box is ``face_px`` wide, with a soft oval
    alpha; and where the face box lies in it."""
    import cv2

    x1, y1, x2, y2 = LFW_FACE_BOX
    # the head and some hair and neck around the face box, inside the 250x250 photo
    cx, cy, bw, bh = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    hx1, hy1 = max(0, int(cx - 0.85 * bw)), max(0, int(cy - 0.8 * bh))
    hx2, hy2 = min(photo.shape[1], int(cx + 0.85 * bw)), min(photo.shape[0], int(cy + 0.75 * bh))
    head = photo[hy1:hy2, hx1:hx2]
    s = face_px / bw
    size = (max(2, round(head.shape[1] * s)), max(2, round(head.shape[0] * s)))
    head = cv2.resize(head, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    hh, ww = head.shape[:2]
    alpha = np.zeros((hh, ww), np.float32)
    cv2.ellipse(alpha, (ww // 2, hh // 2), (int(ww * 0.46), int(hh * 0.47)), 0, 0, 360, 1.0, -1)
    k = max(3, (min(hh, ww) // 8) | 1)
    alpha = cv2.GaussianBlur(alpha, (k, k), 0)
    face = ((x1 - hx1) * s, (y1 - hy1) * s, (x2 - hx1) * s, (y2 - hy1) * s)
    return head, alpha, face


def _paste(scene: np.ndarray, photo: np.ndarray, face_px: int, x: float, y: float) -> tuple[float, float, float, float]:
    """Paste a head whose face box is ``face_px`` wide with the box's top-left at (x, y) (may lie
    partly outside the scene); returns the face box in the scene, clipped to it."""
    head, alpha, (fx1, fy1, fx2, fy2) = _head(photo, face_px)
    ox, oy = int(round(x - fx1)), int(round(y - fy1))
    h, w = scene.shape[:2]
    sx1, sy1, sx2, sy2 = max(0, ox), max(0, oy), min(w, ox + head.shape[1]), min(h, oy + head.shape[0])
    if sx2 > sx1 and sy2 > sy1:
        part = head[sy1 - oy:sy2 - oy, sx1 - ox:sx2 - ox].astype(np.float32)
        a = alpha[sy1 - oy:sy2 - oy, sx1 - ox:sx2 - ox, None]
        scene[sy1:sy2, sx1:sx2] = (a * part + (1 - a) * scene[sy1:sy2, sx1:sx2]).astype(np.uint8)
    box = (ox + fx1, oy + fy1, ox + fx2, oy + fy2)
    return max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])


def _head_box(x: float, y: float, size: tuple[float, float]) -> tuple[float, float, float, float]:
    """The room a pasted head takes around a face box of ``size`` whose top-left corner is (x, y)."""
    bw, bh = size
    return (x - 0.5 * bw, y - 0.5 * bh, x + 1.5 * bw, y + 1.4 * bh)


def _free_spot(rng, taken: list, size: tuple[float, float], scene_wh: tuple[int, int], margin: float = 0.0):
    """A top-left corner for a face box of ``size`` that does not overlap the boxes taken (with
    their heads); None after many tries."""
    w, h = scene_wh
    bw, bh = size
    for _ in range(200):
        x = rng.uniform(-margin * bw, w - bw + margin * bw)
        y = rng.uniform(-margin * bh, h - bh + margin * bh)
        box = _head_box(x, y, size)
        if all(box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3] for t in taken):
            taken.append(box)
            return x, y
    return None


def build_set(seed: int = 0, per_kind: int = 12, masked_photos: list[np.ndarray] | None = None) -> list[Scene]:
    """The labelled set: ``per_kind`` scenes of each kind of :data:`KINDS` (see the module
    docstring), deterministic for a seed.  ``masked_photos``: the LFW photos with drawn masks
    (computed here with the course's detector and landmarks when not given)."""
    import cv2

    from .mask import add_masks

    rng = np.random.default_rng(seed)
    photos = lfw_photos()
    if masked_photos is None:
        masked_photos = [add_masks(p, style=None, seed=i) for i, p in enumerate(photos)]
    scenes_bg = backgrounds()
    ratio = (LFW_FACE_BOX[3] - LFW_FACE_BOX[1]) / (LFW_FACE_BOX[2] - LFW_FACE_BOX[0])
    out: list[Scene] = []
    for kind in KINDS:
        for i in range(per_kind):
            bg_name, bg = scenes_bg[int(rng.integers(len(scenes_bg)))]
            scene = bg.copy()
            boxes, taken = [], []
            if kind == "tight":
                photo = (masked_photos if i % 2 else photos)[int(rng.integers(len(photos)))]
                side = int(rng.integers(80, 200))
                x1, y1, x2, y2 = LFW_FACE_BOX
                pad = 0.08 * (x2 - x1)
                crop = photo[int(y1 - pad):int(y2 + pad), int(x1 - pad):int(x2 + pad)]
                f = side / crop.shape[1]
                scene = cv2.resize(crop, (side, round(crop.shape[0] * f)), interpolation=cv2.INTER_AREA)
                boxes = [(pad * f, pad * f, (x2 - x1 + pad) * f, (y2 - y1 + pad) * f)]
                out.append(Scene(scene, np.asarray(boxes, float).reshape(-1, 4), kind, f"tight-{i}"))
                continue
            n, sizes = {"portrait": (1, (90, 220)), "group": (int(rng.integers(3, 8)), (28, 110)),
                        "small": (int(rng.integers(2, 5)), (22, 34)), "cut": (int(rng.integers(2, 4)), (50, 130)),
                        "masked": (int(rng.integers(1, 4)), (50, 150)), "empty": (0, (0, 0))}[kind]
            for j in range(n):
                px = int(rng.integers(*sizes))
                size = (px, px * ratio)
                photo_set = masked_photos if kind == "masked" else photos
                photo = photo_set[int(rng.integers(len(photo_set)))]
                if kind == "cut" and j == 0:  # this one crosses an edge: 25-45 % of it outside
                    out_share = rng.uniform(0.25, 0.45)
                    edge = int(rng.integers(4))
                    x = rng.uniform(0.2 * SCENE_SIZE[0], 0.7 * SCENE_SIZE[0])
                    y = rng.uniform(0.2 * SCENE_SIZE[1], 0.6 * SCENE_SIZE[1])
                    x = (-out_share * size[0] if edge == 0 else SCENE_SIZE[0] - (1 - out_share) * size[0]
                         if edge == 1 else x)
                    y = (-out_share * size[1] if edge == 2 else SCENE_SIZE[1] - (1 - out_share) * size[1]
                         if edge == 3 else y)
                    taken.append(_head_box(x, y, size))
                    spot = (x, y)
                else:
                    spot = _free_spot(rng, taken, size, SCENE_SIZE)
                if spot is None:
                    continue
                boxes.append(_paste(scene, photo, px, *spot))
            out.append(Scene(scene, np.asarray(boxes, float).reshape(-1, 4), kind, f"{kind}-{i}-{bg_name}"))
    return out


# ------------------------------------------------------------------------------ scoring


#: A detection matches a true box from this IoU on (WIDER FACE's and PASCAL VOC's rule).
IOU_THRESHOLD = 0.5


def _pairs(pred: np.ndarray, truth: np.ndarray, iou_threshold: float) -> list[tuple[int, int, float]]:
    """(detection, true box, IoU) of the matches: detections in the order given (best score first),
    each taking the unmatched true box it overlaps most, if by at least ``iou_threshold``."""
    from .detection import box_iou

    pairs, free = [], np.ones(len(truth), bool)
    for i, p in enumerate(pred):
        if not free.any():
            break
        ious = np.where(free, box_iou(p, truth), -1.0)
        j = int(np.argmax(ious))
        if ious[j] >= iou_threshold:
            free[j] = False
            pairs.append((i, j, float(ious[j])))
    return pairs


def match(pred: np.ndarray, truth: np.ndarray, iou_threshold: float = IOU_THRESHOLD) -> tuple[int, int, int]:
    """(true positives, false faces, missed faces) of one image's predicted boxes, best score first,
    against its true boxes, by the rule of the module docstring."""
    pred, truth = np.asarray(pred, float).reshape(-1, 4), np.asarray(truth, float).reshape(-1, 4)
    tp = len(_pairs(pred, truth, iou_threshold))
    return tp, len(pred) - tp, len(truth) - tp


def _near_misses(pred: np.ndarray, truth: np.ndarray, pairs: list) -> int:
    """Unmatched detections whose centre lies in a still unmatched true box (at most one per box)."""
    used_p, used_t = {i for i, _, _ in pairs}, {j for _, j, _ in pairs}
    near = 0
    for i, p in enumerate(pred):
        if i in used_p:
            continue
        cx, cy = (p[0] + p[2]) / 2, (p[1] + p[3]) / 2
        for j, t in enumerate(truth):
            if j not in used_t and t[0] <= cx <= t[2] and t[1] <= cy <= t[3]:
                used_t.add(j)
                near += 1
                break
    return near


@dataclass
class SetScore:
    """Detection figures on a labelled set (overall and per kind).  ``ious``: the IoU of every hit;
    ``near``: detections on a missed face (centre inside its box) that overlap it by less than the
    threshold."""

    faces: int = 0
    found: int = 0
    false: int = 0
    images: int = 0
    exact: int = 0
    near: int = 0
    ious: list = field(default_factory=list)
    per_kind: dict = field(default_factory=dict)

    @property
    def recall(self) -> float:
        return self.found / self.faces if self.faces else 1.0

    @property
    def false_per_image(self) -> float:
        return self.false / self.images if self.images else 0.0

    @property
    def exact_rate(self) -> float:
        return self.exact / self.images if self.images else 0.0

    @property
    def median_iou(self) -> float:
        return float(np.median(self.ious)) if self.ious else 0.0


def score(scenes: list[Scene], detections: list, iou_threshold: float = IOU_THRESHOLD) -> SetScore:
    """Score one detection list per scene (faces with ``.box``, or boxes), each list best score first
    (as :func:`course_utils.detect_faces` returns them)."""
    total = SetScore()
    for scene, found in zip(scenes, detections, strict=True):
        pred = np.asarray([getattr(f, "box", f) for f in found], float).reshape(-1, 4)
        pairs = _pairs(pred, scene.boxes, iou_threshold)
        near = _near_misses(pred, scene.boxes, pairs)
        for s in (total, total.per_kind.setdefault(scene.kind, SetScore())):
            s.faces += len(scene.boxes)
            s.found += len(pairs)
            s.false += len(pred) - len(pairs)
            s.images += 1
            s.exact += int(len(pred) == len(scene.boxes))
            s.near += near
            s.ious += [iou for _, _, iou in pairs]
    return total
