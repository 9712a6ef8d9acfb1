"""Lesson 06 reads each name from one place (issue 31): ``cu.*`` for the course's names, ``ident.*`` for the
lesson's own material and the few names of its parts that it reads there; identification is no second façade."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import course_utils as cu
from course_utils import embedders, gallery, own_face, verification
from course_utils import identification as ident

ROOT = Path(__file__).resolve().parents[1]
READERS = ["notebooks/06_face_identification.ipynb", "homework/hw3_face_identification/solution.ipynb",
           "homework/hw3_face_identification/template.ipynb"]


def _read_as_ident() -> set[str]:
    code = "\n".join("".join(cell["source"]) for nb in READERS
                     for cell in json.loads((ROOT / nb).read_text())["cells"] if cell["cell_type"] == "code")
    return set(re.findall(r"\bident\.([A-Za-z_]\w*)", code))


def _defined_in(module) -> set[str]:
    """The names a module defines at its top level (functions, classes, constants), not the ones it imports."""
    tree = ast.parse(Path(module.__file__).read_text())
    names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def test_identification_reexports_only_what_the_lesson_and_hw3_read_there():
    read = _read_as_ident()
    assert {"triplet_loss", "choose_backend", "kfold_verification", "own_photo_report"} <= read
    assert all(hasattr(ident, name) for name in read)
    parts = (embedders, gallery, verification, own_face)
    borrowed = {name for name in dir(ident) if not name.startswith("_")
                and any(getattr(part, name, None) is getattr(ident, name) for part in parts)
                and any(name in _defined_in(part) for part in parts)}
    assert borrowed == {"choose_backend", "find_facenet_weights", "mtcnn_box_crop", "STARTER_PEOPLE",
                        "make_sample_gallery", "own_people", "pairwise_distances", "own_photo_report",
                        "embed_paths", "kfold_verification", "show_roc", "verification_accuracy"}
    assert borrowed <= read  # nothing re-exported that no lesson reads there
    assert not borrowed & set(cu._EXPORTS)  # and no second name for a cu.* name
    for name in ("get_embedder", "Gallery", "enrol_folder", "identify", "verify_pairs", "UNKNOWN", "DlibEmbedder"):
        assert not hasattr(ident, name), name
