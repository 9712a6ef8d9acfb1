"""Sample images that work offline, with no downloads (used by every lesson and the tests).

They come from packages the course installs (scikit-image and matplotlib ship them) or are
composed from those by code here, deterministically.  No third-party photo is stored in the
repository.  See ``data/README.md`` for origins and licences.

    img = cu.load_sample("astronaut")      # RGB uint8 array
    cu.sample_names()                       # what there is
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

#: name -> (description, number of faces a person sees in it)
SAMPLES: dict[str, tuple[str, int]] = {
    "astronaut": ("Eileen Collins, NASA portrait (scikit-image data.astronaut, public domain), 512x512", 1),
    "grace_hopper": ("Grace Hopper, US Navy portrait (matplotlib sample data, public domain), 512x600", 1),
    "cameraman": ("'Cameraman' (scikit-image data.camera), 512x512 grayscale, a small face in profile", 1),
    "coffee": ("A cup of coffee (scikit-image data.coffee, CC0), 400x600: no face", 0),
    "portrait_640": ("astronaut scaled into a 640x480 frame (made here)", 1),
    "group": ("four faces (astronaut and Grace Hopper, mirrored and scaled) on a 1280x720 backdrop (made here)", 4),
}


def sample_names() -> list[str]:
    """Names accepted by :func:`load_sample`."""
    return list(SAMPLES)


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.asarray(Image.open(f).convert("RGB"))


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)


def _backdrop(width: int, height: int) -> np.ndarray:
    """A soft grey-blue gradient, like a studio backdrop."""
    y = np.linspace(0.0, 1.0, height)[:, None]
    x = np.linspace(0.0, 1.0, width)[None, :]
    base = 150 + 60 * (1 - y) - 25 * (x - 0.5) ** 2
    img = np.stack([base * 0.85, base * 0.92, base * 1.05], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _group() -> np.ndarray:
    canvas = _backdrop(1280, 720)
    astro = load_sample("astronaut")[0:300, 100:350]       # head and shoulders, 250x300
    hopper = _grace_hopper()[40:440, 90:440]                # head and shoulders, 350x400
    # (image, width, x, y, mirror): four faces of different sizes
    layout = [(astro, 250, 60, 200, False), (hopper, 300, 380, 120, False),
              (astro, 180, 760, 300, True), (hopper, 220, 1000, 250, True)]
    for img, width, x, y, mirror in layout:
        h = round(img.shape[0] * width / img.shape[1])
        tile = _resize(img[:, ::-1] if mirror else img, width, h)
        canvas[y:y + h, x:x + width] = tile[: 720 - y]
    return canvas


@functools.lru_cache(maxsize=None)
def _load(name: str) -> np.ndarray:
    from skimage import data

    if name == "astronaut":
        return data.astronaut()
    if name == "grace_hopper":
        return _grace_hopper()
    if name == "cameraman":
        return np.stack([data.camera()] * 3, axis=-1)
    if name == "coffee":
        return data.coffee()
    if name == "portrait_640":
        canvas = _backdrop(640, 480)
        canvas[:, 80:560] = _resize(data.astronaut(), 480, 480)
        return canvas
    if name == "group":
        return _group()
    raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")


def load_sample(name: str) -> np.ndarray:
    """Return a sample image as an RGB uint8 array (a fresh copy each call).

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    return _load(name).copy()


def save_sample(name: str, path: str | Path, quality: int = 95) -> Path:
    """Write a sample to an image file (format from the suffix) and return the path."""
    from .images import save_image

    return save_image(load_sample(name), path, quality=quality)


# ------------------------------------------------------------------------------ real faces

#: Real photos committed with their provenance (``data/real/README.md``, ``manifest.csv``).
REAL_DIR = Path(__file__).resolve().parent.parent / "data" / "real"
#: kind -> what it holds (the folder ``data/real/<kind>``).
REAL_SAMPLES = {
    "lfw_people": "LFW deep-funneled: 12 people x 5 photos (<Name>/<Name>_NNNN.jpg) + 8 people with one photo",
    "fer2013": "FER2013 test faces, 48x48 gray: 30 per expression (<label>/*.png; disgust from train)",
    "facemask": "mask photos, many tight face crops: with_mask/ and without_mask/, 40 each",
    "test_images": "the lecture's starter gallery: <name>/1.jpg for five people (facenet-pytorch's data/test_images)",
}


def real_samples(kind: str) -> Path:
    """The folder of real sample faces of one ``kind`` (see ``REAL_SAMPLES``), shipped in ``data/real``."""
    if kind not in REAL_SAMPLES:
        raise ValueError(f"no real samples called {kind!r}; choose one of: {', '.join(REAL_SAMPLES)}")
    folder = REAL_DIR / kind
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing: the real sample faces ship with the repository in "
                                "data/real; restore them with `git checkout -- data/real`")
    return folder
