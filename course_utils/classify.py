"""Classifying detected faces (lessons 04 and 05): model files, the classifier, the shared demo step.

    clf = cu.FaceClassifier.load("emotion")                 # the course's reference model
    labelled = cu.classify_faces(img, clf)                  # detect with MTCNN, crop, classify
    drawn = cu.draw_labelled(img, labelled)

* **Model files.** :func:`save_model` writes Keras 3's ``.keras`` or the legacy ``.h5`` the lecture
  uses, plus a ``<file>.json`` side-car with the labels, the input shape and the library versions.
  :func:`load_model` checks versions: a file that this Keras cannot read raises
  :class:`ModelVersionError` naming both versions and the fix (the lecture's "Step 0": TensorFlow on
  Kaggle and on your PC must match).
* **Finding a model** (:func:`find_model`): an explicit path, then ``$COURSE_<KIND>_MODEL``, then
  ``models/<kind>/<kind>.keras`` in this repository, then any ``<kind>*.keras``/``.h5`` in a Kaggle
  input dataset.  Nothing found: :class:`ModelNotFoundError` says how to get one.
* :class:`FaceClassifier` turns face crops into the model's input (size and gray/RGB read from the
  model), and :func:`classify_faces` / :func:`annotate_faces` are the detect -> crop -> classify -> draw
  step that the image, video and webcam demos (``python -m course_utils.demo``) all run.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import keras_compat
from .detection import Detector, Face, crop_face, detect_faces, get_detector
from .env import KAGGLE_INPUT, REPO_ROOT
from .images import ImageLike, load_image
from .landmarks import ModelNotFoundError  # one error for every missing model file

MODEL_SUFFIXES = (".keras", ".h5")
MODELS_DIR = REPO_ROOT / "models"


class ModelVersionError(RuntimeError):
    """A model file that this TensorFlow/Keras cannot load; the message names both versions."""


def _keras():
    from .env import quiet_tensorflow

    quiet_tensorflow()
    import keras

    return keras


# ------------------------------------------------------------------------------ files


def runtime_versions() -> dict[str, str]:
    """Keras and TensorFlow versions of this environment."""
    import importlib.metadata as md

    out = {}
    for dist in ("keras", "tensorflow-cpu", "tensorflow"):
        try:
            out.setdefault(dist.replace("-cpu", ""), md.version(dist))
        except md.PackageNotFoundError:
            pass
    return out


def file_versions(path: str | Path) -> dict[str, str]:
    """The Keras version that saved a ``.keras`` or ``.h5`` file (plus TensorFlow's, from the
    side-car, when :func:`save_model` wrote it)."""
    path = Path(path)
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("metadata.json"))
        out = {"keras": meta.get("keras_version", "unknown")}
    elif path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            v = f.attrs.get("keras_version", "unknown")
            out = {"keras": v.decode() if isinstance(v, bytes) else str(v)}
    else:
        raise ValueError(f"unknown model file type {path.suffix!r}; use .keras or .h5")
    saved_with = (read_sidecar(path) or {}).get("saved_with", {})
    if "tensorflow" in saved_with:
        out["tensorflow"] = saved_with["tensorflow"]
    return out


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix(path.suffix + ".json")


def read_sidecar(path: str | Path) -> dict | None:
    """The ``<model>.json`` written by :func:`save_model`, or ``None`` when there is none."""
    p = sidecar_path(path)
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p} is not valid JSON ({exc}); delete it or save the model again") from exc


def save_model(model, path: str | Path, labels: Sequence[str], include_optimizer: bool = False, **info) -> Path:
    """Save as ``.keras`` (Keras 3's format) or ``.h5`` (the legacy format the lecture uses), with a
    ``.json`` side-car naming the labels, the input shape, the library versions and ``info``.

    The file holds the network for inference; ``include_optimizer=True`` also keeps the optimizer
    state (to resume training; Adam's state triples the size).
    """
    keras = _keras()
    path = Path(path)
    if path.suffix not in MODEL_SUFFIXES:
        raise ValueError(f"save as .keras or .h5, got {path.suffix!r}")
    if len(labels) != model.output_shape[-1]:
        raise ValueError(f"{len(labels)} labels for a model with {model.output_shape[-1]} outputs")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not include_optimizer and getattr(model, "optimizer", None) is not None:
        # A fresh copy of the network: Keras saves a compiled model's optimizer state with it.
        plain = model.__class__.from_config(model.get_config())
        plain.set_weights(model.get_weights())
        model = plain
    model.save(path)
    meta = {"labels": list(labels), "input": list(model.input_shape[1:]), "saved_with": runtime_versions(), **info}
    sidecar_path(path).write_text(json.dumps(meta, indent=2) + "\n")
    return path


def load_model(path: str | Path):
    """Load a ``.keras``/``.h5`` model (inference only, not compiled), checking versions.

    Raises:
        FileNotFoundError: no such file.
        ModelVersionError: the file cannot be loaded by the installed Keras; the message says which
            versions are involved and what to do.  A ``.keras`` file whose side-car records its
            ``architecture`` (the course's reference models) is first rebuilt by code and given the
            file's weights (:mod:`course_utils.keras_compat`).
        Errors that are not about versions (Keras cannot read a file that this same Keras saved) are
        raised as they are.
    """
    keras = _keras()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix not in MODEL_SUFFIXES + (".hdf5",):
        raise ValueError(f"unknown model file type {path.suffix!r}; use .keras or .h5")
    try:
        saved = file_versions(path)
    except (zipfile.BadZipFile, KeyError, OSError, json.JSONDecodeError) as exc:
        raise ModelVersionError(f"{path} is not a readable Keras model file ({type(exc).__name__}: {exc}); "
                                "download or save it again") from exc
    here = runtime_versions()
    try:
        return keras.models.load_model(path, compile=False)
    except keras_compat.DESERIALISATION_ERRORS as exc:
        if not keras_compat.versions_differ(saved, here):
            raise  # the Keras that saved it cannot read it either: not a version problem
        rebuilt, rebuild_failed = None, ""
        try:  # a reference model: its side-car says how to build the network by code
            rebuilt = keras_compat.rebuild_from_sidecar(path, read_sidecar(path))
        except keras_compat.ArchitectureMismatchError as why:
            rebuild_failed = f" Rebuilding it from its side-car failed too: {why}."
        if rebuilt is not None:
            return rebuilt
        tf_saved = f" / TensorFlow {saved['tensorflow']}" if "tensorflow" in saved else ""
        raise ModelVersionError(
            f"cannot load {path.name}: it was saved with Keras {saved.get('keras')}{tf_saved} and this "
            f"environment has Keras {here.get('keras')} / TensorFlow {here.get('tensorflow')}. Save the model "
            f"again with the same versions (on Kaggle: `pip install tensorflow=={here.get('tensorflow')} "
            f"keras=={here.get('keras')}` before training), or install the versions that saved it here. "
            f"Original error: {type(exc).__name__}: {exc}{rebuild_failed}") from exc


def find_model(kind: str, path: str | Path | None = None, *, environ=None,
               kaggle_input: str | Path | None = None, models_dir: str | Path | None = None) -> Path:
    """Locate a model file of ``kind`` (``"emotion"``, ``"mask"``); see the module docstring for the order.

    Raises:
        ModelNotFoundError: nothing found (or an explicit path / environment variable that does
            not exist); the message lists the places and how to make or get the file.
    """
    env = os.environ if environ is None else environ
    var = f"COURSE_{kind.upper()}_MODEL"
    given = given_file([(path, "the path you gave"), (env.get(var), f"${var}")], "model file")
    if given is not None:
        return given
    models_dir = MODELS_DIR if models_dir is None else Path(models_dir)
    for suffix in MODEL_SUFFIXES:
        p = models_dir / kind / f"{kind}{suffix}"
        if p.is_file():
            return p
    kaggle = KAGGLE_INPUT if kaggle_input is None else Path(kaggle_input)
    if kaggle.is_dir():
        hits = sorted(p for s in MODEL_SUFFIXES for p in kaggle.glob(f"**/{kind}*{s}") if p.is_file())
        if hits:
            return hits[0]
    raise ModelNotFoundError(
        f"no {kind} model found: looked at ${var}, {models_dir / kind}/{kind}.keras|.h5 and "
        f"{kaggle}/**/{kind}*.keras|.h5. The course repository ships one in models/{kind}/ (a fresh clone "
        f"has it); or train one with scripts/train_{kind}.py, or in the lesson notebook and "
        f"save it with cu.save_model, then point ${var} at the file (on Kaggle: attach the dataset that "
        "holds it).")


# ------------------------------------------------------------------------------ networks


def conv_blocks(x, widths: Sequence[int], convs: int = 1, momentum: float = 0.9, dropouts: Sequence[float] = ()):
    """The CNN body of the course's classifiers: per width, ``convs`` x (3x3 conv + batch norm + ReLU),
    then 2x2 max-pooling and, when given, dropout.  Returns the output tensor."""
    from keras import layers

    for i, f in enumerate(widths):
        for _ in range(convs):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=momentum)(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
        if i < len(dropouts) and dropouts[i]:
            x = layers.Dropout(dropouts[i])(x)
    return x


def softmax_head(inputs, x, num_classes: int, name: str, output: str, learning_rate: float, dropout: float = 0.2):
    """Global average pooling, dropout and a softmax over ``num_classes``; the model, compiled with Adam."""
    keras = _keras()
    from keras import layers

    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name=output)(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def fit(model, train: tuple, val: tuple, *, epochs: int, batch_size: int, patience: int, lr_patience: int,
        min_lr: float = 0.0, class_weight: dict[int, float] | None = None, checkpoint: str | Path | None = None,
        checkpoint_above: float | None = None, verbose: int = 0, extra_callbacks: Sequence = ()):
    """The course's training loop: ``model.fit`` with early stopping on validation accuracy (best
    weights restored), the learning rate halved after ``lr_patience`` epochs without a better
    validation loss, and optionally the best epoch saved to ``checkpoint``: only an epoch whose
    validation accuracy beats ``checkpoint_above`` when given (a resumed run then never replaces
    its checkpoint with a worse one).  Returns the History."""
    keras = _keras()
    callbacks = [*extra_callbacks,
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=lr_patience, min_lr=min_lr),
    ]
    if checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_accuracy", save_best_only=True,
                                                         initial_value_threshold=checkpoint_above))
    return model.fit(*train, validation_data=val, epochs=epochs, batch_size=batch_size, class_weight=class_weight,
                     callbacks=callbacks, verbose=verbose)


def given_file(candidates, what: str = "file") -> Path | None:
    """The first of ``(value, description)`` pairs that is set; it must be an existing file.

    Raises:
        ModelNotFoundError: a value that is set but is not a file (the message names where it came from).
    """
    for value, description in candidates:
        if value:
            p = Path(value).expanduser()
            if not p.is_file():
                raise ModelNotFoundError(f"{description} ({p}) is not a {what}")
            return p
    return None


# ------------------------------------------------------------------------------ classifier


def faces_to_input(crops: Sequence[np.ndarray] | np.ndarray, size: int, channels: int = 1) -> np.ndarray:
    """Face crops (any size, RGB or gray uint8) to a network input: float32 (N, size, size, channels)
    in [0, 1].  ``channels`` 1 converts to gray, 3 keeps RGB."""
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


#: Batches up to this size go to LiteRT (single faces are where TensorFlow's per-call cost dominates).
LITERT_MAX_BATCH = 16


def litert_available() -> bool:
    """Whether the LiteRT interpreter (``ai_edge_litert``, part of the course's environment) is installed."""
    import importlib.util

    return importlib.util.find_spec("ai_edge_litert") is not None


def _file_key(path: Path) -> str:
    """A cache key for a model file's LiteRT conversion: its content and the TensorFlow that converts it."""
    import hashlib

    import tensorflow as tf

    digest = hashlib.sha256(Path(path).read_bytes())
    digest.update(f"tensorflow {tf.__version__}".encode())
    return digest.hexdigest()[:24]


def to_litert(model) -> bytes:
    """The Keras ``model`` (inference mode: augmentation and dropout off) as a LiteRT flatbuffer."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    with _native_stderr_silenced():  # TensorFlow 2.18's converter logs its settings there
        return tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model).convert()


def _native_stderr_silenced():
    """Drop what C++ libraries write to file descriptor 2 for a moment (Jupyter would show their log
    lines in the notebook): LiteRT's delegate notice, the converter's "Ignored output_format" lines."""
    from .env import filtered_stderr

    return filtered_stderr(keep=lambda text: "")


class LiteRTRunner:
    """A Keras classifier run by the LiteRT interpreter (XNNPACK kernels): for one face, about 2 ms
    instead of TensorFlow's 7 ms on a 2-core CPU, with the same outputs (to 1e-6).

    The conversion (2-3 s) is cached in ``<data dir>/litert/<key>.tflite`` when ``cache_key`` (a hash of
    the model file and the TensorFlow version) is given.
    """

    def __init__(self, model, cache_key: str | None = None, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        content = None
        cached = None
        if cache_key:
            from .download import default_data_dir

            cached = default_data_dir() / "litert" / f"{cache_key}.tflite"
            if cached.is_file():
                content = cached.read_bytes()
        if content is None:
            content = to_litert(model)
            if cached is not None:
                try:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cached.with_suffix(f".{os.getpid()}.part")
                    tmp.write_bytes(content)
                    os.replace(tmp, cached)
                except OSError:  # a read-only data folder: convert again next time
                    cached = None
        self.cached = cached
        with _native_stderr_silenced():  # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate"
            self._it = Interpreter(model_content=content, num_threads=num_threads or min(2, os.cpu_count() or 1))
            self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        self._out = self._it.get_output_details()[0]["index"]
        self._shape = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        if x.shape != self._shape:
            self._it.resize_tensor_input(self._in, list(x.shape))
            with _native_stderr_silenced():
                self._it.allocate_tensors()
            self._shape = x.shape
        self._it.set_tensor(self._in, x)
        self._it.invoke()
        return self._it.get_tensor(self._out).copy()


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

    def __post_init__(self):
        self.labels = tuple(self.labels)
        shape = self.model.input_shape
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] not in (1, 3):
            raise ValueError(f"expected a model over square gray or RGB images, got input shape {shape}")
        if self.model.output_shape[-1] != len(self.labels):
            raise ValueError(f"{len(self.labels)} labels for a model with {self.model.output_shape[-1]} outputs")
        self.size, self.channels = int(shape[1]), int(shape[3])
        if self.engine not in ("auto", "tensorflow"):
            raise ValueError(f"engine must be 'auto' or 'tensorflow', got {self.engine!r}")

    @classmethod
    def load(cls, kind_or_path: str | Path, labels: Sequence[str] | None = None, margin: float | None = None):
        """Load ``"emotion"``/``"mask"`` (via :func:`find_model`) or a model file; the labels come
        from its side-car unless given."""
        p = Path(kind_or_path)
        path = p if p.suffix in MODEL_SUFFIXES + (".hdf5",) else find_model(str(kind_or_path))
        meta = read_sidecar(path) or {}
        labels = labels or meta.get("labels")
        if not labels:
            raise ValueError(f"{path} has no side-car {sidecar_path(path).name} with its labels: pass labels=")
        margin = meta.get("margin", 0.1) if margin is None else margin
        return cls(load_model(path), labels, margin=margin, name=path.stem, align=meta.get("align"), path=Path(path))

    def preprocess(self, crops) -> np.ndarray:
        return faces_to_input(crops, self.size, self.channels)

    def predict_crops(self, crops) -> np.ndarray:
        """Class probabilities (N, classes) for face crops."""
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        x = self.preprocess(crops)
        if len(x) > 256:
            return np.asarray(self.model.predict(x, batch_size=256, verbose=0))
        lite = self._litert() if len(x) <= LITERT_MAX_BATCH else None
        if lite is not None:
            return lite(x)
        return np.asarray(self._compiled()(x))  # a few faces (a webcam frame): no per-call set-up

    @property
    def runtime(self) -> str:
        """What runs a few faces at a time: ``"litert"`` or ``"tensorflow"`` (after the first call)."""
        return "litert" if getattr(self, "_lite", None) else "tensorflow"

    def _litert(self):
        if getattr(self, "_lite", None) is None:
            self._lite = False
            if self.engine == "auto" and litert_available():
                try:
                    self._lite = LiteRTRunner(self.model, cache_key=_file_key(self.path) if self.path else None)
                except Exception as exc:  # an optional accelerator: a model it cannot convert runs on TensorFlow
                    import warnings

                    warnings.warn(f"LiteRT could not run {self.name or 'this model'} ({type(exc).__name__}: {exc}); "
                                  "using TensorFlow", RuntimeWarning, stacklevel=3)
        return self._lite or None

    def _compiled(self):
        """The model's forward pass as one traced TensorFlow graph for any batch size (an eager call
        costs tens of milliseconds of Python overhead per frame; the graph about one)."""
        if getattr(self, "_fn", None) is None:
            import tensorflow as tf

            spec = tf.TensorSpec([None, self.size, self.size, self.channels], tf.float32)
            self._fn = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])
        return self._fn

    def crops(self, image: ImageLike, faces: Sequence[Face]) -> list[np.ndarray]:
        """The network's view of each face: a box crop or an aligned crop (see the class docstring)."""
        return face_crops(image, faces, self.size, self.margin, self.align)

    def classify(self, image: ImageLike, faces: Sequence[Face]) -> list[Labelled]:
        """One :class:`Labelled` per face (an empty list for no face)."""
        probs = self.predict_crops(self.crops(image, faces)) if faces else []
        return [Labelled(f, self.labels[int(p.argmax())], float(p.max())) for f, p in zip(faces, probs)]


def classify_faces(image: ImageLike, classifier: FaceClassifier, *, detector: Detector | str = "mtcnn",
                   min_face_size: int = 20) -> list[Labelled]:
    """Detect the faces of ``image`` and classify each."""
    img = load_image(image)
    det = get_detector(detector, min_face_size=min_face_size) if isinstance(detector, str) else detector
    return classifier.classify(img, detect_faces(img, detector=det))


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
                   min_face_size: int = 20) -> tuple[np.ndarray, list[Labelled]]:
    """The demos' step: ``(annotated_image, labelled_faces)``."""
    img = load_image(image)
    labelled = classify_faces(img, classifier, detector=detector, min_face_size=min_face_size)
    return draw_labelled(img, labelled), labelled
