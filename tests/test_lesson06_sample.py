"""Lesson 06 and hw3 on the real sample faces (issue 17): the methods the lesson teaches and the homework
has students write, the sample's split and protocol, LFW copies that hold only some folds, your own photo."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import course_utils as cu
from course_utils import identification as ident, own_face


def test_triplet_loss_is_the_facenet_formula_per_row():
    a, p, n = np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[0.3, 0.0], [0.9, 0.0]]), np.array([[1.0, 0.0], [0.5, 0.0]])
    # row 0: 0.09 - 1.0 + 0.2 < 0 -> 0; row 1: 0.81 - 0.25 + 0.2 = 0.76
    assert ident.triplet_loss(a, p, n, alpha=0.2) == pytest.approx([0.0, 0.76])
    assert isinstance(ident.triplet_loss(a[1], p[1], n[1]), float)


def test_triplet_kinds_count_easy_semi_hard_and_hard():
    # one anchor per person (1-D points): same person at squared distance 1, the stranger at 0.25, 1.1, 4
    e = np.array([[0.0], [1.0], [0.5], [-1.0488088], [2.0]])
    labels = ["a", "a", "x", "y", "z"]
    kinds = ident.triplet_kinds(e[:2].tolist() + [e[2]] + [e[3]] + [e[4]], labels, alpha=0.2)
    assert sum(kinds.values()) == 2 * 3  # 2 anchors of "a" x 3 negatives (others have no positive)
    # anchor 0: d2(a,p)=1; negatives 0.25 (hard), 1.1 (semi-hard), 4 (easy)
    # anchor 1: d2(a,p)=1; negatives 0.25 (hard), 4.2 (easy), 1 (hard: not further than the positive)
    assert kinds == {"easy": 2, "semi-hard": 1, "hard": 3}


def test_verification_accuracy_counts_below_the_threshold_as_same():
    d = np.array([0.2, 0.5, 0.6, 0.9])
    same = np.array([True, True, False, False])
    assert ident.verification_accuracy(d, same, 0.55) == 1.0
    assert ident.verification_accuracy(d, same, 0.6) == 1.0      # 0.6 is not below 0.6: "different"
    assert ident.verification_accuracy(d, same, 0.3) == 0.75
    with pytest.raises(ValueError, match="labels"):
        ident.verification_accuracy(d, same[:3], 0.5)


def test_the_people_sample_holds_back_other_photos_of_the_enrolled_people():
    s = ident.load_people_sample(2)
    assert len(s.people) == 12 and len(s.enrol) == 24 and len(s.held_back) == 36 and len(s.strangers) == 8
    assert not {p for _, p in s.enrol} & {p for _, p in s.held_back}        # genuinely different photos
    assert {n for n, _ in s.held_back} == set(s.people)
    assert not {n for n, _ in s.strangers} & set(s.people)
    assert len(ident.load_people_sample(1).enrol) == 12
    with pytest.raises(ValueError, match="lower n_enrol"):
        ident.load_people_sample(5)


def test_sample_protocol_folds_are_identity_disjoint_and_balanced():
    labels = np.repeat([f"p{i}" for i in range(12)], 5)
    pairs, same, fold = ident.sample_protocol(labels, n_folds=3)
    for k in (1, 2, 3):
        in_fold = fold == k
        assert same[in_fold].sum() == 40 and (~same[in_fold]).sum() == 40
        people = set(labels[pairs[in_fold].ravel()])
        others = set(labels[pairs[~in_fold].ravel()])
        assert len(people) == 4 and not people & others
    assert all(labels[i] == labels[j] for i, j in pairs[same]) and all(labels[i] != labels[j] for i, j in pairs[~same])
    with pytest.raises(ValueError, match="at least 8 people"):
        ident.sample_protocol(labels[:15], n_folds=4)


def test_score_identification_counts_each_outcome():
    g = cu.Gallery(["a", "b"], np.array([[0.0, 0.0], [1.0, 0.0]]), "dlib")
    known = np.array([[0.1, 0.0], [0.9, 0.0], [0.4, 0.0], [0.0, 0.9]])  # a, b, a (0.4), unknown (0.9 from a)
    strangers = np.array([[0.5, 0.5], [5.0, 5.0]])                         # 0.71 from both -> unknown at 0.6
    s = ident.score_identification(g, known, ["a", "b", "b", "a"], strangers, 0.6)
    assert (s.known_right, s.known_wrong, s.known_unknown) == (2, 1, 1)
    assert (s.strangers_unknown, s.strangers_named) == (2, 0) and s.known_accuracy == 0.5
    assert "named right 2/4" in str(s)


def test_make_sample_gallery_writes_the_lecture_starter_people_and_keeps_yours(tmp_path):
    mine = tmp_path / "test_images" / "Jane_Doe" / "1.jpg"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"mine")
    folder = ident.make_sample_gallery(tmp_path / "test_images")
    assert sorted(p.name for p in folder.iterdir()) == sorted(ident.STARTER_PEOPLE + ("Jane_Doe",))
    src = cu.real_samples("test_images")
    for name in ident.STARTER_PEOPLE:
        assert (folder / name / "1.jpg").read_bytes() == (src / name / "1.jpg").read_bytes()
    assert mine.read_bytes() == b"mine" and ident.own_people(folder) == ["Jane_Doe"]
    assert ident.own_people(tmp_path / "missing") == []


def test_distance_matrix_text_is_dark_on_light_colours_and_light_on_dark():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    cmap, norm = plt.get_cmap("viridis_r"), Normalize(0, 1)
    assert ident._text_colour(cmap, norm, 0.0) == "black"   # viridis_r starts yellow
    assert ident._text_colour(cmap, norm, 1.0) == "white"   # and ends dark purple
    ax = ident.show_distance_matrix(np.array([[0.0, 0.9], [0.9, 0.0]]), ["a", "b"])
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours == {"0.00": "black", "0.90": "white"}
    plt.close("all")


def _texts(fig):
    """Every visible text of a figure (titles, tick labels, annotations, legends), with its size in points."""
    from matplotlib.text import Text

    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def test_lesson06_figures_are_readable_at_their_size_and_without_red_green():
    """Issue 27: lesson 06's figures had 5-6 pt text, right/wrong in red and green only, pale names, and a legend
    over the bars.  Every text is now 8 pt or more, right/wrong is a mark and a frame in blue/orange."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    rng = np.random.default_rng(0)
    names = np.repeat([f"Person_{c}" for c in "ABCDEF"], 5)
    vecs = rng.normal(size=(30, 8)) + np.repeat(rng.normal(scale=3, size=(6, 8)), 5, axis=0)
    d = ident.pairwise_distances(vecs[:15], vecs[:15])
    figures = {"matrix": ident.show_distance_matrix(d, [f"{n[-1]} {i}" for i, n in enumerate(names[:15])]).figure,
               "histogram": ident.show_distance_histograms(d[d > 0][:20], d[d > 0][20:], 0.6).figure,
               "map": ident.show_embedding_map(vecs, names).figure}
    photos = [sorted((cu.real_samples("lfw_people") / "Colin_Powell").glob("*.jpg"))[0]] * 12
    found = [("Colin_Powell", 0.3, "Colin_Powell")] * 10 + [("Tiger_Woods", 0.5, "Tiger_Woods"), (cu.UNKNOWN, 0.8, "x")]
    truth = ["Colin_Powell"] * 10 + [cu.UNKNOWN, cu.UNKNOWN]
    figures["identifications"] = ident.show_identifications(photos, truth, found)
    pairs_same = np.array([True, True, False, False, True, False])
    result = ident.kfold_verification(np.array([0.2, 0.3, 0.9, 0.7, 0.4, 0.8]), pairs_same, np.array([1, 1, 1, 2, 2, 2]))
    figures["roc"] = ident.show_roc(result).figure
    for what, fig in figures.items():
        small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < 8]
        assert not small, (what, small[:5])
        assert fig.get_size_inches()[0] <= 10.5, what      # shown at 100 %: no wider than a notebook's column

    titles = [ax.get_title() for ax in figures["identifications"].axes if ax.get_title()]
    assert [t[0] for t in titles] == ["✓"] * 10 + ["✗", "✓"]
    colours = {to_hex(ax.title.get_color()) for ax in figures["identifications"].axes if ax.get_title()}
    assert colours == {ident.BLUE.lower(), ident.ORANGE.lower()}
    framed = [len(ax.patches) for ax in figures["identifications"].axes if ax.get_title()]
    assert framed == [0] * 10 + [1, 0]

    ax = figures["histogram"].axes[0]
    legend, plot = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.y1 <= plot.y0                            # under the plot: it hides no bar
    assert {t.get_color() for t in figures["map"].axes[0].texts} == {"black"}
    assert all(t.get_path_effects() for t in figures["map"].axes[0].texts)   # outlined in white
    plt.close("all")


def test_short_names():
    assert [ident.short_name(n) for n in ("Colin_Powell", "Queen_Elizabeth_II", "unknown")] == \
        ["Powell", "Elizabeth", "unknown"]


def _partial_lfw(root, n_folds_present: int):
    """An LFW-format folder from the real sample: a pairs.txt of 3 folds (2 + 2 pairs each) whose last
    folds name images that are not in the folder."""
    src = cu.real_samples("lfw_people")
    tree = root / "lfw"
    shutil.copytree(src, tree)
    people = ["Colin_Powell", "Kate_Hudson", "Tiger_Woods"]
    nums = {p: sorted(int(f.stem[-4:]) for f in (tree / p).glob("*.jpg")) for p in people}
    lines = ["3\t2"]
    for k in range(3):
        a, b = people[k], people[(k + 1) % 3]
        i, j = nums[a][0], nums[a][1]
        if k >= n_folds_present:
            j = 9999  # an image this copy does not hold
        lines += [f"{a}\t{i}\t{j}", f"{b}\t{nums[b][0]}\t{nums[b][2]}",
                  f"{a}\t{i}\t{b}\t{nums[b][1]}", f"{b}\t{nums[b][3]}\t{a}\t{nums[a][2]}"]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    return root


def test_an_lfw_copy_with_some_folds_is_evaluated_on_those_with_a_notice(tmp_path, capsys):
    root = _partial_lfw(tmp_path / "two", n_folds_present=2)
    pairs = ident.load_available_pairs(root)
    assert sorted(set(pairs.fold)) == [1, 2] and len(pairs) == 8
    assert "folds 1-2 only; folds 3 are left out" in capsys.readouterr().out
    assert "over 2 folds" in pairs.attrs["notice"]
    result = ident.kfold_verification(np.where(pairs.same, 0.3, 0.9), pairs.same.to_numpy(), pairs.fold.to_numpy())
    assert set(result.fold_accuracy) == {1, 2}
    short = ident.load_available_pairs(root, pairs_per_fold=2)
    assert short.groupby(["fold", "same"]).size().tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="needs two folds or more"):
        ident.load_available_pairs(_partial_lfw(tmp_path / "one", n_folds_present=1))
    complete = ident.load_available_pairs(_partial_lfw(tmp_path / "all", n_folds_present=3))
    assert len(complete) == 12 and complete.attrs["notice"] == ""


def test_backend_note_says_which_model_and_which_rule():
    class Fake(cu.Embedder):
        pass

    dlib, facenet = Fake(), Fake()
    dlib.name, dlib.threshold = "dlib", 0.6
    facenet.name, facenet.threshold = "facenet", 1.0
    note = {e.name: " ".join(ident.backend_note(e).split()) for e in (dlib, facenet)}  # lines wrapped at 110
    assert all(len(line) <= 110 for e in (dlib, facenet) for line in ident.backend_note(e).splitlines())
    assert "dlib's ResNet descriptor stands in" in note["dlib"] and "the threshold is 0.6, not 1.0" in note["dlib"]
    assert "distance < 1.0 -> the nearest enrolled name, else unknown" in note["facenet"]


@pytest.mark.slow
def test_own_photo_is_enrolled_and_identified_or_a_notice_says_it_is_missing(tmp_path):
    emb = cu.get_embedder("dlib")
    lfw = cu.real_samples("lfw_people")
    folder = ident.make_sample_gallery(tmp_path / "test_images")
    second = tmp_path / "me_test.jpg"
    gallery = cu.enrol_folder(folder, emb)
    assert "NOTICE: no photo of you" in ident.own_photo_report(folder, second, gallery, emb)
    assert own_face.identify_own_photo(second, [], gallery, emb) is None
    # "your" photos: two different LFW photos of one person
    ident.write_gallery(folder, [("Jane_Doe", lfw / "Colin_Powell" / "Colin_Powell_0040.jpg")])
    gallery = cu.enrol_folder(folder, emb)
    report = ident.own_photo_report(folder, second, gallery, emb)
    assert "Jane_Doe (1 photo(s) enrolled)" in report and "NOTICE: no second photo" in report
    shutil.copyfile(lfw / "Colin_Powell" / "Colin_Powell_0071.jpg", second)
    name, dist = own_face.identify_own_photo(second, ["Jane_Doe"], gallery, emb)
    assert name == "Jane_Doe" and 0 < dist < emb.threshold
    assert ": recognised" in ident.own_photo_report(folder, second, gallery, emb)
    # someone else's photo as "your" second photo is not recognised; the rule can be the student's
    shutil.copyfile(lfw / "Tiger_Woods" / "Tiger_Woods_0001.jpg" if (lfw / "Tiger_Woods" / "Tiger_Woods_0001.jpg").exists()
                    else sorted((lfw / "Tiger_Woods").glob("*.jpg"))[0], second)
    always_unknown = lambda q, names, rows, t: ("unknown", 9.9)  # noqa: E731
    assert own_face.identify_own_photo(second, ["Jane_Doe"], gallery, emb, always_unknown) == ("unknown", 9.9)
    assert "NOT recognised" in ident.own_photo_report(folder, second, gallery, emb)
