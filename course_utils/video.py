"""Faces in videos and webcam streams (lesson 02; the same loop serves lessons 04 and 05).

    summary = cu.detect_video("clip.mp4", out="clip_faces.gif")   # annotated GIF or video
    summary = cu.detect_video(0, out="cam.mp4", max_frames=100)    # webcam 0

``annotate_stream`` is the shared loop: it reads frames (a file path or a webcam index),
calls a function on each RGB frame that returns the annotated frame plus what it found, and
writes the result.  Unreadable frames are counted and skipped, not fatal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .detection import Face, detect_faces, get_detector
from .draw import draw_faces

VIDEO_WRITERS = {".mp4": "mp4v", ".avi": "MJPG", ".gif": None}


@dataclass
class StreamSummary:
    """What ``annotate_stream`` did: frames read, frames skipped as unreadable, per-frame results."""

    frames: int = 0
    skipped: int = 0
    results: list[Any] = field(default_factory=list)
    out: Path | None = None
    fps: float = 0.0

    @property
    def faces_per_frame(self) -> list[int]:
        return [len(r) if hasattr(r, "__len__") else 0 for r in self.results]


def open_capture(source: str | Path | int):
    """Open a video file or webcam index with OpenCV.

    Raises:
        FileNotFoundError: a file path that does not exist.
        OSError: a file or camera that OpenCV cannot open (the message says what to check).
    """
    import cv2

    if isinstance(source, (str, Path)) and not str(source).isdigit():
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"video file not found: {path}")
        cap = cv2.VideoCapture(str(path))
        what = f"video file {path} (is it a video OpenCV can decode: mp4, avi, mov?)"
    else:
        cap = cv2.VideoCapture(int(source))
        what = f"webcam {source} (is a camera connected and free? try index 0 or 1)"
    if not cap.isOpened():
        cap.release()
        raise OSError(f"cannot open {what}")
    return cap


def iter_frames(source: str | Path | int, max_frames: int | None = None, every: int = 1,
                max_bad: int = 25) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield ``(index, rgb_frame)``; ``rgb_frame`` is ``None`` for an unreadable frame.

    Stops at the end of the stream, after ``max_frames`` yielded frames, or after ``max_bad``
    unreadable frames in a row (a camera that stopped answering).
    """
    import cv2

    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    cap = open_capture(source)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if not isinstance(source, int) else 0
    index, yielded, bad = -1, 0, 0
    try:
        while max_frames is None or yielded < max_frames:
            ok = cap.grab()
            index += 1
            if not ok:
                # A file ends, or one frame is damaged: keep going while frames remain.
                if total and index < total and bad < max_bad:
                    bad += 1
                    continue
                break
            if index % every:
                continue
            ok, frame = cap.retrieve()
            if not ok or frame is None or frame.size == 0:
                bad += 1
                if bad >= max_bad:
                    break
                yield index, None
            else:
                bad = 0
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            yielded += 1
    finally:
        cap.release()


class _Writer:
    def __init__(self, path: Path, fps: float):
        if path.suffix.lower() not in VIDEO_WRITERS:
            raise ValueError(f"unsupported output {path.suffix!r}; use one of {', '.join(VIDEO_WRITERS)}")
        self.path, self.fps, self.frames, self.cv = path, fps, [], None

    def write(self, rgb: np.ndarray) -> None:
        import cv2

        if self.path.suffix.lower() == ".gif":
            from PIL import Image

            self.frames.append(Image.fromarray(rgb))
            return
        if self.cv is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_WRITERS[self.path.suffix.lower()])
            self.cv = cv2.VideoWriter(str(self.path), fourcc, self.fps, (rgb.shape[1], rgb.shape[0]))
            if not self.cv.isOpened():
                raise OSError(f"OpenCV cannot write {self.path}; try a .gif or .avi output")
        self.cv.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self.cv is not None:
            self.cv.release()
        if self.frames:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.frames[0].save(self.path, save_all=True, append_images=self.frames[1:],
                                duration=max(20, round(1000 / self.fps)), loop=0)


def annotate_stream(source: str | Path | int, annotate: Callable[[np.ndarray], tuple[np.ndarray, Any]],
                    out: str | Path | None = None, max_frames: int | None = None, every: int = 1,
                    fps: float | None = None, progress: bool = False) -> StreamSummary:
    """Run ``annotate(rgb) -> (annotated_rgb, result)`` on every ``every``-th frame.

    Args:
        source: a video file or a webcam index.
        out: write the annotated frames to this ``.mp4``, ``.avi`` or ``.gif`` (optional).
        max_frames: stop after this many processed frames (a webcam never ends otherwise).
        fps: frame rate of the output (default: the input's, or 10 for a webcam).
        progress: show a tqdm progress bar.
    """
    import cv2

    if out is not None and Path(out).suffix.lower() not in VIDEO_WRITERS:
        raise ValueError(f"unsupported output {Path(out).suffix!r}; use one of {', '.join(VIDEO_WRITERS)}")
    if fps is None:
        fps = 10.0
        if not isinstance(source, int):
            cap = open_capture(source)
            fps = (cap.get(cv2.CAP_PROP_FPS) or 10.0) / every
            cap.release()
    summary = StreamSummary(out=Path(out) if out else None, fps=float(fps))
    writer = _Writer(Path(out), fps) if out else None
    frames = iter_frames(source, max_frames=max_frames, every=every)
    if progress:
        from tqdm.auto import tqdm

        frames = tqdm(frames, total=max_frames, unit="frame")
    try:
        for _, rgb in frames:
            if rgb is None:
                summary.skipped += 1
                continue
            drawn, result = annotate(rgb)
            summary.frames += 1
            summary.results.append(result)
            if writer:
                writer.write(drawn)
    finally:
        if writer:
            writer.close()
    return summary


def detect_video(source: str | Path | int, out: str | Path | None = None, backend: str = "mtcnn",
                 max_frames: int | None = None, every: int = 1, min_face_size: int = 20,
                 progress: bool = False) -> StreamSummary:
    """Detect faces in every ``every``-th frame; optionally write an annotated video or GIF.

    Returns:
        A :class:`StreamSummary` whose ``results`` hold one ``list[Face]`` per processed frame.
    """
    detector = get_detector(backend, min_face_size=min_face_size)

    def annotate(rgb: np.ndarray) -> tuple[np.ndarray, list[Face]]:
        faces = detect_faces(rgb, detector=detector)
        return draw_faces(rgb, faces), faces

    return annotate_stream(source, annotate, out=out, max_frames=max_frames, every=every, progress=progress)


def write_video(frames: list[np.ndarray], path: str | Path, fps: float = 10.0) -> Path:
    """Write RGB frames to ``.mp4``/``.avi``/``.gif`` (used to make test and demo clips)."""
    if not frames:
        raise ValueError("no frames to write")
    w = _Writer(Path(path), fps)
    for f in frames:
        w.write(np.asarray(f, dtype=np.uint8))
    w.close()
    return Path(path)
