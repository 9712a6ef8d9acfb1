"""Lesson 06's own-face widgets in a real browser (issue 30): JupyterLab in headless Chromium, with
Chromium's fake camera playing a committed real photo (a y4m file made from it).

* the camera widget: "Enrol me" takes a snapshot and enrols it; "Identify" takes another and the kernel
  answers with the drawn picture and the right name;
* the upload widget: a real photo sent through its file input is checked, kept and enrolled; a file that
  is not an image is refused with the reason.

The notebook is lesson 06's own cells (tagged ``own-face``) after a short set-up cell, so the test runs the
lesson's code, not a copy.  Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them);
skips, saying why, where they are missing.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "06_face_identification.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="headless Chromium is not installed (Debian: apt-get "
                       "install chromium chromium-driver; .ci/run does it)"),
]


def write_y4m(rgb: np.ndarray, path: Path, frames: int = 30, size: tuple[int, int] = (640, 480)) -> Path:
    """A still picture as a YUV4MPEG2 clip (4:2:0), what Chromium's ``--use-file-for-fake-video-capture`` plays."""
    import cv2

    w, h = size
    canvas = np.full((h, w, 3), 128, np.uint8)
    scale = min(w / rgb.shape[1], h / rgb.shape[0]) * 0.9
    small = cv2.resize(rgb, (int(rgb.shape[1] * scale) // 2 * 2, int(rgb.shape[0] * scale) // 2 * 2),
                       interpolation=cv2.INTER_CUBIC)
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    yuv = cv2.cvtColor(canvas, cv2.COLOR_RGB2YUV_I420)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + yuv.tobytes())
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lesson_notebook(tmp: Path, name: str, faces: Path) -> Path:
    """Lesson 06's ``own-face`` cells after a set-up cell that makes what they read (``emb``, ``gallery``,
    ``MY_NAME``, ``MY_FACES``)."""
    import nbformat

    lesson = nbformat.read(LESSON, as_version=4)
    own = [c for c in lesson.cells if "own-face" in c.metadata.get("tags", [])]
    assert len(own) >= 2, "lesson 06 has lost its own-face cells (upload and camera)"
    setup = f"""import course_utils as cu
import matplotlib.pyplot as plt
from course_utils import identification as ident
emb = cu.get_embedder("dlib")
gallery = cu.enrol_folder(ident.make_sample_gallery({str(tmp / 'starter')!r}), emb)
MY_NAME, MY_FACES = {name!r}, {str(faces)!r}
print("ready:", len(gallery), "photos")"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup)] +
                                  [nbformat.v4.new_code_cell(c.source) for c in own])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp / "own_face.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 whose root is a fresh folder: ``(url, token, root)``."""
    root = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), "course-test-token"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / ".jupyter"), JUPYTER_RUNTIME_DIR=str(root / ".runtime"))
    log = open(root / "lab.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                             "--expose-app-in-browser", "--allow-root", "--ServerApp.open_browser=False"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail(f"JupyterLab did not start: {(root / 'lab.log').read_text(errors='replace')[-2000:]}")
    if proc.poll() is not None:
        pytest.fail(f"JupyterLab exited: {(root / 'lab.log').read_text(errors='replace')[-2000:]}")
    yield url, token, root
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def face_photo():
    """A committed real photo of someone the starter gallery does not hold (a stranger of the LFW sample)."""
    from course_utils import identification as ident

    name, path = ident.load_people_sample(2).strangers[0]
    return path


def _browser(video: Path, downloads: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}", "--window-size=1400,1000"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


def _run_notebook(driver, url: str, token: str, notebook: str, timeout: float = 240) -> None:
    """Open ``notebook`` in JupyterLab and run all its cells; returns once the kernel is idle again."""
    driver.get(f"{url}/lab/tree/{notebook}?token={token}&reset")
    _wait(driver, "return !!(window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                  "window.jupyterapp.shell.currentWidget.sessionContext && "
                  "window.jupyterapp.shell.currentWidget.sessionContext.session && "
                  "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel && "
                  "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle')",
          timeout, "the notebook's kernel to start")
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    _wait(driver, "return document.querySelectorAll('.jp-Notebook .jp-Cell').length > 0 && "
                  "[...document.querySelectorAll('.jp-InputPrompt')].every(p => !p.textContent.includes('*'))"
                  " && [...document.querySelectorAll('.jp-InputPrompt')].some(p => /\\[\\d+\\]/.test(p.textContent))",
          timeout, "Run All to finish")


def _wait(driver, script: str, timeout: float, what: str):
    end = time.time() + timeout
    while time.time() < end:
        try:
            value = driver.execute_script(script)
        except Exception:  # the page is still loading
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; page text: "
                         f"{driver.execute_script('return document.body.innerText')[-3000:]}")


def _text(driver, selector: str) -> str:
    return driver.execute_script(f"const e = document.querySelector({json.dumps(selector)}); "
                                 "return e ? e.textContent : ''")


def _camera_on(driver) -> None:
    _wait(driver, "const s = document.querySelector('.course-camera-status'); "
                  "return s && s.textContent.startsWith('camera on')", 60, "the camera to start")


def _press(driver, kind: str, answer: str = "identified:", what: str = "the identification") -> str:
    """Press the camera's ``kind`` button; the status line once it starts with ``answer`` (a prefix, or
    prefixes joined by ``|``)."""
    driver.execute_script(f"document.querySelector('.course-camera button[data-kind={kind}]').click()")
    starts = " || ".join(f"s.startsWith({json.dumps(a)})" for a in answer.split("|"))
    return _wait(driver, "const s = document.querySelector('.course-camera-status').textContent; "
                         f"return ({starts}) && s", 120, what)


def test_camera_snapshot_enrols_and_identifies(lab, face_photo, tmp_path):
    import course_utils as cu

    url, token, root = lab
    faces = root / "faces_camera"
    lesson_notebook(root, "Test_Student", faces)
    video = write_y4m(cu.load_image(face_photo), tmp_path / "face.y4m")
    driver = _browser(video, tmp_path)
    try:
        _run_notebook(driver, url, token, "own_face.ipynb")
        _camera_on(driver)
        # Before enrolment the face is nobody's: the stranger is not in the starter gallery.
        before = _press(driver, "identify")
        assert before.startswith("identified: unknown"), before
        enrolled = _press(driver, "enrol", "enrolled|not enrolled", "the enrolment")
        assert enrolled.startswith("enrolled Test_Student"), enrolled
        kept = sorted(p.name for p in (faces / "Test_Student").iterdir())
        assert kept == ["1.jpg"], kept
        after = _press(driver, "identify")
        assert after.startswith("identified: Test_Student ("), after
        distance = float(after.split("(")[1].split("<")[0])
        assert distance < 0.3, after  # two frames of one still picture: nearly the same embedding
        src = driver.execute_script("return document.querySelector('.course-camera-result').src")
        assert src.startswith("data:image/jpeg;base64,") and len(src) > 5000
        # The drawn answer is a real picture of the frame, with a green (known) box on it.
        drawn = cu.load_image(__import__("base64").b64decode(src.split(",", 1)[1]))
        green = (drawn[..., 1] > 150) & (drawn[..., 0] < 110) & (drawn[..., 2] < 140)
        assert drawn.shape[0] >= 240 and green.sum() > 200
        # Live: frames go on, one after the other's answer, each named, with the emotion and mask labels.
        count = "return Number(document.querySelector('.course-camera').dataset.answers)"
        start = driver.execute_script(count)
        driver.execute_script("document.querySelector('.course-camera-live').click()")
        _wait(driver, f"return ({count[7:]}) >= {start + 2}", 120, "the first live frames (TensorFlow starts)")
        t0, n0 = time.time(), driver.execute_script(count)
        time.sleep(15)
        t1, n1 = time.time(), driver.execute_script(count)
        driver.execute_script("document.querySelector('.course-camera-live').click()")
        status = _wait(driver, "const s = document.querySelector('.course-camera-status').textContent; "
                               "return s.startsWith('identified:') && s", 60, "the last live frame's answer")
        assert status.startswith("identified: Test_Student (") and "; Test_Student: " in status, status
        assert any(e in status for e in ("happy", "neutral", "sad", "angry", "surprise", "fear", "disgust"))
        assert "mask" in status
        print(f"live: {n1 - n0} frames answered in {t1 - t0:.1f} s ({(n1 - n0) / (t1 - t0):.1f} per second)")
        assert n1 - n0 >= 3, f"live mode answered {n1 - n0} frames in 15 s"
    finally:
        driver.quit()


def test_upload_widget_keeps_a_photo_and_refuses_a_non_image(lab, face_photo, tmp_path):
    import course_utils as cu

    url, token, root = lab
    faces = root / "faces_upload"
    lesson_notebook(root, "Uploader", faces)
    video = write_y4m(cu.load_image(face_photo), tmp_path / "face.y4m")
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"this is not a photo")
    driver = _browser(video, tmp_path)
    try:
        _run_notebook(driver, url, token, "own_face.ipynb")
        _wait(driver, "return !!document.querySelector('.widget-upload')", 60, "the upload widget")
        # ipywidgets' FileUpload keeps its <input type=file> out of the page and clicks it from its button;
        # the browser's file dialog cannot be driven, so the input's click puts it in the page instead, where
        # Selenium gives it the files: from there on it is the widget's own change handler that runs.
        driver.execute_script("""
            const click = HTMLInputElement.prototype.click;
            HTMLInputElement.prototype.click = function () {
              if (this.type !== 'file') return click.call(this);
              this.value = ''; this.style.display = 'block'; this.classList.add('course-test-file');
              document.body.appendChild(this);
            };""")

        def pick(path):
            driver.execute_script("document.querySelector('.widget-upload').click()")
            driver.find_element("css selector", "input.course-test-file").send_keys(str(path))

        pick(face_photo)
        _wait(driver, "return document.body.innerText.includes('kept as Uploader/1.jpg')", 120,
              "the uploaded photo's check")
        assert (faces / "Uploader" / "1.jpg").is_file()
        # The upload enrolled the photo: the camera, which shows the same person, now finds the name.
        _camera_on(driver)
        found = _press(driver, "identify")
        assert found.startswith("identified: Uploader ("), found
        pick(bad)
        text = _wait(driver, "const t = document.body.innerText; return t.includes('notes.jpg: not kept') && t",
                     120, "the refused file's message")
        assert "not an image this course can read" in text
        assert sorted(p.name for p in (faces / "Uploader").iterdir()) == ["1.jpg"]
    finally:
        driver.quit()
