"""Write the synthetic student submissions used by the demo and the tests.

    python assignments/regularization/make_examples.py

Every notebook here is made up for this project (no real student's work): each one has a
different layout and quality so the grader's answer finding, scoring and code checks all get
exercised. Their Q8 code uses small slices of the data and 1-2 epochs so that all of them
together run in about a minute.

- strong.ipynb          good answers in the student's own words, "Q1"/"Answer 1" headings, two answers
                        typed as comments in code cells, complete Keras Q8 (2 epochs, 10,000 images).
- average.ipynb         shorter answers that miss some points, numbering that restarts in each Part,
                        question and answer in one cell; Q8 trains both models but only evaluates them
                        on the training data.
- weak.ipynb            garbled question text pasted from the PDF, one-line answers, skipped questions,
                        one answer in a raw cell; Q8 trains a Dropout model with no baseline, and one
                        cell raises an error.
- blank.ipynb           the template, byte for byte (nothing answered).
- other_homework.ipynb  a different homework of the same course (optimizers) with the same 3-part,
                        9-question shape and a similar Q8/Q9.
- not_json.ipynb        the first 300 bytes of a notebook: not a readable file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

HERE = Path(__file__).resolve().parent / "examples"  # the example submissions it writes
TEMPLATE = HERE.parent / "template.ipynb"


class Builder:
    """Collects cells with stable ids, so regenerating gives byte-identical files."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.cells = []

    def _id(self) -> str:
        return f"{self.prefix}-{len(self.cells) + 1:02d}"

    def md(self, text: str) -> None:
        self.cells.append(new_markdown_cell(text.strip("\n"), id=self._id()))

    def code(self, text: str) -> None:
        self.cells.append(new_code_cell(text.strip("\n"), id=self._id()))

    def raw(self, text: str) -> None:
        self.cells.append(new_raw_cell(text.strip("\n"), id=self._id()))

    def write(self, name: str, folder: Path = HERE) -> Path:
        nb = new_notebook(cells=self.cells)
        nb.metadata = {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        }
        nb.nbformat, nb.nbformat_minor = 4, 5
        nbformat.validate(nb)
        path = folder / name
        nbformat.write(nb, path)
        return path


# --------------------------------------------------------------------------- strong
def strong() -> Path:
    b = Builder("strong")
    b.md("""
# Assignment: Regularization in Deep Learning
*Submitted by: Student A (synthetic example)*
""")
    b.md("# Part 1 - Understanding Regularization")
    b.md("## Q1\nWhat is regularization in the context of deep learning? Why is it important?")
    b.md("""
**Answer 1**

Regularization means deliberately restricting a neural network while it trains so that it cannot
simply memorize the training examples. Typical ways of doing this are adding a penalty on the size of
the weights to the loss, randomly switching off neurons (dropout), stopping before training has
converged, or feeding it augmented data.

It is important because what we care about is accuracy on new data the network has never seen, and a
deep network has so many parameters that it can fit almost any training set perfectly, noise included.
That kind of overfitting looks great on the training data but generalizes badly. Regularization keeps
the learned function simpler, so it generalizes better to unseen inputs.
""")
    b.md("## Q2\nExplain the bias-variance tradeoff and how regularization helps in addressing this tradeoff.")
    b.md("""
**Answer 2**

- *Bias*: error caused by a model that is too simple for the problem, e.g. a straight line for a curved
  relationship. A high-bias model underfits and makes systematic mistakes on training and test data alike.
- *Variance*: error caused by a model that reacts too strongly to the particular training sample it was
  given. A high-variance model overfits: it follows the noise, so its predictions change a lot if the
  training set changes, and it does worse on test data than on training data.

Increasing model capacity moves error from bias to variance, so we cannot minimize both at once.
Regularization accepts a little more bias in exchange for much lower variance: by penalizing large
weights (or dropping units) it stops a big network from using all of its flexibility. The
regularization strength lambda decides where we sit on the curve, and we pick it with a validation set.
""")
    b.md(
        "## Q3\nDescribe the concept of L1 and L2 regularization. How do they differ in terms of penalty calculation and their effects on the model."
    )
    b.code("""
# Answer 3
# Both methods add a term to the loss that grows with the weights: total loss = loss + lambda * penalty.
#
# L1 (lasso): penalty = sum of |w_i|, i.e. the sum of the absolute values of the weights.
#   The push towards zero is the same for a big or a tiny weight, so many weights end up exactly zero.
#   The result is a sparse network, which works like automatic feature selection.
#
# L2 (ridge / weight decay): penalty = sum of w_i^2, the sum of the squared weights.
#   The push is proportional to the weight, so big weights are shrunk a lot and small ones hardly at all.
#   Weights become small and evenly spread, but almost never exactly zero.
#
# So: L1 -> sparse, fewer active inputs, easier to interpret; L2 -> smooth, all inputs kept with small weights.
# L2 is differentiable everywhere, which makes it the usual default in deep learning (weight decay).
""")
    b.md(
        "## Q4\nDiscuss the role of regularization in preventing overfitting and improving the generalization of deep learning models."
    )
    b.md("""
**Answer 4**

Overfitting happens when the network learns details that are specific to the training set, such as
noise, outliers or coincidences, instead of the real pattern. You can see it when training accuracy keeps
going up while validation accuracy stalls or falls.

Regularization limits the capacity the network can actually use. Weight penalties keep the weights
small so the decision function stays smooth; dropout stops neurons from relying on each other; early
stopping stops before the noise is learned; data augmentation makes the noise harder to memorize.
Because the model can no longer fit the noise cheaply, it spends its capacity on features that also
hold on unseen data, and the gap between training and test performance shrinks.
""")
    b.md("# Part 2 - Regularization Techniques")
    b.md(
        "## Q5\nExplain Dropout regularization and how it works to reduce overfitting. Discuss the impact of Dropout on model training and inference."
    )
    b.md("""
**Answer 5**

During training a dropout layer randomly zeroes each activation with probability p (for example 0.5)
and multiplies the surviving activations by 1/(1-p). Every mini-batch therefore trains a different
"thinned" version of the network.

Why this fights overfitting: a neuron can never count on a specific partner neuron being there, so
neurons cannot co-adapt into fragile combinations that only explain the training data; each has to
learn something useful on its own, giving redundant, robust features. It is also like training an
ensemble of many sub-networks that share weights and averaging them.

Training: the loss is noisier and convergence is slower, so more epochs are usually needed, and the
training accuracy looks lower than without dropout.
Inference: dropout is turned off and every neuron is used, so predictions are deterministic; because of
the scaling during training the activations have the same expected size.
""")
    b.md(
        "## Q6\nDescribe the concept of Early ztopping as a form of regularization. How does it help prevent overfitting during the training process."
    )
    b.code("""
# Answer 6
# Early stopping = keep a validation set aside and check the validation loss after each epoch.
# At first training and validation loss both fall. Later the training loss keeps falling but the
# validation loss stops improving and then goes up -> the model has started to memorize the training data.
# We stop training at that point. In practice we wait a few epochs ("patience") in case it was just noise,
# and restore the weights from the best epoch (Keras: EarlyStopping(restore_best_weights=True)).
# Why it is regularization: fewer update steps means the weights stay closer to their small starting
# values, which limits the effective capacity of the network, similar to an L2 penalty.
""")
    b.md(
        "## Q7\nExplain the concept of Batch Normalization and its role as a form of regularization. How does Batch Normalization help in preventing overfitting."
    )
    b.md("""
**Answer 7**

Batch normalization standardizes the inputs of a layer using statistics of the current mini-batch:
subtract the batch mean, divide by the batch standard deviation, then apply a learnable scale gamma and
shift beta. At test time running averages of the mean and variance are used instead.

It was introduced to make training faster and more stable (less internal covariate shift, higher
learning rates possible). The regularization is a side effect: the mean and variance depend on which
other examples happen to be in the mini-batch, so the same image is normalized slightly differently each
time it is seen. This noise works a bit like dropout and makes it harder to memorize single examples,
which reduces overfitting. It is a mild effect, so it is usually combined with other methods.
""")
    b.md("# Part 3 - Applying Regularization")
    b.md(
        "## Q8\nImplement Dropout regularization in a deep learning model using a framework of your choice. Evaluate its impact on model performance and compare it with a model without Dropout."
    )
    b.code("""
import numpy as np
import matplotlib.pyplot as plt
from tensorflow import keras

keras.utils.set_random_seed(7)

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
# use 10,000 training images to keep it quick
x_train, y_train = x_train[:10000] / 255.0, y_train[:10000]
x_test = x_test / 255.0
print(x_train.shape, x_test.shape)
""")
    b.code("""
def make_net(rate):
    net = keras.Sequential()
    net.add(keras.Input(shape=(28, 28)))
    net.add(keras.layers.Flatten())
    net.add(keras.layers.Dense(256, activation="relu"))
    if rate:
        net.add(keras.layers.Dropout(rate))
    net.add(keras.layers.Dense(128, activation="relu"))
    if rate:
        net.add(keras.layers.Dropout(rate))
    net.add(keras.layers.Dense(10, activation="softmax"))
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return net

dropout_net = make_net(0.3)
plain_net = make_net(0)
""")
    b.code("""
hist_dropout = dropout_net.fit(x_train, y_train, epochs=2, batch_size=64, validation_split=0.1, verbose=2)
hist_plain = plain_net.fit(x_train, y_train, epochs=2, batch_size=64, validation_split=0.1, verbose=2)
""")
    b.code("""
results = {}
for name, net in [("dropout", dropout_net), ("no dropout", plain_net)]:
    loss, acc = net.evaluate(x_test, y_test, verbose=0)
    results[name] = (loss, acc)
    print(f"{name:>10}: test loss {loss:.4f}, test accuracy {acc:.4f}")

fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
for name, h in [("dropout", hist_dropout), ("no dropout", hist_plain)]:
    ax[0].plot(h.history["accuracy"], label=f"{name} train")
    ax[0].plot(h.history["val_accuracy"], "--", label=f"{name} val")
    ax[1].plot(h.history["loss"], label=f"{name} train")
    ax[1].plot(h.history["val_loss"], "--", label=f"{name} val")
ax[0].set_title("accuracy"); ax[1].set_title("loss")
ax[0].legend(); ax[1].legend()
plt.show()
""")
    b.md("""
**Answer 8 (discussion)**

Both networks reach a test accuracy above 90% after 2 epochs on 10,000 images, and the one without
dropout comes out slightly better (numbers printed above). That is expected for such a short run:
dropout slows convergence, because each step only trains part of the network, and its training accuracy
looks lower because it is measured with units dropped. With only 2 epochs neither network has had time
to overfit, so there is nothing for dropout to fix yet. With many more epochs the plain network's
validation loss would start to rise while the dropout network keeps its training and validation curves
together, i.e. dropout would generalize better.
""")
    b.md(
        "## Q9\nDiscuss the considerations and tradeoffs when choosing the appropriate regularization technique for a given deep learning task."
    )
    b.md("""
**Answer 9**

1. How much data there is. A small dataset with a big network overfits easily and needs strong
   regularization (dropout, weight decay, augmentation); with millions of examples little is needed.
2. The architecture. Dropout works well in fully connected layers, batch norm in deep CNNs, and RNNs need
   special versions such as recurrent dropout.
3. Cost. Dropout makes convergence slower, augmentation makes every epoch more expensive, batch norm adds
   computation and behaves badly with very small batches, early stopping needs a validation split.
4. What else you want from the model: L1 gives a sparse, interpretable model; L2 keeps all features.
5. Too much regularization causes underfitting, so the strength (lambda, dropout rate, patience) is a
   hyperparameter that must be tuned on validation data, and several methods are often combined.
""")
    return b.write("strong.ipynb")


# --------------------------------------------------------------------------- average
def average() -> Path:
    b = Builder("average")
    b.md("# Regularization assignment")
    b.md("## Part 1")
    b.md("""
1. What is regularization in deep learning and why is it important?

Regularization is a way to stop the model from overfitting. It adds a penalty to the loss function so
the weights do not become too large. This is important because deep models are very complex.
""")
    b.md("""
2. Bias-variance tradeoff

Bias is when the model is too simple and underfits the data. Variance is when the model is too complex
and overfits. We want a model in the middle. Regularization helps with this tradeoff because it makes
the model less complex.
""")
    b.md("""
3. L1 and L2

L1 regularization adds the sum of the absolute values of the weights to the loss. L2 adds the sum of the
squared weights. L1 can make some weights zero so it gives a sparse model. L2 is more common in neural
networks.
""")
    b.md("""
4. Regularization and overfitting

Regularization prevents overfitting by making the model simpler. A simpler model does better on the test
set because it does not learn the noise in the training data. Examples are dropout and L2.
""")
    b.md("## Part 2")
    b.md("""
1. Dropout

Dropout randomly removes some neurons in each training step, for example 50% of them. This means the
network cannot depend on one neuron too much. When we test the model all the neurons are used.
""")
    b.md("""
2. Early stopping

In early stopping we look at the validation loss during training. When the validation loss starts to
increase we stop the training because the model begins to overfit after that.
""")
    b.md("""
3. Batch normalization

Batch normalization normalizes the outputs of a layer so they have zero mean and unit variance. This
makes training faster and more stable, and it also helps a little against overfitting.
""")
    b.md("## Part 3")
    b.md("1. Implement dropout and compare with a model without dropout")
    b.code("""
import tensorflow as tf

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train[:6000] / 255.0
y_train = y_train[:6000]
""")
    b.code("""
model1 = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10, activation='softmax')
])
model1.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model1.fit(x_train, y_train, epochs=1)
""")
    b.code("""
model2 = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(128, activation='relu'),
    tf.keras.layers.Dense(10, activation='softmax')
])
model2.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model2.fit(x_train, y_train, epochs=1)
""")
    b.code("""
print("with dropout:", model1.evaluate(x_train, y_train))
print("without dropout:", model2.evaluate(x_train, y_train))
""")
    b.md("The model without dropout has a higher accuracy than the model with dropout.")
    b.md("""
2. Considerations when choosing a regularization technique

It depends on the dataset size and on the model. For a big model dropout is good. L1 is good if we want
feature selection. We have to try different techniques and see which one gives the best validation
accuracy.
""")
    return b.write("average.ipynb")


# --------------------------------------------------------------------------- weak
def weak() -> Path:
    b = Builder("weak")
    b.md("Part l: Upderstanding Regularization")
    b.md("1. What is regularization in the context of deep learningH Why is it important?")
    b.md("Regularization is used to reduce overfitting.")
    b.md("2. Explain the bias-variance tradeoff and how regularization helps in addressing this tradeoff.")
    b.md("")
    b.md(
        "3. Describe the concept of L1 and L2 regularization. How do they differ in terms of penalty calculation and their effects on the model."
    )
    b.raw("L1 uses absolute value and L2 uses square")
    b.md(
        "4. Discuss the role of regularization in preventing overfitting and improving the generalization of deep learning models."
    )
    b.code("")
    b.md("Part 2: Regularizatiop Techniques")
    b.md(
        "5. Explain Dropout regularization and how it works to reduce overfitting. Discuss the impact of Dropout on model training and inference."
    )
    b.md("Dropout drops neurons.")
    b.md(
        "6. Describe the concept of Early ztopping as a form of regularization. How does it help prevent overfitting during the training process."
    )
    b.md("Early stopping stops the training early.")
    b.md(
        "7. Explain the concept of Batch Normalization and its role as a form of regularization. How does Batch Normalization help in preventing overfitting."
    )
    b.md("Part 3: Applying Regularization")
    b.md(
        "8. Implement Dropout regularization in a deep learning model using a framework of your choice. Evaluate its impact on model performance and compare it with a model without Dropoutk"
    )
    b.code("""
import keras
import matplotlib.pyplot as plt

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train[:3000] / 255
y_train = y_train[:3000]

model = keras.Sequential([
    keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dropout(0.5),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, epochs=1)
""")
    b.code("""
plt.plot(history.history["accuracy"])
plt.plot(history.history["val_accuracy"])
plt.show()
""")
    b.md(
        "9. Discuss the considerations and tradeoffs when choosing the appropriate regularization technique for a given deep learning task."
    )
    b.md("It depends on the data.")
    return b.write("weak.ipynb")


# --------------------------------------------------------------------------- other homework
def other_homework() -> Path:
    b = Builder("optim")
    b.md("""
# Optimizers in Deep Learning

**Objective:** understand how optimization algorithms train neural networks, apply several optimizers
and compare their effect on convergence and performance.
""")
    b.md("## Part 1: Understanding Optimizers")
    b.md("### Q1. What is the role of optimization algorithms in artificial neural networks? Why are they necessary?")
    b.md("""
An optimizer decides how the weights change after each batch so that the loss goes down. Training a
network means minimizing a loss over millions of weights, which has no closed-form solution, so we need
an iterative method that uses the gradient from backpropagation to take small steps downhill. The
optimizer determines how fast training converges and whether it ends in a good minimum at all.
""")
    b.md(
        "### Q2. Explain the concept of gradient descent and its variants. Discuss their differences and tradeoffs in terms of convergence speed and memory requirements."
    )
    b.md("""
Gradient descent moves the weights a small step against the gradient of the loss: w = w - lr * grad.
- Batch gradient descent computes the gradient on the whole dataset: stable steps, but each step is slow
  and the whole dataset must fit in memory.
- Stochastic gradient descent uses one example per step: very cheap and low memory, but noisy.
- Mini-batch gradient descent uses e.g. 32-256 examples: the usual compromise, efficient on GPUs and
  reasonably stable.
""")
    b.md(
        "### Q3. Describe the challenges associated with traditional gradient descent optimization methods (e.g., slow convergence, local minima). How do modern optimizers address these challenges?"
    )
    b.md("""
Plain gradient descent uses one learning rate for all weights. It crawls along flat regions and saddle
points, zig-zags in narrow valleys, can get stuck in poor local minima and is very sensitive to the
learning rate. Modern optimizers add momentum (to keep moving through flat parts and damp zig-zags) and
per-parameter adaptive learning rates (AdaGrad, RMSprop, Adam) so that each weight gets a step size
suited to its own gradient history.
""")
    b.md(
        "### Q4. Discuss the concepts of momentum and learning rate in the context of optimization algorithms. How do they impact convergence and model performance?"
    )
    b.md("""
The learning rate is the step size: too small and training is slow, too large and the loss oscillates or
diverges. Momentum keeps a running average of past gradients and moves in that direction, like a ball
rolling downhill; it speeds up progress along consistent directions and smooths out noise. Together
they control how quickly and how reliably training converges.
""")
    b.md("## Part 2: Optimizer Techniques")
    b.md(
        "### Q5. Explain the concept of Stochastic Gradient Descent (SGD) and its advantages compared to traditional gradient descent. Discuss its limitations and scenarios where it is most suitable."
    )
    b.md("""
SGD updates the weights after every example or small batch instead of after a full pass over the data.
Updates are cheap and frequent, it scales to huge datasets, and its noise can help escape shallow minima.
The downside is a noisy path and the need for a carefully decayed learning rate. It is a good choice
for very large datasets and, with momentum, is still widely used for training CNNs.
""")
    b.md(
        "### Q6. Describe the concept of Adam optimizer and how it combines momentum and adaptive learning rates. Discuss its benefits and potential drawbacks."
    )
    b.md("""
Adam keeps two moving averages per weight: the mean of the gradients (momentum) and the mean of the
squared gradients (as in RMSprop), corrects both for their start-up bias, and divides the first by the
square root of the second. Each weight thus gets its own step size. It works well with default settings
and converges fast, but it uses extra memory for the two averages and sometimes generalizes a bit worse
than well-tuned SGD with momentum.
""")
    b.md(
        "### Q7. Explain the concept of RMSprop optimizer and how it addresses the challenges of adaptive learning rates. Compare it with Adam and discuss their relative strengths and weaknesses."
    )
    b.md("""
RMSprop divides the learning rate of each weight by a running average of its recent squared gradients.
Unlike AdaGrad, whose sum of squares only grows so the steps shrink towards zero, the moving average
forgets old gradients and keeps the learning rate usable. Adam is essentially RMSprop plus momentum and
bias correction: usually a little faster and more robust, while RMSprop is simpler and remains popular
for recurrent networks.
""")
    b.md("## Part 3: Applying Optimizers")
    b.md(
        "### Q8. Implement SGD, Adam, and RMSprop optimizers in a deep learning model using a framework of your choice. Train the model on a suitable dataset and compare their impact on model convergence and performance."
    )
    b.code("""
import keras

keras.utils.set_random_seed(1)
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, y_train = x_train[:5000] / 255.0, y_train[:5000]
x_test, y_test = x_test[:2000] / 255.0, y_test[:2000]
""")
    b.code("""
def build():
    return keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])

scores = {}
for name in ["sgd", "adam", "rmsprop"]:
    model = build()
    model.compile(optimizer=name, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    scores[name] = (history.history["loss"][-1], loss, acc)

print(f"{'optimizer':<10}{'train loss':>12}{'test loss':>12}{'test acc':>10}")
for name, (train_loss, loss, acc) in scores.items():
    print(f"{name:<10}{train_loss:>12.4f}{loss:>12.4f}{acc:>10.4f}")
""")
    b.md("""
After one epoch Adam and RMSprop are far ahead of plain SGD with its default learning rate: their
adaptive step sizes make much faster progress early in training. SGD would need a higher learning rate,
momentum or many more epochs to catch up.
""")
    b.md(
        "### Q9. Discuss the considerations and tradeoffs when choosing the appropriate optimizer for a given neural network architecture and task. Consider factors such as convergence speed, stability, and generalization performance."
    )
    b.md("""
Adam is a safe default: it converges quickly with little tuning, which matters for prototyping and for
transformers and recurrent networks. SGD with momentum needs more tuning of the learning rate and its
schedule, but often reaches better final accuracy on image tasks. RMSprop sits in between. Adaptive
methods need more memory per parameter. In the end the choice is made by comparing validation curves
for a few candidates within the available compute budget.
""")
    return b.write("other_homework.ipynb")


def blank() -> Path:
    path = HERE / "blank.ipynb"
    shutil.copyfile(TEMPLATE, path)
    return path


def not_json(source: Path) -> Path:
    path = HERE / "not_json.ipynb"
    path.write_bytes(source.read_bytes()[:300])
    return path


def main() -> None:
    written = [strong(), average(), weak(), blank(), other_homework()]
    written.append(not_json(written[0]))
    for path in written:
        print("wrote", path.relative_to(HERE.parent.parent.parent))


if __name__ == "__main__":
    main()
