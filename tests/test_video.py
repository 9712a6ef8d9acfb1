"""Detection over a generated video file: annotated output, no-face frames, unreadable input."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import course_utils as cu
from course_utils.video import annotate_stream, iter_frames, write_video

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clip(tmp_path_factory, astronaut):
    """Six 320x240 frames: the astronaut sliding right, then two empty frames."""
    face = np.asarray(Image.fromarray(astronaut).resize((200, 200)))
    frames = []
    for i in range(4):
        f = np.full((240, 320, 3), 90, np.uint8)
        f[20:220, 10 + 25 * i:210 + 25 * i] = face
        frames.append(f)
    frames += [np.full((240, 320, 3), 60, np.uint8), np.full((240, 320, 3), 120, np.uint8)]
    return write_video(frames, tmp_path_factory.mktemp("video") / "clip.avi", fps=5)


def test_detect_video_writes_an_annotated_gif(clip, tmp_path):
    out = tmp_path / "faces.gif"
    summary = cu.detect_video(clip, out=out)
    assert summary.frames == 6 and summary.skipped == 0
    assert summary.faces_per_frame == [1, 1, 1, 1, 0, 0]
    xs = [r[0].center[0] for r in summary.results[:4]]
    assert all(b - a == pytest.approx(25, abs=6) for a, b in zip(xs, xs[1:])), xs
    with Image.open(out) as gif:
        assert gif.n_frames == 6 and gif.size == (320, 240)


def test_every_and_max_frames(clip):
    assert [i for i, _ in iter_frames(clip, every=2)] == [0, 2, 4]
    assert len(list(iter_frames(clip, max_frames=3))) == 3
    with pytest.raises(ValueError, match="every"):
        list(iter_frames(clip, every=0))


def test_avi_output_can_be_read_back(clip, tmp_path):
    out = tmp_path / "faces.avi"
    cu.detect_video(clip, out=out, backend="haar", max_frames=2)
    assert len(list(iter_frames(out))) == 2


def test_missing_and_unreadable_videos_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        cu.detect_video(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(OSError, match="cannot open"):
        cu.detect_video(junk)
    with pytest.raises(ValueError, match="unsupported output"):
        annotate_stream(tmp_path / "nope.mp4", lambda f: (f, None), out=tmp_path / "x.webm")


def test_a_failing_frame_callback_leaves_a_valid_partial_output(clip, tmp_path):
    calls = []

    def annotate(frame):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return frame, []

    out = tmp_path / "partial.gif"
    with pytest.raises(RuntimeError, match="boom"):
        annotate_stream(clip, annotate, out=out)
    with Image.open(out) as gif:
        assert gif.n_frames == 2
