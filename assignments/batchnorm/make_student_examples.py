"""Write example submissions re-created from public notebooks of this homework, as students laid them out.

    python assignments/batchnorm/make_student_examples.py

Each notebook keeps its student's layout, claims (right and wrong) and code, shortened; the code trains on
a small slice so a real run stays quick, and the outputs the student saved are kept (shortened) so that
`--no-run` grades what the student saw. Sources (repository and path on GitHub):

- raw_prompts.ipynb       gayatridound/Dl--Assignments, Batch_Normalization_Assignment.ipynb. The questions
                          are raw cells, the answers markdown; Keras on MNIST, both networks trained with the
                          test set as validation data; the 2.5 and 2.6 answers are raw cells that say what
                          "should" be observed; the batch-size experiment is defined but never run. Wrong
                          about concepts: normalizing by the square root of the standard deviation, and the
                          regularization explained as "learning more independent features".
- markdown_code.ipynb     Arhat9844/PW-Assignments, Batch Normalization.ipynb. No question text at all: cells
                          start "Q1--", "Q2--", "Q3--"; the three Part 1 answers share one cell; all the code
                          is pasted into markdown cells, so nothing runs; the batch-size answer says what to
                          try instead of trying it. Partial.
- pytorch_claims.ipynb    Ankit8544/Batch_Normalization_Assignment, Batch_Normalization_Assignment.ipynb.
                          All Part prompts in one cell, then "Ans :-" and one cell per answer; PyTorch. The
                          discussion claims batch normalization improved accuracy while the saved output shows
                          it slightly worse, and in the batch-size experiment the batch-normalized network is
                          never trained (its optimizer is never used) and sits at chance, which the answer
                          does not notice.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nbformat.v4 import new_output

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "regularization"))

from make_examples import Builder  # noqa: E402  (the regularization generator's stable-id notebook builder)

EXAMPLES = HERE / "examples"


def _saved(b: Builder, text: str, count: int) -> None:
    """The output the student's run printed under the last code cell."""
    cell = b.cells[-1]
    cell.execution_count = count
    cell.outputs = [new_output("stream", name="stdout", text=text.strip("\n") + "\n")]


# --------------------------------------------------------------------------- raw_prompts
def raw_prompts() -> Path:
    b = Builder("bn-raw")
    b.md("# Q1. Theory and Concepts:")
    b.raw("1. Explain the concept of batch normalization in the context of Artificial Neural Networks.")
    b.md("""
Normalization: During training, batch norm takes a mini-batch of data and calculates the mean and standard
deviation of the activations for each feature (channel) within that batch. It then subtracts the mean and
divides by the standard deviation, centering and re-scaling the activations to a standard normal distribution.

Mini-batch: the normalization uses the statistics of the mini-batch, not of the entire dataset, because using
the whole dataset at every step would be too expensive with stochastic gradient descent.

Learnable Parameters: two learnable parameters are introduced for each feature, gamma and beta, so the network
can learn how much to scale and shift the normalized activations back.

Improved Regularization: Batch normalization can act as a form of regularization, reducing overfitting. This is
because the network is forced to learn more independent features due to the normalized activations.
""")
    b.raw("2. Describe the benefits of using batch normalization during training")
    b.md("""
Faster Training: Batch normalization stabilizes the learning process by normalizing the activations across
layers. This allows you to use higher learning rates, which can significantly speed up convergence.

Reduced Internal Covariate Shift: as a network trains, the distribution of activations changes between layers.
Batch normalization mitigates this by normalizing activations at each layer.

Improved Regularization: it introduces a slight element of randomness, making the network less likely to
overfit; in some cases it reduces the need for dropout.

Reduced Need for Careful Initialization: the network becomes less dependent on the initial weight values.
""")
    b.raw(
        "3. Discuss the working principle of batch normalization, including the normalization step and the learnable parameters."
    )
    b.md("""
1. Normalization Step: for each feature within the activations of a layer, the mean (µ) and standard deviation
(σ) are calculated across the mini-batch. Each activation value x is then normalized:
    normalized_x = (x - µ) / √σ

2. Learnable Parameters: Gamma (γ) scales the normalized activations and Beta (β) shifts them:
    output = γ * normalized_x + β
Gamma and beta are updated during backpropagation along with the other weights. At inference time batch
normalization uses estimates of the mean and standard deviation from training (exponential moving averages).
""")
    b.md("# Q2.Implementation:")
    b.md("1. Dataset and Preprocessing:")
    b.code("""
from tensorflow.keras.datasets import mnist
from tensorflow.keras.utils import to_categorical

(train_images, train_labels), (test_images, test_labels) = mnist.load_data()
train_images = train_images[:2000].reshape(-1, 28 * 28).astype('float32') / 255
test_images = test_images[:1000].reshape(-1, 28 * 28).astype('float32') / 255
train_labels = to_categorical(train_labels[:2000])
test_labels = to_categorical(test_labels[:1000])
""")
    b.md("2. Simple Feedforward Neural Network without Batch Normalization:")
    b.code("""
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense

model = Sequential([
  Dense(512, activation='relu', input_shape=(784,)),
  Dense(10, activation='softmax')
])
model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
model.fit(train_images, train_labels, epochs=1, validation_data=(test_images, test_labels))
""")
    _saved(b, "63/63 - 1s - accuracy: 0.8015 - loss: 0.6985 - val_accuracy: 0.8890 - val_loss: 0.3968", 9)
    b.md("4. Implementing Batch Normalization:")
    b.code("""
from tensorflow.keras.layers import BatchNormalization

model_bn = Sequential([
  Dense(512, activation='relu'),
  BatchNormalization(),
  Dense(10, activation='softmax')
])
model_bn.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
model_bn.fit(train_images, train_labels, epochs=1, validation_data=(test_images, test_labels))
""")
    _saved(b, "63/63 - 1s - accuracy: 0.8390 - loss: 0.5410 - val_accuracy: 0.8760 - val_loss: 0.4122", 11)
    b.md("5. Training and Validation Performance Comparison:")
    b.raw("""
Train the model with batch normalization and compare the training and validation accuracy/loss curves with the
model without batch normalization. You should observe:
Faster Convergence: The model with batch normalization might achieve higher validation accuracy earlier.
Improved Validation Accuracy: The model with batch normalization might reach a higher final validation accuracy.
Reduced Training Loss: The model with batch normalization might exhibit a smoother loss curve.
""")
    b.md("6. Impact of Batch Normalization:")
    b.raw("""
Faster Training: Batch normalization stabilizes the learning process, allowing for higher learning rates which
can lead to faster convergence.
Improved Generalization: By mitigating internal covariate shift, batch normalization can help the network learn
more robust features (higher validation accuracy).
Reduced Overfitting: Batch normalization acts as a regularizer, potentially leading to a smoother loss curve.
""")
    b.md("# Q3. Experimentation and Analysis:")
    b.raw(
        "1.Experiment with different batch sizes and observe the effect on the training dynamics and model performance"
    )
    b.code("""
def create_model():
  model = Sequential([
    Dense(128, activation='relu', input_shape=(784,)),
    Dense(64, activation='relu'),
    Dense(10, activation='softmax')
  ])
  return model

def train_model(batch_size):
  model = create_model()
  model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
  history = model.fit(train_images, train_labels, epochs=1, batch_size=batch_size,
                      validation_data=(test_images, test_labels), verbose=2)
  return history

batch_sizes = [32, 64, 128]  # Adjust this list as needed
""")
    b.raw(
        "2.Discuss the advantages and potential limitations of batch normalization in improving the training of neural networks."
    )
    b.md("""
Faster Convergence: by normalizing the activations of each layer, BN reduces internal covariate shift. This
makes the gradient updates more stable and alleviates the vanishing or exploding gradient problem.
Higher Learning Rates: BN enables the use of higher learning rates, which can accelerate training.
Reduced Need for Other Regularization Techniques: BN acts as a regularizer by introducing slight noise through
batch statistics; dropout might be less necessary.

Potential Limitations of Batch Normalization
Increased Computational Cost: BN introduces additional computations to calculate batch statistics and normalize
activations, which can slow training on limited hardware.
Dependence on Batch Size: BN relies on batch statistics, which are less accurate for smaller batch sizes.
Not a Silver Bullet: BN does not always lead to better performance; architecture and hyperparameters still matter.
""")
    return b.write("raw_prompts.ipynb", EXAMPLES)


# --------------------------------------------------------------------------- markdown_code
def markdown_code() -> Path:
    b = Builder("bn-mdcode")
    b.code("")
    b.md("""
Q1--
Answer-
### Batch Normalization in ANN

**Concept**:
Batch normalization normalizes the input of each layer in a neural network to have a mean of zero and a variance
of one. This stabilization of input distributions accelerates training and improves model performance.

**Benefits**:
1. Accelerates training.
2. Reduces internal covariate shift.
3. Mitigates vanishing/exploding gradients.
4. Allows higher learning rates.
5. Regularizes the model, potentially reducing the need for dropout.

**Working Principle**:
1. **Normalization**: For each mini-batch, normalize inputs by subtracting the batch mean and dividing by the
batch standard deviation.
2. **Learnable Parameters**: Introduce scale (gamma) and shift (beta) parameters to maintain the representation
power. These parameters are learned during training.
""")
    b.md("""
Q2--
Answer-
# Import necessary libraries
import tensorflow as tf
from tensorflow.keras.datasets import mnist
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Flatten, BatchNormalization

(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

model_without_bn = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation='relu'), Dense(10, activation='softmax')])
model_without_bn.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model_without_bn.fit(x_train, y_train, epochs=5, validation_data=(x_test, y_test))

model_with_bn = Sequential([Flatten(input_shape=(28, 28)), Dense(128), BatchNormalization(), tf.keras.layers.ReLU(), Dense(10, activation='softmax')])
model_with_bn.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model_with_bn.fit(x_train, y_train, epochs=5, validation_data=(x_test, y_test))

loss_without_bn, acc_without_bn = model_without_bn.evaluate(x_test, y_test)
loss_with_bn, acc_with_bn = model_with_bn.evaluate(x_test, y_test)
print(f"Loss: {loss_without_bn}, Accuracy: {acc_without_bn}")
print(f"Loss: {loss_with_bn}, Accuracy: {acc_with_bn}")
""")
    b.md('''
# Discuss the impact of batch normalization on training process and performance
"""
Batch normalization significantly improves the training process and performance of the neural network.
Without batch normalization, the model's performance may fluctuate due to internal covariate shift, leading to
slower convergence and lower accuracy. Batch normalization stabilizes the training by normalizing inputs,
accelerating convergence, and enabling the use of higher learning rates. This results in faster training and
improved model generalization, as demonstrated by the higher accuracy achieved with batch normalization compared
to the model without it.
"""
''')
    b.md("""
Q3--
Answer-
### Experimentation and Analysis

**Experimenting with Batch Sizes**:
- Try different batch sizes (e.g., 32, 64, 128) during training.
- Observe the effect on training dynamics (e.g., convergence speed, stability) and model performance (e.g., accuracy, loss).
- Analyze how larger batch sizes affect training time and resource utilization.

**Advantages of Batch Normalization**:
1. **Stabilizes Training**: Reduces internal covariate shift, leading to more stable and faster convergence.
2. **Enables Higher Learning Rates**: Normalizing inputs allows for the use of higher learning rates.
3. **Regularization**: Acts as a form of regularization, potentially reducing the need for dropout.

**Limitations of Batch Normalization**:
1. **Batch Size Sensitivity**: Performance may degrade with very small batch sizes due to inaccurate estimates of batch statistics.
2. **Increased Memory Consumption**: Requires additional memory to store batch statistics during training.
3. **Test-time Behavior**: During inference, batch normalization relies on statistics computed during training,
which may lead to inconsistent results with single samples or small batches.

CODE==
batch_sizes = [32, 64, 128]
for batch_size in batch_sizes:
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128), BatchNormalization(), tf.keras.layers.ReLU(), Dense(10, activation='softmax')])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
    model.fit(x_train, y_train, batch_size=batch_size, epochs=5, validation_data=(x_test, y_test))
""")
    return b.write("markdown_code.ipynb", EXAMPLES)


# --------------------------------------------------------------------------- pytorch_claims
PYTORCH_DATA = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision
import torchvision.transforms as transforms

transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
trainset = torchvision.datasets.MNIST(root='./data', train=True, download=True, transform=transform)
testset = torchvision.datasets.MNIST(root='./data', train=False, download=True, transform=transform)
trainset = torch.utils.data.Subset(trainset, range(2000))  # a small slice keeps it quick
testset = torch.utils.data.Subset(testset, range(1000))
trainloader = torch.utils.data.DataLoader(trainset, batch_size=100, shuffle=True)
testloader = torch.utils.data.DataLoader(testset, batch_size=100, shuffle=False)
"""

PYTORCH_NETS = """
class SimpleNN(nn.Module):
    def __init__(self):
        super(SimpleNN, self).__init__()
        self.fc1 = nn.Linear(28*28, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        x = x.view(-1, 28*28)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

class SimpleNNWithBN(nn.Module):
    def __init__(self):
        super(SimpleNNWithBN, self).__init__()
        self.fc1 = nn.Linear(28*28, 512)
        self.bn1 = nn.BatchNorm1d(512)
        self.fc2 = nn.Linear(512, 256)
        self.bn2 = nn.BatchNorm1d(256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        x = x.view(-1, 28*28)
        x = F.relu(self.bn1(self.fc1(x)))
        x = F.relu(self.bn2(self.fc2(x)))
        return self.fc3(x)

net = SimpleNN()
net_bn = SimpleNNWithBN()
"""

PYTORCH_TRAIN = """
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

def train(net, epochs=1):
    for epoch in range(epochs):
        for inputs, labels in trainloader:
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
    print('Finished Training')

train(net)
optimizer = optim.SGD(net_bn.parameters(), lr=0.01, momentum=0.9)
train(net_bn)
"""

PYTORCH_EVALUATE = """
def evaluate(net):
    correct = 0
    total = 0
    with torch.no_grad():
        for images, labels in testloader:
            _, predicted = torch.max(net(images).data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f'Accuracy: {100 * correct / total:.2f}%')

print("Without Batch Normalization:")
evaluate(net)
print("With Batch Normalization:")
evaluate(net_bn)
"""

PYTORCH_BATCH_SIZES = """
batch_sizes = [32, 64, 128, 256]

for batch_size in batch_sizes:
    print(f"\\nTraining with batch size: {batch_size}")
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size, shuffle=True)
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size, shuffle=False)
    net = SimpleNN()
    net_bn = SimpleNNWithBN()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    optimizer_bn = optim.SGD(net_bn.parameters(), lr=0.001, momentum=0.9)
    print("Training model without batch normalization...")
    train(net)
    print("Training model with batch normalization...")
    train(net_bn)
    print("Evaluating model without batch normalization:")
    evaluate(net)
    print("Evaluating model with batch normalization:")
    evaluate(net_bn)
"""


def pytorch_claims() -> Path:
    b = Builder("bn-torch")
    b.md("""
### **`Q.No-01`    Theory and Concepts :**

1. **Explain the concept of batch normalization in the context of Artificial Neural Networks.**

2. **Describe the benefits of using batch normalization during training.**

3. **Discuss the working principle of batch normalization, including the normalization step and the learnable parameters.**
""")
    b.md("**Ans :-**")
    b.md("""
**Batch normalization is a technique used in artificial neural networks to improve the training process.**

- **What is Batch Normalization?** It normalizes the inputs of each layer, re-centering and re-scaling them
  for each mini-batch during training. This helps stabilize and accelerate the training process.
- **Why use it?** It reduces internal covariate shift, allows higher learning rates, has a slight regularizing
  effect and makes models less sensitive to the initialization of parameters.
- **How does it work?** For each mini-batch it computes the mean and variance, normalizes the inputs, then
  applies a learnable scale (γ) and shift (β).
- **During inference** it uses population statistics (a moving average computed during training) rather than
  the mini-batch statistics.
""")
    b.md("""
**Batch normalization provides several key benefits during training:**

1. **Stabilizes and Accelerates Training**: by reducing internal covariate shift it allows higher learning
   rates, which speeds up convergence.
2. **Reduces Sensitivity to Initialization**: the network is less dependent on the initial values of weights.
3. **Provides Regularization Effect**: the noise of mini-batch statistics helps prevent overfitting to some extent.
4. **Improves Gradient Flow**: consistent distributions of activations mitigate vanishing or exploding gradients.
""")
    b.md("""
**Batch normalization works by normalizing the inputs of each layer within a neural network.**

1. **Calculating Mean and Variance**: for each mini-batch, μ_B = (1/m) Σ x_i and σ_B² = (1/m) Σ (x_i − μ_B)².
2. **Normalizing the Inputs**: x̂_i = (x_i − μ_B) / √(σ_B² + ε), where ε prevents division by zero.
3. **Applying Learnable Scale and Shift Parameters**: y_i = γ x̂_i + β, where γ and β are learned during
   training along with the other parameters of the network.

During inference, batch normalization uses running estimates of the mean and variance (an exponential moving
average of the mini-batch statistics) instead of the statistics of the current batch.
""")
    b.md("""
### **`Q.No-02`    Implementation :**

1. **Choose a dataset of your choice (e.g., MNIST, CIFAR-10) and preprocess it.**
2. **Implement a simple feedforward neural network using any deep learning framework/library.**
3. **Train the neural network on the chosen dataset without using batch normalization.**
4. **Implement batch normalization layers in the neural network and train the model again.**
5. **Compare the training and validation performance between the models with and without batch normalization.**
6. **Discuss the impact of batch normalization on the training process and the performance of the neural network.**
""")
    b.md("**Ans :-**")
    b.md("**Step 1: Preprocess the Dataset**")
    b.code(PYTORCH_DATA)
    b.md("**Step 2 and 4: a Simple Feedforward Neural Network, and the same with Batch Normalization**")
    b.code(PYTORCH_NETS)
    b.md("**Step 3 and 5: Train both networks**")
    b.code(PYTORCH_TRAIN)
    _saved(b, "Finished Training\nFinished Training", 5)
    b.md("**Step 6: Compare the Performance**")
    b.code(PYTORCH_EVALUATE)
    _saved(b, "Without Batch Normalization:\nAccuracy: 57.04%\nWith Batch Normalization:\nAccuracy: 56.78%", 6)
    b.md("""
#### **Discussion on the Impact of Batch Normalization**

1. **Accelerating Training:** Batch normalization helps stabilize the learning process by normalizing the inputs
   to each layer. This can often lead to faster convergence. However, in this specific case the accuracy
   improvement is minimal, which could be due to the relatively simple architecture.
2. **Regularization:** Batch normalization introduces a slight noise during training, which can reduce
   overfitting. Here the accuracy improvement from batch normalization is quite modest (0.05%).
3. **Improved Accuracy:** For this experiment, the model with batch normalization achieved an accuracy of
   56.58%, compared to 56.53% for the model without batch normalization. This indicates a slight improvement,
   suggesting that batch normalization has a small but positive effect on the network's ability to generalize.
""")
    b.md("""
### **`Q.No-03`    Experimentation and Analysis :**

1. **Experiment with different batch sizes and observe the effect on the training dynamics and model performance.**

2. **Discuss the advantages and potential limitations of batch normalization in improving the training of neural networks.**
""")
    b.md("**Ans :-**")
    b.md("#### **1. Experiment with Different Batch Sizes**")
    b.code(PYTORCH_BATCH_SIZES)
    _saved(
        b,
        "\n".join(
            f"\nTraining with batch size: {size}\nTraining model without batch normalization...\nFinished Training\n"
            f"Training model with batch normalization...\nFinished Training\n"
            f"Evaluating model without batch normalization:\nAccuracy: {plain}%\n"
            f"Evaluating model with batch normalization:\nAccuracy: {bn}%"
            for size, plain, bn in (
                (32, "53.10", "12.58"),
                (64, "50.67", "10.51"),
                (128, "48.22", "9.71"),
                (256, "44.73", "10.03"),
            )
        ),
        7,
    )
    b.md("""
**Observations to Make:**
- **Training Time:** Larger batch sizes may lead to faster training times due to more efficient computation, but
  they may also require more memory.
- **Model Accuracy:** Batch size can affect the accuracy of your model. Smaller batches might lead to noisier
  updates but could also help in escaping local minima.
- **Convergence:** Larger batch sizes might lead to more stable convergence but could also lead to poorer
  generalization if the batch size is too large.
""")
    b.md("""
#### **2. Discuss the Advantages and Potential Limitations of Batch Normalization**

**Advantages:** faster training (it stabilizes learning and allows higher learning rates, and by reducing internal
covariate shift it often leads to faster convergence); improved generalization through a regularization effect,
which can reduce the need for dropout; better gradient flow, preventing vanishing or exploding gradients.

**Potential Limitations:** dependence on batch size (with small batches the estimates of the mean and variance
are noisy); increased computation and parameters (mean and variance), which increase training and inference
time; and at inference batch normalization uses running averages of the mean and variance, which might lead to
a discrepancy if training and inference batches differ in size or distribution.
""")
    return b.write("pytorch_claims.ipynb", EXAMPLES)


def main() -> None:
    EXAMPLES.mkdir(exist_ok=True)
    for path in (raw_prompts(), markdown_code(), pytorch_claims()):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
