"""Running a Keras classifier fast on a CPU (lessons 04 and 05, the webcam demo): LiteRT.

:class:`LiteRTRunner` runs a Keras model with the LiteRT interpreter (XNNPACK kernels): for one face,
about 2 ms instead of TensorFlow's 7 ms on a 2-core CPU, with the same outputs (to 1e-6).
:class:`~course_utils.classify.FaceClassifier` uses it for batches of up to :data:`LITERT_MAX_BATCH`
faces when ``ai_edge_litert`` is installed.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Batches up to this size go to LiteRT (single faces are where TensorFlow's per-call cost dominates).
LITERT_MAX_BATCH = 16


def litert_available() -> bool:
    """Whether the LiteRT interpreter (``ai_edge_litert``, part of the course's environment) is installed."""
    import importlib.util

    return importlib.util.find_spec("ai_edge_litert") is not None


def litert_cache_key(path: str | Path) -> str:
    """A cache key for a model file's LiteRT conversion: its content and the TensorFlow that converts it."""
    import hashlib

    import tensorflow as tf

    digest = hashlib.sha256(Path(path).read_bytes())
    digest.update(f"tensorflow {tf.__version__}".encode())
    return digest.hexdigest()[:24]


def to_litert(model) -> bytes:
    """The Keras ``model`` (inference mode: augmentation and dropout off) as a LiteRT flatbuffer."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    # the converter's log ("Ignored output_format.", "Reading SavedModel from ...") is hidden by
    # TF_CPP_MIN_LOG_LEVEL=3, which env.quiet_tensorflow sets (tests/test_patches.py shows it)
    return tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model).convert()


class LiteRTRunner:
    """A Keras classifier run by the LiteRT interpreter: ``runner(x)`` gives the model's outputs for
    the float32 batch ``x``.

    The conversion (2-3 s) is cached in ``<data dir>/litert/<key>.tflite`` when ``cache_key``
    (:func:`litert_cache_key` of the model file) is given.
    """

    def __init__(self, model, cache_key: str | None = None, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        from .patches import litert_notice_filtered

        content = None
        cached = None
        if cache_key:
            from .download import default_data_dir

            cached = default_data_dir() / "litert" / f"{cache_key}.tflite"
            if cached.is_file():
                content = cached.read_bytes()
        if content is None:
            content = to_litert(model)
            if cached is not None:
                try:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cached.with_suffix(f".{os.getpid()}.part")
                    tmp.write_bytes(content)
                    os.replace(tmp, cached)
                except OSError:  # a read-only data folder: convert again next time
                    cached = None
        self.cached = cached
        with litert_notice_filtered():  # the first allocate_tensors prints "INFO: Created ... XNNPACK delegate"
            self._it = Interpreter(model_content=content, num_threads=num_threads or min(2, os.cpu_count() or 1))
            self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        self._out = self._it.get_output_details()[0]["index"]
        self._shape = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        if x.shape != self._shape:
            self._it.resize_tensor_input(self._in, list(x.shape))
            self._it.allocate_tensors()
            self._shape = x.shape
        self._it.set_tensor(self._in, x)
        self._it.invoke()
        return self._it.get_tensor(self._out).copy()
