"""Issue 27: every figure a lesson stores reads at 100 % in JupyterLab: text of 8 pt or more as shown, none
clipped, none drawn over another, and no meaning carried by red and green alone.

The lessons' own figures are audited where nbval already runs every lesson (``course.py test``):
``notebooks/conftest.py`` installs :mod:`course_utils.tools.figure_audit` in each lesson's kernel and fails the
cell whose figure has a problem, so the lessons are not run a second time.  This file checks the audit itself
(what it reports, that it watches a kernel without printing, that the nbval hook fails a cell and names it), and
what the audit cannot see: labels drawn into images with OpenCV, and colours that must carry a second cue."""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from course_utils import draw, pose  # noqa: E402
from course_utils.config import REPO_ROOT  # noqa: E402
from course_utils.detection import Face  # noqa: E402
from course_utils.tools import figure_audit as fa  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _png_width(fig) -> int:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return fa.png_size(buffer.getvalue())[0]


def _kinds(problems) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in problems:
        out.setdefault(p.kind, set()).add(p.text)
    return out


def test_text_under_8_pt_as_shown_is_reported_with_its_size():
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.set_title("a title of 10 pt", fontsize=10)
    ax.text(0.2, 0.5, "a note of 6 pt", fontsize=6)
    ax.set_xlabel("8 pt is enough", fontsize=8)
    problems = fa.audit_figure(fig, _png_width(fig))
    assert [(p.kind, p.text, p.size) for p in problems] == [("small", "a note of 6 pt", 6.0)]
    assert "under 8 pt" in str(problems[0]) and "6 pt" in str(problems[0])


def test_a_figure_wider_than_the_column_is_shown_shrunk_and_its_text_with_it():
    """A 17.5-in grid (seven 2.5-in tiles, as lesson 04 once drew) is 1750 px wide: JupyterLab shows it in about
    1050 px, so its 9-pt titles read as 5.4 pt.  The same titles on a figure within the column are fine."""
    wide = draw.show_grid([np.zeros((48, 48, 3), np.uint8)] * 7, titles=["surprise"] * 7, ncols=7)
    problems = fa.audit_figure(wide, _png_width(wide))
    assert _kinds(problems) == {"small": {"surprise"}}
    assert problems[0].shown == pytest.approx(9 * fa.COLUMN_PX / _png_width(wide), rel=1e-6)
    assert "shrunk to 1050 px" in problems[0].detail
    narrow = draw.show_grid([np.zeros((48, 48, 3), np.uint8)] * 7, titles=["surprise"] * 7, ncols=7, size=1.45)
    assert _png_width(narrow) <= fa.COLUMN_PX and fa.audit_figure(narrow, _png_width(narrow)) == []
    # a figure stored at 72 dpi shows its points as 72/100 of ours
    small_dpi = plt.figure(figsize=(4, 2), dpi=72)
    small_dpi.text(0.1, 0.5, "10 pt at 72 dpi", fontsize=10)
    assert [round(p.shown, 1) for p in fa.audit_figure(small_dpi)] == [7.2]


def test_clipped_and_overlapping_texts_are_reported():
    fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    axes[0].text(0.8, 0.9, "cut by the axes", clip_on=True)
    axes[1].text(0.1, 0.5, "first label")
    axes[1].text(0.15, 0.52, "second label")
    fig.text(1.02, 0.5, "off the figure", in_layout=False)
    problems = fa.audit_figure(fig, _png_width(fig))
    assert _kinds(problems) == {"clipped": {"cut by the axes", "off the figure"}, "overlap": {"second label"}}
    assert any("drawn over 'first label'" in p.detail for p in problems)


def test_titles_that_run_together_are_reported_and_one_line_per_class_reads_apart():
    """Lesson 04's top-three titles, one line each, ran into their neighbours 4 px apart ("surprise 0.00happy")."""
    probs = [("neutral", 0.89, "angry", 0.06, "sad", 0.04), ("happy", 0.99, "neutral", 0.01, "surprise", 0.0),
             ("happy", 0.99, "neutral", 0.01, "angry", 0.0), ("neutral", 0.94, "angry", 0.04, "sad", 0.02)]
    one_line = [f"{a} {p:.2f}, {b} {q:.2f}, {c} {r:.2f}" for a, p, b, q, c, r in probs]
    fig = draw.show_grid([np.zeros((48, 48))] * 4, titles=one_line, ncols=4)
    problems = fa.audit_figure(fig, _png_width(fig))
    assert [p.kind for p in problems] == ["overlap"] and "runs into" in problems[0].detail
    stacked = draw.show_grid([np.zeros((48, 48))] * 4, titles=[t.replace(", ", "\n") for t in one_line], ncols=4)
    assert fa.audit_figure(stacked, _png_width(stacked)) == []


def test_texts_that_are_not_drawn_and_rotated_tick_labels_are_not_reported():
    """Tick labels of a hidden axis are not drawn (their size does not matter); rotated labels' boxes overlap
    though their letters do not, so rotated texts are left out of the overlap check."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].imshow(np.zeros((4, 4)))
    axes[0].tick_params(labelsize=4)
    axes[0].set_axis_off()
    axes[1].set_xticks(range(7), ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
                       rotation=45, ha="right")
    assert fa.audit_figure(fig, _png_width(fig)) == []
    texts, _ = fa.drawn_texts(fig)
    assert "angry" in {t.get_text() for t in texts} and not any(t.get_fontsize() == 4 for t in texts)


class _Formatter:
    """IPython's display formatter as far as the audit uses it: a figure becomes its PNG, cut as IPython cuts it."""

    def format(self, obj, include=None, exclude=None):
        if not hasattr(obj, "savefig"):
            return {"text/plain": repr(obj)}, {}
        buffer = io.BytesIO()
        obj.savefig(buffer, format="png", bbox_inches="tight")
        return {"image/png": base64.b64encode(buffer.getvalue()).decode(), "text/plain": repr(obj)}, {}


class _Shell:
    display_formatter = _Formatter()


def test_installed_audit_logs_every_figure_shown_and_returns_what_ipython_would(tmp_path):
    shell, log = _Shell(), tmp_path / "figures.jsonl"
    fa.install(log, shell)
    rows, offset = fa.read_log(log)
    assert rows == [{"installed": True}]
    good, bad = plt.figure(figsize=(3, 2)), plt.figure(figsize=(3, 2))
    good.text(0.1, 0.5, "readable", fontsize=10)
    bad.text(0.1, 0.5, "tiny", fontsize=5)
    data, _ = shell.display_formatter.format(good)
    assert fa.png_size(data["image/png"])[0] == _png_width(good)     # the display itself is unchanged
    shell.display_formatter.format(bad)
    shell.display_formatter.format("not a figure")
    rows, offset = fa.read_log(log, offset)
    assert rows[0] == {"figure": 1} and [(r["figure"], r["kind"], r["text"]) for r in rows[1:]] == [(2, "small", "tiny")]
    assert fa.describe(rows) == ["figure 2: small: 1 text(s) of 5 pt, shown as 5.0 pt, under 8 pt "
                                 f"(100 dpi, {_png_width(bad)} px wide): 'tiny'"]
    assert fa.read_log(log, offset) == ([], offset)


def test_the_install_code_loads_the_audit_without_importing_course_utils(tmp_path):
    """The code runs in a lesson's kernel before its setup cell: it must not import ``course_utils`` (the setup
    cell finds and imports it) and must leave no name behind."""
    log = tmp_path / "figures.jsonl"
    code = fa.install_code(log) + (
        "import sys\n"
        "assert not any(m == 'course_utils' or m.startswith('course_utils.') for m in sys.modules), 'imported'\n"
        "assert '_course_figure_audit' not in dir(), 'a name was left behind'\n")
    shell = ("class Shell:\n    class display_formatter:\n        @staticmethod\n        def format(obj): return {}, {}\n"
             "import IPython\nIPython.get_ipython = lambda: Shell\n")
    result = subprocess.run([sys.executable, "-c", shell + code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert fa.read_log(log)[0] == [{"installed": True}]


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


GOOD_CELL = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(4, 2))\nax.set_title('readable')\nplt.show()"
BAD_CELL = ("fig, axes = plt.subplots(1, 7, figsize=(17.5, 2.5))\n"
            "for ax in axes: ax.set_title('surprise', fontsize=9); ax.set_axis_off()\nplt.show()")


@pytest.mark.slow
def test_nbval_fails_the_lesson_cell_whose_figure_is_unreadable_and_names_it(tmp_path):
    """The hook in notebooks/conftest.py, on a two-cell lesson under nbval (as ``course.py test`` runs them)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "notebooks" / "conftest.py", folder / "conftest.py")
    _notebook(folder / "09_figures.ipynb", GOOD_CELL, "print('between')", BAD_CELL)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
               "-q", "--rootdir", str(tmp_path), "notebooks/09_figures.ipynb"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "1 failed, 2 passed" in out
    assert re.search(r"FAILED notebooks/09_figures.ipynb::Cell 2", out)
    assert "09_figures.ipynb, cell 2 of the notebook's JSON: 1 figure problem(s)" in out
    assert "small: 7 text(s) of 9 pt, shown as" in out and "'surprise'" in out
    skipped = subprocess.run(command + ["--no-figure-audit"], capture_output=True, text=True, cwd=tmp_path,
                             timeout=300)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr


# ------------------------------------------------------------------------------ what the audit cannot see


@pytest.mark.parametrize("width", [112, 160, 250, 480, 599, 640, 1000, 1050, 1400, 2400, 4000])
def test_labels_drawn_into_images_stand_11_px_high_where_they_are_shown(width):
    """OpenCV's letters are pixels: ``draw.label_font`` sizes them for the image as shown (its own width, at most
    JupyterLab's column), or for a width the caller names (a tile of a grid)."""
    import cv2

    shape = (width * 3 // 4, width, 3)
    for shown in (min(width, draw.SHOWN_WIDTH_PX), width / 3):
        scale, thickness = draw.label_font(shape, None if shown == min(width, draw.SHOWN_WIDTH_PX) else shown)
        (_, height), _ = cv2.getTextSize("0", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        assert height * shown / width >= draw.MIN_LABEL_PX, (width, shown, scale)


def test_draw_faces_labels_use_label_font_and_keypoints_differ_by_shape():
    """A score label's letters are as high as label_font makes them; the keypoints are circles (eyes), a triangle
    (nose) and squares (mouth corners), not colours alone."""
    image = np.full((300, 400, 3), 128, np.uint8)
    keypoints = {"left_eye": (150, 120), "right_eye": (250, 120), "nose": (200, 170), "mouth_left": (160, 220),
                 "mouth_right": (240, 220)}
    drawn = draw.draw_faces(image, [Face((100, 60, 300, 260), 0.99, keypoints)], color=(255, 255, 255))
    label = drawn[:60, 100:200]
    rows = np.flatnonzero((label < 60).all(axis=-1).any(axis=1))     # the black letters of "0.99"
    assert rows.max() - rows.min() + 1 >= draw.MIN_LABEL_PX
    profile = {}                               # each mark's width in its top, middle and bottom rows
    for name, (x, y) in keypoints.items():
        patch = drawn[y - 12:y + 13, x - 12:x + 13].astype(int)
        mask = np.abs(patch - np.array(draw.KEYPOINT_MARKS[name][1])).sum(-1) < 60
        widths = mask.sum(1)[mask.any(1)]
        profile[name] = (int(widths[0]), int(widths[len(widths) // 2]), int(widths[-1]))
    for name in ("mouth_left", "mouth_right"):                      # squares
        assert max(profile[name]) - min(profile[name]) <= 2 and min(profile[name]) >= 7, profile
    for name in ("left_eye", "right_eye"):                          # circles
        assert abs(profile[name][0] - profile[name][2]) <= 1 and profile[name][0] < profile[name][1] - 3, profile
    assert profile["nose"][0] < profile["nose"][1] < profile["nose"][2], profile   # a triangle, point up
    assert {draw.KEYPOINT_MARKS[n][0] for n in keypoints} == {"circle", "triangle", "square"}


def test_pose_axes_carry_their_letters_beside_the_colours():
    """Lesson 03's head-pose arrows are red, green and blue: each also carries its letter x, y or z."""
    image = np.full((250, 250, 3), 128, np.uint8)
    head = pose.HeadPose(0.0, 0.0, 0.0, np.zeros(3), np.array([0.0, 0.0, 600.0]), pose.camera_matrix(image.shape))
    plain = pose.draw_pose_axes(image, head, letters=False)
    lettered = pose.draw_pose_axes(image, head)
    # x points to the image's right and y down from the centre: each letter lies beyond its arrow's tip
    x_tip, y_tip = (125 + 25, 125), (125, 125 + 25)
    beyond_x = (lettered != plain).any(-1)[x_tip[1] - 12:x_tip[1] + 12, x_tip[0] + 2:x_tip[0] + 30]
    beyond_y = (lettered != plain).any(-1)[y_tip[1] + 2:y_tip[1] + 30, y_tip[0] - 12:y_tip[0] + 12]
    assert beyond_x.sum() > 30 and beyond_y.sum() > 30
    assert pose.AXIS_COLORS[0] == (255, 0, 0) and pose.AXIS_COLORS[1] == (0, 200, 0)


def _code_cells():
    for path in sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code":
                yield path.name, index, cell.source


#: Words that show a figure gives a second cue beside its colours (a letter, a marker shape, a hatch, a mark).
SECOND_CUES = ("letter", "marker", "hatch", "✓", "✗", "shape", "label", "legend")


def test_lesson_cells_that_colour_in_red_and_green_give_a_second_cue():
    """A cell that names both red and green (words or pure RGB) must say what else tells the two apart."""
    red = re.compile(r"\bred\b|\(255, 0, 0\)|['\"]r['\"]")
    green = re.compile(r"\bgreen\b|\(0, 255, 0\)|\(0, 200, 0\)|['\"]g['\"]")
    found = [(name, index) for name, index, source in _code_cells() if red.search(source) and green.search(source)]
    assert ("03_face_alignment_landmarks.ipynb", 17) in found            # the head-pose figure: a known case
    missing = [(name, index) for name, index in found
               if not any(cue in source.lower() for n, i, source in _code_cells() if (n, i) == (name, index)
                          for cue in SECOND_CUES)]
    assert not missing, missing


def test_the_shown_width_is_the_audits_column():
    assert draw.SHOWN_WIDTH_PX == fa.COLUMN_PX
    assert json.loads(json.dumps(fa.Problem("small", "x", 6.0, 6.0, "why").__dict__))["kind"] == "small"
