"""Label every face in images, video files or a webcam: the lectures' demo scripts in one command.

    python -m course_utils.demo emotion photo.jpg             # writes photo_emotion.png
    python -m course_utils.demo emotion clip.mp4 -o out.gif   # a video file, annotated frame by frame
    python -m course_utils.demo emotion 0 --show              # webcam 0 in a window (q quits)
    python -m course_utils.demo mask 0 --max-frames 200 -o cam.mp4
    python -m course_utils.demo detect group.jpg              # boxes and keypoints only
    python -m course_utils.demo identify clip.mp4 --gallery data/test_images   # names per frame (lesson 06)
    python -m course_utils.demo identify 0 --show             # your webcam: you, if my_faces/ holds your photos

``scripts/mtcnn_emotion_detection.py IMAGE`` and ``scripts/mtcnn_emotion_detection_cam.py [CAMERA]``
(the lecture's names) call this.  Every source goes through the same step, detect -> crop -> classify
-> draw (:func:`course_utils.classify.annotate_faces`); videos and webcams through the same frame loop
(:func:`course_utils.video.annotate_stream`).  A source that cannot be read is reported and skipped;
the exit status is 1 if any source failed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .images import IMAGE_SUFFIXES

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".gif"}
KINDS = ("detect", "emotion", "mask", "identify")

Annotator = Callable[[np.ndarray], tuple[np.ndarray, list]]


def identify_annotator(gallery_dir: str | Path | None = None, embedder: str | None = None,
                       say: Callable[[str], None] = print) -> Annotator:
    """``rgb -> (drawn, matches)`` for ``demo identify``: each face named from a gallery folder
    (``<name>/<photos>``), or ``unknown``, drawn with its distance and the threshold.  Default gallery: the
    lecture's five starter people and your own photos (:func:`course_utils.own_face.faces_dir`), enrolled
    now; default backend: FaceNet where it can be had, else dlib (:func:`course_utils.embedders.choose_backend`)."""
    import tempfile

    from .embedders import choose_backend, get_embedder
    from .gallery import enrol_folder, make_sample_gallery
    from .own_face import enrol_own_photos, faces_dir, identify_drawn

    choice = choose_backend(embedder)
    emb = get_embedder(choice.name)
    say(str(choice))
    if gallery_dir is None:
        gallery = enrol_folder(make_sample_gallery(Path(tempfile.mkdtemp(prefix="course-demo-")) / "gallery"), emb)
        enrol_own_photos(gallery, emb)
        where = f"the starter gallery and your photos in {faces_dir()}"
    else:
        gallery, where = enrol_folder(gallery_dir, emb), str(gallery_dir)
    say(f"gallery: {len(gallery)} photos of {len(gallery.people)} people from {where}"
        + (f" ({len(gallery.problems)} photos not usable)" if gallery.problems else ""))
    return lambda rgb: identify_drawn(rgb, gallery, emb)[::-1]


def make_annotator(kind: str, model: str | Path | None = None, backend: str | None = None,
                   min_face_size: int | None = None, gallery: str | Path | None = None,
                   embedder: str | None = None) -> Annotator:
    """``rgb -> (annotated_rgb, results)`` for a demo ``kind``; results are ``Face`` records
    (``detect``) or :class:`~course_utils.classify.Labelled` faces.

    ``backend=None`` uses the ``"default"`` detector of :data:`course_utils.detection.PRESETS` (MTCNN), except
    for masks: the ``"mask"`` preset (facenet-pytorch's MTCNN with the lower thresholds that find masked faces),
    and :func:`~course_utils.face_finder.find_face`'s retries when a picture yields no face at all (a tight,
    masked crop).  ``min_face_size=None``: the preset's.
    """
    from .classify import annotate_faces
    from .detection import detect_faces, get_detector
    from .draw import draw_faces

    if kind == "identify":  # each backend detects with its own detector (lesson 06)
        return identify_annotator(gallery, embedder)
    if kind not in KINDS:
        raise ValueError(f"unknown demo {kind!r}; choose from {', '.join(KINDS)}")
    detector = get_detector(backend or ("mask" if kind == "mask" else "default"), min_face_size=min_face_size)
    if kind == "detect":
        def annotate(rgb):
            faces = detect_faces(rgb, detector=detector)
            return draw_faces(rgb, faces), faces
        return annotate
    from . import emotion, mask

    classifier = {"emotion": emotion, "mask": mask}[kind].load_classifier(model)
    # A tight, masked crop often yields no face at first: find_face retries it (framed, then with CenterFace).
    return lambda rgb: annotate_faces(rgb, classifier, detector=detector, retry=kind == "mask")


def source_kind(source: str) -> str:
    """``"camera"``, ``"image"`` or ``"video"`` for a command-line source."""
    if source.isdigit():
        return "camera"
    suffix = Path(source).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    raise ValueError(f"{source}: not an image ({', '.join(sorted(IMAGE_SUFFIXES))}), a video "
                     f"({', '.join(sorted(VIDEO_SUFFIXES))}) or a webcam index (0, 1, ...)")


def default_output(source: str, kind: str, what: str) -> Path | None:
    """Where a source's result goes unless ``-o`` says: ``<stem>_<kind>.png|.mp4`` in the current
    folder (never the input itself); nothing for a webcam."""
    if what == "camera":
        return None
    return Path(f"{Path(source).stem}_{kind}{'.png' if what == 'image' else '.mp4'}")


def describe(results: list) -> str:
    if not results:
        return "no face found"
    return f"{len(results)} face{'s' if len(results) > 1 else ''}: " + "; ".join(str(r) for r in results)


def frame_names(results: list) -> str:
    """``"Colin_Powell 0.31, unknown 0.84"`` for the matches of one frame (``demo identify``), left to right."""
    if not results:
        return "no face"
    ordered = sorted(results, key=lambda m: m.face.box[0] if m.face is not None else 0)
    return ", ".join(f"{m.name} {m.distance:.2f}" for m in ordered)


def run_image(source: str, annotate: Annotator, out: Path) -> list:
    from .images import load_image, save_image

    rgb = load_image(source)
    drawn, results = annotate(rgb)
    save_image(drawn, out)
    return results


def _shower(annotate: Annotator, title: str) -> Annotator:
    """Wrap ``annotate`` to show each frame in an OpenCV window; q or Esc stops the stream.  What was
    annotated before the stop stays in ``show.results`` (the summary of a stopped stream keeps it)."""
    import cv2

    class Stop(Exception):
        pass

    def show(rgb):
        drawn, results = annotate(rgb)
        try:
            cv2.imshow(title, cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
            key = cv2.waitKey(1) & 0xFF
        except cv2.error as exc:
            raise SystemExit("this OpenCV cannot open windows (opencv-python-headless): run without --show "
                             "and write the stream with -o out.mp4, or `pip install opencv-python` "
                             f"in your own environment ({exc.err})") from exc
        show.results.append(results)
        if key in (ord("q"), 27):
            raise Stop
        return drawn, results

    show.Stop, show.results = Stop, []
    return show


def run_stream(source: str | int, annotate: Annotator, out: Path | None, max_frames: int | None,
               every: int, show: bool) -> Any:
    from .video import StreamSummary, annotate_stream

    if show:
        annotate = _shower(annotate, f"course_utils.demo: {source}")
    try:
        return annotate_stream(source, annotate, out=out, max_frames=max_frames, every=every, progress=not show)
    except getattr(annotate, "Stop", ()):  # the user closed the window: keep what was written and seen
        return StreamSummary(frames=len(annotate.results), results=list(annotate.results), out=out)
    finally:
        if show:
            import cv2

            try:
                cv2.destroyAllWindows()
            except cv2.error:  # a headless OpenCV has no window to close (the message above says why)
                pass


def main(argv: list[str] | None = None, default_kind: str | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m course_utils.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    if default_kind is None:
        p.add_argument("kind", choices=KINDS, help="what to draw on each face")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="image files, video files or a webcam index")
    p.add_argument("-o", "--out", type=Path, help="output file (one source) or folder (several)")
    p.add_argument("--model", help="model file (.keras/.h5); default: the course's reference model")
    p.add_argument("--backend", choices=("mtcnn", "facenet", "haar"),
                   help="face detector (default: mtcnn; for masks facenet-pytorch's MTCNN tuned for masked faces)")
    p.add_argument("--min-face-size", type=int, help="smallest face looked for, in pixels (default: 20)")
    p.add_argument("--gallery", type=Path, help="identify: a folder of <name>/<photos> to enrol (default: the "
                   "lecture's starter people and your photos in the course's my_faces folder)")
    p.add_argument("--embedder", choices=("dlib", "facenet"),
                   help="identify: the embedding backend (default: FaceNet where it can be had, else dlib)")
    p.add_argument("--max-frames", type=int, help="stop a video or webcam after this many frames")
    p.add_argument("--every", type=int, default=1, help="process every N-th frame")
    p.add_argument("--show", action="store_true", help="show videos/webcams in a window (needs GUI OpenCV)")
    args = p.parse_args(argv)
    kind = default_kind or args.kind
    from .env import quiet_tensorflow

    quiet_tensorflow()
    try:
        what = {s: source_kind(s) for s in args.sources}
    except ValueError as exc:
        p.error(str(exc))
    several = len(args.sources) > 1
    if args.out is not None and several:
        args.out.mkdir(parents=True, exist_ok=True)
    try:
        annotate = make_annotator(kind, args.model, args.backend, args.min_face_size, args.gallery, args.embedder)
    except (OSError, ValueError, RuntimeError) as exc:  # model not found / unreadable / wrong version
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for source in args.sources:
        out = default_output(source, kind, what[source])
        if args.out is not None:
            out = args.out / out.name if several and out is not None else (args.out if not several else None)
        try:
            if what[source] == "image":
                results = run_image(source, annotate, out)
                print(f"{source}: {describe(results)} -> {out}")
            else:
                stream = int(source) if what[source] == "camera" else source
                summary = run_stream(stream, annotate, out, args.max_frames, args.every, args.show)
                counts = summary.faces_per_frame
                if kind == "identify":
                    for i, frame in enumerate(summary.results, 1):
                        print(f"{source} frame {i}: {frame_names(frame)}")
                print(f"{source}: {summary.frames} frames, {summary.skipped} unreadable skipped, "
                      f"{sum(counts)} faces labelled (most in one frame: {max(counts, default=0)})"
                      + (f" -> {out}" if out else ""))
        except (OSError, ValueError) as exc:  # FileNotFoundError, ImageError, camera/video errors
            failed += 1
            print(f"{source}: skipped: {exc}", file=sys.stderr)
    return 1 if failed else 0


def cam_main(kind: str, argv: list[str] | None = None) -> int:
    """The lecture's ``*_cam.py`` scripts: webcam 0 unless a source is given, in a window unless ``-o``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):  # no source given: webcam 0
        args = ["0", *args]
    if "-o" not in args and "--out" not in args and "--show" not in args:
        args.append("--show")
    return main(args, default_kind=kind)


if __name__ == "__main__":
    sys.exit(main())
