"""Writing a homework: one solution notebook is the source of truth (issue 3).

A homework lives in ``homework/<name>/``:

* ``solution.ipynb``: the instructor's notebook, executed, with the reference outputs stored;
* ``template.ipynb``: what students fork, *generated* from the solution by :func:`make_template`
  (``python3 course.py grade make-template <name>``) and checked for drift by the tests.

Cells carry tags (:mod:`.notebook`).  In the template, the code of a ``solution`` cell becomes a
stub::

      # YOUR CODE HERE
      ...

(``...`` does nothing: an unanswered question does not stop *Run All*; its check prints what is missing, issue 28.)

If the cell has ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines, only the lines between them
are replaced (the rest, e.g. ``img = cu.load_sample(SAMPLE)``, stays as a head start).  A
``check`` cell calls ``cu.check`` (:mod:`course_utils.homework`) once; the solution's stored
output must agree with the name in its source (validated), and grading expects exactly
``<name>: PASS`` from it.

Every output is cleared in the template: a template that showed ``q1: PASS`` under an unanswered
question would pretend, and a notebook saved by JupyterLab's autosave loses those outputs anyway,
so nothing ever reads check names from a student's or a template's stored outputs.  Grading lives
in :mod:`.grading`.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

from ..env import REPO_ROOT
from ..images import subfolders
from .notebook import (CHECK_TAG, SOLUTION_TAG, cell_source, cell_tags, check_names, clean_metadata, dumps,
                       is_check, is_solution, output_check_names, read_notebook)

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "..."]
MARKDOWN_STUB = "YOUR ANSWER HERE"
HOMEWORK_DIR = REPO_ROOT / "homework"
SOLUTION_NAME = "solution.ipynb"
TEMPLATE_NAME = "template.ipynb"

# ------------------------------------------------------------------------------ templates


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


def make_template(solution_nb):
    """The student template of a solution notebook (a new notebook; the input is unchanged).

    Solution cells become stubs, every output and execution count is cleared (check cells too:
    a template must not show ``q1: PASS`` under an unanswered question), volatile metadata
    (papermill, timings) is dropped.  Cell ids are kept, which is how
    grading finds a student's answers again.
    """
    nb = copy.deepcopy(solution_nb)
    clean_metadata(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            if is_solution(cell):
                cell.source = stub_source(cell_source(cell))
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


def write_template(solution_path: str | Path, template_path: str | Path | None = None) -> Path:
    """Generate the template next to the solution (or at ``template_path``) and return its path.

    Raises:
        ValueError: the solution is not a usable reference (see :func:`validate_solution`).
    """
    solution_path = Path(solution_path)
    nb = read_notebook(solution_path)
    problems = validate_solution(nb)
    if problems:
        raise ValueError(f"{solution_path} is not ready to make a template from:\n- " + "\n- ".join(problems))
    out = Path(template_path) if template_path else solution_path.with_name(TEMPLATE_NAME)
    out.write_text(dumps(make_template(nb)), encoding="utf-8")
    return out


def check_drift(solution_path: str | Path, template_path: str | Path) -> list[str]:
    """Differences between a committed template and the one its solution generates (empty: none).

    Each item names the cell and what differs; the fix is always to regenerate the template
    (``python3 course.py grade make-template HOMEWORK``) rather than to edit it by hand.
    """
    solution_path, template_path = Path(solution_path), Path(template_path)
    if not template_path.exists():
        return [f"{template_path} is missing"]
    want = make_template(read_notebook(solution_path))
    try:
        have = read_notebook(template_path)
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
    if not problems and dumps(want) != template_path.read_text(encoding="utf-8"):
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
    return [p.name for p in subfolders(folder) if (p / SOLUTION_NAME).exists() or (p / TEMPLATE_NAME).exists()]


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


def homework_for(notebook: str | Path, folder: Path = HOMEWORK_DIR) -> Homework:
    """The homework a student's notebook belongs to (issue 28: ``course.py grade NOTEBOOK``): the homework folder it
    lies in, else the template whose instructions and check cells it shares most (a renamed or moved copy).

    Raises:
        ValueError: the notebook cannot be read, or matches no homework, or two equally.
    """
    path = Path(notebook).resolve()
    for name in homework_names(folder):
        if (folder / name).resolve() in path.parents:
            return Homework((folder / name).resolve())
    try:
        cells = read_notebook(path).cells
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ValueError(f"{notebook} cannot be read as a notebook ({type(exc).__name__}): name the homework: "
                         f"course.py grade HOMEWORK {notebook}") from None
    mine = {cell_source(c).strip() for c in cells if c.get("cell_type") == "markdown" or is_check(c)}
    scores = {}
    for name in homework_names(folder):
        home = Homework((folder / name).resolve())
        theirs = {cell_source(c).strip() for c in read_notebook(home.reference).cells
                  if c.get("cell_type") == "markdown" or is_check(c)}
        scores[name] = len(mine & theirs - {""})
    best = max(scores.values(), default=0)
    winners = [n for n, v in scores.items() if v == best]
    if best == 0 or len(winners) > 1:
        raise ValueError(f"cannot tell which homework {notebook} is (it shares no instructions or check cells with "
                         f"one template alone): name it: course.py grade HOMEWORK {notebook}")
    return Homework((folder / winners[0]).resolve())


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
    nb = read_notebook(home.solution)
    return {c.id: cell_source(c) for c in nb.cells if is_solution(c) and c.cell_type == "code"}


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
