"""Face classifiers: model files and their side-cars, finding a model, crops to inputs, no-face images."""
from __future__ import annotations

import json

import numpy as np
import pytest

import course_utils as cu
from course_utils import classify, model_files, runtime, training
from course_utils.classify import FaceClassifier, to_input
from course_utils.model_files import ModelNotFoundError, find_model


def test_to_input_gray_and_rgb():
    crops = [np.full((100, 80, 3), 255, np.uint8), np.zeros((30, 30), np.uint8)]
    gray = to_input(crops, 48, 1)
    rgb = to_input(crops, 64, 3)
    assert gray.shape == (2, 48, 48, 1) and rgb.shape == (2, 64, 64, 3)
    assert gray.dtype == rgb.dtype == np.float32
    assert gray[0].min() == pytest.approx(1.0) and rgb[1].max() == 0.0
    with pytest.raises(ValueError, match="channels"):
        to_input(crops, 48, 2)


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_find_model_order(tmp_path):
    models, kaggle = tmp_path / "models", tmp_path / "kaggle"
    repo = _touch(models / "emotion" / "emotion.keras")
    attached = _touch(kaggle / "my-fer-model" / "emotion_v2.h5")
    env_file = _touch(tmp_path / "elsewhere" / "mine.keras")
    explicit = _touch(tmp_path / "explicit.h5")
    kw = dict(kaggle_input=kaggle, models_dir=models)
    assert find_model("emotion", explicit, environ={"COURSE_EMOTION_MODEL": str(env_file)}, **kw) == explicit
    assert find_model("emotion", environ={"COURSE_EMOTION_MODEL": str(env_file)}, **kw) == env_file
    assert find_model("emotion", environ={}, **kw) == repo
    repo.unlink()
    assert find_model("emotion", environ={}, **kw) == attached


def test_find_model_says_where_it_looked_and_how_to_get_one(tmp_path):
    with pytest.raises(ModelNotFoundError) as err:
        find_model("mask", environ={}, kaggle_input=tmp_path / "k", models_dir=tmp_path / "m")
    msg = str(err.value)
    assert "$COURSE_MASK_MODEL" in msg and "scripts/train_mask.py" in msg and "Kaggle" in msg
    with pytest.raises(ModelNotFoundError, match="COURSE_EMOTION_MODEL"):
        find_model("emotion", environ={"COURSE_EMOTION_MODEL": str(tmp_path / "gone.keras")})
    assert issubclass(ModelNotFoundError, FileNotFoundError)


def test_broken_side_car_is_a_clear_error(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"")
    model_files.sidecar_path(model).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        model_files.read_sidecar(model)
    assert model_files.read_sidecar(tmp_path / "other.keras") is None


@pytest.fixture(scope="module")
def tiny_model():
    keras = model_files.import_keras()
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


@pytest.mark.slow
def test_classifier_checks_labels_and_input_and_handles_no_face(tiny_model, astronaut):
    with pytest.raises(ValueError, match="3 labels for a model with 2 outputs"):
        FaceClassifier(tiny_model, ("a", "b", "c"))
    clf = FaceClassifier(tiny_model, ("a", "b"))
    assert (clf.size, clf.channels) == (32, 3)
    assert clf.classify(astronaut, []) == []
    assert clf.predict_crops([]).shape == (0, 2)
    face = cu.Face((180, 60, 290, 200), 0.99)
    (item,) = clf.classify(astronaut, [face])
    assert item.label in ("a", "b") and 0.5 <= item.probability <= 1.0
    assert str(item).startswith(item.label) and "(180, 60, 290, 200)" in str(item)
    keras = model_files.import_keras()
    vec = keras.Input((10,))
    flat = keras.Model(vec, keras.layers.Dense(2)(vec))
    with pytest.raises(ValueError, match="square gray or RGB"):
        FaceClassifier(flat, ("a", "b"))


@pytest.mark.slow
def test_a_new_model_replaces_what_was_built_from_the_old_one(tiny_model):
    keras = model_files.import_keras()
    clf = FaceClassifier(tiny_model, ("a", "b"), engine="tensorflow")
    crops = [np.full((32, 32, 3), 200, np.uint8)]
    clf.predict_crops(crops)
    first = clf._fn
    assert first is not None and clf._fn_for is tiny_model and clf._lite is False
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    other = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", bias_initializer="ones")(x))
    clf.model = other
    assert (clf.size, clf.channels) == (48, 1)
    np.testing.assert_allclose(clf.predict_crops(crops), other.predict(clf.to_input(crops), verbose=0), atol=1e-6)
    second = clf._fn
    assert second is not first and clf._fn_for is other  # traced again, for the new model
    clf.predict_crops(crops)
    assert clf._fn is second  # and kept while the model stays


@pytest.mark.slow
def test_save_load_round_trip_with_labels(tiny_model, tmp_path):
    with pytest.raises(ValueError, match="1 labels for a model with 2 outputs"):
        model_files.save_model(tiny_model, tmp_path / "m.keras", ["only"])
    path = model_files.save_model(tiny_model, tmp_path / "m.keras", ["no", "yes"], margin=0.25)
    meta = json.loads(model_files.sidecar_path(path).read_text())
    assert meta["labels"] == ["no", "yes"] and meta["margin"] == 0.25
    clf = FaceClassifier.load(path)
    assert clf.labels == ("no", "yes") and clf.margin == 0.25 and clf.name == "m"
    model_files.sidecar_path(path).unlink()
    with pytest.raises(ValueError, match="pass labels="):
        FaceClassifier.load(path)
    assert FaceClassifier.load(path, labels=["x", "y"]).labels == ("x", "y")


def test_each_step_has_one_implementation_that_the_lessons_bind_their_values_to():
    from course_utils import emotion, mask

    assert emotion.to_input.func is mask.to_input.func is classify.to_input
    assert emotion.to_input.keywords == {"size": 48, "channels": 1}
    assert mask.to_input.keywords == {"size": 64, "channels": 3}
    crops = [np.full((100, 80, 3), 200, np.uint8)]
    np.testing.assert_array_equal(emotion.to_input(crops), to_input(crops, 48, 1))
    np.testing.assert_array_equal(mask.to_input(crops, size=96), to_input(crops, 96, 3))  # another network's size
    assert emotion.save_model.func is mask.save_model.func is model_files.save_model
    assert emotion.save_model.keywords == {"labels": emotion.EMOTIONS}
    assert mask.save_model.keywords == {"labels": mask.MASK_LABELS, "align": "arcface", "margin": 0.25}
    assert emotion.load_classifier.func == mask.load_classifier.func == FaceClassifier.load
    assert emotion.load_classifier.args == ("emotion",) and mask.load_classifier.args == ("mask",)
    for bound in (emotion.to_input, mask.to_input, emotion.save_model, emotion.load_classifier, mask.load_classifier):
        assert "course_utils." in bound.__doc__  # help() names the function it binds


@pytest.mark.slow
def test_load_takes_the_side_car_first_and_the_lessons_values_where_it_says_nothing(tiny_model, tmp_path):
    from course_utils import mask

    saved = mask.save_model(tiny_model, tmp_path / "mine.keras")
    assert json.loads(model_files.sidecar_path(saved).read_text())["align"] == "arcface"
    clf = mask.load_classifier(saved)  # FaceClassifier.load("mask", path)
    assert (clf.labels, clf.align, clf.margin, clf.name) == (mask.MASK_LABELS, "arcface", 0.25, "mine")
    box = model_files.save_model(tiny_model, tmp_path / "box.keras", ["a", "b"], margin=0.2)  # a box crop
    clf = FaceClassifier.load("mask", box, labels=mask.MASK_LABELS)
    assert (clf.labels, clf.align, clf.margin) == (("a", "b"), None, 0.2)
    model_files.sidecar_path(box).unlink()  # no side-car: the lesson's labels and crop
    clf = mask.load_classifier(box)
    assert (clf.labels, clf.align, clf.margin) == (mask.MASK_LABELS, "arcface", 0.25)
    with pytest.raises(ValueError, match="a model file or a kind and a path, not both"):
        FaceClassifier.load(box, tmp_path / "other.keras")


@pytest.mark.slow
def test_classify_faces_refuses_options_beside_a_built_detector(tiny_model, group):
    clf = FaceClassifier(tiny_model, ("with_mask", "without_mask"))
    det = cu.get_detector("mtcnn")
    for step in (cu.classify_faces, cu.annotate_faces):
        with pytest.raises(ValueError, match="min_face_size=120 given with a MTCNNDetector .*options go to the "
                                             "detector when it is built"):
            step(group, clf, detector=det, min_face_size=120)
    big = cu.classify_faces(group, clf, detector="default", min_face_size=120)  # by name, the option is used
    assert [item.face for item in big] == cu.detect_faces(group, min_face_size=120)
    assert len(big) < len(cu.classify_faces(group, clf, detector=det)) == 4


@pytest.mark.slow
def test_few_faces_run_on_litert_with_tensorflows_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    keras = model_files.import_keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((24, 24, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(keras.layers.RandomFlip("horizontal")(inputs))
    x = keras.layers.BatchNormalization()(x)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    path = model_files.save_model(keras.Model(inputs, out), tmp_path / "m.keras", ["a", "b", "c"])
    fast, slow = FaceClassifier.load(path), FaceClassifier.load(path)
    slow.engine = "tensorflow"
    crops = [np.random.default_rng(i).integers(0, 256, (30, 30, 3), dtype=np.uint8) for i in range(20)]
    for n in (1, 3, 16, 20):  # 20: above LITERT_MAX_BATCH, TensorFlow
        a, b = fast.predict_crops(crops[:n]), slow.predict_crops(crops[:n])
        assert a.shape == (n, 3) and np.abs(a - b).max() < 1e-5
    assert fast.runtime == "litert" and slow.runtime == "tensorflow"
    cached = fast._lite.cached
    assert cached.is_file() and cached.parent == tmp_path / "data" / "litert"
    written = cached.stat().st_mtime_ns
    again = FaceClassifier.load(path)
    again.predict_crops(crops[:1])
    assert again._lite.cached == cached and cached.stat().st_mtime_ns == written  # read back, not rewritten
    in_memory = FaceClassifier(fast.model, fast.labels)  # no file: converted, not cached
    assert np.abs(in_memory.predict_crops(crops[:2]) - slow.predict_crops(crops[:2])).max() < 1e-5
    assert in_memory._lite.cached is None
    with pytest.raises(ValueError, match="engine must be"):
        FaceClassifier(fast.model, fast.labels, engine="onnx")

    def broken(model):
        raise RuntimeError("unsupported op")

    monkeypatch.setattr(runtime, "to_litert", broken)  # a model LiteRT cannot take: TensorFlow, with a warning
    fallback = FaceClassifier(fast.model, fast.labels)
    with pytest.warns(RuntimeWarning, match="unsupported op"):
        probs = fallback.predict_crops(crops[:2])
    assert fallback.runtime == "tensorflow" and np.abs(probs - slow.predict_crops(crops[:2])).max() < 1e-6


@pytest.mark.slow
def test_annotate_faces_draws_a_caption_per_face(tiny_model, group):
    clf = FaceClassifier(tiny_model, ("with_mask", "without_mask"))
    drawn, labelled = cu.annotate_faces(group, clf)
    assert len(labelled) == 4 and drawn.shape == group.shape
    assert not np.array_equal(drawn, group)
    for item in labelled:  # each box is drawn in its label's colour
        x1, y1 = (int(round(v)) for v in item.face.box[:2])
        x2 = int(round(item.face.box[2]))
        y_mid = int(round((item.face.box[1] + item.face.box[3]) / 2))
        assert tuple(drawn[y_mid, x1]) == classify.LABEL_COLORS[item.label] or \
            tuple(drawn[y_mid, x2]) == classify.LABEL_COLORS[item.label]


def test_draw_faces_takes_one_colour_per_face(group):
    faces = [cu.Face((140, 260, 229, 373), 0.9), cu.Face((451, 183, 605, 372), 0.9)]
    one_by_one = cu.draw_faces(cu.draw_faces(group, faces[:1], color=(255, 0, 0)), faces[1:], color=(0, 0, 255))
    assert np.array_equal(cu.draw_faces(group, faces, color=[(255, 0, 0), (0, 0, 255)]), one_by_one)
    assert np.array_equal(cu.draw_faces(group, faces), cu.draw_faces(group, faces, color=[(0, 255, 0)] * 2))
    with pytest.raises(ValueError, match="1 colours for 2 faces"):
        cu.draw_faces(group, faces, color=[(1, 2, 3)])


@pytest.mark.parametrize("above, written", [(None, True), (1.01, False)])
def test_fit_keeps_a_checkpoint_unless_an_epoch_beats_it(tmp_path, above, written):
    """A resumed run passes the accuracy of the model it loaded: a worse epoch never replaces it."""
    keras = model_files.import_keras()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ckpt = tmp_path / "checkpoint.keras"
    history = training.fit(model, (x, y), (x, y), epochs=2, batch_size=32, patience=5, lr_patience=5,
                           checkpoint=ckpt, checkpoint_above=above)
    assert len(history.history["val_accuracy"]) == 2
    assert ckpt.exists() is written
