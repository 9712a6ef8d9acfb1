"""course_utils.datasets: every parser on the embedded samples and on broken files made here;
discovery in env-var, Kaggle-like and data folders.  Nothing here needs ../shared or the internet."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas  # noqa: F401 - imported here so that the timing test does not time pandas' import
import pytest

from course_utils import datasets as ds
from course_utils.datasets import DatasetFormatError, DatasetNotFoundError, MissingImagesError


# ------------------------------------------------------------------------------------ LFW

@pytest.fixture(scope="module")
def lfw():
    return ds.load_lfw(ds.sample_dataset("lfw"))


def test_lfw_sample_index_counts_people_images_and_finds_pairs_file(lfw):
    assert lfw.tree.name == "lfw" and lfw.pairs_file.name == "pairs.txt"
    assert (lfw.n_people, lfw.n_images) == (12, 22)
    counts = lfw.counts()
    assert counts.iloc[:3].to_dict() == {"Eileen_Collins": 4, "Grace_Hopper": 3, "Synthetic_Face_01": 3}
    assert int((counts >= 2).sum()) == 6
    assert lfw.people["Eileen_Collins"] == (1, 2, 3, 4)
    assert "12 people, 22 images, 6 with two or more" in repr(lfw)


def test_lfw_images_load_lazily_as_250x250_rgb(lfw):
    assert lfw.path("Grace_Hopper", 2) == lfw.tree / "Grace_Hopper" / "Grace_Hopper_0002.jpg"
    img = lfw.image("Grace_Hopper", 2)
    assert img.shape == (250, 250, 3) and img.dtype == np.uint8
    with pytest.raises(KeyError, match=r"no image Grace_Hopper_0009 .*has images 1, 2, 3"):
        lfw.path("Grace_Hopper", 9)
    frame = lfw.frame()
    assert len(frame) == 22 and list(frame.columns) == ["name", "number", "path"]


def test_lfw_pairs_parse_into_folds_with_every_image_resolved(lfw):
    pairs = ds.load_lfw_pairs(lfw.pairs_file, lfw)
    assert len(pairs) == 12 and pairs.attrs["n_folds"] == 2 and pairs.attrs["pairs_per_class"] == 3
    assert pairs.groupby("fold")["same"].agg(["sum", "size"]).values.tolist() == [[3, 6], [3, 6]]
    first, mismatched = pairs.iloc[0], pairs.iloc[3]
    assert (first.name_a, first.num_a, first.name_b, first.num_b, first.same) == ("Eileen_Collins", 1, "Eileen_Collins", 3, True)
    assert (mismatched.name_a, mismatched.name_b, mismatched.same) == ("Eileen_Collins", "Synthetic_Face_05", False)
    assert all(Path(p).is_file() for p in pairs.img_a.tolist() + pairs.img_b.tolist())
    # folds are identity-disjoint, as in LFW View 2
    names = [set(pairs.loc[pairs.fold == f, ["name_a", "name_b"]].values.ravel()) for f in (1, 2)]
    assert not names[0] & names[1]


def test_lfw_pairs_without_index_give_relative_paths_and_select_folds(lfw):
    pairs = ds.load_lfw_pairs(lfw.pairs_file, folds=[2])
    assert pairs.fold.unique().tolist() == [2] and len(pairs) == 6
    assert pairs.img_a.iloc[0] == os.path.join("Grace_Hopper", "Grace_Hopper_0001.jpg")
    with pytest.raises(ValueError, match="folds must be between 1 and 2"):
        ds.load_lfw_pairs(lfw.pairs_file, folds=[3])
    with pytest.raises(ValueError, match="missing must be one of raise, drop, keep"):
        ds.load_lfw_pairs(lfw.pairs_file, missing="skip")


def _pairs(tmp_path, text: str) -> Path:
    p = tmp_path / "pairs.txt"
    p.write_text(text)
    return p


def test_lfw_dev_pairs_files_have_a_single_number_header(tmp_path):
    p = _pairs(tmp_path, "2\nA 1 2\nB 1 3\nA 1 B 2\nB 2 C 1\n")
    pairs = ds.load_lfw_pairs(p)
    assert pairs.same.tolist() == [True, True, False, False] and set(pairs.fold) == {1}


@pytest.mark.parametrize("text, msg", [
    ("", "the file is empty"),
    ("ten 300\n", "line 1: expected a header"),
    ("1 2\nA 1 2\nA 1 3\nA 1 B 1\n", "header says 1 fold.* = 4 pairs, but the file has 3 pair lines"),
    ("1 1\nA 1 B 2\nA 1 B 1\n", "line 2: fold 1 expects a matched pair 'name i j' \\(3 fields\\) here, got 4"),
    ("1 1\nA 1 2\nA 1 3\n", "line 3: fold 1 expects a mismatched pair 'name1 i name2 j' \\(4 fields\\) here, got 3"),
    ("1 1\nA 1 x\nA 1 B 1\n", "line 2: image numbers must be integers"),
    ("1 1\nA 0 2\nA 1 B 1\n", "line 2: image numbers are 1-based"),
])
def test_lfw_pairs_format_errors_name_file_and_line(tmp_path, text, msg):
    with pytest.raises(DatasetFormatError, match=msg) as info:
        ds.load_lfw_pairs(_pairs(tmp_path, text))
    assert str(tmp_path / "pairs.txt") in str(info.value)


def test_lfw_pairs_naming_absent_images_raise_or_drop(tmp_path, lfw):
    p = _pairs(tmp_path, "1 1\nEileen_Collins 1 9\nEileen_Collins 1 Nobody 1\n")
    with pytest.raises(MissingImagesError, match="2 of 2 pairs .*pass folds=\\[4, 5, 6\\] or missing='drop'"):
        ds.load_lfw_pairs(p, lfw)
    dropped = ds.load_lfw_pairs(p, lfw, missing="drop")
    assert len(dropped) == 0 and dropped.attrs["dropped"] == 2
    assert len(ds.load_lfw_pairs(p, lfw, missing="keep")) == 2


def test_lfw_index_handles_kaggle_nesting_gaps_and_stray_files(tmp_path):
    tree = tmp_path / "lfw-deepfunneled" / "lfw-deepfunneled"
    for name, nums in (("A_B", (1, 3)), ("C", (2,))):
        (tree / name).mkdir(parents=True)
        for n in nums:
            (tree / name / f"{name}_{n:04d}.jpg").write_bytes(b"")
    (tree / "A_B" / "Thumbs.db").write_bytes(b"")
    (tree / "A_B" / "A_B_0001.jpg.bak").write_bytes(b"")
    index = ds.load_lfw(tmp_path)
    assert index.tree == tree and index.people == {"A_B": (1, 3), "C": (2,)} and index.pairs_file is None
    with pytest.raises(DatasetNotFoundError, match="no LFW image tree"):
        ds.load_lfw(tmp_path / "lfw-deepfunneled" / "lfw-deepfunneled" / "C")


def test_indexing_a_tenth_of_lfw_and_parsing_all_6000_pairs(tmp_path):
    """A tenth of LFW's tree (575 people, 1,323 images) and a full-size 10-fold pairs.txt with every
    image resolved.  How long it takes is measured by benchmarks/datasets.py, not asserted here."""
    tree = tmp_path / "lfw"
    names = [f"Person_{i:04d}" for i in range(575)]
    counts = np.ones(575, dtype=int)
    counts[:168] = [6] * 76 + [5] * 92                    # 168 people with two or more
    for name, c in zip(names, counts):
        (tree / name).mkdir(parents=True)
        for k in range(1, c + 1):
            (tree / name / f"{name}_{k:04d}.jpg").touch()
    lines = ["10\t300"]
    for fold in range(10):
        lines += [f"{names[(fold * 300 + i) % 168]}\t1\t2" for i in range(300)]
        lines += [f"{names[i % 575]}\t1\t{names[(i + fold + 1) % 575]}\t1" for i in range(300)]
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    index = ds.load_lfw(tmp_path)
    pairs = ds.load_lfw_pairs(index.pairs_file, index)
    assert (index.n_people, index.n_images, len(pairs)) == (575, 1323, 6000)
    assert pairs.groupby("fold").same.sum().tolist() == [300] * 10


# ------------------------------------------------------------------------------------ CelebA

def test_celeba_sample_annotations_parse_with_types_and_shapes():
    root = ds.sample_dataset("celeba")
    attrs = ds.load_celeba_attributes(root / "list_attr_celeba.txt")
    assert attrs.shape == (8, 40) and tuple(attrs.columns) == ds.CELEBA_ATTRIBUTES
    assert attrs.dtypes.unique().tolist() == [np.dtype(np.int8)] and set(np.unique(attrs.values)) == {-1, 1}
    assert attrs.loc["000003.jpg", ["Eyeglasses", "Mustache", "Black_Hair", "Smiling"]].tolist() == [1, 1, 1, -1]
    assert ds.load_celeba_attributes(root / "list_attr_celeba.txt", as_bool=True).loc["000001.jpg", "Smiling"]
    marks = ds.load_celeba_landmarks(root / "list_landmarks_align_celeba.txt")
    assert marks.loc["000001.jpg"].tolist() == [70, 112, 108, 112, 89, 134, 73, 153, 105, 153]
    boxes = ds.load_celeba_bboxes(root / "list_bbox_celeba.txt")
    assert tuple(boxes.columns) == ds.CELEBA_BBOX and boxes.loc["000001.jpg"].tolist() == [41, 55, 97, 138]
    ids = ds.load_celeba_identities(root / "identity_CelebA.txt")
    assert ids.tolist() == [101, 101, 102, 102, 103, 103, 104, 104]
    parts = ds.load_celeba_partitions(root / "list_eval_partition.txt")
    assert parts.value_counts().to_dict() == {"train": 4, "val": 2, "test": 2}


def test_load_celeba_joins_every_file_and_points_at_the_aligned_images():
    df = ds.load_celeba(ds.sample_dataset("celeba"))
    assert df.shape == (8, 1 + 1 + 1 + 4 + 10 + 40)
    assert all(Path(p).is_file() for p in df.path)
    from course_utils.images import load_image

    assert load_image(df.path.iloc[0]).shape == (218, 178, 3)


def test_celeba_kaggle_csv_variants_parse_like_the_txt_files(tmp_path):
    root = ds.sample_dataset("celeba")
    attrs = ds.load_celeba_attributes(root / "list_attr_celeba.txt")
    attrs.reset_index().to_csv(tmp_path / "list_attr_celeba.csv", index=False)
    assert ds.load_celeba_attributes(tmp_path / "list_attr_celeba.csv").equals(attrs)
    (tmp_path / "list_eval_partition.csv").write_text("image_id,partition\n000001.jpg,0\n000002.jpg,2\n")
    assert ds.load_celeba_partitions(tmp_path / "list_eval_partition.csv").tolist() == ["train", "test"]


@pytest.mark.parametrize("text, msg", [
    ("two\n", "line 1: expected the number of images"),
    ("1\n5_o_Clock_Shadow Bald\n000001.jpg 1 1\n", "line 2: expected the 40 columns"),
    ("3\n" + " ".join(ds.CELEBA_ATTRIBUTES) + "\n000001.jpg" + " 1" * 40 + "\n000002.jpg" + " 1" * 40 + "\n",
     "header says 3 images, but the file lists 2"),
    ("2\n" + " ".join(ds.CELEBA_ATTRIBUTES) + "\n000001.jpg" + " 1" * 40 + "\n000002.jpg" + " 1" * 39 + "\n",
     "line 4: expected 41 fields"),
    ("1\n" + " ".join(ds.CELEBA_ATTRIBUTES) + "\n000001.jpg" + " 1" * 39 + " 0\n",
     "line 3: attribute Young of 000001.jpg is 0; CelebA attributes are \\+1 or -1"),
])
def test_celeba_attribute_format_errors_name_the_line(tmp_path, text, msg):
    p = tmp_path / "list_attr_celeba.txt"
    p.write_text(text)
    with pytest.raises(DatasetFormatError, match=msg):
        ds.load_celeba_attributes(p)


def test_celeba_partition_and_identity_errors(tmp_path):
    p = tmp_path / "list_eval_partition.txt"
    p.write_text("000001.jpg 0\n000002.jpg 5\n")
    with pytest.raises(DatasetFormatError, match="line 2: partition must be 0, 1 or 2, got 5"):
        ds.load_celeba_partitions(p)
    q = tmp_path / "identity_CelebA.txt"
    q.write_text("000001.jpg 12\n000002.jpg x\n")
    with pytest.raises(DatasetFormatError, match="line 2: column 'identity' must hold integers, got 'x'"):
        ds.load_celeba_identities(q)
    with pytest.raises(FileNotFoundError, match="CelebA annotation file not found"):
        ds.load_celeba_identities(tmp_path / "nope.txt")


# ------------------------------------------------------------------------------------ VGGFace

def test_vggface_url_list_columns_and_errors(tmp_path):
    df = ds.load_vggface_urls(ds.sample_dataset("vggface") / "files" / "Synthetic_Person_A.txt")
    assert list(df.columns) == ["name", *ds.VGGFACE_COLUMNS] and len(df) == 5
    assert df.id.tolist() == [1, 2, 3, 4, 5] and df.curation.tolist() == [1, 1, 1, 0, 1]
    assert (df.right > df.left).all() and df.url.str.startswith("http://example.com/").all()
    bad = tmp_path / "X.txt"
    bad.write_text("1 http://a 1 2 3 4 1 2.0 1\n2 http://b 1 2 3\n")
    with pytest.raises(DatasetFormatError, match="X.txt, line 2: expected 9 fields"):
        ds.load_vggface_urls(bad)


def test_vggface2_meta_with_padded_header_and_the_n000001_layout(tmp_path):
    root = ds.sample_dataset("vggface2")
    meta = ds.load_vggface2_meta(root / "identity_meta.csv")
    assert meta.to_dict("list") == {"class_id": ["n000001", "n000002", "n000003"],
                                    "name": ["Synthetic_Person_C", "Synthetic_Person_D", "Synthetic_Person_E"],
                                    "n_images": [3, 2, 0], "split": ["train", "train", "test"],
                                    "gender": ["f", "m", "f"]}
    index = ds.index_vggface2(root)
    assert index[["class_id", "photo", "face"]].values.tolist() == [
        ["n000001", 1, 1], ["n000001", 2, 1], ["n000001", 2, 2], ["n000002", 1, 1], ["n000002", 3, 1]]
    assert all(Path(p).is_file() for p in index.path)
    (tmp_path / "train_list.txt").write_text("n000001/0001_01.jpg\nn1/1.jpg\n")
    with pytest.raises(DatasetFormatError, match="train_list.txt, line 2: expected 'n000001/0001_01.jpg'"):
        ds.index_vggface2(tmp_path)


# ------------------------------------------------------------------------------------ FER2013, masks

def test_fer2013_csv_sample_gives_48x48_images_and_labels():
    images, labels = ds.load_fer2013_csv(ds.sample_dataset("fer2013") / "fer2013.csv")
    assert images.shape == (28, 48, 48) and images.dtype == np.uint8
    assert labels.usage.value_counts().to_dict() == {"Training": 14, "PublicTest": 7, "PrivateTest": 7}
    assert labels.label.iloc[:7].tolist() == list(ds.FER2013_LABELS)
    test_images, test_labels = ds.load_fer2013_csv(ds.sample_dataset("fer2013") / "fer2013.csv", usage="PublicTest")
    assert test_images.shape == (7, 48, 48) and set(test_labels.usage) == {"PublicTest"}
    np.testing.assert_array_equal(test_images[0], images[14])


def test_fer2013_icml_variant_with_leading_spaces_in_column_names(tmp_path):
    px = " ".join(["7"] * 2304)
    p = tmp_path / "icml_face_data.csv"
    p.write_text(f"emotion, Usage, pixels\n3,Training,{px}\n6,PrivateTest, {px}\n")
    images, labels = ds.load_fer2013_csv(p)
    assert images.shape == (2, 48, 48) and int(images.sum()) == 7 * 2304 * 2
    assert labels.label.tolist() == ["happy", "neutral"] and labels.usage.tolist() == ["Training", "PrivateTest"]
    t = tmp_path / "test.csv"
    t.write_text(f"pixels\n{px}\n")
    assert ds.load_fer2013_csv(t)[1].emotion.tolist() == [-1]


@pytest.mark.parametrize("row, msg", [
    ("9,{px},Training", "line 2: emotion must be an integer 0-6, got '9'"),
    ("1,1 2 3,Training", "line 2: expected 2304 pixel values \\(48x48\\), got 3"),
    ("1,{bigpx},Training", "line 2: pixel values must be 0-255"),
])
def test_fer2013_csv_errors_name_the_line(tmp_path, row, msg):
    p = tmp_path / "fer2013.csv"
    p.write_text("emotion,pixels,Usage\n" + row.format(px=" ".join(["1"] * 2304), bigpx=" ".join(["300"] * 2304)) + "\n")
    with pytest.raises(DatasetFormatError, match=msg):
        ds.load_fer2013_csv(p)
    with pytest.raises(ValueError, match="usage must be one of Training, PublicTest, PrivateTest"):
        ds.load_fer2013_csv(ds.sample_dataset("fer2013") / "fer2013.csv", usage="Validation")


def test_fer2013_folder_tree_matches_the_csv_and_keeps_empty_classes(tmp_path):
    df = ds.load_fer2013_folders(ds.sample_dataset("fer2013"))
    assert df.split.value_counts().to_dict() == {"test": 14, "train": 14}
    assert df.groupby("label").size().tolist() == [4] * 7
    assert (df.emotion == df.label.map(ds.FER2013_LABELS.index)).all()
    (tmp_path / "train" / "happy").mkdir(parents=True)
    (tmp_path / "train" / "happy" / "a.png").write_bytes(b"")
    (tmp_path / "test" / "disgust").mkdir(parents=True)          # empty, like shared/data's
    small = ds.load_fer2013_folders(tmp_path)
    assert len(small) == 1 and small.attrs["labels"] == ("disgust", "happy")
    (tmp_path / "train" / "bored").mkdir()
    (tmp_path / "train" / "bored" / "b.png").write_bytes(b"")
    with pytest.raises(DatasetFormatError, match="unexpected label folders \\['bored'\\]"):
        ds.load_fer2013_folders(tmp_path)


def test_face_mask_12k_layout_and_the_two_folder_layout(tmp_path):
    df = ds.load_face_mask(ds.sample_dataset("face_mask"))        # finds 'Face Mask Dataset/' inside
    assert df.groupby(["split", "label"]).size().to_dict() == {
        ("Test", "with_mask"): 2, ("Test", "without_mask"): 2, ("Train", "with_mask"): 4,
        ("Train", "without_mask"): 4, ("Validation", "with_mask"): 2, ("Validation", "without_mask"): 2}
    for lab in ("with_mask", "without_mask"):
        (tmp_path / lab).mkdir()
    (tmp_path / "with_mask" / "with_mask_0001.jpg").write_bytes(b"")   # an LFW-like name, as in real sets
    (tmp_path / "without_mask" / "x.jpg").write_bytes(b"")
    other = ds.load_face_mask(tmp_path)
    assert other.label.tolist() == ["with_mask", "without_mask"] and set(other.split) == {""}
    assert ds.find_dataset("lfw", [tmp_path], environ={}, kaggle_input=tmp_path / "k", data_dir=tmp_path / "c",
                           required=False) is None                      # not mistaken for an LFW tree


# ------------------------------------------------------------------------------------ discovery

def test_find_dataset_uses_an_attached_kaggle_dataset_in_place(tmp_path):
    kaggle = tmp_path / "input"
    mask = kaggle / "face-mask-12k-images-dataset" / "Face Mask Dataset"
    (mask / "Train" / "WithMask").mkdir(parents=True)
    lfw = kaggle / "some-lfw-slug" / "lfw-deepfunneled" / "lfw-deepfunneled" / "A" / "A_0001.jpg"
    lfw.parent.mkdir(parents=True)
    lfw.write_bytes(b"")
    kw = dict(environ={}, kaggle_input=kaggle, data_dir=tmp_path / "cache")
    assert ds.find_dataset("face_mask", **kw) == mask
    found = ds.find_dataset("lfw", **kw)               # the slug folder; load_lfw finds the nested tree
    assert found == kaggle / "some-lfw-slug"
    assert ds.load_lfw(found).tree == lfw.parent.parent
    assert ds.find_dataset("celeba", required=False, **kw) is None


def test_find_dataset_prefers_the_environment_variable_and_checks_it(tmp_path):
    sample = ds.sample_dataset("celeba")
    found = ds.find_dataset("celeba", environ={"COURSE_CELEBA_DIR": str(sample)}, kaggle_input=tmp_path,
                            data_dir=tmp_path)
    assert found == sample
    with pytest.raises(DatasetNotFoundError, match="COURSE_CELEBA_DIR=.* does not hold CelebFaces.*Fix or unset"):
        ds.find_dataset("celeba", environ={"COURSE_CELEBA_DIR": str(tmp_path)}, kaggle_input=tmp_path)


def test_find_dataset_searches_given_folders_then_the_data_dir(tmp_path):
    kw = dict(environ={}, kaggle_input=tmp_path / "no-kaggle")
    assert ds.find_dataset("fer2013", [ds.SAMPLES_DIR], **kw) == ds.sample_dataset("fer2013")
    cache = tmp_path / "cache" / "lfw"
    cache.mkdir(parents=True)
    (cache / "pairs.txt").write_text("1\n")
    assert ds.find_dataset("lfw", data_dir=tmp_path / "cache", **kw) == cache


def test_find_dataset_not_found_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        ds.find_dataset("celeba", [tmp_path], environ={}, kaggle_input=tmp_path / "k", data_dir=tmp_path / "c")
    msg = str(info.value)
    assert str(tmp_path) in msg and "COURSE_CELEBA_DIR" in msg and "jessicali9530/celeba-dataset" in msg
    assert "cu.sample_dataset('celeba')" in msg
    with pytest.raises(ValueError, match="unknown dataset 'celebA'; choose one of lfw, celeba"):
        ds.find_dataset("celebA")


def test_dataset_dir_falls_back_to_the_sample(tmp_path, capsys):
    assert ds.dataset_dir("lfw") == ds.sample_dataset("lfw")
    assert ds.dataset_dir("lfw", tmp_path) == ds.sample_dataset("lfw")
    assert "lfw: not found under" in capsys.readouterr().out


def test_fetch_lfw_uses_cached_verified_files_without_network(tmp_path, monkeypatch):
    """fetch_lfw asks fetch() for the three pairs files and the archive, then extracts it."""
    import tarfile

    from course_utils import download

    calls = []
    archive = tmp_path / "made.tgz"
    member = ds.sample_dataset("lfw") / "lfw" / "Grace_Hopper" / "Grace_Hopper_0001.jpg"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(member, arcname="lfw/Grace_Hopper/Grace_Hopper_0001.jpg")

    def fake_fetch(name, *, data_dir, progressbar, manual):
        calls.append(name)
        assert "figshare" in manual
        target = Path(data_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".tgz"):
            target.write_bytes(archive.read_bytes())
        else:
            target.write_text("1\nGrace_Hopper\t1\t1\nGrace_Hopper\t1\tX\t1\n")
        return target

    monkeypatch.setattr(download, "fetch", fake_fetch)
    folder = ds.fetch_lfw(tmp_path / "data", progressbar=False)
    assert calls == ["pairs.txt", "pairsDevTrain.txt", "pairsDevTest.txt", "lfw.tgz"]
    index = ds.load_lfw(folder)
    assert index.people == {"Grace_Hopper": (1,)} and index.pairs_file == folder / "pairs.txt"


def test_loaders_never_write_into_a_read_only_dataset(tmp_path):
    root = ds.sample_dataset("lfw")
    before = sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*"))
    index = ds.load_lfw(root)
    ds.load_lfw_pairs(index.pairs_file, index)
    index.image("Eileen_Collins", 1)
    assert sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*")) == before


def test_image_folders_take_every_image_suffix_that_images_reads(tmp_path):
    from course_utils.images import IMAGE_SUFFIXES

    for i, suffix in enumerate(IMAGE_SUFFIXES):
        (tmp_path / "a").mkdir(exist_ok=True)
        (tmp_path / "a" / f"{i}{suffix.upper() if i % 2 else suffix}").write_bytes(b"")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    df = ds.index_image_folders(tmp_path)
    assert len(df) == len(IMAGE_SUFFIXES) and ".tif" in IMAGE_SUFFIXES
    assert not df["path"].str.endswith(".txt").any()


def test_subfolders_and_image_files_the_one_walk_over_folder_trees(tmp_path):
    from course_utils.images import image_files, subfolders

    for name in ("b", "a", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "file.jpg").write_bytes(b"")
    assert subfolders(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert subfolders(tmp_path / "missing") == []
    for name in ("2.PNG", "1.jpg", "notes.txt", "3.tif"):
        (tmp_path / "a" / name).write_bytes(b"")
    assert [p.name for p in image_files(tmp_path / "a")] == ["1.jpg", "2.PNG", "3.tif"]
