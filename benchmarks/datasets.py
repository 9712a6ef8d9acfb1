"""Benchmark: index the real LFW subset and parse pairs.txt (lesson 01, issue 4).

    .venv/bin/python benchmarks/datasets.py

Reads ``../shared/data/lfw_dev`` (override the data folder with ``COURSE_SHARED_DATA``): the
2,234 deep-funneled images of View-2 folds 4-6 and the official pairs.txt.  Prints counts and
times; the target is well under a second for indexing plus parsing.  Skips with a message when
the folder is missing (e.g. on a fresh clone).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import course_utils as cu  # noqa: E402
from course_utils import config  # noqa: E402
import pandas  # noqa: E402,F401  (imported before timing: its import is not indexing time)


def main() -> int:
    shared = config.shared_data_dir().resolve()
    lfw_dev = shared / "lfw_dev"
    if not (lfw_dev / "pairs.txt").is_file():
        print(f"SKIP: {lfw_dev} not found (set COURSE_SHARED_DATA to the folder that holds lfw_dev/)")
        return 0
    t0 = time.perf_counter()
    index = cu.load_lfw(lfw_dev)
    t1 = time.perf_counter()
    pairs = cu.load_lfw_pairs(index.pairs_file, index, folds=[4, 5, 6])   # resolves every image
    t2 = time.perf_counter()
    all_pairs = cu.load_lfw_pairs(index.pairs_file)                        # all 10 folds, no index
    t3 = time.perf_counter()
    print(f"lfw_dev: {index.n_people} people, {index.n_images} images, "
          f"{int((index.counts() >= 2).sum())} with two or more (tree: {index.tree.name}/)")
    print(f"pairs.txt: {all_pairs.attrs['n_folds']} folds x {all_pairs.attrs['pairs_per_class']} per class = "
          f"{len(all_pairs)} pairs")
    sizes = pairs.groupby("fold")["same"].agg(matched="sum", total="size")
    for fold, row in sizes.iterrows():
        print(f"fold {fold}: {int(row.matched)} matched + {int(row.total - row.matched)} mismatched")
    files = set(pairs.img_a) | set(pairs.img_b)
    exist = sum(os.path.isfile(p) for p in files)
    print(f"folds 4-6: {len(pairs)} pairs, {len(files)} distinct images, {exist} of them exist on disk")
    t4 = time.perf_counter()
    img = index.image(pairs.name_a.iloc[0], int(pairs.num_a.iloc[0]))
    t5 = time.perf_counter()
    print(f"index {1000 * (t1 - t0):.1f} ms | parse+resolve folds 4-6 {1000 * (t2 - t1):.1f} ms | "
          f"parse all 10 folds {1000 * (t3 - t2):.1f} ms | total {1000 * (t3 - t0):.1f} ms "
          f"(target < 1000 ms) | one image {img.shape} in {1000 * (t5 - t4):.1f} ms")
    ok = exist == len(files) and sizes["matched"].tolist() == [300] * 3 and (t3 - t0) < 1.0
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
