"""Reading images the same way everywhere.

Every function in the course takes an *image-like*: a file path (``str`` or ``Path``), raw file
bytes, a ``PIL.Image``, or a NumPy array.  ``load_image`` turns any of them into the one format
the library works in:

    **an RGB ``uint8`` array of shape (height, width, 3)**

Arrays are taken to be RGB already (OpenCV users: convert BGR with ``img[..., ::-1]``).
Grayscale is stacked to three channels, alpha is composited on white, 16-bit and float images are
rescaled, and JPEG EXIF orientation is applied, so a phone photo shows upright.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Union

import numpy as np

#: File suffixes the course treats as images (demos, galleries).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

ImageLike = Union[str, Path, bytes, bytearray, "PIL.Image.Image", np.ndarray]  # noqa: F821


class ImageError(ValueError):
    """An input that is not a usable image (empty, corrupt, wrong shape or type)."""


def _from_pil(im) -> np.ndarray:
    from PIL import Image, ImageOps

    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block must not lose the picture
        pass
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 or im.mode.startswith("I;16") else 255.0
        return _to_rgb_uint8(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if im.mode == "F":
        return _to_rgb_uint8(np.asarray(im, dtype=np.float32))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def _to_rgb_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"expected an array of shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"the image is empty (shape {arr.shape})")
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.uint16:
        out = (arr.astype(np.float64) / 65535.0 * 255.0 + 0.5).astype(np.uint8)
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageError("the image contains NaN or infinite values")
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        out = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        out = np.clip(arr, 0, 255).astype(np.uint8)
    else:
        raise ImageError(f"unsupported array dtype {arr.dtype}")
    if out.ndim == 2:
        out = np.stack([out] * 3, axis=-1)
    elif out.shape[2] == 4:
        alpha = out[:, :, 3:4].astype(np.float32) / 255.0
        out = (out[:, :, :3] * alpha + 255.0 * (1 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(out)


def _open_bytes(data: bytes, what: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if len(data) == 0:
        raise ImageError(f"{what} is empty (0 bytes): nothing to decode")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return _from_pil(im)
    except UnidentifiedImageError as exc:
        raise ImageError(f"{what} is not an image that Pillow can read (JPEG, PNG, BMP, GIF, TIFF, WebP)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{what} is corrupt or truncated: {exc}") from exc


def load_image(image: ImageLike) -> np.ndarray:
    """Return ``image`` as an RGB ``uint8`` array of shape (H, W, 3).

    Args:
        image: a path, file bytes, a ``PIL.Image`` or an array (RGB/RGBA/gray; uint8, uint16,
            bool or float in [0, 1]).

    Raises:
        FileNotFoundError: the path does not exist (the message names it).
        ImageError: empty, corrupt or undecodable data, or an array of the wrong shape.
        TypeError: an object that is none of the above.
    """
    from PIL import Image

    if isinstance(image, np.ndarray):
        return _to_rgb_uint8(image)
    if isinstance(image, Image.Image):
        return _from_pil(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _open_bytes(bytes(image), "the given bytes")
    if isinstance(image, (str, Path)):
        path = Path(image).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"image file not found: {path} (check the path, relative to {Path.cwd()})")
        if path.is_dir():
            raise ImageError(f"{path} is a folder, not an image file")
        return _open_bytes(path.read_bytes(), f"file {path}")
    raise TypeError(f"cannot read an image from {type(image).__name__}; "
                    "pass a path, bytes, a PIL.Image or a numpy array")


def resize_max_side(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink ``image`` so that its longer side is at most ``max_side``.

    Returns the (possibly unchanged) image and the factor ``s`` with ``small = s * original``
    coordinates, so boxes found on the small copy map back by dividing by ``s``.
    """
    h, w = image.shape[:2]
    longest = max(h, w)
    if max_side is None or longest <= max_side:
        return image, 1.0
    import cv2

    s = max_side / longest
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return small, s


def save_image(image: ImageLike, path: str | Path, quality: int = 95) -> Path:
    """Write an image (format from the suffix: .png, .jpg, ...), creating the folder; returns the path.

    Raises:
        ValueError: a suffix that Pillow cannot write.
    """
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        Image.fromarray(load_image(image)).save(path, quality=quality)
    except (KeyError, ValueError) as exc:  # Pillow: KeyError for an unknown extension
        path.unlink(missing_ok=True)
        raise ValueError(f"cannot write {path.name}: use .png or .jpg ({exc})") from exc
    return path


def subfolders(folder: str | Path) -> list[Path]:
    """The visible sub-folders of ``folder`` (names not starting with ``.``), sorted; ``[]`` when
    ``folder`` is not a folder.  The one walk over class-per-folder trees (a person or a label a folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def image_files(folder: str | Path) -> list[Path]:
    """The image files directly in ``folder`` (suffixes of :data:`IMAGE_SUFFIXES`, any case), sorted."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def difference_hash(image: ImageLike) -> np.ndarray:
    """A 64-bit difference hash of an image (gray, shrunk to 9x8, each pixel brighter than its right
    neighbour?) as 64 booleans: near-copies (resized, re-encoded, slightly recoloured) differ in a few bits,
    different photos in about half.  Used to keep the course's own photos out of training data."""
    import cv2

    img = load_image(image)
    small = cv2.resize(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    return (small[:, :-1] > small[:, 1:]).ravel()


def near_copies(paths, of, max_bits: int = 6) -> np.ndarray:
    """Boolean array over ``paths``: True where the image's difference hash is within ``max_bits`` bits
    of the hash of one of the images ``of`` (paths or arrays)."""
    ref = np.array([difference_hash(p) for p in of])
    hashes = np.array([difference_hash(p) for p in paths])
    if not len(ref) or not len(hashes):
        return np.zeros(len(hashes), bool)
    return ((hashes[:, None, :] != ref[None, :, :]).sum(-1) <= max_bits).any(1)

