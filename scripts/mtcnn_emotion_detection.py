"""The lecture's script: label the emotion of every face in an image with MTCNN + the course's CNN.

    python scripts/mtcnn_emotion_detection.py IMAGE [IMAGE ...] [-o OUT] [--model emotion.h5]

Writes IMAGE's stem + "_emotion.png" in the current folder (or -o) and prints each face's label.
Same as `python -m course_utils.demo emotion ...`; see that module for all options.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_utils.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_kind="emotion"))
