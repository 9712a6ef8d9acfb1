"""Emotion library: class weights, preprocessing, the CNN, files and the version check."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from course_utils import emotion, model_files


def test_class_weights_lift_rare_classes_and_average_one():
    y = np.array([3] * 700 + [1] * 10 + [0] * 290)
    w = emotion.class_weights(y)
    assert w[1] > w[0] > w[3]
    assert np.average([w[i] for i in y]) == pytest.approx(1.0)
    assert w[5] == pytest.approx(w[5])  # absent class: a finite weight
    full = emotion.class_weights(y, power=1.0)
    assert full[1] / full[3] == pytest.approx(70.0)


def test_validation_split_is_stratified_and_disjoint():
    y = np.repeat(np.arange(7), [400, 30, 400, 700, 500, 300, 480])
    tr, va = emotion.split_validation(y, 0.1, seed=0)
    assert len(set(tr) & set(va)) == 0 and len(tr) + len(va) == len(y)
    assert np.bincount(y[va], minlength=7)[1] == 3


def test_to_input_accepts_rgb_and_gray_of_any_size():
    faces = [np.full((100, 80, 3), 255, np.uint8), np.zeros((48, 48), np.uint8)]
    x = emotion.to_input(faces)
    assert x.shape == (2, 48, 48, 1) and x.dtype == np.float32
    assert x[0].min() == pytest.approx(1.0) and x[1].max() == 0.0


@pytest.fixture(scope="module")
def small_model():
    return emotion.build_model(width=8, augment=True)


@pytest.mark.slow
def test_model_shape_and_size(small_model):
    assert small_model.output_shape == (None, 7)
    for head in ("pool", "flatten"):
        assert emotion.build_model(width=32, head=head).count_params() < 2_500_000, "a float32 file under 10 MB"
    with pytest.raises(ValueError, match="head must be"):
        emotion.build_model(width=8, head="dense")


@pytest.mark.slow
def test_a_new_head_starts_from_the_trained_body():
    """copy_matching_weights: the convolutional body carries over, the differing head does not."""
    pooled = emotion.build_model(width=8, head="pool", dropout=0.3)
    flattened = emotion.build_model(width=8)  # the default head
    assert emotion.copy_matching_weights(pooled, flattened) == 16  # 8 x (conv + batch norm); then the heads differ
    body = [layer for layer in pooled.layers if layer.weights][:17]
    flat = [layer for layer in flattened.layers if layer.weights][:17]
    for a, b in zip(body[:16], flat[:16]):
        assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert body[16].get_weights()[0].shape == (64, 64) and flat[16].get_weights()[0].shape == (576, 64)
    assert emotion.copy_matching_weights(pooled, emotion.build_model(width=16)) == 0  # other widths: nothing


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_save_and_load_give_the_same_predictions(small_model, tmp_path, suffix):
    x = np.random.default_rng(0).random((4, 48, 48, 1)).astype(np.float32)
    path = emotion.save_model(small_model, tmp_path / f"m{suffix}")
    meta = json.loads(path.with_suffix(suffix + ".json").read_text())
    assert meta["labels"] == list(emotion.EMOTIONS) and meta["input"] == [48, 48, 1]
    assert meta["saved_with"] == emotion.runtime_versions()
    assert emotion.file_versions(path)["keras"] == emotion.runtime_versions()["keras"]
    loaded = emotion.load_model(path)
    assert np.allclose(loaded.predict(x, verbose=0), small_model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.slow
def test_a_model_from_another_keras_version_gets_a_clear_message(tmp_path):
    bad = tmp_path / "from_kaggle.keras"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "2.15.0"}))
        z.writestr("config.json", json.dumps({"class_name": "NoSuchLayerFromTheFuture", "config": {}}))
    with pytest.raises(emotion.ModelVersionError) as err:
        emotion.load_model(bad)
    msg = str(err.value)
    assert "Keras 2.15.0" in msg and f"Keras {emotion.runtime_versions()['keras']}" in msg
    assert "pip install tensorflow==" in msg


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        emotion.load_model(tmp_path / "nope.keras")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(model_files.ModelFileError, match="not a readable Keras model") as err:
        emotion.load_model(junk)
    assert not isinstance(err.value, emotion.ModelVersionError)  # a broken file, not another Keras
    with pytest.raises(ValueError, match=".keras or .h5"):
        emotion.save_model(object(), tmp_path / "m.pt")


@pytest.mark.slow
def test_evaluate_reports_per_class_and_confusion(small_model):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (30, 48, 48), dtype=np.uint8)
    y = rng.integers(0, 7, 30)
    y[y == 1] = 0  # no 'disgust' in this test set, as in the shared FER2013 test split
    rep = emotion.evaluate(small_model, x, y)
    assert rep.confusion.shape == (7, 7) and rep.confusion.sum() == 30
    assert np.isnan(rep.per_class["disgust"])
    assert rep.accuracy == pytest.approx(np.trace(rep.confusion) / 30)
    assert emotion.predict_emotions(small_model, x[0], []) == []
    # flip: the mean of each face's and its mirror image's probabilities
    xp = emotion.to_input(x)
    mean = (small_model.predict(xp, verbose=0) + small_model.predict(xp[:, :, ::-1], verbose=0)) / 2
    both = emotion.evaluate(small_model, x, y, flip=True)
    assert both.accuracy == pytest.approx((mean.argmax(1) == y).mean())
    symmetric = np.concatenate([x[:, :, :24], x[:, :, :24][:, :, ::-1]], axis=2)
    assert np.array_equal(emotion.evaluate(small_model, symmetric, y, flip=True).confusion,
                          emotion.evaluate(small_model, symmetric, y).confusion)


def test_the_stand_in_is_deterministic_balanced_and_varied():
    x, y = emotion.synthetic_expressions(12, seed=3)
    x2, y2 = emotion.synthetic_expressions(12, seed=3)
    assert x.shape == (84, 48, 48) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert np.bincount(y, minlength=7).tolist() == [12] * 7
    assert not np.array_equal(x, emotion.synthetic_expressions(12, seed=4)[0])
    assert len({a.tobytes() for a in x}) == len(x), "no two drawings are identical"
    assert x.std() > 20, "faces on a background, not blank images"
    x3, y3 = emotion.synthetic_expressions(2, seed=0, classes=("happy", "sad"))
    assert set(y3.tolist()) == {3, 4}
    with pytest.raises(ValueError, match="unknown expression"):
        emotion.synthetic_expressions(2, classes=("bored",))


def test_stand_in_classes_differ_where_the_rules_say():
    """Mean faces: surprise has the most dark pixels in the mouth region (open mouth), happy's mouth
    row rises at the corners: a check that the drawing rules really differ per class."""
    x, y = emotion.synthetic_expressions(60, seed=0)
    mean = {name: x[y == i].astype(float).mean(0) for i, name in enumerate(emotion.EMOTIONS)}
    mouth = slice(30, 42), slice(16, 32)
    darkness = {k: -m[mouth].mean() for k, m in mean.items()}
    assert max(darkness, key=darkness.get) in ("surprise", "fear")
    assert np.abs(mean["happy"] - mean["sad"]).max() > 10


def test_load_fer_splits_reads_both_kaggle_formats(tmp_path):
    import shutil

    import course_utils as cu

    sample = cu.sample_dataset("fer2013")
    from_csv = emotion.load_fer_splits(sample)  # the folder holds fer2013.csv: the CSV wins
    assert from_csv["train"][0].shape == (14, 48, 48) and from_csv["test"][0].shape == (14, 48, 48)
    for split in ("train", "test"):
        shutil.copytree(sample / split, tmp_path / split)
    from_folders = emotion.load_fer_splits(tmp_path)
    assert sorted(from_folders["train"][1].tolist()) == sorted(from_csv["train"][1].tolist())
    assert from_folders["test"][0].dtype == np.uint8


@pytest.mark.slow
def test_small_model_is_small_and_compiled():
    m = emotion.build_small_model()
    assert m.output_shape == (None, 7) and m.count_params() < 50_000
    assert m.optimizer is not None


@pytest.mark.slow
def test_saved_files_hold_no_optimizer_state_unless_asked(tmp_path):
    m = emotion.build_model(width=8)
    m.fit(np.zeros((4, 48, 48, 1), np.float32), np.arange(4), epochs=1, verbose=0)
    plain = emotion.save_model(m, tmp_path / "plain.keras")
    full = emotion.save_model(m, tmp_path / "full.keras", include_optimizer=True)
    assert full.stat().st_size > 1.5 * plain.stat().st_size


@pytest.mark.slow
def test_reference_model_is_committed_small_and_loads():
    clf = emotion.load_classifier()
    assert clf.labels == emotion.EMOTIONS and (clf.size, clf.channels) == (48, 1)
    path = cu_find("emotion")
    assert path.name == "emotion.keras" and path.stat().st_size < 10e6
    assert (path.parent / "MODEL_CARD.md").exists() and (path.parent / "MODEL_CARD.json").exists()


def cu_find(kind):
    from course_utils.model_files import find_model

    return find_model(kind, environ={}, kaggle_input="/nonexistent")


def _train_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "train_emotion.py"
    spec = importlib.util.spec_from_file_location("train_emotion_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_train_script_reads_a_learning_rate_schedule():
    import argparse

    script = _train_script()
    assert script._lr_steps("3e-4:4,1e-4:2") == [(3e-4, 4), (1e-4, 2)]
    for bad in ("3e-4", "fast:2", "1e-4:0", "-1e-3:2", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            script._lr_steps(bad)


def test_train_script_sums_up_its_runs_for_the_model_card(tmp_path):
    """Epochs from history.csv; minutes and learning-rate phases from the Keras logs, oldest first."""
    (tmp_path / "history.csv").write_text("epoch,accuracy\n0,0.3\n1,0.4\n0,0.5\n")
    line = "391/391 - {s}s - 1s/step - accuracy: 0.5 - val_accuracy: 0.5 - learning_rate: {lr}\n"
    (tmp_path / "train-1.log").write_text("Epoch 1/9\n" + line.format(s=300, lr="0.0010")
                                          + line.format(s=360, lr="0.0010"))
    (tmp_path / "train.log").write_text("resumed\n" + line.format(s=240, lr="3.0000e-04") + "Epoch 2/9\n")
    epochs, minutes, rates = _train_script()._history_summary(tmp_path / "history.csv")
    assert (epochs, minutes, rates) == (3, 15.0, "0.001 x2, 0.0003 x1")


def test_train_script_names_the_dropout_rates_a_model_was_trained_with():
    import keras

    script = _train_script()
    assert script._dropout(emotion.build_model(width=4, dropout=0.1, head_dropout=0.4)) == \
        "blocks 0.05-0.125, head 0.4"
    assert script._dropout(emotion.build_model(width=4, dropout=0.05, head_dropout=0.2)) == \
        "blocks 0.025-0.0625, head 0.2"
    assert script._dropout(emotion.build_small_model(width=4)) == "head 0.2"  # one dropout: before the softmax
    inputs = keras.Input((4,))
    assert script._dropout(keras.Model(inputs, keras.layers.Dense(2)(inputs))) == "no dropout"


# ------------------------------------------------------------------------------ real faces (issue 17)


def test_real_faces_load_sorted_by_label_with_their_names():
    x, y, names = emotion.load_real_faces()
    assert x.shape == (210, 48, 48) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y, minlength=7).tolist() == [30] * 7
    assert y.tolist() == sorted(y.tolist()), "in EMOTIONS order"
    assert all(n.split("/")[0] == emotion.EMOTIONS[c] for n, c in zip(names, y))
    assert x.std() > 20, "photos, not blank images"


def test_real_faces_from_another_folder_and_clear_errors(tmp_path):
    import shutil

    import course_utils as cu

    for label in ("happy", "sad"):
        (tmp_path / label).mkdir()
        for p in sorted((cu.real_samples("fer2013") / label).glob("*.png"))[:2]:
            shutil.copy(p, tmp_path / label / p.name)
    x, y, names = emotion.load_real_faces(tmp_path)
    assert y.tolist() == [3, 3, 4, 4] and names[0].startswith("happy/")
    (tmp_path / "bored").mkdir()
    with pytest.raises(ValueError, match="not expressions"):
        emotion.load_real_faces(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no <label>/\\*.png"):
        emotion.load_real_faces(tmp_path / "empty")


def test_reference_split_tells_test_faces_from_training_faces():
    _, y, names = emotion.load_real_faces()
    where = emotion.reference_split(names)
    counts = {part: int((where == part).sum()) for part in ("test", "copy", "validation", "fit")}
    assert counts == {"test": 159, "copy": 23, "validation": 4, "fit": 24}
    assert set(y[np.isin(where, ["validation", "fit"])].tolist()) == {emotion.EMOTIONS.index("disgust")}
    assert set(np.asarray(names)[where == "copy"]) == emotion.TRAIN_COPIES


def test_worst_mistakes_are_the_most_confident_wrong_answers():
    prob = np.array([[0.9, 0.1, 0], [0.2, 0.8, 0], [0.4, 0.6, 0], [0.05, 0.95, 0], [0.3, 0.3, 0.4]])
    y = np.array([0, 0, 0, 0, 2])  # right, wrong 0.8, wrong 0.6, wrong 0.95, right
    assert emotion.worst_mistakes(y, prob, k=2).tolist() == [3, 1]
    assert emotion.worst_mistakes(y, prob, k=10).tolist() == [3, 1, 2]
    assert emotion.worst_mistakes(np.array([0, 1]), prob[:2], k=3).tolist() == []
    with pytest.raises(ValueError, match="prob must be"):
        emotion.worst_mistakes(y, prob[:3])


def test_report_table_and_confusion_text_give_counts():
    y = np.array([0, 0, 0, 3, 3, 4])
    pred = np.array([0, 4, 0, 3, 0, 4])
    rep = emotion.report_from_predictions(y, pred)
    lines = rep.table().splitlines()
    assert lines[1].split() == ["angry", "3", "2", "0.67"]
    assert lines[2].split() == ["disgust", "0", "0", "n/a"]
    assert lines[-1].split() == ["all", "6", "4", "0.67"]
    rows = rep.confusion_text().splitlines()
    assert rows[0].split()[:7] == [n[:5] for n in emotion.EMOTIONS]
    assert rows[1].split() == ["angry", "2", "0", "0", "0", "1", "0", "0"]  # one angry face said sad


def test_limit_class_makes_one_class_rare():
    x, y = emotion.synthetic_expressions(10, seed=0)
    xs, ys = emotion.limit_class(x, y, "disgust", 3)
    assert np.bincount(ys, minlength=7).tolist() == [10, 3, 10, 10, 10, 10, 10]
    assert len(xs) == len(ys) == 63
    with pytest.raises(ValueError, match="unknown expression"):
        emotion.limit_class(x, y, "bored", 3)


def test_load_fer_splits_keeps_a_few_faces_per_class(tmp_path):
    import shutil

    import course_utils as cu

    sample = cu.sample_dataset("fer2013")
    for split in ("train", "test"):
        shutil.copytree(sample / split, tmp_path / split)
    full = emotion.load_fer_splits(tmp_path)
    short = emotion.load_fer_splits(tmp_path, per_class=1)
    for split in ("train", "test"):
        counts = np.bincount(full[split][1], minlength=7)
        assert np.bincount(short[split][1], minlength=7).tolist() == np.minimum(counts, 1).tolist()
    csv = emotion.load_fer_splits(sample, per_class=1)  # the CSV format too
    assert np.bincount(csv["train"][1], minlength=7).max() == 1
    with pytest.raises(ValueError, match="per_class"):
        emotion.load_fer_subset(full["train"][0], full["train"][1], 0)


@pytest.mark.slow
def test_reference_model_on_the_real_sample_is_right_two_times_in_three_and_far_from_ties():
    """The figures lesson 04 prints (0.64 on 210 faces, about 0.6 on the 159 test-split faces without a copy in
    training), and every
    prediction far from a tie between two classes, so that another CPU's last digits cannot flip it."""
    clf = emotion.load_classifier()
    x, y, names = emotion.load_real_faces()
    prob = emotion.predict_faces(clf, x)
    assert prob.shape == (210, 7) and np.allclose(prob.sum(1), 1, atol=1e-4)
    report = emotion.report_from_predictions(y, prob.argmax(1))
    assert report.accuracy == pytest.approx(134 / 210, abs=0.03)
    test = emotion.reference_split(names) == "test"
    assert test.sum() == 159 and (prob.argmax(1)[test] == y[test]).mean() == pytest.approx(0.6, abs=0.04)
    assert report.per_class["fear"] < min(report.per_class["happy"], report.per_class["neutral"])
    top2 = np.sort(prob, axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() > 2e-5
    assert np.array_equal(emotion.evaluate(clf.model, x, y).confusion, report.confusion)
