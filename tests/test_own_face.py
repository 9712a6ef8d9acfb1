"""Your own face (issue 30): photos checked on arrival and kept outside git, the camera widget's kernel side,
the platform routes (Kaggle: upload only; Colab: its own camera route), and the backend choice."""
from __future__ import annotations


import cv2
import numpy as np
import pytest

import course_utils as cu
from course_utils import camera, embedders, own_face
from course_utils import identification as ident

pytestmark = pytest.mark.slow  # MTCNN and dlib's network


@pytest.fixture(scope="module")
def sample():
    return ident.load_people_sample(2)


@pytest.fixture(scope="module")
def photo(sample):
    return sample.strangers[0][1]


@pytest.fixture(scope="module")
def emb():
    return cu.get_embedder("dlib")


def test_every_sample_photo_passes_the_checks_and_spoiled_copies_do_not(sample):
    """The limits hold on the committed LFW sample (every enrolled photo usable) and each spoiled copy fails
    for its own reason, not another one."""
    for _, path in sample.enrol:
        check = own_face.check_photo(path)
        assert len(check.faces) >= 1 and not any("px across" in p or "blurred" in p or "too " in p
                                                 for p in check.problems), (path, str(check))
    good = cu.load_image(sample.strangers[0][1])
    blurred = own_face.check_photo(cv2.GaussianBlur(good, (0, 0), 3))
    assert [p.split(" (")[0] for p in blurred.problems] == ["the face looks blurred"]
    small = own_face.check_photo(cv2.resize(good, (100, 100), interpolation=cv2.INTER_AREA))
    assert len(small.problems) == 1 and "under 64" in small.problems[0]
    dark = own_face.check_photo((good * 0.12).astype(np.uint8))
    assert len(dark.problems) == 1 and dark.problems[0].startswith("the face is too dark")
    bright = own_face.check_photo(np.clip(good.astype(int) + 200, 0, 255).astype(np.uint8))
    assert any("too bright" in p or "no face" in p for p in bright.problems)
    assert own_face.check_photo(np.full((300, 300, 3), 127, np.uint8)).problems[0].startswith("no face found")


def test_two_people_are_refused_for_enrolment(astronaut, sample):
    a = cv2.resize(cu.load_image(sample.strangers[0][1]), (250, 250))
    b = cv2.resize(cu.load_image(sample.strangers[1][1]), (250, 250))
    check = own_face.check_photo(np.hstack([a, b]))
    assert len(check.faces) == 2 and check.problems[0].startswith("2 faces: enrol a photo of yourself alone")


def test_save_photo_keeps_usable_photos_numbered_and_refuses_the_rest(tmp_path, photo):
    data = photo.read_bytes()
    first = own_face.save_photo("Ada Lovelace", data, tmp_path, source="a.jpg")
    second = own_face.save_photo("Ada Lovelace", photo, tmp_path)
    assert first.path == tmp_path / "Ada_Lovelace" / "1.jpg" and second.path.name == "2.jpg"
    assert "usable -> kept as Ada_Lovelace/1.jpg" in str(first)
    assert cu.load_image(first.path).shape == cu.load_image(photo).shape
    blurred = cv2.GaussianBlur(cu.load_image(photo), (0, 0), 3)
    refused = own_face.save_photo("Ada Lovelace", blurred, tmp_path)
    assert refused.path is None and "blurred" in str(refused) and "not kept" in str(refused)
    forced = own_face.save_photo("Ada Lovelace", blurred, tmp_path, force=True)
    assert forced.path.name == "3.jpg"   # kept on request: one face, only blurred
    for bad, why in ((b"", "not an image"), (b"%PDF-1.4 not a photo", "not an image"),
                     (b"\xff\xd8\xff" + b"\0" * 100, "not an image")):
        r = own_face.save_photo("Ada", bad, tmp_path, source="bad.jpg")
        assert r.path is None and why in str(r)
    huge = own_face.save_photo("Ada", b"\0" * (own_face.MAX_BYTES + 1), tmp_path)
    assert huge.path is None and "MB limit" in str(huge)
    assert sorted(p.name for p in (tmp_path / "Ada_Lovelace").iterdir()) == ["1.jpg", "2.jpg", "3.jpg"]
    assert not (tmp_path / "Ada").exists()


@pytest.mark.parametrize("name", ["", "  ", "../..", "/", ".", "..."])
def test_a_name_that_is_no_name_is_refused(name, tmp_path, photo):
    r = own_face.save_photo(name, photo, tmp_path)
    assert r.path is None and "is not usable as a name" in r.error
    assert list(tmp_path.iterdir()) == []


def test_names_stay_inside_the_folder():
    assert own_face.safe_name("../../etc/passwd") == "etc_passwd"
    assert own_face.safe_name("José María") == "José_María"
    assert own_face.safe_name("a" * 200) == "a" * 64


def test_photos_go_to_the_writable_data_folder_never_into_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    for var in ("KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE", "COLAB_RELEASE_TAG", "COLAB_GPU"):
        monkeypatch.delenv(var, raising=False)
    from course_utils import config

    local = own_face.faces_dir()
    assert local == config.REPO_ROOT / "data" / "cache" / "my_faces"
    import subprocess

    ignored = subprocess.run(["git", "check-ignore", "-q", str(local / "Ada" / "1.jpg")], cwd=config.REPO_ROOT)
    if ignored.returncode != 128:  # 128: not a git checkout (a release unpacked from an archive)
        assert ignored.returncode == 0, "my_faces/ must be ignored by git"
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    assert str(own_face.faces_dir()) == "/kaggle/working/data/my_faces"
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert own_face.faces_dir() == tmp_path / "my_faces"


def test_data_urls_round_trip_and_damaged_ones_are_image_errors(astronaut):
    url = camera.to_data_url(astronaut)
    assert url.startswith("data:image/jpeg;base64,")
    back = camera.from_data_url(url)
    assert back.shape == astronaut.shape and np.abs(back.astype(int) - astronaut).mean() < 4
    for bad in ("", "data:text/plain;base64,aGk=", "data:image/png;base64,@@@", "data:image/jpeg;base64,AAAA",
                "http://example.com/x.jpg"):
        with pytest.raises(cu.ImageError):
            camera.from_data_url(bad)


def test_camera_widget_answers_each_action_and_survives_bad_pictures(tmp_path, photo, emb):
    gallery = cu.enrol_folder(ident.make_sample_gallery(tmp_path / "g"), emb)
    cam = camera.identify_camera(gallery, emb, name="Test Student", folder=tmp_path / "faces")
    assert cam.actions == [["enrol", "Enrol me"], ["identify", "Identify"]] and cam.live_action == "identify"
    url = camera.to_data_url(cu.load_image(photo))
    cam.request = {"kind": "identify", "id": 1, "image": url}
    assert cam.result["id"] == 1 and cam.result["text"].startswith("identified: unknown (nearest ")
    cam.request = {"kind": "enrol", "id": 2, "image": url}
    assert cam.result["text"].startswith("enrolled Test_Student (Test_Student/1.jpg); the gallery has 6 photos")
    cam.request = {"kind": "identify", "id": 3, "image": url}
    assert cam.result["text"].startswith("identified: Test_Student (") and cam.result["image"].startswith("data:")
    blank = camera.to_data_url(np.full((240, 320, 3), 90, np.uint8))
    cam.request = {"kind": "enrol", "id": 4, "image": blank}
    assert cam.result["text"].startswith("not enrolled: no face found") and len(gallery) == 6
    cam.request = {"kind": "identify", "id": 5, "image": "data:image/jpeg;base64,AAAA"}
    assert cam.result["text"].startswith("identify: ImageError") and cam.result["image"] == ""
    cam.request = {"kind": "format-disk", "id": 6, "image": url}
    assert cam.result["text"] == "format-disk: ValueError: no handler for 'format-disk'"
    assert [k for k, _ in cam.answers] == ["identify", "enrol", "identify", "enrol", "identify", "format-disk"]


def test_live_labels_add_emotion_and_mask(tmp_path, photo, emb):
    gallery = cu.enrol_folder(ident.make_sample_gallery(tmp_path / "g"), emb)
    rgb = cu.load_image(photo)
    matches, drawn = own_face.identify_drawn(rgb, gallery, emb)
    _, text = camera.classifier_labels()(rgb, drawn, matches)
    label = text.split(": ", 1)[1].split(", ")
    assert label[0].split()[0] in cu.FER2013_LABELS and label[1].split()[0] in ("with_mask", "without_mask")
    with pytest.raises(ValueError, match="no classifier 'age'"):
        camera.classifier_labels(("emotion", "age"))


def test_kaggle_has_no_camera_and_says_so(monkeypatch, emb):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    route, line = camera.where_camera_works()
    assert route == "none" and "not available on Kaggle" in line and "upload" in line
    widget = camera.identify_camera(None, emb)
    assert "not available on Kaggle" in widget.value
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE")
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-x")
    assert camera.where_camera_works()[0] == "colab"
    assert "colab_snapshot" in camera.identify_camera(None, emb).value


def test_colab_snapshot_uses_colabs_eval_js(monkeypatch, astronaut):
    """Colab's route, with a stand-in for google.colab.output: the JavaScript defines takePhoto and the
    returned data URL becomes the picture; outside Colab the function says what to use instead."""
    import sys
    import types

    with pytest.raises(RuntimeError, match="works on Colab only"):
        camera.colab_snapshot()
    calls = []
    output = types.ModuleType("google.colab.output")
    output.eval_js = lambda js: calls.append(js) or camera.to_data_url(astronaut)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    rgb = camera.colab_snapshot(0.8)
    assert rgb.shape == astronaut.shape and calls == ["takePhoto(0.8)"]
    assert "async function takePhoto" in shown[0].data and "getUserMedia" in shown[0].data


def test_draw_matches_shows_the_threshold(photo, emb, tmp_path):
    gallery = cu.enrol_folder(ident.make_sample_gallery(tmp_path / "g"), emb)
    matches, drawn = own_face.identify_drawn(photo, gallery, emb)
    plain = cu.draw_matches(cu.load_image(photo), matches)
    assert drawn.shape == plain.shape and (drawn != plain).any()   # the longer label is drawn
    assert own_face.describe_matches(matches, 0.6).endswith(">= 0.6)") or "< 0.6" in own_face.describe_matches(matches, 0.6)
    assert own_face.describe_matches([], 0.6) == "no face found"


def test_backend_choice_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr(embedders, "find_facenet_weights", _no_weights)
    monkeypatch.setenv("COURSE_FACENET_DOWNLOAD", "0")
    c = embedders.choose_backend()
    assert c.name == "dlib" and "downloading them is off (COURSE_FACENET_DOWNLOAD=0)" in str(c)
    monkeypatch.delenv("COURSE_FACENET_DOWNLOAD")
    c = embedders.choose_backend()
    assert c.name == "dlib" and "could not be downloaded (no connection" in c.reason
    assert embedders.choose_backend("dlib") == embedders.BackendChoice("dlib", "asked for")
    with pytest.raises(ValueError):
        embedders.choose_backend("arcface")
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    monkeypatch.setattr(embedders, "find_facenet_weights", lambda *a, download=True, **k: weights)
    c = embedders.choose_backend()
    assert c.name == "facenet" and c.reason.startswith("its weights are here")


def _no_weights(*args, download: bool = True, **kwargs):
    if download:
        raise cu.ModelNotFoundError("FaceNet weights x.pt not found and the download failed (could not download. "
                                    "Tried:\n  https://example/x.pt (try 1): no connection: the server is unreachable)")
    raise cu.ModelNotFoundError("FaceNet weights x.pt not found")


def test_facenet_threshold_comes_from_the_lfw_benchmark_when_measured(tmp_path):
    results = tmp_path / "r.json"
    assert embedders.measured_threshold("facenet", results=results) is None
    results.write_text('{"thresholds": [{"backend": "facenet", "pretrained": "vggface2", "margin": 0, '
                       '"threshold": 1.137, "pairs": 1800, "folds": "4-6", "date": "2026-12-07"}]}')
    value, source = embedders.measured_threshold("facenet", results=results)
    assert value == 1.14 and "1800 LFW pairs" in source
    assert embedders.measured_threshold("facenet", margin=14, results=results) is None
    results.write_text("not json")
    assert embedders.measured_threshold("facenet", results=results) is None


def test_dlib_jitters_average_dlibs_own_jittered_copies(photo):
    """``jitters=N`` as dlib's compute_face_descriptor(img, shape, N): the mean over dlib.jitter_image copies;
    close to the plain descriptor, not equal to it."""
    plain, jittered = embedders.DlibEmbedder(), embedders.DlibEmbedder(jitters=5)
    img = cu.load_image(photo)
    faces = plain.detect(img)
    a, b = plain.embed_faces(img, faces[:1]), jittered.embed_faces(img, faces[:1])
    assert a.shape == b.shape == (1, 128)
    assert 0 < np.linalg.norm(a - b) < 0.2
    with pytest.raises(ValueError):
        embedders.DlibEmbedder(jitters=-1)
    assert "5 jitters" in repr(jittered)


def test_a_threshold_measured_with_mirror_images_is_not_used(tmp_path):
    results = tmp_path / "r.json"
    results.write_text('{"thresholds": [{"backend": "facenet", "pretrained": "vggface2", "margin": 0, "flip": true, '
                       '"threshold": 1.2, "pairs": 1800}]}')
    assert embedders.measured_threshold("facenet", results=results) is None


def test_unknown_is_not_a_name():
    with pytest.raises(ValueError, match="what identification answers for a stranger"):
        own_face.safe_name("Unknown")


def test_upload_box_handles_both_ipywidgets_value_shapes_and_forgets_the_files(tmp_path, photo):
    """ipywidgets 8 (a tuple of dicts) and 7, which Colab ships (a dict of name -> file); a file whose handling
    fails is reported under the box, not in the kernel's log; the value is emptied once handled."""
    box = own_face.upload_box("Ada", tmp_path)
    data = photo.read_bytes()
    box.received({"new": ({"name": "a.jpg", "content": memoryview(data)},)})
    box.received({"new": {"b.jpg": {"content": data, "metadata": {}}}})
    assert [r.path.name for r in box.saved] == ["1.jpg", "2.jpg"]
    assert len(box.upload.value) == 0
    boom = own_face.upload_box("Ada", tmp_path, on_saved=lambda saved: 1 / 0)
    boom.received({"new": ({"name": "c.jpg", "content": data},)})
    assert "c.jpg: not kept: ZeroDivisionError" in "".join(o.get("text", "") for o in boom.output.outputs) \
        or boom.saved  # outside a kernel, Output does not capture: the file was still kept
    assert (tmp_path / "Ada" / "3.jpg").is_file()


def test_photos_from_an_earlier_session_are_enrolled_once(tmp_path, photo, emb):
    own_face.save_photo("Ada", photo, tmp_path)
    gallery = cu.enrol_folder(ident.make_sample_gallery(tmp_path / "g"), emb)
    assert own_face.enrol_own_photos(gallery, emb, tmp_path) == 1
    assert own_face.enrol_own_photos(gallery, emb, tmp_path) == 0
    assert gallery.names[-1] == "Ada" and len(gallery) == 6


def test_camera_answers_even_when_a_handler_is_interrupted_and_forgets_the_picture(astronaut):
    def interrupted(rgb):
        raise KeyboardInterrupt

    cam = camera.camera_widget({"snap": interrupted}, [("snap", "Snap")])
    with pytest.raises(KeyboardInterrupt):
        cam.request = {"kind": "snap", "id": 7, "image": camera.to_data_url(astronaut)}
    assert cam.result == {"id": 7, "kind": "snap", "text": "snap: no answer (interrupted)", "image": ""}
    assert cam.request == {}


def test_classifier_labels_fall_back_when_a_model_cannot_be_loaded(monkeypatch, tmp_path, photo, emb):
    from course_utils import mask

    monkeypatch.setattr(mask, "load_classifier", lambda *a: (_ for _ in ()).throw(FileNotFoundError("no mask model")))
    gallery = cu.enrol_folder(ident.make_sample_gallery(tmp_path / "g"), emb)
    rgb = cu.load_image(photo)
    matches, drawn = own_face.identify_drawn(rgb, gallery, emb)
    extra = camera.classifier_labels()
    for _ in range(2):
        same, text = extra(rgb, drawn, matches)
        assert same is drawn and text.startswith("no emotion/mask labels (FileNotFoundError: no mask model")


def test_colab_gets_the_lines_that_enrol_a_snapshot(monkeypatch, emb, photo, tmp_path):
    monkeypatch.setenv("COLAB_RELEASE_TAG", "x")
    html = camera.identify_camera(None, emb).value
    assert "camera.colab_snapshot()" in html and "camera.enrol_snapshot(rgb, gallery, emb, MY_NAME)" in html
    gallery = cu.enrol_folder(ident.make_sample_gallery(tmp_path / "g"), emb)
    drawn, text = camera.enrol_snapshot(cu.load_image(photo), gallery, emb, "Ada", tmp_path / "faces")
    assert text.startswith("enrolled Ada (Ada/1.jpg)") and len(gallery) == 6
    assert camera.identify_snapshot(cu.load_image(photo), gallery, emb)[1].startswith("identified: Ada (")
