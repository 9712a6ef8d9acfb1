"""Landmarks, alignment and head pose: milliseconds per face on this CPU.

    .venv/bin/python benchmarks/landmarks.py [--repeats 200]

Detection is done once beforehand and excluded.  Kazemi & Sullivan (CVPR 2014) report about one
millisecond per face for 68-point ERT; the course's targets are ERT <= 2 ms and alignment <= 1 ms
per face.  Prints raw dlib (the predictor call alone) beside cu.detect_landmarks (which adds input
checks and the conversion to a NumPy array).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import course_utils as cu  # noqa: E402
from course_utils import landmarks as lm  # noqa: E402


def ms_per_call(fn, repeats: int, rounds: int = 5) -> float:
    fn()
    per_round = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        per_round.append((time.perf_counter() - start) / repeats * 1000)
    return statistics.median(per_round)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    cu.setup(verbose=False)
    import dlib

    faces = []  # (image, Face) for every face of the samples
    for name in ("astronaut", "grace_hopper", "group", "portrait_640"):
        img = cu.load_sample(name)
        faces += [(img, f) for f in cu.detect_faces(img)]
    print(f"{len(faces)} faces from the sample images; median of 5 rounds x {args.repeats} calls per face\n")
    pred68, pred5 = lm._predictor(68), lm._predictor(5)
    rects = [dlib.rectangle(*(int(round(v)) for v in f.box)) for _, f in faces]
    points = [lm.detect_landmarks(img, f) for img, f in faces]
    rows = []

    def each(fn):
        return lambda: [fn(i) for i in range(len(faces))]

    n = len(faces)
    rows.append(("68-point ERT, raw dlib predictor", ms_per_call(each(lambda i: pred68(faces[i][0], rects[i])), args.repeats) / n, 2.0))
    rows.append(("68-point ERT, cu.detect_landmarks", ms_per_call(each(lambda i: lm.detect_landmarks(*faces[i])), args.repeats) / n, 2.0))
    rows.append(("5-point ERT, raw dlib predictor", ms_per_call(each(lambda i: pred5(faces[i][0], rects[i])), args.repeats) / n, None))
    rows.append(("5-point alignment, cu.align_face 160", ms_per_call(each(lambda i: cu.align_face(*faces[i])), args.repeats) / n, 1.0))
    rows.append(("5-point alignment, cu.align_face 112", ms_per_call(each(lambda i: cu.align_face(*faces[i], template="arcface")), args.repeats) / n, 1.0))
    rows.append(("head pose, cu.estimate_head_pose", ms_per_call(each(lambda i: cu.estimate_head_pose(points[i], faces[i][0].shape)), args.repeats) / n, None))
    print(f"{'step':40s} {'ms/face':>8s} {'target':>8s}")
    for name, ms, target in rows:
        verdict = "" if target is None else ("  ok" if ms <= target else "  OVER")
        tgt = "" if target is None else f"<= {target:g}"
        print(f"{name:40s} {ms:8.3f} {tgt:>8s}{verdict}")
    print("\npaper (Kazemi & Sullivan 2014): ~1 ms per face for 68 landmarks (C++, 2014 CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
