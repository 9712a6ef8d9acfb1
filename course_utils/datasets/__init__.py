"""Face datasets: where to get them, how their files are laid out, and thin loaders (lesson 01).

    root = cu.find_dataset("lfw")                 # $COURSE_LFW_DIR, /kaggle/input/*, data/cache
    lfw = cu.load_lfw(root)                       # LFWIndex: people -> image numbers (no pixels yet)
    pairs = cu.load_lfw_pairs(lfw.pairs_file, lfw)  # DataFrame: fold, same, img_a, img_b, ...
    img = lfw.image("Colin_Powell", 49)           # pixels are read only when asked for

Every loader reads the dataset's own file format (no conversion step) and works in place on a
read-only folder such as Kaggle's ``/kaggle/input``: nothing is copied or written.  Bad input
raises :class:`DatasetFormatError`, which names the file and the line.  Small samples in the real
formats live in ``data/samples/`` (:func:`sample_dataset`), so the lesson and the tests run
offline.  :data:`DATASETS` says for each dataset what it is and how to get it today.

One module per dataset family, all reached as ``cu.datasets.*`` (and the lesson's as ``cu.*``):
:mod:`.registry` (what each dataset is, finding it), :mod:`.lfw`, :mod:`.celeba`, :mod:`.vggface`
(VGGFace and VGGFace2), :mod:`.fer2013`, :mod:`.face_mask`; :mod:`.common` holds the errors and
the folder helpers they share.
"""
from __future__ import annotations

from .celeba import (CELEBA_ATTRIBUTES, CELEBA_BBOX, CELEBA_LANDMARKS, CELEBA_PARTITIONS, load_celeba,
                     load_celeba_attributes, load_celeba_bboxes, load_celeba_identities, load_celeba_landmarks,
                     load_celeba_partitions)
from .common import SAMPLES_DIR, DatasetFormatError, DatasetNotFoundError, MissingImagesError, index_image_folders
from .face_mask import MASK_LABELS, MASK_SPLITS, load_face_mask
from .fer2013 import FER2013_LABELS, FER2013_SIZE, FER2013_USAGES, load_fer2013_csv, load_fer2013_folders
from .lfw import LFWIndex, fetch_lfw, load_lfw, load_lfw_pairs, make_lfw_pairs
from .registry import DATASETS, DatasetInfo, dataset_dir, dataset_info, find_dataset, sample_dataset
from .vggface import VGGFACE_COLUMNS, index_vggface2, load_vggface2_meta, load_vggface_urls

__all__ = [
    "CELEBA_ATTRIBUTES", "CELEBA_BBOX", "CELEBA_LANDMARKS", "CELEBA_PARTITIONS", "DATASETS", "DatasetFormatError",
    "DatasetInfo", "DatasetNotFoundError", "FER2013_LABELS", "FER2013_SIZE", "FER2013_USAGES", "LFWIndex",
    "MASK_LABELS", "MASK_SPLITS", "MissingImagesError", "SAMPLES_DIR", "VGGFACE_COLUMNS", "dataset_dir",
    "dataset_info", "fetch_lfw", "find_dataset", "index_image_folders", "index_vggface2", "load_celeba",
    "load_celeba_attributes", "load_celeba_bboxes", "load_celeba_identities", "load_celeba_landmarks",
    "load_celeba_partitions", "load_face_mask", "load_fer2013_csv", "load_fer2013_folders", "load_lfw",
    "load_lfw_pairs", "load_vggface2_meta", "load_vggface_urls", "make_lfw_pairs", "sample_dataset",
]
