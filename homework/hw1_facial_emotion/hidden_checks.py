"""HW1's hidden checks (instructor only: never in a student release; see course_utils/tools/hidden.py).

Questions 1 and 3 are functions of labels: they run again on other labels, made from the grading's secret
seed.  The other questions are judged on the student's own model (visible checks only).
"""
from course_utils.tools.hidden import Probe

PRELOAD = ["course_utils", "sklearn.model_selection", "sklearn.utils.class_weight"]
SETUP = "import numpy as np\nimport course_utils as cu\n"
SPLITTERS = ("sklearn.model_selection:train_test_split", "sklearn.model_selection:StratifiedShuffleSplit",
             "sklearn.model_selection:StratifiedKFold")
WEIGHTS = ("sklearn.utils.class_weight:compute_class_weight", "sklearn.utils.class_weight:compute_sample_weight",
           "sklearn.utils:compute_class_weight", "sklearn.utils:compute_sample_weight")


def labels(rng):
    """Imbalanced labels of the seven classes (every class present), a fraction and a seed."""
    import numpy as np

    counts = rng.integers(5, 200, 7)
    y = rng.permutation(np.repeat(np.arange(7), counts))
    return {"y": y, "h_y": y, "h_fraction": round(float(rng.uniform(0.1, 0.3)), 3), "h_seed": int(rng.integers(100))}


PROBES = [
    # a split is random: judged by what every honest split shares (a partition; each class's share within one)
    Probe("q1", cells=("q1-answer",), inputs="labels", setup=SETUP, tol=1,
          call="(lambda tr, va: ('a partition' if sorted(np.concatenate([np.asarray(tr, int), np.asarray(va, int)])"
               ".tolist()) == list(range(len(h_y))) else 'not a partition', "
               "np.bincount(h_y[np.asarray(va, int)], minlength=7)))(*stratified_split(h_y, h_fraction, seed=h_seed))",
          forbid=SPLITTERS, avoid=("train_test_split", "StratifiedShuffleSplit", "StratifiedKFold")),
    Probe("q3", cells=("q3-answer",), inputs="labels", setup=SETUP + "train_idx = slice(None)\n", tol=1e-6,
          call="[float(balanced_weights(h_y)[c]) for c in range(7)]", forbid=WEIGHTS,
          avoid=("compute_class_weight", "compute_sample_weight")),
]
