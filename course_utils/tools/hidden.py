"""Hidden checks: the answers judged on inputs the notebook never saw, outside its kernel (issue 28).

A check cell runs in the student's kernel, on inputs the student can read, and the kernel can be made to
print or record anything.  So each homework may also have **hidden checks**, in the instructor-only file
``homework/<hw>/hidden_checks.py`` (never in a student release: :mod:`.release`), a list ``PROBES`` of
:class:`Probe`.  After the notebook has run, the grader:

1. reads the submission's answer cells, and flags and fails a question whose own answer code uses a library
   function that the question asks the student to write (:attr:`Probe.avoid`, read from the code) or is a
   copy of a lesson's or the library's function under other names (:func:`copies`);
2. runs every probe in a **new process of the sandbox** (:mod:`.probe`; the notebook's kernel is gone): each
   probe in a child of its own makes fresh inputs from this grading's **secret seed**, turns the forbidden
   library functions into tripwires, runs the answer cells the probe names on those inputs and sends back
   the value of :attr:`Probe.call`;
3. judges those values **in the grader's own process** against the reference solution's values on the same
   inputs (run once per kit, same sandbox, same seed), with :func:`course_utils.homework.matches`.

A question passes only if its visible check and its hidden check both pass.  What this adds: a checker
replaced in the kernel, a forged record, an input swapped for one that makes the check trivial, or expected
values pasted as answers all pass the visible check and fail the hidden one (the hidden inputs are new,
and the answer code runs without the notebook's other cells); a library call is caught twice, in the code and
when it runs.  What it cannot see: code that computes the right answer in a way nobody has listed.
"""
from __future__ import annotations

import ast
import json
import os
import re
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

from .. import homework as hw
from ..text import clip
from . import notebook as nbk

#: The instructor-only file of a homework's hidden checks.
SPEC_NAME = "hidden_checks.py"
#: Longest the probe's output may be (read up to here).
MAX_OUTPUT_BYTES = 8_000_000
NOT_HIDDEN = ("gives other values than the reference on inputs the notebook never saw, although its visible "
              "check passed: are values hard-coded, an input replaced, or does the code only work for the "
              "notebook's own inputs?")


@dataclass(frozen=True)
class Probe:
    """One hidden check.

    Attributes:
        name: the visible check it backs (``"q2"``).
        cells: the answer cells (ids) run, in order; the last one is the question's own.
        call: a Python expression evaluated after them, e.g. ``"[iou(a, b) for a, b in pairs]"``.
        inputs: the name of a function of the spec module, ``rng -> {name: value}``: the hidden inputs,
            put in the namespace before the answer cells run.
        setup: code run first (imports the notebook's setup cells make).
        tol: absolute tolerance of the comparison with the reference's value.
        forbid: ``"module:attr"`` functions the question asks the student to write: tripwires while it runs.
        avoid: attribute or imported names the question's own answer code must not use (``box_iou``).
        timeout: seconds the probe may take (its inputs included).
    """

    name: str
    cells: tuple[str, ...]
    call: str
    inputs: str = ""
    setup: str = "import numpy as np\nimport course_utils as cu\n"
    tol: float = 0.0
    forbid: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    timeout: float = 120.0

    def to_json(self) -> dict:
        return {"name": self.name, "cells": list(self.cells), "call": self.call, "inputs": self.inputs,
                "setup": self.setup, "forbid": list(self.forbid), "timeout": self.timeout}


@dataclass
class Spec:
    """A homework's hidden checks: its probes and the file's text (run inside the sandbox)."""

    probes: list[Probe]
    text: str
    preload: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> "Spec | None":
        """The hidden checks of the homework in ``folder``; None where it has none (a student release)."""
        path = folder / SPEC_NAME
        if not path.is_file() or path.is_symlink():
            return None
        text = path.read_text(encoding="utf-8")
        module = types.ModuleType(f"_course_hidden_{folder.name}")
        module.__file__ = str(path)
        exec(compile(text, str(path), "exec"), module.__dict__)  # noqa: S102 - the instructor's file; no bytecode
        # is written beside it (a __pycache__ in homework/ would change the reference's cache key)
        probes = list(getattr(module, "PROBES", []))
        if not all(isinstance(p, Probe) for p in probes) or len({p.name for p in probes}) != len(probes):
            raise ValueError(f"{path}: PROBES must be a list of Probe with distinct names")
        return cls(probes, text, list(getattr(module, "PRELOAD", [])))


# ---- reading the answer code ------------------------------------------------------------------------

def used_names(source: str) -> set[str]:
    """The attribute names and imported names in ``source`` (empty when it does not parse)."""
    try:
        tree = nbk.parse_code(source)
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {part for a in node.names for part in a.name.split(".")}
    return found


class _Canonical(ast.NodeTransformer):
    """Every variable, argument and function name replaced by ``v0, v1, ...`` in order of first use, docstrings
    dropped: two functions that differ only in names and comments give the same dump."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._name(node.id), ctx=node.ctx), node)

    def visit_arg(self, node):
        node.arg, node.annotation = self._name(node.arg), None
        return node

    def _function(self, node):
        if isinstance(node, ast.Lambda):
            self.generic_visit(node)
            return node
        node.name, node.returns = self._name(node.name), None
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function


#: Code that runs other code: on a question that forbids library functions, a way around the tripwires.
RUNS_CODE = re.compile(r"(?<![\w.])(exec|eval|compile|__import__)\s*\(|\brunpy\b|\bimportlib\b|\bimp\b")
#: A function shorter than this (AST nodes) is not compared: one-liners are written the same way by everyone.
MIN_COPY_NODES = 40


def function_fingerprints(source: str) -> dict[str, str]:
    """``{canonical dump: function name}`` for every function of ``source`` with at least
    :data:`MIN_COPY_NODES` nodes."""
    try:
        tree = nbk.parse_code(source)
    except SyntaxError:
        return {}
    found = {}
    for node in ast.walk(tree):
        big = sum(1 for _ in ast.walk(node)) >= MIN_COPY_NODES
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and big:
            import copy

            found[ast.dump(_Canonical().visit(copy.deepcopy(node)), annotate_fields=False)] = node.name
    return found


def course_fingerprints(root: Path) -> dict[str, str]:
    """``{canonical dump: where}`` for the functions of the lessons (``notebooks/*.ipynb``) and of the library:
    what a student could paste instead of writing the answer."""
    import nbformat

    index: dict[str, str] = {}
    for path in sorted((root / "course_utils").rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for dump, name in function_fingerprints(text).items():
            index.setdefault(dump, f"{path.relative_to(root)}'s {name}")
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:  # noqa: BLE001 - a lesson that does not read has nothing to compare
            continue
        for num, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                for dump, name in function_fingerprints(cell.source).items():
                    index.setdefault(dump, f"{path.stem}'s {name} (cell {num})")
    return index


def code_problems(probe: Probe, answers: dict[str, str], index: dict[str, str]) -> str:
    """Why the question's own answer code is not the student's work ('' when nothing is found)."""
    own = answers.get(probe.cells[-1]) or ""
    used = sorted(used_names(own) & set(probe.avoid))
    if used:
        return (f"uses {', '.join(used)} from a library, which this question asks you to write yourself "
                "(0 for this question)")
    if probe.forbid and RUNS_CODE.search(own):  # a way around the tripwires: re-executing a library's source
        return ("runs code it reads or builds (exec, eval, compile, importlib, runpy, __import__): a question "
                "that asks you to write a function needs none of them (0 for this question)")
    for dump, name in function_fingerprints(own).items():
        if dump in index:
            return f"{name} is {index[dump]} with other names: write your own (0 for this question)"
    return ""


# ---- running the probes -----------------------------------------------------------------------------

def run(spec: Spec, answers: dict[str, str], seed: int, *, lib: Path, folder: Path, sandbox, env: dict[str, str],
        timeout: float, homework: str) -> tuple[dict[str, list[dict]], str]:
    """Run every probe of ``spec`` on ``answers`` in ``folder`` (made here, handed to the sandbox's user), with
    ``lib`` as the library; return the records by probe name and the run's error ('' when it ran)."""
    from . import nbrun

    folder.mkdir()
    module = f"hidden_{homework}".replace("-", "_")
    (folder / f"{module}.py").write_text(spec.text, encoding="utf-8")
    job = {"module": module, "seed": seed, "answers": answers, "preload": spec.preload,
           "probes": [p.to_json() for p in spec.probes]}
    (folder / "probe_in.json").write_text(json.dumps(job), encoding="utf-8")
    cmd = [sys.executable, "-m", "course_utils.tools.probe"]
    limit = min(timeout, sum(p.timeout for p in spec.probes) + 60)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code, error = nbrun.run_sandboxed(cmd, work=folder, lib=lib, sandbox=sandbox, env=env, timeout=limit,
                                          stdout=out, stderr=err)
        out.seek(0)
        data = out.read(MAX_OUTPUT_BYTES)
        err.seek(0)
        err_text = err.read(4000).decode("utf-8", "replace")
    records: dict[str, list[dict]] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("name"), str):
            records.setdefault(rec["name"], []).append(rec)
    if error:
        error = error.replace("the notebook did not", "the hidden checks did not")
    elif code != 0:
        last = (err_text.strip().splitlines() or [f"exit status {code}"])[-1]
        error = f"the hidden checks' runner stopped ({clip(last, 150)})"
    return records, error


def outcome(records: list[dict]) -> tuple[str, object]:
    """``(kind, what)`` of one probe's records: ``forbidden`` (the target), ``error`` (the text),
    ``setup_error``, ``value`` (the value) or ``none``."""
    for rec in records:
        if "forbidden" in rec:
            return "forbidden", str(rec["forbidden"])
    for kind in ("setup_error", "error", "value"):
        for rec in records:
            if kind in rec:
                return kind, rec[kind]
    return "none", None


def reference_values(spec: Spec, records: dict[str, list[dict]]) -> tuple[dict[str, object], list[str]]:
    """The reference's value of each probe, and why any probe has none (then it is not used)."""
    values, problems = {}, []
    for probe in spec.probes:
        kind, what = outcome(records.get(probe.name, []))
        if kind == "value":
            values[probe.name] = what
        else:
            problems.append(f"{probe.name}: the reference solution's hidden check gave {kind} {clip(str(what), 120)}")
    return values, problems


def judge(probe: Probe, records: list[dict], reference: object) -> tuple[bool, str]:
    """Whether the submission's hidden check passes, and what to tell the student when it does not."""
    kind, what = outcome(records)
    if kind == "forbidden":
        return False, (f"calls {what.replace(':', '.')}, which this question asks you to write yourself "
                       "(0 for this question)")
    if kind == "error":
        text = str(what)
        if text.startswith("ForbiddenCall"):
            return False, f"calls a library function this question asks you to write ({clip(text, 150)})"
        return False, f"on inputs the notebook never saw, your answer raised {clip(text, 200)}"
    if kind in ("none", "setup_error"):
        return False, "the hidden check got no answer from your code (it crashed or took too long)"
    if hw.matches(what, reference, probe.tol):
        return True, ""
    return False, NOT_HIDDEN


def apply(spec: Spec, answers: dict[str, str], records: dict[str, list[dict]], reference: dict[str, object],
          index: dict[str, str], checks: dict[str, bool], messages: dict[str, str], flags: list[str]) -> None:
    """Fold the hidden checks into the grade: a question passes only if its hidden check passes too; a library
    call or copied code fails it whatever the checks say."""
    for probe in spec.probes:
        if probe.name not in checks:
            continue
        why = code_problems(probe, answers, index)
        if not why and probe.name in reference:
            ok, why = judge(probe, records.get(probe.name, []), reference[probe.name])
            if ok or (not checks[probe.name] and "0 for this question" not in why):
                continue  # passed; or failed already, with a message that says more
        elif not why:
            continue
        checks[probe.name], messages[probe.name] = False, f"hidden check: {why}"
        flags.append(f"{probe.name} {why}")


def answer_sources(graded) -> dict[str, str]:
    """The answer cells of a graded notebook, by cell id."""
    return {c.get("id"): nbk.cell_source(c) for c in graded.cells if nbk.is_solution(c) and c.get("id")}


def secret_seed() -> int:
    """A seed nobody can guess in advance (one per kit: every submission of a bulk run gets the same inputs)."""
    return int.from_bytes(os.urandom(8), "little") >> 1
