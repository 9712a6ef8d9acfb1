"""VGGFace (URL lists per identity) and VGGFace2 (identity metadata, the image tree)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .common import DatasetNotFoundError, format_error


def is_vggface_root(p: Path) -> bool:
    files = p / "files"
    return files.is_dir() and any(f.suffix == ".txt" for f in files.iterdir()) and not (p / "identity_meta.csv").exists()


def is_vggface2_root(p: Path) -> bool:
    return (p / "identity_meta.csv").is_file() or (p / "meta" / "identity_meta.csv").is_file()


VGGFACE_COLUMNS = ("id", "url", "left", "top", "right", "bottom", "pose", "detection_score", "curation")


def load_vggface_urls(path: str | Path):
    """One VGGFace identity file (``files/<Name>.txt``): a DataFrame with :data:`VGGFACE_COLUMNS`
    (box in pixels of the photo at ``url``; ``curation`` 1 = kept after the manual filtering)."""
    import pandas as pd

    path = Path(path)
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        f = line.split()
        if len(f) != len(VGGFACE_COLUMNS):
            raise format_error(path, lineno, f"expected {len(VGGFACE_COLUMNS)} fields ({' '.join(VGGFACE_COLUMNS)}), "
                                           f"got {len(f)}")
        try:
            rows.append((int(f[0]), f[1], *(float(v) for v in f[2:6]), int(float(f[6])), float(f[7]), int(f[8])))
        except ValueError:
            raise format_error(path, lineno, f"numbers expected after the URL: {line!r}") from None
    df = pd.DataFrame(rows, columns=list(VGGFACE_COLUMNS))
    df.insert(0, "name", path.stem)
    return df


def load_vggface2_meta(path: str | Path):
    """``identity_meta.csv``: ``Class_ID, Name, Sample_Num, Flag, Gender`` (header and values
    padded with spaces, names quoted).  Returns columns ``class_id, name, n_images, split``
    (``Flag`` 1 = train, 0 = test) and ``gender``."""
    import pandas as pd

    path = Path(path)
    df = pd.read_csv(path, skipinitialspace=True, quotechar='"', dtype={"Class_ID": str})
    df.columns = [c.strip() for c in df.columns]
    need = ["Class_ID", "Name", "Sample_Num", "Flag", "Gender"]
    if [c for c in need if c not in df.columns]:
        raise format_error(path, 1, f"expected the columns {', '.join(need)}, got {', '.join(df.columns)}")
    bad = ~df["Class_ID"].astype(str).str.fullmatch(r"n\d{6}")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise format_error(path, i + 2, f"Class_ID must look like n000001, got {df['Class_ID'].iloc[i]!r}")
    return pd.DataFrame({"class_id": df["Class_ID"].str.strip(), "name": df["Name"].str.strip(),
                         "n_images": df["Sample_Num"].astype(np.int64),
                         "split": df["Flag"].map({1: "train", 0: "test"}),
                         "gender": df["Gender"].str.strip()})


_VGG2_FILE = re.compile(r"^(n\d{6})/(\d{4})_(\d{2})\.jpg$")


def index_vggface2(root: str | Path, split: str = "train"):
    """Index ``root/<split>/n000001/0001_01.jpg`` (photo 0001, face 01): a DataFrame with
    ``class_id, photo, face, path``.  Uses ``<split>_list.txt`` when present (no listing)."""
    import pandas as pd

    root = Path(root)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    listing = root / f"{split}_list.txt"
    if listing.is_file():
        names = [ln.strip() for ln in listing.read_text(encoding="utf-8").splitlines() if ln.strip()]
    else:
        base = root / split
        if not base.is_dir():
            raise DatasetNotFoundError(f"neither {listing} nor the folder {base} exists")
        names = sorted(f"{d.name}/{f.name}" for d in base.iterdir() if d.is_dir() for f in d.iterdir())
    rows = []
    for i, n in enumerate(names, 1):
        m = _VGG2_FILE.match(n)
        if m is None:
            raise format_error(listing if listing.is_file() else root / split, i if listing.is_file() else None,
                             f"expected 'n000001/0001_01.jpg', got {n!r}")
        rows.append((m[1], int(m[2]), int(m[3]), str(root / split / n)))
    return pd.DataFrame(rows, columns=["class_id", "photo", "face", "path"])


#: The header and first two rows of VGGFace2's ``identity_meta.csv`` as published (spaces, quotes and the
#: trailing comma included), and a file of its test split: the course cannot ship VGGFace2 (lesson 01).
VGGFACE2_META_FIRST_ROWS = ("Class_ID, Name, Sample_Num, Flag, Gender,",
                            'n000001, "14th_Dalai_Lama",424,0, m,',
                            'n000002, "A_Fine_Frenzy",315,1, f,')
VGGFACE2_TEST_FILE = "n000001/0001_01.jpg"


def write_vggface2_excerpt(folder: str | Path) -> Path:
    """Write :data:`VGGFACE2_META_FIRST_ROWS` as ``identity_meta.csv`` and :data:`VGGFACE2_TEST_FILE` as
    ``test_list.txt`` into ``folder`` and return it (read them with :func:`load_vggface2_meta` and
    ``index_vggface2(folder, "test")``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "identity_meta.csv").write_text("\n".join(VGGFACE2_META_FIRST_ROWS) + "\n", encoding="utf-8")
    (folder / "test_list.txt").write_text(VGGFACE2_TEST_FILE + "\n", encoding="utf-8")
    return folder
