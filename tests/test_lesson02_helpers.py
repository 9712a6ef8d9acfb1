"""The drawing helpers lesson 02 uses on real photos: a contact sheet and per-stage boxes with a colour bar."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils as cu


def test_tile_images_puts_each_photo_in_its_cell_and_leaves_the_rest_black():
    a = np.full((10, 10, 3), 50, np.uint8)
    b = np.full((20, 20, 3), 200, np.uint8)  # resized to the first image's size
    sheet = cu.draw.tile_images([a, b, a], ncols=2)
    assert sheet.shape == (20, 20, 3)
    assert (sheet[:10, :10] == 50).all() and (sheet[:10, 10:] == 200).all()
    assert (sheet[10:, :10] == 50).all() and (sheet[10:, 10:] == 0).all()
    assert cu.draw.tile_images([b], ncols=4, size=8).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="no images"):
        cu.draw.tile_images([])
    with pytest.raises(ValueError, match="ncols"):
        cu.draw.tile_images([a], ncols=0)


def test_real_photos_tile_into_one_frame_of_their_size():
    folder = cu.real_samples("lfw_people")
    photos = [cu.load_image(p) for p in sorted(folder.glob("Colin_Powell/*.jpg"))[:3]]
    sheet = cu.draw.tile_images(photos, ncols=3)
    assert sheet.shape == (250, 750, 3)
    assert np.array_equal(sheet[:, 250:500], photos[1])


def test_boxes_by_score_draws_every_box_in_its_score_colour_with_one_colour_bar():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = np.zeros((100, 120, 3), np.uint8)
    stages = {"P-Net": np.array([[10, 10, 40, 40, 0.6], [12, 12, 42, 42, 0.95]]), "O-Net": np.array([[11, 11, 41, 41, 0.99]])}
    fig = cu.draw.show_boxes_by_score(img, stages)
    image_axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in image_axes] == ["after P-Net: 2", "after O-Net: 1"]
    assert [len(ax.patches) for ax in image_axes] == [2, 1]
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1 and colorbars[0].get_ylabel() == "face score of the box"
    best = image_axes[0].patches[-1]  # drawn last, on top
    assert np.allclose(best.get_edgecolor(), plt.get_cmap("viridis")(0.95))
    plt.close(fig)
    with pytest.raises(ValueError, match="no stages"):
        cu.draw.show_boxes_by_score(img, {})
