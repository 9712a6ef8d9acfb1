"""Make the small offline datasets in ``data/samples/`` (lesson 01), in the real file formats.

    .venv/bin/python data/make_sample_data.py          # rewrites data/samples/*_mini

Sources, all offline and shipped with packages the course installs (see data/README.md):
* ``course_utils.samples``: the astronaut (Eileen Collins, NASA, public domain) and Grace Hopper
  (US Navy, public domain) portraits;
* ``skimage.data.lfw_subset()``: 100 LFW face crops, 25x25 grayscale (scikit-image, BSD).  The
  people in them are not named, so every identity and label made from them here is INVENTED;
* faces drawn here with OpenCV (CelebA sample), whose annotations are exact by construction.
The output is deterministic (fixed seeds); nothing is downloaded.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from course_utils.samples import load_sample  # noqa: E402

OUT = HERE / "samples"
RNG = np.random.default_rng(2024)


def _pil(arr):
    from PIL import Image

    return Image.fromarray(arr)


def _lfw_faces() -> np.ndarray:
    from skimage import data

    faces = data.lfw_subset()[:100]                   # the first 100 are faces, the rest are not
    return np.clip(faces * 255 + 0.5, 0, 255).astype(np.uint8)


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    import cv2

    return cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC if w > img.shape[1] else cv2.INTER_AREA)


def _augment(img: np.ndarray, size: int, k: int) -> np.ndarray:
    """Variant ``k`` of a face crop: a small shift/zoom/rotation, mirror and brightness change."""
    import cv2

    if k == 0:
        return _resize(img, size, size)
    h, w = img.shape[:2]
    angle = RNG.uniform(-8, 8)
    scale = RNG.uniform(0.92, 1.08)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += RNG.uniform(-0.04, 0.04, size=2) * (w, h)
    out = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    if k % 2 == 1:
        out = out[:, ::-1]
    out = np.clip(out.astype(np.float32) * RNG.uniform(0.85, 1.15) + RNG.uniform(-12, 12), 0, 255).astype(np.uint8)
    return _resize(np.ascontiguousarray(out), size, size)


def _gray_to_rgb(img: np.ndarray) -> np.ndarray:
    return np.stack([img] * 3, axis=-1) if img.ndim == 2 else img


# ------------------------------------------------------------------------------------- LFW

def make_lfw(faces: np.ndarray) -> None:
    """lfw_mini/lfw/<Name>/<Name>_NNNN.jpg (250x250 JPEG) and pairs.txt (2 folds x 3 + 3)."""
    root = OUT / "lfw_mini"
    astro = load_sample("astronaut")[3:233, 107:337]            # head, centred like an LFW crop
    hopper = load_sample("grace_hopper")[0:450, 40:490]
    sources = {"Eileen_Collins": (astro, 4), "Grace_Hopper": (hopper, 3)}
    counts = [3, 2, 2, 2, 1, 1, 1, 1, 1, 1]                     # images per synthetic identity
    for i, n in enumerate(counts):
        sources[f"Synthetic_Face_{i + 1:02d}"] = (_gray_to_rgb(faces[i]), n)
    for name, (img, n) in sources.items():
        folder = root / "lfw" / name
        folder.mkdir(parents=True)
        for k in range(n):
            _pil(_augment(img, 250, k)).save(folder / f"{name}_{k + 1:04d}.jpg", quality=85)
    # identity-disjoint folds, as in LFW View 2: matched lines first, then mismatched lines
    folds = [
        (["Eileen_Collins\t1\t3", "Synthetic_Face_01\t1\t2", "Synthetic_Face_03\t1\t2"],
         ["Eileen_Collins\t2\tSynthetic_Face_05\t1", "Synthetic_Face_01\t3\tSynthetic_Face_07\t1",
          "Synthetic_Face_03\t2\tSynthetic_Face_09\t1"]),
        (["Grace_Hopper\t1\t2", "Synthetic_Face_02\t1\t2", "Synthetic_Face_04\t1\t2"],
         ["Grace_Hopper\t3\tSynthetic_Face_06\t1", "Synthetic_Face_02\t2\tSynthetic_Face_08\t1",
          "Synthetic_Face_04\t2\tSynthetic_Face_10\t1"]),
    ]
    lines = ["2\t3"] + [line for same, diff in folds for line in same + diff]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------- CelebA

def _draw_face(p: dict) -> tuple[np.ndarray, dict]:
    """A drawn 178x218 face whose 5 landmarks are where CelebA's aligned images put them."""
    import cv2

    img = np.zeros((218, 178, 3), np.uint8)
    img[:] = p["background"]
    dx, dy = p["shift"]
    le, re = (70 + dx, 112 + dy), (108 + dx, 112 + dy)
    nose, lm, rm = (89 + dx, 134 + dy), (73 + dx, 153 + dy), (105 + dx, 153 + dy)
    skin = (235, 215, 200) if p["pale"] else (205, 160, 125)
    hair = p["hair"]
    if hair is not None and not p["bald"]:
        cv2.ellipse(img, (89 + dx, 110 + dy), (62, 74), 0, 180, 360, hair, -1, cv2.LINE_AA)
        cv2.rectangle(img, (27 + dx, 105 + dy), (45 + dx, 165 + dy), hair, -1)
        cv2.rectangle(img, (133 + dx, 105 + dy), (151 + dx, 165 + dy), hair, -1)
    cv2.ellipse(img, (89 + dx, 125 + dy), (48, 64), 0, 0, 360, skin, -1, cv2.LINE_AA)
    if p["bangs"] and hair is not None:
        cv2.ellipse(img, (89 + dx, 78 + dy), (46, 22), 0, 0, 180, hair, -1, cv2.LINE_AA)
    for x, y in (le, re):
        cv2.ellipse(img, (x, y), (9, 5), 0, 0, 360, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(img, (x, y), 3, (60, 40, 30), -1, cv2.LINE_AA)
        cv2.line(img, (x - 10, y - 11), (x + 10, y - 12), (70, 50, 40), 2, cv2.LINE_AA)
    cv2.line(img, (nose[0], nose[1] - 16), (nose[0] - 5, nose[1]), (150, 110, 90), 2, cv2.LINE_AA)
    cv2.line(img, (nose[0] - 5, nose[1]), (nose[0] + 4, nose[1] + 2), (150, 110, 90), 2, cv2.LINE_AA)
    lip = (200, 30, 60) if p["lipstick"] else (170, 90, 80)
    cx, cy = (lm[0] + rm[0]) // 2, lm[1]
    if p["open"]:
        cv2.ellipse(img, (cx, cy + 2), (16, 7), 0, 0, 360, (80, 20, 30), -1, cv2.LINE_AA)
        cv2.ellipse(img, (cx, cy + 2), (16, 7), 0, 0, 360, lip, 2, cv2.LINE_AA)
    elif p["smile"]:
        cv2.ellipse(img, (cx, cy - 6), (16, 9), 0, 20, 160, lip, 3, cv2.LINE_AA)
    else:
        cv2.line(img, lm, rm, lip, 3, cv2.LINE_AA)
    if p["mustache"]:
        cv2.ellipse(img, (cx, cy - 6), (17, 5), 0, 180, 360, (50, 35, 30), 4, cv2.LINE_AA)
    if p["glasses"]:
        for x, y in (le, re):
            cv2.circle(img, (x, y), 13, (30, 30, 30), 2, cv2.LINE_AA)
        cv2.line(img, (le[0] + 13, le[1]), (re[0] - 13, re[1]), (30, 30, 30), 2, cv2.LINE_AA)
    if p["hat"]:
        pts = np.array([[30 + dx, 70 + dy], [148 + dx, 70 + dy], [128 + dx, 25 + dy], [50 + dx, 25 + dy]], np.int32)
        cv2.fillPoly(img, [pts], (40, 60, 140), cv2.LINE_AA)
        cv2.rectangle(img, (20 + dx, 66 + dy), (158 + dx, 76 + dy), (30, 45, 110), -1)
    landmarks = [*le, *re, *nose, *lm, *rm]
    bbox = [41 + dx, 55 + dy, 97, 138]                      # x_1, y_1, width, height of the face oval
    return img, {"landmarks": landmarks, "bbox": bbox}


def make_celeba() -> None:
    """celeba_mini/: img_align_celeba/00000N.jpg and the five annotation files."""
    from course_utils.datasets import CELEBA_ATTRIBUTES

    root = OUT / "celeba_mini"
    (root / "img_align_celeba").mkdir(parents=True)
    black, blond, brown, gray = (30, 25, 25), (225, 195, 110), (110, 70, 40), (170, 170, 170)
    base = dict(background=(200, 210, 225), shift=(0, 0), pale=False, hair=brown, bald=False, bangs=False,
                smile=False, open=False, lipstick=False, mustache=False, glasses=False, hat=False, male=False)
    people = [  # (identity, partition, [variations of the same drawn person])
        (101, 0, [dict(hair=blond, bangs=True, lipstick=True, smile=True),
                  dict(hair=blond, bangs=True, lipstick=True, open=True, shift=(2, -2), background=(225, 205, 190))]),
        (102, 0, [dict(hair=black, male=True, mustache=True, glasses=True),
                  dict(hair=black, male=True, mustache=True, glasses=True, smile=True, shift=(-2, 1))]),
        (103, 1, [dict(hair=gray, pale=True, glasses=True), dict(hair=gray, pale=True, hat=True, smile=True)]),
        (104, 2, [dict(hair=None, bald=True, male=True, smile=True), dict(hair=None, bald=True, male=True, open=True,
                                                                          background=(190, 225, 200))]),
    ]
    rows = []
    for identity, part, variants in people:
        for v in variants:
            p = {**base, **v}
            img, ann = _draw_face(p)
            image_id = f"{len(rows) + 1:06d}.jpg"
            _pil(img).save(root / "img_align_celeba" / image_id, quality=90)
            hair = p["hair"]
            attrs = {a: -1 for a in CELEBA_ATTRIBUTES}
            attrs.update({
                "Bald": p["bald"], "Bangs": p["bangs"], "Black_Hair": hair == black, "Blond_Hair": hair == blond,
                "Brown_Hair": hair == brown, "Gray_Hair": hair == gray, "Eyeglasses": p["glasses"],
                "Male": p["male"], "Mouth_Slightly_Open": p["open"], "Mustache": p["mustache"],
                "No_Beard": True, "Pale_Skin": p["pale"], "Smiling": p["smile"] or p["open"],
                "Wearing_Hat": p["hat"], "Wearing_Lipstick": p["lipstick"], "Young": hair != gray,
            })
            attrs = {k: (1 if v is True else -1 if v is False else v) for k, v in attrs.items()}
            rows.append((image_id, identity, part, ann, attrs))
    n = len(rows)
    (root / "list_attr_celeba.txt").write_text(
        f"{n}\n" + " ".join(CELEBA_ATTRIBUTES) + " \n"
        + "".join(f"{i} " + " ".join(f"{a[k]:2d}" for k in CELEBA_ATTRIBUTES) + "\n" for i, _, _, _, a in rows))
    (root / "list_landmarks_align_celeba.txt").write_text(
        f"{n}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n"
        + "".join(f"{i} " + " ".join(f"{v:4d}" for v in ann["landmarks"]) + "\n" for i, _, _, ann, _ in rows))
    (root / "list_bbox_celeba.txt").write_text(
        f"{n}\nimage_id x_1 y_1 width height\n"
        + "".join(f"{i} " + " ".join(f"{v:4d}" for v in ann["bbox"]) + "\n" for i, _, _, ann, _ in rows))
    (root / "identity_CelebA.txt").write_text("".join(f"{i} {ident}\n" for i, ident, _, _, _ in rows))
    (root / "list_eval_partition.txt").write_text("".join(f"{i} {part}\n" for i, _, part, _, _ in rows))


# ------------------------------------------------------------------------------------- FER2013

def make_fer2013(faces: np.ndarray) -> None:
    """fer2013_mini/: fer2013.csv (emotion,pixels,Usage) and the same images as train|test/<label>/.

    The labels are PLACEHOLDERS cycled over the 7 classes, not the expression of the face."""
    from course_utils.datasets import FER2013_LABELS

    root = OUT / "fer2013_mini"
    root.mkdir(parents=True)
    usages = ["Training", "Training", "PublicTest", "PrivateTest"]
    lines = ["emotion,pixels,Usage"]
    k = 0
    for u_i, usage in enumerate(usages):
        for emotion in range(len(FER2013_LABELS)):
            face = _resize(faces[30 + k], 48, 48)
            lines.append(f"{emotion},{' '.join(map(str, face.ravel()))},{usage}")
            split = "train" if usage == "Training" else "test"
            folder = root / split / FER2013_LABELS[emotion]
            folder.mkdir(parents=True, exist_ok=True)
            _pil(face).save(folder / f"{usage}_{10000 + k}.jpg", quality=95)
            k += 1
    (root / "fer2013.csv").write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------- masks

def _draw_mask(img: np.ndarray, color) -> np.ndarray:
    """A surgical-mask polygon over the lower face of a tight face crop (nose to chin)."""
    import cv2

    out = img.copy()
    h, w = out.shape[:2]
    pts = np.array([[0.10, 0.52], [0.90, 0.52], [0.94, 0.72], [0.72, 0.98], [0.28, 0.98], [0.06, 0.72]])
    poly = (pts * (w, h)).astype(np.int32)
    cv2.fillPoly(out, [poly], color, cv2.LINE_AA)
    for y in (0.64, 0.76):
        cv2.line(out, (int(0.12 * w), int(y * h)), (int(0.88 * w), int(y * h)), tuple(int(c * 0.8) for c in color), 1,
                 cv2.LINE_AA)
    cv2.line(out, (int(0.10 * w), int(0.55 * h)), (0, int(0.40 * h)), (240, 240, 240), 2, cv2.LINE_AA)
    cv2.line(out, (int(0.90 * w), int(0.55 * h)), (w - 1, int(0.40 * h)), (240, 240, 240), 2, cv2.LINE_AA)
    return out


def make_face_mask(faces: np.ndarray) -> None:
    """face_mask_mini/Face Mask Dataset/Train|Validation|Test/WithMask|WithoutMask/*.png.

    Each face appears once without and once with a drawn mask, in the same split (splits share
    no face)."""
    root = OUT / "face_mask_mini" / "Face Mask Dataset"
    colors = [(140, 190, 230), (235, 235, 240), (60, 60, 70), (120, 200, 180)]
    k = 60
    for split, n in (("Train", 4), ("Validation", 2), ("Test", 2)):
        for j in range(n):
            face = _gray_to_rgb(_resize(faces[k], 96, 96))
            k += 1
            for label, img in (("WithoutMask", face), ("WithMask", _draw_mask(face, colors[j % len(colors)]))):
                folder = root / split / label
                folder.mkdir(parents=True, exist_ok=True)
                _pil(img).save(folder / f"{k * 10 + j}.png", optimize=True)


# ------------------------------------------------------------------------------------- VGGFace

def make_vggface(faces: np.ndarray) -> None:
    """vggface_mini/files/<Name>.txt (URL lists; the URLs are example.com placeholders) and
    vggface2_mini/ (identity_meta.csv, train_list.txt, train/n00000X/000N_0M.jpg)."""
    root = OUT / "vggface_mini" / "files"
    root.mkdir(parents=True)
    for name in ("Synthetic_Person_A", "Synthetic_Person_B"):
        lines = []
        for i in range(1, 6):
            left, top = RNG.uniform(40, 120, size=2).round(2)
            side = RNG.uniform(90, 160)
            lines.append(f"{i} http://example.com/vggface-sample/{name}/{i:05d}.jpg {left:.2f} {top:.2f} "
                         f"{left + side:.2f} {top + side:.2f} {int(RNG.integers(1, 6))} {RNG.uniform(1, 6):.4f} "
                         f"{int(i != 4)}")
        (root / f"{name}.txt").write_text("\n".join(lines) + "\n")
    v2 = OUT / "vggface2_mini"
    v2.mkdir(parents=True)
    (v2 / "identity_meta.csv").write_text(
        'Class_ID, Name, Sample_Num, Flag, Gender\n'
        'n000001, "Synthetic_Person_C", 3, 1, f\n'
        'n000002, "Synthetic_Person_D", 2, 1, m\n'
        'n000003, "Synthetic_Person_E", 0, 0, f\n')
    names = []
    for cid, idxs in (("n000001", [(1, 1), (2, 1), (2, 2)]), ("n000002", [(1, 1), (3, 1)])):
        (v2 / "train" / cid).mkdir(parents=True)
        for photo, face_no in idxs:
            source = faces[80 if cid == "n000001" else 81]
            face = _gray_to_rgb(_augment(source, 112, photo + face_no))
            fname = f"{cid}/{photo:04d}_{face_no:02d}.jpg"
            _pil(face).save(v2 / "train" / fname, quality=85)
            names.append(fname)
    (v2 / "train_list.txt").write_text("\n".join(names) + "\n")


def main() -> None:
    for name in ("lfw_mini", "celeba_mini", "fer2013_mini", "face_mask_mini", "vggface_mini", "vggface2_mini"):
        shutil.rmtree(OUT / name, ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    faces = _lfw_faces()
    make_lfw(faces)
    make_celeba()
    make_fer2013(faces)
    make_face_mask(faces)
    make_vggface(faces)
    files = [p for p in OUT.rglob("*") if p.is_file()]
    print(f"wrote {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.2f} MB, under {OUT}")


if __name__ == "__main__":
    main()
