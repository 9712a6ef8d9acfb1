"""hw1_facial_emotion on the homework system: the solution and an independent honest solution score
full marks, the untouched template zero, a model below the accuracy bar fails only the checks that
depend on it."""
from __future__ import annotations

import copy

import nbformat
import pytest

from course_utils import grading
from course_utils import homework as hw

pytestmark = pytest.mark.slow

HW1 = hw.find_homework("hw1_facial_emotion")
SOLUTION = HW1.solution

#: Another honest solution: scikit-learn's split, a hand-written Sequential CNN, inverse-frequency
#: weights, a plain model.fit, predictions computed by hand, Keras' own save/load.
HONEST = {
    "q1-answer": "from sklearn.model_selection import train_test_split\n"
                 "train_idx, val_idx = train_test_split(np.arange(len(y)), test_size=0.15, stratify=y, random_state=1)",
    "q2-answer": "from keras import layers\n"
                 "model = keras.Sequential([keras.Input((48, 48, 1))] + [\n"
                 "    layer for f in (8, 16, 32, 64) for layer in (\n"
                 "        layers.Conv2D(f, 3, padding='same', use_bias=False), layers.BatchNormalization(momentum=0.9),\n"
                 "        layers.ReLU(), layers.MaxPooling2D())] + [\n"
                 "    layers.Flatten(), layers.Dropout(0.3), layers.Dense(7, activation='softmax')])\n"
                 "model.compile(keras.optimizers.Adam(2e-3), 'sparse_categorical_crossentropy', metrics=['accuracy'])",
    "q3-answer": "counts = np.bincount(y_fer, minlength=7)\n"
                 "weights = {c: len(y_fer) / (7 * counts[c]) for c in range(7)}",
    "q4-answer": "scale = lambda a: a[..., None].astype('float32') / 255\n"
                 "history = model.fit(scale(x[train_idx]), y[train_idx], validation_data=(scale(x[val_idx]), y[val_idx]),\n"
                 "                    epochs=15, batch_size=32, verbose=0, callbacks=[keras.callbacks.EarlyStopping(\n"
                 "                        monitor='val_accuracy', patience=5, restore_best_weights=True)])",
    "q5-answer": "pred = model.predict(x_eval[..., None] / 255, verbose=0).argmax(axis=1)\n"
                 "eval_accuracy = (pred == y_eval).mean()\n"
                 "per_class = {name: (pred[y_eval == i] == i).mean() for i, name in enumerate(emotion.EMOTIONS)}",
    "q6-answer": "model.save('my_emotion.keras')\nreloaded = keras.models.load_model('my_emotion.keras')",
    "q7-answer": "img = cu.load_sample(PHOTO)\nfaces = cu.detect_faces(img)\n"
                 "labelled = cu.FaceClassifier(model, emotion.EMOTIONS).classify(img, faces)",
}
#: Honest code whose model is too weak (one epoch): q4 and q5 fail, the rest pass.
UNDERTRAINED = {"q4-answer": "history = emotion.train(model, (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx]), "
                             "epochs=1, verbose=0)"}


def _with(nb, answers):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("id") in answers:
            cell.source = answers[cell.id]
    return nb


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    subs = tmp_path_factory.mktemp("hw1")
    solution = nbformat.read(SOLUTION, as_version=4)
    nbformat.write(solution, str(subs / "reference.ipynb"))
    nbformat.write(_with(solution, HONEST), str(subs / "honest.ipynb"))
    nbformat.write(_with(solution, UNDERTRAINED), str(subs / "undertrained.ipynb"))
    (subs / "template.ipynb").write_bytes(HW1.template.read_bytes())
    found = grading.grade_folder(HW1.path, subs, workers=2, out=tmp_path_factory.mktemp("g") / "book.csv",
                                 cell_timeout=300, notebook_timeout=600, verbose=False)
    return {r.student: r for r in found}


def test_reference_and_an_independent_honest_solution_score_full_marks(results):
    for student in ("reference", "honest"):
        r = results[student]
        assert r.score == 1.0, (student, r.checks, r.summary())


def test_template_scores_zero_without_crashing_the_grader(results):
    r = results["template"]
    assert r.score == 0.0 and len(r.checks) == 7 and "NotImplementedError" in r.summary()


def test_a_model_below_the_bar_fails_only_what_depends_on_it(results):
    r = results["undertrained"]
    assert {k for k, ok in r.checks.items() if not ok} == {"q4", "q5"}, r.checks
