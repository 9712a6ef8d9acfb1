"""INSTRUCTOR ONLY: answer sets used by the demo submissions and the tests (issue 16).

``python3 course.py release OUT`` leaves this file out of the student edition, with every
``solution.ipynb``; whatever imports it must cope with its absence (the tests then skip with a
reason).  The reference answers themselves are not copied here: they are read from each
``solution.ipynb`` (``course_utils.homework.solution_answers``).
"""

# ---------------------------------------------------------------------------- hw0_face_detection

#: Other honest answers, written differently.
HW0_HONEST = {
    "q1-answer": "img = cu.load_sample(SAMPLE)\nfaces = cu.detect_faces(img)\nn_faces = sum(1 for f in faces)",
    "q2-answer": "empty = cu.load_sample(EMPTY_SAMPLE)\nfound = cu.detect_faces(empty)\nn_empty = len(found)",
    "q3-answer": "big = max(faces, key=lambda f: f.width * f.height)",
    "q4-answer": "crop = cu.crop_face(img, big.box, size=(160, 160))",
    "q5-answer": "aligned = cu.align_face(img, big.keypoints_array())",
}
HW0_HONEST_NUMPY = {
    "q1-answer": "import numpy as np\nimg = cu.load_sample(SAMPLE)\nfaces = cu.detect_faces(img)\n"
                 "n_faces = np.int64(len(faces))\nprint('found', n_faces, 'faces')",
    "q2-answer": "n_empty = np.array(cu.detect_faces(cu.load_sample(EMPTY_SAMPLE))).size",
    "q3-answer": "big = sorted(faces, key=lambda f: f.area)[-1]",
    "q4-answer": "crop = cu.crop_face(img, big, margin=0.25, size=160)",
    "q5-answer": "aligned = cu.align_face(img, big, template='facenet', size=160)",
}


# ---------------------------------------------------------------------------- hw1_facial_emotion

#: Another honest solution: scikit-learn's split, a hand-written Sequential CNN, inverse-frequency
#: weights, a plain model.fit, predictions computed by hand, Keras' own save/load.
HW1_HONEST = {
    "q1-answer": "from sklearn.model_selection import train_test_split\n"
                 "train_idx, val_idx = train_test_split(np.arange(len(y)), test_size=0.15, stratify=y, random_state=1)",
    "q2-answer": "from keras import layers\n"
                 "model = keras.Sequential([keras.Input((48, 48, 1))] + [\n"
                 "    layer for f in (8, 16, 32, 64) for layer in (\n"
                 "        layers.Conv2D(f, 3, padding='same', use_bias=False), layers.BatchNormalization(momentum=0.9),\n"
                 "        layers.ReLU(), layers.MaxPooling2D())] + [\n"
                 "    layers.Flatten(), layers.Dropout(0.3), layers.Dense(7, activation='softmax')])\n"
                 "model.compile(keras.optimizers.Adam(2e-3), 'sparse_categorical_crossentropy', metrics=['accuracy'])",
    "q3-answer": "counts = np.bincount(y_fer, minlength=7)\n"
                 "weights = {c: len(y_fer) / (7 * counts[c]) for c in range(7)}",
    "q4-answer": "scale = lambda a: a[..., None].astype('float32') / 255\n"
                 "history = model.fit(scale(x[train_idx]), y[train_idx], validation_data=(scale(x[val_idx]), y[val_idx]),\n"
                 "                    epochs=15, batch_size=32, verbose=0, callbacks=[keras.callbacks.EarlyStopping(\n"
                 "                        monitor='val_accuracy', patience=5, restore_best_weights=True)])",
    "q5-answer": "pred = model.predict(x_eval[..., None] / 255, verbose=0).argmax(axis=1)\n"
                 "eval_accuracy = (pred == y_eval).mean()\n"
                 "per_class = {name: (pred[y_eval == i] == i).mean() for i, name in enumerate(emotion.EMOTIONS)}",
    "q6-answer": "model.save('my_emotion.keras')\nreloaded = keras.models.load_model('my_emotion.keras')",
    "q7-answer": "img = cu.load_sample(PHOTO)\nfaces = cu.detect_faces(img)\n"
                 "labelled = cu.FaceClassifier(model, emotion.EMOTIONS).classify(img, faces)",
}
#: Honest code whose model is too weak (one epoch): q4 and q5 fail, the rest pass.
HW1_UNDERTRAINED = {"q4-answer": "history = emotion.train(model, (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx]), "
                             "epochs=1, verbose=0)"}
