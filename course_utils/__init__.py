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
from pathlib import Path

__version__ = "0.1.0"

#: public name -> module that defines it (one module per lesson topic, its parts by job: model_files,
#: training and runtime beside classify; embedders, gallery and verification beside identification; see README).
_EXPORTS = {
    # env (every lesson)
    "setup": "env", "Environment": "env", "detect_platform": "env",
    # images and samples
    "load_image": "images", "ImageError": "images",
    "load_sample": "samples", "sample_names": "samples", "save_sample": "samples", "real_samples": "samples",
    # lesson 01: datasets
    "fetch": "download", "safe_extract": "download", "DownloadError": "download",
    "UnsafeArchiveError": "download", "load_registry": "download", "RegistryEntry": "download",
    "DATASETS": "datasets", "find_dataset": "datasets", "sample_dataset": "datasets",
    "dataset_dir": "datasets", "DatasetFormatError": "datasets", "DatasetNotFoundError": "datasets",
    "MissingImagesError": "datasets", "LFWIndex": "datasets", "load_lfw": "datasets",
    "load_lfw_pairs": "datasets", "fetch_lfw": "datasets", "load_celeba": "datasets",
    "load_celeba_attributes": "datasets", "load_celeba_landmarks": "datasets",
    "load_celeba_bboxes": "datasets", "load_celeba_identities": "datasets",
    "load_celeba_partitions": "datasets", "load_vggface_urls": "datasets",
    "load_vggface2_meta": "datasets", "index_vggface2": "datasets", "load_fer2013_csv": "datasets",
    "load_fer2013_folders": "datasets", "load_face_mask": "datasets",
    "index_image_folders": "datasets", "FER2013_LABELS": "datasets", "CELEBA_ATTRIBUTES": "datasets",
    # lesson 02: detection
    "Face": "detection", "detect_faces": "detection", "get_detector": "detection",
    "crop_face": "detection", "largest_face": "detection", "central_face": "detection", "trace_mtcnn": "detection",
    "find_face": "face_finder",
    "BACKENDS": "detection", "nms": "detection", "box_iou": "detection",
    "draw_faces": "draw", "show_faces": "draw", "show_image": "draw", "show_grid": "draw", "text_slider": "draw",
    "detect_video": "video",
    # lesson 03: alignment, landmarks, head pose
    "align_face": "alignment",
    "detect_landmarks": "landmarks", "draw_landmarks": "landmarks", "LANDMARK_GROUPS": "landmarks",
    "eye_aspect_ratio": "landmarks", "landmark_group": "landmarks",
    "estimate_head_pose": "pose", "draw_pose_axes": "pose", "HeadPose": "pose",
    # lessons 04 and 05: classifying detected faces
    "FaceClassifier": "classify", "classify_faces": "classify", "annotate_faces": "classify",
    "draw_labelled": "classify", "save_model": "model_files", "load_model": "model_files",
    "find_model": "model_files", "ModelVersionError": "model_files", "ModelNotFoundError": "model_files",
    "save_image": "images",
    # lesson 05: masks (cu.mask.* for the rest)
    "add_masks": "mask", "draw_mask": "mask",
    # lesson 06: identification
    "get_embedder": "embedders", "Embedder": "embedders", "Gallery": "gallery",
    "enrol_folder": "gallery", "identify": "gallery", "draw_matches": "gallery",
    "verify_pairs": "verification", "UNKNOWN": "gallery", "EnrolmentError": "gallery",
    "BackendMismatchError": "gallery",
    # homework (making templates and grading: course_utils.tools)
    "check": "homework", "CheckFailed": "homework", "check_summary": "homework", "answered": "homework",
}

__all__ = sorted(_EXPORTS)


def _submodules() -> set[str]:
    """The package's modules and sub-packages (``cu.mask``, ``cu.emotion``, ...), by file name."""
    here = Path(__file__).parent
    return {p.stem for p in here.glob("[a-z]*.py")} | {p.name for p in here.iterdir()
                                                        if (p / "__init__.py").is_file()}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    elif name in _submodules():  # cu.mask.add_masks works without `import course_utils.mask`
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | _submodules())
