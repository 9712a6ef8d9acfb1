"""Students' notebooks in a folder: which are graded (regular ``.ipynb`` files; a line for each entry that is
not, saying why), the student's name from the file name, and which names are likely the same student's."""
from __future__ import annotations

import re
from pathlib import Path

from ..text import plain


def student_name(name: str) -> str:
    """A submission's student name: the file name without its ``.ipynb`` (any case), without control characters
    or line breaks (a file name can hold them: issue 29)."""
    return plain(name[:-len(".ipynb")] if name.lower().endswith(".ipynb") else name)


_COPY_MARKS = re.compile(r"(\s*\(\d+\)|[\s_-]*copy(\s*\d+)?|[\s_-]+v?\d+|[\s_-]+final)+$", re.IGNORECASE)


def student_key(name: str) -> str:
    """What two file names of the same student share: ``jdoe``, ``JDoe (1)``, ``jdoe-copy``,
    ``jdoe_v2`` and ``Copy of jdoe`` all give ``jdoe``."""
    key = re.sub(r"^copy of\s+", "", name.strip(), flags=re.IGNORECASE)
    return _COPY_MARKS.sub("", key).lower() or name.lower()


def find_submissions(folder: Path) -> tuple[list[Path], list[str]]:
    """The notebooks to grade in ``folder`` (``*.ipynb`` in any case, regular files only) and a
    line for each entry that is not graded, saying why."""
    paths, skipped = [], []
    for entry in sorted(folder.iterdir()):
        name, is_nb = plain(entry.name), entry.name.lower().endswith(".ipynb")
        if entry.is_symlink():
            skipped.append(f"{name}: a symbolic link, not followed (copy the file itself into the folder)")
        elif entry.is_dir():
            inside = sum(1 for p in entry.rglob("*") if p.name.lower().endswith(".ipynb"))
            what = "a folder named like a notebook" if is_nb else "a folder"
            skipped.append(f"{name}/: {what}, not searched ({inside} notebook(s) inside; grade it on its own "
                           "or move them up)")
        elif not entry.is_file():
            skipped.append(f"{name}: not a regular file")
        elif is_nb:
            paths.append(entry)
        else:
            skipped.append(f"{name}: not a .ipynb file")
    return paths, skipped


def duplicate_groups(names: list[str]) -> list[list[str]]:
    """Groups of names that :func:`student_key` takes for one student (each sorted; only groups of two or more)."""
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(student_key(n), []).append(n)
    return [sorted(g) for g in groups.values() if len(g) > 1]
