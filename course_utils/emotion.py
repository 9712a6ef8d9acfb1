"""Facial emotion recognition (lesson 04): a Keras 3 CNN on FER2013's 48x48 grayscale faces.

    x, y = cu.emotion.load_fer_arrays(df)                 # from the datasets lesson's loaders
    model = cu.emotion.build_model()
    history = cu.emotion.train(model, (x_tr, y_tr), (x_val, y_val), epochs=30)
    report = cu.emotion.evaluate(model, x_te, y_te)       # accuracy, per class, confusion matrix
    cu.emotion.save_model(model, "emotion.keras")         # or .h5, the lecture's format
    model = cu.emotion.load_model("emotion.keras")        # checks the TensorFlow/Keras versions

Labels are FER2013's codes 0-6 in the CSV order (:data:`EMOTIONS`).
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .images import ImageLike, load_image

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 48


def _keras():
    from .env import quiet_tensorflow

    quiet_tensorflow()
    import keras

    return keras


# ------------------------------------------------------------------------------ data


def load_fer_arrays(df, size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from a DataFrame of ``load_fer2013_folders`` (``path``, ``emotion``).

    Returns ``(x, y)``: uint8 (N, 48, 48) and int64 (N,).
    """
    from PIL import Image

    x = np.empty((len(df), size, size), dtype=np.uint8)
    for i, p in enumerate(df["path"]):
        with Image.open(p) as im:
            im = im.convert("L")
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            x[i] = np.asarray(im)
    return x, df["emotion"].to_numpy(dtype=np.int64)


def preprocess_faces(faces: Sequence[np.ndarray] | np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """Face crops (any size, RGB or gray) to the network's input: float32 (N, 48, 48, 1) in [0, 1]."""
    import cv2

    out = np.empty((len(faces), size, size, 1), dtype=np.float32)
    for i, f in enumerate(faces):
        a = np.asarray(f)
        if a.ndim == 3:
            a = cv2.cvtColor(load_image(a), cv2.COLOR_RGB2GRAY)
        if a.shape != (size, size):
            a = cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA)
        out[i, ..., 0] = a.astype(np.float32) / 255.0
    return out


def class_weights(labels: np.ndarray, num_classes: int = len(EMOTIONS), power: float = 0.5) -> dict[int, float]:
    """Weights that lift rare classes (FER2013's ``disgust`` is 1 % of the data).

    ``power=1`` is full inverse frequency, ``0.5`` its square root (milder, usually better on FER2013);
    weights are normalised to average 1 over the samples. A class absent from ``labels`` gets 1.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(np.float64)
    present = counts > 0
    w = np.ones(num_classes)
    w[present] = (counts[present].sum() / (present.sum() * counts[present])) ** power
    w /= (w * counts).sum() / max(counts.sum(), 1)
    return {i: float(v) for i, v in enumerate(w)}


def split_validation(y: np.ndarray, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified indices ``(train_idx, val_idx)``: the validation split is held back from train."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    tr, va = train_test_split(idx, test_size=fraction, random_state=seed, stratify=y)
    return np.sort(tr), np.sort(va)


# ------------------------------------------------------------------------------ model


def build_model(num_classes: int = len(EMOTIONS), width: int = 32, dropout: float = 0.3,
                augment: bool = True, input_size: int = INPUT_SIZE):
    """A VGG-style CNN: four blocks of two 3x3 conv + batch norm + ReLU, max-pooling and dropout,
    then global average pooling and a small dense head (about 1.2 M parameters at ``width=32``).

    ``augment`` puts random flips, small rotations, zooms and shifts in front of the network; Keras
    applies them only while training.
    """
    keras = _keras()
    from keras import layers

    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = inputs
    if augment:
        x = layers.RandomFlip("horizontal")(x)
        x = layers.RandomRotation(0.05, fill_mode="nearest")(x)
        x = layers.RandomZoom(0.1, fill_mode="nearest")(x)
        x = layers.RandomTranslation(0.08, 0.08, fill_mode="nearest")(x)
    for i, f in enumerate([width, 2 * width, 4 * width, 8 * width]):
        for _ in range(2):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(dropout * (0.5 + 0.25 * i))(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(8 * width, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    model = keras.Model(inputs, outputs, name="fer_cnn")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(model, train_data: tuple[np.ndarray, np.ndarray], val_data: tuple[np.ndarray, np.ndarray],
          epochs: int = 30, batch_size: int = 64, weights: dict[int, float] | None | str = "auto",
          patience: int = 8, checkpoint: str | Path | None = None, verbose: int = 2):
    """Fit with early stopping on validation accuracy (best weights restored) and a learning rate
    that halves on plateaus. ``weights="auto"`` uses :func:`class_weights`.  Returns the History.

    ``verbose``: 2 prints one line per epoch (the progress a long run needs), 0 is silent.
    """
    keras = _keras()
    xt, yt = train_data
    xv, yv = val_data
    xt = preprocess_faces(xt) if np.asarray(xt).dtype == np.uint8 else xt
    xv = preprocess_faces(xv) if np.asarray(xv).dtype == np.uint8 else xv
    if isinstance(weights, str):
        if weights != "auto":
            raise ValueError(f"weights must be 'auto', None or a dict, got {weights!r}")
        weights = class_weights(yt)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(2, patience // 3), min_lr=1e-5),
    ]
    if checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_accuracy", save_best_only=True))
    return model.fit(xt, yt, validation_data=(xv, yv), epochs=epochs, batch_size=batch_size,
                     class_weight=weights, callbacks=callbacks, verbose=verbose)


@dataclass
class EmotionReport:
    """Accuracy overall and per class, and the confusion matrix (rows: truth, columns: prediction)."""

    accuracy: float
    per_class: dict[str, float]
    confusion: np.ndarray
    labels: tuple[str, ...] = EMOTIONS

    def __str__(self) -> str:
        lines = [f"accuracy {self.accuracy:.3f}"]
        lines += [f"  {k:9s} {v:.3f}" if v == v else f"  {k:9s}   n/a" for k, v in self.per_class.items()]
        return "\n".join(lines)


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> EmotionReport:
    """Accuracy, per-class accuracy (recall; NaN for a class with no test image) and confusion matrix."""
    from sklearn.metrics import confusion_matrix

    xp = preprocess_faces(x) if np.asarray(x).dtype == np.uint8 else x
    pred = model.predict(xp, batch_size=batch_size, verbose=0).argmax(1)
    n = len(EMOTIONS)
    cm = confusion_matrix(y, pred, labels=list(range(n)))
    support = cm.sum(1)
    per = {EMOTIONS[i]: (float(cm[i, i] / support[i]) if support[i] else float("nan")) for i in range(n)}
    return EmotionReport(float((pred == y).mean()), per, cm)


def show_confusion(report: EmotionReport, ax=None, normalize: bool = True):
    """Plot the confusion matrix; returns the Axes."""
    import matplotlib.pyplot as plt

    cm = report.confusion.astype(np.float64)
    if normalize:
        cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(len(report.labels)), report.labels, rotation=45, ha="right")
    ax.set_yticks(range(len(report.labels)), report.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]:.2f}" if normalize else int(cm[i, j]), ha="center", va="center",
                    fontsize=8, color="white" if cm[i, j] > 0.5 * cm.max() else "black")
    ax.figure.colorbar(im, ax=ax)
    ax.set_title(f"accuracy {report.accuracy:.3f}")
    return ax


# ------------------------------------------------------------------------------ files


class ModelVersionError(RuntimeError):
    """A model file that this TensorFlow/Keras cannot load; the message names both versions."""


def runtime_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for dist in ("keras", "tensorflow-cpu", "tensorflow"):
        try:
            out[dist.replace("-cpu", "")] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def file_versions(path: str | Path) -> dict[str, str]:
    """The Keras (and, where recorded, TensorFlow) version that saved a ``.keras`` or ``.h5`` file."""
    path = Path(path)
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("metadata.json"))
        return {"keras": meta.get("keras_version", "unknown")}
    if path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            v = f.attrs.get("keras_version", "unknown")
            return {"keras": v.decode() if isinstance(v, bytes) else str(v)}
    raise ValueError(f"unknown model file type {path.suffix!r}; use .keras or .h5")


def save_model(model, path: str | Path) -> Path:
    """Save as ``.keras`` (Keras 3's format) or ``.h5`` (the legacy format the lecture uses),
    with a ``.json`` side-car naming the labels and the library versions."""
    path = Path(path)
    if path.suffix not in (".keras", ".h5"):
        raise ValueError(f"save as .keras or .h5, got {path.suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    path.with_suffix(path.suffix + ".json").write_text(json.dumps(
        {"labels": list(EMOTIONS), "input": [INPUT_SIZE, INPUT_SIZE, 1], "saved_with": runtime_versions()}, indent=2))
    return path


def load_model(path: str | Path):
    """Load a model file saved by :func:`save_model` (or any Keras ``.keras``/``.h5``), checking versions.

    Raises:
        FileNotFoundError: no such file.
        ModelVersionError: the file cannot be loaded by the installed Keras; the message says
            which versions are involved and what to do (the lecture's "Step 0": the TensorFlow
            version on Kaggle and on your PC must match).
    """
    keras = _keras()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        saved = file_versions(path)
    except (zipfile.BadZipFile, KeyError, OSError, json.JSONDecodeError) as exc:
        raise ModelVersionError(f"{path} is not a readable Keras model file ({exc})") from exc
    here = runtime_versions()
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for version mismatches
        raise ModelVersionError(
            f"cannot load {path.name}: it was saved with Keras {saved.get('keras')} and this environment has "
            f"Keras {here.get('keras')} / TensorFlow {here.get('tensorflow')}. Save the model again with the "
            f"same versions (on Kaggle: `pip install tensorflow=={here.get('tensorflow')} keras=={here.get('keras')}` "
            f"before training), or install the versions that saved it here. Original error: {exc}") from exc


# ------------------------------------------------------------------------------ faces in images


def predict_emotions(model, image: ImageLike, faces, margin: float = 0.1) -> list[tuple[str, float]]:
    """``(label, probability)`` for each detected face of ``image`` (an empty list for no face)."""
    from .detection import crop_face

    if not faces:
        return []
    img = load_image(image)
    crops = [crop_face(img, f, margin=margin, size=INPUT_SIZE) for f in faces]
    probs = model.predict(preprocess_faces(crops), verbose=0)
    return [(EMOTIONS[int(p.argmax())], float(p.max())) for p in probs]
