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

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import classify, model_files, training
from .classify import FaceClassifier
from .datasets.fer2013 import FER2013_LABELS as EMOTIONS  # FER2013's codes 0-6
from .datasets.fer2013 import FER2013_SIZE as INPUT_SIZE
from .images import ImageLike

# The lesson reaches these as ``emotion.*``: the stand-in data (course_utils.expressions) and the model
# files (course_utils.model_files; lesson 04 saves, loads and checks versions in one place).
from .expressions import synthetic_expressions  # noqa: F401
from .model_files import ModelVersionError, file_versions, load_model, runtime_versions  # noqa: F401


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


def load_fer_splits(root: str | Path, per_class: int | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """FER2013 from either Kaggle format as ``{"train": (x, y), "test": (x, y)}`` (uint8 48x48, int64).

    A folder holding ``fer2013.csv``/``icml_face_data.csv`` is read from the CSV (``Training`` rows
    are train, ``PublicTest`` + ``PrivateTest`` are test); otherwise the ``train|test/<label>/`` images.
    ``per_class`` keeps at most that many faces per label in each split (:func:`load_fer_subset`;
    image folders then read only those files).
    """
    from . import datasets

    root = Path(root)
    csv = next((root / n for n in ("fer2013.csv", "icml_face_data.csv") if (root / n).is_file()), None)
    if csv is not None:
        x, meta = datasets.load_fer2013_csv(csv)
        y = meta["emotion"].to_numpy(dtype=np.int64)
        train = (meta["usage"] == "Training").to_numpy()
        return {"train": load_fer_subset(x[train], y[train], per_class),
                "test": load_fer_subset(x[~train], y[~train], per_class)}
    df = datasets.load_fer2013_folders(root)
    out = {}
    for split in ("train", "test"):
        part = df[df.split == split].reset_index(drop=True)
        if per_class is not None:
            keep = load_fer_subset(np.arange(len(part)), part["emotion"].to_numpy(dtype=np.int64), per_class)[0]
            part = part.iloc[keep].reset_index(drop=True)
        out[split] = load_fer_arrays(part)
    return out


def load_fer_subset(x: np.ndarray, y: np.ndarray, per_class: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """At most ``per_class`` faces of each label (a seeded random choice, kept in their order); ``None``
    keeps everything.  For short runs on the full dataset (the tests run lesson 04 on FER2013 this way)."""
    if per_class is None:
        return x, y
    if per_class < 1:
        raise ValueError(f"per_class must be a positive number of faces or None, got {per_class}")
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)])
    keep.sort()
    return x[keep], y[keep]


def limit_class(x: np.ndarray, y: np.ndarray, label: str, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep only the first ``keep`` faces of expression ``label`` (all the others): a rare class, as
    ``disgust`` is in FER2013 (1.5 % of its training faces), for the stand-in data."""
    if label not in EMOTIONS:
        raise ValueError(f"unknown expression {label!r}; choose from {EMOTIONS}")
    if keep < 0:
        raise ValueError(f"keep must be >= 0, got {keep}")
    y = np.asarray(y)
    drop = np.flatnonzero(y == EMOTIONS.index(label))[keep:]
    mask = np.ones(len(y), bool)
    mask[drop] = False
    return x[mask], y[mask]


#: Face crops (any size, RGB or gray) to the network's input, float32 (N, 48, 48, 1) in [0, 1]:
#: :func:`course_utils.classify.to_input` with FER2013's 48x48 gray faces bound.
to_input = functools.partial(classify.to_input, size=INPUT_SIZE, channels=1)
to_input.__doc__ = ("to_input(crops, size=INPUT_SIZE, channels=1): course_utils.classify.to_input with FER2013's "
                    "48x48 gray faces: face crops (any size, RGB or gray) -> float32 (N, 48, 48, 1) in [0, 1]")


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


# ------------------------------------------------------------------------------ the real sample faces

#: The 6 of the 30 ``disgust`` sample faces that the reference model was *not* fit on (its validation split,
#: ``split_validation(y_train, 0.1, seed=0)`` in ``scripts/train_emotion.py``).  FER2013's test split has no
#: ``disgust`` face, so the sample's come from train and the other 24 are among the model's training faces;
#: every other sample face is from the test split.  ``tests/test_lesson04_real_data.py`` re-derives this list
#: from ``../shared/data/fer2013`` when it is there.
REFERENCE_VALIDATION_DISGUST = frozenset({
    "Training_28804902.png", "Training_29347623.png", "Training_42237066.png", "Training_47680332.png",
    "Training_66197221.png", "Training_6954217.png"})


def load_real_faces(folder: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The real FER2013 faces that ship with the course (``cu.real_samples("fer2013")``, 30 per expression),
    or a folder of ``<label>/*.png`` like it.

    Returns ``(x, y, names)``: uint8 (N, 48, 48) gray faces, int64 labels (indices into :data:`EMOTIONS`) and
    ``"<label>/<file>"`` names, sorted by label (in :data:`EMOTIONS` order) then by file name.
    """
    import pandas as pd

    from .samples import real_samples

    root = Path(folder) if folder is not None else real_samples("fer2013")
    unknown = sorted(d.name for d in root.iterdir() if d.is_dir() and d.name not in EMOTIONS)
    if unknown:
        raise ValueError(f"{root}: folders {unknown} are not expressions; expected some of {EMOTIONS}")
    rows = [(p, EMOTIONS.index(label)) for label in EMOTIONS
            for p in sorted((root / label).glob("*.png")) + sorted((root / label).glob("*.jpg"))]
    if not rows:
        raise FileNotFoundError(f"no <label>/*.png faces under {root}; expected folders named {EMOTIONS}")
    x, y = load_fer_arrays(pd.DataFrame(rows, columns=["path", "emotion"]))
    return x, y, [f"{p.parent.name}/{p.name}" for p, _ in rows]


#: The course's sample faces that are pixel copies of FER2013 *training* images (FER2013 holds duplicates across
#: its splits, some under another label): 21 test-split faces and 2 of the validation ``disgust`` faces.  The
#: reference model trained on their copies, so a figure on them is not a test figure.  Found by comparing the
#: pixels of every sample face with every image of ``../shared/data/fer2013/train``;
#: ``tests/test_lesson04_real_data.py`` re-derives this list there.
TRAIN_COPIES = frozenset({
    "angry/PrivateTest_14433751.png", "angry/PublicTest_67411006.png", "disgust/Training_29347623.png",
    "disgust/Training_66197221.png", "fear/PrivateTest_24272642.png", "fear/PrivateTest_4212136.png",
    "fear/PrivateTest_58648717.png", "happy/PrivateTest_3783569.png", "happy/PrivateTest_4014756.png",
    "sad/PublicTest_40857959.png", "surprise/PrivateTest_35458201.png", "surprise/PrivateTest_48967459.png",
    "surprise/PrivateTest_61881861.png", "surprise/PublicTest_16568907.png", "surprise/PublicTest_17677007.png",
    "surprise/PublicTest_18422068.png", "surprise/PublicTest_23583223.png", "surprise/PublicTest_29450477.png",
    "surprise/PublicTest_4493968.png", "surprise/PublicTest_68423633.png", "surprise/PublicTest_78180569.png",
    "neutral/PrivateTest_46022583.png", "neutral/PublicTest_11939741.png"})


def reference_split(names: Sequence[str]) -> np.ndarray:
    """Where each sample face (``"<label>/<file>"``) was for the reference model: ``"test"`` (FER2013's test
    split, never trained on), ``"copy"`` (a pixel copy of one of its training images, :data:`TRAIN_COPIES`),
    ``"validation"`` (held back from its training, :data:`REFERENCE_VALIDATION_DISGUST`) or ``"fit"`` (one of
    its training faces).  Only ``"test"`` and ``"validation"`` faces give figures on unseen faces."""
    out = []
    for name in names:
        file = Path(name).name
        if f"{Path(name).parent.name}/{file}" in TRAIN_COPIES:
            out.append("copy")
        elif not file.startswith("Training_"):
            out.append("test")
        else:
            out.append("validation" if file in REFERENCE_VALIDATION_DISGUST else "fit")
    return np.array(out)


def worst_mistakes(y: np.ndarray, prob: np.ndarray, k: int = 12) -> np.ndarray:
    """Indices of the ``k`` most confident wrong predictions (highest probability given to a wrong
    label), most confident first; fewer when the model makes fewer mistakes."""
    y, prob = np.asarray(y), np.asarray(prob)
    if prob.ndim != 2 or len(prob) != len(y):
        raise ValueError(f"prob must be (N, classes) for N={len(y)} labels, got shape {prob.shape}")
    pred = prob.argmax(1)
    wrong = np.flatnonzero(pred != y)
    order = np.argsort(-prob[wrong, pred[wrong]], kind="stable")
    return wrong[order[:k]]


def show_mistakes(x: np.ndarray, y: np.ndarray, prob: np.ndarray, k: int = 12, ncols: int = 6,
                  labels: Sequence[str] = EMOTIONS):
    """The ``k`` most confident wrong predictions (:func:`worst_mistakes`) as a grid titled
    ``true -> predicted (probability)``; returns the Figure, or ``None`` when there is no mistake."""
    from .draw import show_grid

    idx = worst_mistakes(y, prob, k)
    if len(idx) == 0:
        print("no wrong prediction")
        return None
    pred = np.asarray(prob).argmax(1)
    titles = [f"true {labels[y[i]]}\npred {labels[pred[i]]} {prob[i, pred[i]]:.2f}" for i in idx]
    return show_grid([x[i] for i in idx], titles=titles, ncols=ncols, size=1.8)


# ------------------------------------------------------------------------------ model


def build_model(num_classes: int = len(EMOTIONS), width: int = 32, dropout: float = 0.1,
                augment: bool = True, input_size: int = INPUT_SIZE, head: str = "flatten",
                head_dropout: float = 0.4):
    """A VGG-style CNN: four blocks of two 3x3 conv + batch norm + ReLU, max-pooling and dropout
    (``dropout`` grows from half that rate in the first block to 1.25x in the last), then a small
    dense head (about 1.8 M parameters at ``width=32``: the reference model's size and head).

    ``head="flatten"`` keeps where on the face each of the last 3x3 feature maps fired (eyebrows or
    mouth: it matters for expressions); ``"pool"`` averages them (global average pooling, 0.5 M
    fewer weights).  The reference model's body was first trained with the pooled head and
    dropout 0.3, which underfitted (training accuracy 0.63 against 0.61 on validation); the
    flattened head lifted validation accuracy from 0.611 to 0.631 and test accuracy from 0.607 to
    0.629; a last run at half the default dropout rates (0.05, head 0.2) brought test accuracy to 0.640
    (models/emotion/MODEL_CARD.md, TRAINING.md beside it).

    ``augment`` puts random flips, small rotations, zooms and shifts in front of the network; Keras
    applies them only while training.
    """
    keras = model_files.import_keras()
    from keras import layers

    if head not in ("pool", "flatten"):
        raise ValueError(f"head must be 'pool' or 'flatten', got {head!r}")
    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = inputs
    if augment:
        x = layers.RandomFlip("horizontal")(x)
        x = layers.RandomRotation(0.05, fill_mode="nearest")(x)
        x = layers.RandomZoom(0.1, fill_mode="nearest")(x)
        x = layers.RandomTranslation(0.08, 0.08, fill_mode="nearest")(x)
    x = training.conv_blocks(x, [width, 2 * width, 4 * width, 8 * width], convs=2, momentum=0.99,
                             dropouts=[dropout * (0.5 + 0.25 * i) for i in range(4)])
    x = layers.GlobalAveragePooling2D()(x) if head == "pool" else layers.Flatten()(x)
    x = layers.Dense(8 * width, activation="relu")(x)
    x = layers.Dropout(head_dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="emotion")(x)
    model = keras.Model(inputs, outputs, name="fer_cnn")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def copy_matching_weights(source, target) -> int:
    """Copy the weights of ``source``'s layers into ``target``'s, layer by layer in order, as long as
    the kinds and shapes agree (the shared convolutional body when only the head differs).  Returns
    the number of layers copied."""
    pairs = zip([layer for layer in source.layers if layer.weights],
                [layer for layer in target.layers if layer.weights])
    copied = 0
    for a, b in pairs:
        wa, wb = a.get_weights(), b.get_weights()
        if type(a) is not type(b) or [w.shape for w in wa] != [w.shape for w in wb]:
            break
        b.set_weights(wa)
        copied += 1
    return copied


def build_small_model(num_classes: int = len(EMOTIONS), width: int = 8, input_size: int = INPUT_SIZE,
                      learning_rate: float = 3e-3):
    """A small CNN for quick runs (the stand-in data, the homework): four blocks of one 3x3 conv +
    batch norm + ReLU + max-pooling, global average pooling and a softmax (about 25 k parameters at
    ``width=8``).  Batch norm with a short memory (momentum 0.9) so that a few hundred steps suffice."""
    keras = model_files.import_keras()

    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = training.conv_blocks(inputs, [width, 2 * width, 4 * width, 8 * width])
    return training.softmax_head(inputs, x, num_classes, "fer_small_cnn", "emotion", learning_rate)


def train(model, train_data: tuple[np.ndarray, np.ndarray], val_data: tuple[np.ndarray, np.ndarray],
          epochs: int = 30, batch_size: int = 64, weights: dict[int, float] | None | str = "auto",
          patience: int = 8, checkpoint: str | Path | None = None, verbose: int = 2):
    """Fit with early stopping on validation accuracy (best weights restored) and a learning rate
    that halves on plateaus. ``weights="auto"`` uses :func:`class_weights`.  Returns the History.

    ``verbose``: 2 prints one line per epoch (the progress a long run needs), 0 is silent.
    """
    xt, yt = train_data
    xv, yv = val_data
    size = int(model.input_shape[1])
    xt = to_input(xt, size=size) if np.asarray(xt).dtype == np.uint8 else xt
    xv = to_input(xv, size=size) if np.asarray(xv).dtype == np.uint8 else xv
    if isinstance(weights, str):
        if weights != "auto":
            raise ValueError(f"weights must be 'auto', None or a dict, got {weights!r}")
        weights = class_weights(yt)
    return training.fit(model, (xt, yt), (xv, yv), epochs=epochs, batch_size=batch_size, patience=patience,
                        lr_patience=max(2, patience // 3), min_lr=1e-5, class_weight=weights,
                        checkpoint=checkpoint, verbose=verbose)


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

    def table(self, decimals: int = 2) -> str:
        """Per class: faces, right answers and accuracy (recall) rounded to ``decimals``, then the total."""
        support, right = self.confusion.sum(1), np.diag(self.confusion)
        lines = [f"{'class':9s} {'faces':>5s} {'right':>5s} {'accuracy':>8s}"]
        for i, name in enumerate(self.labels):
            acc = f"{right[i] / support[i]:.{decimals}f}" if support[i] else "n/a"
            lines.append(f"{name:9s} {support[i]:5d} {right[i]:5d} {acc:>8s}")
        lines.append(f"{'all':9s} {support.sum():5d} {right.sum():5d} {self.accuracy:8.{decimals}f}")
        return "\n".join(lines)

    def confusion_text(self) -> str:
        """The confusion matrix as counts, rows the truth and columns the prediction (first 5 letters)."""
        head = " " * 9 + "".join(f"{name[:5]:>6s}" for name in self.labels)
        rows = [f"{name:9s}" + "".join(f"{v:6d}" for v in row) for name, row in zip(self.labels, self.confusion)]
        return "\n".join([head + "   <- predicted", *rows])


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 256, flip: bool = False) -> EmotionReport:
    """Accuracy, per-class accuracy (recall; NaN for a class with no test image) and confusion matrix.

    ``x``: uint8 faces (preprocessed here) or the float32 network input.  ``flip=True`` averages the
    probabilities of each face and its mirror image (test-time augmentation; expressions are symmetric
    enough that the mirror image is another view of the same label).
    """
    return report_from_predictions(np.asarray(y), predict_faces(model, x, batch_size, flip).argmax(1))


def predict_faces(model, x: np.ndarray, batch_size: int = 256, flip: bool = False) -> np.ndarray:
    """Class probabilities (N, classes) of a Keras model or a :class:`~course_utils.classify.FaceClassifier`
    for 48x48 faces: uint8 faces (preprocessed here) or the float32 network input.  ``flip=True``
    averages each face with its mirror image (see :func:`evaluate`)."""
    if isinstance(model, FaceClassifier):
        model = model.model
    xp = to_input(x) if np.asarray(x).dtype == np.uint8 else np.asarray(x)
    prob = np.asarray(model.predict(xp, batch_size=batch_size, verbose=0))
    if flip:
        mirrored = np.asarray(model.predict(np.ascontiguousarray(xp[:, :, ::-1]), batch_size=batch_size, verbose=0))
        prob = (prob + mirrored) / 2
    return prob


def report_from_predictions(y: np.ndarray, pred: np.ndarray, labels: Sequence[str] = EMOTIONS) -> EmotionReport:
    """The :class:`EmotionReport` of predicted class indices against the truth."""
    from sklearn.metrics import confusion_matrix

    n = len(labels)
    cm = confusion_matrix(y, pred, labels=list(range(n)))
    support = cm.sum(1)
    per = {labels[i]: (float(cm[i, i] / support[i]) if support[i] else float("nan")) for i in range(n)}
    return EmotionReport(float((np.asarray(pred) == np.asarray(y)).mean()), per, cm, tuple(labels))


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


# ------------------------------------------------------------------------------ files and faces


#: :func:`course_utils.model_files.save_model` with the lesson's labels: ``emotion.save_model(model,
#: "emotion.keras")`` writes the model (``.keras``, or ``.h5`` as the lecture does) and a side-car naming
#: :data:`EMOTIONS` and the versions.
save_model = functools.partial(model_files.save_model, labels=EMOTIONS)
save_model.__doc__ = ("save_model(model, path, labels=EMOTIONS, *, include_optimizer=False, **info): "
                      "course_utils.model_files.save_model with FER2013's labels in the side-car")

#: :meth:`course_utils.classify.FaceClassifier.load` of the ``"emotion"`` model: ``emotion.load_classifier()`` finds
#: ``$COURSE_EMOTION_MODEL``, the course's reference model ``models/emotion/emotion.keras`` or a Kaggle input
#: (:func:`course_utils.model_files.find_model`); ``emotion.load_classifier(path)`` loads that file.
load_classifier = functools.partial(FaceClassifier.load, "emotion", labels=EMOTIONS)
load_classifier.__doc__ = ('load_classifier(path=None): course_utils.classify.FaceClassifier.load("emotion", path), '
                           "with FER2013's labels where the model's side-car has none")


def predict_emotions(model, image: ImageLike, faces, margin: float = 0.1) -> list[tuple[str, float]]:
    """``(label, probability)`` for each detected face of ``image`` (an empty list for no face)."""
    clf = model if isinstance(model, FaceClassifier) else FaceClassifier(model, EMOTIONS, margin)
    return [(item.label, item.probability) for item in clf.classify(image, faces)]
