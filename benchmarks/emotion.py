"""The reference emotion model against the course targets.

    .venv/bin/python benchmarks/emotion.py [--model models/emotion/emotion.keras]

Prints accuracy per class on the 210 real FER2013 sample faces that ship with the course (data/real/fer2013,
offline), then accuracy overall and per class on the FER2013 test images in ../shared/data/fer2013 (or
$COURSE_SHARED_DATA/fer2013), the model file's size and milliseconds per face on this CPU (single
faces and batches of 64).  Targets: accuracy >= 0.68, file < 10 MB, < 5 ms per face.
Skips with a message when the data or the model is missing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


import course_utils as cu  # noqa: E402
from course_utils import config, emotion  # noqa: E402
from figures import print_figures  # noqa: E402  (benchmarks/figures.py)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "emotion" / "emotion.keras")
    p.add_argument("--data", type=Path, default=None)
    args = p.parse_args()
    data = args.data or config.shared_data_dir() / "fer2013"
    if not args.model.exists():
        print(f"SKIP: no model at {args.model} (train it with scripts/train_emotion.py)")
        return 0
    cu.setup(verbose=False)
    model = emotion.load_model(args.model)
    xs, ys, names = emotion.load_real_faces()
    pred = emotion.predict_faces(model, xs).argmax(1)
    sample = emotion.report_from_predictions(ys, pred)
    print("real sample (data/real/fer2013, 30 faces per expression; 24 of the 30 disgust faces were trained on):")
    print(sample.table())
    for part in ("test", "copy", "validation", "fit"):  # copy: a pixel copy of a training image
        m = emotion.reference_split(names) == part
        print(f"  {part:10s} {m.sum():3d} faces, accuracy {(pred[m] == ys[m]).mean():.3f}")
    print()
    if not data.is_dir():
        print(f"SKIP: FER2013 folders not found at {data} (set COURSE_SHARED_DATA)")
        return 0
    df = cu.load_fer2013_folders(data)
    test = df[df.split == "test"].reset_index(drop=True)
    x, y = emotion.load_fer_arrays(test)
    report = emotion.evaluate(model, x, y)
    mirrored = emotion.evaluate(model, x, y, flip=True)
    size_mb = args.model.stat().st_size / 1e6
    print(f"test images: {len(y)} (FER2013 PublicTest+PrivateTest subset; no 'disgust')")
    print(report)
    clf = emotion.load_classifier(args.model)  # what the demos use: the forward pass as one graph
    one, batch = list(x[:1]), list(x[:64])
    clf.predict_crops(one)
    clf.predict_crops(batch)
    singles, batches = [], []
    for _ in range(5):
        t = time.perf_counter()
        for i in range(50):
            clf.predict_crops(one)
        singles.append((time.perf_counter() - t) / 50 * 1000)
        t = time.perf_counter()
        clf.predict_crops(batch)
        batches.append((time.perf_counter() - t) / 64 * 1000)
    ms_single, ms_batch = statistics.median(singles), statistics.median(batches)
    rows = [("test accuracy", f"{report.accuracy:.3f}", ">= 0.68", report.accuracy >= 0.68),
            ("  with mirror images", f"{mirrored.accuracy:.3f}", ">= 0.68", mirrored.accuracy >= 0.68),
            ("model file (MB)", f"{size_mb:.2f}", "< 10", size_mb < 10),
            ("ms per face, one at a time", f"{ms_single:.2f}", "< 5", ms_single < 5),
            ("ms per face, batch of 64", f"{ms_batch:.2f}", "< 5", ms_batch < 5)]
    print_figures(rows, clf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
