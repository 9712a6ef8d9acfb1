"""Labeled Faces in the Wild: the image tree, the pairs files, the download."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .common import DatasetNotFoundError, MissingImagesError, format_error

LFW_TREE_NAMES = ("lfw", "lfw_funneled", "lfw-funneled", "lfw-deepfunneled",
                   "lfw-deepfunneled/lfw-deepfunneled", "lfw_home/lfw_funneled", "lfw_home/lfw")


def peek_dirs(folder: Path, limit: int) -> list[os.DirEntry]:
    out = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if e.is_dir() and not e.name.startswith("."):
                    out.append(e)
                    if len(out) >= limit:
                        break
    except OSError:
        pass
    return out


def islfw_tree(folder: Path) -> bool:
    """``folder/<Name>/<Name>_NNNN.jpg``?  Looks at up to 8 sub-folders and wants most of them to
    follow the pattern (a ``with_mask/with_mask_0001.jpg`` beside ``without_mask/x.jpg`` does not)."""
    people = peek_dirs(folder, 8)
    hits = 0
    for person in people:
        try:
            with os.scandir(person.path) as it:
                for f in it:
                    n = f.name
                    if n.startswith(person.name + "_") and n.endswith(".jpg") and n[-8:-4].isdigit():
                        hits += 1
                        break
        except OSError:
            continue
    return hits > 0 and hits * 2 > len(people)


def lfw_tree(root: Path) -> Path | None:
    if islfw_tree(root):
        return root
    for name in LFW_TREE_NAMES:
        if (root / name).is_dir() and islfw_tree(root / name):
            return root / name
    return None


def is_lfw_root(p: Path) -> bool:
    return (p / "pairs.txt").is_file() or lfw_tree(p) is not None


@dataclass
class LFWIndex:
    """The people and image numbers of an LFW image tree ``tree/<Name>/<Name>_NNNN.jpg``.

    Building it lists the folders only; :meth:`image` reads pixels on demand.  Image numbers are
    the 1-based ``NNNN`` of the file names, as in ``pairs.txt`` (a subset such as ``lfw_dev``
    may have gaps).
    """

    tree: Path
    people: dict[str, tuple[int, ...]]
    pairs_file: Path | None = None

    @property
    def n_people(self) -> int:
        return len(self.people)

    @property
    def n_images(self) -> int:
        return sum(len(v) for v in self.people.values())

    def __len__(self) -> int:
        return self.n_images

    def __contains__(self, item) -> bool:
        name, number = item
        return number in self.people.get(name, ())

    def __repr__(self) -> str:
        multi = sum(1 for v in self.people.values() if len(v) >= 2)
        return (f"LFWIndex({self.n_people} people, {self.n_images} images, {multi} with two or more; "
                f"tree={self.tree})")

    def relpath(self, name: str, number: int) -> str:
        """``"<Name>/<Name>_NNNN.jpg"`` (no check)."""
        return f"{name}/{name}_{number:04d}.jpg"

    def path(self, name: str, number: int) -> Path:
        """The file of image ``number`` (1-based) of ``name``; ``KeyError`` if not indexed."""
        if (name, number) not in self:
            have = self.people.get(name)
            raise KeyError(f"no image {name}_{number:04d} in {self.tree}"
                           + (f" ({name} has images {', '.join(map(str, have))})" if have else
                              f" (no person {name!r})"))
        return self.tree / self.relpath(name, number)

    def image(self, name: str, number: int) -> np.ndarray:
        """Read image ``number`` of ``name`` as an RGB uint8 array (250x250x3 for LFW)."""
        from ..images import load_image

        return load_image(self.path(name, number))

    def counts(self):
        """Images per person as a pandas Series, most images first (ties by name)."""
        import pandas as pd

        s = pd.Series({k: len(v) for k, v in self.people.items()}, name="images", dtype="int64")
        s.index.name = "name"
        return s.sort_index().sort_values(ascending=False, kind="stable")

    def frame(self):
        """One row per image: ``name``, ``number``, ``path``."""
        import pandas as pd

        rows = [(n, k, str(self.tree / self.relpath(n, k))) for n, ks in self.people.items() for k in ks]
        return pd.DataFrame(rows, columns=["name", "number", "path"])


def load_lfw(root: str | Path) -> LFWIndex:
    """Index an LFW folder: ``root`` may be the image tree itself or a folder holding it
    (``lfw/``, ``lfw_funneled/``, ``lfw-deepfunneled/``, ...) and, optionally, ``pairs.txt``.

    Only folder listings are read (about 0.1 s for the 13,233 images of the full set).

    Raises:
        DatasetNotFoundError: no ``<Name>/<Name>_NNNN.jpg`` tree under ``root``.
    """
    root = Path(root)
    tree = lfw_tree(root)
    if tree is None:
        raise DatasetNotFoundError(f"no LFW image tree (<Name>/<Name>_0001.jpg) in {root} or in its sub-folders "
                                   f"{', '.join(LFW_TREE_NAMES)}")
    people: dict[str, tuple[int, ...]] = {}
    with os.scandir(tree) as it:
        persons = sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    for name in persons:
        prefix, nums = name + "_", []
        with os.scandir(tree / name) as files:
            for f in files:
                n = f.name
                if len(n) == len(prefix) + 8 and n.startswith(prefix) and n.endswith(".jpg") and n[-8:-4].isdigit():
                    nums.append(int(n[-8:-4]))
        if nums:
            people[name] = tuple(sorted(nums))
    pairs = next((p for p in (root / "pairs.txt", tree.parent / "pairs.txt", tree / "pairs.txt") if p.is_file()), None)
    return LFWIndex(tree=tree, people=people, pairs_file=pairs)


_MISSING = ("raise", "drop", "keep")


def load_lfw_pairs(path: str | Path, index: LFWIndex | str | Path | None = None,
                   folds: Iterable[int] | None = None, missing: str = "raise"):
    """Parse an LFW pairs file (``pairs.txt``, ``pairsDevTrain.txt``, ``pairsDevTest.txt``).

    The format: a header ``<folds>\\t<n>`` (or just ``<n>`` for the Dev files, one fold), then
    per fold ``n`` matched lines ``name i j`` and ``n`` mismatched lines ``name1 i name2 j``,
    with 1-based image numbers.

    Args:
        index: an :class:`LFWIndex` (or a folder for :func:`load_lfw`) to resolve every image;
            ``None`` gives paths relative to the image tree.
        folds: 1-based fold numbers to keep (e.g. ``[4, 5, 6]``); default all.
        missing: what to do with pairs whose images the index lacks: ``"raise"``, ``"drop"``
            (the count is in ``df.attrs["dropped"]``) or ``"keep"``.

    Returns:
        A DataFrame with one row per pair: ``fold`` (1-based), ``same`` (bool), ``name_a``,
        ``num_a``, ``name_b``, ``num_b``, ``img_a``, ``img_b`` (paths as str).

    Raises:
        DatasetFormatError: a header or line that breaks the format (file and line named).
        MissingImagesError: ``missing="raise"`` and some images are not in the index.
    """
    import pandas as pd

    if missing not in _MISSING:
        raise ValueError(f"missing must be one of {', '.join(_MISSING)}, got {missing!r}")
    path = Path(path)
    n_folds, n, lines = _read_pairs_header(path)
    keep = None
    if folds is not None:
        keep = sorted(set(int(f) for f in folds))
        bad = [f for f in keep if not 1 <= f <= n_folds]
        if bad:
            raise ValueError(f"folds must be between 1 and {n_folds} for {path.name}, got {bad}")
    df = pd.DataFrame(_parse_pairs(path, lines, n, keep), columns=["fold", "same", "name_a", "num_a", "name_b", "num_b"])
    df["fold"] = df["fold"].astype("int64")
    df["same"] = df["same"].astype(bool)
    if index is not None and not isinstance(index, LFWIndex):
        index = load_lfw(index)
    base = "" if index is None else str(index.tree) + os.sep
    df["img_a"] = [f"{base}{a}{os.sep}{a}_{ia:04d}.jpg" for a, ia in zip(df.name_a, df.num_a)]
    df["img_b"] = [f"{base}{b}{os.sep}{b}_{ib:04d}.jpg" for b, ib in zip(df.name_b, df.num_b)]
    df.attrs.update(source=str(path), n_folds=n_folds, pairs_per_class=n, dropped=0)
    if index is not None and missing != "keep":
        df = _without_missing(df, index, path, missing)
    return df


def _read_pairs_header(path: Path) -> tuple[int, int, list[str]]:
    """``(folds, pairs per class, pair lines)`` of a pairs file, the header checked against the lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise format_error(path, None, "the file is empty")
    head = lines[0].split()
    try:
        if len(head) == 2:
            n_folds, n = int(head[0]), int(head[1])
        elif len(head) == 1:
            n_folds, n = 1, int(head[0])
        else:
            raise ValueError
        if n_folds < 1 or n < 1:
            raise ValueError
    except ValueError:
        raise format_error(path, 1, f"expected a header '<folds> <pairs per class>' or '<pairs>', got {lines[0]!r}") from None
    expected = n_folds * 2 * n
    if len(lines) - 1 != expected:
        raise format_error(path, None, f"the header says {n_folds} fold(s) x ({n} matched + {n} mismatched) = "
                                       f"{expected} pairs, but the file has {len(lines) - 1} pair lines")
    return n_folds, n, lines[1:]


def _parse_pairs(path: Path, lines: list[str], n: int, keep: list[int] | None) -> list[tuple]:
    """``(fold, same, name_a, num_a, name_b, num_b)`` per pair line of the folds in ``keep`` (all: ``None``)."""
    rows = []
    for i, line in enumerate(lines):
        fold, same = i // (2 * n) + 1, (i % (2 * n)) < n
        if keep is not None and fold not in keep:
            continue
        f = line.split()
        want = 3 if same else 4
        if len(f) != want:
            kind = "a matched pair 'name i j' (3 fields)" if same else "a mismatched pair 'name1 i name2 j' (4 fields)"
            raise format_error(path, i + 2, f"fold {fold} expects {kind} here, got {len(f)} fields: {line!r}")
        try:
            a, ia, b, ib = (f[0], int(f[1]), f[0], int(f[2])) if same else (f[0], int(f[1]), f[2], int(f[3]))
        except ValueError:
            raise format_error(path, i + 2, f"image numbers must be integers: {line!r}") from None
        if ia < 1 or ib < 1:
            raise format_error(path, i + 2, f"image numbers are 1-based, got {line!r}")
        rows.append((fold, same, a, ia, b, ib))
    return rows


def _without_missing(df, index: LFWIndex, path: Path, missing: str):
    """``df`` without the pairs whose images ``index`` lacks (``missing="drop"``; the count in
    ``df.attrs["dropped"]``), or :class:`MissingImagesError` naming the first (``"raise"``)."""
    people = index.people
    ok = np.array([ia in people.get(a, ()) and ib in people.get(b, ())
                   for a, ia, b, ib in zip(df.name_a, df.num_a, df.name_b, df.num_b)], dtype=bool)
    if ok.all():
        return df
    bad = df.loc[~ok]
    if missing == "raise":
        first = bad.iloc[0]
        raise MissingImagesError(
            f"{len(bad)} of {len(df)} pairs in {path.name} name images that are not in {index.tree} "
            f"(first: fold {first.fold}, {first.name_a} {first.num_a} / {first.name_b} {first.num_b}). "
            "If the folder holds a subset (lfw_dev holds folds 4-6), pass folds=[4, 5, 6] or missing='drop'.")
    out = df.loc[ok].reset_index(drop=True)
    out.attrs["dropped"] = int((~ok).sum())
    return out


#: How to get LFW by hand (the registry's ``manual`` text, and what a failed download says).
LFW_MANUAL = ("the UMass site (vis-www.cs.umass.edu/lfw/) is down. `cu.fetch_lfw()` downloads the figshare copies "
              "that scikit-learn uses (lfw.tgz, lfw-funneled.tgz, pairs*.txt, sha256-checked). On Kaggle, attach an "
              "LFW dataset instead (for example jessicali9530/lfw-dataset, deep-funneled images) and add pairs.txt")


def fetch_lfw(data_dir: str | Path | None = None, funneled: bool = False, progressbar: bool = True) -> Path:
    """Download LFW (figshare mirrors, sha256-checked) unless already there; return its folder.

    The folder ``<data_dir>/lfw`` then holds ``pairs.txt``, ``pairsDevTrain.txt``,
    ``pairsDevTest.txt`` and ``lfw/`` (or ``lfw_funneled/``), ready for :func:`load_lfw`.
    About 180 MB (233 MB funneled).
    """
    from ..download import default_data_dir, fetch, safe_extract

    folder = Path(data_dir if data_dir is not None else default_data_dir()) / "lfw"
    manual = LFW_MANUAL
    for name in ("pairs.txt", "pairsDevTrain.txt", "pairsDevTest.txt"):
        fetch(name, data_dir=folder, progressbar=progressbar, manual=manual)
    archive = fetch("lfw-funneled.tgz" if funneled else "lfw.tgz", data_dir=folder,
                    progressbar=progressbar, manual=manual)
    safe_extract(archive, folder)
    return folder


def make_lfw_pairs(index: LFWIndex, n_folds: int = 3, pairs_per_class: int = 4, seed: int = 0) -> str:
    """Write pairs for the people of ``index`` in the format of LFW's ``pairs.txt`` and return the text.

    The pairs follow View 2's rules (LFW's ``README.txt``, sections 3b-3c): the people are dealt into
    ``n_folds`` folds that share no identity; each fold lists ``pairs_per_class`` matched pairs
    ``name i j`` (two different photos of one person) and then as many mismatched pairs
    ``name1 i name2 j`` (two people of the same fold), after a header ``<folds>\\t<pairs per class>``.
    The matched pairs go round the fold's people so that each one is used before any is used twice.
    Deterministic for a ``seed`` (numpy's PCG64: the same pairs on every machine).  Read the file back
    with :func:`load_lfw_pairs`.  The real ``pairs.txt`` has 10 folds of 300 + 300 pairs; this is for
    a small set such as the course's ``cu.real_samples("lfw_people")``, which has no pairs file.

    Raises:
        ValueError: too few people with two or more photos (or too few people) per fold for the
            pairs asked for; the message says how many there are.
    """
    if n_folds < 1 or pairs_per_class < 1:
        raise ValueError(f"n_folds and pairs_per_class must be at least 1, got {n_folds} and {pairs_per_class}")
    rng = np.random.default_rng(seed)
    multi = sorted(n for n, nums in index.people.items() if len(nums) >= 2)
    single = sorted(n for n, nums in index.people.items() if len(nums) < 2)
    if len(multi) < n_folds:
        raise ValueError(f"{len(multi)} people have two or more photos in {index.tree}: not enough for "
                         f"{n_folds} folds with a matched pair each; use fewer folds")
    folds: list[list[str]] = [[] for _ in range(n_folds)]
    for group in (multi, single):  # deal each group round the folds, in a shuffled order
        for k, i in enumerate(rng.permutation(len(group))):
            folds[k % n_folds].append(group[int(i)])
    lines = [f"{n_folds}\t{pairs_per_class}"]
    for f, people in enumerate(folds, 1):
        with_two = sorted(p for p in people if p in multi)
        matched: set[tuple[str, int, int]] = set()
        possible = sum(len(index.people[p]) * (len(index.people[p]) - 1) // 2 for p in with_two)
        if possible < pairs_per_class or len(people) < 2:
            raise ValueError(f"fold {f} has {len(with_two)} people with two or more photos ({possible} matched "
                             f"pairs possible) and {len(people)} people: ask for fewer pairs or fewer folds")
        sizes = [len(index.people[p]) for p in people]
        across = (sum(sizes) ** 2 - sum(n * n for n in sizes)) // 2
        if across < pairs_per_class:
            raise ValueError(f"fold {f} allows {across} mismatched pairs, fewer than {pairs_per_class}: "
                             "ask for fewer pairs or fewer folds")
        k = 0
        while len(matched) < pairs_per_class:
            name = with_two[k % len(with_two)]
            i, j = sorted(int(x) for x in rng.choice(index.people[name], size=2, replace=False))
            matched.add((name, i, j))  # a pair drawn twice is drawn again
            k += 1
        mismatched: set[tuple[str, int, str, int]] = set()
        while len(mismatched) < pairs_per_class:
            a, b = sorted(people[int(x)] for x in rng.choice(len(people), size=2, replace=False))
            mismatched.add((a, int(rng.choice(index.people[a])), b, int(rng.choice(index.people[b]))))
        lines += [f"{n}\t{i}\t{j}" for n, i, j in sorted(matched)]
        lines += [f"{a}\t{i}\t{b}\t{j}" for a, i, b, j in sorted(mismatched)]
    return "\n".join(lines) + "\n"
