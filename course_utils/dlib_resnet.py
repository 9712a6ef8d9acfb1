"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) run by PyTorch.

Why: the dlib wheels on PyPI (``dlib-bin``) are built without a BLAS library, so dlib's own
``compute_face_descriptor`` spends about 140 ms per face on the course's 2-core CPU. The same network
with the same weights, read here straight from dlib's model file, runs in PyTorch about ten times faster
and in batches; the descriptors match dlib's to within 1e-6 (``tests/test_dlib_resnet.py`` compares
them to 1e-4).

The network (dlib's ``dnn_face_recognition_ex.cpp``): a 7x7/2 convolution with 32 filters, 3x3/2
max-pooling, then 14 residual blocks of two 3x3 convolutions (widths 32, 64, 128, 256; four of them
downsample with a stride-2 convolution and a 2x2 average pooling on the shortcut, whose extra channels
and rows are zero), global average pooling and a 128-D linear layer without bias. Batch norm is folded
into per-channel "affine" layers. Input: a 150x150 RGB chip, ``(pixel - channel mean) / 256``.

The file format is dlib's serialisation: a layer's name as a length-prefixed string, integers as one
control byte (length in the low four bits, 0x80 for negative) plus little-endian bytes, and tensors as
a version (2), four dimensions and raw little-endian float32 values.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["DlibFormatError", "DlibResNetWeights", "read_weights", "build_network"]


class DlibFormatError(ValueError):
    """The file is not the dlib face-recognition ResNet this module knows how to read."""


_LAYER = re.compile(rb"\x01([\x04-\x15])(con_4|affine_|relu_|max_pool_2|avg_pool_2|add_prev_|fc_2|"
                    rb"input_rgb_image_sized)")


@dataclass
class DlibResNetWeights:
    """Everything the PyTorch network needs, in the file's order (input side first)."""

    mean_rgb: tuple[float, float, float]
    chip_size: int
    #: (weight OIHW, bias, stride, padding) per convolution.
    convs: list[tuple[np.ndarray, np.ndarray, int, int]] = field(default_factory=list)
    #: (gamma, beta) per affine layer.
    affines: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    #: The layer names in file order, as dlib writes them (``"con_4"``, ``"affine_"``, ``"relu_"``, ...).
    layers: list[str] = field(default_factory=list)
    fc: np.ndarray | None = None  # (128, 256), PyTorch's Linear layout


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise DlibFormatError("the file ends inside a layer: it is truncated")
        c = self.data[self.pos]
        n = c & 0x0F
        if n > 8 or self.pos + 1 + n > len(self.data):
            raise DlibFormatError(f"bad integer at byte {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + n], "little")
        self.pos += 1 + n
        return -value if c & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(np.ldexp(float(mantissa), exponent))

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibFormatError(f"tensor version {version} at byte {self.pos} (expected 2)")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise DlibFormatError("the file ends inside a tensor: it is truncated")
        values = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32).reshape(shape)
        self.pos = end
        return values


def read_weights(path: str | Path) -> DlibResNetWeights:
    """Read the weights of dlib's face-recognition ResNet from its ``.dat`` file.

    Raises:
        DlibFormatError: the file is truncated, is another dlib network, or is not a dlib file.
    """
    r = _Reader(Path(path).read_bytes())
    mean, size = None, None
    convs, affines, layers, fc = [], [], [], None
    while True:
        m = _LAYER.search(r.data, r.pos)
        if m is None:
            break
        if int(m.group(1)[0]) != len(m.group(2)):
            r.pos = m.start() + 1
            continue
        r.pos = m.end()
        name = m.group(2).decode()
        if name == "input_rgb_image_sized":
            mean = (r.float(), r.float(), r.float())
            size = r.int()
            if r.int() != size:
                raise DlibFormatError("the input layer is not square")
        elif name == "con_4":
            params = r.tensor().ravel()
            n_filters, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
            if nr != nc or sy != sx or py != px:
                raise DlibFormatError("only square kernels, strides and paddings are supported")
            if n_filters <= 0 or nr <= 0 or sy <= 0 or py < 0:
                raise DlibFormatError(f"convolution {len(convs)}: impossible sizes")
            n_weights = params.size - n_filters
            k = n_weights // (n_filters * nr * nc)
            if k * n_filters * nr * nc != n_weights:
                raise DlibFormatError(f"convolution {len(convs)}: {params.size} values do not fit {n_filters} "
                                      f"filters of {nr}x{nc}")
            convs.append((params[:n_weights].reshape(n_filters, k, nr, nc), params[n_weights:], sy, py))
        elif name == "affine_":
            params = r.tensor().ravel()
            half = params.size // 2
            affines.append((params[:half], params[half:]))
        elif name == "fc_2":
            n_out, n_in = r.int(), r.int()
            params = r.tensor().ravel()
            if params.size != n_in * n_out:
                raise DlibFormatError("expected a fully connected layer without bias")
            fc = params.reshape(n_in, n_out).T.copy()
        layers.append(name)
    if mean is None or fc is None or len(convs) != 29 or len(affines) != 29:
        raise DlibFormatError(f"{path} is not dlib's face-recognition ResNet (found {len(convs)} convolutions, "
                              f"{len(affines)} affine layers, {'a' if fc is not None else 'no'} final layer)")
    return DlibResNetWeights(mean, size, convs, affines, layers, fc)


def _conv(weights: DlibResNetWeights, i: int) -> nn.Conv2d:
    w, b, stride, pad = weights.convs[i]
    layer = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], stride=stride, padding=pad)
    layer.weight.data = torch.from_numpy(w)
    layer.bias.data = torch.from_numpy(b)
    return layer


class Affine(nn.Module):
    """dlib's ``affine_`` layer: batch norm folded into a per-channel scale and shift."""

    def __init__(self, gamma: np.ndarray, beta: np.ndarray):
        super().__init__()
        self.register_buffer("gamma", torch.from_numpy(gamma).view(1, -1, 1, 1))
        self.register_buffer("beta", torch.from_numpy(beta).view(1, -1, 1, 1))

    def forward(self, x):
        return x * self.gamma + self.beta


class Block(nn.Module):
    """A residual block: two 3x3 convolutions (``i`` and ``i + 1`` in file order), the shortcut
    average-pooled when ``down``."""

    def __init__(self, weights: DlibResNetWeights, i: int, down: bool):
        super().__init__()
        self.conv1, self.aff1 = _conv(weights, i), Affine(*weights.affines[i])
        self.conv2, self.aff2 = _conv(weights, i + 1), Affine(*weights.affines[i + 1])
        self.down = down

    def forward(self, x):
        y = self.aff2(self.conv2(F.relu(self.aff1(self.conv1(x)))))
        if self.down:
            x = F.avg_pool2d(x, 2, 2)
        if x.shape != y.shape:  # dlib's add_prev: zero-pad both to the larger shape, top-left aligned
            c, h, w = (max(a, b) for a, b in zip(x.shape[1:], y.shape[1:]))
            x = F.pad(x, (0, w - x.shape[3], 0, h - x.shape[2], 0, c - x.shape[1]))
            y = F.pad(y, (0, w - y.shape[3], 0, h - y.shape[2], 0, c - y.shape[1]))
        return F.relu(x + y)


class DlibResNet(nn.Module):
    """dlib's face-recognition ResNet with the weights of a :class:`DlibResNetWeights`."""

    def __init__(self, weights: DlibResNetWeights):
        super().__init__()
        mean = torch.tensor(weights.mean_rgb, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("mean", mean)
        self.stem, self.stem_aff = _conv(weights, 0), Affine(*weights.affines[0])
        # Residual blocks from the input side: 3 x 32, (down) 4 x 64, (down) 3 x 128, (down) 3 x 256,
        # (down) 1 x 256 -- the convolution pairs 1-2, 3-4, ... in file order.
        downs = [False] * 3 + [True] + [False] * 3 + [True] + [False] * 2 + [True] + [False] * 2 + [True]
        self.blocks = nn.Sequential(*(Block(weights, 1 + 2 * j, d) for j, d in enumerate(downs)))
        self.fc = nn.Linear(weights.fc.shape[1], weights.fc.shape[0], bias=False)
        self.fc.weight.data = torch.from_numpy(weights.fc)

    def forward(self, x):
        x = (x - self.mean) / 256.0
        x = F.max_pool2d(F.relu(self.stem_aff(self.stem(x))), 3, 2)
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))


def build_network(weights: DlibResNetWeights) -> DlibResNet:
    """A ``torch.nn.Module`` (eval mode) mapping ``(N, 3, 150, 150)`` float RGB chips in 0-255 to
    ``(N, 128)`` descriptors, identical in function to dlib's network."""
    _check_strides(weights)
    return DlibResNet(weights).eval()


def _check_strides(weights: DlibResNetWeights) -> None:
    strides = [c[2] for c in weights.convs]
    expected = [2] + [1] * 6 + [2, 1] + [1] * 6 + [2, 1] + [1] * 4 + [2, 1] + [1] * 4 + [2, 1]
    if strides != expected:
        raise DlibFormatError(f"unexpected layer strides {strides}: not dlib's face-recognition ResNet")
