"""The grading kit: what the gradings of one homework need, read once (issue 3).

A :class:`Kit` holds the reference notebook, its check names and the bytes of every file a run
may see (``course_utils``, sample data, models, the sanitize file), with their hashes.  Each run
(:func:`execute`) gets a fresh, read-only copy of those bytes as its library, so a submission
that changes the repository cannot change the gradings that follow, and one that changes its own
copy is caught (:meth:`Kit.changed_in`).  The kit also computes, once and cached on disk, the
reference values the grader judges each check against (:meth:`Kit.reference_values`,
:mod:`.verdict`).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import authoring, hidden, verdict
from . import notebook as nbk
from . import sandbox as sbx
from .nbrun import PASS_THROUGH, SANITIZE_FILE, run_nbval, subprocess_env
from .rebuild import build_graded_notebook
from .results import atomic_write

GRADED_NAME = "graded.ipynb"
_KIT_LOCK = threading.Lock()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ignored_files(root: Path) -> set[str] | None:
    """The paths under ``root`` that git ignores (a folder git ignores whole ends with ``/``), or None where git
    cannot say (no git, not a checkout): what must never reach a grading run (issue 29: an instructor's own test
    photos, models saved by running a solution in place)."""
    import subprocess

    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--others", "--ignored", "--exclude-standard",
                              "--directory"], capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {p for p in out.decode("utf-8", "replace").split("\0") if p}


def _is_ignored(rel: str, ignored: set[str]) -> bool:
    return rel in ignored or any(rel.startswith(d) for d in ignored if d.endswith("/"))


def _kit_sources(home: authoring.Homework) -> dict[str, Path]:
    """What a grading run may see, by its path under the run's ``lib`` folder: the course's
    library, its data (sample and real faces; not this machine's cache) and models, the sanitize
    file; never what git ignores (a cache, an instructor's private files).  Never a notebook of
    ``homework/``.  The library is copied whole, :mod:`course_utils.tools` too: the run's pytest loads its
    plugin (:mod:`.nbrun`) from this copy."""
    root = Path(__file__).resolve().parents[2]
    ignored = ignored_files(root) or set()
    files = {f"course_utils/{p.relative_to(root / 'course_utils')}": p
             for p in (root / "course_utils").rglob("*.py") if "__pycache__" not in p.parts}
    local = ("cache",)  # data/cache: downloads and conversions of this machine, not the course's
    files |= {str(p.relative_to(root)): p for p in (root / "data").rglob("*")
              if p.is_file() and not p.is_symlink() and p.relative_to(root / "data").parts[0] not in local}
    training = ("checkpoint.keras", "*.h5", "*.h5.json", "train*.log")  # by-products, as in .gitignore
    files |= {str(p.relative_to(root)): p for p in (root / "models").rglob("*")
              if p.is_file() and not p.is_symlink() and not any(p.match(t) for t in training)}
    files = {rel: p for rel, p in files.items() if not _is_ignored(rel, ignored)}
    files[f"homework/{SANITIZE_FILE.name}"] = SANITIZE_FILE
    return files


def _bytecode(sources: dict[str, bytes]) -> dict[str, bytes]:
    """Compiled ``__pycache__`` files for the kit's modules, checked against their source's hash
    (not its time stamp, which every copy changes): each run imports the library without
    compiling it again (seconds of CPU per kernel on a busy machine)."""
    import importlib.util
    import py_compile

    out = {}
    with tempfile.TemporaryDirectory(prefix="course-kit-") as tmp:
        for name, source in sources.items():
            src, pyc = Path(tmp) / name, Path(tmp) / importlib.util.cache_from_source(name)
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(source)
            try:
                py_compile.compile(str(src), cfile=str(pyc), doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
            except py_compile.PyCompileError:
                continue  # the run will report the syntax error itself
            out[str(Path(importlib.util.cache_from_source(name)))] = pyc.read_bytes()
    return out


@dataclass
class Kit:
    """Everything the gradings of one homework need, read once (before the first submission of a
    bulk run): the reference notebook, its check names and the files a run sees, with their
    hashes.  Later changes to the repository (by a submission, or anyone) do not reach the
    gradings that follow: each run gets a fresh copy of these bytes."""

    home: authoring.Homework
    reference: object
    names: list[str]
    files: dict[str, bytes]
    originals: dict[str, Path]
    hashes: dict[str, str]
    blocks: list[str]            # solution code, kept out of every feedback
    seen: dict[str, str] = field(default_factory=dict)  # the originals' hashes when last looked at
    references: dict[str, dict] | None = None  # check name -> the solution's record (see verdict)
    reference_note: str = ""                   # why there are no reference values, if there are none
    hidden_spec: hidden.Spec | None = None     # the hidden checks (instructor only; None in a student release)
    seed: int = field(default_factory=hidden.secret_seed)  # their inputs' secret seed, one per kit
    hidden_reference: dict[str, object] | None = None  # probe name -> the solution's value on the hidden inputs
    hidden_note: str = ""                      # why the hidden checks are not used, if they are not
    fingerprints: dict[str, str] = field(default_factory=dict)  # the lessons' and library's functions (copies)
    _reference_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, home: authoring.Homework) -> "Kit":
        import nbformat

        originals = _kit_sources(home) | {f"reference/{home.reference.name}": home.reference}
        data = {name: path.read_bytes() for name, path in originals.items()}
        reference = nbformat.reads(data[f"reference/{home.reference.name}"].decode("utf-8"), as_version=4)
        names = nbk.expected_checks(reference)
        if not names:
            raise ValueError(f"{home.reference} has no check cells with a literal name (cu.check(\"q1\", ...))")
        answers = (authoring.solution_answers(home) or {}).values()
        blocks = [b for src in answers for b in authoring.solution_blocks(src)]
        data.pop(f"reference/{home.reference.name}")
        data |= _bytecode({n: b for n, b in data.items() if n.startswith("course_utils/") and n.endswith(".py")})
        spec = hidden.Spec.load(home.path) if home.has_solution else None
        return cls(home, reference, names, data, originals, {n: _sha(b) for n, b in data.items()} | {
            f"reference/{home.reference.name}": _sha(home.reference.read_bytes())}, blocks, hidden_spec=spec,
            fingerprints=hidden.course_fingerprints(Path(__file__).resolve().parents[2]) if spec else {})

    def write_lib(self, lib: Path) -> None:
        """A read-only copy of the kit's files in ``lib`` (the run's ``PYTHONPATH``)."""
        for name, data in self.files.items():
            dest = lib / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            dest.chmod(0o444)
        for folder in sorted((p for p in lib.rglob("*") if p.is_dir()), reverse=True):
            folder.chmod(0o555)
        lib.chmod(0o555)

    def changed_in(self, lib: Path) -> list[str]:
        """Files of a run's copy that differ from the kit (the run tampered with its library)."""
        bad = []
        for name in self.files:
            p = lib / name
            try:
                same = not p.is_symlink() and _sha(p.read_bytes()) == self.hashes[name]
            except OSError:
                same = False
            if not same:
                bad.append(name)
        extra = [str(p.relative_to(lib)) for p in lib.rglob("*.py") if str(p.relative_to(lib)) not in self.files]
        return bad + extra

    def changed_originals(self) -> list[str]:
        """The repository's files (library, reference) that changed since the last call (or
        since the kit was read): each change is reported once, to the grading it happened in."""
        bad = []
        with _KIT_LOCK:
            for name, path in self.originals.items():
                try:
                    now = _sha(path.read_bytes())
                except OSError:
                    now = "missing"
                if now != self.seen.setdefault(name, self.hashes[name]):
                    bad.append(str(path))
                    self.seen[name] = now
        return bad

    def reference_key(self) -> str:
        """What the cached reference values depend on: the kit's sources (not their compiled files, which embed the
        temporary path they were compiled in), the homework's files a run gets, the numeric settings and Python."""
        settings = {k: os.environ.get(k, "") for k in PASS_THROUGH if k != "COURSE_GRADE_TAG"}
        data = [(str(q.relative_to(self.home.path)), _sha(q.read_bytes())) for q in homework_files(self.home)]
        sources = sorted((n, h) for n, h in self.hashes.items() if "__pycache__" not in n)
        return _sha(json.dumps([sources, data, settings, sys.version]).encode())[:20]

    def reference_values(self, sandbox: sbx.Sandbox, *, cell_timeout: float, timeout: float) -> dict[str, dict] | None:
        """The reference values of the checks (:mod:`course_utils.tools.verdict`): the solution run
        once in a fresh folder like a submission, cached on disk by the hashes of everything it
        read and the numeric settings.  None without a solution (a student's copy) or when the
        solution does not pass here (``reference_note`` says why)."""
        with self._reference_lock:
            if self.references is not None or self.reference_note:
                return self.references
            if not self.home.has_solution:
                self.reference_note = ("no solution here (a student's copy): each check's PASS is the notebook's own "
                                       "word, not judged by the grader")
                return None
            key = self.reference_key()
            from ..download import default_data_dir

            cache = default_data_dir() / "grading" / f"{self.home.name}-{key}.json"
            try:
                self.references = json.loads(cache.read_text())
                return self.references
            except (OSError, ValueError):
                pass
            graded, _, _ = build_graded_notebook(self.reference, self.reference)
            cells, error, _, records, _, _ = execute(self, graded, sandbox=sandbox, cell_timeout=cell_timeout,
                                                     timeout=timeout)
            refs, missing = verdict.reference_values(records, self.names)
            failed = [n for n, (ok, _) in cells.items() if not ok]
            if error or failed or missing:
                self.reference_note = (f"the solution did not pass here ({error or 'cells ' + str(failed)[:80]}; "
                                       f"no reference value for {missing}): checks are judged by the kernel's "
                                       "PASS lines only")
                return None
            self.references = refs
            try:
                atomic_write(cache, json.dumps(refs))
            except OSError:
                pass  # a read-only data folder: computed again next time
            return refs


    def hidden_values(self, sandbox: sbx.Sandbox, *, timeout: float) -> dict[str, object] | None:
        """The reference solution's values on this kit's hidden inputs (:mod:`.hidden`), computed once per kit
        (the seed is new each time: never cached on disk); None without hidden checks or when the solution's
        probes fail here (``hidden_note`` says why)."""
        with self._reference_lock:
            if self.hidden_spec is None or self.hidden_reference is not None or self.hidden_note:
                return self.hidden_reference
            graded, _, _ = build_graded_notebook(self.reference, self.reference)
            records, error = run_hidden(self, hidden.answer_sources(graded), sandbox=sandbox, timeout=timeout)
            values, problems = hidden.reference_values(self.hidden_spec, records)
            if error or problems:
                self.hidden_note = f"hidden checks not used: {error or '; '.join(problems)}"
                return None
            self.hidden_reference = values
            return values


def run_hidden(kit: Kit, answers: dict[str, str], *, sandbox: sbx.Sandbox, timeout: float):
    """Run the kit's hidden checks on ``answers`` in a fresh folder with a read-only copy of the kit: the
    records by probe name and the run's error."""
    with tempfile.TemporaryDirectory(prefix="course-hidden-", ignore_cleanup_errors=True) as tmp:
        lib, work = Path(tmp) / "lib", Path(tmp) / "work"
        os.chmod(tmp, 0o755)
        kit.write_lib(lib)
        inside = (sbx.LIB_MOUNT, sbx.WORK_MOUNT) if sandbox.isolated else (str(lib), str(work))
        env = subprocess_env(inside[1], inside[0])
        try:
            return hidden.run(kit.hidden_spec, answers, kit.seed, lib=lib, folder=work, sandbox=sandbox, env=env,
                              timeout=timeout, homework=kit.home.name)
        finally:
            make_removable(Path(tmp))


def homework_files(home: authoring.Homework) -> list[Path]:
    """The files of a homework's folder that a grading run gets: every file but its notebooks, README, hidden checks
    and links, and **never** what git ignores there (issue 29: the instructor's own photos in hw3's ``data/``, a
    model saved by running the solution in place); without git, none (the course's homework read their data from
    the kit)."""
    root = Path(__file__).resolve().parents[2]
    ignored = ignored_files(root)
    if ignored is None:
        return []
    found = []
    for p in sorted(home.path.rglob("*")):
        rel = p.relative_to(home.path)
        if not (p.is_dir() or p.is_symlink() or p.suffix == ".ipynb" or any(part.startswith(".") for part in rel.parts)
                or rel.parts[0] in ("README.md", hidden.SPEC_NAME) or "__pycache__" in rel.parts
                or _is_ignored(str(p.relative_to(root)), ignored)):
            found.append(p)
    return found


def _copy_homework_files(home: authoring.Homework, workdir: Path) -> None:
    """The homework's own data (:func:`homework_files`) into ``workdir``."""
    for p in homework_files(home):
        dest = workdir / p.relative_to(home.path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, dest)


def execute(kit: Kit, graded, *, sandbox: sbx.Sandbox, cell_timeout: float, timeout: float,
            keep: Path | None = None):
    """Run ``graded`` in a fresh folder with a read-only copy of the kit; return nbval's per-cell
    results, the overall error, the kit files the run changed, the checks' records, what was
    wrong with them, and the hidden checks' records and error (:mod:`.hidden`; empty without them)."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="course-grade-", ignore_cleanup_errors=True) as tmp:
        lib, work = Path(tmp) / "lib", Path(tmp) / "work"
        work.mkdir()
        os.chmod(tmp, 0o755)  # the sandbox's user reaches lib/ and work/ (its own)
        kit.write_lib(lib)
        _copy_homework_files(kit.home, work)
        path = work / GRADED_NAME
        nbformat.write(graded, str(path))
        cells, error = run_nbval(path, lib=lib, cell_timeout=cell_timeout, timeout=timeout, sandbox=sandbox)
        tampered = kit.changed_in(lib)
        records, problems = verdict.read_records(work / verdict.RECORD_NAME)
        if keep is not None:
            shutil.copytree(work, keep, dirs_exist_ok=True, symlinks=True)
            if (Path(tmp) / "work.pytest.log").is_file():
                shutil.copy(Path(tmp) / "work.pytest.log", Path(keep) / "pytest.log")
        make_removable(Path(tmp))
    found = ({}, "")
    if kit.hidden_spec is not None and kit.hidden_reference is not None and not error:
        found = run_hidden(kit, hidden.answer_sources(graded), sandbox=sandbox, timeout=timeout)
    return cells, error, tampered, records, problems, found


def make_removable(folder: Path) -> None:
    """Undo the read-only modes of a run's folder so that it can be deleted."""
    for p in [folder, *folder.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            try:
                p.chmod(0o755)
            except OSError:
                pass
