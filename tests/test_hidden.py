"""Hidden checks (issue 28): the answers judged again, outside the notebook's kernel, on inputs it never saw.

The fast tests read code and judge records; ``test_hw3_probes_*`` run hw3's probes (all but the enrolment, which
needs a detector) without a sandbox on the solution's answers and on dishonest ones.  The full path (sandbox,
bulk grading, feedback) is in tests/test_hostile.py.
"""
from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
import textwrap

import pytest

from course_utils import detection
from course_utils.tools import authoring, hidden
from course_utils.tools import kit as kit_module
from course_utils.tools import notebook as nbk
from course_utils.tools import sandbox as sbx
from course_utils.tools.rebuild import build_graded_notebook

WITH_SPECS = [h for h in authoring.homework_names() if (authoring.find_homework(h).path / hidden.SPEC_NAME).exists()]
needs_solutions = pytest.mark.skipif(not WITH_SPECS, reason="no hidden checks here (a student release)")


@needs_solutions
@pytest.mark.parametrize("name", WITH_SPECS)
def test_each_probe_backs_a_check_and_runs_answer_cells_of_the_solution(name):
    home = authoring.find_homework(name)
    spec = hidden.Spec.load(home.path)
    reference = nbk.read_notebook(home.reference)
    answers = {c.id for c in reference.cells if nbk.is_solution(c)}
    assert spec.probes and {p.name for p in spec.probes} <= set(nbk.expected_checks(reference))
    for probe in spec.probes:
        assert set(probe.cells) <= answers, probe.name
        compile(probe.call, probe.name, "eval")
        assert not probe.inputs or callable(getattr(_module(home), probe.inputs)), probe.name


def _module(home):
    import importlib.util

    s = importlib.util.spec_from_file_location("spec_under_test", home.path / hidden.SPEC_NAME)
    module = importlib.util.module_from_spec(s)
    s.loader.exec_module(module)
    return module


@needs_solutions
@pytest.mark.parametrize("name", WITH_SPECS)
def test_the_solutions_own_code_is_neither_a_library_call_nor_a_copy(name):
    home = authoring.find_homework(name)
    spec = hidden.Spec.load(home.path)
    answers = authoring.solution_answers(home)
    index = hidden.course_fingerprints(authoring.HOMEWORK_DIR.parent)
    assert {p.name: hidden.code_problems(p, answers, index) for p in spec.probes} == {p.name: "" for p in spec.probes}


def test_library_names_in_the_answer_code_are_found_and_its_own_names_are_not():
    probe = hidden.Probe("q4", cells=("q4-answer",), call="nms(b, s, t)", avoid=("nms", "box_iou"))
    said = hidden.code_problems(probe, {"q4-answer": "def nms(b, s, t):\n    return cu.nms(b, s, t)"}, {})
    assert "uses nms from a library" in said and "0 for this question" in said
    assert "box_iou" in hidden.code_problems(probe, {"q4-answer": "from course_utils import box_iou as f"}, {})
    own = "def nms(b, s, t):\n    box_iou = 1\n    return [box_iou]"  # its own names: not a library call
    assert hidden.code_problems(probe, {"q4-answer": own}, {}) == ""
    assert hidden.code_problems(probe, {"q4-answer": "%timeit 1\nx = (1"}, {}) == ""  # unparsable: nothing to say
    around = "ns = {}\nexec(open(cu.detection.__file__).read(), ns)\nnms = ns['nms']"  # around the tripwires
    assert hidden.code_problems(probe, {"q4-answer": around}, {}) == ""  # this probe forbids nothing at run time
    strict = dataclasses.replace(probe, forbid=("course_utils.detection:nms",))
    assert "runs code it reads" in hidden.code_problems(strict, {"q4-answer": around}, {})
    assert hidden.code_problems(strict, {"q4-answer": "import re\nPATTERN = re.compile('x')"}, {}) == ""


def test_a_renamed_copy_of_a_library_function_is_recognised_and_other_code_is_not():
    index = hidden.course_fingerprints(authoring.HOMEWORK_DIR.parent)
    source = inspect.getsource(detection.nms)
    renamed = (source.replace("def nms(", "def my_suppression(").replace("order", "todo").replace("keep", "kept")
               .replace('"""Greedy', '"""Mine: greedy'))
    probe = hidden.Probe("q4", cells=("q4-answer",), call="x")
    said = hidden.code_problems(probe, {"q4-answer": renamed}, index)
    assert "course_utils/detection.py's nms" in said and "0 for this question" in said
    changed = renamed.replace("<= iou_threshold", "< iou_threshold")  # a different rule: not a copy
    assert hidden.code_problems(probe, {"q4-answer": changed}, index) == ""


def test_tripwires_catch_every_name_of_a_forbidden_function():
    code = textwrap.dedent("""
        import numpy as np
        import course_utils as cu
        from course_utils.detection import box_iou as alias
        from course_utils.tools.probe import ForbiddenCall, install_tripwires
        calls = []
        missing = install_tripwires(["course_utils.detection:box_iou", "skimage.transform:SimilarityTransform",
                                     "course_utils.detection:no_such_function"], calls.append)
        caught = 0
        for f in (alias, cu.box_iou, getattr(cu, "box" + "_iou"), cu.detection.box_iou):
            try:
                f((0, 0, 1, 1), np.array([[0, 0, 1, 1]]))
            except ForbiddenCall:
                caught += 1
        from skimage import transform
        try:
            transform.SimilarityTransform()
        except ForbiddenCall:
            caught += 1
        print(caught, len(calls), missing)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split(None, 2) == ["5", "5", "['course_utils.detection:no_such_function']\n"], done.stderr[-800:]


def test_the_verdict_folds_hidden_checks_into_the_grade():
    probes = [hidden.Probe("q1", ("a",), "x", tol=0.01), hidden.Probe("q2", ("b",), "y"),
              hidden.Probe("q3", ("c",), "z"), hidden.Probe("q4", ("d",), "w", avoid=("box_iou",))]
    spec = hidden.Spec(probes, "")
    checks = {"q1": True, "q2": True, "q3": False, "q4": True}
    messages, flags = {"q3": "got 1, expected 2"}, []
    records = {"q1": [{"name": "q1", "value": 1.005}], "q2": [{"name": "q2", "value": [0, 0]}],
               "q3": [{"name": "q3", "value": 5}], "q4": [{"name": "q4", "value": 1}]}
    answers = {"a": "x = 1", "b": "y = [0, 0]", "c": "z = 5", "d": "w = cu.box_iou(p, q)"}
    hidden.apply(spec, answers, records, {"q1": 1.0, "q2": [1, 2], "q3": 2, "q4": 1}, {}, checks, messages, flags)
    assert checks == {"q1": True, "q2": False, "q3": False, "q4": False}
    assert messages["q2"] == f"hidden check: {hidden.NOT_HIDDEN}"
    assert messages["q3"] == "got 1, expected 2"  # failed visibly already: its own message stays
    assert "uses box_iou from a library" in messages["q4"]
    assert [f.split()[0] for f in flags] == ["q2", "q4"]
    forbidden = [{"name": "q1", "started": True}, {"name": "q1", "forbidden": "course_utils.gallery:enrol_folder"},
                 {"name": "q1", "value": 1.0}]
    assert hidden.judge(probes[0], forbidden, 1.0)[1].startswith("calls course_utils.gallery.enrol_folder")
    assert not hidden.judge(probes[0], [{"name": "q1", "started": True}], 1.0)[0]  # crashed: no answer


HW3 = "hw3_face_identification"


@pytest.fixture(scope="module")
def hw3_kit():
    if HW3 not in WITH_SPECS:
        pytest.skip("no hidden checks here (a student release)")
    kit = kit_module.Kit.load(authoring.find_homework(HW3))
    kit.hidden_spec = dataclasses.replace(kit.hidden_spec, probes=[p for p in kit.hidden_spec.probes if p.name != "q1"])
    return kit


def _hw3_run(kit, changes: dict[str, str]):
    graded, _, _ = build_graded_notebook(kit.reference, kit.reference)
    answers = hidden.answer_sources(graded) | changes
    return kit_module.run_hidden(kit, answers, sandbox=sbx.Sandbox("none", "test"), timeout=300)


@pytest.mark.slow
def test_hw3_probes_pass_the_solution_and_fail_each_attack(hw3_kit):
    reference, error = _hw3_run(hw3_kit, {})
    values, problems = hidden.reference_values(hw3_kit.hidden_spec, reference)
    assert (error, problems) == ("", []) and set(values) == {"q2", "q3", "q4", "q5"}
    lesson = authoring.HOMEWORK_DIR.parent / "notebooks" / "06_face_identification.ipynb"
    pasted = next(c.source for c in nbk.read_notebook(lesson).cells if "def my_triplet_kinds(" in c.source)
    attacks = {
        "zero gallery": {"q2-answer": ("gallery = cu.Gallery(gallery.names, np.zeros_like(gallery.embeddings), "
                                       "gallery.backend)\nperson_distances = np.zeros((len(gallery), len(gallery)))")},
        "library": {"q3-answer": ("def nearest_name(query, names, embeddings, threshold):\n"
                                  "    g = cu.Gallery(list(names), np.asarray(embeddings), 'dlib')\n"
                                  "    name, d, _ = getattr(g, 'sea' + 'rch')(np.asarray(query)[None], threshold)[0]\n"
                                  "    return name, d"),
                    "q4-answer": "triplet_loss = getattr(ident, 'triplet' + '_loss')",
                    "q5-answer": ("def verification_accuracy(d, same, t):\n    return ident.verification_accuracy(d, same, t)\n"
                                  "def kfold_accuracy(d, same, folds, candidates):\n    return []")},
        "pasted lesson": {"q4-answer": pasted.replace("my_triplet_kinds", "triplet_loss")},
    }
    expected = {"zero gallery": {"q2": hidden.NOT_HIDDEN},
                "library": {"q3": "calls course_utils.gallery.Gallery.search",
                            "q4": "calls course_utils.identification.triplet_loss",
                            "q5": "uses verification_accuracy from a library"},
                "pasted lesson": {"q4": "06_face_identification's my_triplet_kinds"}}
    for name, changes in attacks.items():
        records, error = _hw3_run(hw3_kit, changes)
        assert error == "", name
        checks = {q: True for q in values}
        messages, flags = {}, []
        graded, _, _ = build_graded_notebook(hw3_kit.reference, hw3_kit.reference)
        hidden.apply(hw3_kit.hidden_spec, hidden.answer_sources(graded) | changes, records, values,
                     hw3_kit.fingerprints, checks, messages, flags)
        assert sorted(q for q, ok in checks.items() if not ok) == sorted(expected[name]), (name, messages)
        for q, said in expected[name].items():
            assert said in messages[q], (name, q, messages[q])


@pytest.mark.slow
def test_one_probes_code_cannot_write_another_probes_result():
    # the runner writes its output when no child is left, and cannot be attached to (not dumpable): an answer that
    # writes a forged record for a later question into every descriptor and into its parent's does not reach it
    if "hw0_face_detection" not in WITH_SPECS:
        pytest.skip("no hidden checks here (a student release)")
    kit = kit_module.Kit.load(authoring.find_homework("hw0_face_detection"))
    kit.hidden_spec = dataclasses.replace(kit.hidden_spec, probes=[p for p in kit.hidden_spec.probes
                                                                   if p.name in ("q2", "q5")])
    forged = ("import json, os\n"
              "line = (json.dumps({'name': 'q5', 'value': 'forged'}) + '\\n').encode()\n"
              "for fd in range(3, 64):\n"
              "    try:\n        os.write(fd, line)\n    except OSError:\n        pass\n"
              "for fd in (1, 2):\n"
              "    try:\n"
              "        with open(f'/proc/{os.getppid()}/fd/{fd}', 'wb') as f:\n            f.write(line)\n"
              "    except OSError:\n        pass\n"
              "def iou(a, b):\n    return 0.0\n")
    graded, _, _ = build_graded_notebook(kit.reference, kit.reference)
    answers = hidden.answer_sources(graded) | {"q2-answer": forged, "q5-answer": "..."}
    records, error = kit_module.run_hidden(kit, answers, sandbox=sbx.Sandbox("none", "test"), timeout=300)
    assert error == "" and not any(r.get("value") == "forged" for r in records.get("q5", [])), records.get("q5")
    assert hidden.outcome(records["q5"])[0] == "error"  # its own answer: the stub defines no similarity
