"""Head pose from 2-D landmarks (lesson 03): yaw, pitch and roll with OpenCV's ``solvePnP``.

A generic 3-D face (six points, in millimetres) is fitted to the matching 68-point landmarks by a
pinhole camera whose focal length is the image width (a reasonable guess for photos when the
camera is unknown)::

    pose = cu.estimate_head_pose(landmarks68, img.shape)
    print(pose)                       # HeadPose(yaw=+12.3, pitch=-4.0, roll=+1.5)
    cu.draw_pose_axes(img, pose)      # arrows x (red, to the image's right), y (green, down), z (blue, out of the face)

Coordinates follow the camera: x to the image's right, y down, z away from the camera.  A face
looking straight into the camera has yaw = pitch = roll = 0.  The rotation is
``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``: **yaw** turns the head about the vertical axis
(positive: the face turns towards the image's left), **pitch** nods (positive: chin down),
**roll** tilts the head in the image plane (positive: clockwise as seen in the image).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .images import ImageLike, load_image

#: A generic face in millimetres, camera axes (x right, y down, z away from the camera), the nose
#: tip at the origin.  Rows match ``MODEL_LANDMARKS`` of the 68-point scheme.
MODEL_POINTS_3D = np.array([
    [0.0, 0.0, 0.0],          # 30 nose tip
    [0.0, 73.6, 15.0],        # 8  bottom of the chin
    [-43.3, -35.5, 26.0],     # 36 outer corner of the image-left eye
    [43.3, -35.5, 26.0],      # 45 outer corner of the image-right eye
    [-28.9, 30.3, 24.1],      # 48 image-left mouth corner
    [28.9, 30.3, 24.1],       # 54 image-right mouth corner
])
# Depths (z) are those of the generic model used in many head-pose tutorials; heights were set to
# the proportions of dlib's 68-point scheme on a neutral frontal face (nose tip 0.41, mouth corners
# 0.76 and chin 1.26 outer-eye distances below the eyes), so that a frontal face reads as pitch ~0.
MODEL_LANDMARKS = (30, 8, 36, 45, 48, 54)


@dataclass(frozen=True)
class HeadPose:
    """Angles in degrees, plus OpenCV's rotation and translation vectors and the camera matrix."""

    yaw: float
    pitch: float
    roll: float
    rvec: np.ndarray
    tvec: np.ndarray
    camera_matrix: np.ndarray

    def __str__(self) -> str:
        # round first, then add 0.0, so that -0.04 prints as +0.0 (stable notebook output)
        fmt = lambda v: f"{round(v, 1) + 0.0:+.1f}"  # noqa: E731
        return f"HeadPose(yaw={fmt(self.yaw)}, pitch={fmt(self.pitch)}, roll={fmt(self.roll)})"


def camera_matrix(image_shape: tuple[int, ...], focal: float | None = None) -> np.ndarray:
    """A pinhole camera for an image of this shape: focal length = width, centre in the middle."""
    h, w = image_shape[:2]
    f = float(focal or w)
    return np.array([[f, 0, w / 2.0], [0, f, h / 2.0], [0, 0, 1.0]])


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``Rz(roll) @ Ry(yaw) @ Rx(pitch)`` from angles in degrees."""
    y, p, r = np.radians([yaw, pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def euler_angles(rot: np.ndarray) -> tuple[float, float, float]:
    """Inverse of :func:`rotation_matrix`: ``(yaw, pitch, roll)`` in degrees."""
    yaw = np.degrees(np.arcsin(np.clip(-rot[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(rot[2, 1], rot[2, 2]))
    roll = np.degrees(np.arctan2(rot[1, 0], rot[0, 0]))
    return float(yaw), float(pitch), float(roll)


def project_model(yaw: float, pitch: float, roll: float, image_shape=(480, 640), distance_mm: float = 600.0,
                  points_3d: np.ndarray = MODEL_POINTS_3D) -> np.ndarray:
    """Where the model's points land in an image for a given pose (used to test the solver)."""
    import cv2

    rvec, _ = cv2.Rodrigues(rotation_matrix(yaw, pitch, roll))
    tvec = np.array([0.0, 0.0, distance_mm])
    pts, _ = cv2.projectPoints(points_3d, rvec, tvec, camera_matrix(image_shape), np.zeros(4))
    return pts.reshape(-1, 2)


def estimate_head_pose(landmarks: np.ndarray, image_shape: tuple[int, ...], focal: float | None = None) -> HeadPose:
    """Yaw, pitch and roll of a face from its 68 landmarks (or the six ``MODEL_LANDMARKS`` points).

    Raises:
        ValueError: landmarks of the wrong shape, or degenerate ones (all points equal).
    """
    import cv2

    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape == (68, 2):
        pts = pts[list(MODEL_LANDMARKS)]
    if pts.shape != (len(MODEL_LANDMARKS), 2):
        raise ValueError(f"need 68 landmarks or the {len(MODEL_LANDMARKS)} model points, got shape {pts.shape}")
    if np.ptp(pts, axis=0).max() < 1e-6:
        raise ValueError("degenerate landmarks: all points are the same, no pose can be estimated")
    cam = camera_matrix(image_shape, focal)
    # Start from a frontal face in front of the camera, so the solver does not flip behind it.
    rvec0 = np.zeros((3, 1))
    scale = np.linalg.norm(pts[3] - pts[2]) / np.linalg.norm(MODEL_POINTS_3D[3] - MODEL_POINTS_3D[2])
    tvec0 = np.array([[(pts[0, 0] - cam[0, 2]) / cam[0, 0]], [(pts[0, 1] - cam[1, 2]) / cam[1, 1]], [1.0]])
    tvec0 *= cam[0, 0] / max(scale, 1e-6)
    ok, rvec, tvec = cv2.solvePnP(MODEL_POINTS_3D, pts, cam, np.zeros(4), rvec0, tvec0,
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise ValueError("solvePnP found no pose for these landmarks")
    rot, _ = cv2.Rodrigues(rvec)
    yaw, pitch, roll = euler_angles(rot)
    return HeadPose(yaw, pitch, roll, rvec.reshape(3), tvec.reshape(3), cam)


#: The colours (RGB) of the x, y and z arrows of :func:`draw_pose_axes`.
AXIS_COLORS = ((255, 0, 0), (0, 200, 0), (0, 0, 255))


def draw_pose_axes(image: ImageLike, pose: HeadPose, length_mm: float = 60.0, thickness: int | None = None,
                   letters: bool = True) -> np.ndarray:
    """Return a copy of ``image`` with the head's x (red), y (green) and z (blue) axes drawn from the nose tip,
    each arrow lettered ``x``, ``y`` or ``z`` beyond its tip (``letters``): the letters, not red and green
    alone, say which axis is which (issue 27)."""
    import cv2

    from .draw import label_font

    out = load_image(image).copy()
    axes = np.array([[0, 0, 0], [length_mm, 0, 0], [0, length_mm, 0], [0, 0, -length_mm]], dtype=np.float64)
    pts, _ = cv2.projectPoints(axes, pose.rvec, pose.tvec, pose.camera_matrix, np.zeros(4))
    pts = np.round(pts.reshape(-1, 2)).astype(int)
    t = thickness or max(2, round(max(out.shape[:2]) / 250))
    for end, color in zip(pts[1:], AXIS_COLORS):
        cv2.arrowedLine(out, tuple(pts[0]), tuple(end), color, t, cv2.LINE_AA, tipLength=0.15)
    if letters:
        scale, weight = label_font(out.shape)
        for end, color, letter in zip(pts[1:], AXIS_COLORS, "xyz"):
            (tw, th), _ = cv2.getTextSize(letter, cv2.FONT_HERSHEY_SIMPLEX, scale, weight + 1)
            step = end - pts[0]
            step = step / max(np.linalg.norm(step), 1e-6) * (0.6 * max(tw, th) + t)   # just beyond the tip
            cx, cy = end + step
            x = int(np.clip(cx - tw / 2, 0, out.shape[1] - tw))
            y = int(np.clip(cy + th / 2, th, out.shape[0] - 1))
            cv2.putText(out, letter, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), weight + 3, cv2.LINE_AA)
            cv2.putText(out, letter, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, weight + 1, cv2.LINE_AA)
    return out
