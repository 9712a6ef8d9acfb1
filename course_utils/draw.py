"""Drawing faces: ``draw_*`` returns a new image, ``show_*`` plots with matplotlib and returns
the Axes.  Shared by every lesson."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .detection import KEYPOINT_NAMES, Face
from .images import ImageLike, load_image

#: One colour per keypoint (RGB), in ``KEYPOINT_NAMES`` order.
KEYPOINT_COLORS = ((0, 200, 255), (0, 120, 255), (255, 60, 60), (60, 220, 60), (40, 160, 40))


def draw_faces(image: ImageLike, faces: Sequence[Face],
               color: tuple[int, int, int] | Sequence[tuple[int, int, int]] = (0, 255, 0),
               labels: Sequence[str] | None = None, show_score: bool = True,
               show_keypoints: bool = True, thickness: int | None = None) -> np.ndarray:
    """Return a copy of ``image`` with boxes, labels/scores and keypoints drawn on it.

    Args:
        color: one RGB colour for every face, or a list with one colour per face.
        labels: one text per face (replaces the score), e.g. an emotion or a name.
        thickness: line width in pixels; ``None`` scales with the image size.
    """
    import cv2

    out = load_image(image).copy()
    if labels is not None and len(labels) != len(faces):
        raise ValueError(f"got {len(labels)} labels for {len(faces)} faces")
    colors = [color] * len(faces) if len(color) == 3 and np.isscalar(color[0]) else list(color)
    if len(colors) != len(faces):
        raise ValueError(f"got {len(colors)} colours for {len(faces)} faces")
    t = thickness or max(1, round(max(out.shape[:2]) / 400))
    font_scale = 0.4 * t + 0.1
    for i, (f, color) in enumerate(zip(faces, colors)):
        x1, y1, x2, y2 = (int(round(v)) for v in f.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, t)
        text = labels[i] if labels is not None else (f"{f.score:.2f}" if show_score else "")
        if text:
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, t)
            ty = y1 - 4 if y1 - th - 6 >= 0 else y2 + th + 4
            tx = max(0, min(x1, out.shape[1] - tw - 3))  # keep the caption inside the image
            cv2.rectangle(out, (tx, ty - th - base), (tx + tw + 2, ty + base), color, -1)
            cv2.putText(out, text, (tx + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), t, cv2.LINE_AA)
        if show_keypoints and f.keypoints:
            r = max(2, t + 1)
            for name, c in zip(KEYPOINT_NAMES, KEYPOINT_COLORS):
                x, y = f.keypoints[name]
                cv2.circle(out, (int(round(x)), int(round(y))), r, c, -1)
    return out


def show_image(image: ImageLike, title: str | None = None, ax=None, figsize=(6, 6)):
    """Plot an image without axes ticks; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.imshow(load_image(image))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def show_faces(image: ImageLike, faces: Sequence[Face], title: str | None = None, ax=None,
               labels: Sequence[str] | None = None, figsize=(6, 6)):
    """Plot ``image`` with its detected faces (boxes, scores, keypoints); returns the Axes."""
    if title is None:
        title = f"{len(faces)} face{'s' if len(faces) != 1 else ''}"
    return show_image(draw_faces(image, faces, labels=labels), title=title, ax=ax, figsize=figsize)


def show_grid(images: Sequence[ImageLike], titles: Sequence[str] | None = None, ncols: int = 4,
              size: float = 2.5, suptitle: str | None = None):
    """Plot images in a grid; returns the Figure."""
    import matplotlib.pyplot as plt

    n = len(images)
    if n == 0:
        raise ValueError("no images to show")
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(load_image(images[i]))
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def tile_images(images: Sequence[ImageLike], ncols: int = 4, size: int | None = None) -> np.ndarray:
    """Tile images into one RGB image (a contact sheet), row by row, ``ncols`` per row.

    Each image is resized to ``size`` x ``size`` pixels (default: the first image's height) and
    empty cells stay black.  Lesson 02 uses it to put several real photos into one frame: a
    "group photo" of real people, with faces at the seams that a detector may or may not find.
    """
    import cv2

    if len(images) == 0:
        raise ValueError("no images to tile")
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    imgs = [load_image(im) for im in images]
    side = int(size or imgs[0].shape[0])
    ncols = min(ncols, len(imgs))
    nrows = (len(imgs) + ncols - 1) // ncols
    sheet = np.zeros((nrows * side, ncols * side, 3), dtype=np.uint8)
    for i, im in enumerate(imgs):
        r, c = divmod(i, ncols)
        if im.shape[:2] != (side, side):
            im = cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA if im.shape[0] > side else cv2.INTER_LINEAR)
        sheet[r * side:(r + 1) * side, c * side:(c + 1) * side] = im
    return sheet


def show_boxes_by_score(image: ImageLike, stages: dict[str, np.ndarray], cmap: str = "viridis",
                        size: float = 4.0):
    """Plot one panel per stage with its candidate boxes ``(x1, y1, x2, y2, score)`` coloured by
    score, and one colour bar for all panels (scores 0 to 1, as MTCNN's stages give them).
    Returns the Figure.  Lesson 02 uses it for what P-Net, R-Net and O-Net keep."""
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    if not stages:
        raise ValueError("no stages to show")
    img = load_image(image)
    norm, colours = Normalize(0.0, 1.0), plt.get_cmap(cmap)
    fig, axes = plt.subplots(1, len(stages), figsize=(size * len(stages) + 1.2, size), squeeze=False)
    for ax, (name, boxes) in zip(axes[0], stages.items()):
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
        ax.imshow(img)
        ax.set_axis_off()
        ax.set_title(f"after {name}: {len(boxes)}")
        for x1, y1, x2, y2, score in boxes[np.argsort(boxes[:, 4])]:  # best boxes drawn last, on top
            ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.0, color=colours(norm(score))))
    fig.colorbar(ScalarMappable(norm=norm, cmap=colours), ax=list(axes[0]), fraction=0.02, pad=0.01,
                 label="face score of the box")
    return fig


def text_slider(render, value: float, min: float, max: float, step: float, description: str = ""):
    """A slider and the text ``render(value)`` below it, updated as the slider moves; ``None`` when
    ipywidgets is not installed (say so and show a static table instead).

    Built from a plain label rather than ``ipywidgets.interact``: ``interact`` prints into an Output
    widget, and executing such a cell from a script (papermill/nbclient, as ``course.py run`` and
    nbval do) can hang forever (jupyter/nbconvert#2029: nbclient answers the Output widget on the
    kernel's shell channel while it waits on it).  A label's text is plain widget state.
    """
    try:
        import ipywidgets as widgets
    except ImportError:
        return None
    slider = widgets.FloatSlider(value=value, min=min, max=max, step=step, description=description,
                                 continuous_update=False)
    text = widgets.Label(str(render(value)))
    slider.observe(lambda change: setattr(text, "value", str(render(change["new"]))), names="value")
    return widgets.VBox([slider, text])
