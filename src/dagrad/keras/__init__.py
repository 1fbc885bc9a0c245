"""dagrad.keras: Keras' Sequential API on dagrad's layers, optimizers and training loop.

Lecture code written for Keras runs after swapping the imports:

    from dagrad.keras.models import Sequential
    from dagrad.keras.layers import Dense
    model = Sequential()
    model.add(Dense(units=64, activation='sigmoid', input_dim=784))
    model.add(Dense(units=10, activation='softmax'))
    model.compile(loss='categorical_crossentropy', optimizer='sgd', metrics=['accuracy'])
    model.fit(x_train, y_train, epochs=5, batch_size=32, validation_data=(x_test, y_test))

Layers are channels-last and keep Keras' weight layouts; losses take (y_true, y_pred) with y_pred the model's
output; fit/evaluate run dagrad.train.Trainer. Modules: layers, models, optimizers, losses, metrics, activations,
initializers, callbacks, utils (to_categorical), datasets (mnist, fashion_mnist).
"""

from dagrad.keras import (
    activations,
    callbacks,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    utils,
)
from dagrad.keras.layers import Input, InputLayer, Layer
from dagrad.keras.model import Sequential

__all__ = [
    "Sequential", "Input", "InputLayer", "Layer", "activations", "callbacks", "datasets", "initializers", "layers",
    "losses", "metrics", "models", "optimizers", "utils",
]  # fmt: skip
