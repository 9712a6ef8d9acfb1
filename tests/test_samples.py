"""The real sample faces in data/real: every file present, unchanged, and credited."""
from __future__ import annotations

import csv
import hashlib

import pytest

import course_utils as cu
from course_utils import samples


def test_every_real_sample_matches_its_manifest_row():
    rows = list(csv.DictReader((samples.REAL_DIR / "manifest.csv").open()))
    assert len(rows) == 363
    listed = set()
    for row in rows:
        path = samples.REAL_DIR / row["file"]
        assert hashlib.sha1(path.read_bytes()).hexdigest() == row["sha1"], row["file"]
        assert row["source"].strip(), row["file"]
        listed.add(path)
    on_disk = {p for p in samples.REAL_DIR.rglob("*") if p.is_file() and p.name not in ("manifest.csv", "README.md")}
    assert on_disk == listed


def test_real_samples_by_kind():
    people = cu.real_samples("lfw_people")
    assert sum(1 for d in people.iterdir() if len(list(d.glob("*.jpg"))) == 5) == 12
    assert sorted(p.name for p in cu.real_samples("test_images").iterdir()) == [
        "angelina_jolie", "bradley_cooper", "kate_siegel", "paul_rudd", "shea_whigham"]
    with pytest.raises(ValueError, match="choose one of"):
        cu.real_samples("celebrities")
