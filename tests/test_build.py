"""`course.py run` (course_utils.tools.build): lessons run in parallel, a failing one is reported and does not
stop the others, outputs and HTML land in the output folder."""
from __future__ import annotations

import os

import nbformat
import pytest

from course_utils.tools import build


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_lessons_run_and_a_failure_is_reported(tmp_path, capsys, jobs):
    good = _notebook(tmp_path / "01_good.ipynb", "X = 1", "print('answer', X * 42)")
    bad = _notebook(tmp_path / "02_bad.ipynb", "X = 1", "raise RuntimeError('broken lesson')")
    third = _notebook(tmp_path / "03_after.ipynb", "X = 1",
                      "import os; print('still ran with', os.environ.get('OMP_NUM_THREADS'), 'threads')")
    out = tmp_path / "build"
    code = build.main(["run", str(good), str(bad), str(third), "--out", str(out), "-j", jobs, "-p", "X", "2"])
    assert code == 1
    report = capsys.readouterr().out
    assert "02_bad.ipynb" in report and "FAILED: PapermillExecutionError" in report
    done = nbformat.read(out / "01_good.ipynb", as_version=4)
    assert "answer 84" in "".join(o.get("text", "") for c in done.cells for o in c.get("outputs", []))  # -p X 2
    assert (out / "01_good.html").exists() and (out / "02_bad.html").exists() and (out / "03_after.html").exists()
    after = nbformat.read(out / "03_after.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in after.cells for o in c.get("outputs", []))
    if jobs == "2" and "OMP_NUM_THREADS" not in os.environ:  # side by side: each kernel gets its share of cores
        assert f"still ran with {max(1, (os.cpu_count() or 1) // 2)} threads" in text
    else:
        assert "still ran with" in text


def test_the_kernels_own_log_stays_out_of_a_run_that_went_well(tmp_path, capfd):
    """jupyter_client interrupts a kernel before shutting it down, and ipykernel logs that as an ERROR
    line ("KeyboardInterrupt caught in kernel.") when the signal lands in a message handler: a run in
    which every lesson was ok printed ERROR.  The kernel's log is off (build.KERNEL_ARGS); what went
    wrong inside a lesson still shows: a cell's error, and a kernel that died."""
    logs = _notebook(tmp_path / "01_logs.ipynb", "X = 1",
                     "get_ipython().kernel.log.error('KeyboardInterrupt caught in kernel.'); print('done')")
    dies = _notebook(tmp_path / "02_dies.ipynb", "X = 1", "import os; os._exit(3)")
    code = build.main(["run", str(logs), str(dies), "--out", str(tmp_path / "build"), "-j", "1"])
    out, err = capfd.readouterr()
    assert "KeyboardInterrupt caught" not in out + err and "ERROR" not in out + err
    assert code == 1 and "01_logs.ipynb" in out and "DeadKernelError" in out + err
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("01_logs.ipynb")] == ["ok"]


def _course_notebooks():
    """The repository's root and every lesson and homework notebook in it."""
    from pathlib import Path

    root = Path(build.__file__).resolve().parents[2]
    return root, sorted(root.glob("notebooks/*.ipynb")) + sorted(root.glob("homework/**/*.ipynb"))


def test_no_notebook_uses_output_widgets():
    """`interact` and Output widgets can hang a scripted run (nbclient; see cu.text_slider): the
    lessons and homework use cu.text_slider or plain widgets instead."""
    root, notebooks = _course_notebooks()
    assert len(notebooks) >= 6
    offenders = [f"{nb.relative_to(root)} cell {i}"
                 for nb in notebooks for i, cell in enumerate(nbformat.read(nb, as_version=4).cells)
                 if cell.cell_type == "code" and any(word in cell.source for word in
                                                     ("interact(", "interactive(", "interact_manual", "Output("))]
    assert not offenders, offenders


def test_no_notebook_cell_ends_with_a_semicolon():
    """nbval runs cells with store_history=False, and IPython then decides whether a trailing `;` silences the
    last value by looking at the previous cell: the `<Axes ...>` repr comes back in the test run and not in the
    stored outputs (hw0's solution failed nbval so).  Plotting cells end with `plt.show()` (CONTRIBUTING)."""
    root, notebooks = _course_notebooks()
    offenders = [f"{nb.relative_to(root)} cell {i}"
                 for nb in notebooks for i, cell in enumerate(nbformat.read(nb, as_version=4).cells)
                 if cell.cell_type == "code" and cell.source.rstrip().endswith(";")]
    assert len(notebooks) >= 10 and not offenders, offenders


def test_text_slider_follows_the_slider():
    import course_utils as cu

    pytest.importorskip("ipywidgets")
    view = cu.text_slider(lambda t: ["near" if d < t else "far" for d in (0.2, 0.5)], value=0.3,
                          min=0.1, max=1.0, step=0.05, description="threshold")
    slider, text = view.children
    assert text.value == "['near', 'far']"
    slider.value = 0.6
    assert text.value == "['near', 'near']"
