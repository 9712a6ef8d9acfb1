"""The transfer emotion network (issue 32) as a plain Keras model: dlib's face-recognition ResNet body
fine-tuned on FER2013 (``scripts/train_emotion_transfer.py``, trained in PyTorch) with a 7-way head.

The Keras network takes the course's emotion input, ``(N, 48, 48, 1)`` grey faces in ``[0, 1]``
(:func:`course_utils.classify.to_input`), so lesson 04, hw1 and the demos use it like the CNN it
replaces.  Inside, in standard Keras layers only (no ``Lambda``, no custom layer: the file loads on
any Keras 3, and :mod:`course_utils.keras_compat` can rebuild it with :func:`build_model`):

1. ``Rescaling(255/256)`` and ``Resizing(size)`` (bilinear, half-pixel centres: PyTorch's
   ``interpolate(..., align_corners=False)`` that the training used);
2. the stem convolution with the grey channel folded in: dlib's network takes RGB minus a mean per
   channel, divided by 256; a grey face copied into three channels gives the same result as one
   channel through the kernel summed over the colour axis, with the means moved into the bias (exact:
   the stem is unpadded);
3. every dlib ``affine_`` layer (batch norm folded by dlib) folded into its convolution's kernel and bias;
4. dlib's shortcuts: a 2x2 average pooling where the block downsamples, the extra channels made by a
   fixed 1x1 convolution ``[I 0]`` and the extra row and column by zero padding (dlib's ``add_prev``
   pads both branches to the larger shape, top-left aligned);
5. global average pooling and a softmax ``Dense`` head;
6. with ``flip_average``, the network is run on the face and on its mirror image (a fixed width
   reversal: ``Permute`` and a ``Dense`` holding the reversal matrix) and the probabilities averaged,
   the test-time augmentation the benchmark measures.

The equality of this network and the PyTorch one is tested on random weights
(``tests/test_emotion_resnet.py``).
"""
from __future__ import annotations

import numpy as np

from . import model_files

#: dlib's residual blocks, input side first: (filters, downsamples) of each.
BLOCKS = ((32, False),) * 3 + ((64, True),) + ((64, False),) * 3 + ((128, True),) + ((128, False),) * 2 \
    + ((256, True),) + ((256, False),) * 2 + ((256, True),)
#: The side the network sees: FER2013's 48 px faces are scaled up to it (the smallest input that dlib's
#: unpadded stride-2 convolutions accept is about 120 px).
SIZE = 120
INPUT_SIZE = 48


def _out(n: int, k: int, stride: int, pad: int) -> int:
    return (n + 2 * pad - k) // stride + 1


def build_model(num_classes: int = 7, input_size: int = INPUT_SIZE, size: int = SIZE, flip_average: bool = True):
    """The network with untrained weights (:func:`set_weights` fills them); see the module docstring.

    One flat graph (no nested model, so :mod:`course_utils.keras_compat` reads its layers as saved): with
    ``flip_average`` the same layers run on the face and on its mirror image."""
    keras = model_files.import_keras()
    layers = keras.layers

    face = keras.Input((input_size, input_size, 1), name="face")
    body = _Body(keras, num_classes, size)
    if not flip_average:
        return keras.Model(face, body(face), name="emotion_resnet")
    mirrored = layers.Permute((1, 3, 2), name="to_width_last")(face)
    mirrored = layers.Dense(input_size, use_bias=False, trainable=False, name="mirror",
                            kernel_initializer=keras.initializers.Constant(np.eye(input_size)[::-1]))(mirrored)
    mirrored = layers.Permute((1, 3, 2), name="from_width_last")(mirrored)
    out = layers.Average(name="flip_average")([body(face), body(mirrored)])
    return keras.Model(face, out, name="emotion_resnet_tta")


class _Body:
    """dlib's ResNet and the head as layer objects made once; calling it on a tensor applies them (twice for
    the mirror average: shared weights)."""

    def __init__(self, keras, num_classes: int, size: int):
        layers = keras.layers
        self.scale = layers.Rescaling(255.0 / 256.0, name="to_dlib_scale")
        self.resize = layers.Resizing(size, size, interpolation="bilinear", name="upscale")
        self.stem = layers.Conv2D(32, 7, strides=2, padding="valid", name="stem")
        self.stem_relu = layers.ReLU(name="stem_relu")
        self.stem_pool = layers.MaxPooling2D(3, 2, padding="valid", name="stem_pool")
        self.blocks, n, channels = [], _out(_out(size, 7, 2, 0), 3, 2, 0), 32
        for j, (filters, down) in enumerate(BLOCKS):
            block = {"conv1": layers.Conv2D(filters, 3, strides=2 if down else 1, padding="valid" if down else "same",
                                            name=f"b{j}_conv1"),
                     "relu1": layers.ReLU(name=f"b{j}_relu1"),
                     "conv2": layers.Conv2D(filters, 3, padding="same", name=f"b{j}_conv2"),
                     "add": layers.Add(name=f"b{j}_add"), "out": layers.ReLU(name=f"b{j}_out")}
            ny, nx = (_out(n, 3, 2, 0), n // 2) if down else (n, n)
            if down:
                block["pool"] = layers.AveragePooling2D(2, 2, padding="valid", name=f"b{j}_pool")
            if channels != filters:
                block["widen"] = layers.Conv2D(filters, 1, use_bias=False, trainable=False, name=f"b{j}_widen",
                                               kernel_initializer=keras.initializers.Constant(
                                                   np.eye(channels, filters, dtype=np.float32).reshape(
                                                       1, 1, channels, filters)))
            side = max(nx, ny)
            if nx < side:
                block["pad_short"] = layers.ZeroPadding2D(((0, side - nx), (0, side - nx)), name=f"b{j}_pad_short")
            if ny < side:
                block["pad"] = layers.ZeroPadding2D(((0, side - ny), (0, side - ny)), name=f"b{j}_pad")
            self.blocks.append(block)
            n, channels = side, filters
        self.pool = layers.GlobalAveragePooling2D(name="pool")
        self.head = layers.Dense(num_classes, activation="softmax", name="emotion")

    def __call__(self, x):
        x = self.stem_pool(self.stem_relu(self.stem(self.resize(self.scale(x)))))
        for b in self.blocks:
            y = b["conv2"](b["relu1"](b["conv1"](x)))
            for key in ("pool", "widen", "pad_short"):
                x = b[key](x) if key in b else x
            y = b["pad"](y) if "pad" in b else y
            x = b["out"](b["add"]([x, y]))
        return self.head(self.pool(x))


def set_weights(model, convs, affines, mean_rgb, head_weight, head_bias) -> None:
    """Fill :func:`build_model`'s network from the PyTorch one's arrays.

    ``convs``: 29 ``(weight OIHW, bias)`` pairs in dlib's file order (stem first); ``affines``: their
    29 ``(gamma, beta)``; ``mean_rgb``: dlib's input means; ``head_weight`` ``(classes, 256)`` and
    ``head_bias``: the PyTorch ``Linear`` head."""
    if len(convs) != 1 + 2 * len(BLOCKS) or len(affines) != len(convs):
        raise ValueError(f"expected {1 + 2 * len(BLOCKS)} convolutions and affine layers, got {len(convs)}, "
                         f"{len(affines)}")
    names = ["stem"] + [f"b{j}_conv{k}" for j in range(len(BLOCKS)) for k in (1, 2)]
    for i, (name, (w, b), (gamma, beta)) in enumerate(zip(names, convs, affines)):
        w = np.asarray(w, np.float64) * np.asarray(gamma, np.float64)[:, None, None, None]
        b = np.asarray(b, np.float64) * gamma + beta
        if i == 0:  # grey copied into RGB, minus the channel means: one input channel, the means in the bias
            b = b - np.einsum("oihw,i->o", w, np.asarray(mean_rgb, np.float64)) / 256.0
            w = w.sum(axis=1, keepdims=True)
        model.get_layer(name).set_weights([w.transpose(2, 3, 1, 0).astype(np.float32), b.astype(np.float32)])
    model.get_layer("emotion").set_weights([np.asarray(head_weight, np.float32).T,
                                           np.asarray(head_bias, np.float32)])
