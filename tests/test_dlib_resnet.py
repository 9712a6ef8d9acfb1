"""dlib's face-recognition ResNet read from its model file and run by PyTorch gives dlib's own
descriptors; files it cannot read are refused with a clear error."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils import dlib_resnet
from course_utils import embedders
from course_utils.landmarks import model_path


@pytest.fixture(scope="module")
def weights():
    return dlib_resnet.read_weights(model_path("resnet"))


def test_the_file_is_read_as_dlibs_network(weights):
    assert weights.chip_size == 150
    assert weights.mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)
    assert [w.shape for w, *_ in weights.convs[:2]] == [(32, 3, 7, 7), (32, 32, 3, 3)]
    assert weights.convs[-1][0].shape == (256, 256, 3, 3) and weights.fc.shape == (128, 256)
    assert weights.layers.count("add_prev_") == 14 and weights.layers.count("avg_pool_2") == 5
    params = sum(w.size + b.size for w, b, *_ in weights.convs) + sum(2 * g.size for g, _ in weights.affines)
    assert params + weights.fc.size == 5_614_592  # 5.6 M parameters


def test_torch_engine_gives_dlibs_descriptors(astronaut, group):
    fast, slow = embedders.DlibEmbedder("torch"), embedders.DlibEmbedder("dlib")
    faces = slow.detect(group)[:2] + slow.detect(astronaut)
    chips = slow.chips(group, faces[:2]) + slow.chips(astronaut, faces[2:])
    chips.append(np.ascontiguousarray(chips[0][:, ::-1]))
    a, b = fast.embed_chips(chips), slow.embed_chips(chips)
    assert a.shape == b.shape == (len(chips), 128) and a.dtype == np.float32
    assert np.abs(a - b).max() < 1e-4
    assert np.linalg.norm(a[0] - a[1]) > 0.1  # different faces, different vectors: the comparison can fail
    # batching does not change the result
    fast.batch_size = 2
    assert np.abs(fast.embed_chips(chips) - a).max() < 1e-5


def test_engine_is_checked():
    with pytest.raises(ValueError, match="engine must be one of"):
        embedders.DlibEmbedder("onnx")
    assert embedders.DlibEmbedder().engine == "torch"  # torch is part of the course's stack


def test_files_that_are_not_the_network_are_refused(tmp_path):
    data = model_path("resnet").read_bytes()
    truncated = tmp_path / "truncated.dat"
    for cut in (len(data) // 2, data.find(b"con_4") + 8, data.find(b"fc_2") + 6):  # in a tensor, a header, a size
        truncated.write_bytes(data[:cut])
        with pytest.raises(dlib_resnet.DlibFormatError):
            dlib_resnet.read_weights(truncated)
    with pytest.raises(dlib_resnet.DlibFormatError, match="not dlib's face-recognition ResNet"):
        dlib_resnet.read_weights(model_path(5))  # another dlib file: the 5-point shape predictor
    junk = tmp_path / "junk.dat"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(dlib_resnet.DlibFormatError):
        dlib_resnet.read_weights(junk)
