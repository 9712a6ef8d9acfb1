"""INSTRUCTOR ONLY: answer sets used by the demo submissions and the tests (issue 16).

``python3 course.py release OUT`` leaves this file out of the student edition, with every
``solution.ipynb``; whatever imports it must cope with its absence (the tests then skip with a
reason).  The reference answers themselves are not copied here: they are read from each
``solution.ipynb`` (``course_utils.tools.authoring.solution_answers``).
"""

# ---------------------------------------------------------------------------- hw0_face_detection

#: Other honest answers, written differently (plain Python; a loop over kept boxes; least squares).
HW0_HONEST = {
    "q1-answer": "img = cu.load_sample(SAMPLE)\nfaces = cu.detect_faces(img)\nn_faces = sum(1 for f in faces)\n"
                 "counts = [len(found) for found in cu.detect_faces([photos[n] for n in PHOTOS])]",
    "q2-answer": "def iou(a, b):\n"
                 "    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])\n"
                 "    inter = max(x2 - x1, 0) * max(y2 - y1, 0)\n"
                 "    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])\n"
                 "    return inter / (area(a) + area(b) - inter)",
    "q3-answer": "big = max(faces, key=lambda f: f.width * f.height)",
    "q4-answer": "def nms(boxes, scores, iou_threshold):\n"
                 "    keep = []\n"
                 "    for i in sorted(range(len(scores)), key=lambda i: -scores[i]):\n"
                 "        if all(iou(boxes[i], boxes[k]) <= iou_threshold for k in keep):\n"
                 "            keep.append(i)\n"
                 "    return keep",
    "q5-answer": "def similarity(src, dst):\n"
                 "    rows = []\n"
                 "    for x, y in src:\n"
                 "        rows += [[x, -y, 1, 0], [y, x, 0, 1]]\n"
                 "    a, b, tx, ty = np.linalg.lstsq(np.array(rows), np.asarray(dst).reshape(-1), rcond=None)[0]\n"
                 "    return np.array([[a, -b, tx], [b, a, ty]])",
}
#: NumPy all the way: broadcasting, a matrix of overlaps, complex numbers for the 2-D similarity.
HW0_HONEST_NUMPY = {
    "q1-answer": "import numpy as np\nimg = cu.load_sample(SAMPLE)\nfaces = cu.detect_faces(img)\n"
                 "n_faces = np.int64(len(faces))\ncounts = np.array([len(cu.detect_faces(p)) for p in photos.values()])\n"
                 "print('found', n_faces, 'faces')",
    "q2-answer": "def iou(a, b):\n"
                 "    a, b = np.asarray(a, float), np.asarray(b, float)\n"
                 "    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))\n"
                 "    return float(inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter))",
    "q3-answer": "big = sorted(faces, key=lambda f: f.area)[-1]",
    "q4-answer": "def nms(boxes, scores, iou_threshold):\n"
                 "    b = np.asarray(boxes, float)\n"
                 "    inter = np.clip(np.minimum(b[:, None, 2:], b[None, :, 2:]) - np.maximum(b[:, None, :2], b[None, :, :2]),\n"
                 "                    0, None).prod(-1)\n"
                 "    area = (b[:, 2:] - b[:, :2]).prod(-1)\n"
                 "    over = inter / (area[:, None] + area[None] - inter)\n"
                 "    alive, keep = np.ones(len(b), bool), []\n"
                 "    for i in np.argsort(-np.asarray(scores), kind='stable'):\n"
                 "        if alive[i]:\n"
                 "            keep.append(i)\n"
                 "            alive &= over[i] <= iou_threshold\n"
                 "    return np.array(keep)",
    "q5-answer": "def similarity(src, dst):\n"
                 "    s, d = src[:, 0] + 1j * src[:, 1], dst[:, 0] + 1j * dst[:, 1]\n"
                 "    c = (np.conj(s - s.mean()) * (d - d.mean())).sum() / (np.abs(s - s.mean()) ** 2).sum()\n"
                 "    t = d.mean() - c * s.mean()\n"
                 "    return np.array([[c.real, -c.imag, t.real], [c.imag, c.real, t.imag]])",
}


# ---------------------------------------------------------------------------- hw1_facial_emotion

#: Another honest solution: a stratified split from one shuffled order, weights by counting with list.count,
#: a hand-written Sequential CNN with a flattened head, a plain model.fit with the class weights, a confusion
#: matrix by a Python loop, Keras' own save/load, and the crop made with Pillow.
HW1_HONEST = {
    "q1-answer": "def stratified_split(labels, fraction=0.15, seed=0):\n"
                 "    labels = np.asarray(labels)\n"
                 "    order = np.random.default_rng(seed + 7).permutation(len(labels))\n"
                 "    val = []\n"
                 "    for c in sorted(set(labels.tolist())):\n"
                 "        members = order[labels[order] == c]\n"
                 "        val += members[:int(fraction * len(members) + 0.5)].tolist()\n"
                 "    val = np.array(sorted(val))\n"
                 "    return np.array(sorted(set(range(len(labels))) - set(val.tolist()))), val\n"
                 "train_idx, val_idx = stratified_split(y, 0.15, seed=1)",
    "q2-answer": "from keras import layers\n"
                 "model = keras.Sequential([keras.Input((48, 48, 1))] + [\n"
                 "    layer for f in (8, 16, 32, 64) for layer in (\n"
                 "        layers.Conv2D(f, 3, padding='same', use_bias=False), layers.BatchNormalization(momentum=0.9),\n"
                 "        layers.ReLU(), layers.MaxPooling2D())] + [\n"
                 "    layers.Flatten(), layers.Dropout(0.3), layers.Dense(7, activation='softmax')])\n"
                 "model.compile(keras.optimizers.Adam(2e-3), 'sparse_categorical_crossentropy', metrics=['accuracy'])",
    "q3-answer": "def balanced_weights(labels, num_classes=7):\n"
                 "    labels = [int(v) for v in labels]\n"
                 "    return {c: len(labels) / (num_classes * labels.count(c)) for c in range(num_classes)}\n"
                 "weights = balanced_weights(y[train_idx])",
    "q4-answer": "scale = lambda a: a[..., None].astype('float32') / 255\n"
                 "history = model.fit(scale(x[train_idx]), y[train_idx], validation_data=(scale(x[val_idx]), y[val_idx]),\n"
                 "                    epochs=15, batch_size=32, verbose=0, class_weight=weights,\n"
                 "                    callbacks=[keras.callbacks.EarlyStopping(monitor='val_accuracy', patience=5,\n"
                 "                                                             restore_best_weights=True)])",
    "q5-answer": "def confusion(y_true, y_pred, num_classes=7):\n"
                 "    cm = np.zeros((num_classes, num_classes), dtype=int)\n"
                 "    for t, p in zip(y_true, y_pred):\n"
                 "        cm[t, p] += 1\n"
                 "    return cm\n"
                 "def recall_per_class(cm):\n"
                 "    return [cm[i][i] / sum(cm[i]) for i in range(len(cm))]\n"
                 "pred = model.predict(x_eval[..., None] / 255, verbose=0).argmax(axis=1)\n"
                 "cm = confusion(y_eval, pred)\n"
                 "eval_accuracy = (pred == y_eval).mean()\n"
                 "per_class = {name: r for name, r in zip(emotion.EMOTIONS, recall_per_class(cm))}",
    "q6-answer": "model.save('my_emotion.keras')\nreloaded = keras.models.load_model('my_emotion.keras')",
    "q7-answer": "img = cu.load_sample(PHOTO)\nfaces = cu.detect_faces(img)\n"
                 "from PIL import Image\n"
                 "def face_input(img, box, margin=0.1, size=48):\n"
                 "    x1, y1, x2, y2 = box\n"
                 "    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * (0.5 + margin)\n"
                 "    region = tuple(int(v) for v in (np.floor(cx - r), np.floor(cy - r), np.ceil(cx + r), np.ceil(cy + r)))\n"
                 "    crop = Image.fromarray(img).crop(region)  # black outside the image\n"
                 "    return np.asarray(crop.convert('L').resize((size, size), Image.BOX), np.float32)[..., None] / 255\n"
                 "inputs = np.stack([face_input(img, f.box) for f in faces])\n"
                 "labels = [emotion.EMOTIONS[i] for i in model.predict(inputs, verbose=0).argmax(axis=1)]",
}
#: Honest code whose model is too weak (one epoch): q4 and q5 fail, the rest pass.
HW1_UNDERTRAINED = {"q4-answer": "history = emotion.train(model, (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx]), "
                             "epochs=1, verbose=0)"}
