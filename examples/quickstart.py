"""Quick start: a tiny binary classifier trained end to end with SafeBCE.

Run: python examples/quickstart.py
"""

import keras
import numpy as np

import keras_binary

rng = np.random.default_rng(0)
x = rng.normal(size=(1024, 8)).astype("float32")
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")  # labels of shape (N,), int

# A 2-unit softmax output with integer labels and a *binary* loss: plain Keras
# raises a rank error here; SafeBCE reduces the pair to one score exactly.
model = keras.Sequential(
    [
        keras.Input((8,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(2, activation="softmax"),
    ]
)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras_binary.SafeBCE(), metrics=["accuracy"])
history = model.fit(x[:768], y[:768], epochs=5, batch_size=64, verbose=0)
loss, _ = model.evaluate(x[768:], y[768:], verbose=0)
probabilities = model.predict(x[768:], verbose=0)[:, 1]
accuracy = float(np.mean((probabilities > 0.5) == y[768:]))
print(f"backend: {keras.backend.backend()}")
print(f"training loss: {history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}")
print(f"held-out loss: {loss:.3f}, held-out accuracy: {accuracy:.3f}")

# Labels in {1, 2} would train on wrong targets in plain Keras; here they stop fit.
try:
    model.fit(x, y + 1, epochs=1, verbose=0)
except Exception as error:  # noqa: BLE001 - the backend wraps it; the coded message is inside
    first = next(line for line in str(error).splitlines() if "KB202" in line)
    print(f"labels in {{1, 2}} were refused: {first.strip()}")
