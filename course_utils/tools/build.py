"""Execute the lesson notebooks headless and write ``build/`` (``python3 course.py run``).

    python -m course_utils.tools.build run                 # every lesson -> build/*.ipynb + *.html
    python -m course_utils.tools.build run notebooks/02_face_detection.ipynb -p FULL_DATA /data/x
    python -m course_utils.tools.build run --inplace notebooks/02_face_detection.ipynb
                                                           # refresh a notebook's stored outputs

Each notebook runs in its own kernel with ``notebooks/`` as working directory, through papermill
(so its ``parameters`` cell can be overridden with ``-p NAME VALUE``).  Lessons run two at a time on a
machine with two or more cores (``--jobs``: most of a lesson's first seconds are a kernel importing
TensorFlow and PyTorch on one core).  A failing lesson does not stop the others; the exit status is 1
if any failed.  A time summary is printed at the end.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..env import REPO_ROOT
from .notebook import clean_metadata

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "build"
#: The whole course should run within this many seconds on a 2-core CPU (issue budget).
RUN_BUDGET_S = 120


def lesson_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The lesson notebooks (``NN_*.ipynb``) in order."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


#: Arguments for each lesson's kernel: its own log is not printed.  ipykernel 7 logs a warning at every
#: start that its sockets on 127.0.0.1 are not encrypted (true of every local Jupyter kernel), and an
#: ERROR line, "KeyboardInterrupt caught in kernel.", whenever jupyter_client's shutdown (which sends
#: SIGINT before the shutdown request: jupyter_client/manager.py, ``_async_shutdown_kernel``) reaches it
#: inside a message handler: after a lesson that ran to the end.  What goes wrong in a lesson still
#: shows: a cell's error comes back in the notebook and fails the run, a dead kernel as nbclient's
#: DeadKernelError (tests/test_build.py).
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]


def execute_inplace(path: Path, timeout: int = 600) -> float:
    """Execute ``path`` and store the fresh outputs in the same file; returns seconds taken."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", extra_arguments=list(KERNEL_ARGS),
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    clean_metadata(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - started


def execute_to_build(path: Path, out_dir: Path, parameters: dict, timeout: int = 600) -> float:
    """Execute ``path`` with papermill into ``out_dir`` and export an HTML page beside it."""
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    out_nb = out_dir / path.name
    started = time.perf_counter()
    try:
        pm.execute_notebook(str(path), str(out_nb), parameters=parameters, kernel_name="python3",
                            cwd=str(path.parent), progress_bar=False, execution_timeout=timeout,
                            log_output=False, extra_arguments=list(KERNEL_ARGS))
    finally:
        elapsed = time.perf_counter() - started
        if out_nb.exists():  # papermill writes the partial notebook on failure too
            body, _ = HTMLExporter().from_notebook_node(nbformat.read(out_nb, as_version=4))
            out_nb.with_suffix(".html").write_text(body, encoding="utf-8")
    return elapsed


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"None": None, "True": True, "False": False}.get(text, text)


#: Environment variables that set the math libraries' thread pools (OpenMP for PyTorch, oneDNN, NumPy's
#: BLAS; TensorFlow's own pools).  Lessons running side by side each get their share of the cores: two
#: kernels with a full-size pool each would spin-wait against each other.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def _run_one(nb: Path, inplace: bool, out: Path, params: dict, timeout: int,
             threads: int | None = None) -> tuple[str, float, str]:
    """Run one lesson; report a failure (and go on with the others) instead of raising.  ``threads``
    sizes the kernel's thread pools (see :data:`THREAD_VARS`; variables already set are kept)."""
    if threads:
        for var in THREAD_VARS:
            os.environ.setdefault(var, str(threads))
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    print(f"[run] {nb.name} ...", flush=True)
    try:
        seconds = execute_inplace(nb, timeout) if inplace else execute_to_build(nb, out, params, timeout)
        return nb.name, seconds, "ok"
    except Exception as exc:
        print(f"[run] {nb.name} failed:\n{exc}", file=sys.stderr, flush=True)
        return nb.name, float("nan"), f"FAILED: {type(exc).__name__}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course.py run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb")
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="output folder (default build/)")
    parser.add_argument("--inplace", action="store_true", help="store outputs in the notebook itself")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="lessons run at the same time (default: 2, or 1 on a one-core machine)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:  # `python -m course_utils.tools.build run ...` reads naturally
        argv = argv[1:]
    args = parser.parse_args(argv)

    notebooks = [p.resolve() for p in args.notebooks] or lesson_notebooks()
    missing = [p for p in notebooks if not p.exists()]
    if missing:
        print("not found: " + ", ".join(map(str, missing)), file=sys.stderr)
        return 2
    params = {k: _parse_value(v) for k, v in args.parameter}
    total_start = time.perf_counter()
    jobs = max(1, min(args.jobs, len(notebooks)))
    if jobs == 1:
        rows = [_run_one(nb, args.inplace, args.out, params, args.timeout) for nb in notebooks]
    else:
        from concurrent.futures import ProcessPoolExecutor

        n = len(notebooks)
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(jobs) as pool:
            rows = list(pool.map(_run_one, notebooks, [args.inplace] * n, [args.out] * n, [params] * n,
                                 [args.timeout] * n, [threads] * n))
    failed = [name for name, _, status in rows if status != "ok"]
    total = time.perf_counter() - total_start
    width = max(len(r[0]) for r in rows)
    print("\nlesson".ljust(width + 1) + "   seconds  status")
    for name, sec, status in rows:
        print(f"{name.ljust(width)}  {sec:8.1f}  {status}")
    budget = f" (budget {RUN_BUDGET_S} s)" if not args.notebooks else ""
    print(f"{'total'.ljust(width)}  {total:8.1f}{budget}")
    if not args.inplace:
        print(f"executed notebooks and HTML pages: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
