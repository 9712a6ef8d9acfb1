"""course_utils: the helper library of the face-recognition course.

Notebooks import it under one short name::

    import course_utils as cu
    env = cu.setup()
    faces = cu.detect_faces(cu.load_sample("astronaut"))
    cu.show_faces(img, faces)

Importing this package has no side effects and is fast: the names below are loaded from their
modules on first use (TensorFlow and PyTorch only when a detector is built).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> module that defines it (one module per lesson topic; see README).
_EXPORTS = {
    # env (every lesson)
    "setup": "env", "Environment": "env", "detect_platform": "env",
    # images and samples
    "load_image": "images", "ImageError": "images",
    "load_sample": "samples", "sample_names": "samples", "save_sample": "samples",
    # lesson 02: detection
    "Face": "detection", "detect_faces": "detection", "get_detector": "detection",
    "crop_face": "detection", "largest_face": "detection", "trace_mtcnn": "detection",
    "BACKENDS": "detection", "nms": "detection", "box_iou": "detection",
    "draw_faces": "draw", "show_faces": "draw", "show_image": "draw", "show_grid": "draw",
    "detect_video": "video",
    # lesson 03: alignment
    "align_face": "alignment",
    # homework
    "check": "homework", "CheckFailed": "homework", "make_template": "homework",
    "check_drift": "homework", "find_homework": "homework",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
