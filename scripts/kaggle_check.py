#!/usr/bin/env python3
"""Run every lesson and homework solution in a Kaggle-like environment, the way a student would.

    python3 scripts/kaggle_check.py                 # build (first time, ~4 GB download) and run
    python3 scripts/kaggle_check.py --only 04 hw1   # some notebooks
    python3 scripts/kaggle_check.py --rebuild       # a fresh environment

1. A venv outside the repository (default ``$TMPDIR/kaggle-check/venv``, Python 3.11) with what the
   Kaggle image preinstalls that matters to the course: ``requirements/kaggle.txt`` (TensorFlow
   2.18.1, Keras 3.8.0, torch 2.6.0 with its CUDA build and triton, torchvision 0.21.0, numpy 2.0.2,
   opencv-python 4.12, pandas, scikit-learn, scikit-image, matplotlib, papermill, ipykernel).  It is
   built once; each run first removes what earlier runs added (``pip freeze`` kept as baseline.txt).
2. The README's Kaggle route: each notebook is copied alone into an empty working folder (as Kaggle
   opens it from GitHub), its setup cell is ``course_utils.bootstrap.SETUP_CELL`` with
   ``COURSE_REPO_URL`` set to a bare clone of this repository's HEAD (the committed course), so the
   first notebook clones the course into ``./course`` and installs what is missing; the others find it.
   ``KAGGLE_KERNEL_RUN_TYPE=Batch`` is set, as on Kaggle.  One difference: there is no ``/kaggle``
   here (creating it would turn every other process on this machine into "Kaggle"), so the data
   folder is ``COURSE_DATA_DIR=<working>/data`` instead of ``/kaggle/working/data``.
3. Each notebook runs with papermill; the table gives ran / the first error, and the preinstalled
   packages' versions before and after (they must not change).  A JSON report is written beside the venv.
4. Your own face (issue 30), after lesson 06 or hw3 has run: the camera cell must say that Kaggle has no
   camera (its stored output), and a photo sent through the upload box (its change handler, with a committed
   real photo, in the Kaggle-like venv and settings) must be checked and kept under the data folder's
   ``my_faces/`` (``/kaggle/working/data`` on Kaggle), not in the course's clone.

``--write-metadata`` writes the preinstalled packages' metadata to requirements/kaggle-metadata.json, which
the fast CI check (tests/test_kaggle_install.py) uses instead of this environment.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from course_utils import bootstrap  # noqa: E402  (standard library only)

KAGGLE_TXT = ROOT / "requirements" / "kaggle.txt"
LESSONS = [f"notebooks/{p.name}" for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
SOLUTIONS = [f"homework/{p.parent.name}/solution.ipynb" for p in sorted((ROOT / "homework").glob("*/solution.ipynb"))]


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], **kwargs)


def kaggle_pins() -> dict[str, str]:
    return {bootstrap._norm(k): v for k, v in bootstrap.lock_versions(KAGGLE_TXT).items()}


def build(venv: Path, python: str, rebuild: bool) -> None:
    """The Kaggle-like venv, built once per version of requirements/kaggle.txt."""
    stamp = venv / "kaggle-stack.sha256"
    want = hashlib.sha256(KAGGLE_TXT.read_bytes()).hexdigest()
    if not rebuild and stamp.exists() and stamp.read_text().strip() == want:
        return
    if venv.exists():
        shutil.rmtree(venv)
    print(f"[kaggle-check] building the Kaggle-like environment in {venv} (several GB) ...", flush=True)
    _run([python, "-m", "venv", venv], check=True)
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "-r", KAGGLE_TXT], check=True)
    (venv / "baseline.txt").write_text(freeze(venv))
    stamp.write_text(want + "\n")


def freeze(venv: Path) -> str:
    return _run([venv / "bin" / "python", "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                check=True).stdout


def versions(venv: Path) -> dict[str, str]:
    out = _run([venv / "bin" / "python", "-m", "pip", "list", "--format", "json"], capture_output=True, text=True,
               check=True).stdout
    return {bootstrap._norm(p["name"]): p["version"] for p in json.loads(out)}


def restore(venv: Path) -> list[str]:
    """Uninstall what earlier runs added on top of the baseline; the names removed."""
    baseline = {bootstrap._norm(line.split("==")[0]) for line in (venv / "baseline.txt").read_text().splitlines()
                if "==" in line}
    added = sorted(set(versions(venv)) - baseline)
    if added:
        _run([venv / "bin" / "python", "-m", "pip", "uninstall", "-y", "-q", *added], check=True)
    return added


METADATA = ROOT / "requirements" / "kaggle-metadata.json"

_READ_METADATA = """
import importlib.metadata as md, json, sys
names = set(json.loads(sys.argv[1]))
out = {}
for d in md.distributions():
    name = d.metadata["Name"]
    if name.lower().replace("_", "-").replace(".", "-") in names:
        out[name] = {"version": d.version, "requires_python": d.metadata.get("Requires-Python"),
                     "requires_dist": d.requires or []}
print(json.dumps(out, indent=1, sort_keys=True))
"""


def write_metadata(venv: Path, out: Path = METADATA) -> int:
    """The preinstalled packages' names, versions and requirements (``requirements/kaggle-metadata.json``):
    tests/test_kaggle_install.py installs them as metadata-only stand-ins and asks pip what the course
    would change, without downloading the stack's 2 GB of wheels."""
    baseline = sorted({bootstrap._norm(line.split("==")[0]) for line in (venv / "baseline.txt").read_text().splitlines()
                       if "==" in line} - {"pip", "setuptools", "wheel"})
    text = _run([venv / "bin" / "python", "-c", _READ_METADATA, json.dumps(baseline)], capture_output=True,
                text=True, check=True).stdout
    out.write_text(text)
    return len(json.loads(text))


def first_error(notebook: Path) -> str | None:
    """``ename: evalue`` of the first error output in an executed notebook, else None."""
    try:
        nb = json.loads(notebook.read_text())
    except (OSError, ValueError):
        return None
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {i}: {out.get('ename')}: {str(out.get('evalue'))[:300]}"
    return None


def stderr_lines(notebook: Path) -> list[str]:
    """Every stderr line the notebook printed (to see what a student would see)."""
    try:
        nb = json.loads(notebook.read_text())
    except (OSError, ValueError):
        return []
    return [line for cell in nb.get("cells", []) for out in cell.get("outputs", [])
            if out.get("name") == "stderr" for line in "".join(out.get("text", "")).splitlines() if line.strip()]


#: Run by the Kaggle-like venv's python in the working folder: the upload box as a student's upload drives it.
UPLOAD_PROBE = """
import glob, json, os, sys
sys.path.insert(0, "course")
from course_utils import own_face
photo = sorted(glob.glob("course/data/real/lfw_people/*/*_0001.jpg"))[0]
box = own_face.upload_box("Kaggle_Student")
box.received({"new": [{"name": os.path.basename(photo), "content": open(photo, "rb").read()}]})
box.received({"new": [{"name": "notes.jpg", "content": b"not a photo"}]})
print(json.dumps([{"text": str(r), "path": str(r.path) if r.path else None} for r in box.saved]))
"""


def own_face_probe(executed: Path, python: Path, working: Path, env: dict) -> str:
    """Step 4: ``"ok: ..."`` or what went wrong."""
    try:
        nb = json.loads(executed.read_text())
    except (OSError, ValueError) as exc:
        return f"no executed notebook ({exc})"
    camera_text = [str(o.get("data", {}).get("text/plain", "")) for c in nb["cells"]
                   if "identify_camera(" in "".join(c.get("source", "")) for o in c.get("outputs", [])]
    if not any("not available on Kaggle" in t for t in camera_text):
        return f"the camera cell did not say that Kaggle has no camera: {camera_text}"
    proc = _run([python, "-c", UPLOAD_PROBE], capture_output=True, text=True, env=env, cwd=working)
    if proc.returncode != 0:
        return f"upload failed: {proc.stderr.strip().splitlines()[-1:]}"
    saved = json.loads(proc.stdout.strip().splitlines()[-1])
    kept = Path(saved[0]["path"] or "")
    data = Path(env["COURSE_DATA_DIR"])
    if data / "my_faces" not in kept.parents or not kept.is_file():
        return f"the uploaded photo was not kept under {data}/my_faces: {saved[0]}"
    if saved[1]["path"] is not None or "not an image" not in saved[1]["text"]:
        return f"a file that is not a photo was not refused: {saved[1]}"
    return f"ok: camera says it is not available; upload kept {kept.relative_to(working)}, refused a non-image"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, default=Path(tempfile.gettempdir()) / "kaggle-check",
                        help="folder for the venv, the working folder and the report (outside the repository)")
    parser.add_argument("--python", default="python3.11", help="the interpreter to build the venv with (3.11)")
    parser.add_argument("--rebuild", action="store_true", help="build the venv again from scratch")
    parser.add_argument("--only", nargs="*", default=None, help="notebooks whose path contains one of these")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    parser.add_argument("--write-metadata", action="store_true",
                        help=f"only (re)write {METADATA.relative_to(ROOT)} from the venv, then stop")
    args = parser.parse_args(argv)
    base = args.base.resolve()
    if base == ROOT or ROOT in base.parents:
        parser.error("--base must lie outside the repository")
    venv = base / "venv"
    build(venv, args.python, args.rebuild)
    if args.write_metadata:
        print(f"[kaggle-check] {write_metadata(venv)} packages written to {METADATA}")
        return 0
    removed = restore(venv)
    if removed:
        print(f"[kaggle-check] removed what an earlier run installed: {', '.join(removed)}", flush=True)
    before = versions(venv)

    working = base / "working"
    head, cell, env = _clone_course(base, working, venv)
    notebooks = LESSONS + SOLUTIONS
    if args.only:
        notebooks = [n for n in notebooks if any(key in n for key in args.only)]
    print(f"[kaggle-check] course at {head}; {len(notebooks)} notebooks in {working}", flush=True)
    rows = [_run_notebook(rel, base, working, head, cell, env, venv, args.timeout) for rel in notebooks]
    return _report(base, venv, head, rows, before)


def _clone_course(base: Path, working: Path, venv: Path) -> tuple[str, str, dict]:
    """A bare clone of this repository as the setup cell's origin: the commit it holds, the setup cell
    pointing at it, and the environment the notebooks run in (Kaggle's markers, the venv first on PATH)."""
    origin = base / "origin.git"
    for d in (working, origin):
        shutil.rmtree(d, ignore_errors=True)
    working.mkdir(parents=True)
    _run(["git", "clone", "-q", "--bare", ROOT, origin], check=True)
    # the commit the clone holds: notebooks come from it too, however HEAD moves meanwhile
    head = _run(["git", "-C", origin, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                check=True).stdout.strip()
    cell = bootstrap.SETUP_CELL.replace(bootstrap.REPO_URL_PLACEHOLDER, origin.as_uri())
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "COURSE_PYTHON")}
    env.update({"PATH": f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}", "KAGGLE_KERNEL_RUN_TYPE": "Batch",
                "COURSE_DATA_DIR": str(working / "data"), "PYTHONNOUSERSITE": "1"})
    return head, cell, env


def _run_notebook(rel: str, base: Path, working: Path, head: str, cell: str, env: dict, venv: Path,
                  timeout: int) -> dict:
    """Run one notebook of commit ``head`` with papermill in the Kaggle-like venv; its row of the report."""
    origin = base / "origin.git"
    name = rel.replace("homework/", "").replace("notebooks/", "").replace("/", "_")
    src = working / name
    src.write_bytes(_run(["git", "-C", origin, "show", f"{head}:{rel}"], capture_output=True, check=True).stdout)
    bootstrap.write_setup_cell(src, cell)
    out = base / "executed" / name
    out.parent.mkdir(exist_ok=True)
    started = time.perf_counter()
    proc = _run([venv / "bin" / "python", "-m", "papermill", src, out, "--cwd", working, "-k", "python3",
                 "--execution-timeout", timeout, "--no-progress-bar"],
                capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    error = None if proc.returncode == 0 else (first_error(out) or proc.stderr.strip().splitlines()[-1:])
    row = {"notebook": rel, "ran": proc.returncode == 0, "seconds": round(seconds),
           "first_error": error, "stderr": stderr_lines(out)[:20]}
    if proc.returncode == 0 and ("06_face_identification" in rel or "hw3" in rel):
        row["own_face"] = own_face_probe(out, venv / "bin" / "python", working, env)
        row["ran"] = row["own_face"].startswith("ok")
        print(f"[kaggle-check] {rel}: own face: {row['own_face']}", flush=True)
    print(f"[kaggle-check] {rel}: {'ran' if proc.returncode == 0 else error} ({seconds:.0f} s)", flush=True)
    return row


def _report(base: Path, venv: Path, head: str, rows: list[dict], before: dict) -> int:
    """Print the tables (notebooks; Kaggle's preinstalled packages before and after), write report.json;
    0 when every notebook ran and no preinstalled package changed."""
    after = versions(venv)
    pins = kaggle_pins()
    changed = {n: (v, after.get(n)) for n, v in before.items() if after.get(n) != v}
    added = sorted(set(after) - set(before))
    print("\n| notebook | result | s |\n|---|---|---|")
    for r in rows:
        print(f"| {r['notebook']} | {'ran' if r['ran'] else r['first_error']} | {r['seconds']} |")
    print("\n| preinstalled | kaggle.txt | before | after |\n|---|---|---|---|")
    for n, v in pins.items():
        print(f"| {n} | {v} | {before.get(n)} | {after.get(n)} |")
    print(f"\nother preinstalled packages changed: {len(changed)} {changed if changed else ''}")
    print(f"added by the route: {', '.join(f'{n} {after[n]}' for n in added)}")
    report = base / "report.json"
    report.write_text(json.dumps({"head": head, "rows": rows, "before": before, "after": after,
                                  "changed": changed, "added": added}, indent=1))
    print(f"report: {report}")
    return 0 if all(r["ran"] for r in rows) and not changed else 1


if __name__ == "__main__":
    sys.exit(main())
