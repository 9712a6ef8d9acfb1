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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from . import runtime
from .detection import Detector, Face, crop_face, detect_faces, get_detector
from .images import ImageLike, load_image
from .model_files import MODEL_SUFFIXES, find_model, load_model, read_sidecar, sidecar_path
from .runtime import LITERT_MAX_BATCH, LiteRTRunner

#: The fields whose change makes FaceClassifier's cached runtimes stale.
_CACHED_FROM = frozenset({"model", "path", "engine"})


def to_input(crops: Sequence[np.ndarray] | np.ndarray, size: int, channels: int = 1) -> np.ndarray:
    """Face crops (any size, RGB or gray uint8) to a network input: float32 (N, size, size, channels)
    in [0, 1].  ``channels`` 1 converts to gray, 3 keeps RGB.

    The one name for this step: :meth:`FaceClassifier.to_input`, ``cu.emotion.to_input`` and
    ``cu.mask.to_input`` call it with their model's size and channels."""
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
    #: What runs a few faces at a time, made from ``model`` on first use: a :class:`~course_utils.runtime.LiteRTRunner`,
    #: ``False`` (TensorFlow: LiteRT is off or failed), ``None`` (not decided yet).
    _lite: LiteRTRunner | bool | None = field(default=None, init=False, repr=False, compare=False)
    #: ``model``'s forward pass traced by TensorFlow, made on first use.
    _fn: object = field(default=None, init=False, repr=False, compare=False)

    def __setattr__(self, name, value):
        if name in _CACHED_FROM:  # a new model, file or engine: what was made from the old one is stale
            object.__setattr__(self, "_lite", None)
            object.__setattr__(self, "_fn", None)
        object.__setattr__(self, name, value)

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
    def load(cls, kind_or_path: str | Path, labels: Sequence[str] | None = None, margin: float | None = None):
        """Load ``"emotion"``/``"mask"`` (via :func:`~course_utils.model_files.find_model`) or a model
        file; the labels come from its side-car unless given."""
        p = Path(kind_or_path)
        path = p if p.suffix in MODEL_SUFFIXES + (".hdf5",) else find_model(str(kind_or_path))
        meta = read_sidecar(path) or {}
        labels = labels or meta.get("labels")
        if not labels:
            raise ValueError(f"{path} has no side-car {sidecar_path(path).name} with its labels: pass labels=")
        margin = meta.get("margin", 0.1) if margin is None else margin
        return cls(load_model(path), labels, margin=margin, name=path.stem, align=meta.get("align"), path=Path(path))

    def to_input(self, crops) -> np.ndarray:
        """Face crops to this model's input (:func:`to_input` with the model's size and channels)."""
        return to_input(crops, self.size, self.channels)

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
        if self._lite is None:
            self._lite = False
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
        if self._fn is None:
            import tensorflow as tf

            spec = tf.TensorSpec([None, self.size, self.size, self.channels], tf.float32)
            model = self.model
            self._fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        return self._fn

    def crops(self, image: ImageLike, faces: Sequence[Face]) -> list[np.ndarray]:
        """The network's view of each face: a box crop or an aligned crop (see the class docstring)."""
        return face_crops(image, faces, self.size, self.margin, self.align)

    def classify(self, image: ImageLike, faces: Sequence[Face]) -> list[Labelled]:
        """One :class:`Labelled` per face (an empty list for no face)."""
        probs = self.predict_crops(self.crops(image, faces)) if faces else []
        return [Labelled(f, self.labels[int(p.argmax())], float(p.max())) for f, p in zip(faces, probs)]


def classify_faces(image: ImageLike, classifier: FaceClassifier, *, detector: Detector | str = "mtcnn",
                   min_face_size: int = 20, retry: bool = False) -> list[Labelled]:
    """Detect the faces of ``image`` and classify each.  ``retry``: when the detector finds none,
    :func:`~course_utils.face_finder.find_face`'s retries for a tight or masked crop (the mask demo)."""
    from .face_finder import retry_face

    img = load_image(image)
    det = get_detector(detector, min_face_size=min_face_size) if isinstance(detector, str) else detector
    faces = detect_faces(img, detector=det)
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


def annotate_faces(image: ImageLike, classifier: FaceClassifier, *, detector: Detector | str = "mtcnn",
                   min_face_size: int = 20, retry: bool = False) -> tuple[np.ndarray, list[Labelled]]:
    """The demos' step: ``(annotated_image, labelled_faces)`` (``retry``: see :func:`classify_faces`)."""
    img = load_image(image)
    labelled = classify_faces(img, classifier, detector=detector, min_face_size=min_face_size, retry=retry)
    return draw_labelled(img, labelled), labelled

