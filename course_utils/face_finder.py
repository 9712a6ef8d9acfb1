"""One face per image, even a hard one: :func:`find_face` and its retries (lessons 02 and 05).

A face crop, a portrait, a selfie or a masked face should show one face, yet MTCNN finds none in a tight
crop (its later stages lack the context around the face) or in many masked faces (it was trained on few).
:func:`find_face` asks the detector, then retries: the image framed by a border of its own mean colour with
lower thresholds, then CenterFace (:mod:`course_utils.centerface`).  This module sits above both detectors
(:mod:`course_utils.detection` and :mod:`course_utils.centerface`, which uses the detection module's
``Face``), so neither imports the other's caller.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import centerface
from .detection import (MIN_IMAGE_SIDE, Detector, Face, clip_box, detect_faces, get_detector, largest_face,
                        pad_mean_colour)
from .images import ImageLike, load_image


#: How :func:`find_face` retries an image in which the detector found no face (the framed image is searched
#: with the ``"retry"`` detector of :data:`~course_utils.detection.PRESETS`: facenet-pytorch's MTCNN at lower
#: thresholds).  Chosen on the photos of ../shared/data/facemask and on face-free images (scikit-image's sample
#: photos cut into tiles): the framed retry put no face on any of them; CenterFace's scores and size rule are
#: where no face-free image comes near them (models/centerface/MODEL_CARD.md); benchmarks/mask.py prints the figures.
RETRY = {
    "border": 0.25,                    # the image framed by its mean colour, this share of its longer side each way
    "min_score": 0.9,                  # ... a face found there (PRESETS["retry"]) is kept only at this O-Net score
    "centerface_borders": (0.1, 0.25),  # then CenterFace, on the image framed by each of these shares
    "centerface_score": 0.25,          # ... a face kept from this score
    "centerface_min_side": 0.3,        # ... and only a face whose box side is this share of the image's longer side,
    "centerface_small_score": 0.5,     # ... or a smaller face that scores this high
}


def _framed(image: np.ndarray, share: float) -> tuple[np.ndarray, int]:
    """``image`` with a border of its mean colour, ``share`` of its longer side on each side."""
    pad = int(round(max(image.shape[:2]) * share))
    return pad_mean_colour(image, pad, pad, pad, pad), pad


def _warn_no_centerface(message: str) -> None:
    import warnings

    warnings.warn(message, RuntimeWarning, stacklevel=3)  # the default filter shows it once per place


def _centerface_face(image: np.ndarray) -> Face | None:
    """The largest face CenterFace finds at :data:`RETRY`'s scores and size, trying each border."""
    from .model_files import ModelFileError, ModelNotFoundError

    min_side = RETRY["centerface_min_side"] * max(image.shape[:2])
    for border in RETRY["centerface_borders"]:
        try:
            faces = centerface.detect_square(image, border=border, threshold=RETRY["centerface_score"])
        except (ModelNotFoundError, ModelFileError) as exc:
            _warn_no_centerface(f"find_face skips its CenterFace retry: {exc}")
            return None
        face = largest_face([f for f in faces if max(f.width, f.height) >= min_side
                             or f.score >= RETRY["centerface_small_score"]])
        if face is not None:
            return face
    return None


def find_face(image: ImageLike, detector: Detector | str = "default", *, retry: bool = True) -> Face | None:
    """The face of an image that should show one (a face crop, a portrait, a selfie): the largest face
    ``detector`` finds (a :class:`~course_utils.detection.Detector`, or a preset or backend name for
    :func:`~course_utils.detection.get_detector`; ``"default"``: MTCNN, as
    :func:`~course_utils.detection.detect_faces`).  When it finds none and ``retry``:

    1. a **tight crop** (the face fills the frame, and MTCNN's later stages lack the context around
       it): the image is framed by a border of its mean colour and detected again with lower
       thresholds (the ``"retry"`` preset); a face found so is kept only if it scores at least 0.9
       (:data:`RETRY`);
    2. a **masked or cut face** (MTCNN was trained on few of them): CenterFace
       (:mod:`course_utils.centerface`, trained on WIDER FACE, whose faces include occluded and cut ones) on the image framed by
       10 % and then 25 %; its largest face that scores at least 0.25 and whose box side is at least 30 %
       of the image's longer side (a face crop's face is large; the size rule keeps face-free images
       clean), or, smaller, scores at least 0.5 (a small masked face in a larger photo).

    Returns ``None`` when there is no face (also for an image under 12 pixels).  Both retries cost
    time only for images without a face at first (tens of milliseconds each).  Without CenterFace's
    file (``models/centerface/``) the second retry is skipped with a warning.
    """
    img = load_image(image)
    face = largest_face(detect_faces(img, detector=get_detector(detector)))
    return face if face is not None or not retry else retry_face(img)


def retry_face(image: ImageLike) -> Face | None:
    """:func:`find_face`'s retries alone, for an image in which a detector has already found no face
    (so that a caller who ran the detector does not run it again); ``None`` when they find none too."""
    img = load_image(image)
    if min(img.shape[:2]) < MIN_IMAGE_SIDE:
        return None
    framed, pad = _framed(img, RETRY["border"])
    found = [f for f in detect_faces(framed, detector=get_detector("retry")) if f.score >= RETRY["min_score"]]
    face = largest_face(found)
    if face is not None:
        box = clip_box((face.box[0] - pad, face.box[1] - pad, face.box[2] - pad, face.box[3] - pad),
                       img.shape[1], img.shape[0])
        kps = {k: (x - pad, y - pad) for k, (x, y) in face.keypoints.items()} if face.keypoints else None
        return replace(face, box=box, keypoints=kps)
    return _centerface_face(img)
