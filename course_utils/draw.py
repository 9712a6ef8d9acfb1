"""Drawing faces: ``draw_*`` returns a new image, ``show_*`` plots with matplotlib and returns
the Axes.  Shared by every lesson."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .detection import KEYPOINT_NAMES, Face
from .images import ImageLike, load_image

#: How ``draw_faces`` marks each keypoint: a shape and an RGB colour per part, as lesson 02's figures mark them (eyes
#: cyan circles, the nose an orange triangle, the mouth corners magenta squares).  The shape tells the parts apart
#: where colour alone would not (issue 27: no meaning carried by colour alone).
KEYPOINT_MARKS = {"left_eye": ("circle", (0, 255, 255)), "right_eye": ("circle", (0, 255, 255)),
                  "nose": ("triangle", (255, 165, 0)), "mouth_left": ("square", (255, 0, 255)),
                  "mouth_right": ("square", (255, 0, 255))}
#: One colour per keypoint (RGB), in ``KEYPOINT_NAMES`` order.
KEYPOINT_COLORS = tuple(KEYPOINT_MARKS[name][1] for name in KEYPOINT_NAMES)
#: The width, in screen pixels, that JupyterLab gives an image at 100 % before shrinking it (the figure
#: audit's column: ``course_utils/tools/figure_audit.py``, ``COLUMN_PX``).
SHOWN_WIDTH_PX = 1050
#: The least height of a label's letters on the screen, in pixels (8 pt at 100 dpi is 11 px: issue 27).
MIN_LABEL_PX = 11


def label_font(shape: Sequence[int], shown_width: float | None = None) -> tuple[float, int]:
    """``(font_scale, thickness)`` of ``cv2.FONT_HERSHEY_SIMPLEX`` for a label drawn into an image of ``shape``:
    lines grow with the image (1 px up to 600 px, then 1 px a 400 px more), and the letters are made big enough to
    stand :data:`MIN_LABEL_PX` pixels high once the image is shown ``shown_width`` pixels wide (default: its own
    width, at most :data:`SHOWN_WIDTH_PX`, where JupyterLab starts to shrink it)."""
    import cv2

    h, w = int(shape[0]), int(shape[1])
    thickness = max(1, round(max(h, w) / 400))
    scale = round(0.4 * thickness + 0.1, 2)
    shown = min(w, SHOWN_WIDTH_PX) if shown_width is None else float(shown_width)
    need = MIN_LABEL_PX * w / shown                       # letter height in the image's own pixels
    while cv2.getTextSize("0", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][1] < need:
        scale = round(scale + 0.1, 2)
    return scale, thickness


def _mark(out: np.ndarray, shape: str, x: float, y: float, r: int, color) -> None:
    """A filled ``circle``, ``triangle`` or ``square`` of radius about ``r`` at (x, y), on a black one a pixel
    larger (an outline that shows on light and dark skin alike)."""
    import cv2

    x, y = int(round(x)), int(round(y))
    for size, fill in ((r + 1, (0, 0, 0)), (r, color)):
        if shape == "circle":
            cv2.circle(out, (x, y), size, fill, -1, cv2.LINE_AA)
            continue
        if shape == "triangle":                               # a little larger: it covers less of its box
            s = size + 1
            corners = [(x, y - s), (x + s, y + s * 0.8), (x - s, y + s * 0.8)]
        else:
            corners = [(x - size, y - size), (x + size, y - size), (x + size, y + size), (x - size, y + size)]
        cv2.fillPoly(out, [np.round(np.array(corners)).astype(np.int32)], fill, cv2.LINE_AA)


def draw_faces(image: ImageLike, faces: Sequence[Face],
               color: tuple[int, int, int] | Sequence[tuple[int, int, int]] = (0, 255, 0),
               labels: Sequence[str] | None = None, show_score: bool = True,
               show_keypoints: bool = True, thickness: int | None = None) -> np.ndarray:
    """Return a copy of ``image`` with boxes, labels/scores and keypoints drawn on it (labels sized by
    :func:`label_font`, keypoints marked by shape and colour: :data:`KEYPOINT_MARKS`).

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
    font_scale, t = label_font(out.shape)
    t = thickness or t
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
            r = max(4, 2 * t + 2)
            for name in KEYPOINT_NAMES:
                shape, colour = KEYPOINT_MARKS[name]
                _mark(out, shape, *f.keypoints[name], r, colour)
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
