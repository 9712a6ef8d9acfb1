"""Reading the course's notebooks: cell tags, cell sources, check names, volatile metadata.

Shared by the tooling: templates (:mod:`.authoring`), grading (:mod:`.grading`), the release and
the lesson build (:mod:`.build`).  A homework's cells carry tags (Jupyter: View > Right Sidebar >
Property Inspector, or cell metadata):

* ``solution``: an answer cell (its code becomes a stub in the template);
* ``check``: a check cell, which calls ``cu.check`` once.  Its check name is read from the cell's
  *source* (:func:`check_names`), never from stored outputs: a template has none, and JupyterLab's
  autosave clears or rewrites a student's.
"""
from __future__ import annotations

import ast
import threading
from pathlib import Path

from ..homework import PASS_LINE

SOLUTION_TAG = "solution"
CHECK_TAG = "check"
#: Notebook and cell metadata that a run or a viewer changes (papermill's and nbclient's
#: records, timings, a collapsed or scrolled output): never part of a committed notebook.  The
#: one list for the lessons' build, the templates and the graded notebooks.
VOLATILE_METADATA = ("execution", "papermill", "collapsed", "scrolled", "ExecuteTime")


class NotebookError(ValueError):
    """A cell whose fields are not what nbformat promises (a ``source`` that is a number, ...)."""


def cell_tags(cell) -> list[str]:
    """A cell's tags; none where its metadata or tags are malformed (a damaged notebook)."""
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    tags = meta.get("tags", []) if isinstance(meta, dict) else []
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def is_solution(cell) -> bool:
    return SOLUTION_TAG in cell_tags(cell)


def is_check(cell) -> bool:
    return cell.get("cell_type") == "code" and CHECK_TAG in cell_tags(cell)


def cell_source(cell) -> str:
    """A cell's source as one string.

    Raises:
        NotebookError: the source is not text (a damaged notebook).
    """
    src = cell.get("source", "")
    if isinstance(src, list) and all(isinstance(s, str) for s in src):
        return "".join(src)
    if isinstance(src, str):
        return src
    raise NotebookError(f"cell {cell.get('id', '?')} has a source that is not text "
                        f"({type(src).__name__}); open the notebook in Jupyter and save it again")


def clean_metadata(nb) -> None:
    """Drop :data:`VOLATILE_METADATA` from ``nb``'s metadata and every cell's (in place)."""
    for meta in [nb.get("metadata", {}), *(c.get("metadata", {}) for c in nb.get("cells", []))]:
        for key in VOLATILE_METADATA:
            meta.pop(key, None)


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


def parse_code(source: str) -> ast.Module:
    """A cell's code as a syntax tree, IPython's magic and shell lines (``%``, ``!``) set aside, parsed under
    :data:`_AST_LOCK` (grading threads parse at once).

    Raises:
        SyntaxError, ValueError: the code does not parse.
    """
    code = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    with _AST_LOCK:
        return ast.parse(code)


def check_names(cell) -> list[str]:
    """The names of the checks a check cell runs, read from its source: the first argument (or
    ``name=``) of each ``cu.check(...)`` call that is a string literal, in source order.
    A source that does not parse, or a name that is not a literal, gives no name (and
    :func:`~course_utils.tools.authoring.validate_solution` refuses such a solution)."""
    try:
        with _AST_LOCK:
            tree = ast.parse(cell_source(cell))
    except (SyntaxError, ValueError):
        return []
    names = []
    for node in sorted((n for n in ast.walk(tree) if _is_check_call(n)), key=lambda n: (n.lineno, n.col_offset)):
        arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and PASS_LINE.match(f"{arg.value}: PASS"):
            names.append(arg.value)
    return names


def expected_checks(nb) -> list[str]:
    """Check names in notebook order, from the check cells' sources (see :func:`check_names`)."""
    return [n for c in nb.cells if is_check(c) for n in check_names(c)]


def pass_output(names: list[str]):
    """The output a check cell must print when all its checks pass (what grading compares with)."""
    import nbformat

    return [nbformat.v4.new_output("stream", name="stdout", text="".join(f"{n}: PASS\n" for n in names))]


def read_notebook(path: Path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def dumps(nb) -> str:
    """A notebook as the course commits it (nbformat's JSON and a final newline)."""
    import nbformat

    return nbformat.writes(nb) + "\n"
