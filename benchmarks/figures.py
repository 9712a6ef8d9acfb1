"""What the classifier benchmarks print alike: their figures against the targets, and what ran.

    from figures import print_figures          # benchmarks/ is on sys.path when one runs
    print_figures([("test accuracy", "0.700", ">= 0.68", True)], clf)
"""
from __future__ import annotations


def print_figures(rows, clf=None) -> None:
    """A table of ``(figure, value, target, met)`` rows; with ``clf`` (a FaceClassifier), the
    engine its single faces and small batches ran on."""
    print(f"\n{'figure':28s} {'value':>8s}  target")
    for name, value, target, ok in rows:
        print(f"{name:28s} {value:>8s}  {target:8s} {'ok' if ok else 'NOT MET'}")
    if clf is not None:
        from course_utils import runtime

        print(f"single faces and batches up to {runtime.LITERT_MAX_BATCH} ran on: {clf.runtime}")
