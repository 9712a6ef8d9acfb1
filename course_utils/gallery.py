"""Galleries of known faces (lesson 06): enrol, search with a threshold, "unknown".

    gallery = cu.enrol_folder("data/test_images", emb)       # <name>/*.jpg, one face per photo
    matches = cu.identify(img, gallery, emb)       # nearest known face, or "unknown" beyond the threshold
    gallery.save("gallery.npz"); gallery = cu.Gallery.load("gallery.npz")

:func:`pairwise_distances` and :meth:`Gallery.search` (nearest neighbour with a threshold) are the
methods the lesson teaches, written plainly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .detection import Face, largest_face
from .embedders import Embedder, get_embedder
from .images import ImageError, ImageLike, image_files, load_image, subfolders

UNKNOWN = "unknown"


class EnrolmentError(ValueError):
    """A gallery that cannot be built (no usable photo at all); the message lists each problem."""


class BackendMismatchError(ValueError):
    """Embeddings of different backends compared with each other."""


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

    def __post_init__(self):
        arr = np.asarray(self.embeddings, np.float32)
        if arr.ndim != 2:
            arr = arr.reshape(len(self.names), -1)
        if arr.shape[0] != len(self.names):
            raise ValueError(f"{len(self.names)} names for {arr.shape[0]} embeddings")
        self.embeddings = arr
        self.names = list(self.names)
        if len(self.sources) > len(self.names):
            raise ValueError(f"{len(self.sources)} sources for {len(self.names)} names")
        self.sources = list(self.sources) + [""] * (len(self.names) - len(self.sources))  # one per row

    def __len__(self) -> int:
        return len(self.names)

    @property
    def people(self) -> list[str]:
        return sorted(set(self.names))

    def copy(self) -> "Gallery":
        """A gallery with the same rows that can grow without changing this one."""
        return Gallery(list(self.names), self.embeddings.copy(), self.backend, list(self.sources), dict(self.problems))

    def add(self, name: str, embedding: np.ndarray, backend: str, source: str = "") -> None:
        if backend != self.backend:
            raise BackendMismatchError(f"cannot add a {backend} embedding to a {self.backend} gallery")
        self.names.append(name)
        self.embeddings = np.vstack([self.embeddings, np.asarray(embedding, np.float32).reshape(1, -1)])
        self.sources.append(source)

    def search(self, queries: np.ndarray, threshold: float, backend: str | None = None) -> list[tuple[str, float, str]]:
        """For each query embedding: ``(name or "unknown", distance, nearest name)``.

        The nearest row by the exact distance (:func:`pairwise_distances`, float64 from the
        differences: a query equal to a row is at 0.0 on every machine), ties to the first row.
        Queries are taken at the gallery's float32 precision.
        """
        if backend is not None and backend != self.backend:
            raise BackendMismatchError(f"these embeddings come from {backend!r} but the gallery holds "
                                       f"{self.backend!r} embeddings: enrol again with the same backend")
        q = np.atleast_2d(np.asarray(queries, np.float32))
        if len(self) == 0:
            raise ValueError("the gallery is empty: enrol at least one face first")
        if q.shape[1] != self.embeddings.shape[1]:
            raise BackendMismatchError(f"query embeddings have {q.shape[1]} dimensions, the gallery {self.embeddings.shape[1]}")
        d = pairwise_distances(q, self.embeddings)
        best = d.argmin(axis=1)
        dist = d[np.arange(len(q)), best]
        return [(self.names[i] if di < threshold else UNKNOWN, float(di), self.names[i]) for i, di in zip(best, dist)]

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
    for person in subfolders(root):
        photos = image_files(person)
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
    return [p.name for p in subfolders(folder) if p.name not in STARTER_PEOPLE]


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


def draw_matches(image: ImageLike, matches: Sequence[Match], threshold: float | None = None) -> np.ndarray:
    """Boxes with names: green for known people, red for unknown; each label is the name and the distance,
    and with ``threshold`` the comparison that decided (``"Ada 0.41<0.6"``, ``"unknown 0.83>=0.6"``)."""
    from .draw import draw_faces

    def label(m: Match) -> str:
        if threshold is None:
            return f"{m.name} {m.distance:.2f}"
        return f"{m.name} {m.distance:.2f}{'<' if m.name != UNKNOWN else '>='}{threshold:g}"

    return draw_faces(image, [m.face for m in matches],
                      color=[(230, 40, 40) if m.name == UNKNOWN else (40, 200, 60) for m in matches],
                      labels=[label(m) for m in matches], show_keypoints=False)
