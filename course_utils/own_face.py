"""Your own face in the notebooks (lesson 06, hw3): photos you upload or take with the browser's camera,
checked when they arrive, kept in a writable folder that git never sees, enrolled and identified.

    folder = own_face.faces_dir()                     # <data folder>/my_faces: data/cache locally, /kaggle/working on Kaggle
    saved = own_face.save_photo("Ada", photo_bytes)   # checks the photo, writes my_faces/Ada/1.jpg when it is usable
    print(saved)                                      # what was found, and what to do when it is not usable
    own_face.upload_box()                             # a widget: your name, an upload button, the checks

A photo is usable for enrolment when it shows **one** face (:data:`MIN_FACE_PX` pixels or more across),
sharp enough (:data:`MIN_SHARPNESS`) and neither too dark nor too bright (:data:`BRIGHTNESS`).  The limits
were set on the committed LFW sample: every enrolled photo of it passes, and copies of them blurred, darkened
or shrunk fail, each for its own reason (``tests/test_own_face.py``).  They are advice, not a verdict on the
photo: ``save_photo(..., force=True)`` keeps a photo that fails them (one face is still required).

Where the photos go: to this notebook's kernel (on your machine, or on the server that runs it: Colab, Kaggle,
JupyterHub), which writes them to :func:`faces_dir`; git ignores that folder.  The upload box forgets each file
once it is handled, so a notebook saved with its widget state does not carry your photos.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .images import ImageError, ImageLike, load_image

#: The smallest face (the shorter side of its box, in pixels) that is enrolled without a warning.
#: LFW's photos (250 x 250) hold faces of about 100-120 px; an embedding network scales every face to
#: 150 px (dlib) or 160 px (FaceNet), so a face under 64 px is mostly upsampled blur.
MIN_FACE_PX = 64
#: Sharpness: the variance of the Laplacian of the face, cut out and scaled to 112 x 112 grey pixels (a blur
#: lowers it).  Every photo of the committed LFW sample is above it, the same photos blurred with a Gaussian
#: of sigma 3 px below it (tests/test_own_face.py).
MIN_SHARPNESS = 20.0
#: The mean grey level of the face (0-255) outside which the photo is too dark or too bright.
BRIGHTNESS = (40.0, 220.0)
#: File types a photo may arrive as (what :func:`course_utils.load_image` decodes).
PHOTO_TYPES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
#: The largest photo accepted, in bytes (a phone photo is 2-8 MB).
MAX_BYTES = 25 * 1024 * 1024


@dataclass
class PhotoCheck:
    """What :func:`check_photo` found: ``faces`` (largest first), ``problems`` (each with its advice)."""

    faces: list
    problems: list[str] = field(default_factory=list)
    width: int = 0
    height: int = 0

    @property
    def usable(self) -> bool:
        return not self.problems

    @property
    def face(self):
        """The largest face, or None."""
        return self.faces[0] if self.faces else None

    def __str__(self) -> str:
        if not self.faces:
            head = f"{self.width}x{self.height} photo: no face found"
        else:
            x1, y1, x2, y2 = self.face.box
            head = (f"{self.width}x{self.height} photo: {len(self.faces)} face{'s' if len(self.faces) > 1 else ''}, "
                    f"the largest {min(x2 - x1, y2 - y1):.0f} px across")
        return head + ("; usable" if self.usable else "".join(f"\n  - {p}" for p in self.problems))


def face_crop(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The pixels of ``box`` (clipped to the image), uint8 RGB."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if x2 <= x1 or y2 <= y1:
        return np.zeros((1, 1, 3), np.uint8)
    return image[y1:y2, x1:x2]


def sharpness(image: np.ndarray, box: Sequence[float]) -> float:
    """The variance of the Laplacian of the face in ``box``, scaled to 112 x 112 grey (see :data:`MIN_SHARPNESS`)."""
    import cv2

    grey = cv2.cvtColor(cv2.resize(face_crop(image, box), (112, 112), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def check_photo(image: ImageLike, detect: Callable | None = None) -> PhotoCheck:
    """Check a photo for enrolment: one face, large enough, sharp, well lit.

    ``detect``: ``image -> faces`` (default: the course's MTCNN, :func:`course_utils.detect_faces`); pass
    the embedder's ``emb.detect`` to check with the detector that enrolment uses.

    Raises:
        ImageError: the data is not an image (corrupt, empty, a PDF, ...).
    """
    img = load_image(image)
    if detect is None:
        from .detection import detect_faces as detect
    faces = sorted(detect(img), key=lambda f: -f.area)
    check = PhotoCheck(faces=faces, width=img.shape[1], height=img.shape[0])
    if not faces:
        check.problems.append("no face found: face the camera, the whole face in the picture, no strong light "
                              "behind you, and try again")
        return check
    if len(faces) > 1:
        check.problems.append(f"{len(faces)} faces: enrol a photo of yourself alone (crop the others out), so "
                              "that the face enrolled under your name is yours")
    x1, y1, x2, y2 = faces[0].box
    side = min(x2 - x1, y2 - y1)
    if side < MIN_FACE_PX:
        check.problems.append(f"the face is {side:.0f} px across, under {MIN_FACE_PX}: come closer to the camera "
                              "or use a larger photo")
    grey = float(face_crop(img, faces[0].box).mean())
    if not BRIGHTNESS[0] <= grey <= BRIGHTNESS[1]:
        check.problems.append(f"the face is too {'dark' if grey < BRIGHTNESS[0] else 'bright'} (mean level "
                              f"{grey:.0f} of 255): face a window or a lamp, not a light behind you")
        return check  # a dark or washed-out face has little contrast: the sharpness says nothing more then
    sharp = sharpness(img, faces[0].box)
    if sharp < MIN_SHARPNESS:
        check.problems.append(f"the face looks blurred (sharpness {sharp:.0f}, under {MIN_SHARPNESS:.0f}): hold "
                              "still, clean the lens, add light")
    return check


def faces_dir(root: str | Path | None = None) -> Path:
    """The writable folder of your photos: ``root``, else ``<data folder>/my_faces`` (``data/cache/my_faces``
    in a checkout, which git ignores; ``/kaggle/working/data/my_faces`` on Kaggle, whose ``/kaggle/input``
    is read-only; ``$COURSE_DATA_DIR/my_faces`` when that is set)."""
    if root is not None:
        return Path(root).expanduser()
    from .download import default_data_dir

    return default_data_dir() / "my_faces"


def safe_name(name: str) -> str:
    """A person's name as a folder name: letters (any script), digits, ``-`` and ``_``; spaces become ``_``.

    Raises:
        ValueError: nothing is left (an empty name, only dots or slashes).
    """
    cleaned = re.sub(r"[^\w\-]+", "_", str(name).strip(), flags=re.UNICODE).strip("_.")
    if not cleaned:
        raise ValueError(f"{name!r} is not usable as a name: type your name (letters, digits, - or _)")
    from .gallery import UNKNOWN

    if cleaned.lower() == UNKNOWN.lower():
        raise ValueError(f"{name!r} is what identification answers for a stranger: type your own name")
    return cleaned[:64]


@dataclass
class SavedPhoto:
    """The result of :func:`save_photo`: ``path`` is None when the photo was not kept."""

    name: str
    source: str
    check: PhotoCheck | None
    path: Path | None = None
    error: str = ""

    def __str__(self) -> str:
        if self.error:
            return f"{self.source}: not kept: {self.error}"
        where = f"kept as {self.path.parent.name}/{self.path.name}" if self.path else "not kept"
        return f"{self.source}: {self.check} -> {where}"


def save_photo(name: str, photo: ImageLike, folder: str | Path | None = None, source: str = "photo",
               detect: Callable | None = None, force: bool = False) -> SavedPhoto:
    """Check ``photo`` (path, file bytes, array) and, when it is usable, write it as the next
    ``<folder>/<name>/<n>.jpg`` (EXIF rotation applied, RGB, quality 95).  ``force=True`` also keeps a
    photo whose face is small, blurred or badly lit (still one face and only one).  Nothing is raised for
    a bad photo: the result says what was wrong and what to try."""
    try:
        person = safe_name(name)
    except ValueError as exc:
        return SavedPhoto(str(name), source, None, error=str(exc))
    if isinstance(photo, (bytes, bytearray, memoryview)) and len(photo) > MAX_BYTES:
        return SavedPhoto(person, source, None, error=f"{len(photo) / 2**20:.0f} MB is over the "
                                                     f"{MAX_BYTES // 2**20} MB limit: send a smaller photo")
    try:
        img = load_image(photo)
    except (ImageError, FileNotFoundError, TypeError) as exc:
        return SavedPhoto(person, source, None, error=f"not an image this course can read ({exc})")
    check = check_photo(img, detect)
    result = SavedPhoto(person, source, check)
    one_face = len(check.faces) == 1
    if check.usable or (force and one_face):
        from .images import save_image

        target = faces_dir(folder) / person
        target.mkdir(parents=True, exist_ok=True)
        n = 1 + max((int(p.stem) for p in target.glob("*.jpg") if p.stem.isdigit()), default=0)
        result.path = save_image(img, target / f"{n}.jpg")
    return result


def enrol_saved(gallery, emb, saved: SavedPhoto) -> bool:
    """Add a kept photo's face to ``gallery`` (embedded by ``emb``); False when the photo was not kept."""
    if saved.path is None or saved.check is None or saved.check.face is None:
        return False
    vec = emb.embed_faces(load_image(saved.path), [saved.check.face])
    gallery.add(saved.name, vec[0], emb.name, str(saved.path))
    return True


def enrol_own_photos(gallery, emb, folder: str | Path | None = None) -> int:
    """Enrol the photos already in the folder of your photos (from an earlier session) that ``gallery`` does
    not hold yet; returns how many were added (a photo without a usable face is skipped)."""
    held = set(gallery.sources)
    added = 0
    for name, paths in own_photos(folder).items():
        for path in paths:
            if str(path) in held:
                continue
            try:
                img = load_image(path)
            except (ImageError, OSError):
                continue
            faces = sorted(emb.detect(img), key=lambda f: -f.area)
            if faces:
                gallery.add(name, emb.embed_faces(img, faces[:1])[0], emb.name, str(path))
                added += 1
    return added


def own_photos(folder: str | Path | None = None) -> dict[str, list[Path]]:
    """``{name: [photos]}`` of the folder of your photos (empty when there is none)."""
    root = faces_dir(folder)
    if not root.is_dir():
        return {}
    return {p.name: sorted(q for q in p.iterdir() if q.suffix.lower() in PHOTO_TYPES)
            for p in sorted(root.iterdir()) if p.is_dir()}


def identify_drawn(image: ImageLike, gallery, emb, threshold: float | None = None):
    """Identify every face of ``image`` against ``gallery`` and draw the result: ``(matches, drawn RGB)``;
    each box carries the name or ``unknown``, the distance and the threshold (:func:`course_utils.draw_matches`)."""
    from .gallery import draw_matches, identify

    t = emb.threshold if threshold is None else threshold
    img = load_image(image)
    matches = identify(img, gallery, emb, threshold=t)
    return matches, draw_matches(img, matches, threshold=t)


def identify_without(photo: str | Path, gallery, emb):
    """:func:`identify_drawn` of an enrolled photo against the gallery without the rows enrolled from it (a
    photo always finds itself at distance 0): is another photo of the same person near enough?"""
    from .gallery import Gallery

    keep = [i for i, src in enumerate(gallery.sources) if src != str(photo)]
    rest = Gallery([gallery.names[i] for i in keep], gallery.embeddings[keep], gallery.backend,
                   [gallery.sources[i] for i in keep])
    return identify_drawn(photo, rest, emb)


def describe_matches(matches: Sequence, threshold: float) -> str:
    """One line per face: ``"Ada (0.41 < 0.6)"`` or ``"unknown (nearest Bob at 0.83 >= 0.6)"``."""
    if not matches:
        return "no face found"
    from .gallery import UNKNOWN

    return "; ".join(f"{m.name} ({m.distance:.2f} < {threshold:g})" if m.name != UNKNOWN
                     else f"unknown (nearest {m.nearest} at {m.distance:.2f} >= {threshold:g})" for m in matches)


def upload_box(name: str = "", folder: str | Path | None = None, detect: Callable | None = None,
               on_saved: Callable[[SavedPhoto], None] | None = None):
    """A widget to bring your photos in: a text box for your name, an upload button (several photos at
    once), and for each photo its check and, when usable, where it was written.  Works wherever
    ipywidgets' ``FileUpload`` does (JupyterLab, Notebook 7, VS Code, Colab, Kaggle).  ``on_saved`` is
    called with each :class:`SavedPhoto` that was kept.  The widget's ``saved`` list holds every result."""
    import ipywidgets as w

    name_box = w.Text(value=name, description="Your name", placeholder="e.g. Ada_Lovelace")
    upload = w.FileUpload(accept=",".join(PHOTO_TYPES) + ",image/*", multiple=True, description="Upload photos")
    out = w.Output()
    box = w.VBox([w.HBox([name_box, upload]), out])
    box.saved = []

    def files_of(value) -> list[tuple[str, bytes]]:
        """``(name, bytes)`` of each uploaded file: ipywidgets 8 gives a tuple of dicts (or objects), 7 (Colab's)
        a dict ``{name: {"content": ...}}``."""
        if isinstance(value, dict):
            return [(n, bytes(f["content"])) for n, f in value.items()]
        return [(f["name"], bytes(f["content"])) if isinstance(f, dict) else (f.name, bytes(f.content))
                for f in value or ()]

    def received(change):
        if not change["new"]:
            return
        for fname, data in files_of(change["new"]):
            try:
                result = save_photo(name_box.value, data, folder, source=fname, detect=detect)
                box.saved.append(result)
                with out:
                    print(result)
                if result.path is not None and on_saved is not None:
                    on_saved(result)
            except Exception as exc:  # shown under the box: an observer's error would go to the kernel log
                with out:
                    print(f"{fname}: not kept: {type(exc).__name__}: {exc}")
        try:  # forget the files: a notebook saved with its widget state does not carry them
            upload.value = type(upload.value)()
        except Exception:  # noqa: BLE001 -- an ipywidgets that does not let the value be reset keeps it
            pass

    upload.observe(received, names="value")
    box.upload, box.name_box, box.output, box.received = upload, name_box, out, received
    return box


def identify_own_photo(photo: str | Path, mine: Sequence[str], gallery, embedder,
                       decide=None) -> tuple[str, float] | None:
    """Your second photo (not enrolled) identified against ``gallery``: ``(name or "unknown", distance)``
    of its largest face, or ``None`` when there is nothing to check (no own folder in ``mine``, or no
    file ``photo``).  ``decide(query, names, embeddings, threshold) -> (name, distance)`` is the rule to
    use (the homework passes the student's); default :meth:`Gallery.search`.  A photo without a face
    gives ``("no face", nan)``."""
    from .detection import largest_face

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


def own_photo_report(gallery_dir: str | Path, photo: str | Path, gallery, embedder,
                     decide=None) -> str:
    """What the homework says about your own photos: a clear notice when there are none, else whether
    you are enrolled and what your second photo was identified as (see :func:`identify_own_photo`)."""
    from .gallery import Gallery, own_people

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
    def rule(query, names, embeddings):
        if decide is None:
            return Gallery(list(names), embeddings, embedder.name).search(query, embedder.threshold, embedder.name)[0][:2]
        return decide(query, names, embeddings, embedder.threshold)

    several = 0
    for m in mine:  # each of your enrolled photos against all the other rows: is another photo of you the nearest?
        rows = [i for i, n in enumerate(gallery.names) if n == m]
        for k, i in enumerate(rows if len(rows) > 1 else [], 1):
            keep = [j for j in range(len(gallery.names)) if j != i]
            name, dist = rule(gallery.embeddings[i], [gallery.names[j] for j in keep], gallery.embeddings[keep])
            several += 1
            lines.append(f"{m}'s enrolled photo {k} of {len(rows)}, against all the other photos: {name} (distance "
                         f"{float(dist):.2f}, threshold {embedder.threshold}): "
                         + ("recognised" if name == m else "NOT recognised"))
    got = identify_own_photo(photo, mine, gallery, embedder, decide)
    if got is None and not several:
        lines.append(f"NOTICE: no second photo {photo}: add one (not in the gallery), or a second photo to your "
                     "folder, to be identified")
    elif got is None:
        pass
    elif got[0] == "no face":
        lines.append(f"{photo}: no face found; try a photo where your face is larger and frontal")
    else:
        verdict = "recognised" if got[0] in mine else "NOT recognised"
        lines.append(f"{photo}: identified as {got[0]} (distance {got[1]:.2f}, threshold {embedder.threshold}): {verdict}")
    return "\n".join(lines)
