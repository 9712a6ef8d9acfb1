"""Training the course's Keras classifiers (lessons 04 and 05): the shared network parts and the loop.

    x = training.conv_blocks(inputs, [32, 64, 128])             # the CNN body
    model = training.softmax_head(inputs, x, 7, "emotion_cnn", "emotion", 1e-3)
    history = training.fit(model, (x_tr, y_tr), (x_val, y_val), epochs=30, batch_size=64,
                           patience=8, lr_patience=3)

``cu.emotion`` and ``cu.mask`` build their networks and train them with these.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .model_files import import_keras


def conv_blocks(x, widths: Sequence[int], convs: int = 1, momentum: float = 0.9, dropouts: Sequence[float] = ()):
    """The CNN body of the course's classifiers: per width, ``convs`` x (3x3 conv + batch norm + ReLU),
    then 2x2 max-pooling and, when given, dropout.  Returns the output tensor."""
    from keras import layers

    for i, f in enumerate(widths):
        for _ in range(convs):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=momentum)(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
        if i < len(dropouts) and dropouts[i]:
            x = layers.Dropout(dropouts[i])(x)
    return x


def softmax_head(inputs, x, num_classes: int, name: str, output: str, learning_rate: float, dropout: float = 0.2):
    """Global average pooling, dropout and a softmax over ``num_classes``; the model, compiled with Adam."""
    keras = import_keras()
    from keras import layers

    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name=output)(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def fit(model, train: tuple, val: tuple, *, epochs: int, batch_size: int, patience: int, lr_patience: int,
        min_lr: float = 0.0, class_weight: dict[int, float] | None = None, checkpoint: str | Path | None = None,
        checkpoint_above: float | None = None, verbose: int = 0, extra_callbacks: Sequence = ()):
    """The course's training loop: ``model.fit`` with early stopping on validation accuracy (best
    weights restored), the learning rate halved after ``lr_patience`` epochs without a better
    validation loss, and optionally the best epoch saved to ``checkpoint``: only an epoch whose
    validation accuracy beats ``checkpoint_above`` when given (a resumed run then never replaces
    its checkpoint with a worse one).  Returns the History."""
    keras = import_keras()
    callbacks = [*extra_callbacks,
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=lr_patience, min_lr=min_lr),
    ]
    if checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_accuracy", save_best_only=True,
                                                         initial_value_threshold=checkpoint_above))
    return model.fit(*train, validation_data=val, epochs=epochs, batch_size=batch_size, class_weight=class_weight,
                     callbacks=callbacks, verbose=verbose)
