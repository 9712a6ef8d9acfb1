"""The student edition of the course: this repository without solutions (issue 16).

This repository is the *instructor's source*: it holds every ``homework/*/solution.ipynb``, the
answer sets of the demos and tests (``homework/instructor_answers.py``) and the tests that grade
them.  :func:`write_release` writes the *student release*, which students fork::

    python3 course.py release ../face-course-release      # (= python -m course_utils.tools.release OUT)

It copies every file git tracks, except :data:`INSTRUCTOR_ONLY`; each template is regenerated
from its solution (a template that has drifted stops the release), and before anything is
written every file of the release is searched for every solution block (the code between
``### BEGIN SOLUTION`` and ``### END SOLUTION``, or a whole answer cell).  A block found
anywhere stops the release, naming the file: the release never leaks an answer.  A block that
the homework itself prints on purpose (a hint in the template's own text) is reported, not
refused: the instructor chose to give it away.

In the release, the grader takes its reference from each ``template.ipynb`` (check names from the
check cells' sources), and the tests that need solutions skip with a reason.

Publishing (issue 28): ``--repo OWNER/NAME`` (and ``--branch``) writes the students' repository into the
release: the Colab and Kaggle badges, every setup cell's ``COURSE_REPO_URL`` and the library's defaults
(:func:`published_text`); ``--kaggle-dataset OWNER/SLUG`` names the Kaggle dataset the setup cell asks students
to attach when it finds no course.  Text between ``<!-- instructor-only -->`` and ``<!-- /instructor-only -->``
in Markdown files (README's note on the placeholders) is left out of the release.  Without ``--repo`` the
placeholders stay, and ``release`` says so.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import authoring
from .notebook import cell_source, is_solution, read_notebook
from .. import bootstrap
from ..env import REPO_ROOT

#: Paths (git's, relative to the repository root; fnmatch patterns) that stay with the instructor.
INSTRUCTOR_ONLY = (
    "homework/*/solution.ipynb",          # the answers
    "homework/*/hidden_checks.py",        # the hidden checks (course_utils/tools/hidden.py)
    "homework/instructor_answers.py",     # other honest answer sets (demos, tests)
    "tests/test_hw_lessons.py",           # grades hw2/hw3 solutions: needs them
    "tests/test_hw1_emotion.py",          # grades hw1's solution and an honest answer set
)
#: Written at the top of the release, so that nobody mistakes it for the instructor's source.
MARKER = "RELEASE.json"
#: What a published release may not contain: the two halves of the placeholder address (built from
#: bootstrap's constant, so that this file does not hold them itself).
PLACEHOLDERS = (bootstrap.REPO_SLUG_PLACEHOLDER.split("/")[0] + "/", bootstrap.REPO_SLUG_PLACEHOLDER.split("/")[1])
#: The setup cell's comment and message in the instructor's source (course_utils/bootstrap.py, SETUP_CELL).
SETUP_COMMENT = '  # placeholder: see README, "Kaggle and Colab"'
SETUP_ATTACH = "attach the course as a Kaggle dataset (Add Input)"
INSTRUCTOR_ONLY_TEXT = re.compile(r"<!-- instructor-only -->.*?<!-- /instructor-only -->\n?", re.S)
SLUG = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class ReleaseError(RuntimeError):
    """The release cannot be written (not a git checkout, drift, a leaked answer, ...)."""


@dataclass
class Release:
    out: Path
    files: list[str] = field(default_factory=list)         # what was written, relative paths
    left_out: list[str] = field(default_factory=list)      # instructor-only files
    given_away: list[str] = field(default_factory=list)    # blocks the homework prints itself


def is_instructor_only(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in INSTRUCTOR_ONLY)


def tracked_files(root: Path = REPO_ROOT) -> list[str]:
    """Every file git tracks in ``root`` (as in the working tree), sorted."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ReleaseError(f"{root} is not a git checkout with git on PATH ({exc}): the release is made "
                           "from the files git tracks, so that nothing local (data, models in training, "
                           "your notes) ends up in it") from None
    return sorted(p for p in out.decode().split("\0") if p)


def solution_blocks(root: Path = REPO_ROOT) -> dict[str, list[str]]:
    """``{"hw0_face_detection/q1-answer": [block, ...]}``: the hidden code of every answer cell."""
    blocks = {}
    for name in authoring.homework_names(root / "homework"):
        home = authoring.Homework(root / "homework" / name)
        for cell_id, source in (authoring.solution_answers(home) or {}).items():
            blocks[f"{name}/{cell_id}"] = authoring.solution_blocks(source)
    return blocks


def _searchable(path: Path) -> str:
    """A file's text, and for notebooks also each cell's source joined (JSON splits lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return ""  # images, models: no code in them
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
            text += "\n" + "\n".join("".join(c.get("source", "")) if isinstance(c.get("source"), list)
                                     else str(c.get("source", "")) for c in cells if isinstance(c, dict))
        except (ValueError, AttributeError):
            pass
    return text


def find_leaks(folder: Path, blocks: dict[str, list[str]], given: dict[str, str] | None = None) -> list[str]:
    """``"<file>: <answer cell>"`` for each solution block found in a file under ``folder``.
    ``given`` maps answer cells to a text where the homework prints their block on purpose."""
    leaks = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = _searchable(path)
        for where, parts in blocks.items():
            for block in parts:
                if block in text and block not in (given or {}).get(where, ""):
                    leaks.append(f"{path.relative_to(folder)}: {where} ({block.splitlines()[0][:60]!r})")
    return leaks


def _given_away(root: Path, blocks: dict[str, list[str]]) -> dict[str, str]:
    """Per answer cell, the text of its template outside the answer cells (hints, instructions)."""
    given = {}
    for where in blocks:
        name = where.split("/")[0]
        template = read_notebook(root / "homework" / name / authoring.TEMPLATE_NAME)
        given[where] = "\n".join(cell_source(c) for c in template.cells if not is_solution(c))
    return given


def published_text(text: str, repo: str, branch: str = "main", kaggle_dataset: str | None = None,
                   markdown: bool = False) -> str:
    """``text`` as the release publishes it for the students' repository ``repo`` (``OWNER/NAME``): badge
    links on ``branch``, the setup cell's address, comment and (with ``kaggle_dataset``) the dataset to attach;
    in Markdown, the instructor-only passages removed."""
    if markdown:
        text = INSTRUCTOR_ONLY_TEXT.sub("", text)
    slug = bootstrap.REPO_SLUG_PLACEHOLDER
    text = text.replace(f"{slug}/blob/main/", f"{repo}/blob/{branch}/")
    text = text.replace(bootstrap.REPO_URL_PLACEHOLDER, f"https://github.com/{repo}.git").replace(slug, repo)
    text = text.replace(SETUP_COMMENT, "  # the course's repository, cloned where the course is not found")
    if kaggle_dataset:
        text = text.replace(SETUP_ATTACH, f"attach the Kaggle dataset {kaggle_dataset} (Add Input)")
    return text


def _publish(staging: Path, repo: str, branch: str, kaggle_dataset: str | None) -> None:
    """Rewrite, in place, every text file of ``staging`` that names a placeholder or an instructor-only passage."""
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.suffix == ".ipynb":  # each cell's source as one text: JSON escapes quotes and splits lines
            nb = json.loads(text)
            for cell in nb.get("cells", []):
                source = "".join(cell.get("source", ""))
                cell["source"] = published_text(source, repo, branch, kaggle_dataset,
                                                markdown=cell.get("cell_type") == "markdown").splitlines(True)
            new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
            new = new if new != json.dumps(json.loads(text), indent=1, ensure_ascii=False) + "\n" else text
        else:
            new = published_text(text, repo, branch, kaggle_dataset, markdown=path.suffix == ".md")
        if new != text:
            path.write_text(new, encoding="utf-8")


def placeholders_left(folder: Path) -> list[str]:
    """``"<file>: <placeholder>"`` for each placeholder of the repository's address still in ``folder``."""
    found = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        text = _searchable(path)
        found += [f"{path.relative_to(folder)}: {p}" for p in PLACEHOLDERS if p in text]
    return found


def _check_release(root: Path, out: Path, repo: str | None, kaggle_dataset: str | None) -> list[str]:
    """What :func:`write_release` refuses before it writes anything (``ReleaseError``); returns git's files."""
    for what, value in (("--repo", repo), ("--kaggle-dataset", kaggle_dataset)):
        if value is not None and not SLUG.match(value):
            raise ReleaseError(f"{what} {value!r}: expected OWNER/NAME (letters, digits, '-', '_', '.')")
    if kaggle_dataset and not repo:
        raise ReleaseError("--kaggle-dataset needs --repo: the setup cell is published for a repository")
    if (root / MARKER).exists():
        raise ReleaseError(f"{root} is already a student release (it has {MARKER}); release from the "
                           "instructor's source")
    if out == root or root in out.parents:
        raise ReleaseError(f"write the release outside the repository, not in {out}")
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} is not empty: give a new folder")
    for name in authoring.homework_names(root / "homework"):
        home = authoring.Homework(root / "homework" / name)
        if not home.has_solution:
            raise ReleaseError(f"{home.solution} is missing: the release is made from the instructor's source")
        problems = authoring.check_drift(home.solution, home.template)
        if problems:
            raise ReleaseError(f"{home.template} has drifted from its solution:\n  " + "\n  ".join(problems))
    files = tracked_files(root)
    missing = [pattern for pattern in INSTRUCTOR_ONLY if not any(fnmatch.fnmatch(f, pattern) for f in files)]
    if missing:  # a renamed instructor file would otherwise be published under its new name
        raise ReleaseError(f"INSTRUCTOR_ONLY names files git does not track: {', '.join(missing)}; update "
                           "course_utils/tools/release.py")
    return files


def _copy_student_files(root: Path, files: list[str], staging: Path, release: Release) -> None:
    """Copy every tracked file but the instructor's into ``staging``, noting both lists in ``release``."""
    for rel in files:
        src = root / rel
        if is_instructor_only(rel):
            release.left_out.append(rel)
            continue
        if not src.exists() and not src.is_symlink():  # deleted in the working tree, not yet committed
            continue
        dest = staging / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            raise ReleaseError(f"{rel} is a symbolic link: the release copies files only")
        shutil.copy2(src, dest)
        release.files.append(rel)


def write_release(out: str | Path, root: Path = REPO_ROOT, repo: str | None = None, branch: str = "main",
                  kaggle_dataset: str | None = None) -> Release:
    """Write the student release of the repository at ``root`` into the new folder ``out``; with ``repo``
    (``OWNER/NAME``) published for that repository (:func:`published_text`).

    Raises:
        ReleaseError: ``out`` is not empty or lies inside the repository, ``root`` is already a
            release, a template has drifted from its solution, a solution block would leak, or
            ``repo``/``kaggle_dataset`` is not of the form OWNER/NAME.
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    files = _check_release(root, out, repo, kaggle_dataset)
    release = Release(out)
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    _copy_student_files(root, files, staging, release)
    (staging / MARKER).write_text(json.dumps({
        "edition": "student release",
        "made_from": _commit(root),
        "left_out": release.left_out,
        "how": "python3 course.py release OUT, in the instructor's source",
        "repository": repo, "branch": branch if repo else None, "kaggle_dataset": kaggle_dataset,
    }, indent=1) + "\n", encoding="utf-8")
    if repo:
        _publish(staging, repo, branch, kaggle_dataset)
        left = placeholders_left(staging)
        if left:
            shutil.rmtree(staging, ignore_errors=True)
            raise ReleaseError(f"placeholders left after publishing for {repo}; nothing was written:\n  "
                               + "\n  ".join(left))
    blocks = solution_blocks(root)
    given = _given_away(root, blocks)
    leaks = find_leaks(staging, blocks, given)
    if leaks:
        shutil.rmtree(staging, ignore_errors=True)
        raise ReleaseError("solution code would reach students; nothing was written. Found:\n  " + "\n  ".join(leaks))
    release.given_away = sorted(w for w, parts in blocks.items() if any(b in given[w] for b in parts))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.rmdir()  # empty (checked above)
    os.replace(staging, out)
    return release


def _commit(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="course.py release", description="Write the student release (no solutions).")
    p.add_argument("out", type=Path, help="a new folder outside the repository")
    p.add_argument("--repo", metavar="OWNER/NAME",
                   help="the students' GitHub repository: written into the badges and every setup cell")
    p.add_argument("--branch", default="main", help="the branch the badges open (default: main)")
    p.add_argument("--kaggle-dataset", metavar="OWNER/SLUG",
                   help="the course's Kaggle dataset, named in the setup cell's message (needs --repo)")
    a = p.parse_args(argv)
    try:
        r = write_release(a.out, repo=a.repo, branch=a.branch, kaggle_dataset=a.kaggle_dataset)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote the student release to {r.out}: {len(r.files)} files, "
          f"left out {len(r.left_out)} instructor-only files:")
    print("".join(f"  - {f}\n" for f in r.left_out), end="")
    for where in r.given_away:
        print(f"note: {where}'s answer is printed by the homework itself (a hint in the template)")
    if not a.repo:
        print("note: the badges and setup cells still name the placeholder YOUR-ORG/YOUR-COURSE-REPO: pass "
              "--repo OWNER/NAME (and --kaggle-dataset OWNER/SLUG) to publish for the students' repository")
    print("no solution code in it (every answer block searched for in every file).\n"
          f"Publish it: cd {r.out} && git init -b main && git add -A && git commit -m 'Course release' "
          "&& git remote add origin <the students' repository> && git push -u origin main")
    return 0


if __name__ == "__main__":
    sys.exit(main())
