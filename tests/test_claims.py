"""Every lesson's claims table (``docs/claims/NN.md``) is well formed, and its sources check out.

A claims table lists, for one lesson, each figure or fact its prose states and where it comes from
(``docs/claims/`` explains the format in each file's first line).  Four kinds of source:

* ``course``: ``output: "<text>"``, a substring of the stored text outputs (stream text, ``text/plain``) of
  ``notebooks/NN_*.ipynb``: the lesson's own figure, as the cell that computed it printed it;
* ``library``: `` `path/file.py:LINE` `"snippet"` ``, a file of the running interpreter's site-packages or of the
  repository, whose lines LINE-3 .. LINE+3 hold the snippet;
* ``paper`` and ``dataset``: a citation (authors, year, title, section), checked by a reader, not here.

The ``Section`` column names a ``## `` heading of the lesson, and the lesson links its table.  Each failure names the
file, the row and what is wrong.  Nothing here needs ``../shared/`` or the internet.
"""
from __future__ import annotations

import json
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLAIMS_DIR = ROOT / "docs" / "claims"
LESSONS = ("01", "02", "03", "04", "05", "06")
COLUMNS = ["Claim", "Section", "Kind", "Source"]
KINDS = ("paper", "dataset", "library", "course")
#: How far (in lines, either way) a library snippet may sit from the line its row names.
LINE_SLACK = 3
OUTPUT_SOURCE = re.compile(r'^output: "(?P<text>.+)"$')
LIBRARY_SOURCE = re.compile(r'^`(?P<path>[^`\s:]+):(?P<line>\d+)` `"(?P<snippet>.+)"`$')


@dataclass(frozen=True)
class Row:
    lineno: int     # line in the claims file, 1-based
    number: int     # row of the table, 1-based
    claim: str
    section: str
    kind: str
    source: str

    def where(self, claims_file: Path) -> str:
        claim = self.claim if len(self.claim) <= 50 else self.claim[:47] + "..."
        return f"{shown(claims_file)}:{self.lineno} (row {self.number}, claim {claim!r})"


def shown(path: Path) -> Path:
    """``path`` relative to the repository when it is inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def claims_file(lesson: str) -> Path:
    return CLAIMS_DIR / f"{lesson}.md"


def lesson_notebook(lesson: str, root: Path = ROOT) -> Path:
    found = sorted((root / "notebooks").glob(f"{lesson}_*.ipynb"))
    assert len(found) == 1, f"expected one notebooks/{lesson}_*.ipynb, found {[p.name for p in found]}"
    return found[0]


def link_line(lesson: str) -> str:
    return f"Claims and sources: [docs/claims/{lesson}.md](../docs/claims/{lesson}.md)."


def split_row(line: str) -> list[str]:
    """The cells of a Markdown table line ``| a | b |``; ``\\|`` is a literal bar inside a cell."""
    body = line.strip()
    if not (body.startswith("|") and body.endswith("|") and len(body) > 1):
        raise ValueError("a table line must start and end with '|'")
    cells = re.split(r"(?<!\\)\|", body[1:-1])
    return [c.strip().replace("\\|", "|") for c in cells]


def unescape(text: str) -> str:
    """A quoted snippet or output as written in a table cell: ``\\"`` is a quote, ``\\\\`` a backslash."""
    return re.sub(r'\\(["\\])', r"\1", text)


def parse_claims(path: Path, lesson: str) -> tuple[list[Row], list[str]]:
    """The rows of the claims table in ``path`` and what is wrong with the file's form."""
    lines = path.read_text(encoding="utf-8").splitlines()
    problems: list[str] = []
    rel = shown(path)
    title = f"# Lesson {lesson}: claims and their sources"
    if not lines or lines[0].strip() != title:
        problems.append(f"{rel}:1: the first line must be {title!r}")
    blocks: list[list[tuple[int, str]]] = []
    for i, line in enumerate(lines, start=1):
        if line.lstrip().startswith("|"):
            if blocks and blocks[-1][-1][0] == i - 1:
                blocks[-1].append((i, line))
            else:
                blocks.append([(i, line)])
    if len(blocks) != 1:
        problems.append(f"{rel}: expected exactly one table, found {len(blocks)}")
        if not blocks:
            return [], problems
    table = blocks[0]
    header_no, header = table[0]
    try:
        columns = split_row(header)
    except ValueError as exc:
        columns = [str(exc)]
    if columns != COLUMNS:
        problems.append(f"{rel}:{header_no}: the columns must be {' | '.join(COLUMNS)}, found {columns}")
    if len(table) < 2 or not all(re.fullmatch(r":?-{3,}:?", c) for c in _cells_or_empty(table[1][1])) \
            or len(_cells_or_empty(table[1][1])) != len(COLUMNS):
        problems.append(f"{rel}:{header_no + 1}: the line under the header must be |---|---|---|---|")
    rows: list[Row] = []
    for number, (lineno, line) in enumerate(table[2:], start=1):
        where = f"{rel}:{lineno} (row {number})"
        try:
            cells = split_row(line)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if len(cells) != len(COLUMNS):
            problems.append(f"{where}: {len(cells)} cells instead of {len(COLUMNS)} ({' | '.join(COLUMNS)}); "
                            "write a literal bar inside a cell as \\|")
            continue
        row = Row(lineno, number, *cells)
        empty = [name for name, value in zip(COLUMNS, cells) if not value]
        if empty:
            problems.append(f"{row.where(path)}: empty {', '.join(empty)}")
        if row.kind not in KINDS:
            problems.append(f"{row.where(path)}: Kind {row.kind!r} is not one of {', '.join(KINDS)}")
        elif row.kind == "course" and not OUTPUT_SOURCE.match(row.source):
            problems.append(f"{row.where(path)}: a course source must read output: \"<text the notebook printed>\", "
                            f"found {row.source!r}")
        elif row.kind == "library" and not LIBRARY_SOURCE.match(row.source):
            problems.append(f"{row.where(path)}: a library source must read `path/file.py:LINE` `\"snippet\"`, "
                            f"found {row.source!r}")
        elif row.kind in ("paper", "dataset") and (OUTPUT_SOURCE.match(row.source) or LIBRARY_SOURCE.match(row.source)):
            problems.append(f"{row.where(path)}: Kind {row.kind!r} with a course or library source: fix the Kind")
        rows.append(row)
    if not rows:
        problems.append(f"{rel}: the table has no rows")
    return rows, problems


def _cells_or_empty(line: str) -> list[str]:
    try:
        return split_row(line)
    except ValueError:
        return []


def notebook_cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def stored_outputs(notebook: Path) -> str:
    """The stored text outputs of the notebook's code cells: stream text and ``text/plain``."""
    parts = []
    for cell in notebook_cells(notebook):
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if out.get("output_type") == "stream":
                parts.append(_text(out.get("text")))
            elif "data" in out:
                parts.append(_text(out["data"].get("text/plain")))
    return "\n".join(parts)


def headings(notebook: Path) -> set[str]:
    """The ``## `` headings of the notebook's Markdown cells, without the ``## ``."""
    return {line[3:].strip() for cell in notebook_cells(notebook) if cell["cell_type"] == "markdown"
            for line in _text(cell["source"]).splitlines() if line.startswith("## ")}


def library_roots() -> list[Path]:
    return [Path(sysconfig.get_paths()["purelib"]), ROOT]


def course_problems(rows: list[Row], path: Path, outputs: str, notebook: Path) -> list[str]:
    problems = []
    for row in rows:
        m = OUTPUT_SOURCE.match(row.source) if row.kind == "course" else None
        if m and unescape(m["text"]) not in outputs:
            problems.append(f"{row.where(path)}: {unescape(m['text'])!r} is not in the stored outputs of "
                            f"{shown(notebook)} (re-run the lesson, or quote what it prints now)")
    return problems


def library_problems(rows: list[Row], path: Path, roots: list[Path]) -> list[str]:
    problems = []
    for row in rows:
        m = LIBRARY_SOURCE.match(row.source) if row.kind == "library" else None
        if not m:
            continue
        rel, line, snippet = m["path"], int(m["line"]), unescape(m["snippet"])
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            problems.append(f"{row.where(path)}: {rel} must be relative to site-packages or the repository")
            continue
        target = next((r / rel for r in roots if (r / rel).is_file()), None)
        if target is None:
            problems.append(f"{row.where(path)}: {rel} is neither in site-packages ({roots[0]}) nor in the repository")
            continue
        lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
        if not 1 <= line <= len(lines):
            problems.append(f"{row.where(path)}: {rel} has {len(lines)} lines, not line {line}")
            continue
        window = lines[max(0, line - 1 - LINE_SLACK):line + LINE_SLACK]
        if not any(snippet in text for text in window):
            near = [i + 1 for i, text in enumerate(lines) if snippet in text][:5]
            problems.append(f"{row.where(path)}: {snippet!r} is not within {LINE_SLACK} lines of {rel}:{line}"
                            + (f" (it is on line(s) {near})" if near else " (nor anywhere in the file)"))
    return problems


def section_problems(rows: list[Row], path: Path, heads: set[str], notebook: Path) -> list[str]:
    return [f"{row.where(path)}: Section {row.section!r} is not a '## ' heading of {shown(notebook)}"
            for row in rows if row.section and row.section not in heads]


def _rows(lesson: str) -> tuple[Path, list[Row], list[str]]:
    path = claims_file(lesson)
    assert path.is_file(), f"{shown(path)} is missing: every lesson has a claims table (issue 27)"
    rows, problems = parse_claims(path, lesson)
    return path, rows, problems


@pytest.mark.parametrize("lesson", LESSONS)
def test_claims_table_is_well_formed(lesson):
    _, _, problems = _rows(lesson)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lesson", LESSONS)
def test_course_claims_quote_the_stored_outputs(lesson):
    path, rows, _ = _rows(lesson)
    notebook = lesson_notebook(lesson)
    problems = course_problems(rows, path, stored_outputs(notebook), notebook)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lesson", LESSONS)
def test_library_claims_point_at_the_quoted_line(lesson):
    path, rows, _ = _rows(lesson)
    problems = library_problems(rows, path, library_roots())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lesson", LESSONS)
def test_claims_sections_are_headings_of_the_lesson(lesson):
    path, rows, _ = _rows(lesson)
    notebook = lesson_notebook(lesson)
    problems = section_problems(rows, path, headings(notebook), notebook)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_lesson_links_its_claims_table(lesson):
    _rows(lesson)
    notebook = lesson_notebook(lesson)
    prose = [_text(c["source"]) for c in notebook_cells(notebook) if c["cell_type"] == "markdown"]
    assert any(link_line(lesson) in text for text in prose), \
        f"{shown(notebook)}: no Markdown cell holds the line {link_line(lesson)!r}"


def test_a_broken_table_is_reported_row_by_row(tmp_path):
    """The checks above catch what they promise: wrong columns, a bad kind, stale outputs, a moved line."""
    text = "\n".join([
        "# Lesson 01: claims and their sources",
        "What the table is.",
        "",
        "| Claim | Section | Kind | Source |",
        "|---|---|---|---|",
        "| a figure | 1. Nowhere | course | output: \"no such output\" |",
        "| a default | 1. Nowhere | library | `pytest/__init__.py:1` `\"no such snippet\"` |",
        "| a fact | 1. Nowhere | rumour | someone said so |",
        "| too | many | cells | here | really |",
        "| a bar \\| inside | 1. Nowhere | paper | Someone et al. 2020, \"A title\", Sec. 1 |",
    ])
    path = tmp_path / "01.md"
    path.write_text(text + "\n", encoding="utf-8")
    rows, problems = parse_claims(path, "01")
    assert [r.number for r in rows] == [1, 2, 3, 5]
    assert rows[-1].claim == "a bar | inside"
    assert any("(row 3" in p and "'rumour' is not one of" in p for p in problems)
    assert any("(row 4)" in p and "5 cells instead of 4" in p for p in problems)

    bad_header = text.replace("| Claim | Section | Kind | Source |", "| Claim | Kind | Source |")
    path.write_text(bad_header + "\n", encoding="utf-8")
    assert any("the columns must be" in p for p in parse_claims(path, "01")[1])

    relative = Row(6, 1, "a figure", "1. Nowhere", "course", 'output: "no such output"')
    (problem,) = course_problems([relative], ROOT / "docs" / "claims" / "01.md", "the output", ROOT / "README.md")
    assert problem.startswith("docs/claims/01.md:6 (row 1, claim 'a figure')") and "'no such output'" in problem

    moved = Row(7, 2, "a default", "1. Nowhere", "library", '`pyproject.toml:1` `"no such snippet"`')
    (problem,) = library_problems([moved], ROOT / "docs" / "claims" / "01.md", library_roots())
    assert "(row 2" in problem and "is not within 3 lines of pyproject.toml:1" in problem
    far = Row(8, 3, "a default", "1. Nowhere", "library", '`pyproject.toml:99999` `"x"`')
    (problem,) = library_problems([far], ROOT / "docs" / "claims" / "01.md", library_roots())
    assert "not line 99999" in problem
    (problem,) = section_problems([moved], ROOT / "docs" / "claims" / "01.md", {"1. Somewhere"},
                                  lesson_notebook("01"))
    assert "Section '1. Nowhere' is not a '## ' heading" in problem
