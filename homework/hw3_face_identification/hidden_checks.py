"""HW3's hidden checks (instructor only: never in a student release; see course_utils/tools/hidden.py).

Each probe runs the student's answer cells again, in a process of its own, on inputs made from the grading's
secret seed (other people, other embeddings, other pairs), and the grader compares the value with the
reference solution's on the same inputs.
"""
from pathlib import Path

import numpy as np

from course_utils.tools.hidden import Probe

PRELOAD = ["course_utils", "course_utils.identification", "scipy.spatial.distance", "sklearn.metrics.pairwise",
           "sklearn.neighbors"]
SETUP = ("from pathlib import Path\nimport numpy as np\nimport course_utils as cu\n"
         "from course_utils import identification as ident\n")
DISTANCES = ("course_utils.gallery:pairwise_distances", "scipy.spatial.distance:cdist", "scipy.spatial.distance:pdist",
             "sklearn.metrics.pairwise:euclidean_distances", "sklearn.metrics.pairwise:pairwise_distances",
             "sklearn.metrics:pairwise_distances")
NO_DISTANCE_FUNCTIONS = ("cdist", "pdist", "euclidean_distances", "pairwise_distances", "distance_matrix")


def gallery_folder(rng):
    """Three LFW people the notebook's gallery does not hold (two photos each), a photo without a face and a
    file that is not a photo, in a folder of their own."""
    import shutil

    import course_utils as cu

    root = cu.real_samples("lfw_people")
    people = sorted(p for p in root.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 2)
    folder = Path("hidden_gallery")
    for person in [people[i] for i in sorted(rng.choice(len(people), 3, replace=False))]:
        (folder / person.name).mkdir(parents=True)
        for photo in sorted(rng.choice(sorted(person.glob("*.jpg")), 2, replace=False)):
            shutil.copy(photo, folder / person.name / Path(photo).name)
    cu.save_image(cu.load_sample("coffee"), folder / person.name / "coffee.png")  # no face in it
    (folder / person.name / "notes.txt").write_text("not a photo")
    emb = cu.get_embedder(__import__("course_utils.embedders", fromlist=["x"]).available_backends()[-1])
    return {"GALLERY_DIR": str(folder), "emb": emb}


def _vectors(rng, n, dim=128):
    v = rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True) * rng.uniform(0.8, 1.2, (n, 1))).astype(np.float32)


def random_gallery(rng):
    import course_utils as cu

    n = int(rng.integers(6, 12))
    return {"gallery": cu.Gallery([f"person_{i % 4}" for i in range(n)], _vectors(rng, n), "dlib")}


def queries(rng):
    names = [f"person_{i}" for i in range(8)]
    rows = _vectors(rng, 8)
    near = rows[rng.integers(0, 8, 6)] + rng.normal(0, 0.03, (6, 128)).astype(np.float32)
    return {"h_names": names, "h_rows": rows, "h_queries": np.vstack([near, _vectors(rng, 6)]),
            "h_threshold": round(float(rng.uniform(0.5, 0.9)), 3)}


def triplets(rng):
    m = int(rng.integers(20, 60))
    return {"ta": _vectors(rng, m), "tp": _vectors(rng, m), "tn": _vectors(rng, m),
            "t_alpha": round(float(rng.uniform(0.1, 0.9)), 3)}


def pairs(rng):
    n = int(rng.integers(60, 120))
    same = rng.random(n) < 0.5
    d = np.where(same, rng.normal(0.5, 0.15, n), rng.normal(0.9, 0.15, n)).clip(0.01)
    return {"h_d": d.round(4), "h_same": same, "h_folds": rng.integers(1, 5, n),
            "h_candidates": np.round(np.arange(0.3, 1.2, 0.02), 4)}


PROBES = [
    Probe("q1", cells=("q1-answer",), inputs="gallery_folder", setup=SETUP, tol=1e-3, timeout=240,
          call="sorted((n, [float(v) for v in row]) for n, row in zip(gallery.names, np.asarray(gallery.embeddings)))",
          forbid=("course_utils.gallery:enrol_folder", "course_utils:enrol_folder"),
          avoid=("enrol_folder", "embed_paths")),
    Probe("q2", cells=("q2-answer",), inputs="random_gallery", setup=SETUP, tol=1e-4,
          call="np.asarray(person_distances, float)", forbid=DISTANCES, avoid=NO_DISTANCE_FUNCTIONS),
    Probe("q3", cells=("q3-answer",), inputs="queries", setup=SETUP, tol=1e-4,
          call="[(str(r[0]), float(r[1])) for r in (nearest_name(q, h_names, h_rows, h_threshold) for q in h_queries)]",
          forbid=("course_utils.gallery:Gallery.search", "course_utils.gallery:identify") + DISTANCES,
          avoid=NO_DISTANCE_FUNCTIONS + ("NearestNeighbors", "kneighbors")),
    Probe("q4", cells=("q4-answer",), inputs="triplets", setup=SETUP, tol=1e-5,
          call="(np.asarray(triplet_loss(ta, tp, tn, alpha=t_alpha), float), "
               "float(np.squeeze(triplet_loss(ta[0], tp[0], tn[0], alpha=t_alpha))), "
               "np.asarray(triplet_loss(ta, tp, tn), float))",
          forbid=("course_utils.identification:triplet_loss", "course_utils:triplet_loss"),
          avoid=("triplet_loss", "TripletMarginLoss", "triplet_margin_loss", "TripletSemiHardLoss")),
    Probe("q5", cells=("q5-answer",), inputs="pairs", setup=SETUP, tol=1e-9,
          call="([float(verification_accuracy(h_d, h_same, t)) for t in h_candidates], "
               "[tuple(float(x) for x in row) for row in kfold_accuracy(h_d, h_same, h_folds, h_candidates)])",
          forbid=("course_utils.verification:verification_accuracy", "course_utils.verification:kfold_verification",
                  "course_utils.verification:best_threshold", "course_utils.identification:verification_accuracy",
                  "course_utils.identification:kfold_verification"),
          avoid=("verification_accuracy", "kfold_verification", "best_threshold")),
]
