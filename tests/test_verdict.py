"""The verdict outside the student's interpreter (issue 16): what cu.check records, and how the
grader's own process judges the records against the reference's."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from course_utils import homework as hw
from course_utils.tools import verdict


@pytest.fixture
def record(tmp_path, monkeypatch):
    path = tmp_path / verdict.RECORD_NAME
    monkeypatch.setenv(hw.RECORD_ENV, str(path))
    return path


def test_check_records_what_it_was_given_as_plain_json(record):
    hw.check("q1", lambda: np.array([1.5, 2.0], np.float32), expected=(1.5, 2.0))
    hw.check("q2", (3, "a", None, {"k": np.int64(4)}))
    with pytest.raises(hw.CheckFailed):
        hw.check("q3", lambda: 1 / 0, expected=1)
    with pytest.raises(hw.CheckFailed):
        hw.check("q4", object, expected=1)  # a class is callable: called, gives an unexportable object
    found, problems = verdict.read_records(record)
    assert problems == []
    assert found["q1"] == [{"name": "q1", "value": [1.5, 2.0], "expected": [1.5, 2.0], "tol": 0}]
    assert found["q2"] == [{"name": "q2", "value": [3, "a", None, {"k": 4}], "tol": 0}]  # a condition: no expected
    assert found["q3"] == [{"name": "q3", "error": "ZeroDivisionError: division by zero"}]
    assert found["q4"][0]["value"] == {"unexportable": "object"}


def test_check_records_nothing_outside_grading(tmp_path, monkeypatch):
    monkeypatch.delenv(hw.RECORD_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    hw.check("q1", 1, expected=1)
    assert list(tmp_path.iterdir()) == []


def test_read_records_survives_junk_links_and_floods(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    path.write_text('{"name": "q1", "value": 1}\nnot json\n[1, 2]\n{"value": 2}\n{"name": "q1", "value": 3}\n')
    found, problems = verdict.read_records(path)
    assert [r["value"] for r in found["q1"]] == [1, 3] and problems == ["3 line(s) of the check record are not records"]
    assert verdict.read_records(tmp_path / "missing.jsonl") == ({}, [])
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)
    found, problems = verdict.read_records(link)
    assert found == {} and "could not be read" in problems[0]
    monkeypatch.setattr(verdict, "MAX_RECORD_BYTES", 40)
    found, problems = verdict.read_records(path)
    assert [r["value"] for r in found["q1"]] == [1] and "over 40 bytes" in problems[0]


REFERENCE = {"q1": {"name": "q1", "value": [4, 2], "expected": [4, 2], "tol": 0},
             "q2": {"name": "q2", "value": [0.5, 0.25], "expected": [0.5, 0.25], "tol": 1e-6},
             "q3": {"name": "q3", "value": True, "tol": 0}}


@pytest.mark.parametrize("value, ok", [([0.5, 0.25], True), ([0.5000001, 0.25], True), ([0.5, 0.26], False),
                                       ([], False), ([0.5, 0.25, 1.0], False), ([float("nan"), 0.25], False),
                                       ({"unexportable": "function"}, False), ("0.5, 0.25", False)])
def test_judge_uses_the_references_expected_value_and_tolerance(value, ok):
    # the record's own "expected" and "tol" are the student's kernel's word: ignored
    assert verdict.judge({"name": "q2", "value": value, "expected": value, "tol": 1e9}, REFERENCE["q2"])[0] is ok


def test_judge_conditions_and_errors():
    assert verdict.judge({"value": [1]}, REFERENCE["q3"]) == (True, "")
    assert verdict.judge({"value": 0}, REFERENCE["q3"])[0] is False
    assert verdict.judge({"value": {"unexportable": "x"}}, REFERENCE["q3"])[0] is False
    assert verdict.judge({"error": "NameError: x"}, REFERENCE["q1"]) == (False, "computing the answer raised NameError: x")
    assert verdict.judge({}, REFERENCE["q1"]) == (False, "no value was recorded")


def test_apply_fails_and_flags_a_pass_the_records_do_not_back():
    checks = {"q1": True, "q2": True, "q3": True, "q4": False}
    messages, flags = {"q4": "q4: FAIL - got 1"}, []
    records = {"q1": [{"name": "q1", "value": [4, 2]}],                       # matches
               "q2": [{"name": "q2", "value": [], "expected": [], "tol": 0}],  # inputs emptied in the kernel
               # q3: printed PASS, recorded nothing (the checker was replaced)
               "q4": [{"name": "q4", "value": [1]}]}
    verdict.apply(checks, messages, flags, records, REFERENCE | {"q4": REFERENCE["q1"]})
    assert checks == {"q1": True, "q2": False, "q3": False, "q4": False}
    assert "does not match the reference" in messages["q2"] and messages["q3"] == verdict.NO_VALUE
    assert messages["q4"] == "q4: FAIL - got 1"  # failed in the kernel: its own message stays
    assert len(flags) == 2 and flags[0].startswith("q2 printed PASS") and flags[1].startswith("q3 printed PASS")


def test_apply_judges_the_last_record_and_flags_repeats():
    checks, messages, flags = {"q1": True}, {}, []
    records = {"q1": [{"name": "q1", "value": [9, 9]}, {"name": "q1", "value": [4, 2]}]}
    verdict.apply(checks, messages, flags, records, REFERENCE)
    assert checks == {"q1": True} and flags == ["q1 was checked 2 times (its cell checks it once): the last value was judged"]
    checks = {"q1": True}
    verdict.apply(checks, {}, [], {"q1": records["q1"][::-1]}, REFERENCE)
    assert checks == {"q1": False}


def test_without_a_reference_value_the_kernel_decides():
    checks = {"q9": True}
    verdict.apply(checks, {}, [], {}, REFERENCE)
    assert checks == {"q9": True}


def test_reference_values_need_exactly_one_clean_record_each():
    records = {"q1": [{"name": "q1", "value": 1, "expected": 1}], "q2": [{"name": "q2", "value": 1}] * 2,
               "q3": [{"name": "q3", "error": "x"}]}
    refs, missing = verdict.reference_values(records, ["q1", "q2", "q3", "q4"])
    assert list(refs) == ["q1"] and missing == ["q2", "q3", "q4"]


def test_a_record_file_is_json_lines_a_human_can_read(record):
    hw.check("q1", 2.0, expected=2, tol=0.5)
    assert json.loads(record.read_text().splitlines()[0]) == {"name": "q1", "value": 2.0, "expected": 2, "tol": 0.5}
    assert os.environ[hw.RECORD_ENV] == str(record)
