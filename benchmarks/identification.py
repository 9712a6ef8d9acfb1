"""Face identification against the course targets.

    .venv/bin/python benchmarks/identification.py [--data ../shared/data/lfw_dev] [--skip-lfw]
                                                  [--results benchmarks/identification_results.json]

1. LFW verification on folds 4-6 of pairs.txt in ../shared/data/lfw_dev (or $COURSE_SHARED_DATA/lfw_dev),
   for each backend available here (dlib always; facenet when its weights are on the machine):
   accuracy per fold (threshold chosen on the other folds, LFW's protocol) and mean.  Target: dlib >= 0.99.
   One face per image, the one nearest the centre; each face averaged with its mirror image unless
   ``--no-flip``.  Each backend gets its own crop (course_utils/embedders.py): dlib's aligned chip, FaceNet's
   MTCNN box as facenet-pytorch crops it, at margin 0 and at each ``--facenet-margin`` given (14 is the margin
   of facenet-pytorch's LFW example).  With ``--results`` (the default file; ``''`` writes nothing) the dlib
   backend also runs the face choices lesson 06 section 8 compares (the largest face; the face nearest the
   centre, once and averaged with its mirror image), and the per-fold figures are written with the date and
   the machine to that JSON file, which the lesson prints.
2. Embedding speed: faces per second for align + embed (detection excluded), batches of 16 faces, and
   for the whole pipeline detect + align + embed on 250x250 LFW images.  Target: >= 20 faces/s.  The dlib
   backend is timed twice: its default engine (dlib's network run by PyTorch) and dlib's own.
3. 1:N search: ms per query over 10,000 and 100,000 stored embeddings.  Target: < 20 ms at 10,000 (ten times the
   largest gallery a lesson or homework builds).  ``Gallery.search`` computes exact float64 distances from the
   differences (issue 31: plain and exact, no float32 pre-filter, no cache), which grows linearly with the gallery:
   at 100,000 it is printed for information; an index (faiss, annoy) is the tool at that scale.
4. Efficient models: parameters, MMACs and CPU latency (see course_utils.efficient).
5. The committed real sample (lesson 06's figures, no shared data needed): 12 LFW people with 2 photos enrolled
   and 3 held back, 8 single-photo strangers; identification at each backend's threshold and at a few others,
   and the sample's 3-fold verification protocol.  ``--sample-only`` runs just this part.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import course_utils as cu  # noqa: E402
from course_utils import config, embedders  # noqa: E402
from course_utils import identification as ident  # noqa: E402


RESULTS = Path(__file__).resolve().parent / "identification_results.json"
#: The dlib runs whose figures lesson 06 prints: (name, ``pick``, ``flip``) of ``verify_pairs``.
FACE_CHOICES = (("largest face", "largest", False), ("face nearest the centre", "center", False),
                ("nearest the centre, averaged with its mirror image (flip=True)", "center", True))


def lfw_results(pairs, folds: list[int], results: Path, jitters: list[int] = (), thresholds: list | None = None) -> None:
    """dlib on ``pairs`` for each of :data:`FACE_CHOICES` and each count of ``jitters`` (the face nearest the
    centre, its descriptor averaged over that many ``dlib.jitter_image`` copies, as dlib's
    ``compute_face_descriptor(img, shape, N)``); writes the per-fold accuracies to ``results``, with the
    thresholds measured for other backends (``thresholds``: what ``embedders.measured_threshold`` reads)."""
    import datetime
    import json

    import dlib
    from detection import machine  # benchmarks/detection.py, beside this script

    at_start = machine()
    runs = []
    choices = [(name, pick, flip, "dlib") for name, pick, flip in FACE_CHOICES]
    choices += [(f"nearest the centre, {n} jitters (dlib.jitter_image, dlib's LFW protocol)", "center", False,
                 embedders.DlibEmbedder(jitters=n)) for n in jitters]
    for name, pick, flip, emb in choices:
        t = time.perf_counter()
        result = cu.verify_pairs(pairs, emb, progress=False, flip=flip, pick=pick)
        print(f"[dlib, {name}] {result} ({time.perf_counter() - t:.0f} s)", flush=True)
        runs.append({"embedding": name, "pick": pick, "flip": flip,
                     "jitters": getattr(emb, "jitters", 0),
                     "fold_accuracy": {str(k): round(v, 4) for k, v in sorted(result.fold_accuracy.items())},
                     "mean_accuracy": round(result.mean_accuracy, 4)})
    out = {"written_by": "benchmarks/identification.py", "date": datetime.date.today().isoformat(),
           "machine": at_start, "backend": "dlib", "dlib": dlib.__version__,
           "pairs": len(pairs), "folds": folds, "runs": runs}
    old = json.loads(results.read_text(encoding="utf-8")) if results.exists() else {}
    out["thresholds"] = thresholds if thresholds else old.get("thresholds", [])
    results.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {results}")


def lfw(data: Path, backends: list[str], flip: bool = False, facenet_margins: list[float] = (),
        results: Path | None = None, jitters: list[int] = ()) -> None:
    index = cu.load_lfw(data)
    pairs = cu.load_lfw_pairs(data / "pairs.txt", index, folds=[4, 5, 6])
    print(f"LFW pairs: {len(pairs)} (folds {sorted(set(pairs.fold))}), "
          f"{len(set(pairs.img_a) | set(pairs.img_b))} images")
    runs = [(b, cu.get_embedder(b)) for b in backends]
    thresholds = []
    if "facenet" in backends:
        runs += [(f"facenet, margin {m:g}", embedders.FacenetEmbedder(margin=m)) for m in facenet_margins if m != 0]
    for backend, emb in runs:
        t = time.perf_counter()
        result = cu.verify_pairs(pairs, emb, progress=False, flip=flip)
        took = time.perf_counter() - t
        backend = backend + (" + flip" if flip else "")
        print(f"\n[{backend}] {result}")
        print(f"[{backend}] threshold on all pairs {result.threshold:.3f} (backend default {emb.threshold}); "
              f"AUC {result.roc()[3]:.4f}; {took:.0f} s for the images")
        target = " (target >= 0.99: " + ("met)" if result.mean_accuracy >= 0.99 else "NOT MET)") if backend.startswith("dlib") else ""
        print(f"[{backend}] mean accuracy {result.mean_accuracy:.4f}{target}")
        if emb.name == "facenet" and not flip:  # the embedder embeds each face once: --no-flip measures its threshold
            import datetime
            thresholds.append({"backend": "facenet", "pretrained": emb.pretrained, "margin": emb.margin,
                               "threshold": round(float(result.threshold), 3), "pairs": len(pairs),
                               "folds": "4-6", "flip": flip, "mean_accuracy": round(result.mean_accuracy, 4),
                               "date": datetime.date.today().isoformat()})
    if results and "dlib" in backends:
        lfw_results(pairs, [4, 5, 6], results, jitters=jitters, thresholds=thresholds)


def speed(backends: list[str], data: Path | None) -> None:
    img = cu.load_sample("astronaut")
    faces = cu.detect_faces(img)
    paths = sorted((data / "lfw").glob("*/*.jpg"))[:48] if data else []
    embedders = [(b, cu.get_embedder(b)) for b in backends]
    embedders.insert(1, ("dlib, dlib's own engine", embedders.DlibEmbedder("dlib")))
    for backend, emb in embedders:
        if backend == "dlib":
            backend = f"dlib, {emb.engine} engine"
        chips = emb.chips(img, faces * 16)
        emb.embed_chips(chips)
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            emb.embed_faces(img, faces * 16)
            runs.append(16 / (time.perf_counter() - t))
        line = f"[{backend}] align + embed: {statistics.median(runs):.1f} faces/s (batches of 16, detection excluded)"
        if backend.endswith("torch engine"):
            flipped = []
            for _ in range(5):
                t = time.perf_counter()
                emb.embed_faces(img, faces * 16, flip=True)
                flipped.append(16 / (time.perf_counter() - t))
            line += f"; with flip: {statistics.median(flipped):.1f} faces/s"
        if paths:
            t = time.perf_counter()
            for p in paths:
                emb.embed_image(p)
            line += f"; detect + align + embed on LFW images: {len(paths) / (time.perf_counter() - t):.1f} faces/s"
        print(line + " (target >= 20)")
    if "facenet" not in backends:  # speed does not depend on the weights: time the architecture
        import torch
        from facenet_pytorch import InceptionResnetV1

        net = InceptionResnetV1(pretrained=None).eval()
        x = torch.randn(16, 3, 160, 160)
        with torch.inference_mode():
            net(x)
            runs = []
            for _ in range(3):
                t = time.perf_counter()
                net(x)
                runs.append(16 / (time.perf_counter() - t))
        print(f"[facenet architecture, random weights] embed: {statistics.median(runs):.1f} faces/s "
              f"(batches of 16; torch threads {torch.get_num_threads()}) (target >= 20)")


def search() -> None:
    rng = np.random.default_rng(0)
    for n in (10_000, 100_000):
        vecs = rng.normal(size=(n, 128)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        gallery = cu.Gallery([f"p{i}" for i in range(n)], vecs, "dlib")
        queries = vecs[rng.integers(0, n, 50)] + rng.normal(scale=0.01, size=(50, 128)).astype(np.float32)
        gallery.search(queries[:1], 0.6)
        times = []
        for q in queries:
            t = time.perf_counter()
            (name, _, _), = gallery.search(q[None], 0.6)
            times.append((time.perf_counter() - t) * 1000)
        print(f"1:N search over {n:,} embeddings: {statistics.median(times):.2f} ms per query (median of 50; "
              + ("target < 20 ms)" if n == 10_000 else "for information: exact search is linear in the gallery)"))


def sample(backends: list[str]) -> None:
    people = ident.load_people_sample(2)
    print(f"real sample: {people}")
    for backend in backends:
        emb = cu.get_embedder(backend)
        t = time.perf_counter()
        vecs, fallback = ident.embed_paths([p for _, p in people.all], emb)
        took = time.perf_counter() - t
        n_enrol, n_known = len(people.enrol), len(people.enrol) + len(people.held_back)
        gallery = cu.Gallery([n for n, _ in people.enrol], vecs[:n_enrol], emb.name)
        held_names = [n for n, _ in people.held_back]
        print(f"[{backend}] {len(vecs)} photos embedded in {took:.1f} s (no face found: {len(fallback)})")
        for f in (0.75, 0.9, 1.0, 1.1, 1.25):
            mark = "  <- the backend's threshold" if f == 1.0 else ""
            print(f"[{backend}] {ident.score_identification(gallery, vecs[n_enrol:n_known], held_names, vecs[n_known:], round(f * emb.threshold, 3))}{mark}")
        labels = [n for n, _ in people.all][:n_known]
        pairs, same, fold = ident.sample_protocol(labels)
        result = ident.kfold_verification(emb.distance(vecs[pairs[:, 0]], vecs[pairs[:, 1]]), same, fold)
        print(f"[{backend}] sample protocol ({len(pairs)} pairs, 3 identity-disjoint folds): "
              + "; ".join(f"fold {k} {a:.3f} at {result.fold_threshold[k]:.3f}" for k, a in result.fold_accuracy.items())
              + f"; mean {result.mean_accuracy:.3f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--skip-lfw", action="store_true")
    p.add_argument("--skip-models", action="store_true")
    p.add_argument("--sample-only", action="store_true", help="only the committed real sample (part 5)")
    p.add_argument("--no-flip", dest="flip", action="store_false",
                   help="embed each face once (default: average each face with its mirror image, twice the time)")
    p.add_argument("--facenet-margin", type=float, action="append", default=[], metavar="PIXELS",
                   help="also run FaceNet on LFW with this crop margin (pixels of the 160-px crop; 0 always runs)")
    p.add_argument("--dlib-jitters", type=int, action="append", default=[], metavar="N",
                   help="also run dlib with N jittered copies per face (dlib's LFW protocol: 10 or 100; N times slower)")
    p.add_argument("--results", default=str(RESULTS),
                   help="where to write the dlib per-fold LFW figures as JSON ('' writes nothing)")
    args = p.parse_args()
    data = args.data or config.shared_data_dir() / "lfw_dev"
    cu.setup(verbose=False)
    backends = embedders.available_backends()
    print(f"backends available here: {', '.join(backends)}")
    if "facenet" not in backends:
        print("  (facenet: no InceptionResnetV1 weights on this machine; see lesson 06 for where to put them)")
    sample(backends)
    if args.sample_only:
        return 0
    print()
    have_data = data.is_dir()
    if not args.skip_lfw:
        if have_data:
            lfw(data, backends, flip=args.flip, facenet_margins=args.facenet_margin,
                results=Path(args.results) if args.results else None, jitters=args.dlib_jitters)
        else:
            print(f"SKIP LFW: no LFW development copy at {data} (it is not part of a clone: pass --data or set "
                  "COURSE_SHARED_DATA to the folder that holds lfw_dev)")
    print()
    speed(backends, data if have_data else None)
    search()
    if not args.skip_models:
        from course_utils import efficient

        print()
        print(efficient.format_table(efficient.model_table()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
