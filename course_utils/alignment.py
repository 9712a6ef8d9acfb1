"""Face alignment from the five MTCNN keypoints (lesson 03; used from lesson 02 on).

A similarity transform (rotation, uniform scale, translation) maps the detected eyes, nose and
mouth corners onto a fixed template, so every aligned crop has the eyes on the same row::

    crop = cu.align_face(img, face)                     # 160x160, FaceNet-style
    crop = cu.align_face(img, face, template="arcface") # 112x112, ArcFace-style

Templates are in the same keypoint order as :data:`course_utils.detection.KEYPOINT_NAMES`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .detection import Face
from .images import ImageLike, load_image

#: The ArcFace / InsightFace 5-point template for a 112x112 crop (x, y), left_eye ... mouth_right.
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)

#: name -> (template points, output size).  "facenet" is the ArcFace template scaled to 160x160.
TEMPLATES = {
    "arcface": (ARCFACE_112, 112),
    "facenet": (ARCFACE_112 * (160 / 112), 160),
}


@dataclass(frozen=True)
class Alignment:
    """An aligned crop and the 2x3 matrix that maps input pixels to crop pixels."""

    image: np.ndarray
    matrix: np.ndarray

    def transform_points(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) points of the input image into the aligned crop."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2]


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama 1991) mapping ``src`` points onto ``dst``.

    Returns a 2x3 matrix ``M`` with ``dst ~= src @ M[:, :2].T + M[:, 2]``.

    Raises:
        ValueError: fewer than two points, shapes that differ, or degenerate source points
            (all equal, so no rotation or scale can be found).
    """
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape or len(src) < 2:
        raise ValueError(f"need two matching sets of at least 2 points, got {src.shape} and {dst.shape}")
    if not np.isfinite(src).all():
        raise ValueError("keypoints contain NaN or infinite values")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    var_s = (s0 ** 2).sum() / len(src)
    if var_s < 1e-9:
        raise ValueError("degenerate keypoints: all points are (nearly) the same, cannot align")
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    scale = (sig * d).sum() / var_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def template_points(template: str = "facenet", size: int | None = None, margin: float = 0.0) -> tuple[np.ndarray, int]:
    """Template keypoints for an output of ``size`` pixels; ``margin`` (a fraction, e.g. 0.2)
    shrinks the face towards the centre to leave more context around it."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}")
    if margin < 0 or margin >= 1:
        raise ValueError(f"margin must be in [0, 1), got {margin}")
    pts, base = TEMPLATES[template]
    out = int(size or base)
    pts = pts * (out / base)
    c = out / 2.0
    pts = c + (pts - c) * (1.0 - margin)
    return pts, out


def align_face(image: ImageLike, face: Face | np.ndarray | Sequence, template: str = "facenet",
               size: int | None = None, margin: float = 0.0, return_transform: bool = False):
    """Warp a face so that its five keypoints land on the template.

    Args:
        image: the image the face was found in.
        face: a :class:`Face` with keypoints (either MTCNN backend) or a (5, 2) array.
        template: ``"facenet"`` (160x160) or ``"arcface"`` (112x112).
        size: output side in pixels (default: the template's).
        margin: fraction of extra context (0 = the template as published).
        return_transform: return an :class:`Alignment` (crop + matrix) instead of the crop.

    Raises:
        ValueError: no keypoints (Haar faces), or degenerate keypoints.
    """
    import cv2

    img = load_image(image)
    pts = face.keypoints_array() if isinstance(face, Face) else np.asarray(face, dtype=np.float64).reshape(-1, 2)
    if pts.shape != (5, 2):
        raise ValueError(f"need five keypoints, got an array of shape {pts.shape}")
    dst, out = template_points(template, size, margin)
    m = similarity_transform(pts, dst)
    crop = cv2.warpAffine(img, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return Alignment(crop, m) if return_transform else crop


#: Sun, Wang & Tang (CVPR 2013), "Deep Convolutional Network Cascade for Facial Point Detection":
#: level 1 looks at the whole face and at its upper and lower parts (fractions of the box height);
#: levels 2 and 3 look at a small square around each point, of half-side this fraction of the box width.
CASCADE_LEVEL1_PARTS = {"whole face": (0.0, 1.0), "eyes and nose": (0.0, 0.72), "nose and mouth": (0.28, 1.0)}
CASCADE_PATCH_HALF_SIDE = {2: 0.16, 3: 0.11}


def cascade_regions(box: Sequence[float], keypoints: np.ndarray) -> dict[str, list[tuple[float, float, float, float]]]:
    """The image regions each level of a DeepID-style 5-point cascade looks at (for teaching; no model).

    Level 1: three networks see the whole face box, its upper part (eyes and nose) and its lower part
    (nose and mouth), and their predictions of the five points are averaged.  Levels 2 and 3: one
    small network per point sees a square patch around the previous level's estimate, smaller at
    each level (:data:`CASCADE_PATCH_HALF_SIDE`), and moves that point only: coarse to fine.

    Args:
        box: the face box ``(x1, y1, x2, y2)``.
        keypoints: the (5, 2) points the patches are centred on.

    Returns:
        ``{"level 1": [3 boxes], "level 2": [5 boxes], "level 3": [5 boxes]}``, each ``(x1, y1, x2, y2)``.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"empty face box {tuple(box)}")
    pts = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    if pts.shape != (5, 2):
        raise ValueError(f"need five keypoints, got an array of shape {pts.shape}")
    h, w = y2 - y1, x2 - x1
    out = {"level 1": [(x1, y1 + top * h, x2, y1 + bottom * h) for top, bottom in CASCADE_LEVEL1_PARTS.values()]}
    for level, half in CASCADE_PATCH_HALF_SIDE.items():
        r = half * w
        out[f"level {level}"] = [(x - r, y - r, x + r, y + r) for x, y in pts]
    return out
