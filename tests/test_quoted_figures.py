"""Figures that prose quotes from a notebook's output are the figures that output shows.

A figure about the course's own results is printed by the cell that computes it; where README or another
document quotes one (a lesson's headline in README's table, say), it is listed in :data:`QUOTES`: a pattern for the
prose and one for the notebook's text outputs, with the same named groups.  When a lesson is run again and its
output changes, this test names the prose that went stale (README once said lesson 05 found faces in 71 of 80
photos long after the lesson printed 80).
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (document, pattern in the document, notebook, pattern in the notebook's text outputs); named groups pair up.
QUOTES = [
    ("README.md",
     r"the 80 real photos: a face found in (?P<found>\d+) of 80 with `find_face`'s retries \(MTCNN alone: no face in "
     r"(?P<missed>\d+)\); end to end (?P<end_to_end>\d\.\d\d)",
     "notebooks/05_face_mask_detection.ipynb",
     r"(?s)a face found in (?P<found>\d+)\n.*?end to end \(no face = wrong\) (?P<end_to_end>\d\.\d\d).*?"
     r"MTCNN alone: no face in (?P<missed>\d+) of 80 photos"),
    ("README.md",
     r"below the 0\.68 target; (?P<accuracy>\d\.\d\d) on the (?P<faces>\d+) real sample faces",
     "notebooks/04_facial_emotion_recognition.ipynb",
     r"\ball\s+(?P<faces>\d+)\s+\d+\s+(?P<accuracy>\d\.\d\d)"),
    ("README.md",
     r"dlib at 0\.6: (?P<named>\d+)/(?P<held>\d+) held-back photos named, (?P<unknown>\d+)/(?P<strangers>\d+) "
     r"strangers \"unknown\"",
     "notebooks/06_face_identification.ipynb",
     r"threshold 0\.60: held-back photos named right (?P<named>\d+)/(?P<held>\d+) \(\d+%; wrong name \d+, unknown \d+\), "
     r"strangers unknown (?P<unknown>\d+)/(?P<strangers>\d+)"),
    ("README.md",
     r"mtcnn (?P<m_r>[\d.]+) / (?P<m_f>[\d.]+) / (?P<m_x>[\d.]+), facenet (?P<f_r>[\d.]+) / (?P<f_f>[\d.]+) / "
     r"(?P<f_x>[\d.]+), haar (?P<h_r>[\d.]+) / (?P<h_f>[\d.]+) / (?P<h_x>[\d.]+), hog (?P<g_r>[\d.]+) / "
     r"(?P<g_f>[\d.]+) / (?P<g_x>[\d.]+) \(lesson 02",
     "notebooks/02_face_detection.ipynb",
     r"\nmtcnn\s+(?P<m_r>[\d.]+)\s+(?P<m_f>[\d.]+)\s+(?P<m_x>[\d.]+)\s.*\nfacenet\s+(?P<f_r>[\d.]+)\s+(?P<f_f>[\d.]+)\s+"
     r"(?P<f_x>[\d.]+)\s.*\nhaar\s+(?P<h_r>[\d.]+)\s+(?P<h_f>[\d.]+)\s+(?P<h_x>[\d.]+)\s.*\nhog\s+(?P<g_r>[\d.]+)\s+"
     r"(?P<g_f>[\d.]+)\s+(?P<g_x>[\d.]+)\s"),
]


def outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(out.get("text", "") or out.get("data", {}).get("text/plain", "")
                     for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", []))


def stale_quote(root: Path, document: str, prose: str, notebook: str, output: str) -> str | None:
    """None when ``document`` quotes what ``notebook`` prints, else what differs."""
    quoted = re.search(prose, (root / document).read_text())
    printed = re.search(output, outputs_text(root / notebook))
    if quoted is None or printed is None:
        return (f"{document if quoted is None else notebook} no longer matches its pattern: "
                "update QUOTES together with the prose")
    if quoted.groupdict() != printed.groupdict():
        return f"{document} quotes {quoted.groupdict()}, {notebook} prints {printed.groupdict()}"
    return None


@pytest.mark.parametrize("document, prose, notebook, output", QUOTES, ids=[f"{q[0]}<-{Path(q[2]).stem}" for q in QUOTES])
def test_quoted_figures_match_the_outputs(document, prose, notebook, output):
    assert set(re.compile(prose).groupindex) == set(re.compile(output).groupindex) != set()
    assert stale_quote(ROOT, document, prose, notebook, output) is None


def test_a_stale_quote_is_caught(tmp_path):
    """README as it was before this test existed (lesson 05: 71 of 80) fails."""
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text().replace(
        "a face found in 80 of 80 with", "a face found in 71 of 80 with"))
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")
    assert "quotes {'found': '71'" in stale_quote(tmp_path, *QUOTES[0])
