"""Reference models that load on other Keras 3 versions (lessons 04 and 05, Kaggle and Colab).

A ``.keras`` file is a zip of ``config.json`` (the network as Keras objects), ``metadata.json`` and
``model.weights.h5`` (the weights, one HDF5 group per layer).  Deserialising ``config.json`` needs a
Keras that understands every argument the saving Keras wrote: a file saved by Keras 3.15 fails on
Kaggle's Keras 3.8 (``GlorotUniform.__init__() got an unexpected keyword argument 'input_axes'``).
The weights themselves are plain arrays that any version reads.

So when :func:`course_utils.model_files.load_model` cannot deserialise a file because of the Keras
version, it calls :func:`load_rebuilt`: the side-car ``<file>.json`` names the function that builds
the network by code and its arguments, for example::

    "architecture": {"builder": "course_utils.emotion:build_model",
                     "kwargs": {"width": 32, "dropout": 0.05, "head_dropout": 0.2}}

:func:`load_rebuilt` builds that network with the installed Keras, compares it layer by layer with
the one saved in the file (:func:`saved_layers`: class, name, weight shapes, read without Keras) and
copies the weights in.  A file whose side-car has no ``architecture`` (a student's own model), or
whose network differs from the rebuilt one, still raises :class:`ModelVersionError`: the lecture's
"Step 0" (lesson 04) is unchanged for them.
"""
from __future__ import annotations

import importlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

WEIGHTS_FILE = "model.weights.h5"


class ArchitectureMismatchError(ValueError):
    """The network built by code is not the one saved in the file."""


@dataclass(frozen=True)
class LayerRecord:
    """One layer of a network: its class, name and the shapes of its variables, in Keras's order."""

    class_name: str
    name: str
    shapes: tuple[tuple[int, ...], ...]

    def __str__(self) -> str:
        shapes = ", ".join(str(s) for s in self.shapes) or "no weights"
        return f"{self.class_name} {self.name!r} [{shapes}]"


def snake_case(class_name: str) -> str:
    """The name Keras 3 gives a layer's group in ``model.weights.h5`` (before its ``_1``, ``_2`` counter):
    ``MaxPooling2D`` -> ``max_pooling2d``, ``BatchNormalization`` -> ``batch_normalization``."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _weight_groups(class_names: list[str]) -> list[str]:
    """The HDF5 group of each layer of a functional model: Keras names them by class, in layer order,
    counting repeats (``conv2d``, ``conv2d_1``, ...), whatever the layers' own names are."""
    seen: dict[str, int] = {}
    groups = []
    for cls in class_names:
        base = snake_case(cls)
        n = seen.get(base, 0)
        seen[base] = n + 1
        groups.append(f"layers/{base}" + (f"_{n}" if n else ""))
    return groups


def _open_weights(archive: zipfile.ZipFile):
    import h5py

    return h5py.File(io.BytesIO(archive.read(WEIGHTS_FILE)), "r")


def _read_layers(path: Path, with_arrays: bool):
    """(records, arrays per layer) of the functional model saved in ``path``."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        if config.get("class_name") != "Functional":
            raise ArchitectureMismatchError(
                f"{path.name} holds a {config.get('class_name')!r} model; only functional models "
                "(keras.Model(inputs, outputs)) can be rebuilt")
        layers = config["config"]["layers"]
        classes = [layer["class_name"] for layer in layers]
        records, arrays = [], []
        with _open_weights(archive) as weights:
            for layer, group in zip(layers, _weight_groups(classes)):
                if group not in weights:
                    raise ArchitectureMismatchError(f"{path.name}: no weights group {group!r} for layer "
                                                    f"{layer['config']['name']!r}")
                variables = weights[group].get("vars", {})
                keys = sorted(variables.keys(), key=int)
                records.append(LayerRecord(layer["class_name"], layer["config"]["name"],
                                           tuple(tuple(variables[k].shape) for k in keys)))
                arrays.append({k: variables[k][()] for k in keys} if with_arrays else {})
    return records, arrays


def saved_layers(path: str | Path) -> list[LayerRecord]:
    """The layers of the functional model in a ``.keras`` file, read from its ``config.json`` and
    ``model.weights.h5`` without Keras (so any Keras version can list them)."""
    return _read_layers(Path(path), with_arrays=False)[0]


def model_layers(model) -> list[LayerRecord]:
    """The same records for a Keras model in memory."""
    return [LayerRecord(layer.__class__.__name__, layer.name, tuple(tuple(int(d) for d in w.shape)
                                                                    for w in layer.weights))
            for layer in model.layers]


def _base_name(name: str) -> str:
    """A layer name without Keras's automatic counter: ``conv2d_11`` -> ``conv2d``; ``emotion`` stays."""
    return re.sub(r"_\d+$", "", name)


def architecture_differences(saved: list[LayerRecord], rebuilt: list[LayerRecord]) -> list[str]:
    """What differs between two networks, layer by layer (empty when they match): class, weight
    shapes, and names up to Keras's automatic counters (a network built twice in one session gets
    ``conv2d_8`` where the first had ``conv2d``)."""
    out = []
    if len(saved) != len(rebuilt):
        out.append(f"{len(saved)} layers saved, {len(rebuilt)} rebuilt")
    for i, (a, b) in enumerate(zip(saved, rebuilt)):
        if (a.class_name, _base_name(a.name), a.shapes) != (b.class_name, _base_name(b.name), b.shapes):
            out.append(f"layer {i}: saved {a}, rebuilt {b}")
    return out


def resolve_builder(spec: str):
    """``"course_utils.emotion:build_model"`` -> the function.  Only the course's own modules are
    accepted: a side-car is data, not a licence to import anything."""
    module, sep, name = spec.partition(":")
    if not sep or not name.isidentifier() or not (module == "course_utils" or module.startswith("course_utils.")):
        raise ValueError(f"architecture builder must look like 'course_utils.<module>:<function>', got {spec!r}")
    return getattr(importlib.import_module(module), name)


def load_rebuilt(path: str | Path, architecture: dict):
    """Build the network that ``architecture`` (the side-car's record) describes with the installed
    Keras, check that it is the one saved in ``path`` and load the file's weights into it.

    Returns:
        The Keras model (compiled as its builder compiles it), with the saved weights.

    Raises:
        ArchitectureMismatchError: the rebuilt network differs from the saved one (the message lists
            the layers that differ), or the file is not a functional model.
        ValueError: ``architecture`` has no valid ``builder``.
    """
    path = Path(path)
    if not isinstance(architecture, dict) or "builder" not in architecture:
        raise ValueError(f"the side-car of {path.name} has no architecture builder")
    build = resolve_builder(architecture["builder"])
    saved, arrays = _read_layers(path, with_arrays=True)
    model = build(**architecture.get("kwargs", {}))
    differences = architecture_differences(saved, model_layers(model))
    if differences:
        raise ArchitectureMismatchError(
            f"{architecture['builder']}(**{architecture.get('kwargs', {})}) does not build the network saved in "
            f"{path.name}: " + "; ".join(differences[:5]) + (" ..." if len(differences) > 5 else ""))
    for layer, store in zip(model.layers, arrays):
        if store:
            layer.load_own_variables(store)
    return model


#: What Keras raises when it cannot deserialise a network that another Keras saved (unknown
#: arguments, classes or modules).  Anything else (a missing file, memory, an interrupt) is not
#: a version problem and is left alone.
DESERIALISATION_ERRORS = (TypeError, ValueError, KeyError, AttributeError)


def versions_differ(saved: dict, here: dict) -> bool:
    """Whether the Keras that saved a file (``model_files.file_versions``) is another one than this
    environment's (``model_files.runtime_versions``)."""
    return saved.get("keras") != here.get("keras")


def rebuild_from_sidecar(path: str | Path, sidecar: dict | None):
    """:func:`load_rebuilt` for a ``.keras`` file whose side-car records its ``architecture``;
    ``None`` for any other file (an ``.h5`` file, a student's model without the record).

    Raises:
        ArchitectureMismatchError: the recorded builder does not build the saved network.
    """
    path = Path(path)
    architecture = (sidecar or {}).get("architecture")
    if path.suffix != ".keras" or not architecture:
        return None
    return load_rebuilt(path, architecture)
