"""Face detection: accuracy on the course's labelled set, and speed (raw packages against the library).

    .venv/bin/python benchmarks/detection.py [--rounds 5] [--per-kind 12] [--skip-speed] [--skip-accuracy]
                                             [--results benchmarks/detection_results.json]

Accuracy: every backend on :func:`course_utils.detection_set.build_set` (real LFW faces pasted at known
places into face-free scenes: portraits, crowds, small faces, faces cut by the frame, masked faces, tight
face crops, empty scenes; boxes known by construction).  A detection is a hit when its box overlaps a
labelled face box by IoU >= 0.5 (WIDER FACE's rule; :mod:`course_utils.detection_set` says how boxes are
matched and what the labelled boxes cover).  Prints recall, false faces per image, the share of images
whose face count is exact, the median IoU of the hits, the near misses (a box on a missed face, IoU < 0.5)
and ms per image, overall and per kind, and writes them with the date and the machine to ``--results``
(lesson 02 prints its table from that file; ``--results ''`` writes nothing).

Speed, on 4 images of 640x480 and on 8 LFW photos (250x250): the raw packages (``mtcnn.MTCNN.detect_faces``,
``facenet_pytorch.MTCNN.detect``) against ``cu.detect_faces``, one image at a time and as one batch.  The
course's targets: the library's batched call within 5 % of the raw batched call, and batches faster per image
than one call per image wherever the raw backend's batch is.  Speeds are medians of ``--rounds`` rounds;
ratios are medians of back-to-back pairs, so that the machine's drifts cancel.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import course_utils as cu  # noqa: E402
from course_utils import detection_set  # noqa: E402

#: The backends compared, with the settings the course uses them with.
SETTINGS = {
    "mtcnn": {"backend": "mtcnn"},
    "facenet": {"backend": "facenet"},
    "haar": {"backend": "haar"},
    "hog": {"backend": "hog"},
    "facenet 0.5/0.6/0.6 (mask pipeline)": {"backend": "facenet", "thresholds": (0.5, 0.6, 0.6)},
}


def median_seconds(fn, rounds: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_ratio(fn_a, fn_b, rounds: int) -> float:
    """Median over rounds of time(fn_a) / time(fn_b), the two run back to back in each round (in
    alternating order), so that drifts of the machine's speed cancel out of the ratio."""
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


#: Where lesson 02 reads the accuracy figures from.
RESULTS = Path(__file__).resolve().parent / "detection_results.json"


def machine() -> dict:
    """The machine the figures were measured on (no host name, no user)."""
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    load = round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None
    return {"cpu": cpu or platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "system": platform.system(), "python": platform.python_version(), "load_average_at_start": load}


def versions() -> dict:
    """The versions of the detectors' packages (the modules' own, for those imported under another name)."""
    from importlib import metadata

    out = {name: metadata.version(name) for name in ("mtcnn", "facenet-pytorch")}
    for module in ("cv2", "dlib", "tensorflow", "torch"):
        version = getattr(sys.modules.get(module), "__version__", None)
        if version is not None:
            out[module] = str(version)
    return out


def accuracy(per_kind: int, results: str) -> None:
    start = time.perf_counter()
    scenes = detection_set.build_set(per_kind=per_kind)
    n_faces = sum(len(s.boxes) for s in scenes)
    load = machine()["load_average_at_start"]
    print(f"labelled set: {len(scenes)} images, {n_faces} faces ({time.perf_counter() - start:.0f} s to build)")
    print(f"a hit: IoU >= {detection_set.IOU_THRESHOLD} with a labelled face box (best score first, one box per face)")
    header = (f"{'backend':38s} {'recall':>6s} {'false/img':>9s} {'exact':>6s} {'mIoU':>5s} {'near':>5s} "
              f"{'ms/img':>7s}   "
              + " ".join(f"{k:>8s}" for k in detection_set.KINDS))
    print(header + "\n" + "-" * len(header))
    images = [s.image for s in scenes]
    rows = {}
    for name, kw in SETTINGS.items():
        det = cu.get_detector(kw["backend"], thresholds=kw.get("thresholds"))
        cu.detect_faces(images[0], detector=det)
        t = time.perf_counter()
        found = [cu.detect_faces(im, detector=det) for im in images]
        ms = 1000 * (time.perf_counter() - t) / len(images)
        sc = detection_set.score(scenes, found)
        kinds = " ".join(f"{sc.per_kind[k].recall:8.2f}" if k != "empty" else f"{sc.per_kind[k].false:5d} fp"
                         for k in detection_set.KINDS)
        print(f"{name:38s} {sc.recall:6.3f} {sc.false_per_image:9.3f} {sc.exact_rate:6.3f} {sc.median_iou:5.2f} "
              f"{sc.near:5d} {ms:7.1f}   {kinds}")
        rows[name] = {
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()},
            "recall": round(sc.recall, 4), "false_per_image": round(sc.false_per_image, 4),
            "exact_count": round(sc.exact_rate, 4), "median_iou": round(sc.median_iou, 4), "near_misses": sc.near,
            "ms_per_image": round(ms, 1),
            "recall_per_kind": {k: round(sc.per_kind[k].recall, 4) for k in detection_set.KINDS if k != "empty"},
            "false_faces_per_kind": {k: sc.per_kind[k].false for k in detection_set.KINDS},
        }
    print("per kind: recall (empty: false faces on its images); mIoU: median IoU of the hits; "
          "near: boxes on a missed face with IoU < 0.5")
    if results:
        out = {
            "written_by": "benchmarks/detection.py",
            "date": datetime.date.today().isoformat(),
            "machine": machine() | {"load_average_at_start": load},
            "versions": versions(),
            "set": {"builder": "course_utils.detection_set.build_set", "seed": 0, "per_kind": per_kind,
                    "images": len(scenes), "faces": n_faces,
                    "faces_per_kind": {k: sum(len(s.boxes) for s in scenes if s.kind == k)
                                       for k in detection_set.KINDS}},
            "rule": ("a detection is a hit when its box and a labelled face box have IoU >= "
                     f"{detection_set.IOU_THRESHOLD}; "
                     "detections best score first, each taking the unmatched face it overlaps most"),
            "backends": rows,
        }
        Path(results).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"written: {cu.env.display_path(Path(results))}")


def speed(rounds: int) -> None:
    import cv2
    import torch
    from facenet_pytorch import MTCNN as FacenetMTCNN
    from mtcnn import MTCNN as IpazcMTCNN

    raw = {"mtcnn": IpazcMTCNN(device="CPU:0"), "facenet": FacenetMTCNN(keep_all=True, device="cpu")}
    raw_call = {"mtcnn": lambda ims: raw["mtcnn"].detect_faces(ims),
                "facenet": lambda ims: raw["facenet"].detect(ims, landmarks=True)}
    group = cu.load_sample("group")
    sets = {
        "4 x 640x480": [cv2.resize(group, (640, 480), interpolation=cv2.INTER_AREA), cu.load_sample("portrait_640")[:480],
                        cv2.resize(group[:, ::-1], (640, 480), interpolation=cv2.INTER_AREA),
                        np.ascontiguousarray(cu.load_sample("portrait_640")[:480, ::-1])],
        "8 x 250x250 LFW": [cu.load_image(p) for p in sorted(cu.real_samples("lfw_people").glob("*/*_0001.jpg"))[:8]],
    }
    print(f"\ntorch threads: {torch.get_num_threads()}, rounds: {rounds} (median)")
    header = f"{'images':16s} {'backend':8s} {'raw 1-by-1':>10s} {'raw batch':>10s} {'lib 1-by-1':>10s} {'lib batch':>10s}  (ms per image)"
    print(header + "\n" + "-" * len(header))
    ratios = []
    for label, ims in sets.items():
        ims = [np.ascontiguousarray(im) for im in ims]
        n = len(ims)
        for backend in ("facenet", "mtcnn"):
            runs = {
                "raw 1-by-1": lambda: [raw_call[backend]([im] if backend == "mtcnn" else im) for im in ims],
                "raw batch": lambda: raw_call[backend](ims),
                "lib 1-by-1": lambda: [cu.detect_faces(im, backend) for im in ims],
                "lib batch": lambda: cu.detect_faces(ims, backend),
            }
            ms = {k: 1000 * median_seconds(fn, rounds) / n for k, fn in runs.items()}
            print(f"{label:16s} {backend:8s} " + " ".join(f"{ms[k]:10.1f}" for k in runs))
            ratios.append((label, backend, "lib batch / raw batch", paired_ratio(runs["lib batch"], runs["raw batch"],
                                                                                2 * rounds + 1)))
            ratios.append((label, backend, "lib batch / lib 1-by-1", paired_ratio(runs["lib batch"], runs["lib 1-by-1"],
                                                                                 2 * rounds + 1)))
            ratios.append((label, backend, "raw batch / raw 1-by-1", paired_ratio(runs["raw batch"], runs["raw 1-by-1"],
                                                                                 2 * rounds + 1)))
    print("\nratios: median of paired, back-to-back runs (time of the first / time of the second)")
    for label, backend, what, r in ratios:
        note = ("within 5 %" if r <= 1.05 else "OVER 5 %") if "raw batch" in what.split("/")[1] else (
            "batch faster" if r < 1 else "batch NOT faster")
        print(f"{label:16s} {backend:8s} {what:24s} {r:5.2f}  {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-kind", type=int, default=12, help="scenes of each kind in the labelled set")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--results", default=str(RESULTS),
                        help="where to write the accuracy figures as JSON ('' writes nothing)")
    args = parser.parse_args()
    cu.setup(verbose=False)
    if not args.skip_accuracy:
        accuracy(args.per_kind, args.results)
    if not args.skip_speed:
        speed(args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
