"""Bulk grading spread over machines (issue 28): each of N jobs grades one slice, a merge makes one gradebook.

    python3 course.py grade bulk hw0 submissions/ --shard 3/8 --out shards/gradebook-3.csv --feedback feedback/
    python3 course.py grade merge gradebook.csv shards/gradebook-*.csv

A batch scheduler the instructor already has starts the N jobs (a Slurm array, a Kubernetes indexed Job, GNU
parallel over SSH: README, "Grading a large class"); every job sees the same folder of submissions.  Job K grades
the notebooks whose place in the sorted list is K-1 modulo N (:func:`select`), writes its gradebook CSV, its
report and a small JSON record of the slice beside it (:func:`shard_record`).  :func:`merge` checks that the
records describe the same homework and the same submissions, that every slice 1..N is there exactly once and
that no student is graded twice, then writes the gradebook an unsharded run would have written, and a report.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from .results import atomic_write

SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A bad ``K/N``, or shards that do not make one complete run."""


def parse(text: str) -> tuple[int, int]:
    """``"3/8"`` -> ``(3, 8)``: slice K of N, counted from 1."""
    m = SHARD.match(str(text))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ShardError(f"--shard {text!r}: expected K/N with 1 <= K <= N (e.g. 3/8)")
    return int(m.group(1)), int(m.group(2))


def select(paths: list[Path], shard: tuple[int, int]) -> list[Path]:
    """The slice ``K`` of ``N`` of the sorted ``paths``: every N-th notebook from the K-th on."""
    k, n = shard
    return [p for i, p in enumerate(sorted(paths)) if i % n == k - 1]


def record_path(gradebook: Path) -> Path:
    """Where the record of a shard's slice lies: beside its gradebook, ``<stem>.shard.json``."""
    gradebook = Path(gradebook)
    return gradebook.with_name(gradebook.stem + ".shard.json")


def report_path(gradebook: Path) -> Path:
    """A shard's report, beside its gradebook (shards may share a folder: one report each)."""
    gradebook = Path(gradebook)
    return gradebook.with_name(gradebook.stem + ".report.txt")


def shard_record(gradebook: Path, homework: str, shard: tuple[int, int], all_names: list[str],
                 graded: list[str], skipped: list[str], duplicates: list[list[str]]) -> Path:
    """Write the record of one shard: which homework, which slice, what the whole folder held."""
    return atomic_write(record_path(gradebook), json.dumps({
        "homework": homework, "shard": list(shard), "submissions": sorted(all_names), "graded": sorted(graded),
        "skipped": skipped, "duplicates": duplicates}, indent=1) + "\n")


def _read_gradebook(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return (rows[0], rows[1:]) if rows else ([], [])


def merge(out: str | Path, gradebooks: list[str | Path]) -> list[dict]:
    """Merge the gradebooks of the N shards of one run into ``out`` (and ``report.txt`` beside it); returns the
    rows.  Raises :class:`ShardError` when a record is missing or the shards are not one complete run."""
    out, records = Path(out), []
    if not gradebooks:
        raise ShardError("no shard gradebooks given")
    for book in map(Path, gradebooks):
        if not record_path(book).is_file():
            raise ShardError(f"{book}: no {record_path(book).name} beside it (was it written by --shard?)")
        records.append((book, json.loads(record_path(book).read_text(encoding="utf-8"))))
    first = records[0][1]
    for book, rec in records:
        for key in ("homework", "submissions"):
            if rec[key] != first[key]:
                raise ShardError(f"{book} is a shard of another run: its {key} differ from {records[0][0]}'s")
    n = first["shard"][1]
    slices = sorted(rec["shard"][0] for _, rec in records)
    if any(rec["shard"][1] != n for _, rec in records) or slices != list(range(1, n + 1)):
        raise ShardError(f"expected the shards 1..{n} once each, got {slices} of "
                         f"{sorted({rec['shard'][1] for _, rec in records})}")
    columns: list[str] = []
    rows: dict[str, dict] = {}
    for book, _ in records:
        header, body = _read_gradebook(book)
        columns += [c for c in header if c not in columns]
        for values in body:
            row = dict(zip(header, values))
            if row["student"] in rows:
                raise ShardError(f"{row['student']} is graded in two shards ({book})")
            rows[row["student"]] = row
    graded = sorted(s for _, rec in records for s in rec["graded"])
    if graded != first["submissions"] or len(rows) != len(graded):
        raise ShardError(f"the shards graded {len(rows)} of the {len(first['submissions'])} submissions")
    checks = [c for c in columns if c not in ("student", "homework", "passed", "total", "score", "seconds",
                                              "error", "flags")]
    columns = ["student", "homework", *checks, "passed", "total", "score", "seconds", "error", "flags"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for student in sorted(rows):
        writer.writerow([rows[student].get(c, "") for c in columns])
    atomic_write(out, buf.getvalue())
    report = [f"{first['homework']}: {len(rows)} graded in {n} shard(s), merged from "
              + ", ".join(str(b) for b, _ in records), ""]
    report += ["Not graded:"] + [f"  {s}" for s in first["skipped"]] + [""] if first["skipped"] else []
    report += ["Likely the same student (review by hand):"] + [f"  {', '.join(g)}" for g in first["duplicates"]] \
        if first["duplicates"] else []
    atomic_write(out.parent / "report.txt", "\n".join(report) + "\n")
    return [rows[s] for s in sorted(rows)]
