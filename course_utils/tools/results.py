"""Grades and what is written from them: the feedback a student reads, the gradebook, atomically.

A :class:`GradeResult` is the grade of one submission.  Before anything of it is shown,
:func:`scrub` removes solution code and the grader's paths and user name.  :func:`format_report`
is what a student reads on the command line, :func:`write_feedback` one Markdown file per
student, :func:`write_gradebook` the CSV (cells that no spreadsheet runs as a formula); every
file is written through :func:`atomic_write`.
"""
from __future__ import annotations

import csv
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..text import clip, markdown_text, plain


@dataclass
class GradeResult:
    """The grade of one submission."""

    student: str
    homework: str
    checks: dict[str, bool] = field(default_factory=dict)   # name -> passed, in notebook order
    messages: dict[str, str] = field(default_factory=dict)  # name -> why it failed
    answer_errors: list[str] = field(default_factory=list)  # answer cells that raised
    error: str = ""                                          # why grading failed as a whole
    flags: list[str] = field(default_factory=list)           # for a human to look at
    notes: list[str] = field(default_factory=list)           # how answers were matched, ...
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(self.checks.values())

    @property
    def total(self) -> int:
        return len(self.checks)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def summary(self) -> str:
        """One line: the overall error, else the first failing check's message."""
        if self.error:
            return self.error
        failing = [self.messages.get(n, "failed") for n, ok in self.checks.items() if not ok]
        return clip(failing[0], 200) if failing else ""


def zero(result: GradeResult, why: str) -> None:
    """Grade ``result`` zero for tampering, and flag it for a human."""
    result.flags.append(why)
    result.error = result.error or why
    for name in result.checks:
        result.checks[name] = False
        result.messages[name] = why


def _secrets() -> dict[str, str]:
    """Paths of the grader's machine that feedback must not show, longest first."""
    found = {str(Path.home()): "<home>", sys.prefix: "<python>", sys.base_prefix: "<python>",
             str(Path(__file__).resolve().parents[2]): "<course>", tempfile.gettempdir(): "<tmp>"}
    for var in ("USER", "LOGNAME"):
        if len(os.environ.get(var, "")) > 2:
            found[os.environ[var]] = "<user>"
    return dict(sorted(((k, v) for k, v in found.items() if len(k) > 3), key=lambda kv: -len(kv[0])))


def _scrub_text(text: str, blocks: list[str]) -> str:
    for block in blocks:
        if block in text:
            text = text.replace(block, "<solution code removed>")
    for line in {ln.strip() for b in blocks for ln in b.splitlines() if len(ln.strip()) >= 12}:
        text = text.replace(line, "<solution code removed>")
    for secret, placeholder in _secrets().items():
        text = text.replace(secret, placeholder)
    return text


def scrub(result: GradeResult, blocks: list[str]) -> None:
    """Keep solution code and the grader's paths and user name out of everything a student reads, and terminal
    escapes, control characters and line breaks out of every text a submission could have written (issue 29)."""
    result.student = plain(result.student)
    result.error = plain(_scrub_text(result.error, blocks))
    result.messages = {plain(k): plain(_scrub_text(v, blocks)) for k, v in result.messages.items()}
    for attr in ("answer_errors", "flags", "notes"):
        setattr(result, attr, [plain(_scrub_text(t, blocks)) for t in getattr(result, attr)])


def format_report(result: GradeResult, sandbox_note: bool = True) -> str:
    """What a student reads: one line per check, the score, and what to fix (``sandbox_note``: and how the
    notebook was isolated, which a student's self-check says only when asked)."""
    lines = [f"{result.homework} · {result.student}: {result.passed}/{result.total} checks passed "
             f"(score {result.score:.2f})"]
    if result.error:
        lines.append(f"ERROR: {result.error}")
    for name, ok in result.checks.items():
        lines.append(f"  {name}: {'PASS' if ok else 'FAIL'}" + ("" if ok else f" - {result.messages.get(name, '')}"))
    if result.answer_errors:
        lines.append("Answer cells that raised an error:")
        lines += [f"  {e}" for e in result.answer_errors]
    lines += [f"Note: {n}" for n in result.notes
              if "missing" in n or n.startswith("read as") or ("sandbox" in n and sandbox_note)]
    lines += [f"Flag for review: {f}" for f in result.flags]
    return "\n".join(lines)


def atomic_write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: a reader never
    sees half a file, and a symbolic link planted at ``path`` is replaced, never followed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_feedback(result: GradeResult, path: Path) -> Path:
    """A short Markdown feedback file for one student (written atomically)."""
    md = markdown_text  # what a submission wrote is shown as text: no HTML, link, image or table cell of its own
    rows = "\n".join(f"| {md(n)} | {'PASS' if ok else 'FAIL'} | {'' if ok else md(result.messages.get(n, ''))} |"
                     for n, ok in result.checks.items())
    parts = [f"# {md(result.homework)}: feedback for {md(result.student)}", "",
             f"**Score: {result.passed}/{result.total}** ({result.score:.0%})", ""]
    if result.error:
        parts += [f"**Your notebook could not be graded completely:** {md(result.error)}", ""]
    parts += ["| check | result | what to fix |", "|---|---|---|", rows, ""]
    if result.answer_errors:
        parts += ["Answer cells that raised an error:", ""] + [f"- {md(e)}" for e in result.answer_errors] + [""]
    command = f"python3 course.py grade {plain(result.student).replace('`', '')}.ipynb"
    parts += [f"Check yourself before you resubmit: `{command}`", ""]
    return atomic_write(path, "\n".join(parts))


def gradebook_columns(results: list[GradeResult]) -> list[str]:
    checks: list[str] = []
    for r in results:
        checks += [n for n in r.checks if n not in checks]
    return ["student", "homework", *checks, "passed", "total", "score", "seconds", "error", "flags"]


#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value) -> str:
    """``value`` for a CSV cell that no spreadsheet runs: text starting like a formula is
    prefixed with ``'`` (OWASP's advice); numbers are left alone."""
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_gradebook(results: list[GradeResult], path: Path) -> Path:
    """The gradebook CSV: one row per submission, 1/0 per check (written atomically)."""
    import io

    cols = gradebook_columns(results)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(cols)
    for r in sorted(results, key=lambda r: r.student):
        row = {"student": r.student, "homework": r.homework, "passed": r.passed, "total": r.total,
               "score": f"{r.score:.2f}", "seconds": f"{r.seconds:.1f}", "error": clip(r.summary(), 200),
               "flags": "; ".join(r.flags)}
        row.update({n: int(ok) for n, ok in r.checks.items()})
        writer.writerow([csv_cell(row.get(c, "")) for c in cols])
    return atomic_write(path, buf.getvalue())
