"""The demo command (`python -m course_utils.demo`, the lecture's scripts): images, videos, bad input."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import course_utils as cu
from course_utils import demo, emotion
from course_utils.video import write_video

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """An untrained emotion network: the demo's plumbing does not depend on what it predicts."""
    return emotion.save_model(emotion.build_small_model(width=4), tmp_path_factory.mktemp("m") / "tiny.keras")


@pytest.fixture(scope="module")
def clip(tmp_path_factory, astronaut):
    """Five frames: a face, two faces, no face, a face, no face."""
    face = np.asarray(Image.fromarray(astronaut).resize((150, 150)))
    frames = []
    for n in (1, 2, 0, 1, 0):
        f = np.full((200, 360, 3), 100, np.uint8)
        for k in range(n):
            f[25:175, 20 + 180 * k:170 + 180 * k] = face
        frames.append(f)
    return write_video(frames, tmp_path_factory.mktemp("v") / "clip.avi", fps=5)


def test_images_are_labelled_and_bad_ones_skipped(model_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cu.save_sample("group", tmp_path / "group.jpg")
    cu.save_sample("coffee", tmp_path / "coffee.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    rc = demo.main(["emotion", "group.jpg", "coffee.png", "broken.jpg", "missing.jpg", "--model", str(model_file)])
    out, err = capsys.readouterr()
    assert rc == 1, "a failed source makes the exit status 1"
    assert "group.jpg: 4 faces:" in out and "coffee.png: no face found" in out
    assert "broken.jpg: skipped" in err and "missing.jpg: skipped: image file not found" in err
    with Image.open(tmp_path / "group_emotion.png") as im:
        assert im.size == (1280, 720)
    assert (tmp_path / "coffee_emotion.png").exists()
    assert (tmp_path / "group.jpg").stat().st_size > 0, "the input is never overwritten"


def test_video_is_labelled_frame_by_frame(model_file, clip, tmp_path, capsys):
    out = tmp_path / "labelled.gif"
    rc = demo.main(["emotion", str(clip), "-o", str(out), "--model", str(model_file)])
    assert rc == 0
    assert "5 frames, 0 unreadable skipped, 4 faces labelled (most in one frame: 2)" in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.n_frames == 5


def test_unreadable_frames_are_skipped_and_counted(model_file, monkeypatch, astronaut):
    from course_utils import video

    frames = [(0, astronaut), (1, None), (2, np.zeros((100, 100, 3), np.uint8)), (3, None)]
    monkeypatch.setattr(video, "iter_frames", lambda *a, **k: iter(frames))
    annotate = demo.make_annotator("emotion", model_file)
    summary = demo.run_stream(0, annotate, None, None, 1, show=False)  # a "webcam"
    assert (summary.frames, summary.skipped, summary.faces_per_frame) == (2, 2, [1, 0])


def test_detect_kind_and_several_sources_into_a_folder(clip, tmp_path, capsys):
    cu.save_sample("astronaut", tmp_path / "a.jpg")
    rc = demo.main(["detect", str(tmp_path / "a.jpg"), str(clip), "-o", str(tmp_path / "out"), "--max-frames", "2"])
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_detect.png", "clip_detect.mp4"]
    assert "2 frames" in capsys.readouterr().out


def test_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        demo.main(["emotion", "notes.txt"])
    assert exc.value.code == 2 and "not an image" in capsys.readouterr().err
    rc = demo.main(["emotion", "x.jpg", "--model", str(tmp_path / "nope.keras")])
    assert rc == 2 and "is not a model file" in capsys.readouterr().err
    assert demo.source_kind("0") == "camera" and demo.default_output("0", "emotion", "camera") is None


def test_no_camera_is_a_clear_error(model_file, capsys):
    rc = demo.main(["emotion", "9", "--max-frames", "1", "--model", str(model_file)])
    assert rc == 1 and "cannot open webcam 9" in capsys.readouterr().err


def test_the_lecture_script_runs_as_a_program(tmp_path):
    cu.save_sample("coffee", tmp_path / "coffee.jpg")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "mtcnn_emotion_detection.py"), "coffee.jpg"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "coffee.jpg: no face found" in run.stdout and (tmp_path / "coffee_emotion.png").exists()


def test_mask_demo_uses_the_reference_model_and_the_mask_detector(tmp_path, capsys, monkeypatch):
    from course_utils import mask

    monkeypatch.chdir(tmp_path)
    group = cu.load_sample("group")
    faces = cu.detect_faces(group, detector=mask.get_mask_detector())
    cu.save_image(mask.add_masks(group, faces=faces, seed=3), tmp_path / "masked.png")
    rc = demo.main(["mask", "masked.png"])
    out = capsys.readouterr().out
    assert rc == 0 and "masked.png: 4 faces:" in out and out.count("with_mask") == 4, out
    assert (tmp_path / "masked_mask.png").exists()


def test_mask_script_finds_the_face_of_a_tight_masked_crop(tmp_path):
    """Issue 19: a masked face that fills the photo was 'no face found' for the lecture's script."""
    from course_utils import mask
    from course_utils.face_finder import find_face

    photos = mask.load_real_photos()
    masked = [p for p in photos["path"][photos["y"] == 0]]
    det = mask.get_mask_detector()
    tight = next(p for p in masked if not cu.detect_faces(p, detector=det) and find_face(p, det) is not None)
    shutil.copyfile(tight, tmp_path / "tight.jpg")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "mtcnn_mask_detection.py"), "tight.jpg"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "tight.jpg: 1 face:" in run.stdout and "with_mask" in run.stdout, run.stdout


def test_identify_prints_the_names_per_frame_of_a_video_of_real_faces(tmp_path, capsys, monkeypatch):
    """`demo identify` on a clip made from the committed real sample: the gallery holds the enrolled photos of
    the 12 sample people, the clip shows held-back photos of three of them (other days, other light) and a
    stranger; each frame's name is the person's, or unknown for the stranger, as lesson 06 identifies them."""
    from course_utils import identification as ident

    monkeypatch.setenv("COURSE_FACENET_DOWNLOAD", "0")
    monkeypatch.setenv("COURSE_FACENET_WEIGHTS", "")
    sample = ident.load_people_sample(2)
    gallery = tmp_path / "gallery"
    for name, path in sample.enrol:
        (gallery / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, gallery / name / path.name)
    held = {}
    for name, path in sample.held_back:
        held.setdefault(name, path)
    shown = sorted(held.items())[:3] + [sample.strangers[0]]
    frames = [np.asarray(Image.open(p).convert("RGB").resize((250, 250))) for _, p in shown for _ in range(2)]
    clip = write_video(frames, tmp_path / "people.avi", fps=2)
    emb = cu.get_embedder("dlib")
    enrolled = cu.enrol_folder(gallery, emb)
    expected = [cu.identify(f, enrolled, emb)[0].name for f in frames[::2]]
    assert expected[:3] == [name for name, _ in shown[:3]]  # the sample's claim: held-back photos are named
    assert demo.main(["identify", str(clip), "--gallery", str(gallery), "-o", str(tmp_path / "out.avi"),
                      "--embedder", "dlib"]) == 0
    out = capsys.readouterr().out
    assert "backend: dlib (asked for)" in out and "gallery: 24 photos of 12 people" in out
    lines = [line for line in out.splitlines() if " frame " in line]
    assert len(lines) == len(frames)
    names = [line.split(": ", 1)[1].split(" ")[0] for line in lines]
    assert names == [n for n in expected for _ in range(2)]
    assert (tmp_path / "out.avi").stat().st_size > 10_000


def test_identify_default_gallery_includes_your_photos(tmp_path, capsys, monkeypatch):
    """Without --gallery: the five starter people plus the photos in my_faces/ (own_face.faces_dir)."""
    from course_utils import identification as ident, own_face

    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_FACENET_DOWNLOAD", "0")
    name, photo = ident.load_people_sample(2).strangers[0]
    saved = own_face.save_photo("Me", photo.read_bytes())
    assert saved.path == tmp_path / "data" / "my_faces" / "Me" / "1.jpg"
    assert demo.main(["identify", str(photo), "-o", str(tmp_path / "me.png")]) == 0
    out = capsys.readouterr().out
    assert "backend: dlib (FaceNet's weights are not on this machine and downloading them is off" in out
    assert "gallery: 6 photos of 6 people from the starter gallery and your photos" in out
    import re

    found = re.search(r"1 face: Me \(distance ([0-9.]+) to Me\)", out)
    assert found and float(found.group(1)) < 0.2, out  # the same photo, saved again as JPEG
