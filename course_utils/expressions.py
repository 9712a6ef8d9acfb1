"""Drawn cartoon faces with seven expressions: lesson 04's offline stand-in for FER2013.

    x, y = cu.emotion.synthetic_expressions(100, seed=0)   # uint8 (700, 48, 48), labels in EMOTIONS order
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .datasets.fer2013 import FER2013_LABELS as EMOTIONS
from .datasets.fer2013 import FER2013_SIZE as INPUT_SIZE


#: How each synthetic expression is drawn: eye opening, brow raise and inner-end tilt (pixels on a
#: 96-pixel canvas; + is up), mouth curvature (+ corners up), mouth opening and width.  Ranges overlap
#: between neighbouring classes so that the task is not trivial.
_EXPRESSIONS = {
    "angry":    dict(eye=(1.8, 3.0), brow=(-4, -1), tilt=(-7, -4), curve=(-2, 1), open=(0, 0), width=(9, 13)),
    "disgust":  dict(eye=(1.2, 2.4), brow=(-3, 0), tilt=(-3, 0), curve=(-3, 2), open=(0, 0), width=(11, 15)),
    "fear":     dict(eye=(4.5, 6.5), brow=(3, 6), tilt=(3, 6), curve=(-5, -2), open=(3, 6), width=(13, 17)),
    "happy":    dict(eye=(1.0, 2.5), brow=(0, 2), tilt=(-1, 1), curve=(5, 9), open=(0, 4), width=(13, 17)),
    "sad":      dict(eye=(2.0, 3.5), brow=(-1, 2), tilt=(3, 6), curve=(-8, -4), open=(0, 0), width=(10, 14)),
    "surprise": dict(eye=(5.0, 7.0), brow=(5, 9), tilt=(-1, 1), curve=(-1, 1), open=(6, 10), width=(6, 9)),
    "neutral":  dict(eye=(2.8, 4.2), brow=(-1, 1), tilt=(-1, 1), curve=(-1, 1), open=(0, 0), width=(11, 15)),
}


def synthetic_expressions(n_per_class: int = 100, seed: int = 0, size: int = INPUT_SIZE,
                          classes: Sequence[str] = EMOTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Drawn cartoon faces, one of seven expressions each: the lesson's **stand-in** for FER2013.

    Brows, eyes and mouth follow simple rules (surprise: raised brows, wide eyes, open round mouth;
    angry: brows down towards the nose; sad: inner brows up, mouth corners down; disgust: a wrinkled
    nose and a raised lip on one side ...), with random face shape, position, rotation, lighting,
    glasses, blur and noise.  A small CNN learns it in seconds on a CPU, so the lesson and the
    homework can train offline; it says nothing about real faces.

    Returns:
        ``(x, y)``: uint8 (N, size, size) gray faces and int64 labels (indices into :data:`EMOTIONS`),
        shuffled; the same ``seed`` gives the same data.
    """
    import cv2

    unknown = [c for c in classes if c not in _EXPRESSIONS]
    if unknown:
        raise ValueError(f"unknown expression(s) {unknown}; choose from {EMOTIONS}")
    rng = np.random.default_rng(seed)
    labels = np.repeat([EMOTIONS.index(c) for c in classes], n_per_class)
    rng.shuffle(labels)
    x = np.empty((len(labels), size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
        x[i] = cv2.resize(_draw_expression(EMOTIONS[label], rng), (size, size), interpolation=cv2.INTER_AREA)
    return x, labels.astype(np.int64)


def _draw_expression(name: str, rng: np.random.Generator, side: int = 96) -> np.ndarray:
    import cv2

    p = {k: rng.uniform(*v) for k, v in _EXPRESSIONS[name].items()}
    u = lambda a, b: rng.uniform(a, b)  # noqa: E731
    bg = u(20, 110)
    img = np.full((side, side), bg, np.float32)
    img += np.linspace(-1, 1, side)[None, :] * u(-25, 25)  # uneven light
    cx, cy = side / 2 + u(-4, 4), side / 2 + u(-2, 4)
    skin, ink = u(140, 215), u(20, 60)
    cv2.ellipse(img, (round(cx), round(cy)), (round(u(29, 35)), round(u(37, 43))), 0, 0, 360, skin, -1,
                cv2.LINE_AA)
    ey, ex = cy - u(8, 12), u(11, 15)
    for sgn in (-1, 1):  # eyes, brows (inner end = towards the nose)
        eye_x = cx + sgn * ex
        cv2.ellipse(img, (round(eye_x), round(ey)), (round(u(4.5, 6)), max(1, round(p["eye"]))), 0, 0, 360,
                    ink, -1, cv2.LINE_AA)
        by = ey - 8 - p["brow"]
        lift = p["tilt"] if not (name == "disgust" and sgn > 0) else p["tilt"] + 2
        inner, outer = (eye_x - sgn * 6, by - lift / 2), (eye_x + sgn * 7, by + lift / 2)
        cv2.line(img, (round(inner[0]), round(inner[1])), (round(outer[0]), round(outer[1])), ink,
                 int(rng.integers(2, 4)), cv2.LINE_AA)
    nose_y = cy + u(4, 8)
    cv2.line(img, (round(cx), round(ey + 4)), (round(cx + u(-2, 2)), round(nose_y)), ink * 1.6, 1, cv2.LINE_AA)
    if name == "disgust":  # wrinkles beside the nose
        for k in (-1, 1):
            x0 = cx + k * 5
            cv2.line(img, (round(x0), round(nose_y - 6)), (round(x0 + k * 3), round(nose_y - 1)), ink, 1, cv2.LINE_AA)
    my, w = cy + u(17, 21), p["width"]
    xs = np.linspace(-w, w, 21)
    ys = my - p["curve"] * (xs / w) ** 2
    if name == "disgust":  # one corner raised: a sneer
        side_sign = rng.choice([-1, 1])
        ys -= np.clip(side_sign * xs / w, 0, None) * u(3, 6)
    if p["open"] >= 1:
        top = np.stack([xs + cx, ys - p["open"] / 2], 1)
        bottom = np.stack([xs[::-1] + cx, ys[::-1] + p["open"] / 2 * (1 - (xs[::-1] / w) ** 2 * 0.6)], 1)
        cv2.fillPoly(img, [np.round(np.concatenate([top, bottom])).astype(np.int32)], ink, cv2.LINE_AA)
    else:
        pts = np.round(np.stack([xs + cx, ys], 1)).astype(np.int32)
        cv2.polylines(img, [pts], False, ink, int(rng.integers(2, 4)), cv2.LINE_AA)
    if rng.random() < 0.25:  # glasses, on any class
        for sgn in (-1, 1):
            cv2.circle(img, (round(cx + sgn * ex), round(ey)), 8, ink, 1, cv2.LINE_AA)
        cv2.line(img, (round(cx - ex + 8), round(ey)), (round(cx + ex - 8), round(ey)), ink, 1, cv2.LINE_AA)
    m = cv2.getRotationMatrix2D((cx, cy), u(-12, 12), u(0.88, 1.12))
    m[:, 2] += (u(-4, 4), u(-4, 4))
    img = cv2.warpAffine(img, m, (side, side), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    img = cv2.GaussianBlur(img, (0, 0), u(0.3, 1.5))
    img = (img - 128) * u(0.7, 1.2) + 128 + u(-25, 25) + rng.normal(0, u(2, 12), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)
