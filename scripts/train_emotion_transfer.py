"""Emotion recognition by transfer from dlib's face-recognition ResNet (issue 32; a long CPU job).

    nohup nice -n 19 .venv/bin/python scripts/train_emotion_transfer.py --budget-min 300 \
        > models/emotion_transfer/train.log 2>&1 &

The network that the course already runs in PyTorch (course_utils/dlib_resnet.py, trained by dlib on
about 3 million faces to tell people apart) is the body; its 128-D identity layer is replaced by a
7-way emotion head on the 256 channels of the last block. FER2013's 48x48 grey faces are scaled to
``--size`` pixels (120 is the smallest input the network's unpadded stride-2 convolutions accept)
and copied into the three colour channels.

Phases, each resumable (the checkpoint holds the phase, the epoch, the optimiser and the best
validation accuracy):

1. ``head``: body frozen, head only (a few epochs: tells what frozen identity features carry);
2. ``tune``: the residual blocks from ``--unfreeze-from`` upwards trained with the head, a lower rate for
   the body, cosine decay over ``--epochs``.

Augmentation: mirror, shifts and scale of up to 10 %, rotation up to 10 degrees, brightness and contrast.
Loss: cross-entropy with square-root inverse-frequency class weights (emotion.class_weights) and label
smoothing 0.1. Validation: the same stratified 10 % of train as scripts/train_emotion.py (seed 0), with
disgust; test (../shared/data/fer2013/test) is read once per phase end, mirror-averaged, for the log.

Stops cleanly after ``--budget-min`` minutes of wall-clock time (the current epoch finishes first);
``--resume`` goes on from ``<out>/checkpoint.pt``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from course_utils import config  # noqa: E402
from course_utils.datasets.fer2013 import FER2013_LABELS  # noqa: E402


def load_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 48, 48) faces and int labels (FER2013 codes) of ``root/split/<label>/*.png``."""
    from PIL import Image
    xs, ys = [], []
    for code, label in enumerate(FER2013_LABELS):
        for f in sorted((root / split / label).glob("*.png")):
            with Image.open(f) as im:
                xs.append(np.asarray(im.convert("L").resize((48, 48)), dtype=np.uint8))
            ys.append(code)
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def dlib_weights_path() -> Path:
    from course_utils.landmarks import model_path
    return Path(model_path("resnet"))


class EmotionNet(nn.Module):
    """dlib's ResNet body (stem + 14 residual blocks) and a dropout + linear 7-way head."""

    def __init__(self, body, num_classes: int = 7, dropout: float = 0.3):
        super().__init__()
        self.body = body
        self.body.fc = nn.Identity()
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(256, num_classes)

    def features(self, x):
        b = self.body
        x = (x - b.mean) / 256.0
        x = F.max_pool2d(F.relu(b.stem_aff(b.stem(x))), 3, 2)
        return b.blocks(x).mean(dim=(2, 3))

    def forward(self, x):
        return self.head(self.drop(self.features(x)))


def to_input(faces: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, 48, 48) -> float (N, 3, size, size) in 0-255."""
    x = faces.float().unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).contiguous()


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random mirror, affine (shift/scale 10 %, rotation 10 degrees), brightness and contrast."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(10)
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * 0.1
    tx, ty = ((torch.rand(2, n, generator=gen) * 2 - 1) * 0.1)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 0.2
    bright = (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * 20
    return ((x - mean) * contrast + mean + bright).clamp(0, 255)


@torch.no_grad()
def predict(model: nn.Module, faces: np.ndarray, size: int, flip: bool = True, batch: int = 128) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(faces), batch):
        x = to_input(torch.from_numpy(faces[i:i + batch]), size)
        p = F.softmax(model(x), 1)
        if flip:
            p = (p + F.softmax(model(x.flip(3)), 1)) / 2
        out.append(p.numpy())
    return np.concatenate(out)


def recalls(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {FER2013_LABELS[c]: round(float((pred[y == c] == c).mean()), 4) for c in range(7) if (y == c).any()}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "models" / "emotion_transfer")
    p.add_argument("--size", type=int, default=120)
    p.add_argument("--head-epochs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=12, help="epochs of the fine-tuning phase")
    p.add_argument("--unfreeze-from", type=int, default=3, help="first residual block trained (0-13)")
    p.add_argument("--lr", type=float, default=3e-3, help="head rate; the body gets a tenth")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget-min", type=float, default=300.0)
    p.add_argument("--limit", type=int, default=None,
                   help="only this many fit, validation and test faces (a smoke run of the whole script)")
    p.add_argument("--export-keras", type=Path, default=None, metavar="FILE.keras",
                   help="write <out>/best.pt as the course's Keras model (course_utils.emotion_resnet, 48x48 grey "
                        "input, mirror-averaged) with its side-car, then stop")
    p.add_argument("--resume", action="store_true")
    return p.parse_args(argv)


def optimiser(model: EmotionNet, phase: str, args) -> torch.optim.Optimizer:
    """SGD over the head, and in the ``tune`` phase the residual blocks from ``--unfreeze-from`` up (a tenth
    of the head's rate); everything else frozen."""
    for prm in model.body.parameters():
        prm.requires_grad = False
    if phase == "tune":
        for blk in list(model.body.blocks)[args.unfreeze_from:]:
            for prm in blk.parameters():
                prm.requires_grad = True
    body_params = [q for q in model.body.parameters() if q.requires_grad]
    groups = [{"params": model.head.parameters(), "lr": args.lr}]
    if body_params:
        groups.append({"params": body_params, "lr": args.lr / 10})
    return torch.optim.SGD(groups, momentum=0.9, nesterov=True, weight_decay=5e-4)


def train_epoch(model, opt, xf, yf, weight, gen, args, phase: str, epoch: int, total: int) -> dict:
    """One pass over the fit faces (augmented); the learning rate follows a cosine over the tune phase."""
    t0 = time.time()
    base = [args.lr] + [args.lr / 10] * (len(opt.param_groups) - 1)  # head, body: not the resumed (decayed) rates
    steps = math.ceil(len(xf) / args.batch_size)
    model.train()
    order = torch.randperm(len(xf), generator=gen)
    seen, loss_sum, correct = 0, 0.0, 0
    for s in range(steps):
        frac = (epoch + s / steps) / total
        for g, b in zip(opt.param_groups, base):
            g["lr"] = b * 0.5 * (1 + math.cos(math.pi * frac)) if phase == "tune" else b
        idx = order[s * args.batch_size:(s + 1) * args.batch_size]
        logits = model(augment(to_input(xf[idx], args.size), gen))
        loss = F.cross_entropy(logits, yf[idx], weight=weight, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(idx)
        loss_sum += loss.item() * len(idx)
        correct += int((logits.argmax(1) == yf[idx]).sum())
        if s % 100 == 0:
            print(f"  {phase} epoch {epoch + 1} step {s}/{steps} loss {loss_sum / seen:.4f} "
                  f"acc {correct / seen:.4f} {time.time() - t0:.0f}s", flush=True)
    return {"phase": phase, "epoch": epoch + 1, "loss": round(loss_sum / seen, 4),
            "train_acc": round(correct / seen, 4), "minutes": round((time.time() - t0) / 60, 1)}


def load_data(data: Path, limit: int | None):
    """Train and test faces, the fit/validation split of scripts/train_emotion.py (seed 0), and the class
    weights; ``limit`` keeps that many faces of each split, spread over the classes (a smoke run)."""
    from course_utils import emotion
    x, y = load_split(data, "train")
    x_test, y_test = load_split(data, "test")
    tr, va = emotion.split_validation(y, 0.1, seed=0)
    if limit:
        spread = lambda idx: idx[::max(1, len(idx) // limit)][:limit]  # noqa: E731 -- every class
        tr, va = spread(tr), spread(va)
        keep = spread(np.arange(len(x_test)))
        x_test, y_test = x_test[keep], y_test[keep]
    cw = emotion.class_weights(y[tr])
    weight = torch.tensor([cw.get(c, 1.0) for c in range(7)], dtype=torch.float32)
    return x, y, x_test, y_test, tr, va, weight


def restore(model: nn.Module, ckpt_path: Path) -> tuple[dict, dict]:
    """The checkpoint's weights into ``model``; its training state and optimiser state."""
    ck = torch.load(ckpt_path, weights_only=False)
    model.load_state_dict(ck["model"])
    state = ck["state"]
    print(f"resumed: phase {state['phase']}, epoch {state['epoch']}, best validation {state['best']:.4f}",
          flush=True)
    return state, ck["optimizer"]


def export_keras(best: Path, path: Path, size: int) -> Path:
    """The PyTorch weights of ``best`` (an EmotionNet state) as :func:`course_utils.emotion_resnet.build_model`'s
    Keras network, saved by :func:`course_utils.model_files.save_model` with the builder in its side-car
    (read by :mod:`course_utils.keras_compat` on other Keras versions)."""
    import course_utils as cu
    from course_utils import emotion_resnet, model_files

    cu.setup(verbose=False)
    state = {k: v.numpy() for k, v in torch.load(best, map_location="cpu").items()}
    conv_names = ["body.stem"] + [f"body.blocks.{j}.conv{k}" for j in range(len(emotion_resnet.BLOCKS)) for k in (1, 2)]
    aff_names = ["body.stem_aff"] + [f"body.blocks.{j}.aff{k}" for j in range(len(emotion_resnet.BLOCKS)) for k in (1, 2)]
    model = emotion_resnet.build_model(size=size)
    emotion_resnet.set_weights(model, [(state[f"{n}.weight"], state[f"{n}.bias"]) for n in conv_names],
                               [(state[f"{n}.gamma"].ravel(), state[f"{n}.beta"].ravel()) for n in aff_names],
                               state["body.mean"].ravel(), state["head.weight"], state["head.bias"])
    return model_files.save_model(model, path, FER2013_LABELS, architecture={
        "builder": "course_utils.emotion_resnet:build_model", "kwargs": {"size": size}})


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.export_keras:
        print(f"wrote {export_keras(args.out / 'best.pt', args.export_keras, args.size)}")
        return 0
    data = args.data or config.shared_data_dir() / "fer2013"
    if not data.is_dir():
        print(f"FER2013 folders not found at {data}: pass --data or set COURSE_SHARED_DATA. Nothing trained.")
        return 0
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t_start = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    from course_utils import dlib_resnet
    x, y, x_test, y_test, tr, va, weight = load_data(data, args.limit)
    print(f"{len(tr)} fit, {len(va)} validation, {len(x_test)} test faces; class weights "
          f"{[round(float(w), 2) for w in weight]}", flush=True)
    model = EmotionNet(dlib_resnet.build_network(dlib_resnet.read_weights(dlib_weights_path())))
    ckpt_path = args.out / "checkpoint.pt"
    state, opt_state = restore(model, ckpt_path) if args.resume and ckpt_path.exists() else (
        {"phase": "head", "epoch": 0, "best": 0.0, "log": []}, None)
    gen = torch.Generator().manual_seed(1000 + len(state["log"]))
    xf, yf = torch.from_numpy(x[tr]), torch.from_numpy(y[tr])
    while True:
        phase = state["phase"]
        total = args.head_epochs if phase == "head" else args.epochs
        if state["epoch"] >= total:
            if phase == "tune":
                break
            if phase == "head":  # the head phase's end: what frozen identity features carry, on test
                pt = predict(model, x_test, args.size).argmax(1)
                print(f"after the head phase: test accuracy {float((pt == y_test).mean()):.4f} "
                      f"{recalls(y_test, pt)}", flush=True)
            state.update(phase="tune", epoch=0)
            opt_state = None
            continue
        opt = optimiser(model, phase, args)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        while state["epoch"] < total:
            row = train_epoch(model, opt, xf, yf, weight, gen, args, phase, state["epoch"], total)
            pv = predict(model, x[va], args.size).argmax(1)
            val = float((pv == y[va]).mean())
            row.update(val_acc=round(val, 4), val_recall=recalls(y[va], pv))
            state["log"].append(row)
            state["epoch"] += 1
            print(json.dumps(row), flush=True)
            if val > state["best"]:
                state["best"] = val
                torch.save(model.state_dict(), args.out / "best.pt")
            opt_state = opt.state_dict()
            torch.save({"model": model.state_dict(), "optimizer": opt_state, "state": state}, ckpt_path)
            if (time.time() - t_start) / 60 > args.budget_min:
                print(f"budget of {args.budget_min} min spent: stopping after {phase} epoch {state['epoch']} "
                      "(--resume goes on)", flush=True)
                return 0
    return write_result(model, args, x_test, y_test, state)


def write_result(model, args, x_test, y_test, state) -> int:
    """The best epoch's model on the test faces (mirror-averaged), with the log, into ``<out>/result.json``."""
    model.load_state_dict(torch.load(args.out / "best.pt"))
    pt = predict(model, x_test, args.size).argmax(1)
    result = {"test_acc": round(float((pt == y_test).mean()), 4), "test_recall": recalls(y_test, pt),
              "best_val": state["best"], "log": state["log"]}
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "log"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
