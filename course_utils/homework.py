"""Homework notebooks: one solution notebook is the source of truth (issue 3).

A homework lives in ``homework/<name>/``:

* ``solution.ipynb``: the instructor's notebook, executed, with the reference outputs stored;
* ``template.ipynb``: what students fork, *generated* from the solution by :func:`make_template`
  (``python3 course.py grade make-template <name>``) and checked for drift by the tests.

Cells carry tags (Jupyter: View > Right Sidebar > Property Inspector, or cell metadata):

* ``solution``: an answer cell.  In the template its code becomes a stub::

      # YOUR CODE HERE
      raise NotImplementedError()

  If the cell has ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines, only the lines between
  them are replaced (the rest, e.g. ``img = cu.load_sample(SAMPLE)``, stays as a head start).
* ``check``: a check cell.  It calls :func:`check` once, which prints exactly ``q1: PASS`` or
  raises :class:`CheckFailed` with a hint.  The check's name is read from the cell's *source*
  (the first argument of ``cu.check``); the solution's stored output must agree (validated), and
  grading expects exactly ``<name>: PASS`` from it.

Every output is cleared in the template: a template that showed ``q1: PASS`` under an unanswered
question would pretend, and a notebook saved by JupyterLab's autosave loses those outputs anyway,
so nothing ever reads check names from a student's or a template's stored outputs.  Grading lives
in :mod:`course_utils.grading`.
"""
from __future__ import annotations

import ast
import copy
import json
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .env import REPO_ROOT

SOLUTION_TAG = "solution"
CHECK_TAG = "check"
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
MARKDOWN_STUB = "YOUR ANSWER HERE"
HOMEWORK_DIR = REPO_ROOT / "homework"
SOLUTION_NAME = "solution.ipynb"
TEMPLATE_NAME = "template.ipynb"
#: What a passing check prints, exactly (``q1: PASS``).
PASS_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+): PASS$")
#: Set by the grader: the file where :func:`check` writes each value it was given (one JSON line per
#: call), judged afterwards by the grader's own process (:mod:`course_utils.verdict`).
RECORD_ENV = "COURSE_CHECK_RECORD"
#: Cell and notebook metadata that changes on every run and has no place in a template.
VOLATILE_METADATA = ("execution", "papermill", "collapsed", "scrolled", "ExecuteTime")

# ------------------------------------------------------------------------------ the checker


class CheckFailed(AssertionError):
    """A homework check did not pass.  The message says what was found, what was expected,
    and what to do (the hint).  In a notebook it is shown without a long traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython: show only the message
        return [f"CheckFailed: {self}"]


_MISSING = object()


def _plain(value: Any) -> Any:
    """NumPy scalars/arrays and tuples as plain Python, for messages and comparisons."""
    if hasattr(value, "tolist") and callable(value.tolist):
        try:
            return value.tolist()
        except Exception:  # not a NumPy object after all
            return value
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    return value


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, (tuple, list)):
        return type(value)(_rounded(v) for v in value)
    return value


def _short(value: Any, limit: int = 80) -> str:
    """A value for a message: plain Python, floats to 2 decimals, at most ``limit`` characters."""
    text = repr(_rounded(_plain(value)))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _matches(value: Any, expected: Any, tol: float) -> bool:
    """Equal, with numbers within ``tol``; sequences (lists, tuples, shapes, arrays) compared
    element by element and must have the same length."""
    value, expected = _plain(value), _plain(expected)
    if _is_number(expected):
        return _is_number(value) and math.isfinite(value) and abs(value - expected) <= tol
    if isinstance(expected, (tuple, list)):
        return (isinstance(value, (tuple, list)) and len(value) == len(expected)
                and all(_matches(v, e, tol) for v, e in zip(value, expected)))
    return type(value) is type(expected) and value == expected


def check(name: str, value: Any, expected: Any = _MISSING, *, tol: float = 0, hint: str = "") -> None:
    """Check one homework answer: print exactly ``<name>: PASS`` or raise :class:`CheckFailed`.

    Args:
        name: the check's name, e.g. ``"q1"`` (letters, digits, ``_ . -``).
        value: what the student computed, or a function of no arguments returning it (then a
            missing variable or an error while computing becomes a failed check with the
            hint, not a bare ``NameError``).
        expected: the expected value.  Numbers match within ``tol``; tuples and lists (shapes,
            points, nested lists; NumPy values are converted) element by element.  Leave it
            out to check a condition: ``value`` must then be true.
        tol: absolute tolerance for every number compared.
        hint: what the student should do when the check fails (shown in the message).

    Only ``PASS`` lines are printed, so the output is the same for every correct solution,
    whatever its rounding, and nbval can compare it with the reference.
    """
    if not isinstance(name, str) or not PASS_LINE.match(f"{name}: PASS"):
        raise ValueError(f"a check name is letters, digits and _ . - (like 'q1'), got {name!r}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    tail = f" Hint: {hint}" if hint else ""
    if callable(value) and not hasattr(value, "shape"):
        try:
            value = value()
        except Exception as exc:  # the student's code raised: report it as a failed check
            what = f"{type(exc).__name__}: {exc}"
            _record(name, error=what)
            todo = (" Run the answer cells above this one first (Run > Run All Above Selected Cell)."
                    if isinstance(exc, NameError) else "")
            raise CheckFailed(f"{name}: FAIL - computing your answer raised {what}.{todo}{tail}") from None
    _record(name, value=value, expected=expected, tol=tol)
    if expected is _MISSING:
        ok = bool(value)
        found = f"the condition is {_short(value)}"
    else:
        ok = _matches(value, expected, tol)
        plus = f" (± {tol:g})" if tol else ""
        found = f"got {_short(value)}, expected {_short(expected)}{plus}"
    if not ok:
        raise CheckFailed(f"{name}: FAIL - {found}.{tail}")
    print(f"{name}: PASS")


def exportable(value: Any) -> Any:
    """``value`` as plain JSON data (NumPy values, tuples and sets become lists; dict keys
    strings); ``{"unexportable": type}`` for what has no plain form (a function, a model)."""
    value = _plain(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [exportable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): exportable(v) for k, v in value.items()}
    return {"unexportable": type(value).__name__}


def _record(name: str, **fields: Any) -> None:
    """Append what :func:`check` was given to the grader's record file, when grading set one."""
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    if fields.get("expected", None) is _MISSING:
        del fields["expected"]
    line = {"name": name} | {k: exportable(v) for k, v in fields.items()}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, allow_nan=True) + "\n")


# ------------------------------------------------------------------------------ notebooks


def cell_tags(cell) -> list[str]:
    """A cell's tags; none where its metadata or tags are malformed (a damaged notebook)."""
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    tags = meta.get("tags", []) if isinstance(meta, dict) else []
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def is_solution(cell) -> bool:
    return SOLUTION_TAG in cell_tags(cell)


def is_check(cell) -> bool:
    return cell.get("cell_type") == "code" and CHECK_TAG in cell_tags(cell)


def _text(output) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    data = output.get("data", {})
    return data.get("text/plain", "") if isinstance(data, dict) else ""


def output_check_names(cell) -> list[str]:
    """The names of the checks a check cell passed in its *stored outputs* (``q1: PASS``).
    Only used to validate an executed solution: stored outputs of a template or a submission
    prove nothing (JupyterLab's autosave clears or rewrites them)."""
    lines = "".join(_text(o) for o in cell.get("outputs", [])).splitlines()
    return [m["name"] for m in map(PASS_LINE.match, lines) if m]


def _is_check_call(node: ast.AST) -> bool:
    func = getattr(node, "func", None)
    return isinstance(node, ast.Call) and (
        (isinstance(func, ast.Attribute) and func.attr == "check") or (isinstance(func, ast.Name) and func.id == "check"))


#: ast.parse is not thread-safe in CPython 3.11 before 3.11.8 ("SystemError: AST constructor recursion depth
#: mismatch", gh-106905), and bulk grading reads check names from several threads.
_AST_LOCK = threading.Lock()


def check_names(cell) -> list[str]:
    """The names of the checks a check cell runs, read from its source: the first argument (or
    ``name=``) of each ``cu.check(...)`` call that is a string literal, in source order.
    A source that does not parse, or a name that is not a literal, gives no name (and
    :func:`validate_solution` refuses such a solution)."""
    try:
        with _AST_LOCK:
            tree = ast.parse(_source(cell))
    except (SyntaxError, ValueError):
        return []
    names = []
    for node in sorted((n for n in ast.walk(tree) if _is_check_call(n)), key=lambda n: (n.lineno, n.col_offset)):
        arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and PASS_LINE.match(f"{arg.value}: PASS"):
            names.append(arg.value)
    return names


def pass_output(names: list[str]):
    """The output a check cell must print when all its checks pass (what grading compares with)."""
    import nbformat

    return [nbformat.v4.new_output("stream", name="stdout", text="".join(f"{n}: PASS\n" for n in names))]


class NotebookError(ValueError):
    """A cell whose fields are not what nbformat promises (a ``source`` that is a number, ...)."""


def _source(cell) -> str:
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    if isinstance(src, str):
        return src
    raise NotebookError(f"cell {cell.get('id', '?')} has a source that is not text "
                        f"({type(src).__name__}); open the notebook in Jupyter and save it again")


def stub_source(source: str) -> str:
    """The template's version of a solution cell's code (see the module docstring)."""
    lines = source.splitlines()
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN_SOLUTION]
    if not begins:
        return "\n".join(STUB)
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip() != BEGIN_SOLUTION:
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out.extend(indent + s for s in STUB)
        i += 1
        while i < len(lines) and lines[i].strip() != END_SOLUTION:
            i += 1
        i += 1  # skip the END line (or run off the end: an unclosed block ends the cell)
    return "\n".join(out)


def _clean_metadata(meta) -> None:
    for key in VOLATILE_METADATA:
        meta.pop(key, None)


def make_template(solution_nb):
    """The student template of a solution notebook (a new notebook; the input is unchanged).

    Solution cells become stubs, every output and execution count is cleared (check cells too:
    a template must not show ``q1: PASS`` under an unanswered question), volatile metadata
    (papermill, timings) is dropped.  Cell ids are kept, which is how
    grading finds a student's answers again.
    """
    nb = copy.deepcopy(solution_nb)
    _clean_metadata(nb.metadata)
    for cell in nb.cells:
        _clean_metadata(cell.metadata)
        if cell.cell_type == "code":
            if is_solution(cell):
                cell.source = stub_source(_source(cell))
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown" and is_solution(cell):
            cell.source = MARKDOWN_STUB
    return nb


def validate_solution(nb) -> list[str]:
    """Problems that make a solution notebook unusable as a grading reference (empty: fine)."""
    problems, names = [], []
    cells = nb.cells
    if not any(is_solution(c) for c in cells):
        problems.append(f"no cell is tagged {SOLUTION_TAG!r}")
    if not any(is_check(c) for c in cells):
        problems.append(f"no cell is tagged {CHECK_TAG!r}")
    for i, cell in enumerate(cells):
        where = f"cell {i} (id {cell.get('id', '?')})"
        if "id" not in cell:
            problems.append(f"{where} has no id: save the notebook with Jupyter (nbformat >= 4.5)")
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            problems.append(f"{where} raised {errors[0].get('ename')}: re-run the solution")
        if is_check(cell):
            found, printed = check_names(cell), output_check_names(cell)
            if len(found) != 1:
                problems.append(f"{where} is a check cell that should call cu.check once with a literal name "
                                f"(cu.check(\"q1\", ...)), found {len(found)} such calls")
            if cell.get("execution_count") is None:
                problems.append(f"{where} is a check cell that was not executed: run the solution")
            elif printed != found:
                problems.append(f"{where} is a check cell whose output should be exactly "
                                f"{' '.join(n + ': PASS' for n in found) or 'one NAME: PASS line'}, found "
                                f"{len(printed)} PASS line(s): re-run the solution")
            names += found
            if is_solution(cell):
                problems.append(f"{where} is tagged both {SOLUTION_TAG!r} and {CHECK_TAG!r}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"check names used twice: {', '.join(dupes)}")
    return problems


def _read(path: Path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def _dumps(nb) -> str:
    import nbformat

    return nbformat.writes(nb) + "\n"


def write_template(solution_path: str | Path, template_path: str | Path | None = None) -> Path:
    """Generate the template next to the solution (or at ``template_path``) and return its path.

    Raises:
        ValueError: the solution is not a usable reference (see :func:`validate_solution`).
    """
    solution_path = Path(solution_path)
    nb = _read(solution_path)
    problems = validate_solution(nb)
    if problems:
        raise ValueError(f"{solution_path} is not ready to make a template from:\n- " + "\n- ".join(problems))
    out = Path(template_path) if template_path else solution_path.with_name(TEMPLATE_NAME)
    out.write_text(_dumps(make_template(nb)), encoding="utf-8")
    return out


def check_drift(solution_path: str | Path, template_path: str | Path) -> list[str]:
    """Differences between a committed template and the one its solution generates (empty: none).

    Each item names the cell and what differs; the fix is always to regenerate the template
    (``python3 course.py grade make-template HOMEWORK``) rather than to edit it by hand.
    """
    solution_path, template_path = Path(solution_path), Path(template_path)
    if not template_path.exists():
        return [f"{template_path} is missing"]
    want = make_template(_read(solution_path))
    try:
        have = _read(template_path)
    except Exception as exc:  # not JSON, not a notebook
        return [f"{template_path} is not a readable notebook: {exc}"]
    problems = []
    if len(want.cells) != len(have.cells):
        problems.append(f"the template has {len(have.cells)} cells, the solution generates {len(want.cells)}")
    for i, (w, h) in enumerate(zip(want.cells, have.cells)):
        where = f"cell {i} (id {w.get('id', '?')})"
        for key, label in (("cell_type", "type"), ("id", "id"), ("source", "source")):
            if w.get(key) != h.get(key):
                problems.append(f"{where}: {label} differs")
        if cell_tags(w) != cell_tags(h):
            problems.append(f"{where}: tags differ ({cell_tags(h)} instead of {cell_tags(w)})")
        if w.cell_type == "code" and json.dumps(w.get("outputs", []), sort_keys=True) != json.dumps(
                h.get("outputs", []), sort_keys=True):
            problems.append(f"{where}: stored outputs differ")
    if not problems and _dumps(want) != template_path.read_text(encoding="utf-8"):
        problems.append("metadata or formatting differs")
    if problems:
        problems.append(f"regenerate it: python3 course.py grade make-template {solution_path.parent}")
    return problems


# ------------------------------------------------------------------------------ homework folders


@dataclass(frozen=True)
class Homework:
    """A homework folder: ``solution.ipynb`` (may be absent in a student's copy) and
    ``template.ipynb``."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def solution(self) -> Path:
        return self.path / SOLUTION_NAME

    @property
    def template(self) -> Path:
        return self.path / TEMPLATE_NAME

    @property
    def reference(self) -> Path:
        """The notebook grading rebuilds from: the solution, or else the template (whose
        non-answer cells are the same, as the drift check guarantees).  Check names come from
        the check cells' sources (:func:`check_names`), never from stored outputs."""
        return self.solution if self.solution.exists() else self.template

    @property
    def has_solution(self) -> bool:
        """False in a student release (``course.py release``), which has no solutions."""
        return self.solution.exists()


def homework_names(folder: Path = HOMEWORK_DIR) -> list[str]:
    """The homework folders (those with a solution or a template)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and ((p / SOLUTION_NAME).exists() or (p / TEMPLATE_NAME).exists()))


def find_homework(name_or_dir: str | Path, folder: Path = HOMEWORK_DIR) -> Homework:
    """A homework by folder path or by name (``"hw0_face_detection"``, or its prefix ``"hw0"``).

    Raises:
        ValueError: no such homework (the message lists the ones there are).
    """
    p = Path(name_or_dir)
    for cand in (p, folder / p):
        if cand.is_dir() and ((cand / SOLUTION_NAME).exists() or (cand / TEMPLATE_NAME).exists()):
            return Homework(cand.resolve())
    names = homework_names(folder)
    prefixed = [n for n in names if n.split("_")[0] == str(name_or_dir)]
    if len(prefixed) == 1:
        return Homework((folder / prefixed[0]).resolve())
    raise ValueError(f"unknown homework {str(name_or_dir)!r}; choose one of {', '.join(names) or '(none)'} "
                     f"or give a folder holding {SOLUTION_NAME} or {TEMPLATE_NAME}")


#: Patterns in answer code that tamper with the checker or reach outside the answer; grading flags
#: them for a human look (in the student's own kernel they may work: only a human can tell).
SUSPICIOUS = {
    "redefines the checker": re.compile(r"\.\s*check\s*=(?!=)|\bdef\s+check\s*\(|\bsetattr\s*\(|__code__|"
                                        r"^\s*check\s*=(?!=)", re.MULTILINE),
    "replaces a course function": re.compile(r"\b(cu|course_utils)\s*\.\s*(?!check\b)\w+(\s*\.\s*\w+)*\s*=(?!=)"),
    "mentions CheckFailed": re.compile(r"\bCheckFailed\b"),
    "prints a PASS line": re.compile(r"PASS['\"]"),
    "touches sys.modules or builtins": re.compile(r"\bsys\.modules\b|\bbuiltins\b|__builtins__"),
    "hooks IPython": re.compile(r"\bget_ipython\b|input_transformers|ast_transformers|set_custom_exc|"
                                r"\bevents\s*\.\s*register|\bsys\s*\.\s*(settrace|setprofile|excepthook)"),
    "runs code it reads": re.compile(r"(?<![\w.])(exec|eval|compile)\s*\(|\brunpy\b|\bimportlib\b|\.ipynb\b|"
                                     r"\bnbformat\b|\bnbclient\b"),
    "starts or signals processes": re.compile(r"\bsubprocess\b|\bos\s*\.\s*(system|popen|kill|killpg|fork|exec\w*|"
                                              r"spawn\w*|setsid)\b|\bsignal\s*\.|\bpsutil\b"),
}


def suspicious_code(source: str) -> list[str]:
    """Why an answer cell looks like it games the checks (for a human to review)."""
    return [why for why, pattern in SUSPICIOUS.items() if pattern.search(source)]


def solution_blocks(source: str) -> list[str]:
    """The hidden parts of an answer cell's code: the blocks between ``### BEGIN SOLUTION`` and
    ``### END SOLUTION`` (stripped), or the whole cell when it has no such lines.  These must
    never reach a student (``course.py release`` checks it)."""
    lines = source.splitlines()
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN_SOLUTION]
    if not begins:
        return [source.strip()] if source.strip() else []
    blocks = []
    for b in begins:
        end = next((i for i in range(b + 1, len(lines)) if lines[i].strip() in (END_SOLUTION, BEGIN_SOLUTION)),
                   len(lines))
        block = "\n".join(lines[b + 1:end]).strip()
        if block:
            blocks.append(block)
    return blocks


def solution_answers(home: "Homework") -> dict[str, str] | None:
    """The solution's answer code by answer cell id (``None`` without a solution: a student release)."""
    if not home.has_solution:
        return None
    nb = _read(home.solution)
    return {c.id: _source(c) for c in nb.cells if is_solution(c) and c.cell_type == "code"}


#: Instructor-only answer sets (alternative honest answers for the demos and tests).
INSTRUCTOR_ANSWERS = HOMEWORK_DIR / "instructor_answers.py"


def load_instructor_answers(path: Path = INSTRUCTOR_ANSWERS):
    """The module of instructor-only answer sets, or ``None`` where it is absent (a student
    release).  Loaded from its file without writing ``__pycache__`` into ``homework/``."""
    import importlib.util
    import sys

    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("course_instructor_answers", path)
    module = importlib.util.module_from_spec(spec)
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module


#: Why a test that needs the instructor's solutions is skipped.
NO_SOLUTIONS = ("needs the instructor's solutions and answer sets (homework/*/solution.ipynb, "
                "homework/instructor_answers.py), which a student release leaves out")


def expected_checks(nb) -> list[str]:
    """Check names in notebook order, from the check cells' sources (see :func:`check_names`)."""
    return [n for c in nb.cells if is_check(c) for n in check_names(c)]

