"""load_image turns every supported input into RGB uint8, and rejects the rest clearly."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from course_utils.images import ImageError, load_image, resize_max_side


def _png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_path_bytes_pil_and_array_give_the_same_pixels(tmp_path, astronaut):
    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    for src in (path, str(path), path.read_bytes(), Image.open(path), astronaut):
        out = load_image(src)
        assert out.dtype == np.uint8 and out.shape == (512, 512, 3)
        assert np.array_equal(out, astronaut)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        load_image(tmp_path / "nope.jpg")


def test_empty_file_is_a_clear_error(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(p)


def test_non_image_bytes_are_rejected(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a picture")
    with pytest.raises(ImageError, match="not an image"):
        load_image(p)


def test_truncated_jpeg_is_reported_as_corrupt(tmp_path, astronaut):
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, format="JPEG")
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(buf.getvalue()[: len(buf.getvalue()) // 3])


def test_folder_and_wrong_type_are_rejected(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)
    with pytest.raises(TypeError, match="path, bytes"):
        load_image(42)


def test_grayscale_becomes_three_equal_channels():
    gray = np.arange(100, dtype=np.uint8).reshape(10, 10)
    out = load_image(gray)
    assert out.shape == (10, 10, 3)
    assert np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 2], gray)


def test_rgba_is_composited_on_white():
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red, bottom half transparent
    out = load_image(Image.fromarray(rgba, "RGBA"))
    assert tuple(out[0, 0]) == (200, 0, 0)
    assert tuple(out[3, 3]) == (255, 255, 255)
    assert tuple(load_image(rgba)[3, 3]) == (255, 255, 255)


def test_16_bit_png_is_scaled_to_8_bit():
    arr16 = np.full((8, 8), 65535, dtype=np.uint16)
    arr16[:4] = 32768
    out = load_image(_png_bytes(Image.fromarray(arr16)))
    assert out.dtype == np.uint8
    assert out[0, 0, 0] == 128 and out[7, 7, 0] == 255


def test_float_images_in_0_1_are_scaled():
    out = load_image(np.full((3, 3, 3), 0.5))
    assert out.dtype == np.uint8 and int(out[0, 0, 0]) == 128
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((3, 3), np.nan))


def test_exif_orientation_is_applied(tmp_path):
    # A 40x20 (wide) picture stored with EXIF orientation 6 (rotate 90° clockwise to view).
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "rotated.jpg"
    im.save(p, exif=exif, quality=95)
    out = load_image(p)
    assert out.shape == (40, 20, 3), "the viewer sees it upright: tall, not wide"
    assert out[5, 10, 0] > 200 and out[35, 10, 0] < 60, "red half is on top after rotation"


def test_one_pixel_and_empty_arrays():
    assert load_image(np.zeros((1, 1, 3), np.uint8)).shape == (1, 1, 3)
    with pytest.raises(ImageError, match="empty"):
        load_image(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((5, 5, 2), np.uint8))


def test_resize_max_side_reports_the_scale():
    img = np.zeros((3000, 1500, 3), np.uint8)
    small, s = resize_max_side(img, 1000)
    assert small.shape[:2] == (1000, 500) and s == pytest.approx(1 / 3)
    same, s1 = resize_max_side(img, 4000)
    assert same is img and s1 == 1.0


def test_batches_group_equal_shapes_and_cap_their_pixels():
    from course_utils.detection import MAX_BATCH_PIXELS, group_by_shape

    small, big = np.zeros((480, 640, 3), np.uint8), np.zeros((720, 1280, 3), np.uint8)
    images = [small] * 6 + [big] * 2 + [small]
    chunks = group_by_shape(images)
    assert sorted(i for c in chunks for i in c) == list(range(9))
    assert [len(c) for c in chunks] == [4, 3, 1, 1]  # 640x480 by fours, 1280x720 one at a time
    for c in chunks:
        assert len({images[i].shape for i in c}) == 1
        assert len(c) == 1 or sum(images[i].shape[0] * images[i].shape[1] for i in c) <= MAX_BATCH_PIXELS
