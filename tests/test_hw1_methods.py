"""hw1's method questions (issue 17) reject the usual wrong implementations: each check cell of the reference
notebook is run on a namespace holding a right and then a wrong answer (a random split that ignores the classes,
square-root weights, a transposed confusion matrix, a crop without the square box or the margin)."""
from __future__ import annotations

import contextlib
import io
import math

import nbformat
import numpy as np
import pytest

import course_utils as cu
from course_utils import emotion, homework_data
from course_utils import homework as hw
from course_utils.tools import authoring

HW1 = authoring.find_homework("hw1_facial_emotion")
pytestmark = pytest.mark.skipif(not HW1.has_solution, reason=authoring.NO_SOLUTIONS)


def _cell(cell_id: str) -> str:
    nb = nbformat.read(HW1.solution, as_version=4)
    return next(c.source for c in nb.cells if c.get("id") == cell_id)


def _answer(cell_id: str) -> dict:
    """The reference answer's functions, executed (their calls need the rest of the notebook: skipped)."""
    ns = {"np": np, "cu": cu, "emotion": emotion}
    code = _cell(cell_id).split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
    for tail in ("\npred = ", "\ninputs = ", "\ntrain_idx, val_idx = ", "\nweights = "):
        code = code.split(tail)[0]
    exec(code, ns)
    return ns


def _check(name: str, namespace: dict) -> str:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(_cell(f"{name}-check"), {"np": np, "cu": cu, "emotion": emotion, **namespace})
    except hw.CheckFailed as exc:
        return str(exc)
    return out.getvalue().strip()


@pytest.fixture(scope="module")
def data():
    x, y = emotion.synthetic_expressions(150, seed=1)
    x, y = emotion.limit_class(x, y, "disgust", 40)
    _, y_real, _ = emotion.load_real_faces()
    return {"y": y, "y_real": y_real}


def test_q1_accepts_a_stratified_split_and_rejects_a_plain_random_one(data):
    split = _answer("q1-answer")["stratified_split"]
    tr, va = split(data["y"], 0.15, seed=0)
    assert _check("q1", {**data, "stratified_split": split, "train_idx": tr, "val_idx": va}) == "q1: PASS"
    per_class = np.bincount(data["y"][va], minlength=7)
    assert per_class.tolist() == [22, 6, 22, 22, 22, 22, 22]

    def random_split(labels, fraction=0.15, seed=0):
        idx = np.random.default_rng(seed).permutation(len(labels))
        cut = round(fraction * len(labels))
        return np.sort(idx[cut:]), np.sort(idx[:cut])
    tr, va = random_split(data["y"])
    failed = _check("q1", {**data, "stratified_split": random_split, "train_idx": tr, "val_idx": va})
    assert "q1" in failed and "scikit-learn's stratified split" in failed


def test_q3_accepts_balanced_weights_and_rejects_square_root_ones(data):
    weights_of = _answer("q3-answer")["balanced_weights"]
    train_idx = np.arange(len(data["y"]))
    ns = {**data, "train_idx": train_idx, "y_fer": np.repeat(np.arange(7), [3995, 436, 4097, 7215, 4830, 3171, 4965])}
    w = weights_of(data["y"])
    assert w[1] == pytest.approx(940 / (7 * 40)) and w[0] == pytest.approx(940 / (7 * 150))
    assert _check("q3", {**ns, "balanced_weights": weights_of, "weights": w}) == "q3: PASS"

    def sqrt_weights(labels, num_classes=7):
        return {c: math.sqrt(v) for c, v in weights_of(labels, num_classes).items()}
    failed = _check("q3", {**ns, "balanced_weights": sqrt_weights, "weights": sqrt_weights(data["y"])})
    assert "q3" in failed and "Hint 1 of 3" in failed  # the first step, a nudge: the formula comes after more failures


class _Perfect:
    """A stand-in model that answers the truth of the evaluation set (the check calls model(x, training=))."""

    def __init__(self, y):
        self.y = y

    def __call__(self, x, training=False):
        return np.eye(7, dtype=np.float32)[self.y[:len(x)]]


@pytest.mark.slow
def test_q5_accepts_a_confusion_matrix_and_rejects_a_transposed_one(data):
    ns = _answer("q5-answer")
    confusion, recall = ns["confusion"], ns["recall_per_class"]
    x_eval, y_eval = emotion.synthetic_expressions(50, seed=12345)
    x_real, y_real, _ = emotion.load_real_faces()
    assert confusion([0, 0, 1, 2], [0, 1, 1, 2], 3).tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    cm = confusion(y_eval, y_eval)
    given = {"x_eval": x_eval, "y_eval": y_eval, "x_real": x_real, "y_real": y_real, "model": _Perfect(y_eval),
             "cm": cm, "eval_accuracy": 1.0, "per_class": {k: 1.0 for k in emotion.EMOTIONS},
             "BARS": homework_data.BARS["emotion-standin"]}
    assert _check("q5", {**given, "confusion": confusion, "recall_per_class": recall}) == "q5: PASS"
    transposed = _check("q5", {**given, "confusion": lambda t, p, n=7: confusion(t, p, n).T,
                               "recall_per_class": recall})
    assert "q5" in transposed and "row" in transposed


@pytest.mark.slow
def test_q7_accepts_the_course_crop_and_rejects_one_without_the_square_box_or_margin(group):
    face_input = _answer("q7-answer")["face_input"]
    faces = cu.detect_faces(group)
    model = emotion.build_small_model()
    labels = ["happy"] * len(faces)
    given = {"img": group, "faces": faces, "model": model, "labels": labels}
    assert _check("q7", {**given, "face_input": face_input}) == "q7: PASS"
    no_margin = _check("q7", {**given, "face_input": lambda img, box: face_input(img, box, margin=0.0)})
    assert "q7" in no_margin and "10 %" in no_margin

    def unsquared(img, box):  # the detector's box as it is, stretched to 48x48
        x1, y1, x2, y2 = (int(v) for v in box)
        return face_input(img[y1:y2, x1:x2], (0, 0, x2 - x1, x2 - x1), margin=0.0)
    assert "q7" in _check("q7", {**given, "face_input": unsquared})
