"""The browser's camera in a notebook: snapshots to enrol and identify yourself, and a live mode.

The notebook's kernel often runs where no camera is (a remote JupyterLab, JupyterHub, Colab, Kaggle): the
camera belongs to the browser.  :class:`CameraWidget` is a small anywidget (https://anywidget.dev: a widget
written as one JavaScript module, which JupyterLab and Notebook 7 load without a front-end extension) that shows
the camera (``navigator.mediaDevices.getUserMedia``), sends a JPEG of the frame to the kernel when a button is
pressed, and shows the picture the kernel sends back.  Browsers give the camera only to secure pages (https, or
a server on localhost).  Once a picture is answered and shown, the widget forgets it (the request and the
answer are emptied), so a notebook saved with its widget state carries no face.  With "live" ticked it sends a
frame, waits for the kernel's answer, then sends the next, at most ``fps`` frames per second: the kernel's
speed sets the pace and no frame queues up.

    cam = camera.identify_camera(gallery, emb, name="Ada")   # "Enrol me", "Identify", "Live"
    cam                                                      # display it (last line of a cell)

Where it runs:

* JupyterLab, Notebook 7 (local, or remote over https): the widget; the browser asks for the camera first.
* VS Code: the widget is drawn, but VS Code's notebook views may refuse the camera (its webviews do not ask for
  camera permission: microsoft/vscode#113916); the widget then says so, and the upload box works.
* Colab: :func:`colab_snapshot` (Colab's documented route, ``google.colab.output.eval_js``, as its "Camera
  Capture" snippet does) takes one photo; :func:`identify_camera` says so.
* Kaggle: its notebooks give the browser's camera to no cell output, so there is no camera there:
  :func:`identify_camera` says so plainly and the upload box (:func:`course_utils.own_face.upload_box`) is
  the way in.
"""
from __future__ import annotations

import base64
import io
from typing import Callable

import numpy as np

from .images import load_image

#: What a handler returns for a picture: the picture to show back (RGB) and one line of text.
Handler = Callable[[np.ndarray], "tuple[np.ndarray | None, str]"]

_ESM = r"""
function button(text) {
  const b = document.createElement("button");
  b.textContent = text;
  b.style.margin = "2px 4px 2px 0";
  return b;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "course-camera";
  root.dataset.answers = "0";
  const video = document.createElement("video");
  video.autoplay = true; video.muted = true; video.playsInline = true;
  video.style.maxWidth = "320px"; video.style.marginRight = "8px";
  const shown = document.createElement("img");
  shown.className = "course-camera-result";
  shown.style.maxWidth = "320px";
  const row = document.createElement("div");
  row.append(video, shown);
  const controls = document.createElement("div");
  const buttons = (model.get("actions") || []).map(([kind, label]) => {
    const b = button(label);
    b.dataset.kind = kind;
    b.onclick = () => send(kind);
    controls.append(b);
    return b;
  });
  const liveLabel = document.createElement("label");
  const live = document.createElement("input");
  live.type = "checkbox"; live.className = "course-camera-live";
  liveLabel.append(live, " live");
  if (model.get("live_action")) controls.append(liveLabel);
  const status = document.createElement("div");
  status.className = "course-camera-status";
  status.style.fontFamily = "monospace";
  root.append(row, controls, status);
  el.append(root);

  let stream = null, waiting = null, next = null, watchdog = null, counter = 0, disposed = false;
  const say = (text) => { status.textContent = text; };
  const enable = (on) => buttons.forEach((b) => { b.disabled = !on; });
  say(model.get("status"));

  function frameData() {
    const w = video.videoWidth, h = video.videoHeight;
    if (!w || !h || video.readyState < 2) return null;
    const scale = Math.min(1, model.get("max_side") / Math.max(w, h));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.9);
  }

  function done() {  // an answer came, or none will: the buttons work again
    waiting = null;
    if (watchdog) { clearTimeout(watchdog); watchdog = null; }
    enable(true);
  }

  function send(kind) {
    const image = frameData();
    if (!image) { say("the camera has no picture yet"); return false; }
    counter += 1;
    waiting = counter;
    enable(false);
    say("working ...");
    model.set("request", { kind, image, id: counter });
    model.save_changes();
    watchdog = setTimeout(() => {  // the kernel is busy, interrupted or restarted: do not wait forever
      done();
      say("no answer from the kernel in " + model.get("timeout") + " s (is it busy or restarted?): try again");
    }, 1000 * model.get("timeout"));
    return true;
  }

  function schedule(ms) {
    if (next === null && !disposed) next = setTimeout(liveStep, ms);
  }

  function liveStep() {
    next = null;
    if (!live.checked || waiting !== null || disposed) return;
    if (!send(model.get("live_action"))) schedule(500);  // no picture yet: try again shortly
  }

  live.onchange = () => { if (live.checked) schedule(0); };

  model.on("change:result", () => {
    const r = model.get("result") || {};
    if (r.id === undefined) return;  // emptied after it was shown
    if (r.image) shown.src = r.image;
    if (r.text !== undefined) say(r.text);
    root.dataset.answers = String(Number(root.dataset.answers) + 1);
    done();
    model.set("result", {}); model.save_changes();  // forget the picture (not kept in saved widget state)
    if (live.checked) schedule(1000 / Math.max(model.get("fps"), 0.1));
  });
  model.on("change:status", () => say(model.get("status")));

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    model.set("camera", "unavailable: this page cannot use a camera (it needs https or localhost)");
    model.save_changes();
    say(model.get("camera") + "; upload a photo instead");
  } else {
    navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false })
      .then((s) => {
        if (disposed) { s.getTracks().forEach((t) => t.stop()); return; }  // the view went away meanwhile
        stream = s; video.srcObject = s;
        video.addEventListener("playing", () => {  // a picture to take only from here on
          model.set("camera", "on"); model.save_changes();
          say("camera on: " + model.get("status"));
        }, { once: true });
      })
      .catch((err) => {
        model.set("camera", "error: " + err.name + ": " + err.message); model.save_changes();
        say("no camera (" + err.name + "): allow the camera for this page in the browser; VS Code's notebook " +
            "views may not offer it at all. Upload a photo instead.");
      });
  }
  return () => {
    disposed = true;
    if (next) clearTimeout(next);
    if (watchdog) clearTimeout(watchdog);
    if (stream) stream.getTracks().forEach((t) => t.stop());
  };
}
export default { render };
"""


def to_data_url(rgb: np.ndarray, quality: int = 85) -> str:
    """An RGB array as a ``data:image/jpeg;base64,...`` URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def from_data_url(url: str) -> np.ndarray:
    """The RGB array of a ``data:image/...;base64,...`` URL.

    Raises:
        ImageError: not a data URL of an image.
    """
    from .images import ImageError

    head, sep, body = str(url).partition(",")
    if not sep or not head.startswith("data:image/") or ";base64" not in head:
        raise ImageError("not a data:image/...;base64 URL")
    try:
        data = base64.b64decode(body, validate=True)
    except ValueError as exc:
        raise ImageError(f"the picture's base64 is damaged ({exc})") from None
    return load_image(data)


def _widget_class():
    import anywidget
    import traitlets

    class CameraWidget(anywidget.AnyWidget):
        """The browser's camera (see the module docstring).  ``actions``: ``[(kind, button label), ...]``;
        ``handlers[kind]`` answers each picture sent with that kind (``live_action``'s kind for live frames)."""

        _esm = _ESM
        actions = traitlets.List([["snapshot", "Take a snapshot"]]).tag(sync=True)
        live_action = traitlets.Unicode("").tag(sync=True)
        fps = traitlets.Float(3.0).tag(sync=True)
        timeout = traitlets.Float(60.0).tag(sync=True)  # seconds the buttons wait for an answer
        max_side = traitlets.Int(640).tag(sync=True)
        request = traitlets.Dict().tag(sync=True)
        result = traitlets.Dict().tag(sync=True)
        status = traitlets.Unicode("").tag(sync=True)
        camera = traitlets.Unicode("starting").tag(sync=True)

        def __init__(self, handlers: dict[str, Handler] | None = None, **kwargs):
            super().__init__(**kwargs)
            self.handlers = dict(handlers or {})
            self.answers: list[tuple[str, str]] = []
            self.observe(self._answer, names="request")

        def _answer(self, change) -> None:
            req = change["new"] or {}
            if not req:  # emptied below, once answered
                return
            kind, rid = str(req.get("kind", "")), req.get("id")
            drawn, text = None, f"{kind}: no answer (interrupted)"
            try:
                handler = self.handlers.get(kind)
                if handler is None:
                    raise ValueError(f"no handler for {kind!r}")
                drawn, text = handler(from_data_url(req.get("image", "")))
            except Exception as exc:  # shown in the widget: the kernel and the camera go on
                drawn, text = None, f"{kind}: {type(exc).__name__}: {exc}"
            finally:  # always an answer, even when interrupted, so that the buttons work again
                self.answers.append((kind, text))
                self.result = {"id": rid, "kind": kind, "text": text,
                               "image": to_data_url(drawn) if drawn is not None else ""}
                self.request = {}  # the picture is not kept in the widget's state

    return CameraWidget


def camera_widget(handlers: dict[str, Handler], actions: list[tuple[str, str]], live_action: str = "",
                  fps: float = 3.0, status: str = ""):
    """A :class:`CameraWidget` (built on first use: anywidget is imported only then)."""
    return _widget_class()(handlers=handlers, actions=[list(a) for a in actions], live_action=live_action,
                           fps=fps, status=status)


def where_camera_works() -> tuple[str, str]:
    """``(route, line)``: ``"widget"``, ``"colab"`` or ``"none"``, and what to tell the student."""
    from .env import detect_platform

    platform = detect_platform()
    if platform == "kaggle":
        return "none", ("the browser's camera is not available on Kaggle (its notebooks give the camera to no "
                        "cell): upload your photos with the box above instead")
    if platform == "colab":
        return "colab", "on Colab: camera.colab_snapshot() takes a photo with Colab's own camera route"
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return "none", "the camera widget needs anywidget (`pip install anywidget`); upload your photos instead"
    return "widget", ("the browser asks for the camera first; each picture goes to this notebook's kernel only, "
                      "and the widget forgets it once answered")


_COLAB_JS = """
async function takePhoto(quality) {
  const div = document.createElement('div');
  const capture = document.createElement('button');
  capture.textContent = 'Take a snapshot';
  div.appendChild(capture);
  const video = document.createElement('video');
  video.style.display = 'block';
  const stream = await navigator.mediaDevices.getUserMedia({video: true});
  document.body.appendChild(div);
  div.appendChild(video);
  video.srcObject = stream;
  await video.play();
  google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
  await new Promise((resolve) => capture.onclick = resolve);
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getVideoTracks()[0].stop();
  div.remove();
  return canvas.toDataURL('image/jpeg', quality);
}
"""


def colab_snapshot(quality: float = 0.9) -> np.ndarray:
    """One photo from the browser's camera on Colab (Colab's "Camera Capture" snippet: a button, then
    ``google.colab.output.eval_js`` returns the picture as a data URL).  Returns RGB.

    Raises:
        RuntimeError: not on Colab (use :func:`identify_camera` or the upload box).
    """
    try:
        from google.colab.output import eval_js  # type: ignore[import-not-found]
    except ImportError:
        raise RuntimeError("colab_snapshot works on Colab only: elsewhere use camera.identify_camera(...) or "
                           "own_face.upload_box()") from None
    from IPython.display import Javascript, display

    display(Javascript(_COLAB_JS))
    return from_data_url(eval_js(f"takePhoto({float(quality)})"))


def enrol_snapshot(rgb: np.ndarray, gallery, emb, name: str, folder=None) -> tuple[np.ndarray, str]:
    """A picture of you (the camera's, or :func:`colab_snapshot`'s) checked, kept as the next photo of ``name``
    in the folder of your photos and added to ``gallery``: ``(drawn, one line)``."""
    from . import own_face

    saved = own_face.save_photo(name, rgb, folder, source="snapshot", detect=emb.detect)
    if not own_face.enrol_saved(gallery, emb, saved):
        return rgb, f"not enrolled: {saved.error or '; '.join(saved.check.problems)}"
    _, drawn = own_face.identify_drawn(rgb, gallery, emb)
    return drawn, (f"enrolled {saved.name} ({saved.path.parent.name}/{saved.path.name}); the gallery has "
                   f"{len(gallery)} photos")


def identify_snapshot(rgb: np.ndarray, gallery, emb, extra: Callable | None = None) -> tuple[np.ndarray, str]:
    """Every face of ``rgb`` named from ``gallery`` (or unknown), drawn: ``(drawn, "identified: ...")``."""
    from . import own_face

    matches, drawn = own_face.identify_drawn(rgb, gallery, emb)
    text = "identified: " + own_face.describe_matches(matches, emb.threshold)
    if extra is not None and matches:
        drawn, more = extra(rgb, drawn, matches)
        text += f"; {more}"
    return drawn, text


def identify_camera(gallery, emb, name: "str | Callable[[], str]" = "", folder=None, fps: float = 3.0,
                    extra: Callable | None = None):
    """The camera with three actions: **Enrol me** (:func:`enrol_snapshot`: checked, kept under ``name`` in the
    folder of your photos, added to ``gallery``), **Identify** (:func:`identify_snapshot`: every face named, or
    unknown, drawn with the distance and the threshold) and **live** (the same on frames, ``fps`` at most).
    ``name`` may be a function, read at each enrolment (e.g. the upload box's name field).  ``extra(rgb, drawn,
    matches) -> (drawn, text)`` adds to each identification, e.g. :func:`classifier_labels` (emotion, mask).

    Returns the widget, or where there is no camera (Kaggle, no anywidget) an ``ipywidgets.HTML`` that says
    why; on Colab the HTML gives the lines that take a photo with :func:`colab_snapshot` and enrol it.
    """
    route, line = where_camera_works()
    if route != "widget":
        import ipywidgets as w

        how = ("<br><code>rgb = camera.colab_snapshot()</code> then <code>drawn, text = camera.enrol_snapshot(rgb, "
               "gallery, emb, MY_NAME)</code> (or <code>camera.identify_snapshot(rgb, gallery, emb)</code>) and "
               "<code>print(text); cu.show_image(drawn)</code>") if route == "colab" else ""
        return w.HTML(f"<b>Camera:</b> {line}{how}")
    who = name if callable(name) else (lambda: name)
    return camera_widget({"enrol": lambda rgb: enrol_snapshot(rgb, gallery, emb, who(), folder),
                          "identify": lambda rgb: identify_snapshot(rgb, gallery, emb, extra)},
                         [("enrol", "Enrol me"), ("identify", "Identify")], live_action="identify", fps=fps,
                         status=f"{emb.name} backend, threshold {emb.threshold:g}; {line}")


def classifier_labels(kinds: tuple[str, ...] = ("emotion", "mask")) -> Callable:
    """``extra`` for :func:`identify_camera`'s live mode: each identified face also gets the course's
    emotion and mask classifiers' labels (lessons 04 and 05), in the text under the picture."""
    unknown = [k for k in kinds if k not in ("emotion", "mask")]
    if unknown:
        raise ValueError(f"no classifier {unknown[0]!r}; choose from emotion, mask")
    classifiers: list = []
    failed: list[str] = []

    def label(rgb: np.ndarray, drawn: np.ndarray, matches) -> tuple[np.ndarray, str]:
        if not classifiers and not failed:  # loaded with the first frame: TensorFlow starts only if it is used
            from . import emotion, mask

            try:
                loaded = [{"emotion": emotion, "mask": mask}[k].load_classifier() for k in kinds]
            except Exception as exc:  # a missing or unreadable model: names go on without the labels
                failed.append(f"{type(exc).__name__}: {exc}")
            else:
                classifiers.extend(loaded)
        if failed:
            return drawn, f"no emotion/mask labels ({failed[0][:160]})"
        faces = [m.face for m in matches]
        parts = []
        for m, *labels in zip(matches, *(c.classify(rgb, faces) for c in classifiers)):
            parts.append(f"{m.name}: " + ", ".join(f"{lab.label} {lab.probability:.2f}" for lab in labels))
        return drawn, "; ".join(parts)

    return label
