"""When nbval runs a lesson (``course.py test``), every figure the lesson shows is audited too (issue 27):
text of 8 pt or more as JupyterLab shows the stored image at 100 %, none clipped, none drawn over
another (:mod:`course_utils.tools.figure_audit`).  The audit rides on nbval's own run of each lesson
(no second run): it is installed in the lesson's kernel before the first cell, and a cell whose figure
has a problem fails, naming the lesson, the cell (nbval's number and the index in the notebook's
JSON), each text and its size.  ``--no-figure-audit`` leaves it out."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from course_utils.tools import figure_audit

#: Seconds the kernel may take to load the audit.
INSTALL_TIMEOUT_S = 60


def pytest_addoption(parser):
    parser.addoption("--no-figure-audit", action="store_true",
                     help="nbval runs the lessons without auditing their figures (issue 27)")


def _install(notebook) -> Path:
    """Load the audit into the kernel nbval runs ``notebook`` in; returns its log file."""
    folder = tempfile.mkdtemp(prefix="figure-audit-")
    notebook.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    log = Path(folder) / f"{Path(str(notebook.fspath)).stem}.jsonl"
    kernel = notebook.kernel
    msg_id = kernel.kc.execute(figure_audit.install_code(log), store_history=False, stop_on_error=False)
    kernel.await_idle(msg_id, INSTALL_TIMEOUT_S)
    rows, offset = figure_audit.read_log(log)
    if not any(r.get("installed") for r in rows):
        raise RuntimeError(f"the figure audit could not be loaded into {notebook.name}'s kernel "
                           "(run with --no-figure-audit to leave it out)")
    notebook._figure_audit = [log, offset]
    return log


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    is_cell = type(item).__name__ == "IPyNbCell" and not item.config.getoption("no_figure_audit", False)
    if is_cell and getattr(item.parent, "_figure_audit", None) is None and item.parent.kernel is not None:
        _install(item.parent)
    state = getattr(item.parent, "_figure_audit", None) if is_cell else None
    rows = []
    try:
        result = yield
    finally:  # what the cell showed is read even when nbval failed it, so that it is not put on the next cell
        if state:
            rows, state[1] = figure_audit.read_log(*state)
    lines = figure_audit.describe(rows)
    if lines:
        from nbval.plugin import NbCellError

        index = next(i for i, cell in enumerate(item.parent.nb.cells) if cell is item.cell)
        raise NbCellError(item.cell_num, f"{Path(str(item.parent.fspath)).name}, cell {index} of the notebook's "
                          f"JSON: {len(lines)} figure problem(s) (issue 27; course_utils/tools/figure_audit.py)\n"
                          + "\n".join(lines), item.cell.source)
    return result
