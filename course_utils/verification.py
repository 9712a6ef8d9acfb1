"""Verification (lesson 06): same person or not, LFW's k-fold protocol, the threshold.

    vecs, fallback = embed_paths(paths, emb)       # one face per image, chips batched
    result = kfold_verification(distances, same, folds)
    result = cu.verify_pairs(pairs, emb)           # a DataFrame of cu.load_lfw_pairs

:func:`verification_accuracy` and :func:`kfold_verification` are the methods the lesson teaches,
written plainly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .detection import Face, central_face, largest_face
from .embedders import Embedder, get_embedder
from .images import load_image


def embed_paths(paths: Iterable[str | Path], embedder: Embedder, fallback_margin: float = 0.0,
                progress: bool = False, flip: bool = False, pick: str = "center",
                batch_size: int = 32) -> tuple[np.ndarray, list[str]]:
    """Embed one face per image, chips batched: the face nearest the image centre (``pick="center"``,
    right for LFW-style crops centred on the labelled person; on LFW folds 4-6 it beats the largest
    face, 0.9883 against 0.9856 for dlib) or the largest (``pick="largest"``).  An image where no
    face is found is embedded from its centre (the usual LFW protocol) and listed.  ``flip``: see
    :meth:`Embedder.embed_faces`.
    """
    if pick not in ("center", "largest"):
        raise ValueError(f"pick must be 'center' or 'largest', got {pick!r}")
    paths = list(paths)
    out = np.zeros((len(paths), embedder.dim), np.float32)
    fallback, pending = [], []
    it = enumerate(paths)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(paths), unit="image")

    def flush():
        out[[i for i, _ in pending]] = embedder.embed_aligned([c for _, c in pending], flip=flip)
        pending.clear()

    for i, p in it:
        img = load_image(p)
        faces = embedder.detect(img)
        face = central_face(faces, img.shape) if pick == "center" else largest_face(faces)
        if face is None:
            h, w = img.shape[:2]
            s = min(h, w) * 0.5
            face = Face((w / 2 - s / 2, h / 2 - s / 2 - fallback_margin, w / 2 + s / 2, h / 2 + s / 2), 0.0)
            fallback.append(str(p))
        pending.append((i, embedder.chips(img, [face])[0]))
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    return out, fallback


@dataclass
class VerificationResult:
    """k-fold verification: accuracy per fold (threshold chosen on the other folds), ROC inputs."""

    fold_accuracy: dict[int, float]
    fold_threshold: dict[int, float]
    distances: np.ndarray
    same: np.ndarray
    folds: np.ndarray

    @property
    def mean_accuracy(self) -> float:
        return float(np.mean(list(self.fold_accuracy.values())))

    @property
    def threshold(self) -> float:
        """The threshold chosen on all pairs (for use after evaluation)."""
        return best_threshold(self.distances, self.same)

    def roc(self):
        """``(false positive rate, true positive rate, thresholds, AUC)`` with "same" as positive."""
        from sklearn.metrics import auc, roc_curve

        fpr, tpr, thr = roc_curve(self.same, -self.distances)
        return fpr, tpr, -thr, float(auc(fpr, tpr))

    def __str__(self) -> str:
        rows = [f"fold {k}: accuracy {v:.4f} (threshold {self.fold_threshold[k]:.3f})" for k, v in self.fold_accuracy.items()]
        return "\n".join(rows + [f"mean accuracy {self.mean_accuracy:.4f} over {len(self.fold_accuracy)} folds"])


def show_roc(result: VerificationResult, ax=None, title: str = ""):
    """One ROC curve per fold of ``result`` ("same" accepted against "different" accepted as the threshold
    moves), each with its area under the curve in the legend.  The false-accept axis is linear up to 0.01
    and logarithmic above (``symlog``), so that the low false-accept rates where face verification is used
    stay visible and 0 is still 0; the true-accept axis starts a little below the lowest true-accept rate
    reached with no false accept.  Returns the Axes."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import auc, roc_curve

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
    lowest = 1.0
    for k, style in zip(sorted(set(result.folds.tolist())), ["-", "--", ":", "-."] * 3):
        fold = result.folds == k
        fpr, tpr, _ = roc_curve(result.same[fold], -result.distances[fold])
        ax.plot(fpr, tpr, ls=style, lw=1.8, drawstyle="steps-post",
                label=f"fold {k}: {fold.sum()} pairs, AUC {auc(fpr, tpr):.3f}")
        lowest = min(lowest, tpr[fpr == 0].max())
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlim(0, 1)
    ax.set_ylim(max(0.0, np.floor(lowest * 20) / 20 - 0.05), 1.005)
    ax.set_xlabel("false accept rate (different people accepted)")
    ax.set_ylabel("true accept rate (same person accepted)")
    ax.legend(fontsize=8.5, loc="lower right")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    return ax


def best_threshold(distances: np.ndarray, same: np.ndarray, candidates: np.ndarray | None = None) -> float:
    """The distance threshold with the best accuracy on these pairs: among ``candidates`` when given (the
    first, in their order, on a tie), else among the midpoints between the sorted distances (and one
    below the smallest, one above the largest)."""
    distances = np.asarray(distances, np.float64)
    if candidates is None:
        d = np.sort(distances)
        candidates = np.concatenate([[d[0] - 1e-6], (d[1:] + d[:-1]) / 2, [d[-1] + 1e-6]])
    candidates = np.asarray(candidates, np.float64)
    if candidates.size == 0:
        raise ValueError("no candidate thresholds")
    same = np.asarray(same, bool)
    acc = [((distances < t) == same).mean() for t in candidates]
    return float(candidates[int(np.argmax(acc))])


def kfold_verification(distances: np.ndarray, same: np.ndarray, folds: np.ndarray,
                       candidates: np.ndarray | None = None) -> VerificationResult:
    """LFW's protocol: for each fold, choose the threshold on the other folds (:func:`best_threshold`, among
    ``candidates`` when given), score on this one."""
    distances, same, folds = np.asarray(distances, np.float64), np.asarray(same, bool), np.asarray(folds)
    acc, thr = {}, {}
    keys = sorted(set(folds.tolist()))
    if len(keys) < 2:
        raise ValueError("k-fold verification needs pairs from at least two folds")
    for k in keys:
        train = folds != k
        t = best_threshold(distances[train], same[train], candidates)
        test = ~train
        acc[int(k)] = float(((distances[test] < t) == same[test]).mean())
        thr[int(k)] = t
    return VerificationResult(acc, thr, distances, same, folds)


def verify_pairs(pairs, embedder: Embedder | str = "dlib", progress: bool = False, flip: bool = False,
                 pick: str = "center") -> VerificationResult:
    """Verification accuracy on LFW-style pairs (a DataFrame of :func:`course_utils.load_lfw_pairs`
    with ``img_a``, ``img_b``, ``same``, ``fold``, resolved to files): each image embedded once
    (:func:`embed_paths`: ``flip`` and ``pick`` are its options)."""
    emb = get_embedder(embedder) if isinstance(embedder, str) else embedder
    unique = sorted(set(pairs["img_a"]) | set(pairs["img_b"]))
    vecs, _ = embed_paths(unique, emb, progress=progress, flip=flip, pick=pick)
    row = {p: i for i, p in enumerate(unique)}
    a = vecs[[row[p] for p in pairs["img_a"]]]
    b = vecs[[row[p] for p in pairs["img_b"]]]
    return kfold_verification(emb.distance(a, b), pairs["same"].to_numpy(bool), pairs["fold"].to_numpy())


def verification_accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """The share of pairs decided right at ``threshold``: "same person" when the distance is below it."""
    distances, same = np.asarray(distances, np.float64), np.asarray(same, bool)
    if distances.shape != same.shape:
        raise ValueError(f"{distances.shape[0] if distances.ndim else 1} distances for "
                         f"{same.shape[0] if same.ndim else 1} same/different labels")
    return float(((distances < threshold) == same).mean())
