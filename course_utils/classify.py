"""Classifying detected faces (lessons 04 and 05): the classifier and the shared demo step.

    clf = cu.FaceClassifier.load("emotion")                 # the course's reference model
    labelled = cu.classify_faces(img, clf)                  # detect with MTCNN, crop, classify
    drawn = cu.draw_labelled(img, labelled)

:class:`FaceClassifier` turns face crops into the model's input (:func:`to_input`; size and gray/RGB
read from the model), and :func:`classify_faces` / :func:`annotate_faces` are the detect -> crop ->
classify -> draw step that the image, video and webcam demos (``python -m course_utils.demo``) all run.

Where the rest went: model files (save, load, find, version checks) are :mod:`course_utils.model_files`,
the network parts and the training loop :mod:`course_utils.training`, the LiteRT runtime
:mod:`course_utils.runtime`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from . import runtime
from .detection import Detector, Face, crop_face, detect_faces, get_detector
from .images import ImageLike, load_image
from .model_files import MODEL_SUFFIXES, find_model, load_model, read_sidecar, sidecar_path
from .runtime import LITERT_MAX_BATCH, LiteRTRunner

def to_input(crops: Sequence[np.ndarray] | np.ndarray, size: int, channels: int = 1) -> np.ndarray:
    """Face crops (any size, RGB or gray uint8) to a network input: float32 (N, size, size, channels)
    in [0, 1].  ``channels`` 1 converts to gray, 3 keeps RGB.

    The one implementation of this step: :attr:`FaceClassifier.to_input`, ``cu.emotion.to_input`` and
    ``cu.mask.to_input`` are this function with their model's size and channels bound
    (``functools.partial``)."""
    import cv2

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    out = np.empty((len(crops), size, size, channels), dtype=np.float32)
    for i, f in enumerate(crops):
        a = np.asarray(f)
        if channels == 1 and a.ndim == 3:
            a = cv2.cvtColor(load_image(a), cv2.COLOR_RGB2GRAY)
        elif channels == 3:
            a = load_image(a)
        if a.shape[:2] != (size, size):
            a = cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA if a.shape[0] > size else cv2.INTER_LINEAR)
        out[i] = a.reshape(size, size, channels).astype(np.float32) / 255.0
    return out


def face_crops(image: ImageLike, faces: Sequence[Face], size: int, margin: float = 0.1,
               align: str | None = None) -> list[np.ndarray]:
    """Square RGB crops of ``faces``: box crops, or crops aligned on a template (``"arcface"``,
    ``"facenet"``) for faces that have keypoints.  Training and inference must use the same kind."""
    from .alignment import align_face

    img = load_image(image)
    out = []
    for f in faces:
        if align and isinstance(f, Face) and f.keypoints:
            out.append(align_face(img, f, template=align, size=size, margin=margin))
        else:
            out.append(crop_face(img, f, margin=margin, size=size))
    return out


#: Faces per batch when a whole data set is classified (Keras ``predict``): 256 crops of 48x48 (emotion) or
#: 128x128x3 (mask) hold 2-50 MB of input, well inside memory, and amortise Keras' per-batch overhead.
PREDICT_BATCH = 256


@dataclass
class Labelled:
    """A detected face with the class the model gave it."""

    face: Face
    label: str
    probability: float

    def __str__(self) -> str:
        x1, y1, x2, y2 = (round(v) for v in self.face.box)
        return f"{self.label} {self.probability:.2f} at ({x1}, {y1}, {x2}, {y2})"


@dataclass
class FaceClassifier:
    """A Keras model over face crops, with its labels; input size and channels come from the model.

    Crops are made as in training: ``align=None`` cuts the detector's box with ``margin`` (a fraction of
    the box on each side, :func:`~course_utils.detection.crop_face`); ``align="arcface"`` or ``"facenet"``
    warps the five keypoints onto that template with ``margin`` extra context
    (:func:`~course_utils.alignment.align_face`; a face without keypoints falls back to the box crop).
    """

    model: object
    labels: tuple[str, ...]
    margin: float = 0.1
    name: str = ""
    align: str | None = None
    #: The model file it was loaded from; its LiteRT conversion is cached under that file's content hash.
    path: Path | None = None
    #: ``"auto"``: a few faces at a time (a webcam frame) run on LiteRT when ``ai_edge_litert`` is installed,
    #: larger batches on TensorFlow; ``"tensorflow"``: always TensorFlow.
    engine: str = "auto"
    #: What runs a few faces at a time, made on first use: a :class:`~course_utils.runtime.LiteRTRunner`, or
    #: ``False`` (TensorFlow: LiteRT is off or failed); ``_lite_for`` is the ``(model, path, engine)`` it was made
    #: for, and a classifier given another model, file or engine makes it again.
    _lite: LiteRTRunner | bool | None = field(default=None, init=False, repr=False, compare=False)
    _lite_for: tuple | None = field(default=None, init=False, repr=False, compare=False)
    #: ``model``'s forward pass traced by TensorFlow, made on first use; ``_fn_for`` is the model it traced.
    _fn: object = field(default=None, init=False, repr=False, compare=False)
    _fn_for: object = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        self.labels = tuple(self.labels)
        shape = self.model.input_shape
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] not in (1, 3):
            raise ValueError(f"expected a model over square gray or RGB images, got input shape {shape}")
        if self.model.output_shape[-1] != len(self.labels):
            raise ValueError(f"{len(self.labels)} labels for a model with {self.model.output_shape[-1]} outputs")
        if self.engine not in ("auto", "tensorflow"):
            raise ValueError(f"engine must be 'auto' or 'tensorflow', got {self.engine!r}")

    @property
    def size(self) -> int:
        """The side of the model's square input, in pixels."""
        return int(self.model.input_shape[1])

    @property
    def channels(self) -> int:
        """1 (gray) or 3 (RGB): the model's input channels."""
        return int(self.model.input_shape[3])

    @classmethod
    def load(cls, kind_or_path: str | Path, path: str | Path | None = None, *, labels: Sequence[str] | None = None,
             margin: float | None = None, align: str | None = None):
        """The classifier in a model file, with the labels and crop settings of its side-car.

        ``kind_or_path``: a model file (``.keras``/``.h5``), or ``"emotion"``/``"mask"``, found by
        :func:`~course_utils.model_files.find_model` (``path`` if given, ``$COURSE_<KIND>_MODEL``,
        ``models/<kind>/<kind>.keras``, a Kaggle input).  ``labels``, ``margin`` and ``align`` are used where
        the side-car says nothing (a model saved without :func:`~course_utils.model_files.save_model`'s
        side-car): the lessons' ``load_classifier`` is this method with their kind and their values bound.
        """
        p = Path(kind_or_path)
        if p.suffix in MODEL_SUFFIXES + (".hdf5",):
            if path is not None:
                raise ValueError(f"give a model file or a kind and a path, not both: got {kind_or_path!r} and {path!r}")
            found = p
        else:
            found = find_model(str(kind_or_path), path)
        meta = read_sidecar(found) or {}
        labels = meta.get("labels") or labels
        if not labels:
            raise ValueError(f"{found} has no side-car {sidecar_path(found).name} with its labels: pass labels=")
        if meta.get("align") is not None or align is None:  # the side-car's crop (a box crop where it names none)
            align, margin = meta.get("align"), meta.get("margin", margin)
        # else the side-car names no aligned crop and the caller does: the caller's align and margin, together (a
        # margin is a share of the box in a box crop, context around the template in an aligned one)
        return cls(load_model(found), labels, margin=0.1 if margin is None else margin, name=found.stem, align=align,
                   path=Path(found))

    @property
    def to_input(self) -> functools.partial:
        """Face crops to this model's input: :func:`to_input` with the model's size and channels bound."""
        return functools.partial(to_input, size=self.size, channels=self.channels)

    def predict_crops(self, crops) -> np.ndarray:
        """Class probabilities (N, classes) for face crops."""
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        x = self.to_input(crops)
        if len(x) > PREDICT_BATCH:  # a data set: Keras' batched predict (one graph call per batch)
            return np.asarray(self.model.predict(x, batch_size=PREDICT_BATCH, verbose=0))
        lite = self._litert() if len(x) <= LITERT_MAX_BATCH else None
        if lite is not None:
            return lite(x)
        return np.asarray(self._compiled()(x))  # a few faces (a webcam frame): no per-call set-up

    @property
    def runtime(self) -> str:
        """What runs a few faces at a time: ``"litert"`` or ``"tensorflow"`` (after the first call)."""
        return "litert" if self._lite else "tensorflow"

    def _litert(self) -> LiteRTRunner | None:
        made_for = self._lite_for
        if made_for is None or made_for[0] is not self.model or made_for[1:] != (self.path, self.engine):
            self._lite, self._lite_for = False, (self.model, self.path, self.engine)
            if self.engine == "auto" and runtime.litert_available():
                try:
                    key = runtime.litert_cache_key(self.path) if self.path else None
                    self._lite = runtime.LiteRTRunner(self.model, cache_key=key)
                except Exception as exc:  # an optional accelerator: a model it cannot convert runs on TensorFlow
                    import warnings

                    warnings.warn(f"LiteRT could not run {self.name or 'this model'} ({type(exc).__name__}: {exc}); "
                                  "using TensorFlow", RuntimeWarning, stacklevel=3)
        return self._lite or None

    def _compiled(self):
        """The model's forward pass as one traced TensorFlow graph for any batch size (an eager call
        costs tens of milliseconds of Python overhead per frame; the graph about one)."""
        if self._fn is None or self._fn_for is not self.model:
            import tensorflow as tf

            spec = tf.TensorSpec([None, self.size, self.size, self.channels], tf.float32)
            model = self.model
            self._fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
            self._fn_for = model
        return self._fn

    def crops(self, image: ImageLike, faces: Sequence[Face]) -> list[np.ndarray]:
        """The network's view of each face: a box crop or an aligned crop (see the class docstring)."""
        return face_crops(image, faces, self.size, self.margin, self.align)

    def classify(self, image: ImageLike, faces: Sequence[Face]) -> list[Labelled]:
        """One :class:`Labelled` per face (an empty list for no face)."""
        probs = self.predict_crops(self.crops(image, faces)) if faces else []
        return [Labelled(f, self.labels[int(p.argmax())], float(p.max())) for f, p in zip(faces, probs)]


def classify_faces(image: ImageLike, classifier: FaceClassifier, *, detector: Detector | str = "default",
                   min_face_size: int | None = None, retry: bool = False) -> list[Labelled]:
    """Detect the faces of ``image`` and classify each.

    ``detector``: a preset of :data:`~course_utils.detection.PRESETS` (``"default"``, ``"mask"``, ...), a backend,
    or a :class:`~course_utils.detection.Detector` built with its options (``min_face_size`` is then an error:
    see :func:`~course_utils.detection.get_detector`).  ``retry``: when the detector finds none,
    :func:`~course_utils.face_finder.find_face`'s retries for a tight or masked crop (the mask demo)."""
    from .face_finder import retry_face

    img = load_image(image)
    faces = detect_faces(img, detector=get_detector(detector, min_face_size=min_face_size))
    if not faces and retry:
        faces = [f for f in [retry_face(img)] if f is not None]
    return classifier.classify(img, faces)


#: Box colours (RGB) for labels that the demos know; other labels are green.
LABEL_COLORS = {
    "angry": (230, 40, 40), "disgust": (120, 160, 0), "fear": (160, 60, 220), "happy": (255, 210, 0),
    "sad": (60, 120, 255), "surprise": (255, 140, 0), "neutral": (200, 200, 200),
    "with_mask": (40, 200, 60), "without_mask": (230, 40, 40),
}


def draw_labelled(image: ImageLike, labelled: Sequence[Labelled], show_probability: bool = True) -> np.ndarray:
    """A copy of ``image`` with each face boxed in its label's colour and captioned."""
    from .draw import draw_faces

    return draw_faces(image, [item.face for item in labelled],
                      color=[LABEL_COLORS.get(item.label, (0, 255, 0)) for item in labelled],
                      labels=[f"{item.label} {item.probability:.2f}" if show_probability else item.label
                              for item in labelled], show_keypoints=False)


def annotate_faces(image: ImageLike, classifier: FaceClassifier, *, detector: Detector | str = "default",
                   min_face_size: int | None = None, retry: bool = False) -> tuple[np.ndarray, list[Labelled]]:
    """The demos' step: ``(annotated_image, labelled_faces)`` (``detector``, ``retry``: see :func:`classify_faces`)."""
    img = load_image(image)
    labelled = classify_faces(img, classifier, detector=detector, min_face_size=min_face_size, retry=retry)
    return draw_labelled(img, labelled), labelled

