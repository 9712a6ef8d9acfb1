"""The lecture's script: tell whether each face in an image wears a mask (MTCNN + the course's mask CNN).

    python scripts/mtcnn_mask_detection.py IMAGE [IMAGE ...] [-o OUT] [--model mask.h5]

Writes IMAGE's stem + "_mask.png" in the current folder (or -o) and prints each face's label.
Same as `python -m course_utils.demo mask ...`; see that module for all options.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_utils.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_kind="mask"))
