"""Face identification (lesson 06): embeddings, galleries, "unknown", LFW verification.

    emb = cu.get_embedder("dlib")                  # offline: dlib's ResNet descriptor (LFW 0.9938)
    emb = cu.get_embedder("facenet")               # FaceNet InceptionResnetV1, VGGFace2 weights (LFW 0.9965)
    gallery = cu.enrol_folder("data/test_images", emb)       # <name>/*.jpg, one face per photo
    matches = cu.identify(img, gallery, emb)       # nearest known face, or "unknown" beyond the threshold
    gallery.save("gallery.npz"); gallery = cu.Gallery.load("gallery.npz")

On the real sample (``data/real``, offline):

    sample = ident.load_people_sample(2)           # 12 people: 2 photos enrolled, 3 held back; 8 strangers
    vecs, _ = ident.embed_paths([p for _, p in sample.all], emb)
    ident.score_identification(gallery, held_back_vecs, names, stranger_vecs, emb.threshold)
    ident.sample_protocol(labels)                  # LFW's k-fold protocol in small, identity-disjoint folds
    ident.make_sample_gallery("data/test_images")  # the lecture's starter gallery (hw3)

The methods the lesson teaches, written plainly: :func:`triplet_loss` (and :func:`triplet_kinds`: easy,
semi-hard, hard), :func:`pairwise_distances`, :meth:`Gallery.search` (nearest neighbour with a threshold),
:func:`verification_accuracy`, :func:`kfold_verification`.

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
        # Candidates by |e|^2 - 2 q.e (one float32 matrix product, |e|^2 cached in float64): every row
        # within float32's rounding of the smallest score.  Then the exact distance, from the
        # differences in float64, picks among them: the nearest row is the exactly nearest one (ties
        # to the first), whatever the CPU's kernels, and a query equal to a row is at 0.0.
        sq = self._squared_norms()
        scores = sq[None, :] - 2.0 * (q @ self.embeddings.T)
        slack = 1e-5 * ((q.astype(np.float64) ** 2).sum(1) + sq.max())  # above float32 error, below real gaps
        best = np.empty(len(q), dtype=np.int64)
        dist = np.empty(len(q))
        for i, row in enumerate(scores):
            near = np.flatnonzero(row <= row.min() + slack[i])
            d = pairwise_distances(q[i:i + 1], self.embeddings[near])[0]
            best[i], dist[i] = near[d.argmin()], d.min()
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


#: The lecture's starter gallery (facenet-pytorch's ``data/test_images``), one photo each.
STARTER_PEOPLE = ("angelina_jolie", "bradley_cooper", "kate_siegel", "paul_rudd", "shea_whigham")


def make_sample_gallery(folder: str | Path) -> Path:
    """Write the lecture's starter gallery in the homework's layout: ``<name>/1.jpg`` for the five
    people of ``STARTER_PEOPLE`` (real photos, ``cu.real_samples("test_images")``) under ``folder``.
    Existing files are kept, so your own ``<your name>/1.jpg`` stays.  Returns ``folder``."""
    import shutil

    from .samples import real_samples

    source = real_samples("test_images")
    folder = Path(folder)
    for name in STARTER_PEOPLE:
        target = folder / name / "1.jpg"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name / "1.jpg", target)
    return folder


def own_people(folder: str | Path) -> list[str]:
    """The people of a gallery folder who are not among the lecture's starter people (your own photos)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name not in STARTER_PEOPLE)


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


def verification_accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """The share of pairs decided right at ``threshold``: "same person" when the distance is below it."""
    distances, same = np.asarray(distances, np.float64), np.asarray(same, bool)
    if distances.shape != same.shape:
        raise ValueError(f"{distances.shape[0] if distances.ndim else 1} distances for "
                         f"{same.shape[0] if same.ndim else 1} same/different labels")
    return float(((distances < threshold) == same).mean())


# ------------------------------------------------------------------------------ the triplet loss


def triplet_loss(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray, alpha: float = 0.2):
    """FaceNet's loss ``max(0, |a - p|^2 - |a - n|^2 + alpha)`` per triplet (rows of the arrays, in
    float64): a float for single vectors, an array for rows.  0 where the triplet is already satisfied."""
    a, p, n = (np.asarray(x, np.float64) for x in (anchor, positive, negative))
    loss = np.maximum(0.0, ((a - p) ** 2).sum(-1) - ((a - n) ** 2).sum(-1) + alpha)
    return float(loss) if loss.ndim == 0 else loss


TRIPLET_KINDS = ("easy", "semi-hard", "hard")


def triplet_kinds(embeddings: np.ndarray, labels: Sequence[str], alpha: float = 0.2) -> dict[str, int]:
    """Count every (anchor, positive, negative) triplet of these embeddings by FaceNet's kinds, with
    squared distances: *easy* ``d(a,n) >= d(a,p) + alpha`` (no loss, no gradient), *semi-hard*
    ``d(a,p) < d(a,n) < d(a,p) + alpha`` (what FaceNet mines: a loss, but the negative is still further
    than the positive) and *hard* ``d(a,n) <= d(a,p)``."""
    e = np.asarray(embeddings, np.float64)
    labels = np.asarray(labels)
    if len(labels) != len(e):
        raise ValueError(f"{len(labels)} labels for {len(e)} embeddings")
    d2 = pairwise_distances(e, e) ** 2
    counts = dict.fromkeys(TRIPLET_KINDS, 0)
    for a in range(len(e)):
        pos = np.flatnonzero((labels == labels[a]) & (np.arange(len(e)) != a))
        neg = np.flatnonzero(labels != labels[a])
        if not len(pos) or not len(neg):
            continue
        dap, dan = d2[a, pos][:, None], d2[a, neg][None, :]
        counts["hard"] += int((dan <= dap).sum())
        counts["semi-hard"] += int(((dan > dap) & (dan < dap + alpha)).sum())
        counts["easy"] += int((dan >= dap + alpha).sum())
    return counts


# ------------------------------------------------------------------------------ the real sample


@dataclass
class PeopleSample:
    """Real photos split for identification: ``enrol`` and ``held_back`` photos of the same people
    (different photos of each), ``strangers`` (people with one photo: never enrolled).  Each is a list
    of ``(name, path)``."""

    enrol: list[tuple[str, Path]]
    held_back: list[tuple[str, Path]]
    strangers: list[tuple[str, Path]]

    @property
    def people(self) -> list[str]:
        return sorted({n for n, _ in self.enrol})

    @property
    def all(self) -> list[tuple[str, Path]]:
        return self.enrol + self.held_back + self.strangers

    def __str__(self) -> str:
        return (f"{len(self.people)} people: {len(self.enrol)} photos to enrol, {len(self.held_back)} other photos of "
                f"them held back; {len(self.strangers)} people with one photo, never enrolled")


def load_people_sample(n_enrol: int = 2, root: str | Path | None = None) -> PeopleSample:
    """The real LFW sample (``cu.real_samples("lfw_people")``: ``<Name>/<Name>_NNNN.jpg``) split for
    identification: for each person with more than ``n_enrol`` photos, the first ``n_enrol`` (by file
    name) are enrolled and the others held back; people with one photo are strangers."""
    if n_enrol < 1:
        raise ValueError(f"n_enrol must be at least 1, got {n_enrol}")
    if root is None:
        from .samples import real_samples

        root = real_samples("lfw_people")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no photo folder {root}: expected {root}/<Name>/<Name>_NNNN.jpg")
    enrol, held, strangers = [], [], []
    for person in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        photos = sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(photos) == 1:
            strangers.append((person.name, photos[0]))
        elif len(photos) > n_enrol:
            enrol += [(person.name, p) for p in photos[:n_enrol]]
            held += [(person.name, p) for p in photos[n_enrol:]]
    if not enrol:
        raise ValueError(f"no one in {root} has more than {n_enrol} photos: lower n_enrol")
    return PeopleSample(enrol, held, strangers)


@dataclass
class IdentificationScores:
    """How identification did on held-back photos of enrolled people and on strangers."""

    threshold: float
    known_right: int      # held-back photo given its person's name
    known_wrong: int      # given someone else's name
    known_unknown: int    # called "unknown" (a false reject)
    strangers_unknown: int
    strangers_named: int  # a stranger taken for an enrolled person (a false accept)

    @property
    def known_accuracy(self) -> float:
        return self.known_right / max(1, self.known_right + self.known_wrong + self.known_unknown)

    @property
    def stranger_accuracy(self) -> float:
        return self.strangers_unknown / max(1, self.strangers_unknown + self.strangers_named)

    def __str__(self) -> str:
        n_known = self.known_right + self.known_wrong + self.known_unknown
        n_str = self.strangers_unknown + self.strangers_named
        return (f"threshold {self.threshold:.2f}: held-back photos named right {self.known_right}/{n_known} "
                f"({self.known_accuracy:.0%}; wrong name {self.known_wrong}, unknown {self.known_unknown}), "
                f"strangers unknown {self.strangers_unknown}/{n_str} ({self.stranger_accuracy:.0%})")


def score_identification(gallery: Gallery, known: np.ndarray, known_names: Sequence[str], strangers: np.ndarray,
                         threshold: float) -> IdentificationScores:
    """Identify ``known`` embeddings (photos of enrolled people, not the enrolled photos) and
    ``strangers`` (people not enrolled) against ``gallery`` at ``threshold``, and count the outcomes."""
    got = [name for name, _, _ in gallery.search(known, threshold)] if len(known) else []
    right = sum(g == t for g, t in zip(got, known_names))
    unknown = sum(g == UNKNOWN for g in got)
    s = [name for name, _, _ in gallery.search(strangers, threshold)] if len(strangers) else []
    s_unknown = sum(g == UNKNOWN for g in s)
    return IdentificationScores(float(threshold), right, len(got) - right - unknown, unknown, s_unknown, len(s) - s_unknown)


def same_different_pairs(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``i < j`` of these photos: ``(pairs (N, 2), same (N,) bool)``."""
    labels = np.asarray(labels)
    i, j = np.triu_indices(len(labels), k=1)
    return np.stack([i, j], 1), labels[i] == labels[j]


def sample_protocol(labels: Sequence[str], n_folds: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A small LFW-style protocol on photos labelled ``labels``: people (with two photos or more) dealt
    into ``n_folds`` identity-disjoint folds; in each fold every same-person pair and as many
    different-person pairs (drawn with ``seed``) between that fold's people.

    Returns ``(pairs (N, 2) indices into labels, same (N,) bool, fold (N,) 1-based)``.
    """
    labels = np.asarray(labels)
    names, counts = np.unique(labels, return_counts=True)
    people = list(names[counts >= 2])
    if len(people) < 2 * n_folds:
        raise ValueError(f"{n_folds} folds need at least {2 * n_folds} people with two photos or more, "
                         f"got {len(people)}")
    rng = np.random.default_rng(seed)
    out_pairs, out_same, out_fold = [], [], []
    for k in range(n_folds):
        members = people[k::n_folds]
        idx = np.flatnonzero(np.isin(labels, members))
        pairs, same = same_different_pairs(labels[idx])
        pairs = idx[pairs]
        pos, neg = pairs[same], pairs[~same]
        neg = neg[np.sort(rng.choice(len(neg), size=min(len(pos), len(neg)), replace=False))]
        out_pairs += [pos, neg]
        out_same += [np.ones(len(pos), bool), np.zeros(len(neg), bool)]
        out_fold.append(np.full(len(pos) + len(neg), k + 1))
    return np.concatenate(out_pairs), np.concatenate(out_same), np.concatenate(out_fold)


def write_gallery(folder: str | Path, photos: Iterable[tuple[str, str | Path]]) -> Path:
    """Copy ``(name, photo)`` pairs into the homework's layout ``folder/<name>/1.jpg, 2.jpg, ...``
    (existing files are kept; new ones take the next free number).  Returns ``folder``."""
    import shutil

    folder = Path(folder)
    for name, photo in photos:
        photo = Path(photo)
        person = folder / name
        person.mkdir(parents=True, exist_ok=True)
        n = 1
        while any((person / f"{n}{s}").exists() for s in IMAGE_SUFFIXES):
            n += 1
        shutil.copyfile(photo, person / f"{n}{photo.suffix.lower()}")
    return folder


def backend_note(embedder: Embedder) -> str:
    """What the lesson and homework say about the backend in use: FaceNet with the lecture's rule, or
    dlib standing in for it offline, and why its threshold is another number."""
    import textwrap

    if embedder.name == "facenet":
        return textwrap.fill("FaceNet (InceptionResnetV1, the lecture's model): 512-D embeddings of length 1; the lecture's rule: "
                "distance < 1.0 -> the nearest enrolled name, else unknown.", 110)
    return textwrap.fill("FaceNet's weights are not on this machine, so dlib's ResNet descriptor stands in for it (it ships with "
            "the face_recognition_models package, no download). The rule is the lecture's, nearest name if closer "
            f"than the threshold, but the threshold is {embedder.threshold}, not 1.0: dlib's 128-D descriptors live "
            "on another scale (they are not of length 1, and dlib trained its network so that two photos of one "
            "person land closer than 0.6), so FaceNet's 1.0 would accept most pairs of different people.", 110)


def load_available_pairs(lfw_root: str | Path, pairs_per_fold: int | None = None, seed: int = 0):
    """LFW's ``pairs.txt`` under ``lfw_root``, keeping the folds whose images are all there.

    A copy of LFW that holds only some folds (such as ``lfw_dev``, folds 4-6) is evaluated on those:
    the notice (``df.attrs["notice"]``, also printed) names the folds left out.  ``pairs_per_fold``
    keeps that many pairs of each fold, half same and half different, drawn with ``seed`` (a short run).

    Raises:
        DatasetNotFoundError: no LFW image tree under ``lfw_root`` (from :func:`course_utils.load_lfw`).
        FileNotFoundError: no ``pairs.txt`` beside it.
        ValueError: fewer than two folds have all their images (the 10-fold protocol needs two).
    """
    from .datasets import load_lfw, load_lfw_pairs

    root = Path(lfw_root)
    index = load_lfw(root)
    pairs_file = index.pairs_file or root / "pairs.txt"
    if not Path(pairs_file).is_file():
        raise FileNotFoundError(f"no pairs.txt in {root}: LFW's View-2 pairs file is needed for the protocol")
    df = load_lfw_pairs(pairs_file, index, missing="keep")
    present = [((a, na) in index) and ((b, nb) in index)
               for a, na, b, nb in zip(df.name_a, df.num_a, df.name_b, df.num_b)]
    complete = df.assign(_ok=present).groupby("fold")["_ok"].all()
    folds, missing = [int(f) for f in complete.index[complete]], [int(f) for f in complete.index[~complete]]
    if len(folds) < 2:
        raise ValueError(f"{root} holds all the images of {len(folds)} fold(s) of pairs.txt ({folds}); "
                         "the protocol needs two folds or more: point LFW_DIR at a fuller copy of LFW")
    df = df[df.fold.isin(folds)].reset_index(drop=True)
    if pairs_per_fold is not None:
        parts = []
        for (_, same), g in df.groupby(["fold", "same"]):
            parts.append(g.sample(n=min(len(g), pairs_per_fold // 2), random_state=seed))
        import pandas as pd

        df = pd.concat(parts).sort_values(["fold", "same"], ascending=[True, False]).reset_index(drop=True)
    notice = ""
    if missing:
        notice = (f"notice: {root.name} holds the images of folds {_ranges(folds)} only; folds {_ranges(missing)} "
                  f"are left out, so the figures below are over {len(folds)} folds, not LFW's 10")
        print(notice)
    df.attrs["notice"] = notice
    return df


def _ranges(numbers: Sequence[int]) -> str:
    """[4, 5, 6, 9] -> '4-6, 9'."""
    out, nums = [], sorted(numbers)
    start = prev = nums[0]
    for n in nums[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(f"{start}-{prev}" if prev > start else f"{start}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


# ------------------------------------------------------------------------------ figures


def _text_colour(cmap, norm, value) -> str:
    """Black or white, whichever reads on the colormap's colour at ``value`` (by its luminance)."""
    r, g, b, _ = cmap(norm(value))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def show_distance_matrix(distances: np.ndarray, labels: Sequence[str], ax=None, cmap: str = "viridis_r",
                         numbers: bool = True, title: str = ""):
    """The distance matrix as an image with a colour bar, each cell's value written in black or white
    (whichever reads on its colour).  Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    d = np.asarray(distances, float)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.42 * len(d) + 2, 0.38 * len(d) + 1.2))
    cm, norm = plt.get_cmap(cmap), Normalize(d.min(), d.max())
    im = ax.imshow(d, cmap=cm, norm=norm)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    if numbers:
        for i in range(len(d)):
            for j in range(len(d)):
                ax.text(j, i, f"{d[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color=_text_colour(cm, norm, d[i, j]))
    ax.figure.colorbar(im, ax=ax, label="distance")
    ax.set_title(title)
    return ax


def show_distance_histograms(same: np.ndarray, different: np.ndarray, threshold: float | None = None, ax=None,
                             title: str = ""):
    """Histograms of same-person and different-people distances, with the threshold.  Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    both = np.concatenate([same, different])
    bins = np.linspace(both.min(), both.max(), 30)
    ax.hist(different, bins, alpha=0.6, density=True, color="tab:red", label=f"different people ({len(different)} pairs)")
    ax.hist(same, bins, alpha=0.6, density=True, color="tab:green", label=f"same person ({len(same)} pairs)")
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold}")
    ax.set_xlabel("distance between embeddings")
    ax.set_ylabel("share of pairs (density)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return ax


def show_embedding_map(embeddings: np.ndarray, labels: Sequence[str], ax=None, title: str = ""):
    """The embeddings projected on their first two principal components, one colour per person,
    each person's name at the mean of its points.  Returns the Axes."""
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    labels = np.asarray(labels)
    xy = PCA(n_components=2, random_state=0).fit_transform(np.asarray(embeddings, np.float64))
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5.5))
    colours = plt.get_cmap("tab20")
    for k, name in enumerate(sorted(set(labels))):
        pts = xy[labels == name]
        ax.scatter(pts[:, 0], pts[:, 1], color=colours(k % 20), s=30)
        cx, cy = pts.mean(0)
        ax.annotate(name.replace("_", " "), (cx, cy), fontsize=7, ha="center", color=colours(k % 20),
                    fontweight="bold")
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title(title)
    return ax


def cluster_report(embeddings: np.ndarray, labels: Sequence[str]) -> list[tuple[str, float, float]]:
    """For each person: ``(name, largest distance of a photo to its own centre, smallest distance of a
    photo to another person's centre)`` in the full embedding space (not a projection)."""
    e, labels = np.asarray(embeddings, np.float64), np.asarray(labels)
    names = sorted(set(labels))
    centres = {n: e[labels == n].mean(0) for n in names}
    out = []
    for n in names:
        own = np.linalg.norm(e[labels == n] - centres[n], axis=1).max()
        other = min(np.linalg.norm(e[labels == n] - centres[m], axis=1).min() for m in names if m != n)
        out.append((n, float(own), float(other)))
    return out


def short_name(name: str) -> str:
    """A short label for a folder name: the family name (``Colin_Powell`` -> ``Powell``,
    ``Queen_Elizabeth_II`` -> ``Elizabeth``), ``unknown`` as it is."""
    parts = [p for p in name.split("_") if p not in ("II", "III", "Jr", "Sr")] or [name]
    return parts[-1]


def show_identifications(photos: Sequence[str | Path], truth: Sequence[str], found: Sequence[tuple[str, float, str]],
                         ncols: int = 8, size: float = 1.6):
    """Thumbnails of probe photos titled with the answer and its distance: green when right (the
    person's name, or "unknown" for someone not enrolled), red when wrong.  Returns the Figure."""
    import matplotlib.pyplot as plt

    n = len(photos)
    rows = -(-n // ncols)
    fig, axes = plt.subplots(rows, ncols, figsize=(ncols * size, rows * (size + 0.35)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, photo, t, (name, dist, _) in zip(axes.flat, photos, truth, found):
        ax.imshow(load_image(photo))
        ax.set_title(f"{short_name(name)}\n{dist:.2f}", fontsize=7,
                     color="tab:green" if name == t else "tab:red")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ your own photo (homework)


def identify_own_photo(photo: str | Path, mine: Sequence[str], gallery: Gallery, embedder: Embedder,
                       decide=None) -> tuple[str, float] | None:
    """Your second photo (not enrolled) identified against ``gallery``: ``(name or "unknown", distance)``
    of its largest face, or ``None`` when there is nothing to check (no own folder in ``mine``, or no
    file ``photo``).  ``decide(query, names, embeddings, threshold) -> (name, distance)`` is the rule to
    use (the homework passes the student's); default :meth:`Gallery.search`.  A photo without a face
    gives ``("no face", nan)``."""
    if not mine or not Path(photo).is_file():
        return None
    img = load_image(photo)
    face = largest_face(embedder.detect(img))
    if face is None:
        return ("no face", float("nan"))
    query = embedder.embed_faces(img, [face])[0]
    if decide is None:
        name, dist, _ = gallery.search(query, embedder.threshold, embedder.name)[0]
        return name, dist
    name, dist = decide(query, gallery.names, gallery.embeddings, embedder.threshold)
    return name, float(dist)


def own_photo_report(gallery_dir: str | Path, photo: str | Path, gallery: Gallery, embedder: Embedder,
                     decide=None) -> str:
    """What the homework says about your own photos: a clear notice when there are none, else whether
    you are enrolled and what your second photo was identified as (see :func:`identify_own_photo`)."""
    mine = own_people(gallery_dir)
    if not mine:
        import textwrap

        return textwrap.fill(f"NOTICE: no photo of you in {gallery_dir}: only the starter people are enrolled, so your "
                             f"own photo was not checked (the grader runs on the starter gallery, so this is not an "
                             f"error). Add {gallery_dir}/<your name>/1.jpg and a second photo {photo}, then run the "
                             "notebook again.", 110)
    lines = [f"your folder{'s' if len(mine) > 1 else ''}: " + ", ".join(
        f"{m} ({gallery.names.count(m)} photo(s) enrolled)" if m in gallery.names
        else f"{m} (NOT enrolled: no face found in its photos, or no photo)" for m in mine)]
    got = identify_own_photo(photo, mine, gallery, embedder, decide)
    if got is None:
        lines.append(f"NOTICE: no second photo {photo}: add one (not in the gallery) to be identified")
    elif got[0] == "no face":
        lines.append(f"{photo}: no face found; try a photo where your face is larger and frontal")
    else:
        verdict = "recognised" if got[0] in mine else "NOT recognised"
        lines.append(f"{photo}: identified as {got[0]} (distance {got[1]:.2f}, threshold {embedder.threshold}): {verdict}")
    return "\n".join(lines)
