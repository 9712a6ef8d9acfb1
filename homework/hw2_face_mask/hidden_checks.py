"""HW2's hidden checks (instructor only: never in a student release; see course_utils/tools/hidden.py).

Question 2 is a function of groups: it runs again on other groups, made from the grading's secret seed.  The
other questions are judged on the student's own outline and model (visible checks only).
"""
from course_utils.tools.hidden import Probe

PRELOAD = ["course_utils", "sklearn.model_selection"]
SETUP = "import numpy as np\nimport course_utils as cu\n"
SPLITTERS = ("sklearn.model_selection:GroupShuffleSplit", "sklearn.model_selection:GroupKFold",
             "sklearn.model_selection:train_test_split")


def groups(rng):
    """People with one to six rows each, in no order, a fraction and a seed."""
    import numpy as np

    g = rng.permutation(np.repeat([f"p{i}" for i in range(40)], rng.integers(1, 7, 40)))
    return {"groups": g, "h_groups": g, "h_fraction": round(float(rng.uniform(0.15, 0.35)), 3),
            "h_seed": int(rng.integers(100))}


PROBES = [
    # a split is random: judged by what every honest split shares (a partition, no group on both sides, the
    # number of validation groups within one)
    Probe("q2", cells=("q2-answer",), inputs="groups", setup=SETUP, tol=1,
          call="(lambda tr, va: ('sound' if sorted(np.asarray(tr, int).tolist() + np.asarray(va, int).tolist()) == "
               "list(range(len(h_groups))) and not set(h_groups[np.asarray(tr, int)]) & "
               "set(h_groups[np.asarray(va, int)]) else 'rows lost, repeated or a group on both sides', "
               "len(set(h_groups[np.asarray(va, int)]))))(*split_by_group(h_groups, h_fraction, seed=h_seed))",
          forbid=SPLITTERS, avoid=("GroupShuffleSplit", "GroupKFold", "train_test_split")),
]
