"""Face-mask detection (lesson 05): synthetic masks drawn from landmarks, a Keras CNN, evaluation.

    masked = cu.mask.draw_mask(img, points68, style="surgical")      # a mask over the lower face
    x, y = cu.mask.make_mask_dataset(faces)                          # crops with and without masks
    model = cu.mask.build_model()                                    # a small CNN on 64x64 RGB crops
    report = cu.mask.evaluate(model, x_test, y_test)                 # accuracy, precision/recall, worst
    photos = cu.mask.load_real_photos()                              # 40 + 40 real photos (data/real)
    real = cu.mask.evaluate_photos(model, cu.mask.crops_from_images(photos.path), photos.y)  # end to end
    clf = cu.mask.load_classifier()                                  # the course's reference model

The classifier looks at **aligned** face crops (ArcFace template, 64x64, 25 % context) for both classes,
so that it has to look at the lower face, not at how a photo was framed (see the lesson on the
Face-Mask-Detection set's class-style bias).  Labels: :data:`MASK_LABELS` (0 = with_mask).

This module is over 500 lines because it is lesson 05's pipeline from end to end (drawn masks, crops,
the models, training, the photo-level evaluation), each step a short function that the next one uses;
the shared machinery already lives in classify, training and model_files.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from . import classify
from . import model_files, training
from .detection import get_detector
from .model_files import import_keras as _keras
from .images import ImageLike, load_image

MASK_LABELS = ("with_mask", "without_mask")
INPUT_SIZE = 64
ALIGN = "arcface"
MARGIN = 0.25

#: Mask styles and their colour palettes (RGB).
MASK_STYLES = {
    "surgical": [(120, 180, 215), (160, 205, 230), (235, 240, 245), (140, 200, 170)],
    "cloth": [(30, 30, 35), (40, 55, 95), (120, 30, 40), (90, 90, 95), (200, 170, 150)],
    "n95": [(240, 240, 235), (225, 225, 215), (250, 250, 250)],
}

# dlib's 68-point indices (iBUG 300-W, 0-based): jaw 0-16 with the chin at 8, nose bridge 27-30,
# nose tip 30, eyes 36-47.
_JAW, _NOSE_TIP, _EYES = list(range(17)), 30, list(range(36, 48))

#: Synthetic masked faces (:func:`synthetic_mask_pairs`): each face crop is scaled to SYNTH_SIZE pixels and
#: the 68 landmarks are found in SYNTH_FACE_BOX, the face's box in such a crop (a tight face crop, as the
#: course's detectors cut it with a 10 % margin, puts the face at 12.5 %-87.5 % across and 12.5 %-92 % down:
#: 24-168 and 24-176 of 192 pixels, the chin lower than the brow is high).
SYNTH_SIZE = 192
SYNTH_FACE_BOX = (24, 24, 168, 176)


#: The detector the mask pipeline uses: :func:`~course_utils.detection.get_detector` with the ``"mask"`` preset
#: (facenet-pytorch's MTCNN at lower thresholds, which finds masked faces; ``PRESETS["mask"].why`` says why).
get_mask_detector = functools.partial(get_detector, "mask")
get_mask_detector.__doc__ = ('get_detector("mask", min_face_size=None): the mask pipeline\'s detector '
                             '(course_utils.detection.PRESETS["mask"])')


# ------------------------------------------------------------------------------ synthetic masks


def mask_polygon(points: np.ndarray, style: str = "surgical") -> np.ndarray:
    """The outline of a mask over the lower face, from 68 landmarks: over the nose bridge, along the
    jaw below the chin; its top edge stays below the eyes.  Returns an (N, 2) float array."""
    p = np.asarray(points, dtype=np.float64)
    if p.shape != (68, 2):
        raise ValueError(f"need 68 landmarks (dlib's scheme), got an array of shape {p.shape}")
    if style not in MASK_STYLES:
        raise ValueError(f"unknown mask style {style!r}; choose from {', '.join(MASK_STYLES)}")
    centre = p[_JAW].mean(0)
    face_h = np.linalg.norm(p[8] - p[27])
    if face_h < 2:
        raise ValueError("degenerate landmarks: the face has no height")
    eye_bottom = p[_EYES][:, 1].max()
    down = (p[8] - p[27]) / face_h  # the face's "down" direction (handles tilted heads)
    # The bottom: the jaw from cheek to cheek, pushed outwards a little and below the chin.
    jaw = p[2:15] + (p[2:15] - centre) * 0.06 + down * face_h * 0.04
    # The top: over the bridge of the nose (between landmarks 28 and 29), cheeks below the eyes.
    apex = p[28] * 0.4 + p[29] * 0.6
    if style == "n95":
        apex = apex - down * face_h * 0.05
    left, right = p[1] + (p[1] - centre) * 0.04, p[15] + (p[15] - centre) * 0.04
    top = [left, (left + apex) / 2, apex, (apex + right) / 2, right]
    gap = face_h * 0.06
    for q in top:  # keep the eyes visible
        q[1] = max(q[1], eye_bottom + gap) if q is not apex else max(q[1], eye_bottom + gap * 0.5)
    if style == "cloth":  # rounder at the bottom
        jaw = jaw + down * face_h * 0.03
    return np.vstack([np.array(top), jaw[::-1]])  # left cheek -> nose -> right cheek -> chin -> back


def draw_mask(image: ImageLike, points: np.ndarray, style: str = "surgical", color: tuple[int, int, int] | None = None,
              seed: int | None = None, return_area: bool = False):
    """Draw a face mask over the lower face given its 68 landmarks (lesson 05's synthetic masked faces; the 68
    landmarks are lesson 03's).

    Args:
        style: ``"surgical"`` (pleats), ``"cloth"`` (plain, rounder) or ``"n95"`` (a ridge); see :data:`MASK_STYLES`.
        color: RGB; default a colour of the style's palette chosen with ``seed``.
        return_area: also return the boolean (H, W) array of the pixels the mask covers.

    Returns:
        The masked RGB image (a copy), and the covered area when asked.
    """
    import cv2

    img = load_image(image).copy()
    rng = np.random.default_rng(seed)
    poly = mask_polygon(points, style)
    palette = MASK_STYLES[style]
    rgb = np.array(color if color is not None else palette[int(rng.integers(len(palette)))], np.float64)
    h, w = img.shape[:2]
    area = np.zeros((h, w), np.uint8)
    cv2.fillPoly(area, [np.round(poly * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    p = np.asarray(points, dtype=np.float64)
    face_h = np.linalg.norm(p[8] - p[27])
    # Shading: lighter in the middle, darker towards the edges, as on a curved surface.
    dist = cv2.distanceTransform((area > 127).astype(np.uint8), cv2.DIST_L2, 3)
    shade = 0.78 + 0.22 * np.clip(dist / max(face_h * 0.25, 1), 0, 1)
    layer = np.clip(rgb[None, None, :] * shade[..., None], 0, 255)
    if style == "surgical":  # three pleats across
        top, bottom = poly[2], p[8]
        for k in (0.3, 0.5, 0.7):
            y = top[1] + (bottom[1] - top[1]) * k
            xs = (poly[0][0], poly[4][0])
            cv2.line(layer, (int(xs[0]), int(y)), (int(xs[1]), int(y + (poly[4][1] - poly[0][1]) * 0.2)),
                     tuple(float(c) * 0.8 for c in rgb), max(1, int(face_h / 60)), cv2.LINE_AA)
    elif style == "n95":  # a ridge down the middle
        cv2.line(layer, tuple(int(v) for v in poly[2]), tuple(int(v) for v in p[8]),
                 tuple(float(c) * 0.85 for c in rgb), max(1, int(face_h / 50)), cv2.LINE_AA)
    alpha = (area.astype(np.float64) / 255.0)[..., None]
    out = (img * (1 - alpha) + layer * alpha).astype(np.uint8)
    strap = tuple(int(c * 0.9) for c in rgb)
    for a, b in ((poly[0], p[0]), (poly[4], p[16])):  # ear loops
        cv2.line(out, tuple(int(v) for v in a), tuple(int(v) for v in b), strap, max(1, int(face_h / 70)), cv2.LINE_AA)
    return (out, area > 127) if return_area else out


def add_masks(image: ImageLike, faces=None, style: str | None = None, seed: int | None = None) -> np.ndarray:
    """Mask every face of ``image`` (detected with MTCNN unless ``faces`` is given; landmarks with
    dlib); ``style=None`` picks a style and colour per face with ``seed``."""
    from .detection import detect_faces
    from .landmarks import detect_landmarks

    img = load_image(image)
    faces = detect_faces(img, detector=get_mask_detector()) if faces is None else list(faces)
    rng = np.random.default_rng(seed)
    for f in faces:
        pts = detect_landmarks(img, f)
        s = style or list(MASK_STYLES)[int(rng.integers(len(MASK_STYLES)))]
        img = draw_mask(img, pts, style=s, seed=int(rng.integers(1 << 31)))
    return img


# ------------------------------------------------------------------------------ data


def aligned_crops(image: ImageLike, faces, size: int = INPUT_SIZE) -> list[np.ndarray]:
    """The classifier's view of each face: aligned on the ArcFace template with 25 % context."""
    return classify.face_crops(image, faces, size, MARGIN, ALIGN)


@dataclass
class CropResult:
    """What :func:`crops_from_images` kept: one crop per image where a face was found."""

    crops: np.ndarray           # uint8 (N, size, size, 3)
    index: np.ndarray           # which input image each crop came from
    skipped: dict[int, str]     # input index -> reason (no face, unreadable)
    retried: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # inputs whose face only a retry found

    def first_answers(self) -> "CropResult":
        """What the detector's first answer alone gave (``crops_from_images(..., retry=False)``), taken
        from this result instead of detecting again: the crops of :attr:`retried` images dropped."""
        keep = ~np.isin(self.index, self.retried)
        skipped = {**self.skipped, **{int(i): "no face found (before the retries)" for i in self.retried}}
        return CropResult(self.crops[keep], self.index[keep], dict(sorted(skipped.items())))


def crops_from_images(images: Sequence[ImageLike], size: int = INPUT_SIZE, min_side: int = 160,
                      progress: bool = False, retry: bool = True) -> CropResult:
    """Find the face of each image (:func:`course_utils.face_finder.find_face` with the mask pipeline's
    detector: the largest face, retried framed and then with CenterFace for tight and masked crops)
    and cut an aligned crop of it.

    Small images are enlarged to ``min_side`` pixels first (MTCNN misses faces under about 20 px).
    An image without a face, or one that cannot be read, is skipped with its reason.  ``retry=False``
    keeps the detector's first answer (the pipeline before issue 19, for comparison).
    """
    import cv2

    from .face_finder import find_face, retry_face

    detector = get_mask_detector()
    crops, index, skipped, retried = [], [], {}, []
    it = enumerate(images)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(images), unit="image")
    for i, item in it:
        try:
            img = load_image(item)
        except (OSError, ValueError) as exc:  # ImageError is a ValueError
            skipped[i] = f"unreadable: {exc}"
            continue
        side = min(img.shape[:2])
        if side < min_side:
            f = min_side / side
            img = cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_CUBIC)
        face = find_face(img, detector, retry=False)
        if face is None and retry:  # retried framed, then with CenterFace
            face = retry_face(img)
            if face is not None:
                retried.append(i)
        if face is None:
            skipped[i] = "no face found"
            continue
        crops.append(aligned_crops(img, [face], size)[0])
        index.append(i)
    arr = np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)
    return CropResult(arr, np.asarray(index, dtype=np.int64), skipped, np.asarray(retried, dtype=np.int64))


def synthetic_mask_pairs(faces: Sequence[np.ndarray], seed: int = 0, size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Each aligned face crop twice: as it is (``without_mask``) and with a drawn mask (``with_mask``).

    The landmarks are found by dlib on the crop (enlarged to 192 px); styles and colours vary with
    ``seed``.  Returns ``(x, y)``: uint8 (2N, size, size, 3) and int64 labels (0 = with_mask).
    """
    import cv2

    from .landmarks import detect_landmarks

    rng = np.random.default_rng(seed)
    styles = list(MASK_STYLES)
    x, y = [], []
    for face in faces:
        big = cv2.resize(load_image(face), (SYNTH_SIZE, SYNTH_SIZE), interpolation=cv2.INTER_CUBIC)
        pts = detect_landmarks(big, SYNTH_FACE_BOX)
        masked = draw_mask(big, pts, style=styles[int(rng.integers(len(styles)))], seed=int(rng.integers(1 << 31)))
        for im, label in ((masked, 0), (big, 1)):
            x.append(cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA))
            y.append(label)
    return np.stack(x), np.asarray(y, dtype=np.int64)


def sample_faces(n: int = 60, seed: int = 0, size: int = INPUT_SIZE, start: int = 0,
                 n_sources: int | None = None) -> np.ndarray:
    """Offline face crops for the lesson and homework: the two sample portraits and scikit-image's
    LFW crops (25x25 gray, enlarged; 102 different faces in all: ``skimage.data.lfw_subset()``'s first 100
    images, its other 100 are not faces, skimage/data/_fetchers.py ``lfw_subset``), jittered (shift, scale, tilt, light,
    colour tint).  Face ``i`` is source ``start + i % n_sources`` (default: all sources, cycling), so
    calls with disjoint source ranges share no person.  Returns uint8 (n, size, size, 3)."""
    import cv2
    import skimage.data

    from .samples import load_sample

    rng = np.random.default_rng(seed)
    lfw = skimage.data.lfw_subset()
    sources = []
    for name, box in (("astronaut", (165, 35, 305, 215)), ("grace_hopper", (150, 110, 350, 370))):
        img = load_sample(name)
        x1, y1, x2, y2 = box
        sources.append(cv2.resize(img[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_AREA))
    for face in lfw[:100]:  # the faces; lfw_subset's images 100-199 are non-faces
        g = (np.clip(face, 0, 1) * 255).astype(np.uint8)
        sources.append(cv2.cvtColor(cv2.resize(g, (size, size), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB))
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        src = sources[(start + i % (n_sources or len(sources))) % len(sources)]
        m = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-8, 8), rng.uniform(0.92, 1.08))
        m[:, 2] += rng.uniform(-3, 3, 2)
        im = cv2.warpAffine(src, m, (size, size), borderMode=cv2.BORDER_REFLECT)
        tint = rng.uniform(0.8, 1.15, 3) * rng.uniform(0.75, 1.2)
        out[i] = np.clip(im * tint, 0, 255).astype(np.uint8)
    return out


def make_mask_dataset(n_faces: int = 60, seed: int = 0, size: int = INPUT_SIZE, start: int = 0,
                      n_sources: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The lesson's offline data: :func:`sample_faces` each with and without a synthetic mask
    (rows ``2k`` and ``2k + 1`` are the same face)."""
    return synthetic_mask_pairs(sample_faces(n_faces, seed, size, start, n_sources), seed=seed, size=size)


# ------------------------------------------------------------------------------ model


def build_model(width: int = 16, input_size: int = INPUT_SIZE, augment: bool = True, learning_rate: float = 2e-3):
    """A small CNN over aligned RGB face crops: four blocks of conv + batch norm + ReLU + pooling,
    global average pooling, dropout and a softmax over :data:`MASK_LABELS` (about 100 k parameters)."""
    keras = _keras()
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="face")
    x = inputs
    if augment:
        x = layers.RandomFlip("horizontal")(x)
        x = layers.RandomRotation(0.04, fill_mode="nearest")(x)
        x = layers.RandomBrightness(0.15, value_range=(0, 1))(x)
        x = layers.RandomContrast(0.2)(x)
    x = training.conv_blocks(x, [width, 2 * width, 4 * width, 8 * width])
    return training.softmax_head(inputs, x, len(MASK_LABELS), "mask_cnn", "mask", learning_rate, dropout=0.3)


def build_transfer_model(input_size: int = 96, weights: str | Path | None = "imagenet", learning_rate: float = 1e-3):
    """The transfer-learning variant: MobileNetV2 (frozen) + a small head.

    ImageNet weights are downloaded by Keras on first use (into ``~/.keras/models``); offline
    without them this raises with the file to fetch.  ``weights=None`` builds the same network with
    random weights (for tests), a path loads a weights file you downloaded yourself.
    """
    keras = _keras()
    from keras import layers

    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{input_size}_no_top.h5"
    if weights == "imagenet":  # fetched here, so that only a failed download is reported as one
        url = f"https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/{name}"
        cached = Path(keras.config.keras_home() if hasattr(keras.config, "keras_home") else Path.home() / ".keras") / "models" / name
        try:
            weights = keras.utils.get_file(name, url, cache_subdir="models")
        except Exception as exc:
            # Keras reports a failed transfer as a bare Exception("URL fetch failure on ...") or an OSError.
            if not (isinstance(exc, OSError) or "URL fetch failure" in str(exc)):
                raise
            raise model_files.ModelNotFoundError(
                f"MobileNetV2's ImageNet weights are not on this machine and could not be downloaded ({exc}). "
                f"Download {url} to {cached} (or pass its path as weights=), or use the small CNN: "
                "mask.build_model()") from exc
    base = keras.applications.MobileNetV2(input_shape=(input_size, input_size, 3), include_top=False,
                                          weights=None if weights is None else str(weights))
    base.trainable = False
    inputs = keras.Input((input_size, input_size, 3), name="face")
    x = layers.Rescaling(2.0, offset=-1.0)(inputs)  # [0, 1] -> MobileNetV2's [-1, 1]
    x = base(x, training=False)
    return training.softmax_head(inputs, x, len(MASK_LABELS), "mask_mobilenetv2", "mask", learning_rate)


#: uint8 RGB crops -> float32 network input in [0, 1]: :func:`course_utils.classify.to_input` with the lesson's
#: 64-pixel RGB crops bound (``size=`` for another network, e.g. ``size=96`` for :func:`build_transfer_model`).
to_input = functools.partial(classify.to_input, size=INPUT_SIZE, channels=3)
to_input.__doc__ = ("to_input(crops, size=INPUT_SIZE, channels=3): course_utils.classify.to_input with lesson 05's "
                    "64x64 RGB crops: uint8 crops -> float32 (N, 64, 64, 3) in [0, 1]")


def _model_input(model, x) -> np.ndarray:
    """uint8 crops as ``model``'s input, at the size its ``input_shape`` names (the lesson's 64 for a model that
    names none), or ``x`` as it is when it is already prepared."""
    if np.asarray(x).dtype != np.uint8:
        return x
    shape = getattr(model, "input_shape", None)
    return to_input(x, size=int(shape[1]) if shape and shape[1] else INPUT_SIZE)


def train(model, train_data, val_data, epochs: int = 15, batch_size: int = 64, patience: int = 5, verbose: int = 0):
    """Fit with early stopping on validation accuracy (best weights kept); returns the History."""
    (xt, yt), (xv, yv) = train_data, val_data
    xt, xv = _model_input(model, xt), _model_input(model, xv)
    return training.fit(model, (xt, yt), (xv, yv), epochs=epochs, batch_size=batch_size, patience=patience,
                        lr_patience=max(2, patience // 2), verbose=verbose)


@dataclass
class MaskReport:
    """Accuracy, precision and recall per class, the confusion matrix (rows: truth) and the indices
    of the worst mistakes (most confident wrong predictions first)."""

    accuracy: float
    precision: dict[str, float]
    recall: dict[str, float]
    confusion: np.ndarray
    worst: np.ndarray
    probabilities: np.ndarray

    def __str__(self) -> str:
        lines = [f"accuracy {self.accuracy:.3f}"]
        lines += [f"  {k:12s} precision {self.precision[k]:.3f}  recall {self.recall[k]:.3f}" for k in MASK_LABELS]
        return "\n".join(lines)


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> MaskReport:
    """Evaluate on uint8 crops (or prepared input) and labels (0 = with_mask)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    prob = np.asarray(model.predict(_model_input(model, x), batch_size=batch_size, verbose=0))
    pred = prob.argmax(1)
    y = np.asarray(y)
    p, r, _, _ = precision_recall_fscore_support(y, pred, labels=[0, 1], zero_division=0)
    wrong = np.flatnonzero(pred != y)
    worst = wrong[np.argsort(-prob[wrong, pred[wrong]])] if len(wrong) else wrong
    return MaskReport(float((pred == y).mean()), dict(zip(MASK_LABELS, map(float, p))),
                      dict(zip(MASK_LABELS, map(float, r))), confusion_matrix(y, pred, labels=[0, 1]), worst, prob)


# ------------------------------------------------------------------------------ real photos, end to end


def load_real_photos(folder: str | Path | None = None):
    """The real mask photos that ship with the course (``data/real/facemask``: 40 ``with_mask`` and
    40 ``without_mask`` photos, many of them tight face crops), or a folder in the same layout.

    Returns a DataFrame sorted by label and path, with ``path``, ``label`` and ``y`` (0 = with_mask).
    """
    from .datasets import load_face_mask
    from .samples import real_samples

    df = load_face_mask(real_samples("facemask") if folder is None else folder)
    if df.empty:
        raise FileNotFoundError(f"no with_mask/without_mask photos under {folder}")
    df = df.sort_values(["label", "path"]).reset_index(drop=True)
    df["y"] = df["label"].map({name: i for i, name in enumerate(MASK_LABELS)}).astype(np.int64)
    return df[["path", "label", "y"]]


#: The prediction stored for a photo in which the detector found no face.
NO_FACE = -1


@dataclass
class PhotoReport:
    """A mask classifier run end to end on photos: detect, align, classify (:func:`evaluate_photos`).

    ``pred[i]`` is the class given to photo ``i`` (0 = with_mask), or :data:`NO_FACE` when the detector
    found no face in it; ``probability[i]`` is the probability of that class (NaN without a face).
    """

    y: np.ndarray
    pred: np.ndarray
    probability: np.ndarray
    paths: list[str] | None = None

    @property
    def found(self) -> np.ndarray:
        """Boolean per photo: a face was found."""
        return self.pred != NO_FACE

    @property
    def missed(self) -> np.ndarray:
        """Indices of the photos without a detected face."""
        return np.flatnonzero(~self.found)

    @property
    def wrong(self) -> np.ndarray:
        """Indices of the photos whose found face got the wrong class (misses not included)."""
        return np.flatnonzero(self.found & (self.pred != self.y))

    @property
    def accuracy_found(self) -> float:
        """Accuracy on the photos where a face was found (NaN if none was)."""
        return float((self.pred[self.found] == self.y[self.found]).mean()) if self.found.any() else float("nan")

    @property
    def accuracy_end_to_end(self) -> float:
        """Accuracy on all photos, a photo without a detected face counted as wrong."""
        return float((self.pred == self.y).mean()) if len(self.y) else float("nan")

    def counts(self) -> dict[str, dict[str, int]]:
        """Per true class: ``photos``, ``found`` (a face detected) and ``correct`` (of the found)."""
        out = {}
        for k, name in enumerate(MASK_LABELS):
            of = self.y == k
            out[name] = {"photos": int(of.sum()), "found": int((of & self.found).sum()),
                         "correct": int((of & (self.pred == k)).sum())}
        return out

    @property
    def confusion(self) -> np.ndarray:
        """Rows: true class (with, without); columns: predicted with, predicted without, no face."""
        cols = list(range(len(MASK_LABELS))) + [NO_FACE]
        return np.array([[int(((self.y == t) & (self.pred == c)).sum()) for c in cols]
                         for t in range(len(MASK_LABELS))])

    def __str__(self) -> str:
        lines = [f"{len(self.y)} photos; a face found in {int(self.found.sum())}"]
        for name, c in self.counts().items():
            lines.append(f"  {name:12s} {c['photos']:3d} photos: face found in {c['found']:3d}, "
                         f"no face in {c['photos'] - c['found']:3d}; correct {c['correct']:3d} of the found")
        lines.append(f"accuracy on found faces {self.accuracy_found:.2f} | "
                     f"end to end (no face = wrong) {self.accuracy_end_to_end:.2f}")
        return "\n".join(lines)


def predict_crops(model, crops) -> np.ndarray:
    """Class probabilities (N, 2) for aligned uint8 crops, from a :class:`~course_utils.classify.FaceClassifier`
    (e.g. :func:`load_classifier`) or a Keras model over :func:`to_input` (e.g. :func:`build_model`)."""
    crops = np.asarray(crops)
    if len(crops) == 0:
        return np.zeros((0, len(MASK_LABELS)), np.float32)
    if isinstance(model, classify.FaceClassifier):
        prob = model.predict_crops(crops)
    elif hasattr(model, "predict"):
        prob = model.predict(_model_input(model, crops), batch_size=256, verbose=0)
    else:
        raise TypeError(f"expected a FaceClassifier or a Keras model, got {type(model).__name__}")
    prob = np.asarray(prob)
    if prob.ndim != 2 or prob.shape[1] != len(MASK_LABELS):
        raise ValueError(f"the model gave outputs of shape {prob.shape}; a mask model has {len(MASK_LABELS)} "
                         f"outputs ({', '.join(MASK_LABELS)})")
    return prob


def evaluate_photos(model, faces: CropResult, y, paths: Sequence | None = None) -> PhotoReport:
    """Score ``model`` end to end on photos whose faces :func:`crops_from_images` cut (``faces``).

    ``y`` holds the true class of every *photo* (0 = with_mask), including the ones without a detected
    face, which count as wrong in :attr:`PhotoReport.accuracy_end_to_end`; ``model`` is a
    :class:`~course_utils.classify.FaceClassifier` or a Keras model (see :func:`predict_crops`).
    """
    y = np.asarray(y, dtype=np.int64)
    index = np.asarray(faces.index, dtype=np.int64)
    if len(index) and (index.min() < 0 or index.max() >= len(y)):
        raise ValueError(f"faces come from {index.max() + 1} or more photos, but y has {len(y)} labels: "
                         "pass the labels of every photo given to crops_from_images")
    if len(faces.crops) != len(index):
        raise ValueError(f"{len(faces.crops)} crops for {len(index)} indices: pass crops_from_images's result")
    prob = predict_crops(model, faces.crops)
    pred = np.full(len(y), NO_FACE, dtype=np.int64)
    p = np.full(len(y), np.nan)
    if len(index):
        pred[index], p[index] = prob.argmax(1), prob.max(1)
    return PhotoReport(y, pred, p, None if paths is None else [str(x) for x in paths])


#: :func:`course_utils.model_files.save_model` with the lesson's labels and crop settings in the side-car:
#: ``mask.save_model(model, "mask.keras")``.
save_model = functools.partial(model_files.save_model, labels=MASK_LABELS, align=ALIGN, margin=MARGIN)
save_model.__doc__ = ("save_model(model, path, labels=MASK_LABELS, *, include_optimizer=False, align=ALIGN, "
                      "margin=MARGIN, **info): course_utils.model_files.save_model with lesson 05's labels and "
                      "crops (aligned on the ArcFace template, 25 % context) recorded in the side-car")

#: :meth:`course_utils.classify.FaceClassifier.load` of the ``"mask"`` model, with the lesson's labels and crops
#: where its side-car says nothing: ``mask.load_classifier()`` finds ``$COURSE_MASK_MODEL``,
#: ``models/mask/mask.keras`` or a Kaggle input; ``mask.load_classifier(path)`` loads that file.
load_classifier = functools.partial(classify.FaceClassifier.load, "mask", labels=MASK_LABELS, align=ALIGN,
                                    margin=MARGIN)
load_classifier.__doc__ = ('load_classifier(path=None): course_utils.classify.FaceClassifier.load("mask", path), '
                           "with lesson 05's labels and crops (aligned, 25 % context) where the side-car says nothing")
