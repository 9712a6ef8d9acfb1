"""Detection speed: raw packages against course_utils.detect_faces, on the same images.

    .venv/bin/python benchmarks/detection.py [--rounds 5]

Prints images per second for raw ``mtcnn.MTCNN.detect_faces``, raw ``facenet_pytorch.MTCNN.detect``
and ``course_utils.detect_faces`` for each backend (single images and batched), then the ratios the
course targets: the library adds at most 5 % over the raw backend it wraps, and batched facenet is
faster per image than sequential calls.  Speeds are medians of ``--rounds`` rounds; ratios are
medians of back-to-back pairs, so that the machine's drifts cancel.
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

import numpy as np  # noqa: E402

import course_utils as cu  # noqa: E402


def test_images() -> dict[str, np.ndarray]:
    """About 640x480 and 1280x720, with one face and with several."""
    import cv2

    group = cu.load_sample("group")
    one_720 = np.full((720, 1280, 3), 140, np.uint8)
    one_720[104:616, 384:896] = cu.load_sample("astronaut")
    return {
        "640x480, 1 face": cu.load_sample("portrait_640"),
        "640x360, 4 faces": cv2.resize(group, (640, 360), interpolation=cv2.INTER_AREA),
        "1280x720, 1 face": one_720,
        "1280x720, 4 faces": group,
    }


def paired_ratio(fn_a, fn_b, rounds: int) -> float:
    """Median over rounds of time(fn_a) / time(fn_b), the two run back to back in each round, so
    that drifts of the machine's speed (other processes, clock) cancel out of the ratio."""
    fn_a(), fn_b()
    ratios = []
    for i in range(rounds):
        pair = []
        for fn in ((fn_a, fn_b) if i % 2 == 0 else (fn_b, fn_a)):
            start = time.perf_counter()
            fn()
            pair.append(time.perf_counter() - start)
        ta, tb = pair if i % 2 == 0 else pair[::-1]
        ratios.append(ta / tb)
    return statistics.median(ratios)


def median_seconds(fn, rounds: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8, help="images per batch for the batched runs")
    args = parser.parse_args()

    cu.setup(verbose=False)
    import torch
    from facenet_pytorch import MTCNN as FacenetMTCNN
    from mtcnn import MTCNN as IpazcMTCNN

    torch.set_num_threads(os.cpu_count() or 1)
    raw_mtcnn = IpazcMTCNN(device="CPU:0")
    raw_facenet = FacenetMTCNN(keep_all=True, device="cpu")
    images = test_images()
    print(f"CPU threads: {torch.get_num_threads()}, rounds: {args.rounds} (median), batch: {args.batch}")
    header = f"{'image':18s} {'method':34s} {'img/s':>7s} {'ms/img':>8s} {'faces':>5s}"
    print(header)
    print("-" * len(header))
    ratios = []
    for label, img in images.items():
        runs = {
            "raw mtcnn.MTCNN.detect_faces": (lambda: raw_mtcnn.detect_faces(img), None),
            "cu.detect_faces(backend='mtcnn')": (lambda: cu.detect_faces(img, "mtcnn"), "raw mtcnn.MTCNN.detect_faces"),
            "raw facenet_pytorch.MTCNN.detect": (lambda: raw_facenet.detect(img, landmarks=True), None),
            "cu.detect_faces(backend='facenet')": (lambda: cu.detect_faces(img, "facenet"),
                                                   "raw facenet_pytorch.MTCNN.detect"),
            "cu.detect_faces(backend='haar')": (lambda: cu.detect_faces(img, "haar"), None),
            "cu.detect_faces(backend='hog')": (lambda: cu.detect_faces(img, "hog"), None),
        }
        secs = {}
        for name, (fn, _) in runs.items():
            secs[name] = median_seconds(fn, args.rounds)
        n_faces = {name: len(cu.detect_faces(img, b)) for name, b in
                   [("mtcnn", "mtcnn"), ("facenet", "facenet"), ("haar", "haar"), ("hog", "hog")]}
        for name, s in secs.items():
            backend = next((b for b in ("haar", "hog", "facenet") if b in name), "mtcnn")
            print(f"{label:18s} {name:34s} {1 / s:7.2f} {1000 * s:8.1f} {n_faces[backend]:5d}")
        for name, (fn, raw) in runs.items():
            if raw:
                ratios.append((label, name, paired_ratio(fn, runs[raw][0], 2 * args.rounds + 1)))
        # batched against sequential, per image
        batch = [img] * args.batch
        for backend in ("facenet", "mtcnn"):
            run_seq = lambda: [cu.detect_faces(im, backend) for im in batch]  # noqa: E731
            run_bat = lambda: cu.detect_faces(batch, backend)  # noqa: E731
            seq = median_seconds(run_seq, max(2, args.rounds // 2))
            bat = median_seconds(run_bat, max(2, args.rounds // 2))
            print(f"{label:18s} {backend + ' sequential x' + str(args.batch):34s} {args.batch / seq:7.2f} "
                  f"{1000 * seq / args.batch:8.1f}")
            print(f"{label:18s} {backend + ' batched x' + str(args.batch):34s} {args.batch / bat:7.2f} "
                  f"{1000 * bat / args.batch:8.1f}")
            ratios.append((label, f"{backend} batched / sequential (per image)",
                           paired_ratio(run_bat, run_seq, max(3, args.rounds // 2))))
    print("\nratios: median over rounds of paired, back-to-back runs (time of the first / time of the second)")
    for label, what, r in ratios:
        if "batched" in what:
            verdict = "batched faster" if r < 1 else "batched NOT faster"
            print(f"{label:18s} {what:45s} {r:5.2f}  {verdict}")
        else:
            verdict = "within 5 %" if r <= 1.05 else "OVER 5 %"
            print(f"{label:18s} {what + ' / raw':45s} {r:5.2f}  overhead {100 * (r - 1):+5.1f} %  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
