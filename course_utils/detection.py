"""Face detection behind one interface (lesson 02).

    faces = cu.detect_faces(img)                      # MTCNN (ipazc mtcnn 1.0, TensorFlow)
    faces = cu.detect_faces(img, backend="facenet")   # facenet-pytorch's MTCNN (PyTorch)
    faces = cu.detect_faces(img, backend="haar")      # OpenCV's Viola-Jones cascade
    faces = cu.detect_faces(img, backend="hog")       # dlib's HOG + linear SVM (face_recognition's default)

Every backend returns a list of :class:`Face` records, sorted by score (highest first):

* ``box``: ``(x1, y1, x2, y2)`` in pixels of the *input* image, clipped to the image;
* ``score``: the detector's confidence (MTCNN: O-Net probability in [0, 1]; Haar: the
  cascade's level weight; HOG: the SVM's margin; both unbounded, only comparable within a backend);
* ``keypoints``: ``{"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}`` as
  ``(x, y)``, or ``None`` for Haar and HOG.  *Left* and *right* are as seen in the image: ``left_eye``
  is the eye with the smaller x (the subject's right eye).

An image with no face gives ``[]`` (never ``None``, never an exception).  A list of images gives
a list of such lists (batched where the backend can batch).  Large images are detected on a copy
whose longer side is ``max_side`` pixels and the boxes are mapped back.

Both MTCNN backends ship their weights inside their packages and dlib's HOG detector is built
into dlib, so all four work offline.

:func:`course_utils.face_finder.find_face` is for images that should show one face (a face crop, a portrait):
when the detector finds none it retries the way tight and masked crops need (issue 19), last with CenterFace
(:mod:`course_utils.centerface`, whose network the course ships in ``models/centerface/``); it lives above
this module and CenterFace's, which both use this module's ``Face``.

This module is over 500 lines on purpose: it is lesson 02's whole subject in one place (the four
backends behind one interface, the box helpers hw0 asks students to write,
and the step-by-step MTCNN trace the lesson draws), each part short; a fifth backend would be the
moment to move the backends into a module of their own.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import numpy as np

from .images import ImageLike, load_image, resize_max_side

BACKENDS = ("mtcnn", "facenet", "haar", "hog")
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
#: The three MTCNN thresholds (P-Net, R-Net, O-Net) that each implementation uses by default.
DEFAULT_THRESHOLDS = {"mtcnn": (0.6, 0.7, 0.8), "facenet": (0.6, 0.7, 0.7)}
#: Images are detected on a copy no larger than this (longer side, pixels).
DEFAULT_MAX_SIDE = 1600
#: MTCNN cannot see faces smaller than its 12-pixel P-Net window.
MIN_IMAGE_SIDE = 12


@dataclass(frozen=True)
class Face:
    """One detected face.  See the module docstring for the conventions."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: dict[str, tuple[float, float]] | None = None
    backend: str = ""

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    def __str__(self) -> str:
        """A short, rounded description (stable enough to print in notebooks)."""
        box = ", ".join(f"{v:.0f}" for v in self.box)
        text = f"Face({self.backend or '?'}) box=({box}) score={self.score:.2f}"
        if self.keypoints:
            text += " " + " ".join(f"{k}=({x:.0f}, {y:.0f})" for k, (x, y) in self.keypoints.items())
        return text

    def keypoints_array(self) -> np.ndarray:
        """The five keypoints as a (5, 2) float array in ``KEYPOINT_NAMES`` order.

        Raises:
            ValueError: the backend gave no keypoints (Haar).
        """
        if self.keypoints is None:
            raise ValueError(f"the {self.backend or 'detection'} backend gives no keypoints; "
                             "use backend='mtcnn' or 'facenet'")
        return np.array([self.keypoints[k] for k in KEYPOINT_NAMES], dtype=np.float64)

    def scaled(self, factor: float) -> "Face":
        """This face with all coordinates multiplied by ``factor``."""
        box = tuple(float(v) * factor for v in self.box)
        kps = None if self.keypoints is None else {
            k: (x * factor, y * factor) for k, (x, y) in self.keypoints.items()}
        return replace(self, box=box, keypoints=kps)


def clip_box(box: Sequence[float], width: int, height: int) -> tuple[float, float, float, float]:
    """Clip ``(x1, y1, x2, y2)`` to an image of the given size."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return (min(max(x1, 0.0), width), min(max(y1, 0.0), height),
            min(max(x2, 0.0), width), min(max(y2, 0.0), height))


def _preset(name: str) -> DetectorPreset:
    if name not in PRESETS and name not in BACKENDS:
        raise ValueError(f"unknown detector {name!r}; choose a preset ({', '.join(PRESETS)}) or a backend "
                         f"({', '.join(BACKENDS)})")
    return PRESETS.get(name) or DetectorPreset(name, None, PRESETS["default"].min_face_size, "the backend's own")


def _thresholds(backend: str, thresholds: Sequence[float] | None) -> tuple[float, float, float]:
    if thresholds is None:
        return DEFAULT_THRESHOLDS[backend]
    t = tuple(float(v) for v in thresholds)
    if len(t) != 3 or not all(0.0 <= v <= 1.0 for v in t):
        raise ValueError(f"thresholds must be three numbers in [0, 1] (P-Net, R-Net, O-Net), got {thresholds!r}")
    return t  # type: ignore[return-value]


# --------------------------------------------------------------------------------- backends


class Detector:
    """Base class of the backends: turns RGB uint8 arrays into lists of :class:`Face`."""

    name = ""
    can_batch = False

    def detect_arrays(self, images: list[np.ndarray]) -> list[list[Face]]:  # pragma: no cover
        raise NotImplementedError


#: Most pixels sent through the networks in one batch.  Measured on a 2-core CPU
#: (benchmarks/detection.py): batches of 640x480 images run faster per image than one by one, but
#: batches of 1280x720 images run slower (memory-bound), so large images go one at a time.
MAX_BATCH_PIXELS = 4 * 640 * 480


def group_by_shape(images: list[np.ndarray]) -> list[list[int]]:
    """Indices of the images, grouped by array shape (first-seen order), in chunks of at most
    :data:`MAX_BATCH_PIXELS` pixels (at least one image per chunk)."""
    groups: dict[tuple, list[int]] = {}
    for i, im in enumerate(images):
        groups.setdefault(im.shape, []).append(i)
    chunks = []
    for shape, idx in groups.items():
        size = max(1, MAX_BATCH_PIXELS // (shape[0] * shape[1]))
        chunks += [idx[k:k + size] for k in range(0, len(idx), size)]
    return chunks


@functools.lru_cache(maxsize=1)
def _ipazc_mtcnn():
    """ipazc's MTCNN with each stage's Keras network called as a traced TensorFlow graph (235 -> 55 ms per
    250x250 LFW image, identical boxes): :func:`course_utils.patches.mtcnn_stages_as_graphs`."""
    from mtcnn import MTCNN

    from .patches import closed_file_finalizers_dropped, mtcnn_stages_as_graphs

    with closed_file_finalizers_dropped():
        det = MTCNN(device="CPU:0")
    return mtcnn_stages_as_graphs(det)


def _mtcnn_shrink(min_face_size: int) -> float:
    """How much :class:`MTCNNDetector` shrinks an image before mtcnn sees it (1.0: not at all)."""
    return min(1.0, 20.0 / min_face_size)


def mtcnn_pyramid(width: int, height: int, min_face_size: int = 20, scale_factor: float = 0.709) -> list[float]:
    """The scales, relative to a ``width`` x ``height`` image, at which ``detect_faces(image, "mtcnn",
    min_face_size=...)`` runs P-Net (after ``max_side``'s shrinking, if any).

    From ``min_face_size`` = 20 on, they follow the 12-px rule: the first scale is 12 / ``min_face_size``
    (P-Net's 12-px window then covers a face of ``min_face_size`` pixels), each next one ``scale_factor``
    times the last, while the image's shorter side stays at least 12 px.  (mtcnn 1.0 alone counts its
    levels for 20 px whatever ``min_face_size`` is; the detector shrinks the image instead, see
    ``MTCNNDetector._detect_same_size``.)  An image too small for any level gives ``[]``.
    """
    from mtcnn.utils.images import build_scale_pyramid

    shrink, w, h = _mtcnn_shrink(min_face_size), int(width), int(height)
    if shrink < 1.0:  # as resize_max_side does it
        longest = max(w, h)
        shrink = max(MIN_IMAGE_SIDE, round(longest * shrink)) / longest
        w, h = max(1, round(w * shrink)), max(1, round(h * shrink))
    if min(w, h) < MIN_IMAGE_SIDE:
        return []
    scales = build_scale_pyramid(w, h, min_face_size=min(int(min_face_size), 20), scale_factor=scale_factor)
    return [float(v) * shrink for v in scales]


class MTCNNDetector(Detector):
    """ipazc ``mtcnn`` 1.0 (TensorFlow).  Batches images of equal size."""

    name = "mtcnn"
    can_batch = True

    def __init__(self, min_face_size: int = 20, thresholds: Sequence[float] | None = None,
                 scale_factor: float = 0.709):
        from .env import quiet_tensorflow

        quiet_tensorflow()
        self.model = _ipazc_mtcnn()  # thresholds and sizes are per call: one network serves all
        self.min_face_size = int(min_face_size)
        self.thresholds = _thresholds("mtcnn", thresholds)
        self.scale_factor = float(scale_factor)

    def raw_kwargs(self) -> dict:
        t = self.thresholds
        return dict(min_face_size=self.min_face_size, scale_factor=self.scale_factor,
                    threshold_pnet=t[0], threshold_rnet=t[1], threshold_onet=t[2])

    def detect_arrays(self, images):
        # mtcnn 1.0 pads a batch of mixed sizes to one tensor, which loses faces near the
        # padding; batching only images of the same size gives the single-image results.
        out: list[list[Face]] = [[] for _ in images]
        for idx in group_by_shape(images):
            found = self._detect_same_size([images[i] for i in idx])
            for i, faces in zip(idx, found):
                out[i] = faces
        return out

    def _detect_same_size(self, images):
        # mtcnn 1.0 counts its pyramid levels from the image size alone, as many as a min_face_size of
        # 20 px needs (mtcnn/utils/images.py, build_scale_pyramid, lines 44-54); only the first scale
        # follows min_face_size.  A larger min_face_size would produce levels smaller than P-Net's 12-px
        # window.  The 12-px rule's pyramid is obtained by shrinking the image by 20 / min_face_size and
        # searching from 20 px (mtcnn_pyramid computes the scales).
        shrink = _mtcnn_shrink(self.min_face_size)
        if shrink < 1.0:
            images = [resize_max_side(im, max(MIN_IMAGE_SIDE, round(max(im.shape[:2]) * shrink)))[0]
                      for im in images]
            if min(images[0].shape[:2]) < MIN_IMAGE_SIDE:
                return [[] for _ in images]
        kwargs = self.raw_kwargs()
        kwargs["min_face_size"] = min(self.min_face_size, 20)
        rows = self.model.detect_faces(list(images), box_format="xyxy", output_type="numpy", **kwargs)
        rows = np.asarray(rows).reshape(-1, 16) if np.size(rows) else np.empty((0, 16))
        out: list[list[Face]] = [[] for _ in images]
        for r in rows:
            i = int(r[0])
            # mtcnn's numpy rows hold the five x values, then the five y values.
            kps = {name: (float(r[6 + j]), float(r[11 + j])) for j, name in enumerate(KEYPOINT_NAMES)}
            face = Face(box=(float(r[1]), float(r[2]), float(r[3]), float(r[4])),
                        score=float(r[5]), keypoints=kps, backend=self.name)
            out[i].append(face.scaled(1.0 / shrink) if shrink < 1.0 else face)
        return out


class FacenetDetector(Detector):
    """facenet-pytorch's MTCNN (PyTorch, CPU).  Batches images of equal size."""

    name = "facenet"
    can_batch = True

    def __init__(self, min_face_size: int = 20, thresholds: Sequence[float] | None = None,
                 scale_factor: float = 0.709):
        from facenet_pytorch import MTCNN

        self.model = MTCNN(keep_all=True, min_face_size=int(min_face_size),
                           thresholds=list(_thresholds("facenet", thresholds)),
                           factor=float(scale_factor), select_largest=False, device="cpu")
        self.min_face_size = int(min_face_size)

    def _convert(self, boxes, probs, points) -> list[Face]:
        if boxes is None:
            return []
        faces = []
        for b, p, pts in zip(boxes, probs, points):
            kps = {name: (float(pts[j][0]), float(pts[j][1])) for j, name in enumerate(KEYPOINT_NAMES)}
            faces.append(Face(box=tuple(float(v) for v in b), score=float(p), keypoints=kps, backend=self.name))
        return faces

    def detect_arrays(self, images):
        import torch

        # facenet-pytorch batches only equal-sized images: group them by shape.  An image smaller than
        # min_face_size holds no face it looks for (and facenet-pytorch fails on it: no pyramid level).
        results: dict[int, list[Face]] = {}
        with torch.inference_mode():
            for idx in group_by_shape(images):
                if min(images[idx[0]].shape[:2]) < self.min_face_size:
                    results.update((i, []) for i in idx)
                    continue
                batch = np.stack([images[i] for i in idx])
                boxes, probs, points = self.model.detect(batch, landmarks=True)
                for k, i in enumerate(idx):
                    results[i] = self._convert(boxes[k], probs[k], points[k])
        return [results[i] for i in range(len(images))]


class HaarDetector(Detector):
    """OpenCV's frontal-face Haar cascade (Viola & Jones 2001), the classic baseline."""

    name = "haar"

    def __init__(self, min_face_size: int = 20, scale_factor: float = 1.1, min_neighbors: int = 5,
                 cascade: str = "haarcascade_frontalface_default.xml", thresholds=None):
        import cv2

        if thresholds is not None:
            raise ValueError("thresholds apply to the MTCNN backends; Haar uses min_neighbors")
        path = cv2.data.haarcascades + cascade
        self.model = cv2.CascadeClassifier(path)
        if self.model.empty():
            raise FileNotFoundError(f"OpenCV cascade not found or unreadable: {path}")
        self.min_face_size = int(min_face_size)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)

    def detect_arrays(self, images):
        import cv2

        out = []
        for im in images:
            gray = cv2.equalizeHist(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY))
            rects, _levels, weights = self.model.detectMultiScale3(
                gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(self.min_face_size, self.min_face_size), outputRejectLevels=True)
            faces = [Face(box=(float(x), float(y), float(x + w), float(y + h)), score=float(s), backend=self.name)
                     for (x, y, w, h), s in zip(np.asarray(rects).reshape(-1, 4), np.asarray(weights).reshape(-1))]
            out.append(faces)
        return out


class HogDetector(Detector):
    """dlib's frontal-face detector: HOG features and a linear SVM over a sliding 80x80 window
    (Dalal & Triggs 2005; dlib's ``get_frontal_face_detector``), the default of the
    ``face_recognition`` package (``face_locations(img, model="hog")``) and of OpenFace.

    ``upsample`` doubles the image that many times before scanning: 1 (face_recognition's
    default) finds faces down to about 40 px, 0 only from about 80 px and runs several times
    faster.  Gives no keypoints; the score is the SVM's margin (about 0 at the decision boundary).
    """

    name = "hog"

    def __init__(self, min_face_size: int = 20, thresholds=None, upsample: int = 1):
        import dlib

        if thresholds is not None:
            raise ValueError("thresholds apply to the MTCNN backends; HOG has none (filter with min_score)")
        if upsample not in (0, 1, 2):
            raise ValueError(f"upsample must be 0, 1 or 2 (times the image is doubled), got {upsample!r}")
        self.model = dlib.get_frontal_face_detector()
        self.min_face_size = int(min_face_size)
        self.upsample = int(upsample)

    def detect_arrays(self, images):
        out = []
        for im in images:
            rects, scores, _sub = self.model.run(np.ascontiguousarray(im), self.upsample, 0.0)
            faces = [Face(box=(float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1)),
                          score=float(s), backend=self.name) for r, s in zip(rects, scores)]
            out.append([f for f in faces if max(f.width, f.height) >= self.min_face_size])
        return out


_DETECTOR_CLASSES = {"mtcnn": MTCNNDetector, "facenet": FacenetDetector, "haar": HaarDetector, "hog": HogDetector}


@functools.lru_cache(maxsize=16)
def _cached_detector(backend: str, min_face_size: int, thresholds: tuple | None) -> Detector:
    return _DETECTOR_CLASSES[backend](min_face_size=min_face_size, thresholds=thresholds)


@dataclass(frozen=True)
class DetectorPreset:
    """A named detector setting (:data:`PRESETS`): a backend, its MTCNN stage thresholds (``None``: the
    backend's own, :data:`DEFAULT_THRESHOLDS`) and the smallest face looked for, with the reason for them."""

    backend: str
    thresholds: tuple[float, float, float] | None
    min_face_size: int
    why: str


#: The course's detector settings, by name: every caller builds its detector from one of these
#: (:func:`get_detector`), so that a setting and its reason are written once.
PRESETS = {
    "default": DetectorPreset(
        "mtcnn", None, 20,
        "lesson 02's detector (detect_faces, find_face, the emotion demo): ipazc mtcnn at its own thresholds found "
        "every portrait and crowd face of the course's labelled set, the most faces cut by the frame, none on "
        "empty scenes (benchmarks/detection.py); 20 px is the smallest face MTCNN's paper looks for"),
    "mask": DetectorPreset(
        "facenet", (0.5, 0.6, 0.6), 20,
        "lesson 05's mask pipeline: MTCNN misses many masked faces at its usual thresholds (the mask hides the "
        "mouth corners its stages look for); facenet-pytorch's MTCNN with lower thresholds finds them"),
    "retry": DetectorPreset(
        "facenet", (0.3, 0.4, 0.4), 20,
        "find_face's first retry, on a tight crop framed by its mean colour: lower still, as a mask hides the "
        "mouth, and a face found so is kept only at a high O-Net score (face_finder.RETRY)"),
}


def get_detector(detector: str | Detector = "default", *, min_face_size: int | None = None,
                 thresholds: Sequence[float] | None = None) -> Detector:
    """The (cached) detector of a preset of :data:`PRESETS` (``"default"``, ``"mask"``, ``"retry"``) or of a
    backend of :data:`BACKENDS` at its own thresholds; ``min_face_size`` and ``thresholds`` replace the
    preset's.  Loading a network takes about a second, so the same settings reuse the same object.

    A :class:`Detector` is returned as it is: its options were set when it was built, so passing
    ``min_face_size`` or ``thresholds`` with one is a ``ValueError`` (build it with them instead).
    """
    if isinstance(detector, Detector):
        given = [f"{k}={v!r}" for k, v in (("min_face_size", min_face_size), ("thresholds", thresholds))
                 if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} given with a {type(detector).__name__} that was built with its own "
                             f"options: options go to the detector when it is built (get_detector(NAME, "
                             f"{', '.join(given)}) with NAME a preset, {', '.join(PRESETS)}, or a backend), "
                             "or pass that name instead of the detector")
        return detector
    preset = _preset(detector)
    min_face_size = preset.min_face_size if min_face_size is None else min_face_size
    if min_face_size < 1:
        raise ValueError(f"min_face_size must be a positive number of pixels, got {min_face_size}")
    thresholds = preset.thresholds if thresholds is None else thresholds
    t = None if thresholds is None else tuple(float(v) for v in thresholds)
    return _cached_detector(preset.backend, int(min_face_size), t)


# --------------------------------------------------------------------------------- public API


def _postprocess(faces: Iterable[Face], scale: float, width: int, height: int, min_score: float) -> list[Face]:
    out = []
    for f in faces:
        if scale != 1.0:
            f = f.scaled(1.0 / scale)
        box = clip_box(f.box, width, height)
        if box[2] - box[0] <= 0 or box[3] - box[1] <= 0 or f.score < min_score:
            continue
        out.append(replace(f, box=box))
    return sorted(out, key=lambda f: -f.score)


def detect_faces(image: ImageLike | list[ImageLike], backend: str = "default", *,
                 min_face_size: int | None = None, thresholds: Sequence[float] | None = None,
                 min_score: float = 0.0, max_side: int | None = DEFAULT_MAX_SIDE,
                 detector: Detector | None = None) -> list[Face] | list[list[Face]]:
    """Find the faces in an image (or in each image of a list).

    Args:
        image: an image-like (path, bytes, PIL image, RGB array; see :func:`load_image`) or a
            list of them.  A list is detected in batches where the backend can.
        backend: ``"mtcnn"``, ``"facenet"``, ``"haar"`` or ``"hog"``, or a preset of :data:`PRESETS`
            (``"default"``: MTCNN; ``"mask"``: lesson 05's).
        min_face_size: smallest face to look for, in pixels of the detection copy (``None``: the
            preset's, 20).
        thresholds: MTCNN's three stage thresholds (P-Net, R-Net, O-Net); ``None`` keeps the
            preset's or the backend's (:data:`DEFAULT_THRESHOLDS`).
        min_score: drop faces scoring below this (after detection).
        max_side: detect on a copy whose longer side is at most this many pixels
            (``None``: never shrink).  Boxes are mapped back to the input's pixels.
        detector: an object from :func:`get_detector` to reuse, built with its options: giving
            ``backend``, ``min_face_size`` or ``thresholds`` too is a ``ValueError``.

    Returns:
        ``list[Face]`` sorted by score, or one such list per image for a list input.  An image
        with no face, or smaller than 12 pixels, gives ``[]``.

    Raises:
        ValueError: an unknown backend or bad option, or options beside a ``detector``.
        FileNotFoundError, ImageError: an input that cannot be read (see :func:`load_image`).
    """
    if detector is not None and backend != "default":
        raise ValueError(f"backend={backend!r} given with a detector that was built with its own backend: "
                         "pass one or the other")
    det = get_detector(detector if detector is not None else backend, min_face_size=min_face_size,
                       thresholds=thresholds)
    batched = isinstance(image, list)
    images = [load_image(im) for im in (image if batched else [image])]
    small, scales = [], []
    for im in images:
        s_im, s = resize_max_side(im, max_side) if max_side else (im, 1.0)
        small.append(s_im)
        scales.append(s)
    usable = [i for i, im in enumerate(small) if min(im.shape[:2]) >= MIN_IMAGE_SIDE]
    raw: dict[int, list[Face]] = {i: [] for i in range(len(images))}
    if usable:
        if det.can_batch:
            found = det.detect_arrays([small[i] for i in usable])
        else:
            found = [det.detect_arrays([small[i]])[0] for i in usable]
        raw.update(zip(usable, found))
    results = [_postprocess(raw[i], scales[i], images[i].shape[1], images[i].shape[0], min_score)
               for i in range(len(images))]
    return results if batched else results[0]


def pad_mean_colour(image: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """``image`` with borders of these widths in its own mean colour: a border that adds no edge a
    detector could take for part of a face (find_face's retries, CenterFace's letterbox)."""
    import cv2

    colour = [float(v) for v in image.reshape(-1, image.shape[2]).mean(0)]
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=colour)


def largest_face(faces: Sequence[Face]) -> Face | None:
    """The face with the largest box area, or ``None`` for an empty list."""
    return max(faces, key=lambda f: f.area, default=None)


def central_face(faces: Sequence[Face], image_shape: Sequence[int]) -> Face | None:
    """The face whose box centre is nearest the centre of an image of ``image_shape`` (h, w, ...),
    or ``None`` for an empty list.  Dataset crops such as LFW's are centred on the labelled person,
    who is not always the largest face in the picture."""
    h, w = image_shape[:2]
    return min(faces, key=lambda f: (f.center[0] - w / 2) ** 2 + (f.center[1] - h / 2) ** 2, default=None)


def expand_box(box: Sequence[float], margin: float = 0.2, square: bool = False) -> tuple[float, float, float, float]:
    """Grow ``box`` by ``margin`` times its size on every side (0.2 adds 20 % each side); with
    ``square=True`` first make it square around its centre (side = the longer side)."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    if square:
        cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(w, h)
        x1, y1, x2, y2, w, h = cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2, side, side
    return (x1 - margin * w, y1 - margin * h, x2 + margin * w, y2 + margin * h)


def crop_face(image: ImageLike, face: Face | Sequence[float], margin: float = 0.2,
              size: int | tuple[int, int] | None = None, square: bool = True) -> np.ndarray:
    """Cut a face out of an image.

    Args:
        image: the image the face was found in.
        face: a :class:`Face` or a box ``(x1, y1, x2, y2)``.
        margin: extra border, as a fraction of the box size on each side.
        size: resize the crop to ``size`` (int: square) or ``(width, height)``.
        square: make the crop square before adding the margin (what recognisers expect).

    Returns:
        An RGB uint8 array.  Parts of the crop outside the image are filled with black, so a
        face at the border keeps its position in the crop.
    """
    import cv2

    img = load_image(image)
    box = face.box if isinstance(face, Face) else tuple(face)
    x1, y1, x2, y2 = expand_box(box, margin, square)
    x1, y1, x2, y2 = math.floor(x1), math.floor(y1), math.ceil(x2), math.ceil(y2)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"empty face box {box}")
    h, w = img.shape[:2]
    out = np.zeros((y2 - y1, x2 - x1, 3), dtype=np.uint8)
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = img[sy1:sy2, sx1:sx2]
    if size is not None:
        wh = (size, size) if isinstance(size, int) else tuple(size)
        out = cv2.resize(out, wh, interpolation=cv2.INTER_AREA if wh[0] < out.shape[1] else cv2.INTER_LINEAR)
    return out


@dataclass
class CascadeTrace:
    """What each MTCNN stage produced on one image (``trace_mtcnn``), in input pixels.

    ``scales``: the image-pyramid scales P-Net ran at; ``pnet_windows``: every P-Net window that scored
    above P-Net's threshold, at every level, before any NMS (its box regression applied); ``pnet``,
    ``rnet``, ``onet``: the boxes that survived each stage (after its NMS).  Boxes are rows
    ``(x1, y1, x2, y2, score)``.
    """

    scales: list[float]
    pnet: np.ndarray
    rnet: np.ndarray
    onet: np.ndarray
    keypoints: np.ndarray = field(default_factory=lambda: np.empty((0, 5, 2)))
    pnet_windows: np.ndarray = field(default_factory=lambda: np.empty((0, 5)))


def _pnet_stage(stage, normalized, oshapes, min_face_size: int, scale_factor: float, threshold: float):
    """mtcnn 1.0's P-Net stage, step for step as ``mtcnn/stages/stage_pnet.py`` (lines 84-106) runs it,
    keeping its windows before any NMS: (windows, the stage's output)."""
    from mtcnn.utils.bboxes import generate_bounding_box, resize_to_square, smart_nms_from_bboxes, upscale_bboxes
    from mtcnn.utils.images import apply_scales, build_scale_pyramid

    groups = [build_scale_pyramid(shape[1], shape[0], min_face_size=min_face_size, scale_factor=scale_factor)
              for shape in oshapes]
    levels, level_scales = apply_scales(normalized, groups)
    n = normalized.shape[0]
    windows = [upscale_bboxes(generate_bounding_box(reg, cls, threshold), np.asarray([s] * n))
               for (reg, cls), s in zip((stage._model(level) for level in levels), level_scales)]
    kept = [smart_nms_from_bboxes(b, threshold=0.5, method="union", initial_sort=False) for b in windows]
    kept = np.concatenate(kept, axis=0) if kept else np.empty((0, 6))
    kept = smart_nms_from_bboxes(kept, threshold=0.7, method="union", initial_sort=True)
    all_windows = np.concatenate(windows, axis=0) if windows else np.empty((0, 6))
    return all_windows, resize_to_square(kept)


def trace_mtcnn(image: ImageLike, min_face_size: int = 20, thresholds: Sequence[float] | None = None,
                scale_factor: float = 0.709) -> CascadeTrace:
    """Run ipazc MTCNN one stage at a time and keep every stage's candidates (for teaching).

    The final stage equals ``detect_faces(image, "mtcnn")`` up to clipping and sorting.
    """
    import tensorflow as tf
    from mtcnn.utils.bboxes import fix_bboxes_offsets
    from mtcnn.utils.images import build_scale_pyramid, load_images_batch, standarize_batch

    if not 12 <= min_face_size <= 20:
        raise ValueError("trace_mtcnn follows mtcnn's own pyramid, which is valid for "
                         f"min_face_size 12-20 px; got {min_face_size} (detect_faces accepts any)")
    det = get_detector("mtcnn", min_face_size=min_face_size, thresholds=thresholds)
    assert isinstance(det, MTCNNDetector)
    kwargs = det.raw_kwargs()
    kwargs["scale_factor"] = scale_factor
    img = load_image(image)
    h, w = img.shape[:2]
    scales = [float(s) for s in build_scale_pyramid(w, h, min_face_size=min_face_size, scale_factor=scale_factor)]
    def fix(a, pad):  # boxes in the input's pixels (mtcnn pads a batch to one size)
        return fix_bboxes_offsets(np.array(a, dtype=np.float64), pad) if len(a) else np.empty((0, 16))

    with tf.device("CPU:0"):
        raw = load_images_batch([img])
        normalized, oshapes, pad = standarize_batch(raw, justification="center", normalize=True)
        pnet, *later = det.model.stages
        windows, boxes = _pnet_stage(pnet, normalized, oshapes, min_face_size, scale_factor, det.thresholds[0])
        stages_out = [fix(boxes, pad)]
        for stage in later:
            if len(boxes) == 0:
                break
            try:
                boxes = stage(bboxes_batch=boxes, images_normalized=normalized, images_oshapes=oshapes, **kwargs)
            except tf.errors.InvalidArgumentError:  # no candidate left
                boxes = np.empty((0, 16))
            stages_out.append(fix(boxes, pad))
    while len(stages_out) < 3:
        stages_out.append(np.empty((0, 16)))
    pick = lambda a: a[:, 1:6].astype(np.float64) if len(a) else np.empty((0, 5))  # noqa: E731
    onet = stages_out[2]
    kps = (np.stack([onet[:, 6:11], onet[:, 11:16]], axis=-1) if len(onet) and onet.shape[1] >= 16
           else np.empty((0, 5, 2)))
    return CascadeTrace(scales=scales, pnet=pick(stages_out[0]), rnet=pick(stages_out[1]), onet=pick(onet),
                        keypoints=kps, pnet_windows=pick(fix(windows, pad)))


def box_iou(box: Sequence[float], boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``(x1, y1, x2, y2)`` box with each row of ``boxes``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the boxes kept, best score first.

    Repeatedly keep the best remaining box and drop every box overlapping it by more than
    ``iou_threshold``.  (The same contract as ``torchvision.ops.nms``.)
    """
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        order = rest[box_iou(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
