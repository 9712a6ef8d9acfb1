"""Face datasets: where to get them, how their files are laid out, and thin loaders (lesson 01).

    root = cu.find_dataset("lfw")                 # $COURSE_LFW_DIR, /kaggle/input/*, data/cache
    lfw = cu.load_lfw(root)                       # LFWIndex: people -> image numbers (no pixels yet)
    pairs = cu.load_lfw_pairs(lfw.pairs_file, lfw)  # DataFrame: fold, same, img_a, img_b, ...
    img = lfw.image("Eileen_Collins", 1)          # pixels are read only when asked for

Every loader reads the dataset's own file format (no conversion step) and works in place on a
read-only folder such as Kaggle's ``/kaggle/input``: nothing is copied or written.  Bad input
raises :class:`DatasetFormatError`, which names the file and the line.  Small samples in the real
formats live in ``data/samples/`` (:func:`sample_dataset`), so the lesson and the tests run
offline.  :data:`DATASETS` says for each dataset what it is and how to get it today.
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .env import KAGGLE_INPUT, REPO_ROOT

#: Folder of the embedded sample datasets (made by ``data/make_sample_data.py``).
SAMPLES_DIR = REPO_ROOT / "data" / "samples"


class DatasetFormatError(ValueError):
    """A dataset file that does not have the expected format (the message names file and line)."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset that is not on this machine (the message says where it looked and how to get it)."""


class MissingImagesError(FileNotFoundError):
    """Pairs or annotations that name images the index does not have."""


def _fmt_error(path, lineno: int | None, what: str) -> DatasetFormatError:
    where = f"{path}, line {lineno}" if lineno else f"{path}"
    return DatasetFormatError(f"{where}: {what}")


# ============================================================================================
# what each dataset is, and how to get it

@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's facts and its working download route (``manual``) as of this course."""

    name: str
    title: str
    env_var: str
    sample: str
    size: str
    annotations: str
    licence: str
    manual: str
    is_root: Callable[[Path], bool] = field(repr=False, compare=False, default=lambda p: False)


_LFW_TREE_NAMES = ("lfw", "lfw_funneled", "lfw-funneled", "lfw-deepfunneled",
                   "lfw-deepfunneled/lfw-deepfunneled", "lfw_home/lfw_funneled", "lfw_home/lfw")


def _peek_dirs(folder: Path, limit: int) -> list[os.DirEntry]:
    out = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if e.is_dir() and not e.name.startswith("."):
                    out.append(e)
                    if len(out) >= limit:
                        break
    except OSError:
        pass
    return out


def _is_lfw_tree(folder: Path) -> bool:
    """``folder/<Name>/<Name>_NNNN.jpg``?  Looks at up to 8 sub-folders and wants most of them to
    follow the pattern (a ``with_mask/with_mask_0001.jpg`` beside ``without_mask/x.jpg`` does not)."""
    people = _peek_dirs(folder, 8)
    hits = 0
    for person in people:
        try:
            with os.scandir(person.path) as it:
                for f in it:
                    n = f.name
                    if n.startswith(person.name + "_") and n.endswith(".jpg") and n[-8:-4].isdigit():
                        hits += 1
                        break
        except OSError:
            continue
    return hits > 0 and hits * 2 > len(people)


def _lfw_tree(root: Path) -> Path | None:
    if _is_lfw_tree(root):
        return root
    for name in _LFW_TREE_NAMES:
        if (root / name).is_dir() and _is_lfw_tree(root / name):
            return root / name
    return None


def _is_lfw_root(p: Path) -> bool:
    return (p / "pairs.txt").is_file() or _lfw_tree(p) is not None


def _is_celeba_root(p: Path) -> bool:
    names = ("list_attr_celeba", "list_landmarks_align_celeba", "list_eval_partition", "list_bbox_celeba")
    return any((p / f"{n}{ext}").is_file() for n in names for ext in (".txt", ".csv")) or (p / "identity_CelebA.txt").is_file()


FER2013_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""FER2013 emotion codes 0-6, in the order of the CSV's ``emotion`` column."""


def _is_fer_root(p: Path) -> bool:
    if any((p / n).is_file() for n in ("fer2013.csv", "icml_face_data.csv")):
        return True
    return (p / "train").is_dir() and (p / "test").is_dir() and any(
        (p / "train" / lab).is_dir() for lab in FER2013_LABELS)


MASK_SPLITS = ("Train", "Validation", "Test")
MASK_LABELS = ("WithMask", "WithoutMask")


def _is_mask_root(p: Path) -> bool:
    return any((p / s / "WithMask").is_dir() for s in MASK_SPLITS) or (
        (p / "with_mask").is_dir() and (p / "without_mask").is_dir())


def _is_vggface_root(p: Path) -> bool:
    files = p / "files"
    return files.is_dir() and any(f.suffix == ".txt" for f in files.iterdir()) and not (p / "identity_meta.csv").exists()


def _is_vggface2_root(p: Path) -> bool:
    return (p / "identity_meta.csv").is_file() or (p / "meta" / "identity_meta.csv").is_file()


DATASETS: dict[str, DatasetInfo] = {
    "lfw": DatasetInfo(
        "lfw", "Labeled Faces in the Wild (Huang et al., 2007)", "COURSE_LFW_DIR", "lfw_mini",
        "13,233 images of 5,749 people (1,680 with two or more), 250x250 JPEG",
        "identity (folder name); pairs.txt: the View-2 verification protocol, 10 folds x 300 matched + 300 mismatched pairs",
        "no licence; distributed by UMass Amherst for research",
        "the UMass site (vis-www.cs.umass.edu/lfw/) is down. `cu.fetch_lfw()` downloads the figshare copies "
        "that scikit-learn uses (lfw.tgz, lfw-funneled.tgz, pairs*.txt, sha256-checked). On Kaggle, attach an LFW "
        "dataset instead (for example jessicali9530/lfw-dataset, deep-funneled images) and add pairs.txt",
        _is_lfw_root),
    "celeba": DatasetInfo(
        "celeba", "CelebFaces Attributes (Liu et al., 2015)", "COURSE_CELEBA_DIR", "celeba_mini",
        "202,599 images of 10,177 identities; aligned crops 178x218",
        "40 binary attributes (+1/-1), 5 landmarks, a box in the original photo, identity, train/val/test partition",
        "non-commercial research use only (the CelebA agreement)",
        "the official Google Drive folder (mmlab.ie.cuhk.edu.hk/projects/CelebA.html) often refuses with a "
        "'quota exceeded' error, and so does torchvision.datasets.CelebA, which uses it. Use the Kaggle copy "
        "jessicali9530/celeba-dataset (img_align_celeba and the annotation files as CSV, without identity_CelebA.txt)",
        _is_celeba_root),
    "vggface": DatasetInfo(
        "vggface", "VGGFace (Parkhi et al., 2015)", "COURSE_VGGFACE_DIR", "vggface_mini",
        "2,622 identities, about 2.6 million image URLs (1,000 per identity)",
        "a text file per identity: id, url, left, top, right, bottom, pose, detection score, curation",
        "research use; the photos belong to their authors",
        "the dataset was only ever a list of web URLs (vgg_face_dataset.tar.gz on robots.ox.ac.uk), and most URLs "
        "are dead now. There is no trustworthy image copy to download; the course uses VGGFace only through "
        "its trained models and explains the URL-list format on the sample",
        _is_vggface_root),
    "vggface2": DatasetInfo(
        "vggface2", "VGGFace2 (Cao et al., 2018)", "COURSE_VGGFACE2_DIR", "vggface2_mini",
        "3.31 million images of 9,131 identities (8,631 train, 500 test)",
        "identity_meta.csv (Class_ID, Name, Sample_Num, Flag, Gender), loose boxes and 5 landmarks",
        "research use; the photos belong to their authors",
        "the official downloads (robots.ox.ac.uk/~vgg/data/vgg_face2/) are gone. Unofficial copies circulate "
        "(Kaggle, academic torrents); their provenance and terms are for you to check. The course does not need it",
        _is_vggface2_root),
    "fer2013": DatasetInfo(
        "fer2013", "FER2013 (Goodfellow et al., 2013)", "COURSE_FER2013_DIR", "fer2013_mini",
        "35,887 grayscale 48x48 faces: Training 28,709, PublicTest 3,589, PrivateTest 3,589",
        "one of 7 emotions (angry, disgust, fear, happy, sad, surprise, neutral); noisy, humans agree ~65%",
        "no explicit licence; released for the ICML 2013 representation-learning challenge, research use",
        "Kaggle: msambare/fer2013 (folders train|test/<label>/), deadskull7/fer2013 (fer2013.csv) or the "
        "competition challenges-in-representation-learning-facial-expression-recognition-challenge "
        "(icml_face_data.csv, whose column names start with a space)",
        _is_fer_root),
    "face_mask": DatasetInfo(
        "face_mask", "Face Mask 12K (Kaggle, Ashish Jangra)", "COURSE_FACE_MASK_DIR", "face_mask_mini",
        "about 11,800 face crops: Train 10,000, Validation 800, Test 992",
        "WithMask / WithoutMask (folder name)",
        "see the Kaggle page; with_mask images are web photos and without_mask images CelebA crops: one source per class, a shortcut a classifier can learn (lesson 05)",
        "Kaggle: ashishjangra27/face-mask-12k-images-dataset ('Face Mask Dataset/Train|Validation|Test/WithMask|WithoutMask')",
        _is_mask_root),
}


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name`` (``ValueError`` lists the valid names)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def sample_dataset(name: str) -> Path:
    """The folder of the small embedded sample of ``name`` (real format, made by this project)."""
    path = SAMPLES_DIR / dataset_info(name).sample
    if not path.is_dir():
        raise DatasetNotFoundError(f"the sample {path} is missing; recreate it with "
                                   "`python data/make_sample_data.py`")
    return path


def _walk(base: Path, is_root: Callable[[Path], bool], max_depth: int, max_entries: int = 2000) -> Path | None:
    """Breadth-first search under ``base`` for a folder that ``is_root`` accepts.

    Folders with more than ``max_entries`` entries are image folders, not containers: they
    are not entered, so a search over ``/kaggle/input`` stays fast."""
    level = [base]
    for _ in range(max_depth + 1):
        nxt = []
        for folder in level:
            if is_root(folder):
                return folder
            subdirs = []
            try:
                with os.scandir(folder) as it:
                    for i, e in enumerate(it):
                        if i >= max_entries:
                            subdirs = []
                            break
                        if e.is_dir() and not e.name.startswith("."):
                            subdirs.append(Path(e.path))
            except OSError:
                continue
            nxt.extend(sorted(subdirs))
        level = nxt
        if not level:
            break
    return None


def find_dataset(name: str, search: Iterable[str | Path | None] = (), *, environ: Mapping[str, str] | None = None,
                 kaggle_input: str | Path | None = None, data_dir: str | Path | None = None,
                 max_depth: int = 4, required: bool = True) -> Path | None:
    """Find a dataset already on this machine and return its folder (used in place, read-only).

    Looks, in this order, for a folder with the dataset's marker files (``pairs.txt`` or an
    ``<Name>/<Name>_0001.jpg`` tree for LFW, ``list_attr_celeba.*`` for CelebA, ...), searching
    each place up to ``max_depth`` folders deep:

    1. the folder in the environment variable ``DATASETS[name].env_var`` (e.g. ``COURSE_LFW_DIR``);
       if it is set, the dataset must be there;
    2. the folders in ``search`` (e.g. the lesson's ``FULL_DATA`` parameter);
    3. ``/kaggle/input`` (any attached dataset, whatever its slug);
    4. the course data folder (``data/cache`` or ``$COURSE_DATA_DIR``), where ``fetch_*`` put files.

    Returns:
        The folder, or ``None`` if not found and ``required=False``.

    Raises:
        DatasetNotFoundError: not found (the message lists the places and the download route).
        ValueError: an unknown dataset name.
    """
    info = dataset_info(name)
    env = os.environ if environ is None else environ
    if env.get(info.env_var):
        base = Path(env[info.env_var]).expanduser()
        found = _walk(base, info.is_root, max_depth) if base.is_dir() else None
        if found is None:
            raise DatasetNotFoundError(f"{info.env_var}={base} does not hold {info.title}: "
                                       f"{'no such folder' if not base.is_dir() else 'its marker files are missing'}. "
                                       f"Fix or unset {info.env_var}.")
        return found
    places: list[Path] = [Path(p).expanduser() for p in search if p]
    places.append(Path(kaggle_input) if kaggle_input is not None else KAGGLE_INPUT)
    if data_dir is None:
        from .download import default_data_dir

        data_dir = default_data_dir()
    places.append(Path(data_dir))
    for place in places:
        if place.is_dir():
            found = _walk(place, info.is_root, max_depth)
            if found is not None:
                return found
    if not required:
        return None
    raise DatasetNotFoundError(
        f"{info.title} was not found in {', '.join(str(p) for p in places)} (nor via ${info.env_var}).\n"
        f"How to get it: {info.manual}.\nThen set {info.env_var} to its folder, or use the offline "
        f"sample: cu.sample_dataset({name!r}).")


def dataset_dir(name: str, full_data: str | Path | None = None, verbose: bool = True) -> Path:
    """The folder a lesson should use: the full dataset under ``full_data`` when it is given and
    holds it (searched like :func:`find_dataset`), else the embedded sample."""
    if full_data:
        found = find_dataset(name, [full_data], required=False)
        if found is not None:
            if verbose:
                print(f"{name}: full data in {found}")
            return found
        if verbose:
            print(f"{name}: not found under {full_data}; using the offline sample")
    return sample_dataset(name)


# ============================================================================================
# LFW

@dataclass
class LFWIndex:
    """The people and image numbers of an LFW image tree ``tree/<Name>/<Name>_NNNN.jpg``.

    Building it lists the folders only; :meth:`image` reads pixels on demand.  Image numbers are
    the 1-based ``NNNN`` of the file names, as in ``pairs.txt`` (a subset such as ``lfw_dev``
    may have gaps).
    """

    tree: Path
    people: dict[str, tuple[int, ...]]
    pairs_file: Path | None = None

    @property
    def n_people(self) -> int:
        return len(self.people)

    @property
    def n_images(self) -> int:
        return sum(len(v) for v in self.people.values())

    def __len__(self) -> int:
        return self.n_images

    def __contains__(self, item) -> bool:
        name, number = item
        return number in self.people.get(name, ())

    def __repr__(self) -> str:
        multi = sum(1 for v in self.people.values() if len(v) >= 2)
        return (f"LFWIndex({self.n_people} people, {self.n_images} images, {multi} with two or more; "
                f"tree={self.tree})")

    def relpath(self, name: str, number: int) -> str:
        """``"<Name>/<Name>_NNNN.jpg"`` (no check)."""
        return f"{name}/{name}_{number:04d}.jpg"

    def path(self, name: str, number: int) -> Path:
        """The file of image ``number`` (1-based) of ``name``; ``KeyError`` if not indexed."""
        if (name, number) not in self:
            have = self.people.get(name)
            raise KeyError(f"no image {name}_{number:04d} in {self.tree}"
                           + (f" ({name} has images {', '.join(map(str, have))})" if have else
                              f" (no person {name!r})"))
        return self.tree / self.relpath(name, number)

    def image(self, name: str, number: int) -> np.ndarray:
        """Read image ``number`` of ``name`` as an RGB uint8 array (250x250x3 for LFW)."""
        from .images import load_image

        return load_image(self.path(name, number))

    def counts(self):
        """Images per person as a pandas Series, most images first (ties by name)."""
        import pandas as pd

        s = pd.Series({k: len(v) for k, v in self.people.items()}, name="images", dtype="int64")
        s.index.name = "name"
        return s.sort_index().sort_values(ascending=False, kind="stable")

    def frame(self):
        """One row per image: ``name``, ``number``, ``path``."""
        import pandas as pd

        rows = [(n, k, str(self.tree / self.relpath(n, k))) for n, ks in self.people.items() for k in ks]
        return pd.DataFrame(rows, columns=["name", "number", "path"])


def load_lfw(root: str | Path) -> LFWIndex:
    """Index an LFW folder: ``root`` may be the image tree itself or a folder holding it
    (``lfw/``, ``lfw_funneled/``, ``lfw-deepfunneled/``, ...) and, optionally, ``pairs.txt``.

    Only folder listings are read (about 0.1 s for the 13,233 images of the full set).

    Raises:
        DatasetNotFoundError: no ``<Name>/<Name>_NNNN.jpg`` tree under ``root``.
    """
    root = Path(root)
    tree = _lfw_tree(root)
    if tree is None:
        raise DatasetNotFoundError(f"no LFW image tree (<Name>/<Name>_0001.jpg) in {root} or in its sub-folders "
                                   f"{', '.join(_LFW_TREE_NAMES)}")
    people: dict[str, tuple[int, ...]] = {}
    with os.scandir(tree) as it:
        persons = sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    for name in persons:
        prefix, nums = name + "_", []
        with os.scandir(tree / name) as files:
            for f in files:
                n = f.name
                if len(n) == len(prefix) + 8 and n.startswith(prefix) and n.endswith(".jpg") and n[-8:-4].isdigit():
                    nums.append(int(n[-8:-4]))
        if nums:
            people[name] = tuple(sorted(nums))
    pairs = next((p for p in (root / "pairs.txt", tree.parent / "pairs.txt", tree / "pairs.txt") if p.is_file()), None)
    return LFWIndex(tree=tree, people=people, pairs_file=pairs)


_MISSING = ("raise", "drop", "keep")


def load_lfw_pairs(path: str | Path, index: LFWIndex | str | Path | None = None,
                   folds: Iterable[int] | None = None, missing: str = "raise"):
    """Parse an LFW pairs file (``pairs.txt``, ``pairsDevTrain.txt``, ``pairsDevTest.txt``).

    The format: a header ``<folds>\\t<n>`` (or just ``<n>`` for the Dev files, one fold), then
    per fold ``n`` matched lines ``name i j`` and ``n`` mismatched lines ``name1 i name2 j``,
    with 1-based image numbers.

    Args:
        index: an :class:`LFWIndex` (or a folder for :func:`load_lfw`) to resolve every image;
            ``None`` gives paths relative to the image tree.
        folds: 1-based fold numbers to keep (e.g. ``[4, 5, 6]``); default all.
        missing: what to do with pairs whose images the index lacks: ``"raise"``, ``"drop"``
            (the count is in ``df.attrs["dropped"]``) or ``"keep"``.

    Returns:
        A DataFrame with one row per pair: ``fold`` (1-based), ``same`` (bool), ``name_a``,
        ``num_a``, ``name_b``, ``num_b``, ``img_a``, ``img_b`` (paths as str).

    Raises:
        DatasetFormatError: a header or line that breaks the format (file and line named).
        MissingImagesError: ``missing="raise"`` and some images are not in the index.
    """
    import pandas as pd

    if missing not in _MISSING:
        raise ValueError(f"missing must be one of {', '.join(_MISSING)}, got {missing!r}")
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise _fmt_error(path, None, "the file is empty")
    head = lines[0].split()
    try:
        if len(head) == 2:
            n_folds, n = int(head[0]), int(head[1])
        elif len(head) == 1:
            n_folds, n = 1, int(head[0])
        else:
            raise ValueError
        if n_folds < 1 or n < 1:
            raise ValueError
    except ValueError:
        raise _fmt_error(path, 1, f"expected a header '<folds> <pairs per class>' or '<pairs>', got {lines[0]!r}") from None
    expected = n_folds * 2 * n
    if len(lines) - 1 != expected:
        raise _fmt_error(path, None, f"the header says {n_folds} fold(s) x ({n} matched + {n} mismatched) = "
                                     f"{expected} pairs, but the file has {len(lines) - 1} pair lines")
    keep = None
    if folds is not None:
        keep = sorted(set(int(f) for f in folds))
        bad = [f for f in keep if not 1 <= f <= n_folds]
        if bad:
            raise ValueError(f"folds must be between 1 and {n_folds} for {path.name}, got {bad}")
    rows = []
    for i, line in enumerate(lines[1:]):
        fold, same = i // (2 * n) + 1, (i % (2 * n)) < n
        if keep is not None and fold not in keep:
            continue
        f = line.split()
        want = 3 if same else 4
        if len(f) != want:
            kind = "a matched pair 'name i j' (3 fields)" if same else "a mismatched pair 'name1 i name2 j' (4 fields)"
            raise _fmt_error(path, i + 2, f"fold {fold} expects {kind} here, got {len(f)} fields: {line!r}")
        try:
            a, ia, b, ib = (f[0], int(f[1]), f[0], int(f[2])) if same else (f[0], int(f[1]), f[2], int(f[3]))
        except ValueError:
            raise _fmt_error(path, i + 2, f"image numbers must be integers: {line!r}") from None
        if ia < 1 or ib < 1:
            raise _fmt_error(path, i + 2, f"image numbers are 1-based, got {line!r}")
        rows.append((fold, same, a, ia, b, ib))
    df = pd.DataFrame(rows, columns=["fold", "same", "name_a", "num_a", "name_b", "num_b"])
    df["fold"] = df["fold"].astype("int64")
    df["same"] = df["same"].astype(bool)
    if index is not None and not isinstance(index, LFWIndex):
        index = load_lfw(index)
    base = "" if index is None else str(index.tree) + os.sep
    df["img_a"] = [f"{base}{a}{os.sep}{a}_{ia:04d}.jpg" for a, ia in zip(df.name_a, df.num_a)]
    df["img_b"] = [f"{base}{b}{os.sep}{b}_{ib:04d}.jpg" for b, ib in zip(df.name_b, df.num_b)]
    df.attrs.update(source=str(path), n_folds=n_folds, pairs_per_class=n, dropped=0)
    if index is not None and missing != "keep":
        people = index.people
        ok = np.array([ia in people.get(a, ()) and ib in people.get(b, ())
                       for a, ia, b, ib in zip(df.name_a, df.num_a, df.name_b, df.num_b)], dtype=bool)
        if not ok.all():
            bad = df.loc[~ok]
            if missing == "raise":
                first = bad.iloc[0]
                raise MissingImagesError(
                    f"{len(bad)} of {len(df)} pairs in {path.name} name images that are not in {index.tree} "
                    f"(first: fold {first.fold}, {first.name_a} {first.num_a} / {first.name_b} {first.num_b}). "
                    "If the folder holds a subset (lfw_dev holds folds 4-6), pass folds=[4, 5, 6] or missing='drop'.")
            df = df.loc[ok].reset_index(drop=True)
            df.attrs["dropped"] = int((~ok).sum())
    return df


def fetch_lfw(data_dir: str | Path | None = None, funneled: bool = False, progressbar: bool = True) -> Path:
    """Download LFW (figshare mirrors, sha256-checked) unless already there; return its folder.

    The folder ``<data_dir>/lfw`` then holds ``pairs.txt``, ``pairsDevTrain.txt``,
    ``pairsDevTest.txt`` and ``lfw/`` (or ``lfw_funneled/``), ready for :func:`load_lfw`.
    About 180 MB (233 MB funneled).
    """
    from .download import default_data_dir, fetch, safe_extract

    folder = Path(data_dir if data_dir is not None else default_data_dir()) / "lfw"
    manual = DATASETS["lfw"].manual
    for name in ("pairs.txt", "pairsDevTrain.txt", "pairsDevTest.txt"):
        fetch(name, data_dir=folder, progressbar=progressbar, manual=manual)
    archive = fetch("lfw-funneled.tgz" if funneled else "lfw.tgz", data_dir=folder,
                    progressbar=progressbar, manual=manual)
    safe_extract(archive, folder)
    return folder


# ============================================================================================
# CelebA

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips",
    "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young")
"""The 40 CelebA attributes in file order."""

CELEBA_LANDMARKS = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
                    "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y")
CELEBA_BBOX = ("x_1", "y_1", "width", "height")
CELEBA_PARTITIONS = {0: "train", 1: "val", 2: "test"}


def _read_celeba_table(path: str | Path, columns: Sequence[str] | None, counted: bool, value_name: str = "value"):
    """Read one CelebA annotation file into a DataFrame indexed by ``image_id``.

    ``counted`` files (attributes, landmarks, boxes) start with the number of images and a line
    of column names (the box file's begins with ``image_id``); the others (identity, partition)
    are bare ``<image> <value>`` lines.  Kaggle's ``.csv`` versions have a header row instead.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CelebA annotation file not found: {path}")
    if path.suffix.lower() == ".csv":
        df = pd.read_csv(path)
        df.columns = [c.strip() for c in df.columns]
        if "image_id" not in df.columns:
            raise _fmt_error(path, 1, f"a CelebA CSV needs an 'image_id' column, got {list(df.columns)[:5]}")
        df = df.set_index("image_id")
        if columns is None and len(df.columns) != 1:
            raise _fmt_error(path, 1, f"expected one value column, got {list(df.columns)}")
        if columns is None:
            df.columns = [value_name]
        if columns is not None:
            missing = [c for c in columns if c not in df.columns]
            if missing:
                raise _fmt_error(path, 1, f"missing columns {missing}")
            df = df[list(columns)]
        return _check_ints(df, path, header_lines=1)
    text = path.read_text(encoding="utf-8")
    skip, n_expected = 0, None
    if counted:
        lines = text.split("\n", 2)
        if len(lines) < 2:
            raise _fmt_error(path, 1, "expected the number of images, then a line of column names")
        try:
            n_expected = int(lines[0].strip())
        except ValueError:
            raise _fmt_error(path, 1, f"expected the number of images, got {lines[0].strip()[:60]!r}") from None
        names = lines[1].split()
        if names and names[0] == "image_id":
            names = names[1:]
        if columns is not None and tuple(names) != tuple(columns):
            raise _fmt_error(path, 2, f"expected the {len(columns)} columns {' '.join(columns[:3])} ..., "
                                      f"got {len(names)}: {' '.join(names[:3])} ...")
        skip = 2
    else:
        names = [value_name]
    ncol = len(names) + 1
    try:
        df = pd.read_csv(io.StringIO(text), sep=r"\s+", skiprows=skip, header=None, names=["image_id", *names],
                         index_col=False, dtype={"image_id": str}, engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise _fmt_error(path, None, f"cannot be parsed ({exc}); expected {ncol} fields per line") from None
    # the C parser pads short lines with NaN: find them to name the line
    if df.isna().any().any():
        bad = int(np.flatnonzero(df.isna().any(axis=1).to_numpy())[0])
        raise _fmt_error(path, bad + skip + 1, f"expected {ncol} fields (image name and {ncol - 1} numbers), "
                                               f"got {text.splitlines()[bad + skip]!r}")
    df = df.set_index("image_id")
    if n_expected is not None and len(df) != n_expected:
        raise _fmt_error(path, 1, f"the header says {n_expected} images, but the file lists {len(df)}")
    return _check_ints(df, path, header_lines=skip)


def _check_ints(df, path, header_lines: int):
    from pandas.api.types import is_integer_dtype

    for col in df.columns:
        if not is_integer_dtype(df[col].dtype):
            vals = df[col].to_numpy()
            bad = next(i for i, v in enumerate(vals) if not _is_int(v))
            raise _fmt_error(path, bad + header_lines + 1, f"column {col!r} must hold integers, got {vals[bad]!r}")
    return df


def _is_int(v) -> bool:
    try:
        return float(v) == int(float(v))
    except (TypeError, ValueError):
        return False


def load_celeba_attributes(path: str | Path, as_bool: bool = False):
    """``list_attr_celeba.txt`` (or Kaggle's ``.csv``): one row per image, the 40 attributes as
    int8 ``+1``/``-1`` (or bool with ``as_bool=True``), indexed by ``image_id`` (``000001.jpg``)."""
    df = _read_celeba_table(path, CELEBA_ATTRIBUTES, counted=True)
    vals = df.to_numpy()
    bad = ~np.isin(vals, (-1, 1))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        line = r + (2 if Path(path).suffix.lower() == ".csv" else 3)
        raise _fmt_error(path, int(line), f"attribute {df.columns[c]} of {df.index[r]} is {vals[r, c]}; "
                                          "CelebA attributes are +1 or -1")
    return (df == 1) if as_bool else df.astype(np.int8)


def load_celeba_landmarks(path: str | Path):
    """``list_landmarks_align_celeba.txt`` (or ``.csv``): the 5 points (x, y) in the aligned
    178x218 images, columns :data:`CELEBA_LANDMARKS`."""
    return _read_celeba_table(path, CELEBA_LANDMARKS, counted=True).astype(np.int32)


def load_celeba_bboxes(path: str | Path):
    """``list_bbox_celeba.txt`` (or ``.csv``): ``x_1, y_1, width, height`` of the face in the
    *original* (in-the-wild) photo, not in the aligned crop."""
    return _read_celeba_table(path, CELEBA_BBOX, counted=True).astype(np.int32)


def load_celeba_identities(path: str | Path):
    """``identity_CelebA.txt``: a Series ``image_id -> identity`` (1..10,177)."""
    return _read_celeba_table(path, None, counted=False, value_name="identity")["identity"].astype(np.int64)


def load_celeba_partitions(path: str | Path):
    """``list_eval_partition.txt`` (or ``.csv``): a Series ``image_id -> "train"|"val"|"test"``
    (file codes 0, 1, 2)."""
    s = _read_celeba_table(path, None, counted=False, value_name="partition")["partition"]
    bad = ~s.isin(list(CELEBA_PARTITIONS))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise _fmt_error(path, i + 1, f"partition must be 0, 1 or 2, got {s.iloc[i]}")
    return s.map(CELEBA_PARTITIONS).rename("partition")


def load_celeba(root: str | Path):
    """Every CelebA annotation file found in ``root`` joined into one DataFrame (indexed by
    ``image_id``), with a ``path`` column into ``img_align_celeba/`` (Kaggle nests it twice)."""
    import pandas as pd

    root = _walk(Path(root), _is_celeba_root, 2) or Path(root)

    def first(stem: str) -> Path | None:
        return next((root / f"{stem}{e}" for e in (".txt", ".csv") if (root / f"{stem}{e}").is_file()), None)

    parts = []
    for stem, loader in (("list_eval_partition", load_celeba_partitions), ("identity_CelebA", load_celeba_identities),
                         ("list_bbox_celeba", load_celeba_bboxes), ("list_landmarks_align_celeba", load_celeba_landmarks),
                         ("list_attr_celeba", load_celeba_attributes)):
        p = first(stem)
        if p is not None:
            parts.append(loader(p))
    if not parts:
        raise DatasetNotFoundError(f"no CelebA annotation file (list_attr_celeba.txt, ...) in {root}")
    df = pd.concat(parts, axis=1, join="outer")
    images = next((d for d in (root / "img_align_celeba" / "img_align_celeba", root / "img_align_celeba")
                   if d.is_dir()), root / "img_align_celeba")
    df.insert(0, "path", [str(images / i) for i in df.index])
    return df


# ============================================================================================
# VGGFace and VGGFace2

VGGFACE_COLUMNS = ("id", "url", "left", "top", "right", "bottom", "pose", "detection_score", "curation")


def load_vggface_urls(path: str | Path):
    """One VGGFace identity file (``files/<Name>.txt``): a DataFrame with :data:`VGGFACE_COLUMNS`
    (box in pixels of the photo at ``url``; ``curation`` 1 = kept after the manual filtering)."""
    import pandas as pd

    path = Path(path)
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        f = line.split()
        if len(f) != len(VGGFACE_COLUMNS):
            raise _fmt_error(path, lineno, f"expected {len(VGGFACE_COLUMNS)} fields ({' '.join(VGGFACE_COLUMNS)}), "
                                           f"got {len(f)}")
        try:
            rows.append((int(f[0]), f[1], *(float(v) for v in f[2:6]), int(float(f[6])), float(f[7]), int(f[8])))
        except ValueError:
            raise _fmt_error(path, lineno, f"numbers expected after the URL: {line!r}") from None
    df = pd.DataFrame(rows, columns=list(VGGFACE_COLUMNS))
    df.insert(0, "name", path.stem)
    return df


def load_vggface2_meta(path: str | Path):
    """``identity_meta.csv``: ``Class_ID, Name, Sample_Num, Flag, Gender`` (header and values
    padded with spaces, names quoted).  Returns columns ``class_id, name, n_images, split``
    (``Flag`` 1 = train, 0 = test) and ``gender``."""
    import pandas as pd

    path = Path(path)
    df = pd.read_csv(path, skipinitialspace=True, quotechar='"', dtype={"Class_ID": str})
    df.columns = [c.strip() for c in df.columns]
    need = ["Class_ID", "Name", "Sample_Num", "Flag", "Gender"]
    if [c for c in need if c not in df.columns]:
        raise _fmt_error(path, 1, f"expected the columns {', '.join(need)}, got {', '.join(df.columns)}")
    bad = ~df["Class_ID"].astype(str).str.fullmatch(r"n\d{6}")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise _fmt_error(path, i + 2, f"Class_ID must look like n000001, got {df['Class_ID'].iloc[i]!r}")
    return pd.DataFrame({"class_id": df["Class_ID"].str.strip(), "name": df["Name"].str.strip(),
                         "n_images": df["Sample_Num"].astype(np.int64),
                         "split": df["Flag"].map({1: "train", 0: "test"}),
                         "gender": df["Gender"].str.strip()})


_VGG2_FILE = re.compile(r"^(n\d{6})/(\d{4})_(\d{2})\.jpg$")


def index_vggface2(root: str | Path, split: str = "train"):
    """Index ``root/<split>/n000001/0001_01.jpg`` (photo 0001, face 01): a DataFrame with
    ``class_id, photo, face, path``.  Uses ``<split>_list.txt`` when present (no listing)."""
    import pandas as pd

    root = Path(root)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    listing = root / f"{split}_list.txt"
    if listing.is_file():
        names = [ln.strip() for ln in listing.read_text(encoding="utf-8").splitlines() if ln.strip()]
    else:
        base = root / split
        if not base.is_dir():
            raise DatasetNotFoundError(f"neither {listing} nor the folder {base} exists")
        names = sorted(f"{d.name}/{f.name}" for d in base.iterdir() if d.is_dir() for f in d.iterdir())
    rows = []
    for i, n in enumerate(names, 1):
        m = _VGG2_FILE.match(n)
        if m is None:
            raise _fmt_error(listing if listing.is_file() else root / split, i if listing.is_file() else None,
                             f"expected 'n000001/0001_01.jpg', got {n!r}")
        rows.append((m[1], int(m[2]), int(m[3]), str(root / split / n)))
    return pd.DataFrame(rows, columns=["class_id", "photo", "face", "path"])


# ============================================================================================
# FER2013 and Face Mask 12K

FER2013_USAGES = ("Training", "PublicTest", "PrivateTest")
FER2013_SIZE = 48


def load_fer2013_csv(path: str | Path, usage: str | None = None):
    """Read a FER2013 CSV: ``emotion, pixels, Usage`` (``fer2013.csv``), also with the column
    names padded with spaces (``icml_face_data.csv``) or without ``Usage``/``emotion``
    (the competition's ``train.csv``/``test.csv``).

    Args:
        usage: keep only ``"Training"``, ``"PublicTest"`` or ``"PrivateTest"`` rows.

    Returns:
        ``(images, labels)``: a uint8 array (N, 48, 48) and a DataFrame with ``emotion`` (0-6,
        or -1 when absent), ``label`` (:data:`FER2013_LABELS`) and ``usage``.
    """
    import pandas as pd

    path = Path(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    if "pixels" not in df.columns:
        raise _fmt_error(path, 1, f"a FER2013 CSV needs a 'pixels' column, got {list(df.columns)}")
    if usage is not None:
        if usage not in FER2013_USAGES:
            raise ValueError(f"usage must be one of {', '.join(FER2013_USAGES)}, got {usage!r}")
        if "Usage" not in df.columns:
            raise ValueError(f"{path.name} has no Usage column to select {usage!r} from")
    n_pix = FER2013_SIZE * FER2013_SIZE
    emotion = np.full(len(df), -1, dtype=np.int64)
    if "emotion" in df.columns:
        for i, v in enumerate(df["emotion"].str.strip()):
            if not (v.isdigit() and int(v) < len(FER2013_LABELS)):
                raise _fmt_error(path, i + 2, f"emotion must be an integer 0-6, got {v!r}")
            emotion[i] = int(v)
    uses = df["Usage"].str.strip().to_numpy() if "Usage" in df.columns else np.array([""] * len(df), dtype=object)
    keep = np.ones(len(df), dtype=bool) if usage is None else (uses == usage)
    pix = df["pixels"].to_numpy()[keep]
    rows_idx = np.flatnonzero(keep)
    images = np.empty((len(pix), FER2013_SIZE, FER2013_SIZE), dtype=np.uint8)
    for k, (i, s) in enumerate(zip(rows_idx, pix)):
        vals = s.split()
        if len(vals) != n_pix:
            raise _fmt_error(path, i + 2, f"expected {n_pix} pixel values (48x48), got {len(vals)}")
        try:
            arr = np.array(vals, dtype=np.int64)
        except ValueError:
            raise _fmt_error(path, i + 2, "pixels must be integers separated by spaces") from None
        if arr.min() < 0 or arr.max() > 255:
            raise _fmt_error(path, i + 2, f"pixel values must be 0-255, got {arr.min()}..{arr.max()}")
        images[k] = arr.reshape(FER2013_SIZE, FER2013_SIZE)
    labels = pd.DataFrame({"emotion": emotion[keep],
                           "label": [FER2013_LABELS[e] if e >= 0 else "" for e in emotion[keep]],
                           "usage": uses[keep]})
    return images, labels


_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def index_image_folders(root: str | Path, splits: Sequence[str] | None = None):
    """Index a class-per-folder tree: ``root/<split>/<label>/*`` when ``splits`` is given (only
    those that exist are read), else ``root/<label>/*``.  Returns a DataFrame with ``path``,
    ``split`` (``""`` without splits) and ``label``, sorted.  Empty label folders are kept in
    ``df.attrs["labels"]`` so class indices stay stable."""
    import pandas as pd

    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"folder not found: {root}")
    rows, labels = [], set()
    groups = [(s, root / s) for s in splits if (root / s).is_dir()] if splits else [("", root)]
    if splits and not groups:
        raise DatasetNotFoundError(f"none of the split folders {', '.join(splits)} is in {root}")
    for split, base in groups:
        for lab in sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")):
            labels.add(lab.name)
            with os.scandir(lab) as it:
                for f in it:
                    if os.path.splitext(f.name)[1].lower() in _IMAGE_SUFFIXES:
                        rows.append((f.path, split, lab.name))
    df = pd.DataFrame(sorted(rows), columns=["path", "split", "label"])
    df.attrs["labels"] = tuple(sorted(labels))
    return df


def load_fer2013_folders(root: str | Path):
    """The Kaggle image layout ``root/train|test/<label>/*.jpg|png``: a DataFrame with ``path``,
    ``split``, ``label`` and ``emotion`` (the CSV code of the label)."""
    root = _walk(Path(root), _is_fer_root, 2) or Path(root)
    df = index_image_folders(root, splits=("train", "test"))
    unknown = sorted(set(df["label"]) - set(FER2013_LABELS))
    if unknown:
        raise DatasetFormatError(f"{root}: unexpected label folders {unknown}; FER2013 has {', '.join(FER2013_LABELS)}")
    df["emotion"] = df["label"].map({lab: i for i, lab in enumerate(FER2013_LABELS)}).astype(np.int64)
    return df


def load_face_mask(root: str | Path):
    """Face Mask 12K (``root/Train|Validation|Test/WithMask|WithoutMask/*``), or the two-folder
    layout ``with_mask/ without_mask/`` of other mask sets: a DataFrame with ``path``, ``split``
    and ``label`` normalised to ``with_mask`` / ``without_mask``."""
    root = _walk(Path(root), _is_mask_root, 2) or Path(root)   # e.g. the Kaggle 'Face Mask Dataset/' level
    layout_12k = any((root / s).is_dir() for s in MASK_SPLITS)
    df = index_image_folders(root, splits=MASK_SPLITS if layout_12k else None)
    names = {"WithMask": "with_mask", "WithoutMask": "without_mask", "with_mask": "with_mask",
             "without_mask": "without_mask"}
    unknown = sorted(set(df["label"]) - set(names))
    if unknown:
        raise DatasetFormatError(f"{root}: unexpected label folders {unknown}; expected WithMask/WithoutMask "
                                 "or with_mask/without_mask")
    df["label"] = df["label"].map(names)
    return df
