"""The lecture's webcam script: MTCNN + the course's mask CNN on a live camera (or a video file).

    python scripts/mtcnn_mask_detection_cam.py            # webcam 0 in a window; q quits
    python scripts/mtcnn_mask_detection_cam.py 1 -o cam.mp4 --max-frames 300
    python scripts/mtcnn_mask_detection_cam.py clip.mp4 -o clip_mask.mp4

The window needs an OpenCV with GUI support (`pip install opencv-python`; the course installs the
headless build, so without it use -o to write the annotated stream to a file).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_utils.demo import cam_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(cam_main("mask"))
