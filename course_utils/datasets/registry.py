"""What each dataset is and how to get it today (:data:`DATASETS`), and finding one on this machine."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

from .. import config
from ..env import KAGGLE_INPUT
from .celeba import is_celeba_root
from .common import SAMPLES_DIR, DatasetNotFoundError, find_root
from .face_mask import is_mask_root
from .fer2013 import is_fer_root
from .lfw import LFW_MANUAL, is_lfw_root
from .vggface import is_vggface2_root, is_vggface_root


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


DATASETS: dict[str, DatasetInfo] = {
    "lfw": DatasetInfo(
        "lfw", "Labeled Faces in the Wild (Huang et al., 2007)", "COURSE_LFW_DIR", "lfw_mini",
        "13,233 images of 5,749 people (1,680 with two or more), 250x250 JPEG",
        "identity (folder name); pairs.txt: the View-2 verification protocol, 10 folds x 300 matched + 300 mismatched pairs",
        "no licence; distributed by UMass Amherst for research",
        LFW_MANUAL, is_lfw_root),
    "celeba": DatasetInfo(
        "celeba", "CelebFaces Attributes (Liu et al., 2015)", "COURSE_CELEBA_DIR", "celeba_mini",
        "202,599 images of 10,177 identities; aligned crops 178x218",
        "40 binary attributes (+1/-1), 5 landmarks, a box in the original photo, identity, train/val/test partition",
        "non-commercial research use only (the CelebA agreement)",
        "the official Google Drive folder (mmlab.ie.cuhk.edu.hk/projects/CelebA.html) often refuses with a "
        "'quota exceeded' error, and so does torchvision.datasets.CelebA, which uses it. Use the Kaggle copy "
        "jessicali9530/celeba-dataset (img_align_celeba and the annotation files as CSV, without identity_CelebA.txt)",
        is_celeba_root),
    "vggface": DatasetInfo(
        "vggface", "VGGFace (Parkhi et al., 2015)", "COURSE_VGGFACE_DIR", "vggface_mini",
        "2,622 identities, about 2.6 million image URLs (1,000 per identity)",
        "a text file per identity: id, url, left, top, right, bottom, pose, detection score, curation",
        "research use; the photos belong to their authors",
        "the dataset was only ever a list of web URLs (vgg_face_dataset.tar.gz on robots.ox.ac.uk), and most URLs "
        "are dead now. There is no trustworthy image copy to download; the course uses VGGFace only through "
        "its trained models; lesson 01 explains the URL-list format",
        is_vggface_root),
    "vggface2": DatasetInfo(
        "vggface2", "VGGFace2 (Cao et al., 2018)", "COURSE_VGGFACE2_DIR", "vggface2_mini",
        "3.31 million images of 9,131 identities (8,631 train, 500 test)",
        "identity_meta.csv (Class_ID, Name, Sample_Num, Flag, Gender), loose boxes and 5 landmarks",
        "research use; the photos belong to their authors",
        "the official downloads (robots.ox.ac.uk/~vgg/data/vgg_face2/) are gone. Unofficial copies circulate "
        "(Kaggle, academic torrents); their provenance and terms are for you to check. The course does not need it",
        is_vggface2_root),
    "fer2013": DatasetInfo(
        "fer2013", "FER2013 (Goodfellow et al., 2013)", "COURSE_FER2013_DIR", "fer2013_mini",
        "35,887 grayscale 48x48 faces: Training 28,709, PublicTest 3,589, PrivateTest 3,589",
        "one of 7 emotions (angry, disgust, fear, happy, sad, surprise, neutral); noisy, humans agree ~65%",
        "no explicit licence; released for the ICML 2013 representation-learning challenge, research use",
        "Kaggle: msambare/fer2013 (folders train|test/<label>/), deadskull7/fer2013 (fer2013.csv) or the "
        "competition challenges-in-representation-learning-facial-expression-recognition-challenge "
        "(icml_face_data.csv, whose column names start with a space)",
        is_fer_root),
    "face_mask": DatasetInfo(
        "face_mask", "Face Mask 12K (Kaggle, Ashish Jangra)", "COURSE_FACE_MASK_DIR", "face_mask_mini",
        "about 11,800 face crops: Train 10,000, Validation 800, Test 992",
        "WithMask / WithoutMask (folder name)",
        "see the Kaggle page; with_mask images are web photos and without_mask images CelebA crops: one source per class, a shortcut a classifier can learn (lesson 05)",
        "Kaggle: ashishjangra27/face-mask-12k-images-dataset ('Face Mask Dataset/Train|Validation|Test/WithMask|WithoutMask')",
        is_mask_root),
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
    base = config.path(info.env_var, environ)
    if base is not None:
        found = find_root(base, info.is_root, max_depth) if base.is_dir() else None
        if found is None:
            raise DatasetNotFoundError(f"{info.env_var}={base} does not hold {info.title}: "
                                       f"{'no such folder' if not base.is_dir() else 'its marker files are missing'}. "
                                       f"Fix or unset {info.env_var}.")
        return found
    places: list[Path] = [Path(p).expanduser() for p in search if p]
    places.append(Path(kaggle_input) if kaggle_input is not None else KAGGLE_INPUT)
    if data_dir is None:
        from ..download import default_data_dir

        data_dir = default_data_dir()
    places.append(Path(data_dir))
    for place in places:
        if place.is_dir():
            found = find_root(place, info.is_root, max_depth)
            if found is not None:
                return found
    if not required:
        return None
    raise DatasetNotFoundError(
        f"{info.title} was not found in {', '.join(str(p) for p in places)} (nor via ${info.env_var}).\n"
        f"How to get it: {info.manual}.\nThen set {info.env_var} to its folder, or use the offline "
        f"sample: cu.sample_dataset({name!r}).")


def dataset_dir(name: str, full_data: str | Path | None = None, verbose: bool = True,
                fallback: str | Path | None = None) -> Path:
    """The folder a lesson should use: the full dataset under ``full_data`` when it is given and
    holds it (searched like :func:`find_dataset`), else ``fallback`` (lesson 01 passes the real faces
    that ship with the course, ``cu.real_samples(...)``), else the embedded format sample
    (:func:`sample_dataset`)."""
    other = Path(fallback) if fallback is not None else None
    what = "the folder given" if other is not None else "the offline sample"
    if full_data:
        found = find_dataset(name, [full_data], required=False)
        if found is not None:
            if verbose:
                print(f"{name}: full data in {found}")
            return found
        if verbose:
            print(f"{name}: not found under {full_data}; using {what}")
    return other if other is not None else sample_dataset(name)
