"""The transfer emotion network in Keras (course_utils/emotion_resnet.py) computes what the PyTorch network
trained by scripts/train_emotion_transfer.py computes, on random weights (no dlib file needed)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # builds two networks of 29 convolutions
ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("train_emotion_transfer", ROOT / "scripts" / "train_emotion_transfer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _random_weights(seed: int = 0):
    from course_utils.dlib_resnet import DlibResNetWeights
    from course_utils.emotion_resnet import BLOCKS

    rng = np.random.default_rng(seed)
    shapes, channels = [(32, 3, 7, 7)], 32
    for filters, _ in BLOCKS:
        shapes += [(filters, channels, 3, 3), (filters, filters, 3, 3)]
        channels = filters
    strides = [2] + [s for f, down in BLOCKS for s in ((2 if down else 1), 1)]
    convs = [((rng.normal(0, (2 / np.prod(s[1:])) ** 0.5, s)).astype(np.float32),
              rng.normal(0, 0.1, s[0]).astype(np.float32), st, 0 if st == 2 else 1)
             for s, st in zip(shapes, strides)]
    affines = [(rng.uniform(0.5, 1.5, s[0]).astype(np.float32), rng.normal(0, 0.1, s[0]).astype(np.float32))
               for s in shapes]
    fc = rng.normal(0, 0.1, (128, 256)).astype(np.float32)
    return DlibResNetWeights((122.8, 117.0, 104.3), 150, convs, affines, [], fc)


@pytest.fixture(scope="module")
def pair():
    import torch

    from course_utils import emotion_resnet
    from course_utils.dlib_resnet import build_network

    script = _script()
    weights = _random_weights()
    net = script.EmotionNet(build_network(weights)).eval()
    torch.manual_seed(0)
    with torch.no_grad():  # random bodies make large features: scale the head so the logits are about 1
        probe = script.to_input(torch.from_numpy(np.random.default_rng(3).integers(0, 256, (4, 48, 48), np.uint8)), 120)
        spread = float(net.features(probe).std())
    net.head.weight.data.normal_(0, 1.0 / (16 * spread))
    net.head.bias.data.normal_(0, 0.1)
    model = emotion_resnet.build_model()
    emotion_resnet.set_weights(model, [c[:2] for c in weights.convs], weights.affines, weights.mean_rgb,
                               net.head.weight.detach().numpy(), net.head.bias.detach().numpy())
    return script, net, model


def test_keras_network_gives_the_pytorch_probabilities_with_the_mirror_average(pair):

    script, net, model = pair
    faces = np.random.default_rng(1).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    expected = script.predict(net, faces, 120, flip=True)
    got = model.predict(faces[..., None].astype(np.float32) / 255.0, verbose=0)
    assert got.shape == (6, 7)
    np.testing.assert_allclose(got, expected, atol=2e-4)
    assert not np.allclose(expected, expected.mean(0))  # the faces are told apart: the check has teeth
    single = script.predict(net, faces, 120, flip=False)
    assert np.abs(single - expected).max() > 1e-3  # the mirror average is not a no-op on these faces


def test_the_network_without_the_mirror_is_the_plain_network(pair):
    from course_utils import emotion_resnet

    script, net, model = pair
    plain = emotion_resnet.build_model(flip_average=False)
    plain.set_weights([w for layer in model.layers if layer.name != "mirror" for w in layer.get_weights()])
    faces = np.random.default_rng(2).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(plain.predict(faces[..., None] / 255.0, verbose=0),
                               script.predict(net, faces, 120, flip=False), atol=2e-4)


def test_wrong_layer_counts_are_refused():
    from course_utils import emotion_resnet

    model = emotion_resnet.build_model(flip_average=False)
    with pytest.raises(ValueError, match="expected 29 convolutions"):
        emotion_resnet.set_weights(model, [], [], (0, 0, 0), np.zeros((7, 256)), np.zeros(7))


def test_a_saved_network_is_rebuilt_by_code_as_on_another_keras_version(pair, tmp_path):
    """keras_compat's route (Kaggle's older Keras cannot read a newer config.json): the side-car's builder makes
    the same flat network, whose weights are read from the file layer by layer."""
    import json

    from course_utils import keras_compat, model_files

    script, net, model = pair
    path = model_files.save_model(model, tmp_path / "emotion.keras", list("abcdefg"), architecture={
        "builder": "course_utils.emotion_resnet:build_model", "kwargs": {"size": 120}})
    rebuilt = keras_compat.load_rebuilt(path, json.loads((tmp_path / "emotion.keras.json").read_text())["architecture"])
    faces = np.random.default_rng(4).random((3, 48, 48, 1)).astype(np.float32)
    np.testing.assert_allclose(rebuilt.predict(faces, verbose=0), model.predict(faces, verbose=0), atol=1e-6)
