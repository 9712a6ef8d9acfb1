"""The notebook that grading runs: the reference, with a submission's answer code (issue 3).

1. The submission is read (never written, never through a symbolic link).  Its *answer* cells
   (tagged ``solution``) are found by cell id, else by their order among the tagged cells, else
   by position.  A damaged notebook is a :class:`SubmissionError` (graded 0 with the reason).
2. A graded notebook is rebuilt from the reference (the homework's solution, or its template):
   every cell comes from the reference except the answer cells' code, which comes from the
   submission.  Each check cell must print exactly ``qN: PASS``, its names read from the
   reference check cell's code (never from stored outputs).  Other cells lose their outputs
   (nbval then only requires that they do not raise).  Answer code that looks like it games the
   checks (:data:`SUSPICIOUS`) is flagged for a human.
"""
from __future__ import annotations

import ast
import codecs
import copy
import errno
import os
import re
import stat
import textwrap
from pathlib import Path

from ..text import clip
from . import authoring
from . import notebook as nbk


class SubmissionError(ValueError):
    """A submission that cannot be graded at all (not a notebook, unreadable)."""


def decode_notebook_text(data: bytes) -> tuple[str, str]:
    """``(text, how)``: a notebook file's bytes as text, whatever an editor saved them as (issue 28: an honest
    notebook is graded, not refused for its encoding): UTF-8 with or without a byte-order mark, UTF-16 or UTF-32
    with one, else Latin-1 (every byte is a character).  ``how`` is empty for plain UTF-8, else a note."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(codec), f"read as {codec.upper()} (the file starts with a byte-order mark)"
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        return data.decode("latin-1"), "read as Latin-1: the file is not UTF-8 (save notebooks as UTF-8)"


def read_submission(path: str | Path, notes: list[str] | None = None):
    """Read a submitted notebook (without changing it); how it was decoded, when not plain UTF-8, is appended to
    ``notes``.

    Raises:
        SubmissionError: missing, too big, not JSON, or not a notebook.
    """
    import nbformat

    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))  # never a link's target
        with os.fdopen(fd, "rb") as f:
            if os.fstat(f.fileno()).st_size > 50_000_000 or not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise SubmissionError(f"{path.name} is over 50 MB or not a file: clear the outputs and submit again")
            text, how = decode_notebook_text(f.read())
        nb = nbformat.reads(text, as_version=4)
        if how and notes is not None:
            notes.append(how)
    except SubmissionError:
        raise
    except OSError as exc:
        why = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise SubmissionError(f"cannot read {path.name}: {why}") from None
    except Exception as exc:  # nbformat raises JSON and validation errors of several kinds
        raise SubmissionError(f"{path.name} is not a valid notebook ({type(exc).__name__}: "
                              f"{clip(str(exc), 120)}); open it in Jupyter and save it again") from None
    if not isinstance(nb.get("cells"), list):
        raise SubmissionError(f"{path.name} is not a valid notebook: it has no cells")
    return nb


def _answer_sources_checked(reference, submission) -> tuple[list[str | None], str]:
    """:func:`_answer_sources`, with any malformed field of the submission (a cell that is not
    an object, a ``source`` that is a number, metadata that is a list, ...) as a SubmissionError."""
    try:
        return _answer_sources(reference, submission)
    except nbk.NotebookError as exc:
        raise SubmissionError(f"the notebook is damaged: {exc}") from None
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        raise SubmissionError(f"the notebook is damaged ({type(exc).__name__}: {clip(str(exc), 100)}); "
                              "open it in Jupyter and save it again") from None


def _answer_sources(reference, submission) -> tuple[list[str | None], str]:
    """The submission's code for each reference answer cell (None: not found) and how found."""
    ref = [c for c in reference.cells if nbk.is_solution(c)]
    sub_cells = [c for c in submission.cells if isinstance(c, dict)]
    by_content = _answers_by_content(reference, sub_cells)
    if by_content is not None:
        return by_content
    by_id = {c.get("id"): c for c in sub_cells if c.get("id")}
    if all(c.get("id") in by_id for c in ref):
        return [nbk.cell_source(by_id[c.id]) if by_id[c.id].get("cell_type") == c.cell_type else None
                for c in ref], "cell ids"
    tagged = [c for c in sub_cells if nbk.is_solution(c)]
    if len(tagged) == len(ref):
        return [nbk.cell_source(c) for c in tagged], "the order of the cells tagged 'solution'"
    if len(sub_cells) == len(reference.cells):  # tags and ids lost, cells unchanged
        pos = [i for i, c in enumerate(reference.cells) if nbk.is_solution(c)]
        return [nbk.cell_source(sub_cells[i]) for i in pos], "cell positions"
    srcs = [nbk.cell_source(by_id[c.id]) if c.get("id") in by_id else None for c in ref]
    return srcs, "cell ids (some answer cells are missing)"


def _names(source: str) -> tuple[set[str], set[str]]:
    """The names a cell's code defines at its top level (assignments, ``def``, ``class``, imports) and the names it
    reads; two empty sets when it does not parse."""
    try:
        tree = nbk.parse_code(source)
    except (SyntaxError, ValueError):
        return set(), set()
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            for n in ast.walk(node):  # inside if/try/with/for blocks too, but not inside functions
                if isinstance(n, (ast.Import, ast.ImportFrom)):
                    defined |= {(a.asname or a.name).split(".")[0] for a in n.names}
                elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    defined.add(n.name)
                elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    defined.add(n.id)
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return defined, read


def _answers_by_content(reference, sub_cells) -> tuple[list[str | None], str] | None:
    """The answers of a notebook whose cells were duplicated, copied, reordered, split or stripped of ids and tags
    (issue 28: a careless but honest student is graded on their code), or None when the ids tell the story
    plainly (one code cell per answer between its checks, where the reference has it).

    The check cells (found by the check names in their code) are the anchors.  Each reference answer's code is
    every code cell of the submission between the check before it and its own check, in order, leaving out cells
    that are the reference's own (setup, data, display); an answer whose window defines none of the names its check
    reads is looked for anywhere else (the last cell that defines them).  A notebook without check cells, or
    with two answers between the same two checks, is left to the other rules."""
    ref_code = [c for c in reference.cells if c.cell_type == "code"]
    fixed = {nbk.cell_source(c).strip() for c in ref_code if not nbk.is_solution(c)}
    code = [c for c in sub_cells if c.get("cell_type") == "code"]
    sources = [nbk.cell_source(c) for c in code]  # a source that is not text: NotebookError (a damaged notebook)
    anchor: dict[str, int] = {}  # check name -> position of the submission's (last) cell that runs it
    for i, c in enumerate(code):
        for name in nbk.check_names(c):
            anchor[name] = i
    windows, previous, needs = [], -1, []
    for k, cell in enumerate(ref_code):
        if not nbk.is_solution(cell):
            continue
        following = next((c for c in ref_code[k + 1:] if nbk.is_check(c) or nbk.is_solution(c)), None)
        names = nbk.check_names(following) if following is not None and nbk.is_check(following) else []
        if not names or names[0] not in anchor:
            return None  # no check right after this answer, or its check cell was deleted: other rules
        end = anchor[names[0]]
        if end <= previous:
            return None
        windows.append((previous + 1, end))
        defined_before = set().union(*(_names(nbk.cell_source(c))[0] for c in ref_code[:k] if not nbk.is_solution(c)))
        check_defines, check_reads = _names(nbk.cell_source(following))
        needs.append((check_reads - check_defines - defined_before) | _names(nbk.cell_source(cell))[0])
        previous = end
    theirs = [[i for i in range(a, b) if sources[i].strip() not in fixed] for a, b in windows]
    others = [set().union(*(n for j, n in enumerate(needs) if j != k)) for k in range(len(needs))]

    def misplaced(i: int, k: int) -> bool:  # defines another answer's names and none of its own
        defined = _names(sources[i])[0]
        return bool(defined & others[k]) and not defined & needs[k]

    if all(len(w) == 1 and not misplaced(w[0], k) for k, w in enumerate(theirs)):
        return None  # one cell per answer, in its place (right, wrong or a stub): ids, tags or positions say the same
    result = []
    for window, need in zip(theirs, needs):
        answering = [i for i in window if _names(sources[i])[0] & need]
        if not answering:  # moved elsewhere: the last cell that defines what the check reads (if any does)
            elsewhere = [i for i, src in enumerate(sources) if src.strip() not in fixed and _names(src)[0] & need]
            window, answering = (elsewhere[-1:], elsewhere[-1:]) if elsewhere else (window, [])
        # the cells that define what the check reads run as they are; scratch cells and stubs beside them may fail
        # without costing the answer (in the student's notebook they were run, or not, one by one)
        parts = [sources[i] if i in answering or not answering else _guarded(sources[i]) for i in window]
        result.append("\n\n".join(parts) or None)
    return result, "content: the code cells before each check (cells duplicated, moved or without ids)"


def _guarded(source: str) -> str:
    """A scratch cell's code that cannot stop the answer it is graded with: inside ``try``; left out (as a
    comment) when it does not parse, shell and magic lines set aside."""
    body = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    wrapped = "try:\n" + textwrap.indent(body or "pass", "    ", lambda line: True) + \
        "\nexcept Exception:  # a scratch cell beside the answer (grading)\n    pass"
    try:
        with nbk._AST_LOCK:
            ast.parse(wrapped)
    except (SyntaxError, ValueError):
        return "# a scratch cell that does not parse was left out"
    return wrapped


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


#: The line a graded check cell runs under (:func:`course_utils.homework.quiet_check`); ``cu`` may be rebound.
QUIET_LINE = ("with __import__('course_utils.homework', fromlist=['quiet_check']).quiet_check():"
              "  # graded: only the check's PASS line is compared\n")


def quiet_source(source: str) -> str:
    """A check cell's code as grading runs it: inside :data:`QUIET_LINE`, so that what the student's code prints or
    warns while the check runs does not fail an honest answer (issue 28)."""
    return QUIET_LINE + textwrap.indent(source, "    ", lambda line: True) if source.strip() else source


def build_graded_notebook(reference, submission):
    """The notebook to execute: ``reference`` with the submission's answer code.

    Returns ``(notebook, notes, flags)``: notes say how answers were matched and which are
    missing; flags list answer code that seems to tamper with the checker.
    """
    graded = copy.deepcopy(reference)
    sources, how = _answer_sources_checked(reference, submission)
    notes, flags = [f"answers matched by {how}"], []
    answers = iter(sources)
    nbk.clean_metadata(graded)
    for i, cell in enumerate(graded.cells):
        if cell.cell_type != "code":
            continue
        if nbk.is_solution(cell):
            src = next(answers)
            if src is None:
                notes.append(f"answer cell {cell.get('id', i)} is missing from the submission; "
                             "the template's stub was graded")
                src = authoring.stub_source(nbk.cell_source(cell))
            cell.source = src
            flags += [f"answer cell {cell.get('id', i)} {why}" for why in suspicious_code(src)]
        if nbk.is_check(cell):
            # What a passing check prints, from the reference's check-cell source: never from
            # stored outputs (a template has none; an autosaved notebook may have any).
            cell.outputs, cell.execution_count = nbk.pass_output(nbk.check_names(cell)), 1
            cell.source = quiet_source(nbk.cell_source(cell))
        else:
            cell.outputs = []
            cell.execution_count = None  # nbval then only checks that it runs without error
    return graded, notes, flags
