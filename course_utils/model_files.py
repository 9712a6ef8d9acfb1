"""Model files (lessons 04 and 05): saving, loading and finding the course's Keras classifiers.

    path = cu.save_model(model, "emotion.keras", labels)   # + emotion.keras.json (labels, input, versions)
    model = cu.load_model(path)                            # checks the Keras/TensorFlow versions
    path = cu.find_model("emotion")                        # where the course's reference model is

* :func:`save_model` writes Keras 3's ``.keras`` or the legacy ``.h5`` the lecture uses, plus a
  ``<file>.json`` side-car with the labels, the input shape and the library versions.
* :func:`load_model` checks versions: a file that this Keras cannot read raises
  :class:`ModelVersionError` naming both versions and the fix (the lecture's "Step 0": TensorFlow on
  Kaggle and on your PC must match).  A file that is not a model at all raises :class:`ModelFileError`.
* :func:`find_model` looks at an explicit path, then ``$COURSE_<KIND>_MODEL``, then
  ``models/<kind>/<kind>.keras`` in this repository, then any ``<kind>*.keras``/``.h5`` in a Kaggle
  input dataset.  Nothing found: :class:`ModelNotFoundError` says how to get one.

:class:`ModelNotFoundError` is the one error for every missing model file of the course (dlib's,
FaceNet's, the classifiers').
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Sequence

from . import config, keras_compat
from .env import KAGGLE_INPUT, REPO_ROOT

MODEL_SUFFIXES = (".keras", ".h5")
MODELS_DIR = REPO_ROOT / "models"


class ModelNotFoundError(FileNotFoundError):
    """A model file that is not on this machine; the message says how to get it."""


class ModelVersionError(RuntimeError):
    """A model file that this TensorFlow/Keras cannot load; the message names both versions."""


class ModelFileError(ValueError):
    """A file that is not a readable Keras model (truncated, or not a model file at all)."""


def import_keras():
    """``keras``, imported with TensorFlow's start-up messages silenced."""
    from .env import quiet_tensorflow

    quiet_tensorflow()
    import keras

    return keras


def runtime_versions() -> dict[str, str]:
    """Keras and TensorFlow versions of this environment."""
    import importlib.metadata as md

    out = {}
    for dist in ("keras", "tensorflow-cpu", "tensorflow"):
        try:
            out.setdefault(dist.replace("-cpu", ""), md.version(dist))
        except md.PackageNotFoundError:
            pass
    return out


def file_versions(path: str | Path) -> dict[str, str]:
    """The Keras version that saved a ``.keras`` or ``.h5`` file (plus TensorFlow's, from the
    side-car, when :func:`save_model` wrote it)."""
    path = Path(path)
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("metadata.json"))
        out = {"keras": meta.get("keras_version", "unknown")}
    elif path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            v = f.attrs.get("keras_version", "unknown")
            out = {"keras": v.decode() if isinstance(v, bytes) else str(v)}
    else:
        raise ValueError(f"unknown model file type {path.suffix!r}; use .keras or .h5")
    saved_with = (read_sidecar(path) or {}).get("saved_with", {})
    if "tensorflow" in saved_with:
        out["tensorflow"] = saved_with["tensorflow"]
    return out


def sidecar_path(path: str | Path) -> Path:
    """Where :func:`save_model` writes the side-car of ``path``: ``<path>.json``."""
    path = Path(path)
    return path.with_suffix(path.suffix + ".json")


def read_sidecar(path: str | Path) -> dict | None:
    """The ``<model>.json`` written by :func:`save_model`, or ``None`` when there is none."""
    p = sidecar_path(path)
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p} is not valid JSON ({exc}); delete it or save the model again") from exc


def save_model(model, path: str | Path, labels: Sequence[str], *, include_optimizer: bool = False, **info) -> Path:
    """Save as ``.keras`` (Keras 3's format) or ``.h5`` (the legacy format the lecture uses), with a
    ``.json`` side-car naming the labels, the input shape, the library versions and ``info``.

    The file holds the network for inference; ``include_optimizer=True`` also keeps the optimizer
    state (to resume training; Adam's state triples the size).  The lessons' modules bind their labels
    to this function (``cu.emotion.save_model(model, path)``, a ``functools.partial``).
    Returns the path.
    """
    import_keras()
    path = Path(path)
    if path.suffix not in MODEL_SUFFIXES:
        raise ValueError(f"save as .keras or .h5, got {path.suffix!r}")
    if len(labels) != model.output_shape[-1]:
        raise ValueError(f"{len(labels)} labels for a model with {model.output_shape[-1]} outputs")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not include_optimizer and getattr(model, "optimizer", None) is not None:
        # A fresh copy of the network: Keras saves a compiled model's optimizer state with it.
        plain = model.__class__.from_config(model.get_config())
        plain.set_weights(model.get_weights())
        model = plain
    model.save(path)
    meta = {"labels": list(labels), "input": list(model.input_shape[1:]), "saved_with": runtime_versions(), **info}
    sidecar_path(path).write_text(json.dumps(meta, indent=2) + "\n")
    return path


def load_model(path: str | Path):
    """Load a ``.keras``/``.h5`` model (inference only, not compiled), checking versions.

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: the file is not a readable model file (not a zip or HDF5 file, no metadata).
        ModelVersionError: the file cannot be loaded by the installed Keras, which is another version
            than the one that saved it; the message says which versions are involved and what to do.
            A ``.keras`` file whose side-car records its ``architecture`` (the course's reference
            models) is first rebuilt by code and given the file's weights (:mod:`course_utils.keras_compat`).
        Errors that are not about versions (Keras cannot read a file that this same Keras saved, or
        anything but a deserialisation error) are raised as they are.
    """
    keras = import_keras()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix not in MODEL_SUFFIXES + (".hdf5",):
        raise ValueError(f"unknown model file type {path.suffix!r}; use .keras or .h5")
    try:
        saved = file_versions(path)
    except (zipfile.BadZipFile, KeyError, OSError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} is not a readable Keras model file ({type(exc).__name__}: {exc}); "
                             "download or save it again") from exc
    here = runtime_versions()
    try:
        return keras.models.load_model(path, compile=False)
    except keras_compat.DESERIALISATION_ERRORS as exc:
        if not keras_compat.versions_differ(saved, here):
            raise  # the Keras that saved it cannot read it either: not a version problem
        rebuilt, rebuild_failed = None, ""
        try:  # a reference model: its side-car says how to build the network by code
            rebuilt = keras_compat.rebuild_from_sidecar(path, read_sidecar(path))
        except keras_compat.ArchitectureMismatchError as why:
            rebuild_failed = f" Rebuilding it from its side-car failed too: {why}."
        if rebuilt is not None:
            return rebuilt
        tf_saved = f" / TensorFlow {saved['tensorflow']}" if "tensorflow" in saved else ""
        raise ModelVersionError(
            f"cannot load {path.name}: it was saved with Keras {saved.get('keras')}{tf_saved} and this "
            f"environment has Keras {here.get('keras')} / TensorFlow {here.get('tensorflow')}. Save the model "
            f"again with the same versions (on Kaggle: `pip install tensorflow=={here.get('tensorflow')} "
            f"keras=={here.get('keras')}` before training), or install the versions that saved it here. "
            f"Original error: {type(exc).__name__}: {exc}{rebuild_failed}") from exc


def given_file(candidates, what: str = "file") -> Path | None:
    """The first of ``(value, description)`` pairs that is set; it must be an existing file.

    Raises:
        ModelNotFoundError: a value that is set but is not a file (the message names where it came from).
    """
    for value, description in candidates:
        if value:
            p = Path(value).expanduser()
            if not p.is_file():
                raise ModelNotFoundError(f"{description} ({p}) is not a {what}")
            return p
    return None


def find_model(kind: str, path: str | Path | None = None, *, environ=None,
               kaggle_input: str | Path | None = None, models_dir: str | Path | None = None) -> Path:
    """Locate a model file of ``kind`` (``"emotion"``, ``"mask"``); see the module docstring for the order.

    Raises:
        ModelNotFoundError: nothing found (or an explicit path / environment variable that does
            not exist); the message lists the places and how to make or get the file.
    """
    var = config.model_var(kind)
    given = given_file([(path, "the path you gave"), (config.get(var, environ), f"${var}")], "model file")
    if given is not None:
        return given
    models_dir = MODELS_DIR if models_dir is None else Path(models_dir)
    for suffix in MODEL_SUFFIXES:
        p = models_dir / kind / f"{kind}{suffix}"
        if p.is_file():
            return p
    kaggle = KAGGLE_INPUT if kaggle_input is None else Path(kaggle_input)
    if kaggle.is_dir():
        hits = sorted(p for s in MODEL_SUFFIXES for p in kaggle.glob(f"**/{kind}*{s}") if p.is_file())
        if hits:
            return hits[0]
    raise ModelNotFoundError(
        f"no {kind} model found: looked at ${var}, {models_dir / kind}/{kind}.keras|.h5 and "
        f"{kaggle}/**/{kind}*.keras|.h5. The course repository ships one in models/{kind}/ (a fresh clone "
        f"has it); or train one with scripts/train_{kind}.py, or in the lesson notebook and "
        f"save it with cu.save_model, then point ${var} at the file (on Kaggle: attach the dataset that "
        "holds it).")
