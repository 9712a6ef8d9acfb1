"""Face identification (lesson 06): embeddings, galleries, "unknown", LFW verification.

    emb = cu.get_embedder("dlib")                  # offline: dlib's ResNet descriptor (LFW 0.9938)
    emb = cu.get_embedder("facenet")               # FaceNet InceptionResnetV1, VGGFace2 weights (LFW 0.9965)
    gallery = cu.enrol_folder("data/test_images", emb)       # <name>/*.jpg, one face per photo
    matches = cu.identify(img, gallery, emb)       # nearest known face, or "unknown" beyond the threshold
    gallery.save("gallery.npz"); gallery = cu.Gallery.load("gallery.npz")

Both backends run the same pipeline, detect -> align -> embed, each with its own preprocessing:

* ``dlib``: dlib's 5-point landmarks on the detector's box, ``dlib.get_face_chip`` (150x150, 25 %
  padding), the ResNet descriptor (128-D), run by PyTorch from dlib's own weights
  (:mod:`course_utils.dlib_resnet`); faces match below a Euclidean distance of 0.6.  (Using dlib's own
  HOG boxes for the landmarks instead was tried: LFW folds 4-6 gave 0.9833 against 0.9856.)
* ``facenet``: the five MTCNN keypoints aligned on the FaceNet template (160x160), standardised
  ``(x - 127.5) / 128``, InceptionResnetV1 (512-D, unit length); the lecture's rule: below 1.0.

The FaceNet weights are looked for in this order: the ``weights`` argument, ``$COURSE_FACENET_WEIGHTS``,
a Kaggle input dataset holding the ``.pt`` file, the torch cache (where facenet-pytorch puts them),
the course data folder, then a download with checksum (:func:`course_utils.download.fetch`).
"""
from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .detection import Face, central_face, detect_faces, get_detector, largest_face
from .env import KAGGLE_INPUT, display_path
from .images import IMAGE_SUFFIXES, ImageError, ImageLike, load_image
from .landmarks import ModelNotFoundError

UNKNOWN = "unknown"
FACENET_FILES = {"vggface2": "20180402-114759-vggface2.pt", "casia-webface": "20180408-102900-casia-webface.pt"}
FACENET_ENV_VAR = "COURSE_FACENET_WEIGHTS"


class EnrolmentError(ValueError):
    """A gallery that cannot be built (no usable photo at all); the message lists each problem."""


class BackendMismatchError(ValueError):
    """Embeddings of different backends compared with each other."""


# ------------------------------------------------------------------------------ embedders


class Embedder:
    """Turns faces into vectors whose distances say "same person" (small) or "different" (large).

    Subclasses set ``name``, ``dim``, ``threshold`` and implement :meth:`chips` (aligned crops in the
    backend's own format) and :meth:`embed_chips`.
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

        ``flip=True`` averages the embeddings of each aligned face and its mirror image (test-time
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
    """

    name, dim, threshold = "dlib", 128, 0.6
    chip_size, padding = 150, 0.25
    engines = ("auto", "torch", "dlib")

    def __init__(self, engine: str = "auto", batch_size: int = 32):
        if engine not in self.engines:
            raise ValueError(f"engine must be one of {', '.join(self.engines)}, got {engine!r}")
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
        from .landmarks import _rect

        h, w = image.shape[:2]
        out = []
        for f in faces:
            shape = self._shape(image, _rect(f, w, h))
            out.append(np.asarray(self._dlib.get_face_chip(image, shape, size=self.chip_size, padding=self.padding)))
        return out

    def embed_chips(self, chips):
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        if self.engine == "dlib":
            vecs = self._net.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
            return np.asarray([np.asarray(v) for v in vecs], dtype=np.float32)
        return _torch_forward(self._net, np.stack([np.asarray(c, np.float32) for c in chips]), self.batch_size)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", engine {self.engine}>"


class FacenetEmbedder(Embedder):
    """facenet-pytorch's InceptionResnetV1 (512-D, unit length) with VGGFace2 or CASIA-WebFace weights."""

    name, dim, threshold = "facenet", 512, 1.0
    detector_backend = "facenet"
    chip_size = 160

    def __init__(self, weights: str | Path | None = None, pretrained: str = "vggface2", download: bool = True):
        import torch
        from facenet_pytorch import InceptionResnetV1

        path = find_facenet_weights(weights, pretrained, download=download)
        model = InceptionResnetV1(pretrained=None, classify=False)
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("logits.")}
        model.load_state_dict(state, strict=False)
        self.model, self.weights_path, self.pretrained = model.eval(), path, pretrained

    def chips(self, image, faces):
        from .alignment import align_face
        from .detection import crop_face

        return [align_face(image, f, template="facenet") if f.keypoints else crop_face(image, f, 0.1, 160)
                for f in faces]

    def embed_chips(self, chips, batch_size: int = 32):
        if len(chips) == 0:
            return np.zeros((0, self.dim), np.float32)
        x = (np.stack([np.asarray(c, np.float32) for c in chips]) - 127.5) / 128.0
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
    env = os.environ if environ is None else environ
    from .classify import given_file

    given = given_file([(weights, "the weights path you gave"), (env.get(FACENET_ENV_VAR), f"${FACENET_ENV_VAR}")])
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


def available_backends() -> list[str]:
    """The backends usable on this machine now (``facenet`` only when its weights are here)."""
    out = ["dlib"]
    try:
        find_facenet_weights(download=False)
        out.append("facenet")
    except ModelNotFoundError:
        pass
    return out


# ------------------------------------------------------------------------------ galleries


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix (len(a), len(b)), in float64 from the differences themselves.

    Exact where it is promised: a vector's distance to itself is 0.0 on every machine.  (The
    shortcut |a|^2 + |b|^2 - 2ab in float32 leaves up to about 1e-3 there, and how much depends
    on the CPU's BLAS kernels.)  Agrees with a float64 reference to 1e-12.
    """
    from scipy.spatial.distance import cdist

    a = np.atleast_2d(np.asarray(a, np.float64))
    b = np.atleast_2d(np.asarray(b, np.float64))
    return cdist(a, b, "euclidean")


@dataclass
class Match:
    """The answer for one face: the nearest known name (or ``"unknown"``) and its distance."""

    face: Face | None
    name: str
    distance: float
    nearest: str

    def __str__(self) -> str:
        return f"{self.name} (distance {self.distance:.2f} to {self.nearest})"


@dataclass
class Gallery:
    """Known faces: one row of ``embeddings`` per enrolled photo, with its person's name."""

    names: list[str]
    embeddings: np.ndarray
    backend: str
    sources: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    _sq: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _sq_of: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        arr = np.asarray(self.embeddings, np.float32)
        if arr.ndim != 2:
            arr = arr.reshape(len(self.names), -1)
        if arr.shape[0] != len(self.names):
            raise ValueError(f"{len(self.names)} names for {arr.shape[0]} embeddings")
        self.embeddings = arr

    def __len__(self) -> int:
        return len(self.names)

    @property
    def people(self) -> list[str]:
        return sorted(set(self.names))

    def add(self, name: str, embedding: np.ndarray, backend: str, source: str = "") -> None:
        if backend != self.backend:
            raise BackendMismatchError(f"cannot add a {backend} embedding to a {self.backend} gallery")
        self.names.append(name)
        self.embeddings = np.vstack([self.embeddings, np.asarray(embedding, np.float32).reshape(1, -1)])
        self.sources.append(source)

    def search(self, queries: np.ndarray, threshold: float, backend: str | None = None) -> list[tuple[str, float, str]]:
        """For each query embedding: ``(name or "unknown", distance, nearest name)``."""
        if backend is not None and backend != self.backend:
            raise BackendMismatchError(f"these embeddings come from {backend!r} but the gallery holds "
                                       f"{self.backend!r} embeddings: enrol again with the same backend")
        q = np.atleast_2d(np.asarray(queries, np.float32))
        if len(self) == 0:
            raise ValueError("the gallery is empty: enrol at least one face first")
        if q.shape[1] != self.embeddings.shape[1]:
            raise BackendMismatchError(f"query embeddings have {q.shape[1]} dimensions, the gallery {self.embeddings.shape[1]}")
        # The nearest row by |e|^2 - 2 q.e (one matrix product, float64, |e|^2 cached), then its
        # distance from the difference itself, so that a query equal to a row is at 0.0 exactly.
        sq = self._squared_norms()
        scores = sq[None, :] - 2.0 * (q.astype(np.float64) @ self.embeddings.T.astype(np.float64))
        best = scores.argmin(1)
        dist = np.sqrt(((q.astype(np.float64) - self.embeddings[best].astype(np.float64)) ** 2).sum(1))
        return [(self.names[i] if di < threshold else UNKNOWN, float(di), self.names[i]) for i, di in zip(best, dist)]

    def _squared_norms(self) -> np.ndarray:
        """|e|^2 per row in float64, cached with the embeddings array it was computed from: a new
        array (``add``, or assigning ``embeddings``) recomputes it.  Edit rows in place only
        through a new array."""
        if self._sq_of is not self.embeddings:
            e = self.embeddings.astype(np.float64)
            self._sq, self._sq_of = (e * e).sum(1), self.embeddings
        return self._sq

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, names=np.array(self.names, dtype=str), embeddings=self.embeddings,
                            backend=np.array(self.backend), sources=np.array(self.sources, dtype=str))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Gallery":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"gallery file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(list(z["names"]), z["embeddings"], str(z["backend"]), list(z["sources"]))
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"{path} is not a gallery saved by Gallery.save ({exc})") from exc


def enrol_folder(root: str | Path, embedder: Embedder | str = "dlib", multiple: str = "largest") -> Gallery:
    """Enrol ``root/<name>/*.jpg``: one embedding per photo, of its face.

    A photo with several faces contributes its largest face (``multiple="largest"``) or is skipped
    (``"skip"``); photos without a face or that cannot be read are skipped.  Every skipped or doubtful
    photo is listed in ``gallery.problems`` (path -> reason).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        EnrolmentError: no photo at all could be enrolled (the message lists why).
    """
    emb = get_embedder(embedder) if isinstance(embedder, str) else embedder
    if multiple not in ("largest", "skip"):
        raise ValueError(f"multiple must be 'largest' or 'skip', got {multiple!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"gallery folder not found: {root} (expected {root}/<name>/1.jpg ...)")
    gallery = Gallery([], np.zeros((0, emb.dim), np.float32), emb.name)
    people = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for person in people:
        photos = sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not photos:
            gallery.problems[str(person)] = "no photo in this folder"
        for photo in photos:
            try:
                img = load_image(photo)
            except (OSError, ImageError, ValueError) as exc:
                gallery.problems[str(photo)] = f"unreadable: {exc}"
                continue
            faces = emb.detect(img)
            if not faces:
                gallery.problems[str(photo)] = "no face found"
                continue
            if len(faces) > 1:
                if multiple == "skip":
                    gallery.problems[str(photo)] = f"{len(faces)} faces: skipped (one face per enrolment photo)"
                    continue
                gallery.problems[str(photo)] = f"{len(faces)} faces: enrolled the largest"
            face = largest_face(faces)
            gallery.add(person.name, emb.embed_faces(img, [face])[0], emb.name, str(photo))
    if not len(gallery):
        detail = "; ".join(f"{Path(k).relative_to(root) if Path(k).is_relative_to(root) else k}: {v}"
                           for k, v in gallery.problems.items()) or "no <name>/ folders with photos"
        raise EnrolmentError(f"nothing to enrol in {root}: {detail}")
    return gallery


def make_sample_gallery(folder: str | Path) -> Path:
    """Write an offline starter gallery in the homework's layout: ``Eileen_Collins/1.jpg`` and
    ``Grace_Hopper/1.jpg`` (the sample portraits) under ``folder``, and ``folder/../group.jpg`` to
    identify (four faces of the two).  Existing files are kept.  Returns ``folder``."""
    from .samples import save_sample

    folder = Path(folder)
    for name, sample in (("Eileen_Collins", "astronaut"), ("Grace_Hopper", "grace_hopper")):
        if not (folder / name / "1.jpg").exists():
            save_sample(sample, folder / name / "1.jpg")
    if not (folder.parent / "group.jpg").exists():
        save_sample("group", folder.parent / "group.jpg")
    return folder


def identify(image: ImageLike, gallery: Gallery, embedder: Embedder | str | None = None,
             threshold: float | None = None) -> list[Match]:
    """Every face of ``image`` with the nearest enrolled name, or ``"unknown"`` when the nearest is
    not closer than ``threshold`` (default: the backend's)."""
    emb = get_embedder(embedder or gallery.backend) if not isinstance(embedder, Embedder) else embedder
    if emb.name != gallery.backend:
        raise BackendMismatchError(f"the gallery was enrolled with {gallery.backend!r}, not {emb.name!r}")
    faces, vecs = emb.embed_image(image)
    if not faces:
        return []
    found = gallery.search(vecs, emb.threshold if threshold is None else threshold, emb.name)
    return [Match(f, name, d, nearest) for f, (name, d, nearest) in zip(faces, found)]


def draw_matches(image: ImageLike, matches: Sequence[Match]) -> np.ndarray:
    """Boxes with names: green for known people, red for unknown."""
    from .draw import draw_faces

    return draw_faces(image, [m.face for m in matches],
                      color=[(230, 40, 40) if m.name == UNKNOWN else (40, 200, 60) for m in matches],
                      labels=[f"{m.name} {m.distance:.2f}" for m in matches], show_keypoints=False)


# ------------------------------------------------------------------------------ verification


def embed_paths(paths: Iterable[str | Path], embedder: Embedder, fallback_margin: float = 0.0,
                progress: bool = False, flip: bool = False, pick: str = "center",
                batch_size: int = 32) -> tuple[np.ndarray, list[str]]:
    """Embed one face per image, chips batched: the face nearest the image centre (``pick="center"``,
    right for LFW-style crops centred on the labelled person; on LFW folds 4-6 it beats the largest
    face, 0.9883 against 0.9856 for dlib) or the largest (``pick="largest"``).  An image where no
    face is found is embedded from its centre (the usual LFW protocol) and listed.  ``flip``: see
    :meth:`Embedder.embed_faces`.
    """
    if pick not in ("center", "largest"):
        raise ValueError(f"pick must be 'center' or 'largest', got {pick!r}")
    paths = list(paths)
    out = np.zeros((len(paths), embedder.dim), np.float32)
    fallback, pending = [], []
    it = enumerate(paths)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(paths), unit="image")

    def flush():
        out[[i for i, _ in pending]] = embedder.embed_aligned([c for _, c in pending], flip=flip)
        pending.clear()

    for i, p in it:
        img = load_image(p)
        faces = embedder.detect(img)
        face = central_face(faces, img.shape) if pick == "center" else largest_face(faces)
        if face is None:
            h, w = img.shape[:2]
            s = min(h, w) * 0.5
            face = Face((w / 2 - s / 2, h / 2 - s / 2 - fallback_margin, w / 2 + s / 2, h / 2 + s / 2), 0.0)
            fallback.append(str(p))
        pending.append((i, embedder.chips(img, [face])[0]))
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    return out, fallback


@dataclass
class VerificationResult:
    """k-fold verification: accuracy per fold (threshold chosen on the other folds), ROC inputs."""

    fold_accuracy: dict[int, float]
    fold_threshold: dict[int, float]
    distances: np.ndarray
    same: np.ndarray
    folds: np.ndarray

    @property
    def mean_accuracy(self) -> float:
        return float(np.mean(list(self.fold_accuracy.values())))

    @property
    def threshold(self) -> float:
        """The threshold chosen on all pairs (for use after evaluation)."""
        return best_threshold(self.distances, self.same)

    def roc(self):
        """``(false positive rate, true positive rate, thresholds, AUC)`` with "same" as positive."""
        from sklearn.metrics import auc, roc_curve

        fpr, tpr, thr = roc_curve(self.same, -self.distances)
        return fpr, tpr, -thr, float(auc(fpr, tpr))

    def __str__(self) -> str:
        rows = [f"fold {k}: accuracy {v:.4f} (threshold {self.fold_threshold[k]:.3f})" for k, v in self.fold_accuracy.items()]
        return "\n".join(rows + [f"mean accuracy {self.mean_accuracy:.4f} over {len(self.fold_accuracy)} folds"])


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The distance threshold with the best accuracy on these pairs (midpoints between sorted distances)."""
    d = np.sort(np.asarray(distances, np.float64))
    candidates = np.concatenate([[d[0] - 1e-6], (d[1:] + d[:-1]) / 2, [d[-1] + 1e-6]])
    same = np.asarray(same, bool)
    acc = [((distances < t) == same).mean() for t in candidates]
    return float(candidates[int(np.argmax(acc))])


def kfold_verification(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> VerificationResult:
    """LFW's protocol: for each fold, choose the threshold on the other folds, score on this one."""
    distances, same, folds = np.asarray(distances, np.float64), np.asarray(same, bool), np.asarray(folds)
    acc, thr = {}, {}
    keys = sorted(set(folds.tolist()))
    if len(keys) < 2:
        raise ValueError("k-fold verification needs pairs from at least two folds")
    for k in keys:
        train = folds != k
        t = best_threshold(distances[train], same[train])
        test = ~train
        acc[int(k)] = float(((distances[test] < t) == same[test]).mean())
        thr[int(k)] = t
    return VerificationResult(acc, thr, distances, same, folds)


def verify_pairs(pairs, embedder: Embedder | str = "dlib", progress: bool = False, flip: bool = False,
                 pick: str = "center") -> VerificationResult:
    """Verification accuracy on LFW-style pairs (a DataFrame of :func:`course_utils.load_lfw_pairs`
    with ``img_a``, ``img_b``, ``same``, ``fold``, resolved to files): each image embedded once
    (:func:`embed_paths`: ``flip`` and ``pick`` are its options)."""
    emb = get_embedder(embedder) if isinstance(embedder, str) else embedder
    unique = sorted(set(pairs["img_a"]) | set(pairs["img_b"]))
    vecs, _ = embed_paths(unique, emb, progress=progress, flip=flip, pick=pick)
    row = {p: i for i, p in enumerate(unique)}
    a = vecs[[row[p] for p in pairs["img_a"]]]
    b = vecs[[row[p] for p in pairs["img_b"]]]
    return kfold_verification(emb.distance(a, b), pairs["same"].to_numpy(bool), pairs["fold"].to_numpy())
