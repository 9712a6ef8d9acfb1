"""Efficient face-recognition networks (lesson 06): what EFaR 2023 ranks on, measured here.

EFaR 2023 (the Efficient Face Recognition Competition at IJCB 2023; 17 submissions from 6 teams) ranked
solutions by a weighted score of verification accuracy over several benchmarks *and* deployability:
floating-point operations and model size.  This module builds three networks and measures those axes
on this CPU, beside the figures their papers report:

* InceptionResnetV1 (FaceNet as ported by facenet-pytorch), 160x160 input;
* ShuffleNet V2 1.0x (torchvision), channel split and shuffle, here with a 128-D embedding head, 112x112;
* a MobileFaceNet built in code (Chen et al., 2018: inverted residual bottlenecks and a global
  depthwise convolution instead of global pooling), 112x112, and a MixFaceNet-style variant whose
  depthwise convolutions mix 3x3, 5x5 and 7x7 kernels (MixConv, as in Boutros et al., 2021).

No weights are needed: parameters, operations and latency do not depend on them.  MACs are counted with
``torch.utils.flop_counter`` (FLOPs / 2); papers in this field report multiply-adds as "FLOPs".
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

#: Figures the papers report (parameters in millions, MFLOPs as multiply-adds, LFW accuracy, input side).
REPORTED = {
    "InceptionResnetV1 (FaceNet)": {"params_m": None, "mflops": None, "lfw": 0.9965, "input": 160,
                                    "source": "facenet-pytorch README (VGGFace2 weights)"},
    "ShuffleNet V2 1.0x": {"params_m": 2.3, "mflops": 146, "lfw": None, "input": 224,
                           "source": "Ma et al., ECCV 2018 (ImageNet classifier, 224x224)"},
    "MobileFaceNet": {"params_m": 0.99, "mflops": 221, "lfw": 0.9955, "input": 112,
                      "source": "Chen et al., CCBR 2018"},
    "MixFaceNet-S": {"params_m": 3.07, "mflops": 451.7, "lfw": 0.9960, "input": 112,
                     "source": "Boutros et al., IJCB 2021"},
}


class ConvBN(nn.Sequential):
    """Convolution, batch norm and (unless ``act=False``) PReLU."""

    def __init__(self, cin, cout, k=1, s=1, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, s, k // 2 if isinstance(k, int) else 0, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.PReLU(cout))
        super().__init__(*layers)


class MixDepthwise(nn.Module):
    """Depthwise convolution whose channel groups use different kernel sizes (MixConv)."""

    def __init__(self, channels, stride, kernels=(3, 5, 7)):
        super().__init__()
        sizes = [channels // len(kernels)] * len(kernels)
        sizes[0] += channels - sum(sizes)
        self.sizes = sizes
        self.convs = nn.ModuleList(nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False)
                                   for c, k in zip(sizes, kernels))
        self.post = nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))

    def forward(self, x):
        parts = torch.split(x, self.sizes, dim=1)
        return self.post(torch.cat([conv(p) for conv, p in zip(self.convs, parts)], dim=1))


class Bottleneck(nn.Module):
    """MobileFaceNet's inverted residual bottleneck (MixConv depthwise layer when ``mix``)."""

    def __init__(self, cin, cout, stride, expansion, mix):
        super().__init__()
        hidden = cin * expansion
        dw = MixDepthwise(hidden, stride) if mix else ConvBN(hidden, hidden, 3, stride, groups=hidden)
        self.body = nn.Sequential(ConvBN(cin, hidden), dw, ConvBN(hidden, cout, act=False))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


def mobilefacenet(embedding: int = 128, mix: bool = False, width: float = 1.0):
    """MobileFaceNet (Chen et al., 2018) for 112x112 faces; ``mix=True`` gives MixConv depthwise layers
    (MixFaceNet-style) and ``width`` scales the channels.  Returns a ``torch.nn.Module``."""
    c = lambda n: max(8, int(round(n * width)))  # noqa: E731
    # (expansion, channels, repeats, first stride), the paper's Table 1
    setting = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]
    layers = [ConvBN(3, c(64), 3, 2), ConvBN(c(64), c(64), 3, 1, groups=c(64))]
    cin = c(64)
    for t, ch, n, s in setting:
        for i in range(n):
            layers.append(Bottleneck(cin, c(ch), s if i == 0 else 1, t, mix))
            cin = c(ch)
    layers += [ConvBN(cin, 512), ConvBN(512, 512, 7, 1, groups=512, act=False),  # global depthwise conv
               nn.Conv2d(512, embedding, 1, bias=False), nn.BatchNorm2d(embedding), nn.Flatten()]
    return nn.Sequential(*layers).eval()


def shufflenet_face(embedding: int = 128):
    """torchvision's ShuffleNet V2 1.0x with its classifier replaced by a ``embedding``-D head."""
    import torchvision

    net = torchvision.models.shufflenet_v2_x1_0(weights=None)
    net.fc = nn.Linear(net.fc.in_features, embedding)
    return net.eval()


def inception_resnet_v1():
    from facenet_pytorch import InceptionResnetV1

    return InceptionResnetV1(pretrained=None, classify=False).eval()


@dataclass
class ModelFigures:
    name: str
    params_m: float
    mmacs: float
    ms_cpu: float | None
    input: int


def count(model, input_size: int, latency_runs: int = 10) -> ModelFigures:
    """Parameters (millions), MMACs for one face, and median CPU latency at batch 1 (ms)."""
    import logging

    # Its import warns "triton not found" (a GPU compiler; the course is CPU only and uninstalls it).
    logging.getLogger("torch.utils.flop_counter").setLevel(logging.ERROR)
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 3, input_size, input_size)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:
            model(x)
        macs = counter.get_total_flops() / 2 / 1e6
        ms = None
        if latency_runs:
            model(x)
            times = []
            for _ in range(latency_runs):
                t = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - t) * 1000)
            ms = statistics.median(times)
    return ModelFigures(getattr(model, "_course_name", type(model).__name__), params, macs, ms, input_size)


def model_table(latency_runs: int = 10) -> list[tuple[str, ModelFigures, dict | None]]:
    """Measured figures of the four networks, each with the paper's figures (``None`` where the paper
    describes a different network)."""
    rows = [("InceptionResnetV1 (FaceNet)", inception_resnet_v1(), 160, REPORTED["InceptionResnetV1 (FaceNet)"]),
            ("ShuffleNet V2 1.0x", shufflenet_face(), 112, REPORTED["ShuffleNet V2 1.0x"]),
            ("MobileFaceNet", mobilefacenet(), 112, REPORTED["MobileFaceNet"]),
            ("MixFaceNet-style (MixConv 3/5/7)", mobilefacenet(mix=True, width=1.5), 112, REPORTED["MixFaceNet-S"])]
    out = []
    for name, model, size, paper in rows:
        fig = count(model, size, latency_runs)
        fig.name = name
        out.append((name, fig, paper))
    return out


def format_table(rows) -> str:
    """A plain-text table: measured here | reported by the paper."""
    head = (f"{'network':34s} {'input':>5s} {'params (M)':>10s} {'MMACs':>8s} {'ms CPU':>7s}   "
            f"{'paper: params':>13s} {'MFLOPs':>7s} {'LFW':>6s}")
    lines = [head, "-" * len(head)]
    for name, f, paper in rows:
        p = paper or {}
        fmt = lambda v, spec: format("-", f">{spec.split('.')[0]}") if v is None else format(v, spec)  # noqa: E731
        lines.append(f"{name:34s} {f.input:5d} {f.params_m:10.2f} {f.mmacs:8.0f} {fmt(f.ms_cpu, '7.1f')}   "
                     f"{fmt(p.get('params_m'), '13.2f')} {fmt(p.get('mflops'), '7.1f')} {fmt(p.get('lfw'), '6.4f')}")
    lines.append("paper rows: InceptionResnetV1 = facenet-pytorch's VGGFace2 model; ShuffleNet V2 = the ImageNet "
                 "classifier at 224x224; MixFaceNet-S is compared with the MixConv variant built here (not the same net).")
    return "\n".join(lines)
