"""Emotion library: class weights, preprocessing, the CNN, files and the version check."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from course_utils import emotion


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


def test_preprocess_faces_accepts_rgb_and_gray_of_any_size():
    faces = [np.full((100, 80, 3), 255, np.uint8), np.zeros((48, 48), np.uint8)]
    x = emotion.preprocess_faces(faces)
    assert x.shape == (2, 48, 48, 1) and x.dtype == np.float32
    assert x[0].min() == pytest.approx(1.0) and x[1].max() == 0.0


@pytest.fixture(scope="module")
def small_model():
    return emotion.build_model(width=8, augment=True)


@pytest.mark.slow
def test_model_shape_and_size(small_model):
    assert small_model.output_shape == (None, 7)
    assert emotion.build_model(width=32).count_params() < 2_500_000, "a float32 file under 10 MB"


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_save_and_load_give_the_same_predictions(small_model, tmp_path, suffix):
    x = np.random.default_rng(0).random((4, 48, 48, 1)).astype(np.float32)
    path = emotion.save_model(small_model, tmp_path / f"m{suffix}")
    meta = json.loads(path.with_suffix(suffix + ".json").read_text())
    assert meta["labels"] == list(emotion.EMOTIONS)
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
    with pytest.raises(emotion.ModelVersionError, match="not a readable Keras model"):
        emotion.load_model(junk)
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
