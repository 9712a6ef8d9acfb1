"""Reference models load on other Keras 3 versions: rebuilt by code, the saved architecture compared,
the file's weights loaded (course_utils.keras_compat, through model_files.load_model)."""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from course_utils import keras_compat, model_files

ROOT = Path(__file__).resolve().parents[1]
EMOTION = ROOT / "models" / "emotion" / "emotion.keras"
MASK = ROOT / "models" / "mask" / "mask.keras"


def test_snake_case_names_keras_weight_groups():
    assert [keras_compat.snake_case(c) for c in ("Conv2D", "MaxPooling2D", "BatchNormalization",
                                                 "GlobalAveragePooling2D", "InputLayer", "Dense")] == [
        "conv2d", "max_pooling2d", "batch_normalization", "global_average_pooling2d", "input_layer", "dense"]


def test_saved_layers_are_read_without_keras():
    layers = keras_compat.saved_layers(EMOTION)
    assert len(layers) == 41
    assert (layers[0].class_name, layers[0].name, layers[0].shapes) == ("InputLayer", "face", ())
    assert layers[5] == keras_compat.LayerRecord("Conv2D", "conv2d", ((3, 3, 1, 32),))
    assert layers[6].shapes == ((32,),) * 4  # batch norm: gamma, beta, moving mean and variance
    assert layers[-1] == keras_compat.LayerRecord("Dense", "emotion", ((256, 7), (7,)))
    mask = keras_compat.saved_layers(MASK)
    assert mask[-1] == keras_compat.LayerRecord("Dense", "mask", ((128, 2), (2,)))


def test_differences_ignore_kerass_automatic_counters_only():
    saved = [keras_compat.LayerRecord("Conv2D", "conv2d_1", ((3, 3, 1, 8),)),
             keras_compat.LayerRecord("Dense", "emotion", ((8, 7), (7,)))]
    same = [keras_compat.LayerRecord("Conv2D", "conv2d_9", ((3, 3, 1, 8),)),
            keras_compat.LayerRecord("Dense", "emotion", ((8, 7), (7,)))]
    assert keras_compat.architecture_differences(saved, same) == []
    wider = [keras_compat.LayerRecord("Conv2D", "conv2d", ((3, 3, 1, 16),)), same[1]]
    assert keras_compat.architecture_differences(saved, wider) == [
        "layer 0: saved Conv2D 'conv2d_1' [(3, 3, 1, 8)], rebuilt Conv2D 'conv2d' [(3, 3, 1, 16)]"]
    renamed = [same[0], keras_compat.LayerRecord("Dense", "mask", ((8, 7), (7,)))]
    assert len(keras_compat.architecture_differences(saved, renamed)) == 1
    assert keras_compat.architecture_differences(saved, same[:1]) == [
        "2 layers saved, 1 rebuilt"]


def test_only_course_builders_are_imported():
    assert keras_compat.resolve_builder("course_utils.keras_compat:snake_case") is keras_compat.snake_case
    for spec in ("os:system", "course_utils.emotion", "course_utilsx.m:f", "course_utils.emotion:build model"):
        with pytest.raises(ValueError, match="course_utils.<module>:<function>"):
            keras_compat.resolve_builder(spec)


def test_rebuild_needs_a_keras_file_with_a_recorded_architecture(tmp_path):
    assert keras_compat.rebuild_from_sidecar(EMOTION, {"labels": ["a"]}) is None
    assert keras_compat.rebuild_from_sidecar(tmp_path / "m.h5", {"architecture": {"builder": "x"}}) is None
    with pytest.raises(ValueError, match="no architecture builder"):
        keras_compat.load_rebuilt(EMOTION, {"kwargs": {}})


# ------------------------------------------------------------------------------ with Keras


def _from_another_keras(src: Path, dst: Path, keras_version: str = "3.99.0") -> Path:
    """A copy of ``src`` as a later Keras would write it: every layer's config carries an argument
    this Keras does not know (as 3.15's initializers carry ``input_axes`` for Keras 3.8)."""
    with zipfile.ZipFile(src) as z:
        config = json.loads(z.read("config.json"))
        weights = z.read(keras_compat.WEIGHTS_FILE)
    for layer in config["config"]["layers"]:
        layer["config"]["argument_from_the_future"] = True
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": keras_version}))
        z.writestr("config.json", json.dumps(config))
        z.writestr(keras_compat.WEIGHTS_FILE, weights)
    side = model_files.sidecar_path(src)
    if side.exists():
        shutil.copy(side, model_files.sidecar_path(dst))
    return dst


@pytest.fixture(scope="module")
def small_mask_file(tmp_path_factory):
    from course_utils import mask

    model = mask.build_model(width=4)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    path = model_files.save_model(model, tmp_path_factory.mktemp("m") / "small.keras", list(mask.MASK_LABELS),
                               architecture={"builder": "course_utils.mask:build_model", "kwargs": {"width": 4}})
    return path, model


@pytest.mark.slow
def test_a_file_from_another_keras_is_rebuilt_with_its_weights(small_mask_file, tmp_path):
    path, model = small_mask_file
    future = _from_another_keras(path, tmp_path / "future.keras")
    with pytest.raises(TypeError):  # what Keras itself says about that file
        _keras().models.load_model(future, compile=False)
    loaded = model_files.load_model(future)
    x = np.random.default_rng(1).random((4, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.slow
def test_a_file_whose_network_differs_from_the_rebuilt_one_is_a_version_error(small_mask_file, tmp_path):
    path, _ = small_mask_file
    future = _from_another_keras(path, tmp_path / "future.keras")
    side = model_files.sidecar_path(future)
    meta = json.loads(side.read_text())
    meta["architecture"]["kwargs"] = {"width": 8}
    side.write_text(json.dumps(meta))
    with pytest.raises(model_files.ModelVersionError) as err:
        model_files.load_model(future)
    msg = str(err.value)
    assert "saved with Keras 3.99.0" in msg and "Rebuilding it from its side-car failed too" in msg
    # the names carry Keras's counters of this session (conv2d_12 after other models were built)
    assert re.search(r"saved Conv2D 'conv2d(_\d+)?' \[\(3, 3, 3, 4\)\], rebuilt Conv2D 'conv2d(_\d+)?' "
                     r"\[\(3, 3, 3, 8\)\]", msg), msg


@pytest.mark.slow
def test_a_file_without_an_architecture_record_keeps_the_step_0_message(small_mask_file, tmp_path):
    path, _ = small_mask_file
    future = _from_another_keras(path, tmp_path / "future.keras")
    model_files.sidecar_path(future).unlink()
    with pytest.raises(model_files.ModelVersionError, match="saved with Keras 3.99.0") as err:
        model_files.load_model(future)
    assert "Rebuilding" not in str(err.value)


@pytest.mark.slow
def test_a_failure_under_the_same_keras_is_not_called_a_version_mismatch(small_mask_file, tmp_path):
    path, _ = small_mask_file
    broken = _from_another_keras(path, tmp_path / "broken.keras", keras_version=_keras().__version__)
    with pytest.raises(TypeError, match="argument_from_the_future") as err:
        model_files.load_model(broken)
    assert not isinstance(err.value, model_files.ModelVersionError)


@pytest.mark.slow
def test_errors_that_are_not_about_deserialising_pass_through(small_mask_file, monkeypatch):
    path, _ = small_mask_file
    keras = _keras()

    def out_of_memory(*args, **kwargs):
        raise MemoryError("no room")

    monkeypatch.setattr(keras.models, "load_model", out_of_memory)
    with pytest.raises(MemoryError, match="no room"):
        model_files.load_model(path)


@pytest.mark.slow
@pytest.mark.parametrize("path", [EMOTION, MASK], ids=["emotion", "mask"])
def test_reference_models_rebuild_to_the_same_predictions(path, tmp_path):
    """What Kaggle's Keras 3.8 does with the reference files (it cannot deserialise 3.15's config)."""
    reference = model_files.load_model(path)
    future = _from_another_keras(path, tmp_path / path.name)
    rebuilt = model_files.load_model(future)
    assert keras_compat.architecture_differences(keras_compat.saved_layers(path),
                                                 keras_compat.model_layers(rebuilt)) == []
    x = np.random.default_rng(2).random((8, *reference.input_shape[1:])).astype(np.float32)
    np.testing.assert_array_equal(rebuilt.predict(x, verbose=0), reference.predict(x, verbose=0))


def _keras():
    return model_files.import_keras()
