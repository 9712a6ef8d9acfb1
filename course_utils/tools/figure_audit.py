"""Can a student read every figure a lesson shows, at 100 % in JupyterLab? (issue 27)

A lesson's figures reach the notebook as PNG images: IPython renders each Matplotlib figure at the
figure's dpi with ``bbox_inches="tight"`` (matplotlib_inline's ``InlineBackend.print_figure_kwargs``),
and JupyterLab shows the image one image pixel to one screen pixel, shrunk only when it is wider
than the output area.  :func:`audit_figure` looks at every text a figure draws (titles, axis and
tick labels, annotations, legends, table cells, colour bars) and reports

- ``small``: text under :data:`MIN_POINTS` points *as shown*: its size times the figure's dpi over
  :data:`REFERENCE_DPI`, times the shrink of an image wider than :data:`COLUMN_PX`;
- ``clipped``: text cut by its clip box (an axes) or by the edge of the stored image;
- ``overlap``: two texts drawn over each other, or side by side less than a word space apart (rotated
  texts, whose boxes are not their shape, are left out of this check).

:func:`install` puts the audit into a running IPython kernel: each figure is audited when IPython
turns it into its PNG (``plt.show()``, ``display(fig)`` or the figures left open at the end of a
cell), and its problems are appended to a file as JSON lines.  ``notebooks/conftest.py`` installs
it in every lesson that nbval runs (``course.py test``), so that a cell whose figure has a problem
fails; ``python -m course_utils.tools.figure_audit [NOTEBOOK ...]`` runs lessons with it and prints
the report (default: every lesson).

Images drawn with OpenCV (``cv2.putText``) are pixels, not Matplotlib text: their labels are sized
by :func:`course_utils.draw.label_font`, which tests/test_figures_readable.py checks.

This module imports only the standard library until a figure is audited (Matplotlib then), so that
:func:`install` can load it into a kernel from its file without importing ``course_utils``.
"""
from __future__ import annotations

import argparse
import base64
import json
import struct
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

#: The smallest text size, in points as shown (issue 27: "text >= 8 pt at the stored size").
MIN_POINTS = 8.0
#: The dpi at which a size in points is taken at its word: Matplotlib's default ``figure.dpi``, which
#: the lessons keep (8 pt is then 11 px high on the screen).
REFERENCE_DPI = 100.0
#: The widest image JupyterLab shows unshrunk, in screen pixels: we take a laptop's 1366-px-wide window
#: less JupyterLab's side bar and the cells' prompt column, rounded to 1050 px (10.5 in at 100 dpi, the
#: width lesson 06's figures were sized to).  A wider image is shown shrunk, and its text with it.
COLUMN_PX = 1050
#: Two texts overlap when their boxes share more than this many pixels both ways ...
OVERLAP_PX = 1.0
#: ... or run together when, side by side on one line, they are less than this many ems apart (of the smaller
#: text): about two word spaces.  Lesson 04's titles 3.7 px apart (9 pt) read as one line.
GAP_EM = 0.5
#: A text is clipped when its box passes its clip box or the image's edge by more than this.
CLIP_PX = 1.0


@dataclass
class Problem:
    """One text that a student could not read: ``kind`` is ``small``, ``clipped`` or ``overlap``."""

    kind: str
    text: str
    size: float            # the font size the code set, in points
    shown: float           # the size as shown, in points at REFERENCE_DPI (see MIN_POINTS)
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.text!r} ({self.size:g} pt, shown as {self.shown:.1f} pt): {self.detail}"


def png_size(data: bytes | str) -> tuple[int, int]:
    """``(width, height)`` in pixels of a PNG, given as bytes or as IPython's base64 text."""
    raw = base64.b64decode(data[:64]) if isinstance(data, str) else data[:24]
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG image")
    return struct.unpack(">II", raw[16:24])


def drawn_texts(fig) -> tuple[list, object]:
    """The texts ``fig`` draws (visible, not empty, in an axes that is drawn) and the renderer that drew
    them.  A text of a hidden axis (``ax.set_axis_off()``) or an annotation outside its axes is not
    drawn, so it is not listed: the figure is drawn once with ``Text.draw`` recording each text."""
    from matplotlib.text import Text

    drawn, original = [], Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return original(self, renderer)

    Text.draw = record
    try:
        renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else fig._get_renderer()
        fig.draw(renderer)
    finally:
        Text.draw = original
    unique = list({id(t): t for t in drawn}.values())
    return unique, renderer


def _saved_region(fig, renderer, tight: bool, pad_inches: float):
    """The part of the figure that the PNG holds, in display pixels."""
    from matplotlib.transforms import TransformedBbox

    if not tight:
        return fig.bbox
    return TransformedBbox(fig.get_tightbbox(renderer).padded(pad_inches), fig.dpi_scale_trans)


def _clip_extent(text):
    """The box a text is clipped to, in display pixels, or ``None``."""
    if not text.get_clip_on():
        return None
    box, path = text.get_clip_box(), text.get_clip_path()
    if path is not None:
        extent = path.get_fully_transformed_path().get_extents()
        return extent if box is None else type(extent).intersection(extent, box)
    return box


def _outside(inner, outer) -> float:
    """How many pixels ``inner`` passes ``outer`` by (0 when inside)."""
    return max(outer.x0 - inner.x0, inner.x1 - outer.x1, outer.y0 - inner.y0, inner.y1 - outer.y1, 0.0)


def _upright(text) -> bool:
    """Written along the figure's edges (0, 90, 180 or 270 degrees)."""
    return abs(((text.get_rotation() + 45) % 90) - 45) < 1e-6


def _vertical(text) -> bool:
    return abs(((text.get_rotation() + 45) % 180) - 135) < 1e-6


def audit_figure(fig, image_width: int | None = None, shown_width: float | None = None, tight: bool = True,
                 pad_inches: float = 0.1) -> list[Problem]:
    """The problems of ``fig`` as it is shown: ``image_width`` is the stored PNG's width in pixels
    (default: the figure's width times its dpi) and ``shown_width`` the width the notebook gives it
    before JupyterLab's own limit (an image's ``width`` metadata; default ``image_width``); ``tight``
    and ``pad_inches`` say how the PNG was cut out of the figure (IPython: ``bbox_inches="tight"``)."""
    texts, renderer = drawn_texts(fig)
    if image_width is None:
        image_width = round(fig.get_figwidth() * fig.dpi)
    css_width = shown_width or image_width
    shrink = min(1.0, COLUMN_PX / css_width)
    scale = fig.dpi / REFERENCE_DPI * (css_width / image_width) * shrink
    region = _saved_region(fig, renderer, tight, pad_inches)
    why = (f"{fig.dpi:g} dpi, {image_width} px wide" + (f", shown {css_width:g} px wide" if css_width != image_width
                                                        else "") +
           (f", shrunk to {COLUMN_PX} px at 100 %" if shrink < 1 else ""))
    problems, boxes = [], []
    for t in texts:
        size = float(t.get_fontsize())
        shown = size * scale
        box = t.get_window_extent(renderer)
        label = t.get_text()
        if shown < MIN_POINTS - 1e-9:
            problems.append(Problem("small", label, size, shown, f"under {MIN_POINTS:g} pt ({why})"))
        clip = _clip_extent(t)
        if clip is not None and _outside(box, clip) > CLIP_PX:
            problems.append(Problem("clipped", label, size, shown,
                                    f"cut by its axes by {_outside(box, clip):.0f} px"))
        elif _outside(box, region) > CLIP_PX:
            problems.append(Problem("clipped", label, size, shown,
                                    f"passes the image's edge by {_outside(box, region):.0f} px"))
        if _upright(t) and box.width > 0 and box.height > 0:
            for other, other_box in boxes:
                w = min(box.x1, other_box.x1) - max(box.x0, other_box.x0)
                h = min(box.y1, other_box.y1) - max(box.y0, other_box.y0)
                if w > OVERLAP_PX and h > OVERLAP_PX:
                    problems.append(Problem("overlap", label, size, shown,
                                            f"drawn over {other.get_text()!r} ({w:.0f} x {h:.0f} px)"))
                elif _vertical(t) == _vertical(other):             # along the same line: apart by a gap?
                    along, across = (h, w) if _vertical(t) else (w, h)
                    thick = min(box.width, other_box.width) if _vertical(t) else min(box.height, other_box.height)
                    if across > 0.5 * thick and along > -GAP_EM * min(size, other.get_fontsize()) * fig.dpi / 72:
                        problems.append(Problem("overlap", label, size, shown, f"runs into {other.get_text()!r} "
                                                f"on its line ({max(-along, 0):.0f} px apart)"))
            boxes.append((t, box))
    return problems


# ------------------------------------------------------------------------------ in a kernel


def _print_kwargs() -> dict:
    """How IPython cuts a figure into its PNG (matplotlib_inline's settings), ``bbox_inches`` and
    ``pad_inches`` only."""
    try:
        from matplotlib_inline.backend_inline import InlineBackend

        kwargs = dict(InlineBackend.instance().print_figure_kwargs)
    except Exception:  # not in a kernel with matplotlib_inline: IPython's default
        kwargs = {"bbox_inches": "tight"}
    return kwargs


def install(log: str | Path, shell=None) -> None:
    """Audit every Matplotlib figure ``shell`` (default: the running IPython) displays from now on, and
    append each figure's problems to ``log`` as JSON lines (``{"figure": n, "kind": ..., ...}``; a
    figure without problems writes ``{"figure": n}``).  Nothing is printed: a lesson's outputs stay
    what they are.  An audit that fails writes ``{"figure": n, "error": ...}``."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    formatter = shell.display_formatter
    original = formatter.format
    log = Path(log)
    count = [0]

    def format_and_audit(obj, *args, **kwargs):
        result = original(obj, *args, **kwargs)
        if type(obj).__module__.startswith("matplotlib") and type(obj).__name__ == "Figure":
            count[0] += 1
            rows = [{"figure": count[0]}]
            try:
                data, metadata = result
                png = data.get("image/png")
                if png:
                    width = png_size(png)[0]
                    shown = (metadata or {}).get("image/png", {}).get("width")
                    kw = _print_kwargs()
                    problems = audit_figure(obj, width, shown, tight=kw.get("bbox_inches") == "tight",
                                            pad_inches=kw.get("pad_inches", 0.1))
                    rows = [{"figure": count[0], **asdict(p)} for p in problems] or rows
            except Exception as exc:  # the audit must never break the lesson it watches
                rows = [{"figure": count[0], "error": f"{type(exc).__name__}: {exc}"}]
            with log.open("a", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        return result

    formatter.format = format_and_audit
    with log.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"installed": True}) + "\n")


def install_code(log: str | Path) -> str:
    """Python source that, run in a kernel, loads this file (without importing ``course_utils``, which
    the lesson's setup cell imports itself) and calls :func:`install` with ``log``."""
    return ("def _course_figure_audit():\n"
            "    import importlib.util, sys\n"
            f"    spec = importlib.util.spec_from_file_location('_course_figure_audit', {str(Path(__file__))!r})\n"
            "    module = sys.modules['_course_figure_audit'] = importlib.util.module_from_spec(spec)\n"
            "    spec.loader.exec_module(module)\n"
            f"    module.install({str(log)!r})\n"
            "_course_figure_audit()\n"
            "del _course_figure_audit\n")


def read_log(log: str | Path, start: int = 0) -> tuple[list[dict], int]:
    """The rows ``log`` gained since byte ``start``, and the new end."""
    path = Path(log)
    if not path.exists():
        return [], start
    with path.open("rb") as f:
        f.seek(start)
        chunk = f.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    rows = [json.loads(line) for line in complete.decode("utf-8").splitlines() if line.strip()]
    return rows, start + len(complete)


def describe(rows: list[dict], shown: int = 12) -> list[str]:
    """One line per problem row (rows of figures without problems give none); texts of one figure too small
    for the same reason share a line that names ``shown`` of them."""
    out, small = [], {}
    for r in rows:
        if "error" in r:
            out.append(f"figure {r['figure']}: the audit failed: {r['error']}")
        elif r.get("kind") == "small":
            small.setdefault((r["figure"], r["size"], r["shown"], r["detail"]), []).append(r["text"])
        elif "kind" in r:
            out.append(f"figure {r['figure']}: {Problem(r['kind'], r['text'], r['size'], r['shown'], r['detail'])}")
    for (figure, size, shown_pt, detail), texts in small.items():
        named = ", ".join(repr(t) for t in texts[:shown]) + (f" and {len(texts) - shown} more" if len(texts) > shown
                                                            else "")
        out.append(f"figure {figure}: small: {len(texts)} text(s) of {size:g} pt, shown as {shown_pt:.1f} pt, "
                   f"{detail}: {named}")
    return out


# ------------------------------------------------------------------------------ command line


def audit_notebook(path: str | Path, timeout: int = 600) -> dict[int, list[dict]]:
    """Execute the notebook at ``path`` (as it is: its offline path) with the audit installed;
    returns ``{cell index: rows}`` for the cells that showed figures."""
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    from .build import KERNEL_ARGS

    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", extra_arguments=list(KERNEL_ARGS),
                            resources={"metadata": {"path": str(path.parent)}})
    by_cell: dict[int, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "figures.jsonl"
        nb.cells.insert(0, nbformat.v4.new_code_cell(install_code(log)))   # (nbclient stores each cell by index)
        with client.setup_kernel():
            client.execute_cell(nb.cells[0], 0)
            rows, offset = read_log(log)
            if not any(r.get("installed") for r in rows):
                raise RuntimeError(f"the figure audit could not be installed in {path.name}'s kernel")
            for index, cell in enumerate(nb.cells[1:]):
                client.execute_cell(cell, index + 1)
                rows, offset = read_log(log, offset)
                if rows:
                    by_cell[index] = rows
    return by_cell


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.figure_audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb")
    args = parser.parse_args(argv)
    from .build import lesson_notebooks

    failed = 0
    for nb in args.notebooks or lesson_notebooks():
        by_cell = audit_notebook(nb)
        figures = sum(len({r["figure"] for r in rows}) for rows in by_cell.values())
        lines = [f"  cell {i}: {line}" for i, rows in sorted(by_cell.items()) for line in describe(rows)]
        print(f"{nb.name}: {figures} figures, {len(lines)} problems", *lines, sep="\n")
        failed += bool(lines)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
